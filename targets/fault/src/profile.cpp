#include <perflab/fault/profile.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include <fmt/format.h>

#include <perflab/core/text.hpp>
#include <perflab/core/units.hpp>

namespace perflab::fault {

namespace {

using tl::unexpected;
using std::chrono::nanoseconds;

// No wait longer than this (a /sleep's cap): a tail draw must not hold a connection for hours.
constexpr nanoseconds max_wait = std::chrono::minutes(10);

std::string strip_spaces(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '\t') out.push_back(c);
  return out;
}

tl::expected<nanoseconds, std::string> duration(std::string_view item, std::string_view text) {
  auto d = units::parse_duration(text);
  if (!d) return unexpected(fmt::format("\"{}\": {}", item, d.error()));
  if (*d > max_wait) return unexpected(fmt::format("\"{}\": at most 10m, got \"{}\"", item, text));
  return *d;
}

tl::expected<latency_dist, std::string> parse_latency(std::string_view item, std::string_view v) {
  const auto colon = v.find(':');
  const std::string_view kind = v.substr(0, colon);
  const std::string_view args = colon == v.npos ? std::string_view{} : v.substr(colon + 1);
  latency_dist l;
  const auto expected = fmt::format("\"{}\": expected latency=fixed:D, exp:MEAN, lognormal:MEDIAN,SIGMA or "
                                    "bimodal:P%:D,P%:D (e.g. bimodal:99%:5ms,1%:2s)", item);
  if (kind == "none" && args.empty()) return l;
  if (args.empty()) return unexpected(expected);
  if (kind == "fixed" || kind == "exp" || kind == "exponential") {
    auto d = duration(item, args);
    if (!d) return unexpected(d.error());
    l.which = kind == "fixed" ? latency_dist::kind::fixed : latency_dist::kind::exponential;
    l.scale = *d;
    return l;
  }
  if (kind == "lognormal") {
    const auto comma = args.find(',');
    if (comma == args.npos) return unexpected(expected);
    auto d = duration(item, args.substr(0, comma));
    if (!d) return unexpected(d.error());
    const auto s = args.substr(comma + 1);
    double sigma = -1;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), sigma);
    if (ec != std::errc{} || p != s.data() + s.size() || !(sigma >= 0) || sigma > 5)
      return unexpected(fmt::format("\"{}\": sigma must be a number from 0 to 5, got \"{}\"", item, s));
    l.which = latency_dist::kind::lognormal;
    l.scale = *d;
    l.sigma = sigma;
    return l;
  }
  if (kind == "bimodal" || kind == "mix") {
    double total = 0;
    std::size_t pos = 0;
    while (pos <= args.size()) {
      const auto comma = args.find(',', pos);
      const auto part = args.substr(pos, comma == args.npos ? args.npos : comma - pos);
      const auto c = part.find(':');
      if (c == part.npos) return unexpected(expected);
      auto w = units::parse_fraction(part.substr(0, c));
      if (!w) return unexpected(fmt::format("\"{}\": weight {}", item, w.error()));
      auto d = duration(item, part.substr(c + 1));
      if (!d) return unexpected(d.error());
      l.parts.push_back({*w, *d});
      total += *w;
      if (comma == args.npos) break;
      pos = comma + 1;
    }
    if (std::abs(total - 1.0) > 1e-6)
      return unexpected(fmt::format("\"{}\": the weights add up to {:g}%, not 100%", item, total * 100));
    l.which = latency_dist::kind::mixture;
    return l;
  }
  return unexpected(expected);
}

std::string fraction_text(double f) { return fmt::format("{:g}", f); }

std::string canonical(const profile& p) {
  std::vector<std::string> items;
  const auto& l = p.latency;
  switch (l.which) {
    case latency_dist::kind::none: break;
    case latency_dist::kind::fixed: items.push_back("latency=fixed:" + units::format_duration(l.scale)); break;
    case latency_dist::kind::exponential: items.push_back("latency=exp:" + units::format_duration(l.scale)); break;
    case latency_dist::kind::lognormal:
      items.push_back(fmt::format("latency=lognormal:{},{:g}", units::format_duration(l.scale), l.sigma));
      break;
    case latency_dist::kind::mixture: {
      std::string s = "latency=bimodal:";
      for (std::size_t i = 0; i < l.parts.size(); ++i)
        s += fmt::format("{}{:g}%:{}", i ? "," : "", l.parts[i].weight * 100, units::format_duration(l.parts[i].value));
      items.push_back(s);
      break;
    }
  }
  if (p.error_rate > 0) items.push_back(fmt::format("error={}:{}", fraction_text(p.error_rate), p.error_status));
  if (p.reset_rate > 0) items.push_back("reset=" + fraction_text(p.reset_rate));
  if (p.reset_after_rate > 0) items.push_back("reset-after=" + fraction_text(p.reset_after_rate));
  if (p.drip_bytes > 0)
    items.push_back(fmt::format("drip={}B/{}", p.drip_bytes, units::format_duration(p.drip_interval)));
  if (items.empty()) return "none";
  if (p.seed != 1) items.push_back(fmt::format("seed={}", p.seed));
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ";") + i;
  return out;
}

tl::expected<void, std::string> parse_item(std::string_view item, profile& p) {
  if (item == "none") return {};
  const auto eq = item.find('=');
  if (eq == item.npos)
    return unexpected(fmt::format("\"{}\" is not KEY=VALUE (keys: latency, error, reset, reset-after, drip, seed)", item));
  const auto key = item.substr(0, eq);
  const std::string value = strip_spaces(item.substr(eq + 1));
  const std::string_view v = value;
  if (key == "latency") {
    auto l = parse_latency(item, v);
    if (!l) return unexpected(l.error());
    p.latency = std::move(*l);
    return {};
  }
  if (key == "error") {
    const auto colon = v.find(':');
    auto rate = units::parse_fraction(v.substr(0, colon));
    if (!rate) return unexpected(fmt::format("\"{}\": rate {}", item, rate.error()));
    p.error_rate = *rate;
    if (colon != v.npos) {
      const auto s = v.substr(colon + 1);
      int status = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), status);
      if (ec != std::errc{} || ptr != s.data() + s.size() || status < 400 || status > 599)
        return unexpected(fmt::format("\"{}\": status must be 400..599, got \"{}\"", item, s));
      p.error_status = status;
    }
    return {};
  }
  if (key == "reset" || key == "reset-after") {
    auto rate = units::parse_fraction(v);
    if (!rate) return unexpected(fmt::format("\"{}\": rate {}", item, rate.error()));
    (key == "reset" ? p.reset_rate : p.reset_after_rate) = *rate;
    return {};
  }
  if (key == "drip") {
    const auto slash = v.find('/');
    if (slash == v.npos) return unexpected(fmt::format("\"{}\": expected drip=BYTES/INTERVAL, e.g. 100B/10ms or 1KiB/s", item));
    auto bytes = units::parse_size(v.substr(0, slash));
    if (!bytes || *bytes == 0)
      return unexpected(fmt::format("\"{}\": bytes {}", item, bytes ? "must be at least 1" : bytes.error()));
    std::string interval(v.substr(slash + 1));
    if (!interval.empty() && !(interval[0] >= '0' && interval[0] <= '9')) interval = "1" + interval;  // "/s"
    auto d = duration(item, interval);
    if (!d) return unexpected(d.error());
    if (d->count() <= 0) return unexpected(fmt::format("\"{}\": the interval must be more than 0", item));
    p.drip_bytes = *bytes;
    p.drip_interval = *d;
    return {};
  }
  if (key == "seed") {
    std::uint64_t s = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
    if (v.empty() || ec != std::errc{} || ptr != v.data() + v.size())
      return unexpected(fmt::format("\"{}\": seed must be a whole number", item));
    p.seed = s;
    return {};
  }
  return unexpected(fmt::format("\"{}\": unknown key \"{}\" (keys: latency, error, reset, reset-after, drip, seed)", item, key));
}

}  // namespace

nanoseconds latency_dist::sample(double u1, double u2) const noexcept {
  double ns = 0;
  switch (which) {
    case kind::none: return {};
    case kind::fixed: return scale;
    case kind::exponential: ns = -static_cast<double>(scale.count()) * std::log1p(-u1); break;
    case kind::lognormal: {
      const double z = std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2 * std::numbers::pi * u2);
      ns = static_cast<double>(scale.count()) * std::exp(sigma * z);
      break;
    }
    case kind::mixture: {
      double acc = 0;
      for (const auto& p : parts) {
        acc += p.weight;
        if (u1 < acc) return p.value;
      }
      return parts.empty() ? nanoseconds{} : parts.back().value;
    }
  }
  if (!(ns < static_cast<double>(max_wait.count()))) return max_wait;
  return nanoseconds(static_cast<std::int64_t>(ns));
}

nanoseconds latency_dist::mean() const noexcept {
  switch (which) {
    case kind::none: return {};
    case kind::fixed:
    case kind::exponential: return scale;
    case kind::lognormal: return nanoseconds(static_cast<std::int64_t>(static_cast<double>(scale.count()) * std::exp(sigma * sigma / 2)));
    case kind::mixture: {
      double m = 0;
      for (const auto& p : parts) m += p.weight * static_cast<double>(p.value.count());
      return nanoseconds(static_cast<std::int64_t>(m));
    }
  }
  return {};
}

tl::expected<profile, std::string> parse_profile(std::string_view spec) {
  profile p;
  std::size_t pos = 0;
  while (pos < spec.size()) {
    std::size_t end = spec.find_first_of(";\n", pos);
    if (end == spec.npos) end = spec.size();
    std::string_view item = spec.substr(pos, end - pos);
    if (const auto hash = item.find('#'); hash != item.npos) item = item.substr(0, hash);
    item = trim(item);
    if (!item.empty()) {
      if (auto ok = parse_item(item, p); !ok) return unexpected(ok.error());
    }
    pos = end + 1;
  }
  if (const double sum = p.error_rate + p.reset_rate + p.reset_after_rate; sum > 1.0 + 1e-9)
    return unexpected(fmt::format("error, reset and reset-after rates add up to {:g}, more than 1", sum));
  p.spec = canonical(p);
  return p;
}

tl::expected<profile, std::string> load_profile(std::string_view file_or_spec) {
  const std::string name(file_or_spec);
  std::ifstream in(name);
  if (in && file_or_spec.find('=') == file_or_spec.npos) {
    std::ostringstream text;
    text << in.rdbuf();
    auto p = parse_profile(text.str());
    if (!p) return unexpected(fmt::format("--fault-profile: {}: {}", name, p.error()));
    return p;
  }
  auto p = parse_profile(file_or_spec);
  if (!p) {
    if (file_or_spec.find('=') == file_or_spec.npos && file_or_spec != "none")
      return unexpected(fmt::format("--fault-profile: \"{}\" is neither a readable file nor a spec "
                                    "(e.g. latency=fixed:5ms;error=0.1:503)", name));
    return unexpected("--fault-profile: " + p.error());
  }
  return p;
}

}  // namespace perflab::fault
