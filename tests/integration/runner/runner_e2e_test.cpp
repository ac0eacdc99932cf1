// `loadgen run` end to end: the real program spawning the real lab-target on 127.0.0.1 port 0.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/exit_codes.hpp"
#include "perflab/core/hdr_log.hpp"
#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using perflab::testing::quote;
using perflab::testing::Runner;
using perflab::testing::slurp;

const char* k_two_variants = R"(name = "e2e"
description = "two variants of two seconds"
[target]
model = "reactor"
[load]
model = "open"
rate = "200/s"
warmup = "500ms"
duration = "2s"
send_lag_bound = "250ms"
[[request]]
path = "/hello"
[matrix]
"target.model" = ["reactor", "coroutine"]
)";

TEST_F(Runner, TwoVariantsWriteValidRunJsonLogsCsvAndReport) {
  fs::path scenario = write("e2e.toml", k_two_variants);
  auto r = loadgen_run(scenario, "--set load.rate=250/s");
  ASSERT_EQ(r.code, perflab::exit_code::ok) << r.out << r.err;
  fs::path dir = run_dir();
  EXPECT_NE(dir.filename().string().find("-e2e"), std::string::npos) << dir;

  auto run = perflab::result::read_run_json(dir / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  EXPECT_TRUE(run->complete);
  EXPECT_EQ(run->scenario_name, "e2e");
  EXPECT_EQ(run->scenario_text, k_two_variants);
  EXPECT_EQ(run->overrides, std::vector<std::string>{"load.rate=250/s"});
  ASSERT_EQ(run->variants.size(), 2u);
  const std::vector<std::string> names = {"model=reactor", "model=coroutine"};
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& v = run->variants[i];
    SCOPED_TRACE(v.name);
    EXPECT_EQ(v.name, names[i]);
    EXPECT_TRUE(v.complete) << v.incomplete_reason;
    EXPECT_EQ(v.load.kind, "open");
    EXPECT_DOUBLE_EQ(v.load.rate, 250) << "--set applied";
    EXPECT_GT(v.completed, 250);  // 2 s at 250/s is 500
    EXPECT_EQ(v.errors.total(), 0);
    EXPECT_TRUE(v.target.spawned);
    EXPECT_FALSE(v.target.crashed);
    EXPECT_EQ(v.target.exit_status, "exit 0");
    EXPECT_EQ(v.target.model, i == 0 ? "reactor" : "coroutine");
    EXPECT_GE(v.target.threads, 1);
    EXPECT_GT(v.target.peak_rss_bytes, 0);
    EXPECT_NE(v.target.url.find("http://127.0.0.1:"), std::string::npos);
    if (std::thread::hardware_concurrency() >= 2) {
      EXPECT_FALSE(v.target.cpus.empty()) << "default pinning";
      EXPECT_FALSE(v.load.cpus.empty()) << "default pinning";
    }

    // Interval log: readable, tagged, holding the measured responses.
    ASSERT_FALSE(v.interval_log.empty());
    std::ifstream hlog(dir / v.interval_log);
    auto log = perflab::hdr::read_log(hlog);
    ASSERT_TRUE(log.has_value()) << log.error().message;
    std::set<std::string> tags;
    std::int64_t ttlb = 0;
    for (const auto& iv : log->intervals) {
      if (iv.tag) tags.insert(*iv.tag);
      if (iv.tag == std::optional<std::string>("ttlb")) ttlb += iv.hist.total_count();
    }
    for (const char* t : {"ttfb", "ttlb", "send_lag"}) EXPECT_TRUE(tags.count(t)) << t;
    EXPECT_EQ(ttlb, v.ttlb.count);

    // Per-second CSV: the agreed header and one row per second.
    ASSERT_FALSE(v.series_csv.empty());
    std::ifstream csv(dir / v.series_csv);
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header,
              "t_s,length_s,phase,sent,completed,succeeded,errors,ttlb_p50_us,ttlb_p99_us,target_rate,in_flight,"
              "retries,stalled,cache_hit,cache_miss,cache_stale,cache_other,cache_hit_ratio,bytes_in,bytes_out,"
              "status_2xx,status_3xx,status_4xx,status_5xx,conn_errors,attempts,client_retries,top_statuses");
    int rows = 0;
    for (std::string l; std::getline(csv, l);) rows += !l.empty();
    EXPECT_GE(rows, 2);
  }

  // Schema check with a validator we did not write.
  std::string schema = std::string(PERFLAB_SOURCE_ROOT) + "/docs/result.schema.json";
  auto v = sh("/usr/bin/python3 -c 'import json,sys,jsonschema; "
              "jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' " +
              quote((dir / "run.json").string()) + " " + quote(schema));
  EXPECT_EQ(v.code, 0) << v.err;

  // Report files and what the user is told.
  EXPECT_GT(fs::file_size(dir / "report.md"), 0u);
  EXPECT_GT(fs::file_size(dir / "report.html"), 0u);
  EXPECT_NE(slurp(dir / "report.md").find("model=coroutine"), std::string::npos);
  EXPECT_NE(r.out.find("report: " + (dir / "report.html").string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model=coroutine"), std::string::npos) << "comparison table printed";
}

TEST_F(Runner, ShippedCiSmokePassesItsThresholds) {
  auto r = loadgen_run(fs::path(PERFLAB_SOURCE_ROOT) / "scenarios" / "ci-smoke.toml");
  ASSERT_EQ(r.code, perflab::exit_code::ok) << r.out << r.err;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  EXPECT_TRUE(run->complete);
  ASSERT_GE(run->variants.size(), 1u);
  for (const auto& v : run->variants) {
    ASSERT_FALSE(v.thresholds.empty()) << v.name;
    for (const auto& t : v.thresholds) EXPECT_TRUE(t.passed) << v.name << ": " << t.expression << " actual " << t.actual;
    EXPECT_FALSE(v.interval_log.empty());
    EXPECT_TRUE(fs::exists(run_dir() / v.interval_log));
    EXPECT_TRUE(fs::exists(run_dir() / v.series_csv));
  }
  EXPECT_TRUE(fs::exists(run_dir() / "report.html"));
  EXPECT_GT(fs::file_size(run_dir() / "report.md"), 0u);
  // What CI relies on: the run.json it archives validates against the published schema.
  std::string schema = std::string(PERFLAB_SOURCE_ROOT) + "/docs/result.schema.json";
  auto valid = sh("/usr/bin/python3 -c 'import json,sys,jsonschema; "
                  "jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' " +
                  quote((run_dir() / "run.json").string()) + " " + quote(schema));
  EXPECT_EQ(valid.code, 0) << valid.err;
}

TEST_F(Runner, FailingThresholdExitsThree) {
  fs::path scenario = write("th.toml", std::string("thresholds = [\"ttlb.p50 < 1ns\"]\n") + k_two_variants);
  auto r = loadgen_run(scenario, "--set 'matrix.target.model=[\"reactor\"]' --set load.duration=1s");
  EXPECT_EQ(r.code, perflab::exit_code::thresholds_failed) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL ttlb.p50 < 1ns"), std::string::npos) << r.out;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value());
  ASSERT_EQ(run->variants.size(), 1u);
  ASSERT_EQ(run->variants[0].thresholds.size(), 1u);
  EXPECT_FALSE(run->variants[0].thresholds[0].passed);
}

// Issue 10, case 1: a thread pool whose workers keep their keep-alive connections starves the
// clients beyond its worker count. Their requests, sent in the warm-up, get no answer in the
// whole measured phase; the old runner said status ok, 0 errors, exit 0.
TEST_F(Runner, StarvedClientsMakeTheRowStalledAndExitSeven) {
  fs::path scenario = write("stall.toml", R"(name = "stall"
[target]
model = "thread-pool"
threads = 2
[load]
model = "closed"
connections = 6
warmup = "500ms"
duration = "1s"
[[request]]
path = "/sleep?ms=20"
)");
  auto r = loadgen_run(scenario);
  EXPECT_EQ(r.code, perflab::exit_code::target_failing) << r.out << r.err;
  EXPECT_NE(r.out.find("STALLED"), std::string::npos) << r.out;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 1u);
  const auto& v = run->variants[0];
  EXPECT_EQ(v.stalled, 4);
  EXPECT_GE(v.carried_in, 4);
  // Little's law on what was served: 2 workers x 20 ms is at most 100 responses/s.
  EXPECT_LE(v.tps_mean, 105);
  EXPECT_GE(v.ttlb.max_us, 1'000'000);  // the starved requests waited through the whole phase
}

// Issue 11, item 9: the target's CPU is what it spent over the measured phase, not the warm-up
// and the drain too. One worker burning 20 ms per request cannot use more than one CPU second
// per second; the old runner showed 122 % and more.
TEST_F(Runner, TargetCpuIsSampledAtTheMeasuredPhasesBoundaries) {
  fs::path scenario = write("cpu.toml", R"(name = "cpu"
[target]
model = "thread-pool"
threads = 1
[load]
model = "closed"
connections = 1
warmup = "1s"
duration = "1s"
[[request]]
path = "/cpu?us=20000"
)");
  auto r = loadgen_run(scenario);
  ASSERT_EQ(r.code, perflab::exit_code::ok) << r.out << r.err;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 1u);
  const auto& v = run->variants[0];
  const double cpu = v.target.cpu_user_s + v.target.cpu_system_s;
  EXPECT_LE(cpu, 1.1 * v.measured_s) << "one worker, at most one CPU";
  EXPECT_GE(cpu, 0.3 * v.measured_s) << "it was busy through the phase";
}

// A pool of one with 50 ms queries serves 20 requests/s (Little's law); at 40 arrivals/s the rest
// queue for up to the 1 s acquire timeout. The runner reads the pool's queue from /metrics each
// second: the waiters and the acquire wait are the queue's, bounded by rate x timeout.
TEST_F(Runner, DatabasePoolWaitersAreSampledAndBoundedByTheAcquireTimeout) {
  fs::path scenario = write("pool.toml", R"(name = "pool"
[target]
model = "reactor"
threads = 1
db = "sim"
db-latency = "fixed:50ms"
pool-size = 1
pool-acquire-timeout = "1s"
[load]
model = "open"
rate = 40
connections = 100
send_lag_bound = "250ms"
warmup = "250ms"
duration = "2500ms"
drain_timeout = "3s"
max_error_rate = "100%"
[[request]]
path = "/db/query"
)");
  auto r = loadgen_run(scenario);
  ASSERT_EQ(r.code, perflab::exit_code::ok) << r.out << r.err;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  const auto& v = run->variants.at(0);
  EXPECT_LE(v.tps_mean, 21.0) << "one connection, 50 ms queries: at most 20/s";
  EXPECT_GE(v.tps_mean, 12.0);
  std::map<std::string, std::vector<std::pair<double, double>>> got;
  for (const auto& m : v.target_metrics)
    if (m.target.empty()) got[m.metric] = m.points;
  ASSERT_FALSE(got["pool_waiting"].empty()) << "a scrape a second of the 2.5 s phase";
  ASSERT_FALSE(got["pool_waiting_peak"].empty());
  const double peak = got["pool_waiting_peak"].back().second;
  EXPECT_GE(peak, 8.0) << "20 arrivals/s beyond the pool's 20/s queue up";
  EXPECT_LE(peak, 45.0) << "nobody waits past 1 s: at most rate x timeout (+ a late timer's few)";
  ASSERT_FALSE(got["pool_acquire_wait_ms"].empty());
  for (const auto& [t, ms] : got["pool_acquire_wait_ms"]) {
    EXPECT_GT(ms, 50.0) << "at " << t << " s: served acquisitions had queued";
    EXPECT_LT(ms, 1100.0) << "at " << t << " s: an acquisition waits at most the timeout";
  }
  EXPECT_NE(slurp(run_dir() / "report.md").find("## Database pool"), std::string::npos);
}

// The same target under the same load costs the same memory, whichever variant of the run it
// is. The old runner took the larger of VmHWM and wait4's ru_maxrss, which includes the forked
// child's pre-exec image (the loadgen's own RSS, growing over a run): 4.7, 4.7, then 11 MiB.
TEST_F(Runner, PeakRssIsTheTargetsOwnNotTheLoadgensAtFork) {
  fs::path scenario = write("rss.toml", R"(name = "rss"
[target]
model = "reactor"
[load]
model = "open"
rate = "200/s"
duration = "1s"
[[request]]
path = "/hello"
[matrix]
"load.rate" = ["200/s", "201/s", "202/s", "203/s"]
)");
  auto r = loadgen_run(scenario);
  ASSERT_TRUE(r.code == perflab::exit_code::ok || r.code == perflab::exit_code::saturated) << r.out << r.err;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 4u);
  const double first = static_cast<double>(run->variants[0].target.peak_rss_bytes);
  ASSERT_GT(first, 0);
  for (const auto& v : run->variants)
    EXPECT_LT(static_cast<double>(v.target.peak_rss_bytes), 1.3 * first) << v.name;
}

TEST_F(Runner, TypoExitsTwoNamingFileLineColumnAndRunsNothing) {
  fs::path scenario = write("typo.toml", "name = \"typo\"\n[target]\nmodel = \"reactor\"\n[load]\nrate = 100\n"
                                         "duration = \"1s\"\nconections = 10\n");
  auto r = loadgen_run(scenario);
  EXPECT_EQ(r.code, perflab::exit_code::usage);
  EXPECT_NE(r.err.find(scenario.string() + ":7:1: unknown key 'load.conections'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "results")) << "nothing may run on a typo";

  // A bad value in the second variant of a matrix also stops everything before the first runs.
  fs::path m = write("m.toml", std::string(k_two_variants) + "\"load.duration\" = [\"1s\", \"2 fortnights\"]\n");
  auto r2 = loadgen_run(m);
  EXPECT_EQ(r2.code, perflab::exit_code::usage);
  EXPECT_NE(r2.err.find(m.string() + ":15:"), std::string::npos) << r2.err;
  EXPECT_FALSE(fs::exists(dir_ / "results"));

  // --set values are checked the same way, and unknown target options by asking lab-target.
  auto r3 = loadgen_run(fs::path(PERFLAB_SOURCE_ROOT) / "scenarios" / "ci-smoke.toml", "--set load.duration=10");
  EXPECT_EQ(r3.code, perflab::exit_code::usage);
  EXPECT_NE(r3.err.find("--set load.duration=10"), std::string::npos) << r3.err;
  fs::path opt = write("opt.toml", "name = \"opt\"\n[target]\nmodel = \"reactor\"\nmax-conections = 5\n");
  auto r4 = loadgen_run(opt);
  EXPECT_EQ(r4.code, perflab::exit_code::usage);
  EXPECT_NE(r4.err.find(opt.string() + ":4:1: unknown target option 'max-conections'"), std::string::npos) << r4.err;
}

TEST_F(Runner, TargetDyingMidRunIsRecordedAndTheRunContinues) {
  // Wraps the real lab-target and kills it with SIGKILL two seconds after start (time enough to
  // measure something on a busy host, well before the 4 s run ends).
  fs::path fake = write("dying-target.sh",
                        std::string("#!/bin/sh\n( sleep 2; kill -9 $$ ) >/dev/null 2>&1 &\nexec ") +
                            PERFLAB_LAB_TARGET_BIN + " \"$@\"\n",
                        true);
  fs::path scenario = write("crash.toml", "name = \"crash\"\nrepeats = 2\n[target]\nmodel = \"reactor\"\n"
                                          "[load]\nrate = 200\nduration = \"4s\"\nsend_lag_bound = \"1s\"\n");
  auto r = sh(std::string(PERFLAB_LOADGEN_BIN) + " run " + quote(scenario.string()) + " --output " +
              quote((dir_ / "results").string()) + " --target-bin " + quote(fake.string()));
  EXPECT_EQ(r.code, perflab::exit_code::runtime_error) << r.out << r.err;
  EXPECT_NE(r.err.find("target died during the run: signal 9"), std::string::npos) << r.err;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  EXPECT_FALSE(run->complete);
  ASSERT_EQ(run->variants.size(), 2u) << "the run goes on after a crash";
  for (const auto& v : run->variants) {
    EXPECT_TRUE(v.target.crashed);
    EXPECT_NE(v.target.exit_status.find("signal 9"), std::string::npos) << v.target.exit_status;
    EXPECT_FALSE(v.complete);
    EXPECT_NE(v.incomplete_reason.find("target died"), std::string::npos);
    EXPECT_GT(v.completed, 0) << "what was measured before the crash is kept";
    EXPECT_LT(v.measured_s, 3.5) << "the load stops when the target dies";
  }
}

TEST_F(Runner, TargetFailingToStartIsReportedWithItsLog) {
  fs::path fake = write("bad-target.sh", "#!/bin/sh\necho 'lab-target: cannot bind, no luck' >&2\nexit 2\n", true);
  fs::path scenario = write("nostart.toml", "name = \"nostart\"\n[target]\nmodel = \"reactor\"\n[load]\nduration = \"1s\"\n");
  auto r = sh(std::string(PERFLAB_LOADGEN_BIN) + " run " + quote(scenario.string()) + " --output " +
              quote((dir_ / "results").string()) + " --target-bin " + quote(fake.string()));
  EXPECT_EQ(r.code, perflab::exit_code::runtime_error) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot bind, no luck"), std::string::npos) << r.err;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 1u);
  EXPECT_TRUE(run->variants[0].target.crashed);
  EXPECT_EQ(run->variants[0].target.exit_status, "exit 2");
  EXPECT_NE(run->variants[0].incomplete_reason.find("failed to start"), std::string::npos);
}

TEST_F(Runner, InterruptStopsAfterTheCurrentVariantAndExitsSix) {
  fs::path scenario = write("int.toml", std::string(k_two_variants) + "\"load.duration\" = [\"4s\"]\n");
  std::string cmd = std::string(PERFLAB_LOADGEN_BIN) + " run " + quote(scenario.string()) + " --output " +
                    quote((dir_ / "results").string()) + " --target-bin " + PERFLAB_LAB_TARGET_BIN;
  auto r = sh("sh -c " + quote(cmd + " & pid=$!; sleep 2; kill -INT $pid; wait $pid"));
  EXPECT_EQ(r.code, perflab::exit_code::interrupted) << r.out << r.err;
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  EXPECT_FALSE(run->complete);
  ASSERT_EQ(run->variants.size(), 1u) << "no variant starts after Ctrl-C";
  EXPECT_FALSE(run->variants[0].complete);
  EXPECT_FALSE(run->variants[0].target.crashed) << "the target was stopped by us, not crashed";
  EXPECT_EQ(run->variants[0].target.exit_status, "exit 0");
  EXPECT_GT(run->variants[0].completed, 0);
}

TEST_F(Runner, InterruptDuringALongWarmupStopsAtOnce) {
  std::string text = k_two_variants;
  text.replace(text.find("warmup = \"500ms\""), 16, "warmup = \"30s\"");
  fs::path scenario = write("warm.toml", text + "\"load.duration\" = [\"5s\"]\n");
  std::string cmd = std::string(PERFLAB_LOADGEN_BIN) + " run " + quote(scenario.string()) + " --output " +
                    quote((dir_ / "results").string()) + " --target-bin " + PERFLAB_LAB_TARGET_BIN;
  // The shell reports how long the loadgen took to exit after the signal, in milliseconds.
  auto r = sh("sh -c " + quote(cmd + " & pid=$!; sleep 2; t0=$(date +%s%N); kill -INT $pid; wait $pid; rc=$?; "
                                     "echo took_ms=$(( ($(date +%s%N) - t0) / 1000000 )) >&2; exit $rc"));
  EXPECT_EQ(r.code, perflab::exit_code::interrupted) << r.out << r.err;
  const auto at = r.err.find("took_ms=");
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_LT(std::stoi(r.err.substr(at + 8)), 2000) << "the warm-up (30 s) was waited out";
  auto run = perflab::result::read_run_json(run_dir());
  ASSERT_TRUE(run.has_value()) << run.error();
  EXPECT_FALSE(run->complete);
  ASSERT_EQ(run->variants.size(), 1u);
  EXPECT_FALSE(run->variants[0].complete);
  EXPECT_EQ(run->variants[0].completed, 0);
}

}  // namespace
