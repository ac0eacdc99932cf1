// [load] engine and the curl engine's keys (http2, max_streams, insecure, cacert), each value
// checked where it is written (file:line:column and what was expected).
#include <filesystem>

#include "scenario_reader.hpp"

namespace perflab::loadgen::detail {

void read_engine(const toml_reader& r, const toml::table& root, run_config& cfg) {
  const toml::table* load = root.get_as<toml::table>("load");
  if (!load) return;
  const auto flag = [&](const char* key, bool& out) {
    if (const toml::node* n = load->get(key)) {
      auto b = n->as_boolean();
      if (!b) r.type_error(*n, fmt::format("load.{}", key), "true or false");
      out = b->get();
    }
  };
  if (const toml::node* n = load->get("engine")) {
    cfg.engine = r.as_string(*n, "load.engine");
    if (cfg.engine != "asio" && cfg.engine != "curl")
      fail(r.where(*n), fmt::format("load.engine: expected \"asio\" or \"curl\", found \"{}\"", cfg.engine));
  }
  flag("http2", cfg.http2);
  flag("insecure", cfg.insecure);
  if (const toml::node* n = load->get("max_streams")) cfg.max_streams = r.as_int(*n, "load.max_streams", 1, 1'000'000);
  if (const toml::node* n = load->get("cacert")) {
    cfg.cacert = r.as_string(*n, "load.cacert");
    if (!std::filesystem::exists(cfg.cacert))
      fail(r.where(*n), fmt::format("load.cacert: no file '{}'", cfg.cacert));
  }
  if (cfg.engine == "asio" && cfg.http2)
    fail(r.where(*load->get("http2")), "load.http2: needs engine = \"curl\" (the asio engine speaks HTTP/1.1 only)");
}

}  // namespace perflab::loadgen::detail
