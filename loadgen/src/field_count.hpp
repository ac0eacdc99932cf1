#pragma once
// How many fields an aggregate (a struct with public fields and no constructors, like run_config)
// has, counted by the compiler: the largest N for which `T{x1, ..., xN}` compiles, where each x
// converts to any type. A code path that must handle every field of a struct (a wire encoder, its
// test) can static_assert against this count, so that a field added to the struct is a compile
// error there instead of a field silently left out.
//
// The conversion is callable only on an rvalue (`const&&`), so it is never an lvalue `const T&`
// that a constrained converting constructor (std::string's from a string_view-like type, a
// std::chrono::duration's from its rep) could take: each x initialises exactly one field, through
// the conversion alone. Declared only, never defined: used in unevaluated contexts.
#include <cstddef>
#include <utility>

namespace perflab::loadgen::detail {

struct field_count_any {
  template <class T>
  operator T() const&&;
};

template <std::size_t>
using field_count_any_t = field_count_any;

template <class T, std::size_t... I>
constexpr bool field_count_brace_initializable(std::index_sequence<I...>) {
  return requires { T{field_count_any_t<I>{}...}; };
}

template <class T, std::size_t N = 0>
constexpr std::size_t aggregate_field_count() {
  if constexpr (!field_count_brace_initializable<T>(std::make_index_sequence<N + 1>{}))
    return N;
  else
    return aggregate_field_count<T, N + 1>();
}

}  // namespace perflab::loadgen::detail
