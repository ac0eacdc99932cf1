#pragma once
// For the session's unit tests (session_*_test.cpp): drives a session the
// way every model does, without sockets. A wait step is recorded and finished at once (the tests'
// wait primitive is none), so a test sees each wait's length without spending it.
#include <perflab/targets/session.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace perflab::targets {

// A POST of `body` to `target`, with its Content-Length.
inline std::string post(std::string_view target, std::string_view body) {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// Sends one request into s without following its steps; the step it stopped at.
inline session::step send_only(session& s, std::string_view req) {
  EXPECT_EQ(s.process().what, session::next::read);
  std::memcpy(s.read_space().data(), req.data(), req.size());
  s.commit(req.size());
  return s.process();
}

struct session_harness {
  explicit session_harness(server_config cfg = {}) : ctx(std::make_unique<server_context>(std::move(cfg))), s(*ctx) {}

  // Feeds bytes in pieces of `piece` bytes; returns the last step (what was written is in out).
  session::step feed(std::string_view bytes, std::size_t piece = 1 << 20) {
    session::step st = drain(s.process());
    while (!bytes.empty() && st.what == session::next::read) {
      auto space = s.read_space();
      const auto n = std::min({piece, bytes.size(), space.size()});
      std::memcpy(space.data(), bytes.data(), n);
      s.commit(n);
      bytes.remove_prefix(n);
      st = drain(s.process());
    }
    return st;
  }
  // Writes everything the session has for the client, as a model would, and follows wait and
  // more steps until the session wants to read or close.
  session::step drain(session::step st) {
    for (;;) {
      std::size_t wrote = 0;
      while (s.output_pending()) {
        const auto o = s.output();
        out.append(o.buffered).append(o.streamed);
        wrote += o.size();
        s.output_written(o.size());
      }
      writes.push_back(wrote);
      if (st.what == session::next::wait) {
        waits.push_back(st.wait);
        s.finish_wait();
      } else if (st.what != session::next::more) {
        return st;
      }
      st = s.process();
    }
  }
  // The status of every response written so far, in order.
  std::vector<int> statuses() const {
    std::vector<int> v;
    for (std::size_t p = 0; (p = out.find("HTTP/1.1 ", p)) != std::string::npos; p += 9)
      v.push_back(std::atoi(out.c_str() + p + 9));
    return v;
  }

  std::unique_ptr<server_context> ctx;
  session s;
  std::string out;
  std::vector<std::chrono::microseconds> waits;
  std::vector<std::size_t> writes;  // bytes written before each step was followed
};

}  // namespace perflab::targets
