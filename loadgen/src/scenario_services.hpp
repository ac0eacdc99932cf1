#pragma once
// Internal to the scenario runner: a scenario's [[service]] entries (docs/scenarios.md,
// "Services"): backing servers scripts/services.sh starts for the run (PostgreSQL, Redis, a TLS
// web server), before the first variant, and stops after the last, whatever ended the run.
// "{name}" in any target option, or as target.url, becomes the service's URL.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/loadgen/scenario.hpp"

namespace perflab::loadgen::detail {

// scripts/services.sh of the source tree this loadgen was built from (the PERFLAB_SERVICES
// environment variable names another one).
std::filesystem::path services_script();

class service_set {
 public:
  service_set() = default;
  service_set(const service_set&) = delete;
  service_set& operator=(const service_set&) = delete;
  ~service_set();  // stops what it started

  // Starts each service as `services.sh start KIND --name <instance>`, the instance named after
  // the run (so runs side by side do not share one); what the script says goes to `log`. Error:
  // which service and why (the ones already started are stopped by the destructor).
  tl::expected<void, std::string> start(const std::vector<service_spec>& services, const std::string& run_name,
                                        const std::filesystem::path& log);
  // Stops every service started (last first); then none is left.
  void stop();

  // The variant with "{name}" replaced in its targets' options, and a target.url naming a
  // service made its URL, with the service's pid file (for its CPU) and, over TLS, its
  // certificate as the load's CA (unless the scenario gives cacert or insecure).
  void apply(variant_spec& v) const;

 private:
  struct instance {
    service_spec spec;
    std::string instance_name, url;
    std::filesystem::path dir;  // build/services/<instance>
  };
  std::filesystem::path script_;
  std::vector<instance> running_;
};

}  // namespace perflab::loadgen::detail
