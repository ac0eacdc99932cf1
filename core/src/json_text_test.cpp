#include "perflab/core/json_text.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using perflab::append_json_string;

std::string as_json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonText, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(as_json("plain"), "\"plain\"");
  EXPECT_EQ(as_json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(as_json("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(as_json(std::string_view("\x01\x1f\0", 3)), "\"\\u0001\\u001f\\u0000\"");
  EXPECT_EQ(as_json("Queen's Road caf\xc3\xa9"), "\"Queen's Road caf\xc3\xa9\"");  // UTF-8 kept as it is
}

TEST(JsonText, AnyByteStringDecodesBackToItself) {
  std::string all;
  for (int c = 1; c < 128; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(nlohmann::json::parse(as_json(all)).get<std::string>(), all);
}

}  // namespace
