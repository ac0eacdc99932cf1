#include "perflab/loadgen/scenario.hpp"

#include <cstdlib>
#include <fstream>
#include <unistd.h>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "scenario_test_support.hpp"

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* k_base = R"(name = "t"
[target]
model = "reactor"
[load]
model = "open"
rate = "1k/s"
duration = "2s"
)";

using testing::parse;

// Every error path: the scenario text, the expected "file:line:col" and a fragment of the message.
struct error_case {
  const char* label;
  std::string text;
  std::vector<std::string> overrides;
  std::string where;
  std::string message_part;
};

TEST(ScenarioErrors, NameFileLineColumnAndWhatWasExpected) {
  const std::string t = "name = \"t\"\n[target]\nmodel = \"reactor\"\n";  // target lines 1-3
  const std::vector<error_case> cases = {
      {"toml syntax", "name = \"t\"\n[target\n", {}, "s.toml:2", "TOML syntax error"},
      {"missing name", "[target]\nmodel = \"reactor\"\n", {}, "s.toml", "missing key 'name'"},
      {"name type", "name = 3\n[target]\nmodel = \"reactor\"\n", {}, "s.toml:1:8", "name: expected a string, found integer 3"},
      {"unknown top key", "colour = 1\n" + t, {}, "s.toml:1:1", "unknown key 'colour'"},
      {"missing target", "name = \"t\"\n", {}, "s.toml", "missing [target] table"},
      {"target not table", "name = \"t\"\ntarget = 1\n", {}, "s.toml:2:10", "target: expected a table"},
      {"url and model", "name = \"t\"\n[target]\nurl = \"http://x:1\"\nmodel = \"reactor\"\n", {}, "s.toml:3:7",
       "both target.url and target.model"},
      {"neither url nor model", "name = \"t\"\n[target]\nthreads = 2\n", {}, "s.toml", "needs url"},
      {"unknown model", "name = \"t\"\n[target]\nmodel = \"fibers\"\n", {}, "s.toml:3:9",
       "unknown model \"fibers\" (expected one of: thread-per-request, thread-pool, reactor, coroutine, fiber, io-uring)"},
      {"bad url", "name = \"t\"\n[target]\nurl = \"ftp://x\"\n", {}, "s.toml:3:7", "expected an http:// or https:// URL"},
      {"url names no service", "name = \"t\"\n[target]\nurl = \"{tls}\"\n", {}, "s.toml:3:7",
       "or \"{name}\" of a [[service]], found \"{tls}\""},
      {"no pid file", "name = \"t\"\n[target]\nurl = \"https://x:1\"\npid_file = \"/no/such.pid\"\n", {}, "s.toml:4:12",
       "target.pid_file: expected a file holding the pid of a running process, found no file '/no/such.pid'"},
      {"service kind", "name = \"t\"\n[[service]]\nname = \"db\"\nkind = \"mysql\"\n[target]\nmodel = \"reactor\"\n", {},
       "s.toml:4:8", "service.kind: unknown service \"mysql\" (expected one of: postgres, redis, h2o-tls, nginx-tls)"},
      {"service key", "name = \"t\"\n[[service]]\nname = \"db\"\nkind = \"redis\"\nport = 1\n[target]\nmodel = \"reactor\"\n",
       {}, "s.toml:5:8", "service.port: unknown key"},
      {"service access log", "name = \"t\"\n[[service]]\nname = \"db\"\nkind = \"redis\"\naccess_log = true\n[target]\n"
       "model = \"reactor\"\n", {}, "s.toml:5:14", "service.access_log: applies to h2o-tls and nginx-tls"},
      {"service option ref", "name = \"t\"\n[[service]]\nname = \"pg\"\nkind = \"postgres\"\n[target]\nmodel = \"reactor\"\n"
       "db = \"{pq}\"\n", {}, "s.toml:7:1", "\"{pq}\" names no [[service]] or [[target]] before it (expected one of: pg)"},
      {"url with threads", "name = \"t\"\n[target]\nurl = \"http://x:1\"\nthreads = 2\n", {}, "s.toml:4:1",
       "target.threads applies to a spawned target"},
      {"top-level key after a table", t + "[load]\nrate = 5\nrepeats = 2\n", {}, "s.toml:6:1",
       "'repeats' is a top-level key: put it before the first [table] header"},
      {"top-level key in target", t + "thresholds = [\"tps.mean > 1\"]\n", {}, "s.toml:4:1",
       "target.thresholds: not a target option"},
      {"top-level key in matrix", t + "[matrix]\nthresholds = [\"tps.mean > 1\"]\n", {}, "s.toml:5:1",
       "'thresholds' is a top-level key"},
      {"target threads type", t + "threads = \"four\"\n", {}, "s.toml:4:11", "target.threads: expected an integer"},
      {"target threads range", t + "threads = 0\n", {}, "s.toml:4:11", "expected an integer from 1 to 100000, found 0"},
      {"target cpu type", t + "cpu = true\n", {}, "s.toml:4:7",
       "target.cpu: expected a CPU number, an array of CPU numbers or a CPU list string such as \"0-1,3\", found boolean true"},
      {"target cpu list not a number", t + "cpu = \"one\"\n", {}, "s.toml:4:7",
       "target.cpu: invalid CPU list \"one\": \"one\" is not a CPU number; expected CPU numbers from 0 to 1023 or lo-hi ranges"},
      {"target cpu list reversed", t + "cpu = \"0,3-1\"\n", {}, "s.toml:4:7",
       "target.cpu: invalid CPU list \"0,3-1\": range \"3-1\" is reversed"},
      {"target cpu list empty", t + "cpu = \"\"\n", {}, "s.toml:4:7", "target.cpu: invalid CPU list \"\": the list is empty"},
      {"loadgen cpu list empty item", t + "[load]\ncpu = \"0,,1\"\n", {}, "s.toml:5:7",
       "load.cpu: invalid CPU list \"0,,1\": item 2 is empty"},
      {"loadgen cpu list out of range", t + "[load]\ncpu = \"1020-1024\"\n", {}, "s.toml:5:7",
       "load.cpu: invalid CPU list \"1020-1024\": \"1020-1024\" is out of range (CPUs go up to 1023)"},
      {"loadgen cpu array element", t + "[load]\ncpu = [0, \"1\"]\n", {}, "s.toml:5:11",
       "load.cpu: expected an integer from 0 to 1023, found string \"1\""},
      {"matrix cpu list", t + "[matrix]\n\"target.cpu\" = [\"0-1\", \"1-\"]\n", {}, "s.toml:5:24",
       "target.cpu: invalid CPU list \"1-\": \"1-\" is not a range lo-hi of CPU numbers"},
      {"set cpu list", t, {"load.cpu=0-1,x"}, "--set load.cpu=0-1,x", "load.cpu: invalid CPU list \"0-1,x\""},
      {"target option table", t + "cache = { a = 1 }\n", {}, "s.toml:4:9", "target.cache: expected a string, number or boolean"},
      {"target start_timeout unit", t + "start_timeout = 5\n", {}, "s.toml:4:17", "expected a duration string with a unit"},
      {"target health", t + "health = \"health\"\n", {}, "s.toml:4:10", "starting with '/'"},
      {"load not table", "load = 3\n" + t, {}, "s.toml:1:8", "load: expected a table"},
      {"unknown load key", t + "[load]\nrat = 5\n", {}, "s.toml:5:1", "unknown key 'load.rat' (expected one of: model, rate"},
      {"bad load model", t + "[load]\nmodel = \"half-open\"\n", {}, "s.toml:5:9", "expected \"open\", \"closed\" or \"subscribe\", found \"half-open\""},
      {"open without rate", t + "[load]\nmodel = \"open\"\n", {}, "s.toml:5:9", "needs load.rate"},
      {"rate with closed", t + "[load]\nmodel = \"closed\"\nrate = 100\n", {}, "s.toml:6:8",
       "load.rate applies to model = \"open\" only"},
      {"arrival with closed", t + "[load]\nmodel = \"closed\"\narrival = \"poisson\"\n", {}, "s.toml:6:11",
       "load.arrival applies to model = \"open\" only"},
      {"think time with open", t + "[load]\nrate = 10\nthink_time = \"1ms\"\n", {}, "s.toml:6:14",
       "think_time applies to model = \"closed\" only"},
      {"rate and stages", t + "[load]\nrate = 10\n[[load.stages]]\nduration = \"1s\"\nrate = 5\n", {}, "s.toml",
       "both given"},
      {"bad rate unit", t + "[load]\nrate = \"5k/fortnight\"\n", {}, "s.toml:5:8", "load.rate: "},
      {"zero rate", t + "[load]\nrate = 0\n", {}, "s.toml:5:8", "expected a rate above zero"},
      {"rate type", t + "[load]\nrate = true\n", {}, "s.toml:5:8", "load.rate: expected a rate such as 5000"},
      {"rank timeout at the heartbeat", t + "[load]\nrank_timeout = \"1s\"\n", {}, "s.toml:5:16",
       "load.rank_timeout must be above 1s"},
      {"duration without unit", t + "[load]\nduration = 10\n", {}, "s.toml:5:12",
       "load.duration: expected a duration string with a unit, such as \"10s\", \"250ms\" or \"2m\", found integer 10"},
      {"duration bad unit", t + "[load]\nduration = \"10 parsecs\"\n", {}, "s.toml:5:12", "load.duration: "},
      {"duration zero", t + "[load]\nduration = \"0\"\n", {}, "s.toml:5:12", "expected a duration above zero"},
      {"connections text", t + "[load]\nconnections = \"lots\"\n", {}, "s.toml:5:15", "load.connections: "},
      {"connections zero", t + "[load]\nconnections = 0\n", {}, "s.toml:5:15", "expected a whole number >= 1"},
      {"connections fraction", t + "[load]\nconnections = \"1.5\"\n", {}, "s.toml:5:15", "expected a whole number >= 1"},
      {"bad keepalive", t + "[load]\nkeepalive = \"sometimes\"\n", {}, "s.toml:5:13",
       "expected \"keep-alive\", \"new-connection\" or \"max:K\""},
      {"keepalive max zero", t + "[load]\nkeepalive = \"max:0\"\n", {}, "s.toml:5:13", "K >= 1"},
      {"bad engine", t + "[load]\nengine = \"wrk\"\n", {}, "s.toml:5:10", "load.engine: expected \"asio\" or \"curl\", found \"wrk\""},
      {"http2 type", t + "[load]\nhttp2 = \"yes\"\n", {}, "s.toml:5:9", "load.http2: expected true or false"},
      {"http2 with asio", t + "[load]\nengine = \"asio\"\nhttp2 = true\n", {}, "s.toml:6:9", "needs engine = \"curl\""},
      {"max streams zero", t + "[load]\nmax_streams = 0\n", {}, "s.toml:5:15", "load.max_streams: expected an integer from 1"},
      {"missing cacert", t + "[load]\ncacert = \"/no/such/ca.pem\"\n", {}, "s.toml:5:10", "load.cacert: no file"},
      {"bad arrival", t + "[load]\nrate = 5\narrival = \"bursty\"\n", {}, "s.toml:6:11", "expected \"constant\" or \"poisson\""},
      {"loadgen cpu negative", t + "[load]\ncpu = -1\n", {}, "s.toml:5:7", "load.cpu: expected an integer from 0 to 1023"},
      {"loadgen threads type", t + "[load]\nthreads = 1.5\n", {}, "s.toml:5:11", "load.threads: expected an integer"},
      {"send lag bound closed", t + "[load]\nsend_lag_bound = \"1ms\"\n", {}, "s.toml:5:18", "applies to model = \"open\" only"},
      {"stages not array", t + "[load]\nstages = 3\n", {}, "s.toml:5:10", "load.stages: expected a non-empty array"},
      {"stage missing rate", t + "[[load.stages]]\nduration = \"1s\"\n", {}, "s.toml:4:1", "expected both duration and rate"},
      {"stage unknown key", t + "[[load.stages]]\nduration = \"1s\"\nrate = 5\nramp = 1\n", {}, "s.toml:7:1",
       "unknown key 'load.stages[0].ramp'"},
      {"stages vs duration", t + "[load]\nduration = \"5s\"\n[[load.stages]]\nduration = \"1s\"\nrate = 5\n", {}, "s.toml:5:12",
       "differs from the stages' total"},
      {"request not table array", "request = 5\n" + t, {}, "s.toml:1:11", "[[request]] tables"},
      {"request unknown key", t + "[[request]]\npth = \"/\"\n", {}, "s.toml:5:1", "unknown key 'request[0].pth'"},
      {"request bad path", t + "[[request]]\npath = \"hello\"\n", {}, "s.toml:5:8", "request[0].path: expected a path starting with '/'"},
      {"request bad method", t + "[[request]]\nmethod = \"get\"\n", {}, "s.toml:5:10", "upper-case HTTP method"},
      {"request header type", t + "[[request]]\nheaders = { Accept = 1 }\n", {}, "s.toml:5:22",
       "request[0].headers.Accept: expected a string, found integer 1"},
      {"request body and file", t + "[[request]]\nbody = \"x\"\nbody_file = \"y\"\n", {}, "s.toml:6:13", "body and body_file both given"},
      {"request body file missing", t + "[[request]]\nbody_file = \"no-such-file.json\"\n", {}, "s.toml:5:13", "cannot read"},
      {"request weight", t + "[[request]]\nweight = 0\n", {}, "s.toml:5:10", "request[0].weight: expected a number above 0"},
      {"key without keys", t + "[[request]]\npath = \"/cache/{key}\"\n", {}, "s.toml:5:8", "uses {key} but no keys are defined"},
      {"keys without count", t + "[keys]\ndistribution = \"zipf\"\n", {}, "s.toml", "[keys] needs count"},
      {"keys bad distribution", t + "[keys]\ndistribution = \"normal\"\ncount = 10\n", {}, "s.toml:5:16", "expected \"uniform\" or \"zipf\""},
      {"keys zipf_s with uniform", t + "[keys]\ncount = 10\nzipf_s = 1.0\n", {}, "s.toml:6:10", "applies to distribution = \"zipf\" only"},
      {"keys unknown key", t + "[keys]\ncount = 10\nskew = 1\n", {}, "s.toml:6:1", "unknown key 'keys.skew'"},
      {"repeats zero", "repeats = 0\n" + t, {}, "s.toml:1:11", "repeats: expected an integer from 1 to 1000, found 0"},
      {"matrix not table", "matrix = 1\n" + t, {}, "s.toml:1:10", "matrix: expected a table"},
      {"matrix unknown parameter", t + "[matrix]\n\"load.conections\" = [1, 2]\n", {}, "s.toml:5:1",
       "matrix: unknown parameter 'load.conections'"},
      {"matrix not array", t + "[matrix]\n\"target.model\" = \"reactor\"\n", {}, "s.toml:5:18", "a non-empty array"},
      {"matrix value invalid", t + "[matrix]\n\"target.model\" = [\"reactor\", \"fibers\"]\n", {}, "s.toml:5:30",
       "unknown model \"fibers\""},
      {"threshold unknown metric", "thresholds = [\"ttlb.p98 < 5ms\"]\n" + t, {}, "s.toml:1:15", "unknown metric 'ttlb.p98'"},
      {"threshold no op", "thresholds = [\"ttlb.p99 5ms\"]\n" + t, {}, "s.toml:1:15", "no comparison found"},
      {"threshold bad unit", "thresholds = [\"ttlb.p99 < 5 parsecs\"]\n" + t, {}, "s.toml:1:15", "ttlb.p99: "},
      {"threshold bad percent", "thresholds = [\"errors.rate < lots\"]\n" + t, {}, "s.toml:1:15", "expected a percentage"},
      {"threshold not string", "thresholds = [5]\n" + t, {}, "s.toml:1:15", "thresholds[]: expected a string"},
      {"threshold not array", "thresholds = 5\n" + t, {}, "s.toml:1:14", "thresholds: expected an array of strings"},
      {"set without equals", t, {"load.rate"}, "--set load.rate", "expected key=value"},
      {"set bad value", k_base, {"load.rate=lots"}, "--set load.rate=lots", "load.rate: "},
      {"set bad index", t + "[[request]]\npath = \"/\"\n", {"request.3.path=/x"}, "--set request.3.path=/x",
       "is not an index"},
      {"set unknown key", t, {"load.rat=5"}, "--set load.rat=5", "unknown key 'load.rat'"},
  };
  for (const auto& c : cases) {
    auto sc = parse(c.text, c.overrides);
    ASSERT_FALSE(sc.has_value()) << c.label;
    EXPECT_EQ(sc.error().where.substr(0, c.where.size()), c.where) << c.label << ": " << sc.error().to_string();
    EXPECT_NE(sc.error().message.find(c.message_part), std::string::npos) << c.label << ": " << sc.error().to_string();
  }
}

// [search], [load] stop_when and [[matrix.include]]: every error with its place.
TEST(ScenarioErrors, SearchStopWhenAndIncludeNameFileLineColumn) {
  const std::string t = "name = \"t\"\n[target]\nmodel = \"reactor\"\n";         // lines 1-3
  const std::string open = t + "[load]\nrate = 100\n[search]\n";                  // [search] on line 6
  const std::string closed = t + "[load]\nconnections = 4\n[search]\n";
  const std::string objective = "objective = [\"ttlb.p99 < 50ms\"]\n";            // line 7 after [search]
  const std::string rate_var = "variable = \"load.rate\"\n";
  const std::string rate_range = "range = [\"50/s\", \"5k/s\"]\n";
  const std::string ok = objective + rate_var + rate_range;                       // lines 7-9
  const std::string matrix = "[matrix]\n\"target.model\" = [\"reactor\", \"thread-pool\"]\n";  // lines 4-5
  const std::vector<error_case> cases = {
      {"search not a table", "search = 3\n" + t, {}, "s.toml:1:10", "search: expected a table"},
      {"search unknown key", open + ok + "steps = 3\n", {}, "s.toml:10:1", "unknown key 'search.steps'"},
      {"objective missing", open + rate_var + rate_range, {}, "s.toml:6", "[search] needs objective"},
      {"objective unknown metric", open + "objective = [\"ttlb.p98 < 50ms\"]\n" + rate_var + rate_range, {},
       "s.toml:7:14", "search.objective: threshold \"ttlb.p98 < 50ms\": unknown metric 'ttlb.p98'"},
      {"objective empty", open + "objective = []\n" + rate_var + rate_range, {}, "s.toml:7:13",
       "search.objective: expected at least one expression"},
      {"objective not a string", open + "objective = [50]\n" + rate_var + rate_range, {}, "s.toml:7:14",
       "search.objective: expected a string, found integer 50"},
      {"variable missing", open + objective + rate_range, {}, "s.toml:6", "[search] needs variable"},
      {"variable unknown", open + objective + "variable = \"load.threads\"\n" + rate_range, {}, "s.toml:8:12",
       "search.variable: expected \"load.rate\" (open loop) or \"load.connections\" (closed loop), found \"load.threads\""},
      {"rate in a closed loop", closed + ok, {}, "s.toml:8:12",
       "search.variable = \"load.rate\" is not in this load model: the load is a closed loop"},
      {"connections in an open loop", open + objective + "variable = \"load.connections\"\nrange = [1, 10]\n", {},
       "s.toml:8:12", "search.variable = \"load.connections\" is not in this load model: the load is an open loop"},
      {"rate with stages",
       t + "[[load.stages]]\nduration = \"1s\"\nrate = 100\n[search]\n" + ok, {}, "s.toml:9:12",
       "remove [[load.stages]]"},
      {"range missing", open + objective + rate_var, {}, "s.toml:6", "[search] needs range = [low, high]"},
      {"range empty", open + objective + rate_var + "range = [\"5k/s\", \"5k/s\"]\n", {}, "s.toml:9:9",
       "search.range: [5k/s, 5k/s] is empty (expected low < high)"},
      {"range reversed", open + objective + rate_var + "range = [\"5k/s\", \"50/s\"]\n", {}, "s.toml:9:9",
       "is empty (expected low < high)"},
      {"range one value", open + objective + rate_var + "range = [\"5k/s\"]\n", {}, "s.toml:9:9",
       "search.range: expected an array [low, high] of rates"},
      {"range low zero", open + objective + rate_var + "range = [0, \"5k/s\"]\n", {}, "s.toml:9:10",
       "search.range: expected a low end above zero"},
      {"range bad rate", open + objective + rate_var + "range = [\"lots\", \"5k/s\"]\n", {}, "s.toml:9:10",
       "search.range: "},
      {"connections range fraction", closed + objective + "variable = \"load.connections\"\nrange = [1.5, 10]\n", {},
       "s.toml:9:10", "search.range: expected an integer or a count"},
      {"step without unit", open + ok + "step = 3\n", {}, "s.toml:10:8", "search.step: expected a duration string"},
      {"step zero", open + ok + "step = \"0s\"\n", {}, "s.toml:10:8", "search.step: expected a duration above zero"},
      {"resolution zero", open + ok + "resolution = \"0%\"\n", {}, "s.toml:10:14",
       "search.resolution: expected a percentage above 0"},
      {"resolution not a fraction", open + ok + "resolution = \"150%\"\n", {}, "s.toml:10:14",
       "search.resolution: invalid fraction"},
      {"resolution coarser than the growth", open + ok + "growth = 1.5\nresolution = \"60%\"\n", {}, "s.toml:11:14",
       "must be finer than the ramp's growth"},
      {"growth one", open + ok + "growth = 1\n", {}, "s.toml:10:10", "search.growth: expected a factor above 1"},
      {"confirmations range", open + ok + "confirmations = 11\n", {}, "s.toml:10:17",
       "search.confirmations: expected an integer from 0 to 10"},
      {"margin whole", open + ok + "margin = \"100%\"\n", {}, "s.toml:10:10", "search.margin: expected a percentage below"},
      {"matrix axis on the searched variable", open + ok + "[matrix]\n\"load.rate\" = [100, 200]\n", {},
       "s.toml:11:1", "matrix: 'load.rate' is the variable [search] sets at every step"},
      {"set on the search", open + ok, {"search.range=[\"9k/s\",\"1k/s\"]"}, "--set search.range=",
       "search.range: [9k/s, 1k/s] is empty"},
      {"stop_when unknown metric", t + "[load]\nstop_when = [\"errors.cnt > 5\"]\n", {}, "s.toml:5:14",
       "load.stop_when: threshold \"errors.cnt > 5\": unknown metric 'errors.cnt'"},
      {"stop_when not a string", t + "[load]\nstop_when = [5]\n", {}, "s.toml:5:14",
       "load.stop_when: expected a string, found integer 5"},
      {"stop_when empty", t + "[load]\nstop_when = []\n", {}, "s.toml:5:13", "load.stop_when: expected at least one"},
      {"include matching nothing",
       t + matrix + "[[matrix.include]]\n\"target.model\" = \"thread-pol\"\n\"target.threads\" = 32\n", {}, "s.toml:6",
       "matrix.include: the entry matches no combination"},
      {"include without an axis", t + matrix + "[[matrix.include]]\n\"target.threads\" = 32\n", {}, "s.toml:6",
       "matrix.include: an entry needs a matrix axis value to match and a key to add"},
      {"include unknown parameter",
       t + matrix + "[[matrix.include]]\n\"target.model\" = \"reactor\"\n\"load.conections\" = 5\n", {}, "s.toml:8:1",
       "matrix: unknown parameter 'load.conections'"},
      {"include bad value",
       t + matrix + "[[matrix.include]]\n\"target.model\" = \"thread-pool\"\n\"target.threads\" = 0\n", {},
       "s.toml:8:20", "target.threads: expected an integer from 1 to 100000, found 0"},
      {"include not tables", t + "[matrix]\n\"target.model\" = [\"reactor\"]\ninclude = 3\n", {}, "s.toml:6:11",
       "matrix.include: expected [[matrix.include]] tables"},
  };
  for (const auto& c : cases) {
    auto sc = parse(c.text, c.overrides);
    ASSERT_FALSE(sc.has_value()) << c.label;
    EXPECT_EQ(sc.error().where.substr(0, c.where.size()), c.where) << c.label << ": " << sc.error().to_string();
    EXPECT_NE(sc.error().message.find(c.message_part), std::string::npos) << c.label << ": " << sc.error().to_string();
  }
}

TEST(ScenarioParse, SearchTableFillsTheSpecAndAppliesToEveryVariant) {
  auto sc = parse(std::string(k_base) + R"([search]
objective = ["ttlb.p99 < 50ms", "errors.rate < 0.1%"]
variable = "load.rate"
range = ["50/s", "5k/s"]
step = "3s"
resolution = "2%"
confirmations = 2
growth = 1.5
margin = "5%"
[matrix]
"target.model" = ["reactor", "coroutine"]
)");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  ASSERT_EQ(sc->variants.size(), 2u);
  for (const auto& v : sc->variants) {
    ASSERT_TRUE(v.search.has_value()) << v.name;
    const auto& s = *v.search;
    ASSERT_EQ(s.objective.size(), 2u);
    EXPECT_EQ(s.objective[0].metric, "ttlb.p99");
    EXPECT_DOUBLE_EQ(s.objective[1].limit, 0.001);
    EXPECT_EQ(s.variable, "load.rate");
    EXPECT_DOUBLE_EQ(s.low, 50);
    EXPECT_DOUBLE_EQ(s.high, 5000);
    EXPECT_EQ(s.step, 3s);
    EXPECT_DOUBLE_EQ(s.resolution, 0.02);
    EXPECT_EQ(s.confirmations, 2);
    EXPECT_DOUBLE_EQ(s.growth, 1.5);
    EXPECT_DOUBLE_EQ(s.margin, 0.05);
    EXPECT_STREQ(s.unit(), "req/s");
  }
  // Defaults, a closed loop searching connections, and one objective given as a string.
  auto closed = parse("name = \"c\"\n[target]\nmodel = \"thread-pool\"\n[load]\nconnections = 4\n[search]\n"
                      "objective = \"ttlb.p99 < 100ms\"\nvariable = \"load.connections\"\nrange = [1, \"1k\"]\n");
  ASSERT_TRUE(closed.has_value()) << closed.error().to_string();
  const auto& s = *closed->variants[0].search;
  EXPECT_EQ(s.objective.size(), 1u);
  EXPECT_DOUBLE_EQ(s.high, 1000);
  EXPECT_EQ(s.step, 0ns) << "each step lasts load.duration";
  EXPECT_DOUBLE_EQ(s.resolution, 0.05);
  EXPECT_EQ(s.confirmations, 1);
  EXPECT_TRUE(s.integer());
  EXPECT_FALSE(parse(k_base)->variants[0].search.has_value());
}

TEST(ScenarioParse, StopWhenTakesOneExpressionOrAnArray) {
  auto one = parse(std::string(k_base) + "stop_when = \"errors.count > 1000\"\n");
  ASSERT_TRUE(one.has_value()) << one.error().to_string();
  ASSERT_EQ(one->variants[0].stop_when.size(), 1u);
  EXPECT_EQ(one->variants[0].stop_when[0].metric, "errors.count");
  EXPECT_DOUBLE_EQ(one->variants[0].stop_when[0].limit, 1000);
  auto two = parse(std::string(k_base) + "stop_when = [\"errors.rate > 50%\", \"ttlb.p99 > 5s\"]\n");
  ASSERT_TRUE(two.has_value()) << two.error().to_string();
  ASSERT_EQ(two->variants[0].stop_when.size(), 2u);
  EXPECT_EQ(two->variants[0].stop_when[1].op, ">");
}

TEST(ScenarioMatrix, IncludeAddsKeysToMatchingCombinationsOnly) {
  // The thread pool alone gets 32 workers; every other combination keeps the document's 2.
  auto sc = parse(R"(name = "m"
[target]
model = "reactor"
threads = 2
[load]
rate = 100
[matrix]
"target.model" = ["thread-per-request", "thread-pool", "reactor"]
"request.0.path" = ["/sleep?ms=10", "/cpu?us=200"]
[[request]]
path = "/"
[[matrix.include]]
"target.model" = "thread-pool"
"target.threads" = 32
[[matrix.include]]
"target.model" = "reactor"
"request.0.path" = "/cpu?us=200"
"load.rate" = 50
)");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  ASSERT_EQ(sc->variants.size(), 6u);
  const int want_threads[] = {2, 2, 32, 32, 2, 2};
  const double want_rate[] = {100, 100, 100, 100, 100, 50};
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& v = sc->variants[i];
    EXPECT_EQ(v.target.threads, want_threads[i]) << v.name;
    EXPECT_DOUBLE_EQ(v.load.rate, want_rate[i]) << v.name;
    EXPECT_EQ(v.params.size(), 2u) << v.name << ": included keys are not matrix values";
  }
  EXPECT_EQ(sc->variants[2].name, "model=thread-pool,path=/sleep?ms=10") << "not in the name";
  // A key the document does not have is added and taken away again.
  auto added = parse(std::string(k_base) + "[matrix]\n\"target.model\" = [\"thread-pool\", \"reactor\"]\n"
                                           "[[matrix.include]]\n\"target.model\" = \"thread-pool\"\n\"target.queue\" = 0\n");
  ASSERT_TRUE(added.has_value()) << added.error().to_string();
  EXPECT_EQ(added->variants[0].target.params.at("queue"), "0");
  EXPECT_EQ(added->variants[1].target.params.count("queue"), 0u);
}

TEST(ScenarioMatrix, IncludeReplacesAWholeRequest) {
  // An include may swap a request for another of a different kind: here a gRPC call, which takes
  // neither a path nor a method, in place of the document's GET.
  auto sc = parse(R"(name = "m"
[target]
model = "reactor"
[load]
rate = 100
[[request]]
path = "/api/orders/{key}"
[keys]
count = 10
[matrix]
"request.0.headers" = [{ "X-Style" = "rest" }, { "X-Style" = "grpc" }]
[[matrix.include]]
"request.0.headers" = { "X-Style" = "grpc" }
"request.0" = { grpc = "/perflab.api.Orders/Get", grpc_fields = { 1 = "{key}" }, headers = { "X-Style" = "grpc" } }
)");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  ASSERT_EQ(sc->variants.size(), 2u);
  EXPECT_EQ(sc->variants[0].load.requests.at(0).path, "/api/orders/{key}");
  EXPECT_TRUE(sc->variants[0].load.requests.at(0).grpc.empty());
  EXPECT_EQ(sc->variants[1].load.requests.at(0).grpc, "/perflab.api.Orders/Get");
  EXPECT_EQ(sc->variants[1].load.requests.at(0).grpc_fields.size(), 1u);
  // Not an index, or a key no request has: named as an unknown parameter.
  for (const char* bad : {"\"request.x\" = { path = \"/\" }", "\"request.0.pth\" = \"/\""}) {
    auto e = parse(std::string(R"(name = "m"
[target]
model = "reactor"
[[request]]
path = "/"
[matrix]
"target.model" = ["reactor"]
[[matrix.include]]
"target.model" = "reactor"
)") + bad + "\n");
    ASSERT_FALSE(e.has_value()) << bad;
    EXPECT_NE(e.error().to_string().find("matrix: unknown parameter"), std::string::npos) << e.error().to_string();
  }
}

TEST(ScenarioParse, FillsRunConfigFromEveryLoadKey) {
  auto sc = parse(std::string(R"(name = "all"
description = "every key"
repeats = 2
[target]
model = "thread-pool"
threads = 4
cpu = 1
start_timeout = "3s"
queue = 128
gzip = true
[load]
model = "open"
rate = "2k/s"
arrival = "poisson"
connections = "1k"
duration = "3s"
warmup = "500ms"
connect_timeout = "1s"
timeout = "2s"
rank_timeout = "3s"
keepalive = "max:10"
threads = 2
cpu = [0]
seed = 42
send_lag_bound = "2ms"
max_requests = 1000
[keys]
distribution = "zipf"
count = "10k"
zipf_s = 1.1
[[request]]
method = "POST"
path = "/cache/{key}"
headers = { "Content-Type" = "application/json" }
body = "{}"
weight = 3
[[request]]
path = "/hello"
)"));
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  EXPECT_EQ(sc->name, "all");
  EXPECT_EQ(sc->description, "every key");
  EXPECT_EQ(sc->repeats, 2);
  ASSERT_EQ(sc->variants.size(), 1u);
  const auto& v = sc->variants[0];
  EXPECT_EQ(v.name, "all");
  EXPECT_TRUE(v.target.spawn);
  EXPECT_EQ(v.target.model, "thread-pool");
  EXPECT_EQ(v.target.threads, 4);
  EXPECT_EQ(v.target.cpus, std::vector<int>{1});
  EXPECT_TRUE(v.target.cpus_given);
  EXPECT_EQ(v.target.start_timeout, 3s);
  EXPECT_EQ(v.target.params.at("queue"), "128");
  EXPECT_EQ(v.target.params.at("gzip"), "true");
  const auto& l = v.load;
  EXPECT_EQ(l.kind, "open");
  EXPECT_DOUBLE_EQ(l.rate, 2000);
  EXPECT_EQ(l.arrival, "poisson");
  EXPECT_EQ(l.connections, 1000);
  EXPECT_EQ(l.duration, 3s);
  EXPECT_EQ(l.warmup, 500ms);
  EXPECT_EQ(l.connect_timeout, 1s);
  EXPECT_EQ(l.request_timeout, 2s);
  EXPECT_EQ(l.rank_timeout, 3s);
  EXPECT_EQ(l.keepalive, keepalive_policy::max_requests);
  EXPECT_EQ(l.max_requests_per_connection, 10);
  EXPECT_EQ(l.threads, 2);
  EXPECT_EQ(l.cpus, std::vector<int>{0});
  EXPECT_TRUE(v.loadgen_cpus_given);
  EXPECT_EQ(l.seed, 42u);
  EXPECT_DOUBLE_EQ(l.send_lag_bound_us, 2000);
  EXPECT_EQ(l.max_requests, 1000);
  EXPECT_EQ(l.keys.kind, "zipf");
  EXPECT_EQ(l.keys.keys, 10000u);
  EXPECT_DOUBLE_EQ(l.keys.zipf_s, 1.1);
  ASSERT_EQ(l.requests.size(), 2u);
  EXPECT_EQ(l.requests[0].method, "POST");
  EXPECT_EQ(l.requests[0].path, "/cache/{key}");
  ASSERT_EQ(l.requests[0].headers.size(), 1u);
  EXPECT_EQ(l.requests[0].headers[0].first, "Content-Type");
  EXPECT_EQ(l.requests[0].body, "{}");
  EXPECT_DOUBLE_EQ(l.requests[0].weight, 3);
  EXPECT_EQ(l.requests[1].method, "GET");
}

// target.cpu and load.cpu: a number, an array of numbers, or a cpulist string (also from --set
// and the matrix), which the runner passes on to lab-target --cpu and the engine.
TEST(ScenarioParse, CpusTakeANumberAnArrayOrACpuListString) {
  struct row {
    std::string value;
    std::vector<int> want;
  };
  const std::vector<row> rows = {
      {"1", {1}},         {"[0, 2]", {0, 2}},           {"[]", {}},
      {"\"3\"", {3}},     {"\"0-1,3\"", {0, 1, 3}},     {"\"6-7,0-1,4\"", {0, 1, 4, 6, 7}},
  };
  for (const auto& r : rows) {
    auto sc = parse("name = \"c\"\n[target]\nmodel = \"reactor\"\ncpu = " + r.value + "\n[load]\ncpu = " + r.value + "\n");
    ASSERT_TRUE(sc.has_value()) << r.value << ": " << sc.error().to_string();
    EXPECT_EQ(sc->variants[0].target.cpus, r.want) << r.value;
    EXPECT_EQ(sc->variants[0].load.cpus, r.want) << r.value;
    EXPECT_TRUE(sc->variants[0].target.cpus_given);
    EXPECT_TRUE(sc->variants[0].loadgen_cpus_given);
  }
  auto set = parse(k_base, {"target.cpu=0-2", "load.cpu=3,5"});
  ASSERT_TRUE(set.has_value()) << set.error().to_string();
  EXPECT_EQ(set->variants[0].target.cpus, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(set->variants[0].load.cpus, (std::vector<int>{3, 5}));
  auto matrix = parse(std::string(k_base) + "[matrix]\n\"target.cpu\" = [\"0\", \"0-1\"]\n");
  ASSERT_TRUE(matrix.has_value()) << matrix.error().to_string();
  ASSERT_EQ(matrix->variants.size(), 2u);
  EXPECT_EQ(matrix->variants[0].target.cpus, std::vector<int>{0});
  EXPECT_EQ(matrix->variants[1].target.cpus, (std::vector<int>{0, 1}));
}

TEST(ScenarioParse, DefaultsToClosedLoopAndInfersOpenFromRate) {
  auto closed = parse("name = \"c\"\n[target]\nurl = \"http://127.0.0.1:8080/\"\n");
  ASSERT_TRUE(closed.has_value()) << closed.error().to_string();
  EXPECT_EQ(closed->variants[0].load.kind, "closed");
  EXPECT_EQ(closed->variants[0].load.connections, 10);
  EXPECT_FALSE(closed->variants[0].target.spawn);
  EXPECT_EQ(closed->variants[0].target.url, "http://127.0.0.1:8080");
  auto open = parse("name = \"o\"\n[target]\nmodel = \"reactor\"\n[load]\nrate = 500\n");
  ASSERT_TRUE(open.has_value()) << open.error().to_string();
  EXPECT_EQ(open->variants[0].load.kind, "open");
  EXPECT_DOUBLE_EQ(open->variants[0].load.rate, 500);
  EXPECT_FALSE(open->variants[0].loadgen_cpus_given);
  EXPECT_FALSE(open->variants[0].target.cpus_given);
}

TEST(ScenarioParse, EngineKeysAndAnEngineMatrix) {
  const std::string head = "name = \"e\"\n[target]\nurl = \"http://127.0.0.1:8443/\"\n[load]\n";
  auto sc = parse(head + "engine = \"curl\"\nhttp2 = true\nmax_streams = 8\ninsecure = true\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  const run_config& c = sc->variants[0].load;
  EXPECT_EQ(c.engine, "curl");
  EXPECT_TRUE(c.http2);
  EXPECT_EQ(c.max_streams, 8);
  EXPECT_TRUE(c.insecure);
  // The same scenario once per engine: what the parity test runs.
  auto both = parse(head + "rate = 10\n[matrix]\n\"load.engine\" = [\"asio\", \"curl\"]\n");
  ASSERT_TRUE(both.has_value()) << both.error().to_string();
  ASSERT_EQ(both->variants.size(), 2u);
  EXPECT_EQ(both->variants[0].load.engine, "asio");
  EXPECT_EQ(both->variants[1].load.engine, "curl");
  auto plain = parse("name = \"p\"\n[target]\nmodel = \"reactor\"\n");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->variants[0].load.engine, "");  // automatic: by the URL
  EXPECT_FALSE(plain->variants[0].load.http2);
}

TEST(ScenarioParse, StagesSetTheDuration) {
  auto sc = parse(std::string("name = \"s\"\n[target]\nmodel = \"reactor\"\n") +
                  "[[load.stages]]\nduration = \"2s\"\nrate = \"1k/s\"\n[[load.stages]]\nduration = \"500ms\"\nrate = 100\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  const auto& l = sc->variants[0].load;
  EXPECT_EQ(l.kind, "open");
  ASSERT_EQ(l.stages.size(), 2u);
  EXPECT_DOUBLE_EQ(l.stages[0].duration_s, 2.0);
  EXPECT_DOUBLE_EQ(l.stages[0].target_rate, 1000);
  EXPECT_DOUBLE_EQ(l.stages[1].target_rate, 100);
  EXPECT_EQ(l.duration, 2500ms);
}

TEST(ScenarioMatrix, ExpandsEveryCombinationLastAxisFastest) {
  auto sc = parse(std::string(k_base) + "[matrix]\n\"target.model\" = [\"reactor\", \"coroutine\"]\n"
                                         "\"load.connections\" = [10, 100, \"1k\"]\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  ASSERT_EQ(sc->variants.size(), 6u);
  EXPECT_EQ(sc->variants[0].name, "model=reactor,connections=10");
  EXPECT_EQ(sc->variants[0].file_prefix, "model-reactor_connections-10");
  EXPECT_EQ(sc->variants[2].load.connections, 1000);
  EXPECT_EQ(sc->variants[3].target.model, "coroutine");
  EXPECT_EQ(sc->variants[3].load.connections, 10);
  EXPECT_EQ(sc->variants[5].name, "model=coroutine,connections=1k");
  EXPECT_EQ(sc->variants[5].params.at("target.model"), "coroutine");
  EXPECT_EQ(sc->variants[5].params.at("load.connections"), "1k");
}

TEST(ScenarioMatrix, AmbiguousLabelsUseTheFullKeyAndRequestsCanVary) {
  auto sc = parse(std::string(k_base) + "[[request]]\npath = \"/hello\"\n[matrix]\n\"target.threads\" = [1]\n"
                                         "\"load.threads\" = [2]\n\"request.0.path\" = [\"/sleep?ms=10\", \"/cpu?us=100\"]\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  ASSERT_EQ(sc->variants.size(), 2u);
  EXPECT_EQ(sc->variants[0].name, "target.threads=1,load.threads=2,path=/sleep?ms=10");
  EXPECT_EQ(sc->variants[1].load.requests[0].path, "/cpu?us=100");
  EXPECT_NE(sc->variants[0].file_prefix, sc->variants[1].file_prefix);
}

TEST(ScenarioOverrides, SetReplacesValuesParsedAsToml) {
  auto sc = parse(k_base, {"load.rate=500", "target.model=coroutine", "load.duration=\"1s\"", "target.queue=64",
                           "matrix.load.connections=[1,2]"});
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  ASSERT_EQ(sc->variants.size(), 2u);
  EXPECT_DOUBLE_EQ(sc->variants[0].load.rate, 500);
  EXPECT_EQ(sc->variants[0].target.model, "coroutine");
  EXPECT_EQ(sc->variants[0].load.duration, 1s);
  EXPECT_EQ(sc->variants[0].target.params.at("queue"), "64");
  EXPECT_EQ(sc->variants[1].load.connections, 2);
  EXPECT_EQ(sc->overrides.size(), 5u);
}

TEST(ScenarioParse, BodyFileIsReadRelativeToTheScenario) {
  fs::path dir = fs::temp_directory_path() / ("perflab_scenario_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "body.json") << "{\"a\":1}";
  auto sc = parse_scenario(std::string(k_base) + "[[request]]\nmethod = \"POST\"\nbody_file = \"body.json\"\n",
                           "s.toml", dir);
  fs::remove_all(dir);
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  EXPECT_EQ(sc->variants[0].load.requests[0].body, "{\"a\":1}");
}

TEST(ScenarioFiles, EveryShippedScenarioParses) {
  const char* src = std::getenv("PERFLAB_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "PERFLAB_SOURCE_DIR is set by ctest";
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(src) / "scenarios")) {
    if (e.path().extension() != ".toml") continue;
    ++n;
    auto sc = load_scenario(e.path());
    EXPECT_TRUE(sc.has_value()) << (sc ? "" : sc.error().to_string());
    if (sc) {
      EXPECT_FALSE(sc->variants.empty()) << e.path();
    }
  }
  EXPECT_GE(n, 4) << "quickstart, connections-sweep, io-vs-cpu, ci-smoke";
}

TEST(ScenarioFiles, MissingFileIsAnError) {
  auto sc = load_scenario("/nonexistent/x.toml");
  ASSERT_FALSE(sc.has_value());
  EXPECT_EQ(sc.error().where, "/nonexistent/x.toml");
}

}  // namespace
// [[service]]: a target.url naming one, and options naming one, parse; the runner fills them in.
TEST(ScenarioServices, AUrlAndOptionsMayNameAServiceStartedForTheRun) {
  auto sc = parse("name = \"t\"\n[[service]]\nname = \"tls\"\nkind = \"nginx-tls\"\naccess_log = true\n"
                  "[[service]]\nname = \"pg\"\nkind = \"postgres\"\n"
                  "[[target]]\nname = \"dep\"\nmodel = \"reactor\"\ndb = \"{pg}\"\n"
                  "[[target]]\nurl = \"{tls}\"\n[load]\nengine = \"curl\"\n", {});
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  ASSERT_EQ(sc->services.size(), 2u);
  EXPECT_EQ(sc->services[0].name, "tls");
  EXPECT_EQ(sc->services[0].kind, "nginx-tls");
  EXPECT_TRUE(sc->services[0].access_log);
  EXPECT_EQ(sc->services[1].kind, "postgres");
  const auto& v = sc->variants.at(0);
  EXPECT_EQ(v.target.service, "tls");
  EXPECT_EQ(v.target.url, "{tls}");
  ASSERT_EQ(v.dependencies.size(), 1u);
  EXPECT_EQ(v.dependencies[0].params.at("db"), "{pg}");
  // A target may not take a service's name.
  auto dup = parse("name = \"t\"\n[[service]]\nname = \"x\"\nkind = \"redis\"\n"
                   "[[target]]\nname = \"x\"\nmodel = \"reactor\"\n[[target]]\nmodel = \"reactor\"\n", {});
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("\"x\" is also a [[service]] name"), std::string::npos) << dup.error().to_string();
}

}  // namespace perflab::loadgen
