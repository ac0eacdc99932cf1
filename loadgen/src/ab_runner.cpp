// `loadgen ab` (ab_runner.hpp): checks both sides, runs the scenario's variants interleaved through
// the same executor as `loadgen run`, then hands the two runs to analysis::judge_ab. Start-up
// code, not a hot path.
#include "perflab/loadgen/ab_runner.hpp"

#include <unistd.h>

#include <array>
#include <optional>
#include <ostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "perflab/analysis/ab.hpp"
#include "perflab/analysis/ci_formats.hpp"
#include "perflab/analysis/report.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/core/verdict.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/plan.hpp"
#include "perflab/loadgen/runner.hpp"
#include "perflab/loadgen/scenario.hpp"
#include "perflab/loadgen/spawn.hpp"
#include "variant_executor.hpp"

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
constexpr const char* who = "loadgen ab";

// One side of the comparison: what it runs against, and the run it records.
struct side {
  ab_side which = ab_side::baseline;
  std::string option;          // the command-line option that named it, for messages
  fs::path bin;                // a lab-target build (spawned variants)
  std::string url;             // or an external service
  std::vector<std::string> sets;       // its --baseline-set / --candidate-set overrides
  std::vector<variant_spec> variants;  // the scenario's, with this side's target
  fs::path dir;
  result::run run;
  std::optional<detail::variant_executor> exec;
};

// "--baseline-bin PATH" or "--baseline-url URL", whichever named the side, and its own --*-set.
std::string what(const side& s) {
  std::string w = s.option + " " + (s.url.empty() ? s.bin.string() : s.url);
  for (const auto& o : s.sets) w += fmt::format(" --{}-set {}", s.which == ab_side::baseline ? "baseline" : "candidate", o);
  return w;
}

// A binary side: present, executable, a lab-target, accepting every target option of the scenario.
int check_bin(side& s, const fs::path& scenario_file, std::ostream& err) {
  if (s.bin.empty() || ::access(s.bin.c_str(), X_OK) != 0 || fs::is_directory(s.bin)) {
    err << fmt::format("{}: {}: not an executable file{}\n", who, what(s),
                       fs::exists(s.bin) ? "" : " (no such file; build it first, e.g. cmake --build --preset release "
                                                "--target lab-target)");
    return exit_code::usage;
  }
  const auto known = detail::target_options(s.bin);
  if (known.empty()) {
    err << fmt::format("{}: {}: does not look like lab-target (its --help does not list --model)\n", who, what(s));
    return exit_code::usage;
  }
  return detail::prepare_variants(s.variants, scenario_file, known, s.bin, fmt::format("{} ({})", who, s.option), err);
}

// An external side: an http:// URL whose health path answers 2xx before anything runs.
int check_url(side& s, const fs::path& scenario_file, std::ostream& err) {
  // The same parser that reads lab-target's "listening http://HOST:PORT" line.
  auto addr = s.url.rfind("http://", 0) == 0 ? parse_listening_line("listening " + s.url) : std::nullopt;
  if (!addr) {
    err << fmt::format("{}: {}: expected http://HOST:PORT\n", who, what(s));
    return exit_code::usage;
  }
  for (auto& v : s.variants) {
    for (const auto& [key, value] : v.params) {
      // Two services have no lab-target options: a matrix over them would run identical variants.
      if (key.rfind("target.", 0) == 0) {
        err << fmt::format("{}: {}: the scenario's matrix varies {}, which only a spawned lab-target has; with "
                           "URLs both sides are the services as they run\n",
                           who, scenario_file.string(), key);
        return exit_code::usage;
      }
    }
    v.target.spawn = false;
    v.target.url = addr->url();
    v.target.params.clear();
    v.target.param_where.clear();
  }
  const auto& health = s.variants.empty() ? std::string("/health") : s.variants.front().target.health_path;
  auto st = http_probe(addr->host, addr->port, health, 2s);
  if (!st || *st < 200 || *st >= 300) {
    err << fmt::format("{}: {}: GET {} did not answer 2xx ({}); nothing was run\n", who, what(s), health,
                       st ? fmt::format("status {}", *st) : st.error());
    return exit_code::usage;
  }
  return detail::prepare_variants(s.variants, scenario_file, {}, {}, who, err);
}

class ab_runner {
 public:
  ab_runner(const ab_run_options& opts, std::ostream& out, std::ostream& err) : opts_(opts), out_(out), err_(err) {}

  ab_run_outcome run() {
    ab_run_outcome outcome;
    if (int rc = prepare(); rc != exit_code::ok || opts_.dry_run) {
      outcome.exit_code = rc;
      return outcome;
    }
    auto dir = detail::create_run_dir(opts_.output_root, "ab-" + sc_.name);
    if (!dir) {
      err_ << who << ": " << dir.error() << "\n";
      outcome.exit_code = exit_code::runtime_error;
      return outcome;
    }
    dir_ = *dir;
    outcome.run_dir = dir_;
    int rc = exit_code::ok;
    for (auto& s : sides_) {
      s.dir = dir_ / to_string(s.which);
      std::error_code ec;
      fs::create_directories(s.dir, ec);
      if (ec) {
        err_ << fmt::format("{}: cannot create {}: {}\n", who, s.dir.string(), ec.message());
        outcome.exit_code = exit_code::runtime_error;
        return outcome;
      }
      s.exec.emplace(s.bin, s.dir, opts_.progress, out_, err_);
      s.run = detail::new_run(sc_, opts_.scenario_file);
      if (!save(s)) rc = exit_code::runtime_error;
    }

    const auto order = interleaved_order(sc_.variants.size(), sc_.repeats);
    out_ << fmt::format("perflab ab: {} ({} variant{} x {} repeats per side, interleaved A B B A ...), results in {}\n",
                        sc_.name, sc_.variants.size(), sc_.variants.size() == 1 ? "" : "s", sc_.repeats,
                        dir_.string());
    for (const auto& s : sides_) out_ << fmt::format("  {} {}: {}\n", s.which == ab_side::baseline ? "A" : "B",
                                                     to_string(s.which), what(s));
    if (same_target()) out_ << "  A/A: both sides are the same; any regression reported is a false positive\n";
    out_.flush();
    bool interrupted = false;
    std::size_t n = 0;
    for (const auto& slot : order) {
      if (interrupt_flag().load()) {
        interrupted = true;
        break;
      }
      side& s = sides_[slot.side == ab_side::baseline ? 0 : 1];
      const variant_spec& spec = s.variants[slot.variant];
      out_ << fmt::format("[{}/{}] {} (repeat {}) {} {}\n", ++n, order.size(), spec.name, slot.repeat + 1,
                          slot.side == ab_side::baseline ? "A" : "B", to_string(slot.side));
      out_.flush();
      const std::string prefix = spec.file_prefix + fmt::format("-r{}", slot.repeat + 1);
      detail::variant_outcome vo;
      if (spec.search) {
        s.run.searches.emplace_back();
        const std::size_t at = s.run.searches.size() - 1;
        result::search_result search;
        vo = s.exec->run_search(spec, slot.repeat, prefix, search, [&] {
          s.run.searches[at] = search;
          save(s);
        });
        s.run.searches[at] = std::move(search);
      } else {
        vo = s.exec->run(spec, slot.repeat, prefix);
        s.exec->print(vo.v);
        // A run the load generator could not keep on schedule (a VM stall, a neighbour's burst)
        // says nothing about either build: run that slot again, up to max_reruns times. When it
        // stays saturated, the verdict says so (exit 5).
        for (int attempt = 1; attempt <= max_reruns && !vo.interrupted && vo.exit_code != exit_code::runtime_error &&
                              result::exit_code_of(vo.v) == exit_code::saturated;
             ++attempt) {
          const std::string why = fmt::format("{} {} #{}: attempt {} was SATURATED (send lag p99 {}); run again",
                                              to_string(slot.side), spec.name, slot.repeat + 1, attempt,
                                              fmt::format("{:.1f} ms", vo.v.send_lag.p99_us / 1000));
          out_ << "  " << why << "\n";
          reruns_.push_back(why);
          vo = s.exec->run(spec, slot.repeat, prefix + fmt::format("-again{}", attempt));
          s.exec->print(vo.v);
        }
      }
      // The verdict's statuses come back through judge_ab; here only what judge_ab cannot see.
      if (vo.exit_code == exit_code::runtime_error) rc = exit_code::combine(rc, exit_code::runtime_error);
      interrupted = interrupted || vo.interrupted;
      s.run.variants.push_back(std::move(vo.v));
      if (!save(s)) rc = exit_code::combine(rc, exit_code::runtime_error);
      if (interrupted) break;
    }
    for (auto& s : sides_) {
      bool all = s.run.variants.size() * 2 == order.size();
      for (const auto& v : s.run.variants) all = all && v.complete;
      s.run.complete = !interrupted && all;
      if (!save(s)) rc = exit_code::combine(rc, exit_code::runtime_error);
    }
    if (interrupted) {
      err_ << who << ": interrupted; results so far are in " << dir_.string() << " (marked incomplete)\n";
      rc = exit_code::combine(rc, exit_code::interrupted);
    }
    outcome.exit_code = exit_code::combine(rc, finish());
    return outcome;
  }

 private:
  // Everything that can be checked before the first run; exit_code::usage (2) for any problem.
  int prepare() {
    analysis::ab_options ao;
    auto tol = analysis::parse_tolerance(opts_.tolerance);
    if (!tol) return usage("--tolerance: " + tol.error());
    ao.compare.tolerance = *tol;
    if (!(opts_.alpha > 0 && opts_.alpha < 1))
      return usage(fmt::format("--alpha {} out of range (accepted: 0 < alpha < 1)", opts_.alpha));
    ao.compare.alpha = opts_.alpha;
    if (!opts_.metrics.empty()) {
      ao.compare.metrics.clear();
      ao.compare.capacities = false;  // the list says what to compare ("capacity" included when named)
      for (const auto& name : opts_.metrics) {
        auto m = analysis::parse_metric(name);
        if (!m) return usage("--metric: " + m.error());
        ao.compare.metrics.push_back(*m);
      }
    }
    ab_ = ao;
    const bool bins = !opts_.baseline_bin.empty() || !opts_.candidate_bin.empty();
    const bool urls = !opts_.baseline_url.empty() || !opts_.candidate_url.empty();
    if (bins && urls) return usage("give either --baseline-bin and --candidate-bin, or --baseline-url and "
                                   "--candidate-url, not both kinds");
    if (!bins && !urls) return usage("no sides to compare: give --baseline-bin and --candidate-bin (two lab-target "
                                     "builds) or --baseline-url and --candidate-url (two services)");
    if (bins && (opts_.baseline_bin.empty() || opts_.candidate_bin.empty()))
      return usage(opts_.baseline_bin.empty() ? "--baseline-bin is missing (--candidate-bin was given)"
                                              : "--candidate-bin is missing (--baseline-bin was given)");
    if (urls && (opts_.baseline_url.empty() || opts_.candidate_url.empty()))
      return usage(opts_.baseline_url.empty() ? "--baseline-url is missing (--candidate-url was given)"
                                              : "--candidate-url is missing (--baseline-url was given)");
    // Fewer than 3 per side is a coin toss: with 2 against 2, every repeat of one side lies beyond
    // every one of the other 1 time in 6 by chance alone (docs/ci.md, "More repeats, less noise").
    if (opts_.repeats != 0 && (opts_.repeats < min_ab_repeats || opts_.repeats > 1000))
      return usage(fmt::format("--repeats {}: accepted {} to 1000 (5 or more recommended)", opts_.repeats,
                               min_ab_repeats));

    // Each side's scenario: the common --set, then its own; the variants must pair up by name.
    std::array<scenario, 2> per_side;
    for (int i = 0; i < 2; ++i) {
      std::vector<std::string> sets = opts_.overrides;
      const auto& own = i == 0 ? opts_.baseline_overrides : opts_.candidate_overrides;
      sets.insert(sets.end(), own.begin(), own.end());
      auto sc = load_scenario(opts_.scenario_file, sets);
      if (!sc) return usage(sc.error().to_string());
      per_side[static_cast<std::size_t>(i)] = std::move(*sc);
    }
    for (std::size_t i = 0; i < std::max(per_side[0].variants.size(), per_side[1].variants.size()); ++i) {
      const auto* a = i < per_side[0].variants.size() ? &per_side[0].variants[i] : nullptr;
      const auto* b = i < per_side[1].variants.size() ? &per_side[1].variants[i] : nullptr;
      if (!a || !b || a->name != b->name)
        return usage(fmt::format("--baseline-set / --candidate-set change the variants ({} vs {}): the sides must run "
                                 "the same variants; vary a key the matrix does not",
                                 a ? a->name : "none", b ? b->name : "none"));
    }
    sc_ = per_side[0];
    sc_.repeats = opts_.repeats > 0 ? opts_.repeats : sc_.repeats >= min_ab_repeats ? sc_.repeats : default_ab_repeats;

    sides_[0].which = ab_side::baseline;
    sides_[1].which = ab_side::candidate;
    sides_[0].option = bins ? "--baseline-bin" : "--baseline-url";
    sides_[1].option = bins ? "--candidate-bin" : "--candidate-url";
    sides_[0].bin = opts_.baseline_bin;
    sides_[1].bin = opts_.candidate_bin;
    sides_[0].url = opts_.baseline_url;
    sides_[1].url = opts_.candidate_url;
    sides_[0].sets = opts_.baseline_overrides;
    sides_[1].sets = opts_.candidate_overrides;
    for (std::size_t i = 0; i < 2; ++i) {
      side& s = sides_[i];
      s.variants = per_side[i].variants;
      if (bins) {
        bool any_spawn = false;
        for (const auto& v : s.variants) any_spawn = any_spawn || v.target.spawn;
        if (!any_spawn)
          return usage(fmt::format("{}: the scenario's [target] is a url; binaries need a lab-target model "
                                   "(or give --baseline-url and --candidate-url)",
                                   opts_.scenario_file.string()));
        if (int rc = check_bin(s, opts_.scenario_file, err_); rc != exit_code::ok) return rc;
      } else if (int rc = check_url(s, opts_.scenario_file, err_); rc != exit_code::ok) {
        return rc;
      }
    }
    if (opts_.dry_run) {
      scenario plan = sc_;
      plan.variants = sides_[0].variants;
      out_ << format_plan(plan);
      const double side_s = [&] {
        double t = 0;
        for (const auto& v : plan.variants) t += estimate(v).total_s() * plan.repeats;
        return t;
      }();
      out_ << fmt::format("ab: both sides, interleaved: {} runs, about {:.0f} s in all ({}: {}; {}: {})\n",
                          2 * plan.variants.size() * static_cast<std::size_t>(plan.repeats), 2 * side_s,
                          to_string(ab_side::baseline), what(sides_[0]), to_string(ab_side::candidate),
                          what(sides_[1]));
      out_.flush();
    }
    return exit_code::ok;
  }

  int usage(const std::string& message) {
    err_ << who << ": " << message << "\n";
    return exit_code::usage;
  }

  bool same_target() const {
    if (sides_[0].sets != sides_[1].sets) return false;
    if (!sides_[0].url.empty()) return sides_[0].url == sides_[1].url;
    std::error_code ec;
    return fs::equivalent(sides_[0].bin, sides_[1].bin, ec);
  }

  bool save(const side& s) {
    auto ok = result::write_run_json(s.dir / "run.json", s.run);
    if (!ok) err_ << who << ": " << ok.error() << "\n";
    return ok.has_value();
  }

  // The verdict: table, ab.json, report, CI files. Returns its exit code (runtime error if a file
  // cannot be written).
  int finish() {
    auto verdict = analysis::judge_ab(sides_[0].run, sides_[1].run, ab_);
    for (const auto& r : reruns_) verdict.notes.push_back(r);
    out_ << "\n" << analysis::format_ab(verdict, ab_);
    int rc = verdict.exit_code;
    nlohmann::json j = analysis::ab_json(verdict, ab_);
    j["scenario"] = opts_.scenario_file.string();
    j["repeats"] = sc_.repeats;
    j["reruns"] = reruns_;
    for (const auto& s : sides_)
      j["sides"][to_string(s.which)] = {{"bin", s.bin.string()}, {"url", s.url}, {"run", to_string(s.which)}};
    auto write = [&](const fs::path& file, const std::string& text, const char* label) {
      if (file.empty()) return;
      if (auto w = analysis::write_text_file(file, text); !w) {
        err_ << who << ": " << label << ": " << w.error() << "\n";
        rc = exit_code::combine(rc, exit_code::runtime_error);
      } else {
        out_ << label << ": " << file.string() << "\n";
      }
    };
    write(dir_ / "ab.json", j.dump(2) + "\n", "verdict");
    if (opts_.report) {
      auto paths = analysis::render_ab_report(sides_[0].dir, sides_[1].dir, dir_, verdict, ab_);
      if (paths) {
        out_ << "report: " << paths->markdown.string() << "\n";
        out_ << "report: " << paths->html.string() << "\n";
      } else {
        err_ << who << ": report: " << paths.error() << "\n";
        rc = exit_code::combine(rc, exit_code::runtime_error);
      }
    }
    write(opts_.junit_file, analysis::ab_junit_xml(sides_[0].run, sides_[1].run, verdict, ab_), "junit");
    write(opts_.summary_md_file, analysis::ab_summary_markdown(sides_[0].run, sides_[1].run, verdict, ab_), "summary");
    out_ << "results: " << dir_.string() << "\n";
    out_.flush();
    return rc;
  }

  static constexpr int max_reruns = 2;  // per slot, for a saturated run (see run())
  std::vector<std::string> reruns_;     // what was run again and why, for the verdict's notes

  const ab_run_options& opts_;
  std::ostream& out_;
  std::ostream& err_;
  analysis::ab_options ab_;
  scenario sc_;
  std::array<side, 2> sides_;
  fs::path dir_;
};

}  // namespace

const char* to_string(ab_side s) noexcept { return s == ab_side::baseline ? "baseline" : "candidate"; }

std::vector<ab_slot> interleaved_order(std::size_t variants, int repeats) {
  std::vector<ab_slot> order;
  for (int r = 0; r < repeats; ++r) {
    for (std::size_t i = 0; i < variants; ++i) {
      const bool a_first = (static_cast<std::size_t>(r) + i) % 2 == 0;
      order.push_back({i, r, a_first ? ab_side::baseline : ab_side::candidate});
      order.push_back({i, r, a_first ? ab_side::candidate : ab_side::baseline});
    }
  }
  return order;
}

ab_run_outcome run_ab(const ab_run_options& opts, std::ostream& out, std::ostream& err) {
  return ab_runner(opts, out, err).run();
}

}  // namespace perflab::loadgen
