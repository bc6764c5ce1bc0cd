// libFuzzer target for the BFD Control packet decoder (RFC 5880 §4.1).
// Beyond "no crash": a packet that decodes without authentication re-encodes
// to the same first 24 bytes (with the Length field reading 24) and decodes
// equal again.
#include <cstdlib>
#include <span>

#include "bgp/bfd/packet.hpp"

using namespace herald::bfd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  for (bool auth : {false, true}) {
    auto d = decode(in, {.auth_in_use = auth});
    if (!d || auth) continue;
    std::vector<std::byte> out;
    encode(*d, out);
    if (out.size() != control_header_size) std::abort();
    auto again = decode(out);
    if (!again || !(*again == *d)) std::abort();
    for (std::size_t i = 4; i < control_header_size; ++i)
      if (out[i] != in[i]) std::abort();
  }
  return 0;
}
