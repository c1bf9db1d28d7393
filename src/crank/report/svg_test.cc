#include "crank/report/svg.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "markup_check.h"

namespace crank {
namespace {

using ::crank::testing::MarkupProblem;

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(Svg, EscapeHtmlReplacesEveryMarkupCharacter) {
  EXPECT_EQ(EscapeHtml("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&#39;d");
  EXPECT_EQ(EscapeHtml("plain/path.crank"), "plain/path.crank");
  EXPECT_EQ(EscapeHtml(""), "");
  EXPECT_EQ(EscapeHtml("&amp;"), "&amp;amp;");  // escaping is not idempotent, by design
}

TEST(Svg, MarkupCheckCatchesBrokenMarkup) {
  EXPECT_EQ(MarkupProblem("<svg><g></g></svg>"), "");
  EXPECT_NE(MarkupProblem("<svg><g></svg>"), "");
  EXPECT_NE(MarkupProblem("<svg>a & b</svg>"), "");
  EXPECT_NE(MarkupProblem("<svg x=1></svg>"), "");
  EXPECT_NE(MarkupProblem("<svg><text>1 < 2</text></svg>"), "");
  EXPECT_NE(MarkupProblem("<svg>"), "");
}

TEST(Svg, XyPlotIsWellFormedAndEscapesEveryText) {
  PlotOptions o;
  o.title = "t<i>tle & \"more\"";
  o.x_label = "x <script>";
  o.y_label = "y's";
  PlotSeries line;
  line.name = "line <1>";
  line.x = {0, 1, 2, std::numeric_limits<double>::quiet_NaN()};
  line.y = {0, 0.5, 1, 3};
  PlotSeries points;
  points.name = "points & co";
  points.style = PlotSeries::Style::kPoints;
  points.x = {0.5, 1.5};
  points.y = {0.2, 0.8};
  points.point_titles = {"first <", "second >"};
  const std::string svg = SvgXyPlot(o, {line, points});
  EXPECT_EQ(MarkupProblem(svg), "") << svg;
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find("t&lt;i&gt;tle &amp; &quot;more&quot;"), std::string::npos);
  EXPECT_NE(svg.find("points &amp; co"), std::string::npos);
  EXPECT_EQ(Count(svg, "<polyline"), 1);
  EXPECT_EQ(Count(svg, "<circle"), 2);
  // The NaN pair is skipped: three points in the polyline.
  const size_t at = svg.find("points=\"");
  ASSERT_NE(at, std::string::npos);
  const std::string pts = svg.substr(at + 8, svg.find('"', at + 8) - at - 8);
  EXPECT_EQ(Count(pts, ","), 3) << pts;
}

TEST(Svg, XyPlotRejectsMismatchedSeries) {
  PlotSeries s;
  s.x = {1, 2};
  s.y = {1};
  EXPECT_THROW(SvgXyPlot(PlotOptions(), {s}), InvalidArgument);
  PlotOptions tiny;
  tiny.width = 10;
  EXPECT_THROW(SvgXyPlot(tiny, {}), InvalidArgument);
}

TEST(Svg, XyPlotMapsFixedRangeOntoThePlotArea) {
  PlotOptions o;
  o.width = 200;
  o.height = 200;
  o.x_min = o.y_min = 0;
  o.x_max = o.y_max = 1;
  PlotSeries s;
  s.x = {0, 1};
  s.y = {0, 1};
  const std::string svg = SvgXyPlot(o, {s});
  // Plot area: x from 64 to 180, y from 16 to 152 (margins 64/20 and 16/48).
  EXPECT_NE(svg.find("points=\"64.0,152.0 180.0,16.0\""), std::string::npos) << svg;
}

TEST(Svg, HistogramHasOneBarPerBinWithItsCount) {
  PlotOptions o;
  o.title = "h";
  const std::string svg = SvgHistogram(o, 0.0, 1.0, {3, 0, 7});
  EXPECT_EQ(MarkupProblem(svg), "") << svg;
  EXPECT_EQ(Count(svg, "<rect"), 4);  // the plot area and three bars
  EXPECT_NE(svg.find("[0.6667, 1): 7"), std::string::npos) << svg;
  EXPECT_THROW(SvgHistogram(o, 1.0, 1.0, {1}), InvalidArgument);
}

TEST(Svg, NiceTicksAreRoundAndCoverTheRange) {
  const std::vector<double> unit = NiceTicks(0, 1, 5);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i) EXPECT_NEAR(unit[i], 0.2 * i, 1e-12);
  const std::vector<double> t = NiceTicks(3, 1234, 6);  // raw step 205: rounded up to 500
  EXPECT_EQ(t, (std::vector<double>{500, 1000}));
  EXPECT_EQ(NiceTicks(-1, 1, 4), (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  EXPECT_TRUE(NiceTicks(1, 1, 5).empty());
}

TEST(Svg, ThinPointsKeepsEndsAndAtMostMax) {
  std::vector<double> x, y;
  for (int i = 0; i < 101; ++i) {
    x.push_back(i);
    y.push_back(2 * i);
  }
  ThinPoints(&x, &y, 11);
  ASSERT_EQ(x.size(), 11u);
  EXPECT_EQ(x.front(), 0);
  EXPECT_EQ(x.back(), 100);
  EXPECT_EQ(x[5], 50);
  EXPECT_EQ(y[5], 100);
}

}  // namespace
}  // namespace crank
