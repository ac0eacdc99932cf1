// What lab-target's --auth pays per request for a JWT, per algorithm (perflab::auth's verifier:
// base64url, the header, OpenSSL's signature check, the claims), next to the baseline of the
// framing alone (a token refused for its alg before any signature is computed).
// docs/experiments/auth.md compares these with `openssl speed`.
#include <benchmark/benchmark.h>

#include <chrono>

#include <perflab/auth/jwt.hpp>

namespace {

using perflab::auth::algorithm;

struct fixture {
  std::string token;
  perflab::auth::verifier verifier;
};

fixture make(algorithm a) {
  auto k = *perflab::auth::key::generate(a);
  perflab::auth::claims c;
  c.sub = "user-000042";
  c.aud = "perflab";
  c.iat = 1'800'000'000;
  c.exp = c.iat + 3600;
  auto token = *perflab::auth::sign(k, c);
  auto pub = *perflab::auth::key::from_pem(a, *k.public_pem());
  return {token, perflab::auth::verifier(pub, {.audience = "perflab", .leeway = std::chrono::seconds(30)})};
}

void verify(benchmark::State& state, algorithm a) {
  const auto f = make(a);
  for (auto _ : state) {
    auto r = f.verifier.verify(f.token, 1'800'000'100);
    benchmark::DoNotOptimize(r);
    if (!r) state.SkipWithError("refused");
  }
}

void BM_Jwt_Verify_HS256(benchmark::State& s) { verify(s, algorithm::hs256); }
void BM_Jwt_Verify_RS256(benchmark::State& s) { verify(s, algorithm::rs256); }
void BM_Jwt_Verify_EdDSA(benchmark::State& s) { verify(s, algorithm::eddsa); }

// Baseline: an HS256 token shown to an RS256 verifier, refused after base64url and the header.
void BM_Jwt_RefusedForAlg(benchmark::State& state) {
  const auto hs = make(algorithm::hs256);
  const auto rs = make(algorithm::rs256);
  for (auto _ : state) {
    auto r = rs.verifier.verify(hs.token, 1'800'000'100);
    benchmark::DoNotOptimize(r);
  }
}

BENCHMARK(BM_Jwt_RefusedForAlg);
BENCHMARK(BM_Jwt_Verify_HS256);
BENCHMARK(BM_Jwt_Verify_RS256);
BENCHMARK(BM_Jwt_Verify_EdDSA);

}  // namespace

BENCHMARK_MAIN();
