#include "timed_events.hpp"

#include "perflab/loadgen/spawn.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "perflab/core/units.hpp"

namespace perflab::loadgen::detail {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// An admin request or an action; the phase goes on without it. A target drowning in the load may
// answer late: a request that timed out may still have been applied (the event says so).
constexpr auto request_timeout = 5s;

// "fault profile: SPEC\n" (GET/POST /admin/fault) -> SPEC.
std::string profile_of(std::string_view body) {
  constexpr std::string_view prefix = "fault profile: ";
  if (!body.starts_with(prefix)) return {};
  body.remove_prefix(prefix.size());
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  return std::string(body);
}

}  // namespace

std::optional<std::pair<std::string, int>> split_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) return std::nullopt;
  url.remove_prefix(scheme.size());
  if (auto slash = url.find('/'); slash != std::string_view::npos) url = url.substr(0, slash);
  const auto colon = url.rfind(':');
  if (colon == std::string_view::npos) return std::pair{std::string(url), 80};
  int port = 0;
  const auto p = url.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc{} || ptr != p.data() + p.size() || port <= 0 || port > 65535) return std::nullopt;
  return std::pair{std::string(url.substr(0, colon)), port};
}

tl::expected<http_reply, std::string> http_request(const std::string& host, int port, std::string_view method,
                                                   std::string_view path, std::string_view body,
                                                   std::chrono::nanoseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  const auto sent = connect_and_send(
      host, port,
      fmt::format("{} {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}", method,
                  path, host, port, body.size(), body),
      deadline);
  if (!sent) return tl::unexpected(sent.error());
  const int fd = sent->get();  // closed when `sent` goes
  auto left_ms = [&] { return ms_left(deadline); };
  std::string in;
  char buf[4096];
  for (;;) {
    pollfd r{fd, POLLIN, 0};
    if (::poll(&r, 1, left_ms()) <= 0) return tl::unexpected(std::string("no complete response: timed out"));
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return tl::unexpected(fmt::format("recv: {}", std::strerror(errno)));
    if (n == 0) break;
    in.append(buf, static_cast<std::size_t>(n));
    if (in.size() > (8u << 20)) return tl::unexpected(std::string("response over 8 MiB"));
  }
  if (!in.starts_with("HTTP/1.") || in.size() < 12)
    return tl::unexpected(in.empty() ? std::string("connection closed without a response")
                                     : "not an HTTP response: \"" + in.substr(0, in.find('\r')) + "\"");
  http_reply reply;
  reply.status = std::atoi(in.c_str() + 9);
  if (const auto head_end = in.find("\r\n\r\n"); head_end != std::string::npos) reply.body = in.substr(head_end + 4);
  return reply;
}

std::optional<double> requests_answered(std::string_view text) {
  constexpr std::string_view name = "perflab_target_requests_total{endpoint=\"";
  double sum = 0;
  bool found = false;
  for (std::size_t pos = 0; (pos = text.find(name, pos)) != std::string_view::npos;) {
    if (pos > 0 && text[pos - 1] != '\n') {
      pos += name.size();
      continue;
    }
    const auto ep_begin = pos + name.size();
    const auto ep_end = text.find('"', ep_begin);
    const auto line_end = text.find('\n', ep_begin);
    const auto space = text.rfind(' ', line_end);
    pos = line_end == std::string_view::npos ? text.size() : line_end;
    if (ep_end == std::string_view::npos || space == std::string_view::npos || space < ep_begin) continue;
    found = true;
    const auto ep = text.substr(ep_begin, ep_end - ep_begin);
    if (ep == "metrics" || ep == "health" || ep == "admin") continue;
    const auto value = text.substr(space + 1, (line_end == std::string_view::npos ? text.size() : line_end) - space - 1);
    double v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec == std::errc{}) sum += v;
    (void)p;
  }
  if (!found) return std::nullopt;
  return sum;
}

event_scheduler::event_scheduler(std::vector<timed_event_spec> schedule, std::map<std::string, std::string> targets,
                                 bool count_requests)
    : schedule_(std::move(schedule)), urls_(std::move(targets)), count_requests_(count_requests) {
  for (const auto& s : schedule_) {
    result::timed_event e;
    e.kind = s.what == timed_event_spec::kind::fault ? "fault" : "action";
    e.target = s.target;
    e.spec = s.spec;
    e.method = s.what == timed_event_spec::kind::fault ? "POST" : s.method;
    e.path = s.what == timed_event_spec::kind::fault ? "/admin/fault" : s.path;
    e.at_s = std::chrono::duration<double>(s.at).count();
    e.duration_s = std::chrono::duration<double>(s.duration).count();
    events_.push_back(std::move(e));
  }
  if (!schedule_.empty() || count_requests_) thread_ = std::thread([this] { run(); });
}

event_scheduler::~event_scheduler() { finish(); }

void event_scheduler::measure_started() {
  std::lock_guard lk(mu_);
  if (started_) return;
  started_ = true;
  t0_ = clock_type::now();
  cv_.notify_all();
}

void event_scheduler::measure_ended() {
  std::lock_guard lk(mu_);
  ended_ = true;
  cv_.notify_all();
}

void event_scheduler::finish() {
  {
    std::lock_guard lk(mu_);
    finishing_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

double event_scheduler::now_s() const { return std::chrono::duration<double>(clock_type::now() - t0_).count(); }

tl::expected<http_reply, std::string> event_scheduler::send(const std::string& target, std::string_view method,
                                                            std::string_view path, std::string_view body) {
  const auto it = urls_.find(target);
  if (it == urls_.end()) return tl::unexpected("no URL for target \"" + target + "\"");
  const auto hp = split_url(it->second);
  if (!hp) return tl::unexpected("cannot use the URL " + it->second);
  return http_request(hp->first, hp->second, method, path, body, request_timeout);
}

void event_scheduler::scrape(std::map<std::string, double>& into) {
  for (const auto& [name, url] : urls_) {
    auto r = send(name, "GET", "/metrics", "");
    if (!r || r->status != 200) continue;
    if (auto n = requests_answered(r->body)) into[name] = *n;
  }
}

void event_scheduler::run() {
  {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return started_ || finishing_; });
    if (!started_) {
      for (auto& e : events_) e.error = "not sent: the measured phase never started";
      return;
    }
  }
  if (count_requests_) scrape(before_);
  // Each op: apply event i (restore = false), or put back the profile event i replaced.
  struct op {
    clock_type::duration at;
    std::size_t index;
    bool restore;
    std::string previous;
  };
  std::vector<op> ops;
  for (std::size_t i = 0; i < schedule_.size(); ++i) ops.push_back({schedule_[i].at, i, false, {}});
  auto stopped = [&] { return ended_ || finishing_; };
  auto restore = [&](const op& o) {
    auto& e = events_[o.index];
    auto r = send(schedule_[o.index].target, "POST", "/admin/fault", o.previous);
    e.end_s = now_s();
    e.restored = o.previous;
    if (!r) e.error = "restoring the previous profile: " + r.error();
    else if (r->status != 200) e.error = fmt::format("restoring the previous profile: status {}: {}", r->status, r->body);
  };
  while (!ops.empty()) {
    auto next = std::min_element(ops.begin(), ops.end(), [](const op& a, const op& b) { return a.at < b.at; });
    {
      std::unique_lock lk(mu_);
      if (!next->restore && cv_.wait_until(lk, t0_ + next->at, stopped)) break;
      if (next->restore) cv_.wait_until(lk, t0_ + next->at, stopped);  // a restore always runs
    }
    op o = std::move(*next);
    ops.erase(next);
    const auto& s = schedule_[o.index];
    auto& e = events_[o.index];
    if (o.restore) {
      restore(o);
      continue;
    }
    std::string previous;
    if (s.what == timed_event_spec::kind::fault && s.duration.count() > 0) {
      auto cur = send(s.target, "GET", "/admin/fault", "");
      if (!cur || cur->status != 200) {
        // Without the profile in force there is nothing right to put back afterwards: the fault
        // is not applied (the event says why) rather than ending as "none".
        e.error = cur ? fmt::format("GET /admin/fault: status {}", cur->status)
                      : "GET /admin/fault: " + cur.error();
        continue;
      }
      previous = profile_of(cur->body);
    }
    e.start_s = now_s();
    auto r = s.what == timed_event_spec::kind::fault ? send(s.target, "POST", "/admin/fault", s.spec)
                                                     : send(s.target, s.method, s.path, s.body);
    if (!r) {
      e.error = r.error();
      continue;
    }
    e.status = r->status;
    if (s.what == timed_event_spec::kind::action) {
      e.end_s = now_s();
      continue;
    }
    if (r->status != 200) {
      e.error = fmt::format("status {}: {}", r->status, r->body);
      continue;
    }
    if (s.duration.count() > 0) {
      if (previous.empty()) previous = "none";
      ops.push_back({std::max(s.at + s.duration, clock_type::now() - t0_), o.index, true, previous});
    }
  }
  // The phase ended (or the run stopped): faults with a duration are put back now; faults without
  // one are recorded as lasting to the end; anything never sent says so.
  for (const auto& o : ops)
    if (o.restore) restore(o);
  std::unique_lock lk(mu_);
  cv_.wait(lk, stopped);
  const double end = now_s();
  for (auto& e : events_) {
    if (e.start_s < 0 && e.error.empty()) e.error = "not sent: the measured phase ended first";
    if (e.kind == "fault" && e.start_s >= 0 && e.end_s < 0 && e.error.empty()) e.end_s = end;
  }
  lk.unlock();
  if (count_requests_) scrape(after_);
}

std::vector<result::timed_event> event_scheduler::events() const {
  std::lock_guard lk(mu_);
  return events_;
}

std::int64_t event_scheduler::requests(const std::string& name) const {
  std::lock_guard lk(mu_);
  const auto b = before_.find(name), a = after_.find(name);
  if (b == before_.end() || a == after_.end()) return -1;
  return static_cast<std::int64_t>(a->second - b->second);
}

}  // namespace perflab::loadgen::detail
