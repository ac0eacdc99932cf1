#pragma once
// JSON text written without a DOM: the one string escaper every hand-written JSON body uses
// (the order API's documents and GraphQL responses, the push hub's messages).
#include <string>
#include <string_view>

namespace perflab {

// Appends s as a JSON string (RFC 8259 section 7): quotes around it, `"` and `\` escaped, control
// characters as \b \f \n \r \t or \u00XX; every other byte (UTF-8) as it is.
void append_json_string(std::string& out, std::string_view s);

}  // namespace perflab
