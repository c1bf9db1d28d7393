#include "crank/report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "crank/base/error.h"

namespace crank {
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};
constexpr int kLeft = 64, kRight = 20, kTop = 16, kBottom = 48;

struct Range {
  double lo, hi;
};

// [lo, hi] of the finite values, widened when it spans nothing; [0, 1] when there are none.
Range DataRange(const std::vector<const std::vector<double>*>& values, double fixed_lo,
                double fixed_hi) {
  if (std::isfinite(fixed_lo) && std::isfinite(fixed_hi) && fixed_lo < fixed_hi) {
    return {fixed_lo, fixed_hi};
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const std::vector<double>* v : values) {
    for (double x : *v) {
      if (!std::isfinite(x)) continue;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (!(lo <= hi)) return {0.0, 1.0};
  if (lo == hi) {
    const double pad = lo == 0.0 ? 0.5 : std::abs(lo) * 0.1;
    return {lo - pad, hi + pad};
  }
  return {lo, hi};
}

std::string Num(double v) { return fmt::format("{:.1f}", v); }

std::string TickLabel(double v) {
  if (std::abs(v) < 1e-12) v = 0.0;  // no "-0" or "1e-17" at the origin
  return fmt::format("{:.4g}", v);
}

class Frame {
 public:
  Frame(const PlotOptions& o, Range x, Range y) : o_(o), x_(x), y_(y) {
    if (o.width < 100 || o.height < 100) {
      throw InvalidArgument(fmt::format("plot '{}': expected width and height >= 100, got {} x {}",
                                        o.title, o.width, o.height));
    }
    pw_ = o.width - kLeft - kRight;
    ph_ = o.height - kTop - kBottom;
  }
  double X(double v) const {
    return kLeft + std::clamp((v - x_.lo) / (x_.hi - x_.lo), 0.0, 1.0) * pw_;
  }
  double Y(double v) const {
    return kTop + ph_ - std::clamp((v - y_.lo) / (y_.hi - y_.lo), 0.0, 1.0) * ph_;
  }

  // The opening tag, the title, the plot area, ticks, grid and axis labels.
  void Open(std::string* s) const {
    fmt::format_to(std::back_inserter(*s),
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
                   "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\" "
                   "font-family=\"sans-serif\" font-size=\"11\">\n<title>{2}</title>\n",
                   o_.width, o_.height, EscapeHtml(o_.title));
    fmt::format_to(std::back_inserter(*s),
                   "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" "
                   "stroke=\"#444444\"/>\n",
                   kLeft, kTop, pw_, ph_);
    for (double t : NiceTicks(x_.lo, x_.hi, 6)) {
      const std::string x = Num(X(t));
      fmt::format_to(std::back_inserter(*s),
                     "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#e4e4e4\"/>"
                     "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                     x, kTop, kTop + ph_, kTop + ph_ + 14, EscapeHtml(TickLabel(t)));
    }
    for (double t : NiceTicks(y_.lo, y_.hi, 6)) {
      const std::string y = Num(Y(t));
      fmt::format_to(std::back_inserter(*s),
                     "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#e4e4e4\"/>"
                     "<text x=\"{3}\" y=\"{1}\" text-anchor=\"end\" "
                     "dominant-baseline=\"middle\">{4}</text>\n",
                     kLeft, y, kLeft + pw_, kLeft - 5, EscapeHtml(TickLabel(t)));
    }
    fmt::format_to(std::back_inserter(*s),
                   "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
                   kLeft + pw_ / 2, o_.height - 10, EscapeHtml(o_.x_label));
    fmt::format_to(std::back_inserter(*s),
                   "<text x=\"14\" y=\"{0}\" text-anchor=\"middle\" font-size=\"12\" "
                   "transform=\"rotate(-90 14 {0})\">{1}</text>\n",
                   kTop + ph_ / 2, EscapeHtml(o_.y_label));
    if (o_.diagonal) {
      const double lo = std::max(x_.lo, y_.lo), hi = std::min(x_.hi, y_.hi);
      if (lo < hi) {
        fmt::format_to(std::back_inserter(*s),
                       "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888888\" "
                       "stroke-dasharray=\"4 3\"/>\n",
                       Num(X(lo)), Num(Y(lo)), Num(X(hi)), Num(Y(hi)));
      }
    }
  }

  void Legend(std::string* s, const std::vector<PlotSeries>& series) const {
    int row = 0;
    for (size_t i = 0; i < series.size(); ++i) {
      if (series[i].name.empty()) continue;
      const int y = kTop + 10 + 16 * row++;
      fmt::format_to(std::back_inserter(*s),
                     "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"4\" fill=\"{}\"/>"
                     "<text x=\"{}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>\n",
                     kLeft + pw_ - 240, y - 2, kColors[i % std::size(kColors)], kLeft + pw_ - 224,
                     y, EscapeHtml(series[i].name));
    }
  }

  int plot_height() const { return ph_; }

 private:
  const PlotOptions& o_;
  Range x_, y_;
  int pw_ = 0, ph_ = 0;
};

}  // namespace

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> NiceTicks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi) || target < 1) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  const double first = std::ceil(lo / step - 1e-9);
  for (int k = 0; k < 100; ++k) {
    const double t = (first + k) * step;
    if (t > hi + step * 1e-9) break;
    ticks.push_back(t);
  }
  return ticks;
}

void ThinPoints(std::vector<double>* x, std::vector<double>* y, size_t max_points) {
  const size_t n = x->size();
  max_points = std::max<size_t>(max_points, 2);
  if (n <= max_points) return;
  std::vector<double> tx, ty;
  tx.reserve(max_points);
  ty.reserve(max_points);
  for (size_t k = 0; k < max_points; ++k) {
    const size_t i = k * (n - 1) / (max_points - 1);
    tx.push_back((*x)[i]);
    ty.push_back((*y)[i]);
  }
  *x = std::move(tx);
  *y = std::move(ty);
}

std::string SvgXyPlot(const PlotOptions& options, const std::vector<PlotSeries>& series) {
  std::vector<const std::vector<double>*> xs, ys;
  for (const PlotSeries& s : series) {
    if (s.x.size() != s.y.size() ||
        (!s.point_titles.empty() && s.point_titles.size() != s.x.size())) {
      throw InvalidArgument(
          fmt::format("plot '{}', series '{}': x, y and point titles differ in length ({}, {}, {})",
                      options.title, s.name, s.x.size(), s.y.size(), s.point_titles.size()));
    }
    xs.push_back(&s.x);
    ys.push_back(&s.y);
  }
  const Frame f(options, DataRange(xs, options.x_min, options.x_max),
                DataRange(ys, options.y_min, options.y_max));
  std::string s;
  f.Open(&s);
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& p = series[i];
    const char* color = kColors[i % std::size(kColors)];
    if (p.style == PlotSeries::Style::kLine) {
      std::string points;
      for (size_t k = 0; k < p.x.size(); ++k) {
        if (!std::isfinite(p.x[k]) || !std::isfinite(p.y[k])) continue;
        fmt::format_to(std::back_inserter(points), "{}{},{}", points.empty() ? "" : " ",
                       Num(f.X(p.x[k])), Num(f.Y(p.y[k])));
      }
      fmt::format_to(std::back_inserter(s),
                     "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\">"
                     "<title>{}</title></polyline>\n",
                     color, points, EscapeHtml(p.name));
    } else {
      s += "<g fill=\"";
      s += color;
      s += "\">\n";
      for (size_t k = 0; k < p.x.size(); ++k) {
        if (!std::isfinite(p.x[k]) || !std::isfinite(p.y[k])) continue;
        fmt::format_to(std::back_inserter(s), "<circle cx=\"{}\" cy=\"{}\" r=\"3\">",
                       Num(f.X(p.x[k])), Num(f.Y(p.y[k])));
        if (!p.point_titles.empty()) {
          s += "<title>" + EscapeHtml(p.point_titles[k]) + "</title>";
        }
        s += "</circle>\n";
      }
      s += "</g>\n";
    }
  }
  f.Legend(&s, series);
  s += "</svg>\n";
  return s;
}

std::string SvgHistogram(const PlotOptions& options, double lower, double upper,
                         const std::vector<int64_t>& counts) {
  if (!std::isfinite(lower) || !std::isfinite(upper) || !(lower < upper)) {
    throw InvalidArgument(fmt::format("histogram '{}': expected finite lower < upper, got [{}, {}]",
                                      options.title, lower, upper));
  }
  int64_t most = 0;
  for (int64_t c : counts) most = std::max(most, c);
  const Frame f(options, {lower, upper}, {0.0, most > 0 ? most * 1.05 : 1.0});
  std::string s;
  f.Open(&s);
  const double width = (upper - lower) / static_cast<double>(std::max<size_t>(counts.size(), 1));
  s += "<g fill=\"#1f77b4\" stroke=\"#ffffff\" stroke-width=\"0.5\">\n";
  for (size_t b = 0; b < counts.size(); ++b) {
    const double a = lower + width * b, z = a + width;
    const double x0 = f.X(a), x1 = f.X(z), y = f.Y(static_cast<double>(counts[b]));
    fmt::format_to(std::back_inserter(s),
                   "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>\n",
                   Num(x0), Num(y), Num(std::max(x1 - x0, 0.5)), Num(f.Y(0.0) - y),
                   EscapeHtml(fmt::format("[{:.4g}, {:.4g}): {}", a, z, counts[b])));
  }
  s += "</g>\n</svg>\n";
  return s;
}

}  // namespace crank
