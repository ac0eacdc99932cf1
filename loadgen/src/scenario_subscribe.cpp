// [load] model = "subscribe": push delivery from a scenario (perflab/loadgen/subscribe.hpp), the
// same measurement as `loadgen subscribe`. Each value is checked where it is written
// (file:line:column and what was expected), with the bounds the command line uses.
#include "scenario_reader.hpp"

namespace perflab::loadgen::detail {
namespace {

// The [load] keys of a subscribe load, and the ones only it has (refused for open and closed).
const std::vector<std::string> k_subscribe_load_keys = {
    "model", "style", "subscribers", "topics", "publish_rate", "message_size", "connect_rate", "poll_interval",
    "poll_timeout", "duration", "drain_timeout", "connect_timeout", "cpu"};
const std::vector<std::string> k_subscribe_only_keys = {"style", "subscribers", "topics", "publish_rate",
                                                        "message_size", "connect_rate", "poll_interval",
                                                        "poll_timeout"};

}  // namespace

const std::vector<std::string>& subscribe_only_load_keys() { return k_subscribe_only_keys; }

std::optional<subscribe_config> read_subscribe(const toml_reader& r, const toml::table& root, const run_config& load) {
  if (load.kind != "subscribe") return std::nullopt;
  const toml::table& t = *root.get_as<toml::table>("load");  // model = "subscribe" was read from it
  for (auto&& [k, v] : t) {
    if (!contains(k_subscribe_load_keys, k.str()))
      fail(r.where(k, v), fmt::format("load.{} does not apply to model = \"subscribe\" (its keys: {})", k.str(),
                                      join(k_subscribe_load_keys)));
  }
  for (const char* table : {"request", "keys", "search"}) {
    if (const toml::node* n = root.get(table))
      fail(r.where(*n), fmt::format("[{}] does not apply to [load] model = \"subscribe\": the subscribers send no "
                                    "requests of a mix (the built-in publisher posts to each topic)",
                                    table));
  }
  subscribe_config c;
  if (auto n = t.get("style")) {
    c.style = r.as_string(*n, "load.style");
    if (c.style != "sse" && c.style != "long-poll" && c.style != "short-poll" && c.style != "ws")
      fail(r.where(*n), fmt::format("load.style: expected \"sse\", \"long-poll\", \"short-poll\" or \"ws\", found \"{}\"", c.style));
  }
  if (auto n = t.get("subscribers")) c.subscribers = r.as_int(*n, "load.subscribers", 1, 1'000'000);
  if (auto n = t.get("topics")) c.topics = r.as_int(*n, "load.topics", 1, 100'000);
  if (auto n = t.get("publish_rate")) {
    c.publish_rate = r.as_rate(*n, "load.publish_rate");
    if (c.publish_rate < 0) fail(r.where(*n), "load.publish_rate: expected a rate, e.g. \"10/s\" (\"0\": an external publisher)");
  }
  if (auto n = t.get("message_size")) {
    const std::string text = n->is_integer() ? value_text(*n) : r.as_string(*n, "load.message_size");
    auto size = units::parse_size(text);
    if (!size || *size > (1u << 20))
      fail(r.where(*n), fmt::format("load.message_size: expected a size up to 1MiB, e.g. \"256B\", found {}", describe(*n)));
    c.message_bytes = *size;
  }
  if (auto n = t.get("connect_rate")) {
    c.connect_rate = r.as_rate(*n, "load.connect_rate");
    if (c.connect_rate < 0) fail(r.where(*n), "load.connect_rate: expected a rate >= 0 (0: all at once)");
  }
  if (auto n = t.get("poll_interval")) c.poll_interval = r.as_duration(*n, "load.poll_interval");
  if (auto n = t.get("poll_timeout"))
    c.poll_timeout = r.positive(r.as_duration(*n, "load.poll_timeout"), *n, "load.poll_timeout");
  // The keys a request/response load shares, read by parse_load into run_config (given, they
  // replace the subscribe defaults: a 5 s drain and a 5 s connect timeout).
  c.duration = load.duration;
  if (t.get("drain_timeout")) c.drain = load.drain_timeout;
  if (t.get("connect_timeout")) c.connect_timeout = load.connect_timeout;
  return c;
}

}  // namespace perflab::loadgen::detail
