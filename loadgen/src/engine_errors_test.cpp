#include "engine_internal.hpp"

#include <cerrno>

#include <gtest/gtest.h>

namespace perflab::loadgen::detail {
namespace {

// Which side a failure is charged to decides whether a run reads "the target failed" or "the
// loadgen ran out of something" (issue 11, item 10).
TEST(ErrorClasses, ConnectFailuresOnTheLoadgensOwnLimitsAreClientResources) {
  struct row {
    int errno_value;
    err expected;
  };
  const row rows[] = {
      {ECONNREFUSED, err::connect_refused}, {ETIMEDOUT, err::connect_timeout},
      {EADDRNOTAVAIL, err::client_resources}, {EAGAIN, err::client_resources},
      {EMFILE, err::client_resources},      {ENFILE, err::client_resources},
      {ENOBUFS, err::client_resources},     {ENOMEM, err::client_resources},
      {ENETUNREACH, err::connect_other},    {EHOSTUNREACH, err::connect_other},
  };
  for (const auto& r : rows) EXPECT_EQ(connect_error_class(r.errno_value), r.expected) << r.errno_value;
}

TEST(ErrorClasses, OnlyResetsAreResets) {
  EXPECT_EQ(io_error_class(ECONNRESET), err::reset);
  EXPECT_EQ(io_error_class(EPIPE), err::reset);
  EXPECT_EQ(io_error_class(ENOBUFS), err::client_resources);
  EXPECT_EQ(io_error_class(ETIMEDOUT), err::io_other);
  EXPECT_EQ(io_error_class(EHOSTUNREACH), err::io_other);
}

TEST(ErrorClasses, EveryClassHasItsOwnCounter) {
  result::error_counts e;
  for (err c : {err::connect_refused, err::connect_timeout, err::connect_other, err::reset, err::read_timeout,
                err::closed_mid_response, err::malformed, err::unsolicited, err::io_other, err::client_resources,
                err::tls})
    count_error(e, c);
  int counted_once = 0;  // every transport class once; the status classes untouched
  result::for_each_error_class(e, [&](const char*, std::int64_t n) { counted_once += n == 1; });
  EXPECT_EQ(counted_once, 11);
  EXPECT_EQ(e.status_4xx + e.status_5xx, 0);
  EXPECT_EQ(e.transport(), 11);
}

}  // namespace
}  // namespace perflab::loadgen::detail
