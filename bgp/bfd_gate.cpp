// The BFD → BGP gate (see bfd_gate.hpp).
#include "bgp/bfd_gate.hpp"

#include <algorithm>

namespace herald::bgp {

std::string_view to_string(bfd_verdict v) {
  switch (v) {
    case bfd_verdict::none: return "none";
    case bfd_verdict::tear_down: return "tear-down";
    case bfd_verdict::release: return "release";
  }
  return "?";
}

bfd_verdict bfd_gate::on_change(bfd::bfd_state to, bfd::bfd_state remote) {
  using bfd::bfd_state;
  switch (to) {
    case bfd_state::up:
      if (open_) return bfd_verdict::none;
      open_ = true;
      return bfd_verdict::release;
    case bfd_state::admin_down:
      // Our own AdminDown (the session is being removed) says nothing about
      // the path; BGP is not held by it (RFC 5882 §3.2).
      if (open_) return bfd_verdict::none;
      open_ = true;
      return bfd_verdict::release;
    case bfd_state::init:
      // Down → Init is the handshake on the way up; nothing changes for BGP.
      return bfd_verdict::none;
    case bfd_state::down:
      // RFC 5882 §3.2: the peer taking BFD AdminDown is not a path failure,
      // so it neither tears BGP down nor keeps it waiting.
      if (remote == bfd_state::admin_down) {
        if (open_) return bfd_verdict::none;
        open_ = true;
        return bfd_verdict::release;
      }
      if (!open_) return bfd_verdict::none;
      open_ = false;
      return bfd_verdict::tear_down;
  }
  return bfd_verdict::none;
}

bfd::session_config to_session_config(const peer_bfd& b) {
  bfd::session_config c;
  // The codec's fields are microseconds in 32 bits: clamp instead of wrapping.
  constexpr std::uint32_t max_ms = 4'294'967u;
  c.desired_min_tx_us = std::clamp<std::uint32_t>(b.min_tx_ms, 1, max_ms) * 1000;
  c.required_min_rx_us = std::clamp<std::uint32_t>(b.min_rx_ms, 1, max_ms) * 1000;
  c.detect_mult = std::max<std::uint8_t>(1, b.multiplier);
  return c;
}

}  // namespace herald::bgp
