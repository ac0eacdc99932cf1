#pragma once
// JSON Web Tokens in the compact JWS form (RFC 7515, 7519): base64url(header) "." base64url(claims)
// "." base64url(signature). Three algorithms, each from OpenSSL's libcrypto (RFC 7518, RFC 8037):
//   HS256  HMAC-SHA-256 with a shared secret
//   RS256  RSASSA-PKCS1-v1_5 with SHA-256 (the signer holds the private key, the verifier the public)
//   EdDSA  Ed25519
// The verifier trusts nothing in the token before its signature checks out: the header's alg must
// be the configured algorithm exactly (so neither "none" nor an HS256 token keyed with an RS256
// public key's bytes, the algorithm-confusion attack, gets through), then the signature, then exp,
// nbf and aud are read from the claims.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include <perflab/auth/errc.hpp>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace perflab::auth {

enum class algorithm : std::uint8_t { hs256, rs256, eddsa };
// The JOSE name, as the header's alg holds it: "HS256", "RS256", "EdDSA".
std::string_view jose_name(algorithm a) noexcept;
// "hs256", "rs256", "eddsa" (lower case, as lab-target's --auth jwt-<name> and the scenario's
// scheme jwt-<name> spell it).
std::optional<algorithm> parse_algorithm(std::string_view lower) noexcept;

// The key material of one algorithm: an HMAC secret, or an RSA / Ed25519 key (private: can sign
// and verify; public: verify only). Cheap to copy (the OpenSSL key is shared, and read-only).
class key {
 public:
  // HS256: the file's bytes are the secret (at least 32 of them, RFC 7518 3.2). RS256, EdDSA: a
  // PEM private key ("PRIVATE KEY") or public key ("PUBLIC KEY") of the algorithm's type (RSA of
  // at least 2048 bits). The error names the file and what was expected.
  static tl::expected<key, std::string> load(algorithm a, const std::filesystem::path& file);
  static tl::expected<key, std::string> from_secret(std::string secret);  // HS256
  // PEM text instead of a file (tests).
  static tl::expected<key, std::string> from_pem(algorithm a, std::string_view pem);
  // Fresh throwaway material: 32 random bytes, RSA 2048, or an Ed25519 pair.
  static tl::expected<key, std::string> generate(algorithm a);

  // HS256: the secret's bytes; RS256, EdDSA: the PEM private key (PKCS#8) / public key (SPKI).
  // Error: this key has no private part.
  tl::expected<std::string, std::string> private_pem() const;
  tl::expected<std::string, std::string> public_pem() const;
  algorithm alg() const noexcept { return alg_; }
  bool can_sign() const noexcept;

  const std::string& secret() const noexcept { return secret_; }  // HS256
  evp_pkey_st* pkey() const noexcept { return pkey_.get(); }       // RS256, EdDSA

 private:
  algorithm alg_ = algorithm::hs256;
  std::string secret_;
  std::shared_ptr<evp_pkey_st> pkey_;
  bool has_private_ = false;
};

// Writes a new key for a into private_file (0600) and what a verifier needs into public_file
// (HS256: the same secret; else the PEM public key). Parent folders are made.
tl::expected<void, std::string> write_key_pair(algorithm a, const std::filesystem::path& private_file,
                                               const std::filesystem::path& public_file);

// The claims a signer puts in a token (all times in seconds since the epoch).
struct claims {
  std::string sub;       // subject: the user
  std::string aud;       // audience: who the token is for (empty: no aud claim)
  std::int64_t iat = 0;  // issued at
  std::int64_t exp = 0;  // expires at
  std::optional<std::int64_t> nbf;  // not before (absent: valid from the start)
};

// The compact token for c, signed with k (which must be able to sign). Error: OpenSSL's reason.
tl::expected<std::string, std::string> sign(const key& k, const claims& c);

struct verify_options {
  std::string audience;                    // aud must be (or, as an array, hold) this; empty: aud not checked
  std::chrono::seconds leeway{30};         // clock skew allowed on exp and nbf (RFC 7519 4.1.4)
};

// Verifies tokens against one key and algorithm. Thread-safe (const, no shared mutable state).
class verifier {
 public:
  verifier(key k, verify_options o) : key_(std::move(k)), opts_(std::move(o)) {}
  // Nothing (accepted) or the first reason to refuse token at now_s (seconds since the epoch), in
  // this order: malformed framing or header, wrong_alg, malformed signature, bad_signature, then
  // the claims (malformed, expired, not_yet_valid, wrong_audience). exp is required.
  tl::expected<void, errc> verify(std::string_view token, std::int64_t now_s) const;
  const key& signing_key() const noexcept { return key_; }

 private:
  key key_;
  verify_options opts_;
};

}  // namespace perflab::auth
