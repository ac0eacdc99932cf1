#include "describe.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "format.hpp"
#include "perflab/core/verdict.hpp"

namespace perflab::analysis::detail {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string seconds(double s) {
  if (s == std::floor(s)) return fmt::format("{:.0f} s", s);
  return fmt::format("{:.3g} s", s);
}

std::string describe_load(const result::load_model& l) {
  std::string s;
  if (l.kind == "open") {
    s = fmt::format("open loop ({} arrivals", l.arrival.empty() ? "constant" : l.arrival);
    if (!l.stages.empty()) {
      s += ", stages";
      for (const auto& st : l.stages) s += fmt::format(" {}->{}/s", seconds(st.duration_s), format_rate(st.target_rate));
    } else {
      s += fmt::format(", {} req/s", format_rate(l.rate));
    }
    s += l.connections > 0 ? fmt::format(", up to {} connections)", l.connections) : ", connections on demand)";
  } else if (l.kind == "closed") {
    s = fmt::format("closed loop ({} connections", l.connections);
    if (l.think_time_s > 0) s += fmt::format(", think time {}", format_us(l.think_time_s * 1e6));
    s += ")";
  } else if (l.kind == "subscribe") {
    s = fmt::format("subscribe ({}, {} subscribers on {} topic{}, ", l.style.empty() ? "?" : l.style, l.subscribers,
                    l.topics, l.topics == 1 ? "" : "s");
    s += l.publish_rate > 0 ? fmt::format("{} messages/s per topic from the built-in publisher", format_rate(l.publish_rate))
                            : std::string("an external publisher");
    if (l.style == "short-poll") s += fmt::format(", a poll every {}", format_us(l.poll_interval_s * 1e6));
    if (l.style == "long-poll") s += fmt::format(", polls held up to {}", format_us(l.poll_timeout_s * 1e6));
    s += ")";
  } else {
    s = l.kind.empty() ? "unknown load model" : l.kind;
  }
  if (!l.auth.empty()) s += ", auth " + l.auth;
  return s;
}

std::string describe_measurement(const result::load_model& l) {
  std::string s = fmt::format("duration {}, warm-up {}", seconds(l.duration_s), seconds(l.warmup_s));
  if (l.max_requests > 0) s += fmt::format(", at most {} requests", l.max_requests);
  if (!l.keepalive.empty()) s += ", " + l.keepalive;
  return s;
}

std::string describe_pinning(const result::variant& v) {
  std::string s = fmt::format("loadgen {} thread{}, ", v.load.threads, v.load.threads == 1 ? "" : "s");
  s += v.load.cpus.empty() ? "not pinned" : "pinned to CPU " + join_ints(v.load.cpus);
  s += "; target ";
  if (!v.target.spawned) s += "external";
  else s += v.target.cpus.empty() ? "not pinned" : "pinned to CPU " + join_ints(v.target.cpus);
  return s;
}

std::string error_classes(const result::error_counts& e) {
  std::string s;
  result::for_each_error_class(e, [&](const char* name, std::int64_t n) {
    if (n > 0) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", name, n);
  });
  return s.empty() ? "-" : s;
}

// Threshold values are in the expression's base unit: microseconds for latencies, fractions for
// rates, requests/s for TPS, plain counts for errors.count. The expression's left side tells which.
std::string threshold_value(const std::string& expr_in, double v) {
  // A stop condition recorded as a check reads "stop_when errors.count > 1000".
  const std::string_view expr =
      std::string_view(expr_in).substr(expr_in.rfind("stop_when ", 0) == 0 ? std::string_view("stop_when ").size() : 0);
  if (expr.rfind("tps", 0) == 0) return format_rate(v) + " req/s";
  if (expr.rfind("errors.count", 0) == 0) return fmt::format("{:.0f}", v);
  if (expr.find("rate") != std::string::npos) return format_percent(v);
  return format_us(v);
}

bool rps_differs(const result::variant& v) {
  // All responses include the successful ones, so only "more" is a difference; an rps_mean below
  // goodput is a writer that did not fill it (schema 1, or an engine before schema 2).
  return v.rps_mean - v.tps_mean > 1e-9 * std::max(1.0, v.rps_mean);
}

namespace {

std::string flag_text(const std::string& flag, const result::variant& v) {
  if (flag == "INCOMPLETE")
    return fmt::format("the variant did not finish{}{}; its numbers cover only part of the plan.",
                       v.incomplete_reason.empty() ? "" : ": ", v.incomplete_reason);
  if (flag == "TARGET CRASHED")
    return fmt::format("the target died during the variant ({}).",
                       v.target.exit_status.empty() ? "exit status unknown" : v.target.exit_status);
  if (flag == "SATURATED" && v.load.kind == "subscribe")
    return fmt::format("the built-in publisher fell behind its schedule (more than 1 % of its messages went out over "
                       "1 ms late, or never){}: fewer messages were published than asked, and delivery latency "
                       "includes the loadgen's own delay.",
                       v.unsent > 0 ? fmt::format("; {} scheduled messages were never published (a publish went "
                                                  "unanswered, or failed)", v.unsent)
                                    : std::string());
  if (flag == "SATURATED") {
    std::string why = fmt::format("send lag p99 {}, bound {}", format_us(v.send_lag.p99_us),
                                  format_us(v.loadgen.send_lag_bound_us));
    if (v.unsent > 0) why += fmt::format("; {} due requests never sent", v.unsent);
    if (v.errors.client_resources > 0)
      why += fmt::format("; {} requests failed on the loadgen's own limits (ports, file descriptors, memory)",
                         v.errors.client_resources);
    return fmt::format("the load generator was saturated: it could not keep its schedule ({}); its TPS and "
                       "latencies describe the load generator, not the target.",
                       why);
  }
  if (flag == "ERRORS") {
    std::string s = fmt::format("error rate {} is above the bound {} (`load.max_error_rate`): {}",
                                format_percent(v.error_rate), format_percent(v.load.max_error_rate),
                                error_classes(v.errors));
    if (v.abandoned > 0) s += fmt::format(", {} never answered", v.abandoned);
    return s + ".";
  }
  if (flag == "STALLED")
    return fmt::format("{} of the {} requests carried in from the warm-up got no answer during the whole "
                       "measured phase: those clients starved.",
                       v.stalled, v.carried_in);
  return {};
}

}  // namespace

std::vector<variant_note> variant_notes(const result::variant& v) {
  std::vector<variant_note> notes;
  for (const auto& flag : result::status_flags(v)) {
    if (flag == "THRESHOLD FAILED") {
      for (const auto& t : v.thresholds) {
        if (!t.passed)
          notes.push_back({flag,
                           fmt::format("`{}` (actual {}, limit {}).", t.expression,
                                       threshold_value(t.expression, t.actual), threshold_value(t.expression, t.limit)),
                           true});
      }
      continue;
    }
    notes.push_back({flag, flag_text(flag, v), true});
  }
  if (v.stopped_early)
    notes.push_back({"STOPPED EARLY",
                     fmt::format("a `[load] stop_when` condition ended the measured phase after {}: `{}`; the numbers "
                                 "cover that part only.",
                                 seconds(v.measured_s), v.stop_condition),
                     false});
  if (v.abandoned > 0)
    notes.push_back({"UNANSWERED",
                     fmt::format("{} requests were still unanswered when the drain ended; they count as errors in "
                                 "the error rate and are not in the percentiles.",
                                 v.abandoned),
                     false});
  if (v.retries > 0)
    notes.push_back({"RETRIED",
                     fmt::format("{} requests were resent once on a new connection because the server had closed "
                                 "their idle keep-alive connection; their latency includes the reconnect.",
                                 v.retries),
                     false});
  if (v.client_retries > 0)
    notes.push_back({"CLIENT RETRIES",
                     fmt::format("the loadgen retried ({}): {} attempts reached the target for {} requests sent "
                                 "({:.2f} per request); {} requests succeeded after a retry, {} still got a retried "
                                 "status after their last retry. Status counts and latencies are of each request's "
                                 "final answer, its latency from the first attempt.",
                                 v.load.retry, v.attempts, v.sent,
                                 v.sent > 0 ? static_cast<double>(v.attempts) / static_cast<double>(v.sent) : 0.0,
                                 v.retried_succeeded, v.retries_exhausted),
                     false});
  if (!v.load.follow.empty())
    notes.push_back({"FOLLOWED",
                     fmt::format("requests answered 202 were followed ({}): {} of {} found done after {} polls "
                                 "({:.2f} per request), {} given up at the follow timeout. TTFB is the 202's first "
                                 "byte, TTLB the completion (the poll that found the work done), both from the "
                                 "intended send time; the 202 alone is in the Accepted table (p50 {}).",
                                 v.load.follow, v.followed, v.sent, v.follow_polls,
                                 v.sent > 0 ? static_cast<double>(v.follow_polls) / static_cast<double>(v.sent) : 0.0,
                                 v.errors.follow_timeout, detail::format_us(v.accepted.p50_us)),
                     false});
  if (!v.load.cors.empty())
    notes.push_back({"BROWSER MODE",
                     fmt::format("the loadgen behaved like a browser ({}): {} CORS preflights for {} requests sent "
                                 "({:.2f} per request), {} requests refused by their preflight and never sent "
                                 "(errors). Latencies run through the preflight and the request.",
                                 v.load.cors, v.preflights, v.sent,
                                 v.sent > 0 ? static_cast<double>(v.preflights) / static_cast<double>(v.sent) : 0.0,
                                 v.errors.cors_refused),
                     false});
  if (v.carried_in > 0)
    notes.push_back({"CARRIED-IN",
                     fmt::format("{} requests sent in the warm-up were still in flight when the measured phase "
                                 "began; their latencies are in the measured percentiles.",
                                 v.carried_in),
                     false});
  return notes;
}

std::string empty_latency_reason(const result::variant& v, const result::latency_summary& which) {
  if (which.count > 0) return {};
  if (&which == &v.send_lag && v.load.kind == "closed")
    return "closed loop: requests have no intended send time, so no send lag";
  if (&which == &v.connect) {
    const std::int64_t failed = v.errors.connect_refused + v.errors.connect_timeout + v.errors.connect_other;
    if (failed > 0) return fmt::format("no connect succeeded in the measured phase ({} failed)", failed);
    if (v.load.keepalive != "new-connection" && v.connections_warmup > 0)
      return fmt::format("no new connections in the measured phase: the {} keep-alive connection{} opened during "
                         "the warm-up {} reused", v.connections_warmup, v.connections_warmup == 1 ? "" : "s",
                         v.connections_warmup == 1 ? "was" : "were");
    if (v.load.keepalive != "new-connection" && v.load.warmup_s > 0)
      return "no new connections in the measured phase: keep-alive connections opened during the warm-up were "
             "reused";
    return "no new connections in the measured phase";
  }
  return v.completed == 0 ? "no responses to measured requests" : "no samples";
}

}  // namespace perflab::analysis::detail
