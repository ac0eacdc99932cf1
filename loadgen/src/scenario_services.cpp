// [[service]]: backing servers for a scenario's run, through scripts/services.sh (see
// scenario_services.hpp).
#include "scenario_services.hpp"

#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "dependencies.hpp"
#include "perflab/loadgen/spawn.hpp"

namespace perflab::loadgen::detail {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path services_script() {
  if (const char* env = std::getenv("PERFLAB_SERVICES"); env && *env) return env;
  return fs::path(PERFLAB_SOURCE_ROOT) / "scripts" / "services.sh";
}

namespace {

// Waits for the child to end by itself (up to timeout, then SIGTERM) and reaps it.
exit_info wait_exit(child_process& child, std::chrono::nanoseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!child.poll_exit() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
  return child.stop(5s);
}

// Runs services.sh with args; its stdout's first line (the URL for start) or an error naming the
// exit status. Starting may install a package first (apt-get): minutes, not seconds.
tl::expected<std::string, std::string> run_script(const fs::path& script, std::vector<std::string> args,
                                                  const fs::path& log) {
  auto child = child_process::spawn(spawn_options{script, std::move(args), {}, log});
  if (!child) return tl::unexpected(child.error());
  auto line = child->read_first_line(600s);
  const exit_info e = wait_exit(*child, 60s);
  if (e.exited && e.code == 3)
    return tl::unexpected(fmt::format("its package is missing and cannot be installed here (see {})", log.string()));
  if (!line || !e.success())
    return tl::unexpected(fmt::format("{} ended with {} (see {})", script.filename().string(), e.text(), log.string()));
  return *line;
}

}  // namespace

service_set::~service_set() { stop(); }

tl::expected<void, std::string> service_set::start(const std::vector<service_spec>& services,
                                                   const std::string& run_name, const fs::path& log) {
  if (services.empty()) return {};
  script_ = services_script();
  if (!fs::exists(script_))
    return tl::unexpected(fmt::format("[[service]] needs {} (set PERFLAB_SERVICES to scripts/services.sh of a "
                                      "perflab checkout)", script_.string()));
  for (const service_spec& s : services) {
    instance in;
    in.spec = s;
    in.instance_name = fmt::format("{}-{}-{}", run_name, ::getpid(), s.name);
    std::vector<std::string> args{"start", s.kind, "--name", in.instance_name};
    if (s.access_log) args.emplace_back("--access-log");
    auto url = run_script(script_, std::move(args), log);
    if (!url) return tl::unexpected(fmt::format("service \"{}\" ({}): {}", s.name, s.kind, url.error()));
    in.url = *url;
    in.dir = script_.parent_path().parent_path() / "build" / "services" / in.instance_name;
    running_.push_back(std::move(in));
  }
  return {};
}

void service_set::stop() {
  while (!running_.empty()) {
    const instance& in = running_.back();
    auto child = child_process::spawn(spawn_options{script_, {"stop", in.instance_name}, {}, {}});
    if (child) wait_exit(*child, 60s);
    running_.pop_back();
  }
}

void service_set::apply(variant_spec& v) const {
  if (running_.empty()) return;
  std::map<std::string, std::string> urls;
  for (const instance& in : running_) urls[in.spec.name] = in.url;
  // A target whose url names a service (target_spec::service, set by the parser): its URL, its
  // pid file, and for the measured target over TLS its certificate.
  auto fill = [&](target_spec& t, bool measured) {
    for (auto& [key, value] : t.params) value = substitute_urls(value, urls);
    if (t.spawn || t.service.empty()) return;
    for (const instance& in : running_) {
      if (in.spec.name != t.service) continue;
      t.url = in.url;
      if (t.pid_file.empty()) t.pid_file = (in.dir / "pid").string();
      if (measured && t.url.starts_with("https://") && v.load.cacert.empty() && !v.load.insecure)
        v.load.cacert = (in.dir / "cert.pem").string();
    }
  };
  for (auto& d : v.dependencies) fill(d, false);
  fill(v.target, true);
}

}  // namespace perflab::loadgen::detail
