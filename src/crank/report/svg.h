#ifndef CRANK_REPORT_SVG_H_
#define CRANK_REPORT_SVG_H_

// A small inline-SVG plot writer for the model report (report.h): x-y line and point plots and
// histograms, as self-contained <svg> elements (no scripts, no external fonts or images) meant
// to sit inside an HTML page. Every text that goes into the markup (titles, labels, series
// names, tooltips) is escaped with EscapeHtml. Pure functions: thread-safe.

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace crank {

// `text` with &, <, >, " and ' replaced by character references: safe in HTML and XML text and
// in quoted attribute values.
std::string EscapeHtml(std::string_view text);

struct PlotSeries {
  enum class Style { kLine, kPoints };
  std::string name;          // shown in the legend (empty: no legend entry)
  std::vector<double> x, y;  // same length; non-finite pairs are skipped
  Style style = Style::kLine;
  // Optional, one per point (kPoints only): a tooltip (<title>) on each marker.
  std::vector<std::string> point_titles;
};

struct PlotOptions {
  std::string title;  // the <svg>'s accessible name and tooltip
  std::string x_label, y_label;
  int width = 560, height = 380;  // pixels
  // Axis ranges: used when both ends are finite and min < max; otherwise taken from the data
  // (and widened when the data span nothing).
  double x_min = std::numeric_limits<double>::quiet_NaN();
  double x_max = std::numeric_limits<double>::quiet_NaN();
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
  bool diagonal = false;  // draws the y = x reference line (dashed)
};

// An <svg> element with axes, ticks, axis labels, one polyline (kLine) or set of circles
// (kPoints) per series and a legend. Throws InvalidArgument when a series' x and y (or
// point_titles, when given) differ in length, or width/height are below 100.
std::string SvgXyPlot(const PlotOptions& options, const std::vector<PlotSeries>& series);

// An <svg> element with one bar per bin: counts over equal-width bins from `lower` to `upper`
// (lower < upper, both finite; InvalidArgument otherwise). Each bar carries a tooltip with its
// range and count. The y axis starts at 0.
std::string SvgHistogram(const PlotOptions& options, double lower, double upper,
                         const std::vector<int64_t>& counts);

// About `target` round tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> NiceTicks(double lo, double hi, int target);

// Keeps at most `max_points` (>= 2) of the points (x, y), evenly spaced by index, the first and
// the last included (for curves with one point per distinct prediction).
void ThinPoints(std::vector<double>* x, std::vector<double>* y, size_t max_points);

}  // namespace crank

#endif  // CRANK_REPORT_SVG_H_
