#pragma once
// Internal to the request parser: the syntax of the request-target and of the Host field
// (RFC 9112 3.2, RFC 3986 3.2.2-3.4, RFC 9110 4.2 and 7.2). Pure functions over views.
#include <string_view>

#include "perflab/core/http.hpp"

namespace perflab::http::detail {

struct parsed_target {
  target_form form = target_form::origin;
  std::string_view path;       // views into the target (empty for authority-form)
  std::string_view query;
  std::string_view authority;  // absolute-form's host[:port], authority-form's target
  bool path_is_root = false;   // absolute-form with an empty path, which means "/"
};

// Splits and checks a request-target sent with `method`. errc::bad_target when it is in no valid
// form (a byte outside the URI grammar, a bad percent-escape, a fragment), in a form the method
// may not use (authority-form is CONNECT's only, asterisk-form OPTIONS' only), an absolute-form
// URI that is not http(s), has userinfo or an empty host (RFC 9110 4.2.1, 4.2.4).
errc parse_target(std::string_view method, std::string_view target, parsed_target& out) noexcept;

// A Host field value: uri-host [":" port], where uri-host is an IP-literal in brackets or a
// reg-name (unreserved, percent-escapes, sub-delims), possibly empty (RFC 9110 7.2).
bool valid_host_value(std::string_view value) noexcept;

}  // namespace perflab::http::detail
