// crank: train, evaluate and serve ranking models from the command line.
//
// Exit codes: 0 success, 2 usage or configuration error, 3 data error, 4 I/O error,
// 5 training diverged (non-finite loss), 1 anything else.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "commands.h"
#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/startup/runtime_env.h"

namespace {

int Fail(int code, const std::string& what) {
  std::string line = what;
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  std::fprintf(stderr, "crank: error: %s\n", line.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // OpenMP and OpenBLAS read their settings at load time: run again with them where needed.
  crank::ReexecWithRuntimeEnvironment(argv);
  CLI::App app{
      "crank: trains, evaluates and serves ranking models (DLRM / DCN-v2) for "
      "click-through-rate and rating prediction."};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (-q) may follow the subcommand
  app.set_version_flag("--version", "crank 0.1.0");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "only warnings and errors on stderr");
  crank::cli::Action train = crank::cli::AddTrainCommand(app);
  crank::cli::Action eval = crank::cli::AddEvalCommand(app);
  crank::cli::Action predict = crank::cli::AddPredictCommand(app);
  crank::cli::Action gen = crank::cli::AddGenCommand(app);
  crank::cli::Action info = crank::cli::AddInfoCommand(app);
  crank::cli::Action export_onnx = crank::cli::AddExportCommand(app);
  crank::cli::Action map = crank::cli::AddMapCommand(app);
  crank::cli::Action serve = crank::cli::AddServeCommand(app);
  crank::cli::Action report = crank::cli::AddReportCommand(app);
  crank::cli::Action tune = crank::cli::AddTuneCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(2, std::string(e.what()) + " (run 'crank --help')");
  }
  if (quiet) crank::SetLogLevel(crank::LogLevel::kWarning);
  try {
    if (app.got_subcommand("train")) train();
    if (app.got_subcommand("eval")) eval();
    if (app.got_subcommand("predict")) predict();
    if (app.got_subcommand("gen")) gen();
    if (app.got_subcommand("info")) info();
    if (app.got_subcommand("export")) export_onnx();
    if (app.got_subcommand("map")) map();
    if (app.got_subcommand("serve")) serve();
    if (app.got_subcommand("report")) report();
    if (app.got_subcommand("tune")) tune();
  } catch (const crank::InvalidArgument& e) {  // ConfigError included
    return Fail(2, e.what());
  } catch (const crank::DataError& e) {
    return Fail(3, e.what());
  } catch (const crank::IoError& e) {
    return Fail(4, e.what());
  } catch (const crank::NumericError& e) {
    return Fail(5, e.what());
  } catch (const std::bad_alloc&) {
    return Fail(1, "out of memory");
  } catch (const std::exception& e) {
    return Fail(1, e.what());
  }
  return 0;
}
