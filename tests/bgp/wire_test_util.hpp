// Helpers for the codec tests: hex fixtures to bytes and back.
#pragma once

#include <cctype>
#include <span>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "bgp/wire/error.hpp"
#include "bgp/wire/types.hpp"
#include "herald/result.hpp"
#include "result_catch.hpp"


namespace herald::bgp::wire::test {

// Hex digits to bytes; whitespace and '#' comment lines are skipped.
inline bytes from_hex(std::string_view text) {
  bytes out;
  int nibble = -1;
  bool comment = false;
  for (char ch : text) {
    if (ch == '\n') { comment = false; continue; }
    if (comment) continue;
    if (ch == '#') { comment = true; continue; }
    if (std::isspace(static_cast<unsigned char>(ch))) continue;
    int v = std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0' : std::tolower(ch) - 'a' + 10;
    if (v < 0 || v > 15) throw std::runtime_error(std::string("bad hex digit ") + ch);
    if (nibble < 0) nibble = v;
    else {
      out.push_back(std::byte(static_cast<std::uint8_t>(nibble << 4 | v)));
      nibble = -1;
    }
  }
  if (nibble >= 0) throw std::runtime_error("odd number of hex digits");
  return out;
}

inline std::string to_hex(std::span<const std::byte> b) {
  static constexpr char d[] = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    auto v = std::to_integer<unsigned>(x);
    s += d[v >> 4];
    s += d[v & 15];
  }
  return s;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A message with the marker and length filled in around `body`.
inline bytes with_header(std::uint8_t type, const bytes& body) {
  bytes m(16, std::byte{0xff});
  auto len = body.size() + 19;
  m.push_back(std::byte(static_cast<std::uint8_t>(len >> 8)));
  m.push_back(std::byte(static_cast<std::uint8_t>(len)));
  m.push_back(std::byte{type});
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

}  // namespace herald::bgp::wire::test
