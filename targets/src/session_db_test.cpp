// The session's database steps without sockets: /db/query, /items/{id} and /db/terminate run
// their call with the blocking model's primitive, pipelined requests behind a db step, a
// connection that ends before its call runs, and bad arguments.
#include <perflab/targets/session.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include <perflab/db/call.hpp>

namespace perflab::targets {
namespace {

server_config db_config(std::size_t pool_size) {
  server_config c;
  auto o = db::options{};
  o.pool_size = std::to_string(pool_size);
  o.connect_cost = "0";
  o.min_idle = "0";  // only what requests open: no housekeeper fill racing the test
  o.given = true;  // opened with the context
  c.db = *db::parse_options(o);
  return c;
}

// Sends raw bytes and follows the steps as a blocking model does; returns everything written.
std::string exchange(session& s, std::string_view bytes) {
  std::string out;
  auto space = s.read_space();
  std::memcpy(space.data(), bytes.data(), bytes.size());
  s.commit(bytes.size());
  for (auto st = s.process();; st = s.process()) {
    while (s.output_pending()) {
      const auto o = s.output();
      out.append(o.buffered).append(o.streamed);
      s.output_written(o.size());
    }
    if (st.what == session::next::db) {
      s.db_call()->run_blocking();
      s.finish_wait();
    } else if (st.what != session::next::more) {
      return out;
    }
  }
}

TEST(SessionDb, QueriesItemsAndTerminateAreAnsweredThroughThePool) {
  server_context ctx(db_config(2));
  session s(ctx);
  auto out = exchange(s, "GET /db/query?ms=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("\r\n\r\nqueried 1000 us\n"), std::string::npos) << out;
  out = exchange(s, "GET /items/42 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/1001 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(out.find("Content-Type: application/json"), std::string::npos) << out;
  EXPECT_NE(out.find("{\"id\":42,\"name\":\"item-42\",\"price_cents\":2598}\n"), std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/1.1 404 "), std::string::npos) << out;  // the pipelined second
  out = exchange(s, "POST /db/terminate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(out.find("terminated 1\n"), std::string::npos) << out;  // the one connection, idle
  out = exchange(s, "GET /db/query?ms=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 503 ", 0), 0u) << out;  // no validation: the dead one fails in use
  const auto st = ctx.database().connections().stats();
  EXPECT_EQ(st.closed[static_cast<std::size_t>(db::close_reason::error)], 1u);
  EXPECT_EQ(ctx.stats.requests(endpoint::db_query, 503), 1u);
  EXPECT_EQ(ctx.stats.requests(endpoint::items, 200), 1u);
}

TEST(SessionDb, ARequestWhoseConnectionEndsBeforeItsCallRunsLeavesThePoolWhole) {
  server_context ctx(db_config(1));
  {
    auto s = std::make_unique<session>(ctx);
    const std::string req = "GET /db/query?ms=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    auto space = s->read_space();
    std::memcpy(space.data(), req.data(), req.size());
    s->commit(req.size());
    ASSERT_EQ(s->process().what, session::next::db);
    // The model never ran the call (the connection died first): nothing was borrowed yet.
  }
  auto& pool = ctx.database().connections();
  EXPECT_EQ(pool.stats().active, 0u);
  EXPECT_EQ(ctx.stats.in_flight(), 0);
  session s2(ctx);
  EXPECT_NE(exchange(s2, "GET /db/query?ms=1 HTTP/1.1\r\nHost: x\r\n\r\n").find("200 OK"), std::string::npos);
}

TEST(SessionDb, BadArgumentsAreRejectedBeforeTheDatabase) {
  server_context ctx(db_config(1));
  session s(ctx);
  const auto out = exchange(s, "GET /db/query?ms=x HTTP/1.1\r\nHost: x\r\n\r\nGET /items/abc HTTP/1.1\r\nHost: x\r\n\r\n"
                               "DELETE /db/query HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 400 "), std::string::npos) << out;
  EXPECT_EQ(out.find("HTTP/1.1 200 "), std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/1.1 405 "), std::string::npos) << out;
  EXPECT_EQ(ctx.database().connections().stats().acquired, 0u);
}

}  // namespace
}  // namespace perflab::targets
