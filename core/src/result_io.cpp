#include "perflab/core/result_io.hpp"
#include "perflab/core/build_info.hpp"
#include "perflab/core/result_json.hpp"
#include "perflab/core/text.hpp"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include <fmt/format.h>

namespace perflab::result {
namespace {

std::string os_error(int err) { return std::strerror(err); }

// Writes all of `data` to fd, retrying short writes and EINTR.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::tm utc_now_tm(long& millis) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  millis = static_cast<long>(duration_cast<milliseconds>(now - secs).count());
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

}  // namespace

tl::expected<void, std::string> write_run_json(const std::filesystem::path& file, const run& r) {
  std::string text;
  try {
    text = nlohmann::json(r).dump(2);
  } catch (const nlohmann::json::exception& e) {
    // Only invalid UTF-8 in a string (e.g. a scenario file) can make dump() throw.
    return tl::make_unexpected(fmt::format("{}: cannot serialize results: {}", file.string(), e.what()));
  }
  text.push_back('\n');

  // The temporary sits in the same directory so rename() is atomic (same file system).
  auto dir = file.parent_path();
  auto tmp = (dir.empty() ? std::filesystem::path(".") : dir) /
             fmt::format(".{}.tmp.{}", file.filename().string(), ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return tl::make_unexpected(fmt::format("{}: cannot create {}: {}", file.string(), tmp.string(), os_error(errno)));
  }
  bool ok = write_all(fd, text);
  int err = ok ? 0 : errno;
  // fsync before rename: otherwise a crash can leave the new name pointing at an empty file.
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    err = errno;
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return tl::make_unexpected(fmt::format("{}: cannot write: {}", file.string(), os_error(err)));
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return tl::make_unexpected(fmt::format("{}: cannot rename {} into place: {}", file.string(), tmp.string(),
                                           os_error(err)));
  }
  return {};
}

tl::expected<run, std::string> read_run_json(const std::filesystem::path& path) {
  std::error_code ec;
  auto file = std::filesystem::is_directory(path, ec) ? path / "run.json" : path;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return tl::make_unexpected(fmt::format("{}: cannot open: {}", file.string(), os_error(errno)));
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return tl::make_unexpected(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
  if (!j.is_object()) {
    return tl::make_unexpected(fmt::format("{}: not a perflab run (top level is not an object)", file.string()));
  }
  if (!j.contains("variants") || !j.contains("schema")) {
    return tl::make_unexpected(fmt::format("{}: not a perflab run (no \"schema\" or \"variants\")", file.string()));
  }
  if (!j["schema"].is_number_integer()) {
    return tl::make_unexpected(fmt::format("{}: \"schema\" must be an integer", file.string()));
  }
  if (int v = j["schema"].get<int>(); v > schema_version || v < 1) {
    return tl::make_unexpected(fmt::format("{}: schema version {} is not supported (this build reads 1..{})",
                                           file.string(), v, schema_version));
  }
  try {
    run r = j.get<run>();
    if (r.schema == 1) {
      // Schema 1 had one throughput figure, all responses per second over the measured phase.
      // Its goodput is unknown: kept as that figure, so old runs compare as they did.
      for (auto& v : r.variants) {
        v.rps_mean = v.tps_mean;
        v.succeeded = v.completed - v.errors.status_4xx - v.errors.status_5xx;
      }
    }
    if (r.schema < 7) {
      // Before client retries every write was a first send.
      for (auto& v : r.variants) {
        v.attempts = v.sent;
        for (auto& p : v.series) p.attempts = p.sent;
      }
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return tl::make_unexpected(fmt::format("{}: unexpected content: {}", file.string(), e.what()));
  }
}

host_info detect_host() {
  host_info h;
  struct utsname u {};
  if (::uname(&u) == 0) h.kernel = fmt::format("{} {}", u.sysname, u.release);
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    // x86 says "model name"; some ARM kernels only give "Hardware" or "Model".
    if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0 || line.rfind("Hardware", 0) == 0) {
      if (auto colon = line.find(':'); colon != std::string::npos) {
        h.cpu_model = std::string(trim(std::string_view(line).substr(colon + 1)));
        break;
      }
    }
  }
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  h.cpus = n > 0 ? static_cast<int>(n) : static_cast<int>(std::thread::hardware_concurrency());
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) == 0) h.hostname = name;
  return h;
}

run single_variant_run(std::string started_at, variant v) {
  run r;
  r.tool = this_tool();
  r.host = detect_host();
  r.started_at = std::move(started_at);
  r.complete = v.complete;
  r.variants.push_back(std::move(v));
  return r;
}

tool_info this_tool() {
  tool_info t;
  t.name = "perflab";
  t.version = build_info::version();
  t.commit = build_info::commit();
#if defined(NDEBUG)
  t.build_type = "release";
#else
  t.build_type = "debug";
#endif
#if defined(PERFLAB_SANITIZED)
  t.build_type += "+sanitized";
#endif
  return t;
}

std::string utc_timestamp() {
  long ms = 0;
  std::tm tm = utc_now_tm(ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string utc_folder_stamp() {
  long ms = 0;
  std::tm tm = utc_now_tm(ms);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

latency_summary summarize(const histogram& h) {
  latency_summary s;
  s.too_large = h.too_large();
  if (h.empty()) return s;
  constexpr double us = 1000.0;
  s.count = h.total_count();
  s.min_us = static_cast<double>(h.min()) / us;
  s.mean_us = h.mean() / us;
  s.stddev_us = h.stddev() / us;
  s.p50_us = static_cast<double>(h.value_at_percentile(50.0)) / us;
  s.p90_us = static_cast<double>(h.value_at_percentile(90.0)) / us;
  s.p99_us = static_cast<double>(h.value_at_percentile(99.0)) / us;
  s.p999_us = static_cast<double>(h.value_at_percentile(99.9)) / us;
  s.max_us = static_cast<double>(h.max()) / us;
  return s;
}

}  // namespace perflab::result
