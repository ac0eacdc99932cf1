// Compact JWS signing and verification. The signature primitives are OpenSSL's: HMAC() for HS256,
// EVP_DigestSign/EVP_DigestVerify with SHA-256 (RSA's default padding is PKCS#1 v1.5) for RS256,
// and the one-shot EVP_DigestSign/EVP_DigestVerify without a digest for Ed25519 (RFC 8032 hashes
// internally). MACs are compared in constant time (CRYPTO_memcmp).
#include <perflab/auth/jwt.hpp>

#include "jose.hpp"

#include <fmt/format.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace perflab::auth {

namespace {

struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

// The EVP digest for the algorithm (EdDSA: none, Ed25519 takes the message whole).
const EVP_MD* digest_of(algorithm a) noexcept { return a == algorithm::rs256 ? EVP_sha256() : nullptr; }

bool hmac_sha256(const std::string& secret, std::string_view input, unsigned char (&mac)[EVP_MAX_MD_SIZE],
                 unsigned& len) noexcept {
  return HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len) != nullptr;
}

// Reused per thread: verification runs once per request, and must not allocate once warm.
struct scratch {
  std::string header, signature, claims, text;
};
scratch& local_scratch() {
  thread_local scratch s;
  return s;
}

}  // namespace

tl::expected<std::string, std::string> sign(const key& k, const claims& c) {
  if (!k.can_sign()) return tl::unexpected(std::string("this key cannot sign (a public key)"));
  // sub and aud go through JSON string escaping only for what they may hold (we make them).
  auto quoted = [](std::string_view s) {
    std::string q = "\"";
    for (const char ch : s) {
      if (ch == '"' || ch == '\\') q.push_back('\\');
      if (static_cast<unsigned char>(ch) < 0x20) {
        q += fmt::format("\\u{:04x}", static_cast<unsigned char>(ch));
        continue;
      }
      q.push_back(ch);
    }
    return q + "\"";
  };
  const std::string header = fmt::format(R"({{"alg":"{}","typ":"JWT"}})", jose_name(k.alg()));
  std::string payload = fmt::format(R"({{"sub":{})", quoted(c.sub));
  if (!c.aud.empty()) payload += fmt::format(R"(,"aud":{})", quoted(c.aud));
  payload += fmt::format(R"(,"iat":{},"exp":{})", c.iat, c.exp);
  if (c.nbf) payload += fmt::format(R"(,"nbf":{})", *c.nbf);
  payload += "}";

  std::string token;
  jose::base64url_encode(header, token);
  token.push_back('.');
  jose::base64url_encode(payload, token);
  const std::string_view input(token);
  std::string sig;
  if (k.alg() == algorithm::hs256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!hmac_sha256(k.secret(), input, mac, len)) return tl::unexpected(std::string("HMAC failed"));
    sig.assign(reinterpret_cast<const char*>(mac), len);
  } else {
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digest_of(k.alg()), nullptr, k.pkey()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      return tl::unexpected(std::string("signing failed"));
    sig.resize(len);
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      return tl::unexpected(std::string("signing failed"));
    sig.resize(len);
  }
  token.push_back('.');
  jose::base64url_encode(sig, token);
  return token;
}

tl::expected<void, errc> verifier::verify(std::string_view token, std::int64_t now_s) const {
  using jose::json_value;
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos || dot1 == 0 ||
      dot2 == dot1 + 1)
    return tl::unexpected(errc::malformed);
  auto& s = local_scratch();

  // The header: only its alg decides anything, and only by equality with ours.
  if (!jose::base64url_decode(token.substr(0, dot1), s.header)) return tl::unexpected(errc::malformed);
  int algs = 0;
  bool alg_ok = false, crit = false;
  if (!jose::for_each_member(s.header, [&](std::string_view name, const json_value& v) {
        if (name == "alg") {
          ++algs;
          if (!jose::json_string(v, s.text)) return false;
          alg_ok = s.text == jose_name(key_.alg());
        } else if (name == "crit") {
          crit = true;  // extensions we must understand: we understand none
        }
        return true;
      }) ||
      algs != 1 || crit)
    return tl::unexpected(errc::malformed);
  if (!alg_ok) return tl::unexpected(errc::wrong_alg);

  // The signature over the encoded header and claims, as they stand in the token.
  const std::string_view input = token.substr(0, dot2);
  if (!jose::base64url_decode(token.substr(dot2 + 1), s.signature)) return tl::unexpected(errc::malformed);
  const auto* sig = reinterpret_cast<const unsigned char*>(s.signature.data());
  if (key_.alg() == algorithm::hs256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!hmac_sha256(key_.secret(), input, mac, len) || s.signature.size() != len ||
        CRYPTO_memcmp(mac, sig, len) != 0)
      return tl::unexpected(errc::bad_signature);
  } else {
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, digest_of(key_.alg()), nullptr, key_.pkey()) == 1 &&
                    EVP_DigestVerify(ctx.get(), sig, s.signature.size(),
                                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    ERR_clear_error();  // a failed verification leaves an error on the thread's queue
    if (!ok) return tl::unexpected(errc::bad_signature);
  }

  // The claims, now that they are known to be the signer's.
  if (!jose::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), s.claims)) return tl::unexpected(errc::malformed);
  std::optional<std::int64_t> exp, nbf;
  bool aud_seen = false, aud_ok = false;
  const bool parsed = jose::for_each_member(s.claims, [&](std::string_view name, const json_value& v) {
    std::int64_t t = 0;
    if (name == "exp" || name == "nbf") {
      auto& slot = name == "exp" ? exp : nbf;
      if (slot || !jose::json_int(v, t)) return false;  // twice, or not a NumericDate
      slot = t;
    } else if (name == "aud") {
      if (aud_seen) return false;
      aud_seen = true;
      if (v.which == json_value::kind::string) {
        if (!jose::json_string(v, s.text)) return false;
        aud_ok = s.text == opts_.audience;
      } else if (!jose::for_each_string(v, [&](std::string_view a) { aud_ok = aud_ok || a == opts_.audience; })) {
        return false;
      }
    }
    return true;
  });
  if (!parsed) return tl::unexpected(errc::malformed);
  const std::int64_t leeway = opts_.leeway.count();
  if (!exp || now_s >= *exp + leeway) return tl::unexpected(errc::expired);
  if (nbf && now_s + leeway < *nbf) return tl::unexpected(errc::not_yet_valid);
  if (!opts_.audience.empty() && !aud_ok) return tl::unexpected(errc::wrong_audience);
  return {};
}

}  // namespace perflab::auth
