#include "plot.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <gnuplot-iostream.h>

namespace perflab::analysis::detail {
namespace {

namespace fs = std::filesystem;

// Colour-blind-safe palette (Okabe-Ito), cycled.
constexpr const char* palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                   "#56B4E9", "#000000", "#F0E442"};

// gnuplot single-quoted string: only '' needs escaping.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  out += "'";
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

// A gnuplot that dies early (bad command) closes the pipe; our next write would raise SIGPIPE and
// kill the process. Block SIGPIPE on this thread while plotting, then discard a pending one, so the
// failure surfaces as a missing SVG instead.
class sigpipe_guard {
 public:
  sigpipe_guard() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~sigpipe_guard() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  sigset_t set_{};
  sigset_t old_{};
};

fs::path make_temp_dir() {
  static std::atomic<int> counter{0};
  auto base = fs::temp_directory_path();
  for (;;) {
    auto p = base / fmt::format("perflab-plot-{}-{}", ::getpid(), counter.fetch_add(1));
    std::error_code ec;
    if (fs::create_directory(p, ec)) return p;
    if (ec) return {};
  }
}

void percentile_tics(std::ostream& gp, double xmax) {
  // x = 1 / (1 - p): 1 -> 0%, 10 -> 90%, 100 -> 99%, ... Tic labels are format strings to
  // gnuplot, so a literal percent sign is written %%.
  std::string tics = "set xtics (\"0%%\" 1";
  const char* labels[] = {"90%%", "99%%", "99.9%%", "99.99%%", "99.999%%", "99.9999%%", "99.99999%%"};
  double x = 10;
  for (const char* l : labels) {
    if (x > xmax * 1.0001) break;
    tics += fmt::format(", \"{}\" {}", l, x);
    x *= 10;
  }
  tics += ")\n";
  gp << tics;
}

}  // namespace

bool gnuplot_available() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string_view rest(path);
  while (!rest.empty()) {
    auto colon = rest.find(':');
    auto dir = rest.substr(0, colon);
    if (!dir.empty() && ::access((fs::path(dir) / "gnuplot").c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return false;
}

tl::expected<std::string, std::string> render_svg(const plot_spec& p) {
  if (!gnuplot_available()) return tl::make_unexpected("gnuplot not found on PATH (apt-get install gnuplot-nox)");
  auto dir = make_temp_dir();
  if (dir.empty()) return tl::make_unexpected("cannot create a temporary directory for plots");
  auto svg_path = dir / "plot.svg";
  auto err_path = dir / "gnuplot.err";
  std::string svg;
  {
    sigpipe_guard guard;
    try {
      // exec: pclose then waits for gnuplot itself, so the SVG is complete when the block ends.
      Gnuplot gp(fmt::format("exec gnuplot 2>{}", quote(err_path.string())));
      // The key goes below the plot (variant names are long); the picture grows with it.
      std::size_t entries = 0;
      for (const auto& s : p.lines) entries += s.points.empty() ? 0 : 1;
      const std::size_t height = 440 + 18 * ((entries + 1) / 2);
      gp << fmt::format("set terminal svg size 900,{} fixed enhanced font 'sans,11' background rgb 'white'\n",
                        height);
      gp << "set output " << quote(svg_path.string()) << "\n";
      gp << "set encoding utf8\n";
      gp << "set title " << quote(p.title) << " noenhanced\n";
      gp << "set xlabel " << quote(p.xlabel) << " noenhanced\n";
      gp << "set ylabel " << quote(p.ylabel) << " noenhanced\n";
      gp << "set grid lc rgb '#dddddd'\n";
      gp << "set key below left Left reverse maxcols 2 noenhanced\n";
      gp << "set border 3\nset tics nomirror\n";
      if (p.logx) gp << "set logscale x\n";
      if (p.logy) gp << "set logscale y\n";
      if (!p.logy) gp << "set yrange [0:*]\n";
      if (p.percentile_axis) {
        double xmax = p.xmax;
        if (xmax <= 0) {
          for (const auto& s : p.lines)
            for (const auto& pt : s.points) xmax = std::max(xmax, pt.first);
        }
        xmax = std::max(xmax, 10.0);
        gp << "set logscale x\n";
        gp << fmt::format("set xrange [1:{}]\n", xmax);
        percentile_tics(gp, xmax);
      }
      for (std::size_t i = 0; i < p.markers.size(); ++i) {
        const auto& m = p.markers[i];
        if (m.to > m.from)
          gp << fmt::format("set object {} rect from {}, graph 0 to {}, graph 1 behind fc rgb '#f4cccc' "
                            "fillstyle solid 0.5 noborder\n", i + 1, m.from, m.to);
        else
          gp << fmt::format("set arrow {} from {}, graph 0 to {}, graph 1 nohead lc rgb '#cc0000' dt 2 back\n", i + 1,
                            m.from, m.from);
        gp << fmt::format("set label {} {} at {}, graph {} left font ',9' tc rgb '#990000' noenhanced\n", i + 1,
                          quote(m.label), m.from, 0.97 - 0.05 * static_cast<double>(i % 4));
      }
      std::string cmd = "plot ";
      bool first = true;
      for (const auto& s : p.lines) {
        if (s.points.empty()) continue;
        if (!first) cmd += ", ";
        first = false;
        const char* color = palette[static_cast<std::size_t>(s.color) % std::size(palette)];
        cmd += fmt::format("'-' using 1:2 with {} lw 2 dt {} lc rgb '{}' title {}",
                           p.points ? "linespoints pt 7 ps 0.6" : "lines", s.dashed ? 2 : 1, color, quote(s.title));
      }
      if (first) return tl::make_unexpected("nothing to plot");
      gp << cmd << "\n";
      for (const auto& s : p.lines) {
        if (s.points.empty()) continue;
        gp.send1d(s.points);
      }
      gp << "set output\n";
      gp << "exit\n";
    } catch (const std::exception& e) {
      // gnuplot-iostream reports pipe failures as exceptions; this is an I/O boundary.
      std::error_code ec;
      fs::remove_all(dir, ec);
      return tl::make_unexpected(fmt::format("gnuplot failed: {}", e.what()));
    }
  }
  svg = read_file(svg_path);
  std::string err = read_file(err_path);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (svg.find("</svg>") == std::string::npos) {
    auto nl = err.find('\n', err.find_first_not_of(" \n"));
    std::string first_line = err.empty() ? "no output" : err.substr(0, std::min<std::size_t>(nl, 200));
    return tl::make_unexpected(fmt::format("gnuplot failed: {}", first_line));
  }
  return svg;
}

std::string inline_svg(const std::string& svg, const std::string& id_prefix) {
  auto start = svg.find("<svg");
  std::string s = start == std::string::npos ? svg : svg.substr(start);
  s = replace_all(std::move(s), " xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "");
  s = replace_all(std::move(s), "\n xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "");
  // SVG 2 (every current browser) takes plain href; the xlink: form would need the xlink namespace.
  s = replace_all(std::move(s), "xlink:href='#", "href='#" + id_prefix);
  s = replace_all(std::move(s), "xlink:href=\"#", "href=\"#" + id_prefix);
  s = replace_all(std::move(s), " id='", " id='" + id_prefix);
  s = replace_all(std::move(s), " id=\"", " id=\"" + id_prefix);
  s = replace_all(std::move(s), "url(#", "url(#" + id_prefix);
  return s;
}

}  // namespace perflab::analysis::detail
