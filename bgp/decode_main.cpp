// herald-bgp-decode: prints BGP messages from hex (as in tests/data/bgp/
// captures, '#' comments allowed) or raw bytes, one after another, as the
// codec decodes them. For operators comparing a capture with what Herald
// understood, and for the demo. Usage: herald-bgp-decode [--raw] [FILE...]
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "bgp/wire/describe.hpp"

using namespace herald::bgp::wire;

namespace {

bool hex_to_bytes(const std::string& text, bytes& out, std::string& err) {
  int nibble = -1;
  bool comment = false;
  for (char ch : text) {
    if (ch == '\n') { comment = false; continue; }
    if (comment) continue;
    if (ch == '#') { comment = true; continue; }
    if (std::isspace(static_cast<unsigned char>(ch))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(ch))) {
      err = std::string("not a hex digit: '") + ch + "'";
      return false;
    }
    int v = std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0' : std::tolower(ch) - 'a' + 10;
    if (nibble < 0) nibble = v;
    else {
      out.push_back(std::byte(static_cast<std::uint8_t>(nibble << 4 | v)));
      nibble = -1;
    }
  }
  if (nibble >= 0) err = "odd number of hex digits";
  return nibble < 0;
}

int decode_stream(const std::string& name, const bytes& data) {
  std::span<const std::byte> rest(data);
  update_context ctx;
  ctx.max_message = max_extended_message_size;
  int errors = 0;
  while (!rest.empty()) {
    auto f = frame(rest, ctx.max_message);
    if (f.kind == frame_result::need_more) {
      std::cout << name << ": " << rest.size() << " trailing octets, not a whole message\n";
      return 1;
    }
    if (f.kind == frame_result::error) {
      std::cout << name << ": " << f.err->to_string() << "\n";
      return 1;
    }
    auto d = decode_message(rest.first(f.length), ctx);
    if (!d) {
      std::cout << name << ": " << d.error().to_string() << "\n";
      ++errors;
    } else {
      std::cout << describe(d->msg) << "\n";
      for (auto& e : d->errors) std::cout << "  ! " << e.to_string() << "\n";
    }
    rest = rest.subspan(f.length);
  }
  return errors ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool raw = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--raw") raw = true;
    else if (a == "-h" || a == "--help") {
      std::cout << "usage: herald-bgp-decode [--raw] [FILE...]   (hex by default; - or none for stdin)\n";
      return 0;
    } else files.push_back(a);
  }
  if (files.empty()) files.push_back("-");
  int status = 0;
  for (auto& f : files) {
    std::string text;
    if (f == "-") text.assign(std::istreambuf_iterator<char>(std::cin), {});
    else {
      std::ifstream in(f, std::ios::binary);
      if (!in) {
        std::cerr << "herald-bgp-decode: cannot read " << f << "\n";
        status = 2;
        continue;
      }
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    bytes data;
    if (raw) data.assign(reinterpret_cast<const std::byte*>(text.data()), reinterpret_cast<const std::byte*>(text.data() + text.size()));
    else if (std::string err; !hex_to_bytes(text, data, err)) {
      std::cerr << "herald-bgp-decode: " << f << ": " << err << "\n";
      status = 2;
      continue;
    }
    if (files.size() > 1) std::cout << "== " << f << "\n";
    status = std::max(status, decode_stream(f, data));
  }
  return status;
}
