// The report's "Outbox" table: for a target with --outbox-db, what its outbox's /metrics said at
// the runner's last scrape of the measured phase (outbox_* series in target_metrics): orders
// committed (each with its event) by its writers, events received by the consumer, still on their way, the duplicates it
// dropped, the events provably lost, the most events waiting to be relayed at a scrape, and the
// last relay restart's recovery time.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "report_parts.hpp"

namespace perflab::analysis::detail {

void add_outbox(document& doc, const std::vector<loaded_variant>& vars) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& lv : vars) {
    std::map<std::string, std::map<std::string, const std::vector<std::pair<double, double>>*>> by_target;
    for (const auto& m : lv.v->target_metrics)
      if (m.metric.rfind("outbox_", 0) == 0 && !m.points.empty()) by_target[m.target][m.metric] = &m.points;
    for (auto& [target, metrics] : by_target) {
      auto last = [&](const char* name) { return metrics.count(name) ? metrics[name]->back().second : -1.0; };
      auto count = [&](const char* name) {
        const double v = last(name);
        return v < 0 ? std::string("-") : fmt::format("{:.0f}", v);
      };
      double peak = -1;
      if (metrics.count("outbox_backlog"))
        for (const auto& [t, v] : *metrics["outbox_backlog"]) peak = std::max(peak, v);
      const double committed = last("outbox_orders"), consumed = last("outbox_consumed"), lost = last("outbox_lost");
      const std::string in_transit =
          committed < 0 || consumed < 0 ? "-" : fmt::format("{:.0f}", committed - consumed - std::max(0.0, lost));
      const double recovery = last("outbox_recovery_s");
      rows.push_back({lv.label, target.empty() ? "measured" : target, count("outbox_orders"), count("outbox_consumed"),
                      in_transit, count("outbox_duplicates"), count("outbox_lost"),
                      peak < 0 ? "-" : fmt::format("{:.0f}", peak),
                      recovery < 0 ? "-" : fmt::format("{:.3f}", recovery)});
    }
  }
  if (rows.empty()) return;
  doc.heading(2, "Outbox");
  doc.para("Each target's transactional outbox at the runner's last /metrics scrape of the measured phase: orders "
           "its writers committed (each with its event), distinct events the consumer received, those still on their way (committed, "
           "not received, not counted lost), stream entries the consumer dropped as duplicates, events marked sent "
           "over a second earlier that never arrived (lost), the most events waiting to be relayed at a scrape, and "
           "the time from the last relay restart until the consumer had every event that was waiting then.");
  doc.table({"variant", "target", "committed", "received", "in transit", "duplicates", "lost", "peak backlog",
             "recovery s"},
            std::move(rows));
}

}  // namespace perflab::analysis::detail
