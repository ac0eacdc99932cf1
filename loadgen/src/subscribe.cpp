// `loadgen subscribe`'s engine (subscribe.hpp): subscribers, the built-in publisher and the
// per-second collection on one io_context. Kept apart from engine_asio*.cpp: request/response
// load and push delivery share the result format, not the connection logic.
#include "perflab/loadgen/subscribe.hpp"

#include "subscribe_state.hpp"

#include <utility>  // GCC 12: before boost/asio/awaitable.hpp

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "perflab/core/clock.hpp"
#include "perflab/core/hdr_log.hpp"
#include "perflab/core/histogram.hpp"
#include "perflab/core/http.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/core/text.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/request_mix.hpp"

namespace perflab::loadgen {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using subscribe_detail::count_connect_error;
using subscribe_detail::count_io_error;
using subscribe_detail::run_state;
using subscribe_detail::subscriber_base;
using subscribe_detail::topic_state;

constexpr std::size_t poll_limit = 1000;                 // short-poll: messages per answer asked for

// One subscriber: its connection, its sequence bookkeeping, and its style's request loop.
class subscriber final : public subscriber_base, public std::enable_shared_from_this<subscriber> {
 public:
  subscriber(run_state& r, std::size_t topic) : subscriber_base(r, topic), sock_(r.ioc), timer_(r.ioc) {}

  void start() override { open(); }
  void stop() override {
    error_code ignored;
    sock_.close(ignored);
    timer_.cancel();
  }

 private:
  bool sse() const noexcept { return r_.cfg.style == "sse"; }

  void open() override {
    if (r_.stopping) return;
    if (opened_) ++r_.reconnects;
    opened_ = true;
    error_code ignored;
    sock_.close(ignored);
    sock_ = tcp::socket(r_.ioc);
    connect(sock_, timer_, shared_from_this(), [this](bool ok) {
      if (!ok) return retry_later(std::chrono::milliseconds(200));
      send_request();
    });
  }

  void retry_later(std::chrono::nanoseconds delay) { reopen_after(timer_, shared_from_this(), delay); }

  void send_request() {
    if (r_.stopping) return;
    const auto& t = r_.topics[topic_];
    req_.clear();
    if (sse()) {
      fmt::format_to(std::back_inserter(req_),
                     "GET /events/{} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nLast-Event-ID: {}\r\n\r\n",
                     t.name, r_.url.host_header, seq_.highest());
      head_done_ = false;
    } else if (r_.cfg.style == "long-poll") {
      fmt::format_to(std::back_inserter(req_), "GET /poll/{}?after={}&timeout={}ms HTTP/1.1\r\nHost: {}\r\n\r\n", t.name,
                     seq_.highest(), std::chrono::duration_cast<std::chrono::milliseconds>(r_.cfg.poll_timeout).count(),
                     r_.url.host_header);
    } else {
      fmt::format_to(std::back_inserter(req_), "GET /messages/{}?after={}&limit={} HTTP/1.1\r\nHost: {}\r\n\r\n", t.name,
                     seq_.highest(), poll_limit, r_.url.host_header);
    }
    buf_.clear();
    event_data_.clear();  // an event cut by the stream's end is not carried into the next stream
    parser_.reset();
    ++r_.requests;
    ++r_.requests_second;
    asio::async_write(sock_, asio::buffer(req_), [self = shared_from_this()](const error_code& ec, std::size_t) {
      if (ec) return self->on_failure(ec);
      self->do_read();
    });
  }

  void do_read() {
    sock_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(const error_code& ec, std::size_t n) {
    if (ec) {
      if (sse() && head_done_) {  // the stream ended (server closed or reset): reconnect like a browser
        head_done_ = false;
        stream_ended();
        if (ec != asio::error::eof && !r_.stopping) count_io_error(r_, ec);
        return retry_later(retry_);
      }
      // A keep-alive connection the server closed between two polls: a new one, not an error.
      if (!sse() && ec == asio::error::eof && !parser_.in_progress()) return retry_later(std::chrono::nanoseconds(0));
      return on_failure(ec);
    }
    r_.bytes += static_cast<std::int64_t>(n);
    r_.bytes_second += static_cast<std::int64_t>(n);
    const std::string_view data(chunk_.data(), n);
    if (sse()) {
      if (!on_sse_bytes(data)) return;
      return do_read();
    }
    buf_.append(data);
    const auto p = parser_.feed(data);
    if (p.error != http::errc::ok) {
      ++r_.errors.malformed;
      return retry_later(std::chrono::milliseconds(100));
    }
    if (!p.complete) return do_read();
    on_poll_response();
  }

  // A failed connection (not a stream's normal end): counted, then a fresh one after a pause.
  void on_failure(const error_code& ec) {
    if (r_.stopping || ec == asio::error::operation_aborted) return;
    count_io_error(r_, ec);
    retry_later(std::chrono::milliseconds(100));
  }

  void on_poll_response() {
    const int status = parser_.status();
    const std::size_t body = static_cast<std::size_t>(parser_.body_bytes());
    const std::size_t total = static_cast<std::size_t>(parser_.wire_bytes());
    const std::string_view text = std::string_view(buf_).substr(total - std::min(total, body), body);
    std::size_t got = 0;
    if (status == 200) {
      const std::int64_t now = now_ns();
      got = scan_messages(text, [&](std::uint64_t seq, std::int64_t ts) { on_message(seq, ts, now); });
    } else if (status >= 500) {
      ++r_.errors.status_5xx;
    } else {
      ++r_.errors.status_4xx;
    }
    const bool keep = parser_.keep_alive();
    if (!keep) {
      error_code ignored;
      sock_.close(ignored);
    }
    std::chrono::nanoseconds pause{0};
    if (status != 200) pause = std::chrono::milliseconds(100);
    else if (r_.cfg.style == "short-poll" && got < poll_limit) pause = r_.cfg.poll_interval;
    if (pause.count() == 0 && keep) return send_request();
    timer_.expires_after(pause);
    timer_.async_wait([self = shared_from_this(), keep](const error_code& ec) {
      if (ec) return;
      if (keep) self->send_request();
      else self->open();
    });
  }

  // SSE: the head, then "field: value" lines; an event ends at a blank line. False: the stream
  // cannot go on (a refused subscription): reconnect later.
  bool on_sse_bytes(std::string_view data) {
    buf_.append(data);
    std::size_t at = 0;
    if (!head_done_) {
      const auto end = buf_.find("\r\n\r\n");
      if (end == std::string::npos) return true;
      const bool ok = buf_.starts_with("HTTP/1.1 200") || buf_.starts_with("HTTP/1.0 200");
      if (!ok) {
        (buf_.size() > 9 && buf_[9] == '5' ? r_.errors.status_5xx : r_.errors.status_4xx) += 1;
        error_code ignored;
        sock_.close(ignored);
        retry_later(retry_);
        return false;
      }
      head_done_ = true;
      stream_started();
      at = end + 4;
    }
    for (;;) {
      const auto nl = buf_.find('\n', at);
      if (nl == std::string::npos) break;
      std::string_view line(buf_.data() + at, nl - at);
      at = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) {  // end of an event
        if (!event_data_.empty()) {
          const std::int64_t now = now_ns();
          scan_messages(event_data_, [&](std::uint64_t seq, std::int64_t ts) { on_message(seq, ts, now); });
        }
        event_data_.clear();
      } else if (line.starts_with("data:")) {
        event_data_.append(trim(line.substr(5)));
      } else if (line.starts_with("retry:")) {
        std::uint64_t ms = 0;
        const auto v = trim(line.substr(6));
        if (std::from_chars(v.data(), v.data() + v.size(), ms).ec == std::errc{}) retry_ = std::chrono::milliseconds(ms);
      }  // id: is the sequence number the data carries too; ":" lines are heartbeats
    }
    buf_.erase(0, at);
    return true;
  }

  tcp::socket sock_;
  asio::steady_timer timer_;
  std::string req_;
  std::string buf_;
  std::array<char, 16384> chunk_;
  http::response_parser parser_;
  std::string event_data_;
  bool head_done_ = false;
  bool opened_ = false;
  std::chrono::nanoseconds retry_ = std::chrono::seconds(1);  // SSE: the server's retry: field
};

// The built-in publisher: one keep-alive connection, message k to topic k % T at t0 + k / (R*T);
// behind schedule, it sends as soon as the previous answer is in.
class publisher : public std::enable_shared_from_this<publisher> {
 public:
  explicit publisher(run_state& r) : r_(r), sock_(r.ioc), timer_(r.ioc) {
    body_.assign(r.cfg.message_bytes, 'm');
  }
  void start(std::int64_t t0, std::int64_t end) {
    t0_ = t0;
    end_ = end;
    interval_ns_ = 1e9 / (r_.cfg.publish_rate * static_cast<double>(r_.topics.size()));
    // Messages k = 0, 1, ... are due at t0 + k * interval, before end.
    asked_ = static_cast<std::int64_t>(std::ceil(static_cast<double>(end - t0) / interval_ns_));
    connect();
  }
  bool done() const noexcept { return done_; }
  std::int64_t late() const noexcept { return late_; }
  std::int64_t asked() const noexcept { return asked_; }

 private:
  void connect() {
    error_code ignored;
    sock_.close(ignored);
    sock_ = tcp::socket(r_.ioc);
    asio::async_connect(sock_, r_.endpoints, [self = shared_from_this()](const error_code& ec, const tcp::endpoint&) {
      if (ec) {
        count_connect_error(self->r_, ec);
        return self->finish();
      }
      self->sock_.set_option(tcp::no_delay(true));
      self->wait_next();
    });
  }
  void wait_next() {
    const auto due = t0_ + static_cast<std::int64_t>(static_cast<double>(k_) * interval_ns_);
    if (due >= end_ || r_.stopping) return finish();
    const auto wait = due - now_ns();
    if (wait <= 0) {
      if (wait < -1'000'000) ++late_;  // more than 1 ms behind schedule
      return send();
    }
    timer_.expires_after(std::chrono::nanoseconds(wait));
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->send();
    });
  }
  void send() {
    current_ = k_ % r_.topics.size();
    req_.clear();
    fmt::format_to(std::back_inserter(req_), "POST /publish/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n{}",
                   r_.topics[current_].name, r_.url.host_header, body_.size(), body_);
    parser_.reset();
    asio::async_write(sock_, asio::buffer(req_), [self = shared_from_this()](const error_code& ec, std::size_t) {
      if (ec) {
        count_io_error(self->r_, ec);
        return self->finish();
      }
      self->read();
    });
  }
  void read() {
    sock_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
      if (ec) {
        count_io_error(self->r_, ec);
        return self->finish();
      }
      const auto p = self->parser_.feed(std::string_view(self->chunk_.data(), n));
      if (p.error != http::errc::ok) {
        ++self->r_.errors.malformed;
        return self->finish();
      }
      if (!p.complete) return self->read();
      self->on_answer();
    });
  }
  void on_answer() {
    if (parser_.status() == 200) ++r_.topics[current_].published;
    else (parser_.status() >= 500 ? r_.errors.status_5xx : r_.errors.status_4xx) += 1;
    ++k_;
    if (!parser_.keep_alive()) return connect();
    wait_next();
  }
  void finish() {
    done_ = true;
    error_code ignored;
    sock_.close(ignored);
  }

  run_state& r_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  std::string body_, req_;
  std::array<char, 4096> chunk_;
  http::response_parser parser_;
  std::int64_t t0_ = 0, end_ = 0;
  double interval_ns_ = 0;
  std::uint64_t k_ = 0;
  std::size_t current_ = 0;
  std::int64_t late_ = 0;
  std::int64_t asked_ = 0;
  bool done_ = false;
};

// The topic's last sequence number now: GET /messages/{topic}?after=0&limit=1 on a blocking socket.
tl::expected<std::uint64_t, std::string> read_last_seq(run_state& r, const std::string& topic) {
  tcp::socket s(r.ioc);
  error_code ec;
  asio::connect(s, r.endpoints, ec);
  if (ec) return tl::unexpected(fmt::format("cannot connect to {}:{}: {}", r.url.host, r.url.port, ec.message()));
  const auto req = fmt::format("GET /messages/{}?after=0&limit=1 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                               topic, r.url.host_header);
  asio::write(s, asio::buffer(req), ec);
  std::string text;
  std::array<char, 4096> chunk;
  while (!ec) {
    const auto n = s.read_some(asio::buffer(chunk), ec);
    text.append(chunk.data(), n);
  }
  if (!text.starts_with("HTTP/1.1 200"))
    return tl::unexpected(fmt::format("GET /messages/{} answered \"{}\": is this a lab-target with the topic hub?", topic,
                                      text.substr(0, text.find('\r'))));
  const auto at = text.find("\"last\":");
  std::uint64_t last = 0;
  if (at == std::string::npos ||
      std::from_chars(text.data() + at + 7, text.data() + text.size(), last).ec != std::errc{})
    return tl::unexpected(fmt::format("GET /messages/{}: no \"last\" in the answer", topic));
  return last;
}

double cpu_seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

}  // namespace

tl::expected<result::variant, std::string> run_subscribe(const subscribe_config& cfg) {
  run_state r;
  r.cfg = cfg;
  auto url = parse_url(cfg.url);
  if (!url) return tl::unexpected(url.error());
  r.url = *url;
  error_code ec;
  tcp::resolver resolver(r.ioc);
  r.endpoints = resolver.resolve(r.url.host, r.url.port, ec);
  if (ec) return tl::unexpected(fmt::format("cannot resolve {}: {}", r.url.host, ec.message()));
  for (std::int64_t t = 0; t < cfg.topics; ++t) {
    topic_state ts;
    ts.name = fmt::format("{}{}", cfg.topic_prefix, t);
    auto last = read_last_seq(r, ts.name);
    if (!last) return tl::unexpected(last.error());
    ts.base = *last;
    r.topics.push_back(std::move(ts));
  }

  // Output files are opened before the load starts, so a bad directory fails fast.
  std::ofstream hlog_file, csv;
  std::optional<hdr::log_writer> hlog;
  const std::string hlog_name = cfg.file_prefix + ".hlog", csv_name = cfg.file_prefix + ".csv";
  if (!cfg.output_dir.empty()) {
    std::error_code fec;
    std::filesystem::create_directories(cfg.output_dir, fec);
    hlog_file.open(cfg.output_dir / hlog_name);
    csv.open(cfg.output_dir / csv_name);
    if (!hlog_file || !csv) return tl::unexpected(fmt::format("cannot write into '{}'", cfg.output_dir.string()));
    hlog.emplace(hlog_file, wall_now_s(), 1e6, "loadgen subscribe: delivery latency (receive - publish), ns");
    csv << "t_s,length_s,delivered,delivery_p50_us,delivery_p99_us,requests,bytes_in,streams_open\n";
  }
  if (!cfg.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cfg.cpus) CPU_SET(c, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }

  // Subscribers first (ramped at connect_rate), then the publisher once every stream is open (SSE)
  // or after the ramp (a poll resumes from after= whenever it arrives).
  std::vector<std::shared_ptr<subscriber_base>> subs;
  for (std::int64_t i = 0; i < cfg.subscribers; ++i) {
    const auto topic = static_cast<std::size_t>(i % cfg.topics);
    if (cfg.style == "ws") subs.push_back(make_ws_subscriber(r, topic));
    else subs.push_back(std::make_shared<subscriber>(r, topic));
  }
  const std::int64_t ramp_start = now_ns();
  for (std::size_t i = 0; i < subs.size(); ++i) {
    if (cfg.connect_rate > 0) {
      const auto at = ramp_start + static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / cfg.connect_rate);
      auto t = std::make_shared<asio::steady_timer>(r.ioc, std::chrono::nanoseconds(std::max<std::int64_t>(0, at - now_ns())));
      t->async_wait([t, s = subs[i]](const error_code& e) {
        if (!e) s->start();
      });
    } else {
      subs[i]->start();
    }
  }
  const std::int64_t ramp_end = ramp_start + (cfg.connect_rate > 0
                                                  ? static_cast<std::int64_t>(static_cast<double>(subs.size()) * 1e9 / cfg.connect_rate)
                                                  : 0);
  const std::int64_t ready_deadline = ramp_end + cfg.connect_timeout.count();
  const bool want_streams = cfg.style == "sse" || cfg.style == "ws";
  while (now_ns() < ready_deadline && !interrupt_flag().load()) {
    r.ioc.run_for(std::chrono::milliseconds(10));
    if (now_ns() >= ramp_end && (!want_streams || r.streams_open >= cfg.subscribers)) break;
  }

  rusage ru0{};
  getrusage(RUSAGE_SELF, &ru0);
  // publish_rate 0: an external publisher; what the topics' numbers advance by during the
  // measured phase is expected (read once it ends).
  const bool external = !(cfg.publish_rate > 0);
  auto pub = std::make_shared<publisher>(r);
  const std::int64_t t0 = now_ns() + 1'000'000;
  const std::int64_t end = t0 + cfg.duration.count();
  if (!external) pub->start(t0, end);
  bool measure_started = false, measure_ended = false;

  result::variant v;
  std::int64_t next_second = t0 + 1'000'000'000;
  std::int64_t second_start = t0;
  auto close_second = [&](std::int64_t at, const char* phase) {
    result::second_point p;
    p.t_s = static_cast<double>(second_start - t0) / 1e9;
    p.length_s = static_cast<double>(at - second_start) / 1e9;
    p.phase = phase;
    p.delivered = r.delivered_second;
    p.delivery_p50_us = static_cast<double>(r.second.value_at_percentile(50)) / 1e3;
    p.delivery_p99_us = static_cast<double>(r.second.value_at_percentile(99)) / 1e3;
    p.sent = r.requests_second;
    p.bytes_in = r.bytes_second;
    if (hlog) hlog->write(std::string_view("delivery"), p.t_s, p.length_s, r.second);
    if (csv.is_open())
      csv << fmt::format("{:.3f},{:.3f},{},{:.1f},{:.1f},{},{},{}\n", p.t_s, p.length_s, p.delivered, p.delivery_p50_us,
                         p.delivery_p99_us, p.sent, p.bytes_in, r.streams_open);
    if (cfg.progress && std::string_view(phase) == "measured")
      std::fprintf(stderr, "[%5.1fs] delivered %lld/s, delivery p50 %.3f ms p99 %.3f ms, %lld streams open\n",
                   p.t_s + p.length_s, static_cast<long long>(p.delivered), p.delivery_p50_us / 1e3,
                   p.delivery_p99_us / 1e3, static_cast<long long>(r.streams_open));
    v.series.push_back(std::move(p));
    r.second.reset();
    r.delivered_second = r.requests_second = r.bytes_second = 0;
    second_start = at;
  };
  // The measured phase: publishing, one series point per second.
  while (!interrupt_flag().load() && (now_ns() < end || (!external && !pub->done()))) {
    r.ioc.run_for(std::chrono::milliseconds(5));
    if (!measure_started && now_ns() >= t0) {
      measure_started = true;
      if (cfg.on_measure_start) cfg.on_measure_start();
    }
    if (measure_started && !measure_ended && now_ns() >= end) {
      measure_ended = true;
      if (cfg.on_measure_end) cfg.on_measure_end();
    }
    if (now_ns() >= next_second && next_second <= end) {
      close_second(next_second, "measured");
      next_second += 1'000'000'000;
    }
    if (now_ns() > end + cfg.drain.count()) break;  // the publisher's last answer never came
  }
  if (second_start < end && now_ns() >= end) close_second(end, "measured");
  if (measure_started && !measure_ended && cfg.on_measure_end) cfg.on_measure_end();  // stopped early
  if (external) {
    // Each topic's messages since the run began; one that cannot be read expects nothing more.
    for (auto& t : r.topics)
      if (auto last = read_last_seq(r, t.name); last && *last >= t.base) t.published = *last - t.base;
      else ++r.errors.io_other;
  }
  // The drain: until every subscriber has every message published to its topic, or the bound.
  const std::int64_t drain_end = now_ns() + cfg.drain.count() +
                                 (cfg.style == "short-poll" ? cfg.poll_interval.count() : 0);
  auto caught_up = [&] {
    return std::all_of(subs.begin(), subs.end(),
                       [&](const auto& s) { return s->sequence().received() >= static_cast<std::int64_t>(r.topics[s->topic()].published); });
  };
  while (!interrupt_flag().load() && now_ns() < drain_end && !caught_up()) r.ioc.run_for(std::chrono::milliseconds(5));
  const std::int64_t stopped = now_ns();
  close_second(stopped, "drain");
  rusage ru1{};
  getrusage(RUSAGE_SELF, &ru1);
  r.stopping = true;
  for (auto& s : subs) s->stop();
  r.ioc.run_for(std::chrono::milliseconds(50));  // handlers see their sockets closed
  r.ioc.stop();

  v.name = "style=" + cfg.style;
  v.params["style"] = cfg.style;
  v.complete = !interrupt_flag().load();
  if (!v.complete) v.incomplete_reason = "interrupted";
  v.load.kind = "subscribe";
  v.load.style = cfg.style;
  v.load.subscribers = cfg.subscribers;
  v.load.topics = cfg.topics;
  v.load.publish_rate = cfg.publish_rate;
  v.load.duration_s = std::chrono::duration<double>(cfg.duration).count();
  v.load.poll_interval_s = cfg.style == "short-poll" ? std::chrono::duration<double>(cfg.poll_interval).count() : 0;
  v.load.poll_timeout_s = cfg.style == "long-poll" ? std::chrono::duration<double>(cfg.poll_timeout).count() : 0;
  v.load.connect_timeout_s = std::chrono::duration<double>(cfg.connect_timeout).count();
  v.load.keepalive = "keep-alive";
  v.load.threads = 1;
  v.load.cpus = cfg.cpus;
  v.measured_s = static_cast<double>(std::min(stopped, end) - t0) / 1e9;
  for (const auto& t : r.topics) v.published += static_cast<std::int64_t>(t.published);
  for (const auto& s : subs) {
    const auto p = r.topics[s->topic()].published;
    v.expected += static_cast<std::int64_t>(p);
    v.received += s->sequence().received_within(p);
    v.duplicated += s->sequence().duplicated();
    v.out_of_order += s->sequence().out_of_order();
  }
  v.lost = v.expected - v.received;
  v.reconnects = r.reconnects;
  v.sent = v.attempts = r.requests;
  v.connections_opened = r.connects;
  v.bytes_in = r.bytes;
  v.errors = r.errors;
  v.delivery = result::summarize(r.delivery);
  v.connect = result::summarize(r.connect);
  v.reconnect_gap = result::summarize(r.reconnect_gap);
  v.requests_per_delivered = v.received > 0 ? static_cast<double>(r.requests) / static_cast<double>(v.received) : 0;
  v.bytes_per_delivered = v.received > 0 ? static_cast<double>(r.bytes) / static_cast<double>(v.received) : 0;
  v.mb_in_per_s = v.measured_s > 0 ? static_cast<double>(r.bytes) / v.measured_s / 1e6 : 0;
  v.loadgen.cpu_user_s = cpu_seconds(ru1.ru_utime) - cpu_seconds(ru0.ru_utime);
  v.loadgen.cpu_system_s = cpu_seconds(ru1.ru_stime) - cpu_seconds(ru0.ru_stime);
  // Behind its schedule by over 1 ms, or never sent, for more than 1 % of the messages: the
  // publisher could not keep the rate (a message never published is expected by no one, so
  // without this a target that never answered the publisher would look clean).
  if (!external) {
    v.unsent = std::max<std::int64_t>(0, pub->asked() - v.published);  // refused (4xx/5xx) ones too
    v.loadgen.saturated = (pub->late() + v.unsent) * 100 > pub->asked();
  }
  v.target.url = cfg.url;
  if (!cfg.output_dir.empty()) {
    v.interval_log = hlog_name;
    v.series_csv = csv_name;
  }
  return v;
}

}  // namespace perflab::loadgen
