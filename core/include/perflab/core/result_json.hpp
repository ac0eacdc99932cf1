#pragma once
// run.json's JSON form of the result data model (result.hpp): nlohmann::json conversions for every
// type, with defaults for fields an older schema lacks. Kept apart from result.hpp because
// nlohmann/json.hpp costs seconds of compile time in every file that includes it.
#include <nlohmann/json.hpp>

#include "perflab/core/result.hpp"

namespace perflab::result {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(latency_summary, count, too_large, min_us, mean_us, stddev_us,
                                                p50_us, p90_us, p99_us, p999_us, max_us)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(error_counts, connect_refused, connect_timeout, connect_other,
                                                reset, read_timeout, closed_mid_response, malformed, unsolicited,
                                                io_other, client_resources, status_4xx, status_5xx, verify_failed, tls,
                                                grpc_status, grpc_missing, follow_timeout, cors_refused)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(cache_counts, hit, miss, stale, other)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(second_point, t_s, length_s, phase, sent, completed, succeeded,
                                                errors, ttlb_p50_us, ttlb_p99_us, target_rate, in_flight, retries,
                                                attempts, client_retries, stalled, cache_hit, cache_miss, cache_stale, cache_other,
                                                cache_hit_ratio, bytes_in, bytes_out, status_2xx, status_3xx,
                                                status_4xx, status_5xx, conn_errors, statuses, delivered,
                                                delivery_p50_us, delivery_p99_us)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(stage, duration_s, target_rate)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(load_model, kind, arrival, rate, stages, connections,
                                                think_time_s, duration_s, warmup_s, max_requests, keepalive,
                                                connect_timeout_s, request_timeout_s, threads, cpus, success,
                                                max_error_rate, retry, engine, http, tls_resume, auth, grpc, follow, cors, style, subscribers, topics,
                                                publish_rate, poll_interval_s, poll_timeout_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(loadgen_health, cpu_user_s, cpu_system_s, cpu_per_request_us,
                                                send_lag_bound_us, saturated)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(target_info, spawned, url, model, params, cpus, cpu_user_s,
                                                cpu_system_s, peak_rss_bytes, threads, crashed, exit_status, name,
                                                requests)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(timed_event, kind, target, spec, restored, method, path, at_s,
                                                duration_s, start_s, end_s, status, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(metric_series, target, metric, points)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(rank_summary, rank, host, rate, connections, threads, sent, completed,
                                                succeeded, errors, send_lag_p99_us, ttlb_p99_us, saturated, lost, cpu_s,
                                                clock_offset_us, clock_rtt_us)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(counter_delta, metric, before, after, delta, found)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(threshold_verdict, expression, actual, limit, passed)
// A variant has more fields than nlohmann's macros take (63), so its conversions run them in two
// lists, in the order of result.hpp.
#define PERFLAB_VARIANT_FIELDS_1 \
  name, params, repeat, complete, incomplete_reason, load, measured_s, sent, completed, succeeded, \
  completed_in_window, succeeded_in_window, carried_in, stalled, unsent, abandoned, retries, attempts, \
  client_retries, retried_succeeded, retries_exhausted, preflights, tps_mean, rps_mean, connections_opened, \
  connections_warmup, streams_peak, errors, error_rate, connect, ttfb, ttlb, ttfb_uncorrected, ttlb_uncorrected
#define PERFLAB_VARIANT_FIELDS_2 \
  send_lag, tls_handshake, curl_start_transfer, accepted, follow_polls, followed, cache, cache_hit_ratio, bytes_in, bytes_out, mb_in_per_s, \
  mb_out_per_s, bytes_per_response, tcp_bytes_in, tcp_bytes_out, tcp_bytes_per_response, published, expected, received, lost, duplicated, out_of_order, \
  reconnects, delivery, reconnect_gap, requests_per_delivered, bytes_per_delivered, series, loadgen, target, statuses, grpc_statuses, \
  dependencies, events, target_metrics, target_counters, thresholds, interval_log, series_csv, stopped_early, stop_condition, ranks
inline void to_json(nlohmann::json& nlohmann_json_j, const variant& nlohmann_json_t) {
  NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(NLOHMANN_JSON_TO, PERFLAB_VARIANT_FIELDS_1))
  NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(NLOHMANN_JSON_TO, PERFLAB_VARIANT_FIELDS_2))
}
inline void from_json(const nlohmann::json& nlohmann_json_j, variant& nlohmann_json_t) {
  const variant nlohmann_json_default_obj;
  NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(NLOHMANN_JSON_FROM_WITH_DEFAULT, PERFLAB_VARIANT_FIELDS_1))
  NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(NLOHMANN_JSON_FROM_WITH_DEFAULT, PERFLAB_VARIANT_FIELDS_2))
}
#undef PERFLAB_VARIANT_FIELDS_1
#undef PERFLAB_VARIANT_FIELDS_2
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(search_step, value, outcome, marginal, reason, objective, run)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(search_result, variant, repeat, variable, unit, objective, range_low,
                                                range_high, resolution, confirmations, verdict, capacity, band_low,
                                                band_high, reason, steps)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(tool_info, name, version, commit, build_type)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(host_info, kernel, cpu_model, cpus, hostname)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(run, schema, tool, host, started_at, scenario_name, scenario_path,
                                                scenario_text, overrides, complete, variants, searches)

}  // namespace perflab::result
