// `crank report` rendered by a real browser: Debian's chromium, headless, takes a screenshot of
// the page (decoded with libpng: not blank, the plots' colours drawn) and dumps the DOM it built
// (every section title, one <svg> per plot). Skips, saying why, when chromium is not installed
// (`make test` installs it). Each chromium run is bounded and killed, with its child processes,
// when it overruns. Label `browser`: left out of the sanitizer presets.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <png.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli_fixture.h"
#include "crank/report/report.h"

namespace crank::testing {
namespace {

constexpr int kBrowserSeconds = 120;

// The chromium executable on PATH ("" when there is none).
std::string FindChromium() {
  const char* path = std::getenv("PATH");
  std::string dirs = path == nullptr ? "/usr/bin:/bin" : path;
  for (const char* name : {"chromium", "chromium-browser"}) {
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = std::min(dirs.find(':', start), dirs.size());
      const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
      start = end + 1;
    }
  }
  return "";
}

struct Outcome {
  bool timed_out = false;
  int code = -1;
};

// Runs argv in its own process group with stdout to `out_path` (stderr to `err_path`); kills
// the whole group after `seconds` (and in any case once it exits, so that no helper process
// outlives the test).
Outcome RunBounded(const std::vector<std::string>& argv, const std::string& out_path,
                   const std::string& err_path, int seconds) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  Outcome o;
  if (pid < 0) return o;
  setpgid(pid, pid);  // also from the parent: no race with the kill below
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      o.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(-pid, SIGKILL);  // helpers (zygote, crashpad) left in the group
  return o;
}

struct Pixels {
  int width = 0, height = 0;
  std::vector<unsigned char> rgba;  // (height, width, 4)
  std::string error;
};

Pixels DecodePng(const std::string& path) {
  Pixels p;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    p.error = image.message;
    return p;
  }
  image.format = PNG_FORMAT_RGBA;
  p.width = static_cast<int>(image.width);
  p.height = static_cast<int>(image.height);
  p.rgba.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, p.rgba.data(), 0, nullptr)) {
    p.error = image.message;
  }
  png_image_free(&image);
  return p;
}

class ReportBrowser : public CliFixture {
 protected:
  // chromium headless with `extra` flags, on `url`.
  std::vector<std::string> Chromium(const std::string& chromium,
                                    const std::vector<std::string>& extra,
                                    const std::string& url) const {
    std::vector<std::string> argv = {chromium,
                                     "--headless",
                                     "--no-sandbox",  // CI runs as root
                                     "--disable-gpu",
                                     "--no-first-run",
                                     "--disable-dev-shm-usage",
                                     "--hide-scrollbars",
                                     "--user-data-dir=" + P("profile")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    return argv;
  }
};

TEST_F(ReportBrowser, PageRendersInHeadlessChromium) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (make test installs Debian's chromium package); "
                    "the page is not checked in a browser";
  }
  Generate(3000, 500);
  Result r = Run("train -q --train " + P("train.tsv") + " --eval " + P("eval.tsv") +
                 " --epochs 2 --model-out " + P("m.crank") + SmallModel());
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run("report --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " +
          P("report.html"));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string url = "file://" + P("report.html");

  // The screenshot: decodes, is not blank, shows the plots' colours.
  const Outcome s = RunBounded(
      Chromium(chromium, {"--screenshot=" + P("shot.png"), "--window-size=1200,3000"}, url),
      P("shot.out"), P("shot.err"), kBrowserSeconds);
  ASSERT_FALSE(s.timed_out) << "chromium --screenshot ran past " << kBrowserSeconds
                            << " s and was killed: " << ReadFile(P("shot.err"));
  ASSERT_EQ(s.code, 0) << ReadFile(P("shot.err"));
  const Pixels px = DecodePng(P("shot.png"));
  ASSERT_EQ(px.error, "") << "cannot decode the screenshot " << P("shot.png");
  EXPECT_EQ(px.width, 1200);
  EXPECT_EQ(px.height, 3000);
  int64_t non_white = 0, series_blue = 0;
  std::set<uint32_t> colours;
  for (size_t i = 0; i + 3 < px.rgba.size(); i += 4) {
    const unsigned char red = px.rgba[i], green = px.rgba[i + 1], blue = px.rgba[i + 2];
    if (red < 250 || green < 250 || blue < 250) ++non_white;
    // The first series' colour, #1f77b4 (31, 119, 180), within antialiasing of it.
    if (std::abs(red - 31) < 12 && std::abs(green - 119) < 12 && std::abs(blue - 180) < 12) {
      ++series_blue;
    }
    colours.insert(static_cast<uint32_t>(red) << 16 | static_cast<uint32_t>(green) << 8 | blue);
  }
  const int64_t pixels = static_cast<int64_t>(px.width) * px.height;
  EXPECT_GT(non_white, pixels / 100) << "the screenshot is (almost) blank";
  EXPECT_GT(series_blue, 1000) << "no plot drawn in the series colour";
  EXPECT_GT(colours.size(), 20u) << "too few distinct colours for text and plots";

  // The DOM chromium built from the page: every section title and one <svg> per plot.
  const Outcome d = RunBounded(Chromium(chromium, {"--dump-dom"}, url), P("dom.html"), P("dom.err"),
                               kBrowserSeconds);
  ASSERT_FALSE(d.timed_out) << "chromium --dump-dom ran past " << kBrowserSeconds
                            << " s and was killed";
  ASSERT_EQ(d.code, 0) << ReadFile(P("dom.err"));
  const std::string dom = ReadFile(P("dom.html"));
  for (const std::string& t : ReportSectionTitles(false)) {
    EXPECT_NE(dom.find(">" + t + "</h2>"), std::string::npos) << t << " missing from the DOM";
  }
  int svgs = 0;
  for (size_t at = dom.find("<svg"); at != std::string::npos; at = dom.find("<svg", at + 1)) ++svgs;
  EXPECT_EQ(svgs, 6);  // 2 history plots (loss, AUC), ROC, PR, calibration, prediction histogram
}

}  // namespace
}  // namespace crank::testing
