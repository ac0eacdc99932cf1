#include "perflab/core/verdict.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "perflab/core/exit_codes.hpp"
#include "perflab/core/text.hpp"

namespace perflab::result {

success_statuses::success_statuses() : text_("2xx,3xx") {
  for (int s = 200; s < 400; ++s) set_.set(static_cast<std::size_t>(s));
}

tl::expected<success_statuses, std::string> success_statuses::parse(std::string_view list) {
  success_statuses out;
  out.set_.reset();
  out.text_.clear();
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string item(perflab::trim(list.substr(pos, comma - pos)));
    pos = comma + 1;
    if (item.empty()) return tl::unexpected(fmt::format("empty item in status list '{}' (expected e.g. \"2xx,3xx,404\")", list));
    if (item.size() == 3 && item[0] >= '1' && item[0] <= '5' && (item[1] == 'x' || item[1] == 'X') &&
        (item[2] == 'x' || item[2] == 'X')) {
      const int base = (item[0] - '0') * 100;
      for (int s = base; s < base + 100; ++s) out.set_.set(static_cast<std::size_t>(s));
      item[1] = item[2] = 'x';
    } else {
      int code = 0;
      auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), code);
      if (ec != std::errc() || p != item.data() + item.size() || code < 100 || code > 599)
        return tl::unexpected(fmt::format("'{}' in status list '{}' is not a status class (\"2xx\") or a code 100-599",
                                          item, list));
      out.set_.set(static_cast<std::size_t>(code));
    }
    out.text_ += (out.text_.empty() ? "" : ",") + item;
    if (comma == list.size()) break;
  }
  return out;
}

bool error_rate_exceeded(const variant& v) noexcept { return v.error_rate > v.load.max_error_rate; }

std::vector<std::string> status_flags(const variant& v) {
  std::vector<std::string> f;
  if (!v.complete) f.emplace_back("INCOMPLETE");
  if (v.target.crashed) f.emplace_back("TARGET CRASHED");
  if (v.loadgen.saturated) f.emplace_back("SATURATED");
  if (error_rate_exceeded(v)) f.emplace_back("ERRORS");
  if (v.stalled > 0) f.emplace_back("STALLED");
  if (std::any_of(v.thresholds.begin(), v.thresholds.end(), [](const auto& t) { return !t.passed; }))
    f.emplace_back("THRESHOLD FAILED");
  return f;
}

std::string status_word(const variant& v, std::string_view sep) {
  auto f = status_flags(v);
  if (f.empty()) return "ok";
  std::string s;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (i) s += sep;
    s += f[i];
  }
  return s;
}

int exit_code_of(const variant& v) {
  int rc = exit_code::ok;
  if (!v.complete) rc = exit_code::combine(rc, v.incomplete_reason == "interrupted" ? exit_code::interrupted
                                                                                     : exit_code::runtime_error);
  if (v.target.crashed) rc = exit_code::combine(rc, exit_code::runtime_error);
  if (v.loadgen.saturated) rc = exit_code::combine(rc, exit_code::saturated);
  if (error_rate_exceeded(v) || v.stalled > 0) rc = exit_code::combine(rc, exit_code::target_failing);
  for (const auto& t : v.thresholds)
    if (!t.passed) rc = exit_code::combine(rc, exit_code::thresholds_failed);
  return rc;
}

}  // namespace perflab::result
