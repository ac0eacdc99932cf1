// gRPC end to end (issue 23): `loadgen run` spawns lab-target with --grpc-port=any and drives
// Orders.Get through the curl engine (h2c); every call's grpc-status is counted in run.json. And
// lab-target's gRPC server answers malformed frames sent with curl with a gRPC error status, then
// goes on serving.
#include <nlohmann/json.hpp>

#include "runner_fixture.hpp"

namespace perflab::testing {
namespace {

class GrpcRun : public Runner {
 protected:
  fs::path scenario(const std::string& id_value, const std::string& extra_load = "") {
    return write("grpc.toml", R"(name = "grpc"
[target]
model = "reactor"
threads = 1
[load]
model = "closed"
connections = 4
max_requests = 200
duration = "20s"
)" + extra_load + R"(
[keys]
count = 1000
[[request]]
grpc = "/perflab.api.Orders/Get"
grpc_fields = { 1 = ")" + id_value + R"(" }
)");
  }
  nlohmann::json variant() {
    const auto run = nlohmann::json::parse(slurp(run_dir() / "run.json"));
    return run.at("variants").at(0);
  }
};

// 200 calls, each 200 OK with grpc-status 0: no error of any class, recorded as gRPC over HTTP/2.
TEST_F(GrpcRun, ClosedLoopCallsAllAnswerOk) {
  const auto r = loadgen_run(scenario("{key}"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto v = variant();
  EXPECT_EQ(v.at("sent"), 200);
  EXPECT_EQ(v.at("completed"), 200);
  EXPECT_EQ(v.at("succeeded"), 200);
  EXPECT_EQ(v.at("statuses").at("200"), 200);
  EXPECT_EQ(v.at("grpc_statuses"), nlohmann::json({{"0", 200}}));
  EXPECT_EQ(v.at("errors").at("grpc_status"), 0);
  EXPECT_EQ(v.at("errors").at("grpc_missing"), 0);
  EXPECT_EQ(v.at("error_rate"), 0.0);
  EXPECT_EQ(v.at("load").at("grpc"), "/perflab.api.Orders/Get");
  EXPECT_EQ(v.at("load").at("engine"), "curl");
  EXPECT_EQ(v.at("load").at("http"), "2");
  // Every answer carries an order: more than the 5-byte prefix per response.
  EXPECT_GT(v.at("bytes_in").get<double>(), 200.0 * 100);
  const auto schema = validate_schema(run_dir());
  EXPECT_EQ(schema.code, 0) << schema.out << schema.err;
}

// An id past the last order: every call is NOT_FOUND (grpc-status 5), counted as errors of that code.
TEST_F(GrpcRun, OutOfRangeIdCountsNotFound) {
  const auto r = loadgen_run(scenario("1000000"));
  EXPECT_EQ(r.code, 7) << r.out << r.err;  // every call failed: the error rate is over its bound
  const auto v = variant();
  EXPECT_EQ(v.at("completed"), 200);
  EXPECT_EQ(v.at("succeeded"), 0);
  EXPECT_EQ(v.at("grpc_statuses"), nlohmann::json({{"5", 200}}));
  EXPECT_EQ(v.at("errors").at("grpc_status"), 200);
  EXPECT_EQ(v.at("errors").at("status_4xx"), 0);  // HTTP 200 carrying the gRPC error: counted once
}

TEST_F(GrpcRun, AsioEngineIsRefusedWithItsPlace) {
  const auto r = loadgen_run(scenario("{key}", "engine = \"asio\"\n"));
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("grpc.toml:10:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gRPC calls need HTTP/2"), std::string::npos) << r.err;
}

// Malformed frames sent with curl: a prefix announcing more bytes than follow, garbage after a
// valid prefix, a body shorter than a prefix. Each gets a gRPC error status (never a hang: curl's
// --max-time), and a well-formed call afterwards still gets its order.
TEST_F(Runner, GrpcMalformedFramesGetAnErrorStatus) {
  const fs::path out = dir_ / "target.out";
  const auto started = sh("(" + std::string(PERFLAB_LAB_TARGET_BIN) +
                          " --model reactor --threads 1 --listen 127.0.0.1:0 --grpc-port any > " + quote(out.string()) +
                          " 2>&1 & echo $! > " + quote((dir_ / "pid").string()) + ")");
  ASSERT_EQ(started.code, 0);
  std::string line;
  for (int i = 0; i < 100 && line.find(" grpc http://") == std::string::npos; ++i) {
    ::usleep(50'000);
    line = slurp(out);
  }
  const auto at = line.find(" grpc http://");
  ASSERT_NE(at, std::string::npos) << line;
  std::string url = line.substr(at + 6);
  url = url.substr(0, url.find('\n')) + "/perflab.api.Orders/Get";
  const auto call = [&](const std::string& printf_body) {
    return sh("printf '" + printf_body + "' > " + quote((dir_ / "body").string()) +
              " && curl -s --max-time 5 --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' "
              "--data-binary @" + quote((dir_ / "body").string()) + " -D - -o /dev/null " + quote(url));
  };
  struct frame {
    std::string printf_body;
    bool error;  // grpc++ answers it with a non-zero grpc-status every time
  };
  // The last two are answered, but not always with an error: grpc++ 1.51 reads a set compressed
  // flag without grpc-encoding as identity (grpc-status 0), and a prefix announcing 4 GiB with no
  // bytes after it got 13 in 8 of 10 calls and 0 (an empty message: order 0) in 2.
  const frame frames[] = {{"\\0\\0\\0\\0\\20\\10\\7", true},  // 16 bytes announced, 2 sent
                          {"\\0\\0\\0\\0\\3garbage!", true},       // not protobuf
                          {"\\0\\0", true},                          // shorter than a prefix
                          {"\\1\\0\\0\\0\\2\\10\\7", false},
                          {"\\377\\377\\377\\377\\377", false}};
  for (const auto& f : frames) {
    const auto r = call(f.printf_body);
    EXPECT_EQ(r.code, 0) << f.printf_body << r.err;  // an answer, not a timeout (28) or a reset
    EXPECT_NE(r.out.find("grpc-status: "), std::string::npos) << f.printf_body << r.out;
    if (f.error) {
      EXPECT_EQ(r.out.find("grpc-status: 0"), std::string::npos) << f.printf_body << "\n" << r.out;
    }
  }
  const auto ok = call("\\0\\0\\0\\0\\2\\10\\7");
  EXPECT_NE(ok.out.find("grpc-status: 0"), std::string::npos) << ok.out;
  sh("kill $(cat " + quote((dir_ / "pid").string()) + ")");
}

}  // namespace
}  // namespace perflab::testing
