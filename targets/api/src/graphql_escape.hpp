#pragma once
// Shared by the JSON envelope (graphql_body.cpp) and the document's strings (graphql_parse.cpp).
#include <cstddef>
#include <string>
#include <string_view>

namespace perflab::api::graphql::detail {

// Decodes the escape sequence at s[i] (just after the backslash) into out as UTF-8, JSON's and
// GraphQL's alike (\" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs joined); i moves past it.
// False when malformed (a lone surrogate included).
bool decode_escape(std::string_view s, std::size_t& i, std::string& out);

}  // namespace perflab::api::graphql::detail
