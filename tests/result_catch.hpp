// Lets Catch2 print a herald::Result in a failed assertion: "value", or the
// error's text. Without it Catch2 tries boost::system::result's operator<<,
// which needs the value type to be printable.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <type_traits>

#include "herald/result.hpp"

namespace Catch {
template <class T, class E>
struct StringMaker<boost::system::result<T, E>> {
  static std::string convert(const boost::system::result<T, E>& r) {
    if (r) return "value";
    if constexpr (std::is_convertible_v<E, std::string>) return "error: " + std::string(r.error());
    else if constexpr (requires { r.error().to_string(); }) return "error: " + r.error().to_string();
    else if constexpr (requires { r.error().message(); }) return "error: " + r.error().message();
    else return "error";
  }
};
}  // namespace Catch
