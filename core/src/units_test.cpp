#include "perflab/core/units.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace {

namespace units = perflab::units;
using namespace std::chrono_literals;

TEST(UnitsParseDuration, AcceptsEveryUnit) {
  struct row {
    const char* text;
    std::chrono::nanoseconds want;
  };
  const row rows[] = {
      {"0", 0ns},           {"0s", 0ns},         {"1ns", 1ns},        {"250us", 250us},
      {"250µs", 250us},     {"100ms", 100ms},    {"1.5s", 1500ms},    {"2m", 2min},
      {"2min", 2min},       {"1h", 1h},          {"0.5ms", 500us},    {" 10s ", 10s},
      {"1.25us", 1250ns},   {"0.1s", 100ms},     {"2562047h", 2562047h},
  };
  for (const auto& r : rows) {
    auto d = units::parse_duration(r.text);
    ASSERT_TRUE(d) << r.text << ": " << d.error();
    EXPECT_EQ(*d, r.want) << r.text;
  }
}

TEST(UnitsParseDuration, RejectsBadTextQuotingItAndTheForms) {
  const char* bad[] = {"", "s", "10", "1.5", "-1s", "10 s", "10sec", "1.s", ".5s", "1e3ms", "10S", "abc",
                       "3000000h", "1..2s"};
  for (const char* text : bad) {
    auto d = units::parse_duration(text);
    ASSERT_FALSE(d) << text << " parsed as " << (d ? d->count() : 0);
    EXPECT_NE(d.error().find(std::string("\"") + text + "\""), std::string::npos) << d.error();
    EXPECT_NE(d.error().find("ns, us, ms, s, m or h"), std::string::npos) << d.error();
  }
}

TEST(UnitsParseSize, AcceptsDecimalAndBinaryUnits) {
  struct row {
    const char* text;
    std::uint64_t want;
  };
  const row rows[] = {
      {"0", 0},           {"512", 512},          {"512B", 512},           {"16KiB", 16384},
      {"1MB", 1000000},   {"1kB", 1000},         {"1KB", 1000},           {"1.5KiB", 1536},
      {"2MiB", 2097152},  {"1GiB", 1073741824},  {"1GB", 1000000000},     {"1TiB", 1099511627776},
      {"0.1KB", 100},     {"2TB", 2000000000000},
  };
  for (const auto& r : rows) {
    auto s = units::parse_size(r.text);
    ASSERT_TRUE(s) << r.text << ": " << s.error();
    EXPECT_EQ(*s, r.want) << r.text;
  }
}

TEST(UnitsParseSize, RejectsBadTextQuotingItAndTheForms) {
  const char* bad[] = {"", "KiB", "1.5", "1.5B", "16kib", "16XB", "-1KB", "1 KB", "1Ki", "99999999TB"};
  for (const char* text : bad) {
    auto s = units::parse_size(text);
    ASSERT_FALSE(s) << text << " parsed as " << (s ? *s : 0);
    EXPECT_NE(s.error().find(std::string("\"") + text + "\""), std::string::npos) << s.error();
    EXPECT_NE(s.error().find("KiB, MiB, GiB, TiB"), std::string::npos) << s.error();
  }
}

TEST(UnitsParseCount, AcceptsSiSuffixes) {
  struct row {
    const char* text;
    double want;
  };
  const row rows[] = {{"100", 100}, {"10k", 10000}, {"10K", 10000}, {"1.5M", 1.5e6}, {"2G", 2e9}, {"0", 0},
                      {"0.5", 0.5}};
  for (const auto& r : rows) {
    auto c = units::parse_count(r.text);
    ASSERT_TRUE(c) << r.text << ": " << c.error();
    EXPECT_DOUBLE_EQ(*c, r.want) << r.text;
  }
}

TEST(UnitsParseCount, RejectsBadTextQuotingItAndTheForms) {
  for (const char* text : {"", "k", "10x", "1.5MM", "-3", "10 k", "1m"}) {
    auto c = units::parse_count(text);
    ASSERT_FALSE(c) << text;
    EXPECT_NE(c.error().find(std::string("\"") + text + "\""), std::string::npos) << c.error();
    EXPECT_NE(c.error().find("k (thousand)"), std::string::npos) << c.error();
  }
}

TEST(UnitsParseRate, AcceptsPerSecondMinuteHour) {
  struct row {
    const char* text;
    double want;
  };
  const row rows[] = {{"5000", 5000},  {"5k/s", 5000}, {"300/m", 5},  {"300/min", 5},
                      {"3600/h", 1},   {"2/ms", 2000}, {"1.5k", 1500}, {"0.5/s", 0.5}};
  for (const auto& r : rows) {
    auto v = units::parse_rate(r.text);
    ASSERT_TRUE(v) << r.text << ": " << v.error();
    EXPECT_DOUBLE_EQ(*v, r.want) << r.text;
  }
}

TEST(UnitsParseRate, RejectsBadTextQuotingItAndTheForms) {
  for (const char* text : {"", "/s", "5k/d", "5k/", "fast", "-5/s", "5 /s", "5k/s/s"}) {
    auto v = units::parse_rate(text);
    ASSERT_FALSE(v) << text;
    EXPECT_NE(v.error().find(std::string("\"") + text + "\""), std::string::npos) << v.error();
    EXPECT_NE(v.error().find("/m (per minute)"), std::string::npos) << v.error();
  }
}

TEST(UnitsParseFraction, AcceptsPercentagesAndFractions) {
  EXPECT_DOUBLE_EQ(*units::parse_fraction("1%"), 0.01);
  EXPECT_DOUBLE_EQ(*units::parse_fraction(" 0.5 % "), 0.005);
  EXPECT_DOUBLE_EQ(*units::parse_fraction("0.01"), 0.01);
  EXPECT_DOUBLE_EQ(*units::parse_fraction("100%"), 1.0);
  EXPECT_DOUBLE_EQ(*units::parse_fraction("0"), 0.0);
  for (const char* bad : {"", "%", "101%", "1.5", "-1%", "abc", "1%%", "0.1x"}) {
    auto f = units::parse_fraction(bad);
    ASSERT_FALSE(f) << bad;
    EXPECT_NE(f.error().find("1%"), std::string::npos) << f.error();
  }
}

TEST(UnitsFormat, DurationsAreShortAndParseBack) {
  struct row {
    std::chrono::nanoseconds d;
    const char* want;
  };
  const row rows[] = {{0ns, "0s"},        {1ns, "1ns"},          {250us, "250us"},   {1500ms, "1.5s"},
                      {2min, "2m"},       {1h, "1h"},            {90s, "1.5m"},      {1234567ns, "1.23ms"},
                      {999700ns, "1ms"},  {100ms, "100ms"},      {-5ms, "-5ms"},     {12345h, "12345h"}};
  for (const auto& r : rows) {
    EXPECT_EQ(units::format_duration(r.d), r.want) << r.d.count();
    if (r.d.count() >= 0) {
      auto back = units::parse_duration(units::format_duration(r.d));
      ASSERT_TRUE(back) << r.want;
    }
  }
  EXPECT_EQ(*units::parse_duration(units::format_duration(250us)), 250us);
  EXPECT_EQ(*units::parse_duration(units::format_duration(1500ms)), 1500ms);
}

TEST(UnitsFormat, SizesUseBinaryUnits) {
  struct row {
    std::uint64_t bytes;
    const char* want;
  };
  const row rows[] = {{0, "0B"}, {512, "512B"}, {1023, "1023B"}, {16384, "16KiB"}, {1572864, "1.5MiB"},
                      {1073741824, "1GiB"}};
  for (const auto& r : rows) {
    EXPECT_EQ(units::format_size(r.bytes), r.want) << r.bytes;
    EXPECT_TRUE(units::parse_size(units::format_size(r.bytes))) << r.want;
  }
}

TEST(UnitsFormat, RatesUseSiSuffixes) {
  struct row {
    double rate;
    const char* want;
  };
  const row rows[] = {{5000, "5k/s"}, {1.25e6, "1.25M/s"}, {300, "300/s"}, {0.5, "0.5/s"}, {0, "0/s"},
                      {12345, "12.3k/s"}};
  for (const auto& r : rows) {
    EXPECT_EQ(units::format_rate(r.rate), r.want) << r.rate;
    EXPECT_TRUE(units::parse_rate(units::format_rate(r.rate))) << r.want;
  }
}

}  // namespace
