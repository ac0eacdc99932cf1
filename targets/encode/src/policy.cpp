#include <perflab/encode/policy.hpp>

#include <array>

namespace perflab::encode {

namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// "text/plain; charset=utf-8" -> "text/plain".
std::string_view media_type(std::string_view content_type) noexcept {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t'))
    content_type.remove_suffix(1);
  return content_type;
}

constexpr std::array<coding, 1> gzip_offer = {coding::gzip};
constexpr std::array<coding, 1> br_offer = {coding::br};
constexpr std::array<coding, 2> both_offer = {coding::br, coding::gzip};

}  // namespace

std::span<const coding> policy::offered() const noexcept {
  if (br_level > 0 && gzip_level > 0) return both_offer;
  if (br_level > 0) return br_offer;
  if (gzip_level > 0) return gzip_offer;
  return {};
}

bool policy::encodes_type(std::string_view content_type) const noexcept {
  const auto type = media_type(content_type);
  if (type.empty()) return false;
  for (const auto& t : types) {
    if (t == "*") return true;
    if (t.size() >= 2 && t.ends_with("/*")) {
      const std::string_view prefix(t.data(), t.size() - 1);  // "text/"
      if (type.size() > prefix.size() && iequals(type.substr(0, prefix.size()), prefix)) return true;
    } else if (iequals(type, t)) {
      return true;
    }
  }
  return false;
}

}  // namespace perflab::encode
