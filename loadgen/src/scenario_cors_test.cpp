// [load] cors, the browser mode (scenario_retry.cpp's read_cors): the table, false, the errors
// with their places, and scenarios/cors-preflight.toml as `loadgen run` reads it.
#include "perflab/loadgen/scenario.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "scenario_test_support.hpp"

namespace perflab::loadgen {
namespace {

const std::string cors_head = R"(name = "c"
[target]
url = "http://127.0.0.1:8080"
[load]
model = "closed"
connections = 1
)";

TEST(ScenarioCors, ReadsTheTableAndFalse) {
  auto sc = testing::parse(cors_head + "cors = { origin = \"https://app.example\" }\n");
  ASSERT_TRUE(sc) << sc.error().to_string();
  EXPECT_EQ(sc->variants[0].load.cors.origin, "https://app.example");
  EXPECT_TRUE(sc->variants[0].load.cors.preflight_cache);
  sc = testing::parse(cors_head + "cors = { origin = \"http://localhost:3000\", preflight_cache = false }\n");
  ASSERT_TRUE(sc) << sc.error().to_string();
  EXPECT_EQ(sc->variants[0].load.cors.origin, "http://localhost:3000");
  EXPECT_FALSE(sc->variants[0].load.cors.preflight_cache);
  sc = testing::parse(cors_head + "cors = false\n");
  ASSERT_TRUE(sc) << sc.error().to_string();
  EXPECT_FALSE(sc->variants[0].load.cors.enabled());
  sc = testing::parse(cors_head);
  ASSERT_TRUE(sc) << sc.error().to_string();
  EXPECT_FALSE(sc->variants[0].load.cors.enabled());
}

TEST(ScenarioCors, RefusesBadValuesWhereTheyAreWritten) {
  struct row {
    std::string line;      // the 7th line of the file
    std::string where;     // s.toml:7:<column>
    std::string message;   // a part of the message
  };
  const std::vector<row> rows = {
      {"cors = true", "s.toml:7:8", "expected a table such as cors = { origin"},
      {"cors = \"https://app.example\"", "s.toml:7:8", "expected a table such as cors = { origin"},
      {"cors = { preflight_cache = false }", "s.toml:7:8", "load.cors: expected origin = "},
      {"cors = { origin = \"https://app.example/\" }", "s.toml:7:19", "a path, query or fragment"},
      {"cors = { origin = \"app.example\" }", "s.toml:7:19", "no http:// or https:// scheme"},
      {"cors = { origin = \"https://app.example\", preflight_cache = \"no\" }", "s.toml:7:60", "true or false"},
      {"cors = { origin = \"https://app.example\", cache = false }", "s.toml:7:", "cache"},
      {"engine = \"curl\"\ncors = { origin = \"https://app.example\" }", "s.toml:8:8", "needs the asio engine"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.line);
    const auto sc = testing::parse(cors_head + r.line + "\n");
    ASSERT_FALSE(sc);
    EXPECT_NE(sc.error().where.find(r.where), std::string::npos) << sc.error().to_string();
    EXPECT_NE(sc.error().message.find(r.message), std::string::npos) << sc.error().to_string();
  }
}

TEST(ShippedScenario, CorsPreflightComparesSameOriginCacheOnCacheOffAndARefusedOrigin) {
  const char* src = std::getenv("PERFLAB_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "PERFLAB_SOURCE_DIR is set by ctest";
  auto sc = load_scenario(std::string(src) + "/scenarios/cors-preflight.toml");
  ASSERT_TRUE(sc) << sc.error().to_string();
  ASSERT_EQ(sc->variants.size(), 4u);
  const auto& v = sc->variants;
  EXPECT_FALSE(v[0].load.cors.enabled());
  EXPECT_EQ(v[1].load.cors.origin, "https://app.example");
  EXPECT_TRUE(v[1].load.cors.preflight_cache);
  EXPECT_EQ(v[2].load.cors.origin, "https://app.example");
  EXPECT_FALSE(v[2].load.cors.preflight_cache);
  EXPECT_EQ(v[3].load.cors.origin, "https://evil.example");
  EXPECT_EQ(v[3].load.max_error_rate, 1.0);  // every request refused: the point of the variant
  for (const auto& x : v) {
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.target.params.at("cors"), "https://app.example");
    EXPECT_EQ(x.target.params.at("cors-max-age"), "600");
    EXPECT_EQ(x.load.rate, v[0].load.rate);  // equal offered load
    ASSERT_EQ(x.load.requests.size(), 1u);
    EXPECT_EQ(x.load.requests[0].method, "PUT");
    EXPECT_NE(x.target.cpus, x.load.cpus);  // pinned apart
  }
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(v[i].load.max_error_rate, v[0].load.max_error_rate);
}

}  // namespace
}  // namespace perflab::loadgen
