// Dotted keys on a scenario document ("load.rate", "request.0.path", "matrix.target.model"): what
// --set, the matrix and [[matrix.include]] use to put values into the document and take them out.
#include <cstdlib>

#include "scenario_reader.hpp"

namespace perflab::loadgen::detail {

// Splits a dotted key ("load.connections", "request.0.path"). Keys under matrix take the rest
// as one key, since matrix keys are themselves dotted ("matrix.target.model").
std::vector<std::string> split_dotted(std::string_view key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto dot = key.find('.', start);
    parts.emplace_back(key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
    if (parts.size() == 1 && parts[0] == "matrix") {
      parts.emplace_back(key.substr(start));
      break;
    }
  }
  return parts;
}

// Puts a copy of `value` at the dotted key, creating tables on the way; numeric parts index
// arrays. Returns the inserted node or an error message.
tl::expected<toml::node*, std::string> set_dotted(toml::table& root, std::string_view key, const toml::node& value) {
  auto parts = split_dotted(key);
  for (const auto& p : parts)
    if (p.empty()) return tl::unexpected(fmt::format("'{}': empty part in dotted key", key));
  toml::node* cur = &root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (auto t = cur->as_table()) {
      toml::node* next = t->get(p);
      if (!next) {
        t->insert_or_assign(p, toml::table{});
        next = t->get(p);
      }
      cur = next;
    } else if (auto a = cur->as_array()) {
      char* end = nullptr;
      unsigned long idx = std::strtoul(p.c_str(), &end, 10);
      if (*end != '\0' || idx >= a->size())
        return tl::unexpected(fmt::format("'{}': '{}' is not an index of the {} entries there", key, p, a->size()));
      cur = a->get(idx);
    } else {
      return tl::unexpected(fmt::format("'{}': '{}' is not a table", key, p));
    }
  }
  const std::string& last = parts.back();
  toml::node* placed = nullptr;
  auto put_into_table = [&](toml::table& t) {
    value.visit([&](auto&& v) { t.insert_or_assign(last, v); });
    placed = t.get(last);
  };
  if (auto t = cur->as_table()) {
    put_into_table(*t);
  } else if (auto a = cur->as_array()) {
    char* end = nullptr;
    unsigned long idx = std::strtoul(last.c_str(), &end, 10);
    if (*end != '\0' || idx >= a->size())
      return tl::unexpected(fmt::format("'{}': '{}' is not an index of the {} entries there", key, last, a->size()));
    value.visit([&](auto&& v) { a->replace(a->cbegin() + static_cast<std::ptrdiff_t>(idx), v); });
    placed = a->get(idx);
  } else {
    return tl::unexpected(fmt::format("'{}': its parent is not a table", key));
  }
  return placed;
}

// The node at a dotted key, or null; numeric parts index arrays.
toml::node* find_dotted(toml::table& root, std::string_view key) {
  toml::node* cur = &root;
  for (const auto& p : split_dotted(key)) {
    if (auto t = cur->as_table()) {
      cur = t->get(p);
    } else if (auto a = cur->as_array()) {
      char* end = nullptr;
      unsigned long idx = std::strtoul(p.c_str(), &end, 10);
      cur = *end == '\0' && idx < a->size() ? a->get(idx) : nullptr;
    } else {
      cur = nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

// Removes the key at a dotted path (its parent must be a table); nothing when it is not there.
void erase_dotted(toml::table& root, std::string_view key) {
  auto parts = split_dotted(key);
  const std::string last = parts.back();
  parts.pop_back();
  std::string parent;
  for (const auto& p : parts) parent += (parent.empty() ? "" : ".") + p;
  toml::node* n = parent.empty() ? &root : find_dotted(root, parent);
  if (auto t = n ? n->as_table() : nullptr) t->erase(last);
}

}  // namespace perflab::loadgen::detail
