// Key material through OpenSSL 3's EVP API: loading PEM keys (PKCS#8 / SPKI), generating
// throwaway ones, writing them back as PEM.
#include <perflab/auth/jwt.hpp>

#include "jose.hpp"

#include <fstream>
#include <iterator>
#include <system_error>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <sys/stat.h>

namespace perflab::auth {

namespace {

constexpr std::size_t min_hmac_secret = 32;  // RFC 7518 3.2: a key at least as long as the hash
constexpr int min_rsa_bits = 2048;           // RFC 7518 3.3

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

tl::expected<std::string, std::string> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return tl::unexpected(file.string() + ": cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string bio_text(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// The type the algorithm needs, and its size rule.
tl::expected<void, std::string> check_type(algorithm a, EVP_PKEY* k) {
  if (a == algorithm::rs256) {
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) return tl::unexpected(std::string("RS256 needs an RSA key"));
    if (EVP_PKEY_get_bits(k) < min_rsa_bits)
      return tl::unexpected("RS256 needs an RSA key of at least 2048 bits, not " + std::to_string(EVP_PKEY_get_bits(k)));
  } else if (a == algorithm::eddsa && EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
    return tl::unexpected(std::string("EdDSA needs an Ed25519 key"));
  }
  return {};
}

tl::expected<void, std::string> write_text(const std::filesystem::path& file, const std::string& text, bool secret) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) return tl::unexpected(file.string() + ": cannot be written");
  out << text;
  out.close();
  if (!out) return tl::unexpected(file.string() + ": cannot be written");
  if (secret) ::chmod(file.c_str(), 0600);
  return {};
}

}  // namespace

std::string_view jose_name(algorithm a) noexcept {
  switch (a) {
    case algorithm::hs256: return "HS256";
    case algorithm::rs256: return "RS256";
    case algorithm::eddsa: return "EdDSA";
  }
  return "";
}

std::optional<algorithm> parse_algorithm(std::string_view lower) noexcept {
  if (lower == "hs256") return algorithm::hs256;
  if (lower == "rs256") return algorithm::rs256;
  if (lower == "eddsa") return algorithm::eddsa;
  return std::nullopt;
}

tl::expected<key, std::string> key::from_secret(std::string secret) {
  if (secret.size() < min_hmac_secret)
    return tl::unexpected("an HS256 secret needs at least 32 bytes, not " + std::to_string(secret.size()));
  key k;
  k.alg_ = algorithm::hs256;
  k.secret_ = std::move(secret);
  k.has_private_ = true;
  return k;
}

tl::expected<key, std::string> key::from_pem(algorithm a, std::string_view pem) {
  if (a == algorithm::hs256) return from_secret(std::string(pem));
  key k;
  k.alg_ = a;
  bio_ptr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!b) return tl::unexpected(openssl_reason());
  const bool is_private = pem.find("PRIVATE KEY-----") != std::string_view::npos;
  EVP_PKEY* raw = is_private ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr)
                             : PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr);
  if (!raw)
    return tl::unexpected("not a PEM " + std::string(is_private ? "private" : "public") + " key (" + openssl_reason() + ")");
  k.pkey_ = own(raw);
  k.has_private_ = is_private;
  if (auto ok = check_type(a, raw); !ok) return tl::unexpected(ok.error());
  return k;
}

tl::expected<key, std::string> key::load(algorithm a, const std::filesystem::path& file) {
  auto text = read_file(file);
  if (!text) return tl::unexpected(text.error());
  auto k = from_pem(a, *text);
  if (!k) return tl::unexpected(file.string() + ": " + k.error());
  return k;
}

tl::expected<key, std::string> key::generate(algorithm a) {
  if (a == algorithm::hs256) {
    std::string random(48, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), static_cast<int>(random.size())) != 1)
      return tl::unexpected(openssl_reason());
    // Printable (64 base64url characters of 384 random bits): the file can be read and passed around.
    std::string printable;
    jose::base64url_encode(random, printable);
    return from_secret(std::move(printable));
  }
  EVP_PKEY* raw = a == algorithm::rs256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(min_rsa_bits))
                                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!raw) return tl::unexpected(openssl_reason());
  key k;
  k.alg_ = a;
  k.pkey_ = own(raw);
  k.has_private_ = true;
  return k;
}

bool key::can_sign() const noexcept { return has_private_; }

tl::expected<std::string, std::string> key::private_pem() const {
  if (alg_ == algorithm::hs256) return secret_;
  if (!has_private_) return tl::unexpected(std::string("this key has no private part"));
  bio_ptr b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_PrivateKey(b.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return tl::unexpected(openssl_reason());
  return bio_text(b.get());
}

tl::expected<std::string, std::string> key::public_pem() const {
  if (alg_ == algorithm::hs256) return secret_;
  bio_ptr b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_PUBKEY(b.get(), pkey_.get()) != 1) return tl::unexpected(openssl_reason());
  return bio_text(b.get());
}

tl::expected<void, std::string> write_key_pair(algorithm a, const std::filesystem::path& private_file,
                                               const std::filesystem::path& public_file) {
  auto k = key::generate(a);
  if (!k) return tl::unexpected(k.error());
  auto priv = k->private_pem();
  auto pub = k->public_pem();
  if (!priv) return tl::unexpected(priv.error());
  if (!pub) return tl::unexpected(pub.error());
  if (auto ok = write_text(private_file, *priv, true); !ok) return ok;
  return write_text(public_file, *pub, a == algorithm::hs256);
}

}  // namespace perflab::auth
