#pragma once
// The option-spec grammar the resilience flags share: "HEAD,key=value,key=value" (HEAD may be
// "name:argument"). Internal to perflab::resilience.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::resilience::detail {

struct spec {
  std::string_view head;                                        // before the first ','
  std::vector<std::pair<std::string_view, std::string_view>> options;  // key=value, in order
};

// Splits on ',' and each option on its first '='. An option without '=' or with an empty key
// is an error quoting it; spaces around items are trimmed.
tl::expected<spec, std::string> split_spec(std::string_view text, std::string_view what);

// A whole number in [min, max] for `key` of option `what`; the error reads
// "what: key="value" must be a whole number >= min".
tl::expected<std::uint64_t, std::string> whole_number(std::string_view what, std::string_view key,
                                                      std::string_view value, std::uint64_t min,
                                                      std::uint64_t max = UINT32_MAX);

}  // namespace perflab::resilience::detail
