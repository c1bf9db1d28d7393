#ifndef CRANK_TOOLS_CRANK_COMMANDS_H_
#define CRANK_TOOLS_CRANK_COMMANDS_H_

// The subcommands of the `crank` CLI. Each registers its flags on the CLI11 app and returns the
// function that runs it. The CLI is thin: it fills a JobConfig from YAML and flags and calls
// the library (train/trainer.h); errors are exceptions that main() turns into one line on
// stderr and an exit code (docs/cli.md).

#include <CLI/CLI.hpp>
#include <functional>

namespace crank::cli {

using Action = std::function<void()>;

Action AddTrainCommand(CLI::App& app);
Action AddEvalCommand(CLI::App& app);
Action AddPredictCommand(CLI::App& app);
Action AddGenCommand(CLI::App& app);
Action AddInfoCommand(CLI::App& app);
Action AddExportCommand(CLI::App& app);  // export_command.cc
Action AddMapCommand(CLI::App& app);     // map_command.cc
Action AddServeCommand(CLI::App& app);   // serve_command.cc

Action AddReportCommand(CLI::App& app);  // report_command.cc
Action AddTuneCommand(CLI::App& app);    // tune_command.cc

}  // namespace crank::cli

#endif  // CRANK_TOOLS_CRANK_COMMANDS_H_
