// libFuzzer target for the BGP decoder: frames the input as a stream of
// messages and decodes each under both AS-number widths. Properties checked
// beyond "no crash": the framer never claims more bytes than it has, and a
// message that decodes cleanly re-encodes to something that decodes equal.
#include <cstdlib>
#include <span>

#include "../bgp/wire_properties.hpp"
#include "bgp/wire/message.hpp"

using namespace herald::bgp::wire;


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  for (bool four : {true, false}) {
    update_context ctx;
    ctx.four_octet_as = four;
    ctx.ebgp = false;
    ctx.max_message = max_extended_message_size;
    auto rest = in;
    while (!rest.empty()) {
      auto f = frame(rest, ctx.max_message);
      if (f.kind != frame_result::message) break;
      if (f.length > rest.size() || f.length < header_size) std::abort();
      auto d = decode_message(rest.first(f.length), ctx);
      if (d && !herald::bgp::wire::test::round_trips(*d, ctx)) std::abort();
      rest = rest.subspan(f.length);
    }
  }
  return 0;
}
