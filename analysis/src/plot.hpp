#pragma once
// Internal: gnuplot plots as SVG, through gnuplot-iostream. One gnuplot process per plot; the SVG
// is written to a temporary file and read back, so it can be embedded in report.html and saved
// next to report.md.
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::analysis::detail {

struct series {
  std::string title;                            // legend entry (shown verbatim, no markup)
  std::vector<std::pair<double, double>> points;  // (x, y)
  bool dashed = false;                          // e.g. uncorrected latencies next to corrected ones
  int color = 0;                                // palette index; series with one index share a colour
};

// A span of the x axis to shade (a fault from its start to its end), or one x to mark with a
// vertical line (to <= from: an action), labelled at the top.
struct marker {
  double from = 0;
  double to = 0;
  std::string label;
};

struct plot_spec {
  std::string title;
  std::string xlabel;
  std::string ylabel;
  bool logx = false;
  bool logy = false;
  bool percentile_axis = false;  // x = 1/(1 - p): tics labelled 0%, 90%, 99%, 99.9%, ...
  double xmax = 0;               // with percentile_axis: the largest x to label (0: automatic)
  bool points = false;           // draw points on the lines (sparse data, e.g. parameter sweeps)
  std::vector<series> lines;
  std::vector<marker> markers;   // drawn behind the lines
};

// True when a gnuplot executable is on PATH.
bool gnuplot_available();

// Renders the plot as a standalone SVG document (what gnuplot wrote). Error: gnuplot missing or
// failing, with its first error line.
tl::expected<std::string, std::string> render_svg(const plot_spec& p);

// Turns gnuplot's standalone SVG into a fragment fit for inlining in HTML: drops the XML prolog
// and DOCTYPE (which reference external DTDs), the xlink namespace declaration and gnuplot's
// helper links, and prefixes element ids with `id_prefix` so several plots can share one page.
std::string inline_svg(const std::string& svg, const std::string& id_prefix);

}  // namespace perflab::analysis::detail
