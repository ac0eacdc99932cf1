// Bytes on the wire end to end: `loadgen attack --compressed` against a real lab-target that
// gzips, and the loadgen's byte counts (run.json bytes_in / bytes_out, the per-second series, the
// CSV) checked against what the server says it wrote and read (/metrics:
// perflab_target_bytes_written_total, perflab_target_bytes_read_total). Counting, not speed: the
// two sides must agree to the byte. And --verify: the same bodies decoded with each library's own
// decoder and checked against their length, a wrong length counted as an error.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using perflab::testing::quote;
using perflab::testing::Runner;
using perflab::testing::slurp;

// The value of an unlabelled sample in Prometheus text; -1 when missing.
double sample(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

class WireBytes : public Runner, public ::testing::WithParamInterface<std::string> {};

TEST_P(WireBytes, LoadgenByteCountsEqualWhatTheServerWroteAndRead) {
  const fs::path out = dir_ / "out";
  // The target prints its port; the attack has no warm-up, so every byte either side counts
  // belongs to the 300 measured requests (the /metrics scrape comes after, and a scrape's own
  // bytes are written after its body is built).
  const std::string script = "set -e\n"
                             "t=" + quote(PERFLAB_LAB_TARGET_BIN) + "\n"
                             "$t --model " + GetParam() + " --threads 2 --listen 127.0.0.1:0 --gzip-level 6 --zstd-level 3 > " +
                             quote((dir_ / "target.out").string()) + " & pid=$!\n"
                             "for i in $(seq 100); do grep -q listening " + quote((dir_ / "target.out").string()) +
                             " && break; sleep 0.05; done\n"
                             "port=$(sed -n 's/.*:\\([0-9]*\\)$/\\1/p' " + quote((dir_ / "target.out").string()) + ")\n"
                             + quote(PERFLAB_LOADGEN_BIN) + " attack \"http://127.0.0.1:$port/bytes/20000?kind=json&seed=3\" "
                             "-n 300 -c 4 -t 1 --compressed -o " + quote(out.string()) + " > /dev/null || rc=$?\n"
                             // A scrape of known size (53 bytes), so the server's read count can be checked too.
                             "exec 3<>/dev/tcp/127.0.0.1/$port\n"
                             "printf 'GET /metrics HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n' >&3\n"
                             "cat <&3 > " + quote((dir_ / "metrics.txt").string()) + "\n"
                             // --verify: every body decodes to 20,000 bytes; then a wrong expected length fails all.
                             + quote(PERFLAB_LOADGEN_BIN) + " attack \"http://127.0.0.1:$port/bytes/20000?kind=json&seed=3\" "
                             "-n 100 -c 2 -t 1 --compressed --verify --verify-length 20000 -o " + quote((dir_ / "ok").string()) +
                             " > /dev/null || echo \"ok exit $?\" >> " + quote((dir_ / "codes").string()) + "\n"
                             + quote(PERFLAB_LOADGEN_BIN) + " attack \"http://127.0.0.1:$port/bytes/20000?kind=json&seed=3\" "
                             "-n 50 -c 2 -t 1 --compressed --verify --verify-length 19999 -o " + quote((dir_ / "bad").string()) +
                             " > /dev/null || echo \"bad exit $?\" >> " + quote((dir_ / "codes").string()) + "\n"
                             "kill $pid; wait $pid || true\n"
                             "exit ${rc:-0}\n";
  const auto r = sh("bash " + quote(write("wire.sh", script).string()));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto run = perflab::result::read_run_json(out / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 1u);
  const auto& v = run->variants[0];
  EXPECT_EQ(v.completed, 300);
  EXPECT_EQ(v.errors.total(), 0);
  const std::string metrics = slurp(dir_ / "metrics.txt");
  EXPECT_EQ(static_cast<double>(v.bytes_in), sample(metrics, "perflab_target_bytes_written_total")) << metrics.substr(0, 300);
  constexpr double scrape_request = 53;  // "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
  EXPECT_EQ(static_cast<double>(v.bytes_out) + scrape_request, sample(metrics, "perflab_target_bytes_read_total"));
  // zstd (the server's preference over gzip on a tie) went out, so what crossed the wire per
  // response is the encoded body plus a head: far below the 20,000 plain bytes.
  const std::string zstd_out = "perflab_encode_bytes_out_total{coding=\"zstd\"} ";
  const auto encoded_out = metrics.find(zstd_out);
  ASSERT_NE(encoded_out, std::string::npos);
  const double body_bytes = std::stod(metrics.substr(encoded_out + zstd_out.size()));
  EXPECT_GT(static_cast<double>(v.bytes_in), body_bytes);
  EXPECT_LT(static_cast<double>(v.bytes_in), body_bytes + 300 * 400.0);  // heads are a few hundred bytes
  EXPECT_LT(v.bytes_per_response, 20000.0 / 3);
  EXPECT_DOUBLE_EQ(v.bytes_per_response, static_cast<double>(v.bytes_in) / 300.0);
  EXPECT_NEAR(v.mb_in_per_s, static_cast<double>(v.bytes_in) / v.measured_s / 1e6, 1e-9);
  // The per-second series adds up to the totals.
  std::int64_t in = 0, sent = 0;
  for (const auto& p : v.series) {
    in += p.bytes_in;
    sent += p.bytes_out;
  }
  EXPECT_EQ(in, v.bytes_in);
  EXPECT_EQ(sent, v.bytes_out);
  EXPECT_NE(slurp(out / v.series_csv).find(",bytes_in,bytes_out,status_2xx,"), std::string::npos);
  // --verify: 100 bodies decoded and 20,000 bytes long; a wrong length fails every one (exit 7).
  EXPECT_EQ(slurp(dir_ / "codes"), "bad exit 7\n");
  auto ok = perflab::result::read_run_json(dir_ / "ok" / "run.json");
  auto bad = perflab::result::read_run_json(dir_ / "bad" / "run.json");
  ASSERT_TRUE(ok.has_value() && bad.has_value());
  EXPECT_EQ(ok->variants[0].succeeded, 100);
  EXPECT_EQ(ok->variants[0].errors.verify_failed, 0);
  EXPECT_EQ(bad->variants[0].errors.verify_failed, 50);
  EXPECT_EQ(bad->variants[0].succeeded, 0);
  EXPECT_EQ(v.errors.verify_failed, 0);  // without --verify nothing is checked
  const auto valid = validate_schema(out);
  EXPECT_EQ(valid.code, 0) << valid.out << valid.err;
}

INSTANTIATE_TEST_SUITE_P(Models, WireBytes, ::testing::Values("reactor", "thread-pool"),
                         [](const auto& p) { return p.param == "reactor" ? std::string("reactor") : std::string("threadpool"); });

}  // namespace
