// The C++ half of the HdrHistogram interop test (tests/interop/interop.js drives it):
//   interop_tool write <dir>              writes <dir>/perflab.hlog with our log writer and prints, as
//                                         JSON, what a correct decoder must find in it
//   interop_tool check <json> <hlog>      decodes blobs and a log written by hdr-histogram-js and
//                                         compares them with the statistics that library computed
// Exit status: 0 when everything matches, 1 on any mismatch (each printed on stderr), 2 on usage.
#include <cstdint>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "perflab/core/hdr_log.hpp"

namespace {

using perflab::histogram;
using nlohmann::json;

constexpr double percentiles[] = {50.0, 90.0, 99.0, 99.9, 100.0};

json describe(const histogram& h) {
  json j;
  j["total_count"] = h.total_count();
  j["min"] = h.min();
  j["max"] = h.max();
  j["mean"] = h.mean();
  json p = json::object();
  for (double q : percentiles) p[std::to_string(q)] = h.value_at_percentile(q);
  j["percentiles"] = p;
  return j;
}

histogram lognormal(std::int64_t lowest, int digits, std::size_t n, double mu, std::uint32_t seed) {
  histogram h(lowest, 3'600'000'000'000, digits);
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> d(mu, 1.5);
  for (std::size_t i = 0; i < n; ++i) h.record(static_cast<std::int64_t>(d(rng)));
  return h;
}

int write(const std::string& dir) {
  struct spec {
    const char* tag;
    double start_s, length_s;
    histogram h;
  };
  histogram big_counts(1, 3'600'000'000'000, 3);
  big_counts.record(1'500'000, std::int64_t{3} << 33);  // counts past 2^32 (9-byte-safe varints)
  big_counts.record(7, 5);
  spec specs[] = {
      {"", 0.0, 1.0, lognormal(1, 3, 20'000, 12.0, 1)},
      {"ttfb", 1.0, 1.0, lognormal(1, 3, 5'000, 13.0, 2)},
      {"ttlb", 2.0, 0.5, lognormal(1000, 2, 1'000, 14.0, 3)},
      {"ttlb", 2.5, 0.5, big_counts},
      {"send_lag", 3.0, 1.0, histogram(1, 3'600'000'000'000, 3)},
  };
  std::ofstream out(dir + "/perflab.hlog");
  perflab::hdr::log_writer w(out, 1700000000.125, 1e6, "Logged with perflab interop_tool");
  json expected;
  expected["start_time_s"] = 1700000000.125;
  expected["intervals"] = json::array();
  for (const auto& s : specs) {
    w.write(s.tag[0] ? std::optional<std::string_view>(s.tag) : std::nullopt, s.start_s, s.length_s, s.h);
    json j = describe(s.h);
    j["tag"] = s.tag;
    j["start_s"] = s.start_s;
    j["length_s"] = s.length_s;
    expected["intervals"].push_back(j);
  }
  out.close();
  if (!out) {
    std::cerr << "interop_tool: cannot write " << dir << "/perflab.hlog\n";
    return 1;
  }
  std::cout << expected.dump(1) << "\n";
  return 0;
}

int mismatches = 0;

template <typename A, typename B>
void expect_eq(const std::string& what, const A& got, const B& want) {
  if (got == want) return;
  ++mismatches;
  std::cerr << "MISMATCH " << what << ": perflab " << got << ", hdr-histogram-js " << want << "\n";
}

void compare(const std::string& name, const histogram& h, const json& want) {
  expect_eq(name + " total_count", h.total_count(), want.at("total_count").get<std::int64_t>());
  expect_eq(name + " max", h.max(), want.at("max").get<std::int64_t>());
  if (!h.empty()) expect_eq(name + " min", h.min(), want.at("min").get<std::int64_t>());
  for (const auto& [p, v] : want.at("percentiles").items())
    expect_eq(name + " p" + p, h.value_at_percentile(std::stod(p)), v.get<std::int64_t>());
  const double mean = want.at("mean").get<double>();
  if (std::abs(h.mean() - mean) > 1e-9 * std::max(1.0, std::abs(mean))) expect_eq(name + " mean", h.mean(), mean);
  for (const auto& [value, count] : want.at("counts").get<std::vector<std::pair<std::int64_t, std::int64_t>>>())
    expect_eq(name + " count at " + std::to_string(value), h.count_between(value, value), count);
}

int check(const std::string& json_file, const std::string& log_file) {
  std::ifstream jin(json_file);
  const json cases = json::parse(jin);
  for (const auto& c : cases.at("blobs")) {
    const std::string name = c.at("name").get<std::string>();
    auto h = perflab::hdr::decode_compressed(c.at("blob").get<std::string>());
    if (!h) {
      ++mismatches;
      std::cerr << "MISMATCH " << name << ": our decoder rejected the blob: " << h.error().message << "\n";
      continue;
    }
    expect_eq(name + " digits", h->significant_digits(), c.at("digits").get<int>());
    expect_eq(name + " lowest", h->lowest_discernible(), c.at("lowest").get<std::int64_t>());
    compare(name, *h, c);
  }
  std::ifstream lin(log_file);
  auto log = perflab::hdr::read_log(lin);
  if (!log) {
    std::cerr << "MISMATCH " << log_file << ": line " << log.error().line << ": " << log.error().message << "\n";
    return 1;
  }
  const auto& want = cases.at("log");
  expect_eq("log intervals", log->intervals.size(), want.size());
  for (std::size_t i = 0; i < std::min(log->intervals.size(), want.size()); ++i) {
    const auto& iv = log->intervals[i];
    const std::string name = "log interval " + std::to_string(i);
    expect_eq(name + " tag", iv.tag.value_or(""), want[i].at("tag").get<std::string>());
    expect_eq(name + " length_s", iv.length_s, want[i].at("length_s").get<double>());
    compare(name, iv.hist, want[i]);
  }
  std::cout << "interop_tool: checked " << cases.at("blobs").size() << " blobs and " << log->intervals.size()
            << " log intervals from hdr-histogram-js, " << mismatches << " mismatches\n";
  return mismatches == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "write" && argc == 3) return write(argv[2]);
    if (cmd == "check" && argc == 4) return check(argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::cerr << "interop_tool: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: interop_tool write <dir> | interop_tool check <cases.json> <log.hlog>\n";
  return 2;
}
