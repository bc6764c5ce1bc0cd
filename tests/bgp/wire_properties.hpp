// Properties every decoded message must have, shared by the fuzz target and
// the regression test so that an input the fuzzer once broke is checked the
// same way forever.
#pragma once

#include "bgp/wire/message.hpp"

namespace herald::bgp::wire::test {

// A message that decoded without errors re-encodes to bytes that decode to
// the same value. Messages the context would not re-send as they came
// (AS4_* towards a 4-octet speaker; anything over a 2-octet session, where
// AS_TRANS replaces large ASNs) and UPDATEs past the size limit are exempt.
inline bool round_trips(const decoded_message& d, const update_context& ctx) {
  if (d.action != error_action::none) return true;
  if (auto u = std::get_if<update_message>(&d.msg)) {
    if (!ctx.four_octet_as || u->attrs.as4_path || u->attrs.as4_aggr) return true;
  }
  bytes again;
  encode_message(d.msg, ctx, again);
  if (again.empty()) return true;
  auto d2 = decode_message(again, ctx);
  return d2 && d2->msg == d.msg;
}

}  // namespace herald::bgp::wire::test
