#include <perflab/core/resolve.hpp>

#include <gtest/gtest.h>

namespace {

using perflab::net::is_numeric_host;
using perflab::net::numeric_host;

TEST(NumericHost, AddressesAreTheirOwnAnswer) {
  EXPECT_TRUE(is_numeric_host("127.0.0.1"));
  EXPECT_TRUE(is_numeric_host("::1"));
  EXPECT_FALSE(is_numeric_host("localhost"));
  EXPECT_FALSE(is_numeric_host(""));
  EXPECT_FALSE(is_numeric_host("127.0.0.1:80"));
  EXPECT_EQ(numeric_host("127.0.0.1").value(), "127.0.0.1");
  EXPECT_EQ(numeric_host("::1").value(), "::1");
}

TEST(NumericHost, NamesResolveOnceToAnAddressAndFailuresSayWhich) {
  const auto local = numeric_host("localhost");  // /etc/hosts: no network needed
  ASSERT_TRUE(local) << local.error();
  EXPECT_TRUE(*local == "127.0.0.1" || *local == "::1") << *local;
  const auto bad = numeric_host("no-such-host.invalid");  // RFC 6761: never resolves
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("cannot resolve 'no-such-host.invalid'"), std::string::npos) << bad.error();
}

}  // namespace
