// The server-side cost of each API style for one order, without sockets: the document alone
// (make_order, the baseline every style pays), REST's JSON, and GraphQL's parse + validate +
// execute for the full and a two-field selection. Ids cycle over 1,024 orders (1 to 8 line items).
// docs/experiments/protocols.md quotes these next to the end-to-end run.
#include <benchmark/benchmark.h>

#include <string>

#include <perflab/api/graphql.hpp>
#include <perflab/api/order.hpp>
#include <perflab/api/order_json.hpp>

namespace {

constexpr std::uint64_t bench_ids = 1024;

std::string graphql_body(std::string_view selection, std::uint64_t id) {
  return "{\"query\":\"query Order($id: ID!) { order(id: $id) " + std::string(selection) +
         " }\",\"variables\":{\"id\":\"" + std::to_string(id) + "\"}}";
}
constexpr std::string_view full_selection =
    "{ id status createdAt currency total items { sku name quantity unitPrice } "
    "customer { id name email shipping { street city postcode country } } }";
constexpr std::string_view partial_selection = "{ status total }";

void BM_ApiMakeOrder(benchmark::State& state) {
  std::uint64_t id = 0;
  for (auto _ : state) {
    auto o = perflab::api::make_order(id++ % bench_ids);
    benchmark::DoNotOptimize(o);
  }
}
BENCHMARK(BM_ApiMakeOrder);

void BM_ApiRestJson(benchmark::State& state) {
  std::string out;
  std::uint64_t id = 0, bytes = 0;
  for (auto _ : state) {
    out.clear();
    perflab::api::append_order_json(perflab::api::make_order(id++ % bench_ids), out);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_ApiRestJson);

void graphql_run(benchmark::State& state, std::string_view selection) {
  std::vector<std::string> bodies;
  for (std::uint64_t id = 0; id < bench_ids; ++id) bodies.push_back(graphql_body(selection, id));
  perflab::api::graphql::request req;
  std::string out;
  std::uint64_t i = 0, bytes = 0;
  for (auto _ : state) {
    out.clear();
    if (!req.prepare(bodies[i++ % bench_ids])) state.SkipWithError("the query did not validate");
    req.execute(out);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
void BM_ApiGraphqlFull(benchmark::State& state) { graphql_run(state, full_selection); }
void BM_ApiGraphqlPartial(benchmark::State& state) { graphql_run(state, partial_selection); }
BENCHMARK(BM_ApiGraphqlFull);
BENCHMARK(BM_ApiGraphqlPartial);

// Parse and validate only (no execution): what a request costs before any field is resolved.
void BM_ApiGraphqlPrepareFull(benchmark::State& state) {
  const std::string body = graphql_body(full_selection, 7);
  perflab::api::graphql::request req;
  for (auto _ : state) benchmark::DoNotOptimize(req.prepare(body));
}
BENCHMARK(BM_ApiGraphqlPrepareFull);

}  // namespace

BENCHMARK_MAIN();
