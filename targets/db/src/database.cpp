#include <perflab/db/database.hpp>

#include <cerrno>
#include <thread>

#include <fmt/format.h>
#include <poll.h>

#include <perflab/core/clock.hpp>

namespace perflab::db {

std::int64_t item_price_cents(std::uint64_t id) noexcept { return static_cast<std::int64_t>((id * 7919) % 10000); }

std::uint64_t item_for_key(std::string_view key) noexcept {
  std::uint64_t n = 0;
  bool decimal = !key.empty() && key.size() <= 19;
  for (const char c : key) {
    if (c < '0' || c > '9') {
      decimal = false;
      break;
    }
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!decimal) {
    n = 14695981039346656037ull;  // FNV-1a: the same row for a key on every run
    for (const char c : key) n = (n ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  return n % item_count + 1;
}

void item_json(std::uint64_t id, std::int64_t price_cents, std::string& out) {
  out.clear();
  fmt::format_to(std::back_inserter(out), "{{\"id\":{},\"name\":\"item-{}\",\"price_cents\":{}}}\n", id, id,
                 price_cents);
}

void wait_blocking(const wait_for& w) {
  switch (w.what) {
    case wait_for::kind::done: return;
    case wait_for::kind::until:
      std::this_thread::sleep_until(steady::time_point(std::chrono::nanoseconds(w.at_ns)));
      return;
    case wait_for::kind::readable:
    case wait_for::kind::writable: {
      pollfd p{w.fd, static_cast<short>(w.what == wait_for::kind::readable ? POLLIN : POLLOUT), 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      return;
    }
  }
}

std::unique_ptr<connection> database::open_blocking() {
  std::unique_ptr<connection> c;
  for (auto w = start_open(c, now_ns()); w.what != wait_for::kind::done; w = resume_open(c, now_ns()))
    wait_blocking(w);
  return c;
}

void database::query_blocking(connection& c, const query& q, result& r) {
  for (auto w = start_query(c, q, r, now_ns()); w.what != wait_for::kind::done; w = resume_query(c, r, now_ns()))
    wait_blocking(w);
}

}  // namespace perflab::db
