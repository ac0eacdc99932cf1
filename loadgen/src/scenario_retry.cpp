// [load] retry: the client retry policy (perflab/loadgen/retry.hpp), [load] engine with the
// curl engine's keys (http2, max_streams, insecure, cacert, tls_resume), [load] auth (the
// credentials, perflab/loadgen/auth.hpp) and [load] cors (the browser mode,
// perflab/loadgen/browser_cors.hpp): each value checked where it is written (file:line:column
// and what was expected). One file for all four: each TU that reads TOML costs seconds of build.
#include <algorithm>
#include <charconv>
#include <filesystem>

#include "perflab/loadgen/grpc.hpp"
#include "scenario_reader.hpp"

namespace perflab::loadgen::detail {
namespace {

const std::vector<std::string> k_retry_keys = {"on", "max", "backoff", "base", "cap", "jitter", "retry_after", "unsafe"};
const std::vector<std::string> k_auth_keys = {"scheme", "key_file", "tokens", "audience", "ttl", "login_path"};
const std::vector<std::string> k_follow_keys = {"every", "until", "timeout"};
const std::vector<std::string> k_cors_keys = {"origin", "preflight_cache"};

}  // namespace

const std::vector<std::string>& retry_keys() { return k_retry_keys; }

retry_policy read_retry(const toml_reader& r, const toml::table& root) {
  retry_policy p;
  const toml::table* load = root.get_as<toml::table>("load");
  const toml::node* rn = load ? load->get("retry") : nullptr;
  if (!rn) return p;
  const toml::table& t = r.as_table(*rn, "load.retry");
  r.check_keys(t, "load.retry.", k_retry_keys);
  const toml::node* max = t.get("max");
  if (!max)
    fail(r.where(*rn), "load.retry: expected max = N (retries per request after its first attempt, e.g. "
                       "retry = { max = 2, on = [503] })");
  p.max = r.as_int(*max, "load.retry.max", 0, 100);
  if (auto n = t.get("on")) {
    std::string list;
    if (auto a = n->as_array()) {
      for (const auto& e : *a) {
        if (!e.is_integer() && e.value<std::string>() != "reset")
          r.type_error(e, "load.retry.on", "an array of status codes and \"reset\" such as [503, 429, \"reset\"]");
        list += (list.empty() ? "" : ",") + (e.is_string() ? *e.value<std::string>() : value_text(e));
      }
    } else if (n->is_integer()) {
      list = value_text(*n);
    } else {
      r.type_error(*n, "load.retry.on", "an array of status codes and \"reset\" such as [503, 429, \"reset\"]");
    }
    auto codes = parse_retry_statuses(list);
    if (!codes) fail(r.where(*n), "load.retry.on: " + codes.error());
    p.on = std::move(*codes);
  }
  if (auto n = t.get("backoff")) {
    auto b = parse_retry_backoff(r.as_string(*n, "load.retry.backoff"));
    if (!b) fail(r.where(*n), "load.retry.backoff: " + b.error());
    p.exponential = *b;
  }
  for (const char* k : {"base", "jitter"}) {
    if (auto n = t.get(k); n && !p.exponential)
      fail(r.where(*n), fmt::format("load.retry.{} applies to backoff = \"exponential\" only (\"none\" retries at once)", k));
  }
  if (auto n = t.get("base")) p.backoff.base = r.positive(r.as_duration(*n, "load.retry.base"), *n, "load.retry.base");
  if (auto n = t.get("cap")) p.backoff.cap = r.positive(r.as_duration(*n, "load.retry.cap"), *n, "load.retry.cap");
  if (auto n = t.get("jitter")) {
    auto j = parse_retry_jitter(r.as_string(*n, "load.retry.jitter"));
    if (!j) fail(r.where(*n), "load.retry.jitter: " + j.error());
    p.backoff.kind = *j;
  }
  for (const auto& [key, flag] : {std::pair<const char*, bool*>{"retry_after", &p.retry_after}, {"unsafe", &p.unsafe}}) {
    if (auto n = t.get(key)) {
      auto b = n->as_boolean();
      if (!b) r.type_error(*n, fmt::format("load.retry.{}", key), "true or false");
      *flag = b->get();
    }
  }
  if (p.exponential && p.backoff.cap < p.backoff.base) {
    const toml::node* cap = t.get("cap");
    fail(r.where(cap ? *cap : *rn), fmt::format("load.retry.cap: expected at least base ({}), found {}",
                                                units::format_duration(p.backoff.base),
                                                units::format_duration(p.backoff.cap)));
  }
  return p;
}

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
  flag("tls_resume", cfg.tls_resume);
  if (const toml::node* n = load->get("max_streams")) cfg.max_streams = r.as_int(*n, "load.max_streams", 1, 1'000'000);
  if (const toml::node* n = load->get("cacert")) {
    cfg.cacert = r.as_string(*n, "load.cacert");
    if (!std::filesystem::exists(cfg.cacert))
      fail(r.where(*n), fmt::format("load.cacert: no file '{}'", cfg.cacert));
  }
  if (cfg.engine == "asio" && cfg.http2)
    fail(r.where(*load->get("http2")), "load.http2: needs engine = \"curl\" (the asio engine speaks HTTP/1.1 only)");
}

follow_policy read_follow(const toml_reader& r, const toml::table& root) {
  follow_policy p;
  const toml::table* load = root.get_as<toml::table>("load");
  const toml::node* fn = load ? load->get("follow") : nullptr;
  if (!fn) return p;
  const toml::table& t = r.as_table(*fn, "load.follow");
  r.check_keys(t, "load.follow.", k_follow_keys);
  const toml::node* every = t.get("every");
  const toml::node* until = t.get("until");
  if (!every || !until)
    fail(r.where(*fn), "load.follow: expected every and until, e.g. follow = { every = \"10ms\", until = "
                       "'\"state\":\"done\"', timeout = \"30s\" }");
  p.every = r.positive(r.as_duration(*every, "load.follow.every"), *every, "load.follow.every");
  p.until = r.as_string(*until, "load.follow.until");
  if (p.until.empty()) fail(r.where(*until), "load.follow.until: expected the text a finished job's status holds, not \"\"");
  const toml::node* timeout = t.get("timeout");
  if (timeout) p.timeout = r.positive(r.as_duration(*timeout, "load.follow.timeout"), *timeout, "load.follow.timeout");
  if (auto ok = check_follow(p); !ok) fail(r.where(timeout ? *timeout : *fn), "load.follow." + ok.error());
  return p;
}

auth_config read_auth(const toml_reader& r, const toml::table& root) {
  auth_config c;
  const toml::table* load = root.get_as<toml::table>("load");
  const toml::node* an = load ? load->get("auth") : nullptr;
  if (!an) return c;
  const toml::table& t = r.as_table(*an, "load.auth");
  r.check_keys(t, "load.auth.", k_auth_keys);
  const toml::node* scheme = t.get("scheme");
  if (!scheme)
    fail(r.where(*an), fmt::format("load.auth: expected scheme = one of {} (e.g. auth = {{ scheme = \"jwt-hs256\", "
                                   "key_file = \"build/auth/hs256.key\" }})",
                                   auth_scheme_names));
  c.scheme = r.as_string(*scheme, "load.auth.scheme");
  if (const toml::node* n = t.get("key_file")) c.key_file = r.as_string(*n, "load.auth.key_file");
  if (const toml::node* n = t.get("tokens")) c.tokens = r.as_int(*n, "load.auth.tokens", 1, 100'000);
  if (const toml::node* n = t.get("audience")) c.audience = r.as_string(*n, "load.auth.audience");
  if (const toml::node* n = t.get("ttl")) c.ttl = r.positive(r.as_duration(*n, "load.auth.ttl"), *n, "load.auth.ttl");
  if (const toml::node* n = t.get("login_path")) c.login_path = r.as_string(*n, "load.auth.login_path");
  if (auto ok = check_auth(c); !ok) {
    // The key the message is about, where it is written (else the table).
    const std::string& why = ok.error();
    const std::string key = why.substr(0, why.find(':'));
    const toml::node* at = t.get(key);
    fail(r.where(at ? *at : *an), "load.auth." + why);
  }
  return c;
}

cors_config read_cors(const toml_reader& r, const toml::table& root, const run_config& cfg) {
  cors_config c;
  const toml::table* load = root.get_as<toml::table>("load");
  const toml::node* cn = load ? load->get("cors") : nullptr;
  if (!cn) return c;
  const char* form = "a table such as cors = { origin = \"https://app.example\", preflight_cache = true }, or false";
  if (auto b = cn->as_boolean()) {
    if (b->get()) r.type_error(*cn, "load.cors", form);
    return c;  // false: off
  }
  if (!cn->is_table()) r.type_error(*cn, "load.cors", form);
  const toml::table& t = r.as_table(*cn, "load.cors");
  r.check_keys(t, "load.cors.", k_cors_keys);
  const toml::node* origin = t.get("origin");
  if (!origin) fail(r.where(*cn), std::string("load.cors: expected origin = \"...\" (") + form + ")");
  c.origin = r.as_string(*origin, "load.cors.origin");
  if (auto bad = browser_cors::origin_error(c.origin)) fail(r.where(*origin), "load.cors.origin: " + *bad);
  if (const toml::node* n = t.get("preflight_cache")) {
    auto b = n->as_boolean();
    if (!b) r.type_error(*n, "load.cors.preflight_cache", "true or false");
    c.preflight_cache = b->get();
  }
  if (cfg.engine == "curl" || cfg.http2)
    fail(r.where(*cn), "load.cors: the browser mode needs the asio engine (HTTP/1.1 over http://), not engine = "
                       "\"curl\" or http2");
  return c;
}

void read_grpc_request(const toml_reader& r, const toml::table& t, const std::string& nm, const run_config& cfg,
                       request_spec& out) {
  const toml::node* g = t.get("grpc");
  const toml::node* fields = t.get("grpc_fields");
  if (!g) {
    if (fields) fail(r.where(*fields), nm + ".grpc_fields: only with grpc = \"/package.Service/Method\"");
    return;
  }
  out.grpc = r.as_string(*g, nm + ".grpc");
  if (auto ok = check_grpc_method(out.grpc); !ok) fail(r.where(*g), nm + ".grpc: " + ok.error());
  for (const char* k : {"method", "path", "body", "body_file"})
    if (const toml::node* n = t.get(k))
      fail(r.where(*n), fmt::format("{}.{}: not with grpc (a gRPC call is a POST to its method, its body the "
                                    "message of grpc_fields)", nm, k));
  if (!fields) return;  // an empty message
  const toml::table* ft = fields->as_table();
  if (!ft) r.type_error(*fields, nm + ".grpc_fields", "a table of field number = value, e.g. { 1 = \"{key}\" }");
  for (auto&& [k, v] : *ft) {
    const std::string name = fmt::format("{}.grpc_fields.{}", nm, k.str());
    grpc_field f;
    const std::string_view num = k.str();
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
    if (ec != std::errc() || end != num.data() + num.size() || n < 1 || n > 536'870'911)
      fail(r.where(k, v), name + ": expected a protobuf field number 1..536870911 as the key");
    f.number = static_cast<std::uint32_t>(n);
    if (auto i = v.as_integer()) {
      if (i->get() < 0) fail(r.where(v), name + ": expected an integer >= 0 (a varint) or a string");
      f.value = std::to_string(i->get());
    } else {
      f.value = r.as_string(v, name);
    }
    if (f.value.find("{key}") != std::string::npos && cfg.keys.keys == 0)
      fail(r.where(v), name + " uses {key} but no keys are defined (expected a [keys] table with count = N)");
    if (auto ok = encode_grpc_message({f}, "0"); !ok) fail(r.where(v), name + ": " + ok.error());
    out.grpc_fields.push_back(std::move(f));
  }
}

void check_grpc_mix(const toml_reader& r, const toml::table& root, const run_config& cfg) {
  if (auto ok = grpc_method_of(cfg.requests); !ok) {
    const toml::node* req = root.get("request");
    fail(req ? r.where(*req) : r.file(), "request: " + ok.error());
  }
  const bool grpc = std::any_of(cfg.requests.begin(), cfg.requests.end(), [](const auto& q) { return !q.grpc.empty(); });
  const toml::table* load = root.get_as<toml::table>("load");
  if (grpc && cfg.engine == "asio" && load && load->get("engine"))
    fail(r.where(*load->get("engine")), "load.engine: gRPC calls need HTTP/2, engine = \"curl\" (the asio engine "
                                        "speaks HTTP/1.1 only)");
}

}  // namespace perflab::loadgen::detail
