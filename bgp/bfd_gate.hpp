// How a peer's BFD session gates its BGP session (RFC 5882 §4.3 and §3.2,
// RFC 9384 Cease subcode 10 "BFD Down"), as a pure class: the session feeds
// it every BFD state change and carries out the verdict. BGP may run only
// while BFD is Up; a BFD Down that is a real failure tears BGP down at once
// and holds it (no connect retry, no passive accept) until BFD is Up again.
// A peer that signals AdminDown is not a failure (RFC 5882 §3.2): the gate
// opens (or stays open) and BGP is left to its own timers.
#pragma once

#include <cstdint>
#include <string_view>

#include "bgp/bfd/session.hpp"
#include "bgp/config.hpp"

namespace herald::bgp {

enum class bfd_verdict : std::uint8_t {
  none,       // nothing for BGP to do
  tear_down,  // send Cease / BFD Down, close, hold until release
  release,    // BFD is Up: BGP may (re)start now
};
std::string_view to_string(bfd_verdict v);

class bfd_gate {
 public:
  // `to`: the local BFD state after the change; `remote`: the peer's state
  // from its last packet (bfd::session::remote_state()).
  bfd_verdict on_change(bfd::bfd_state to, bfd::bfd_state remote);
  // BGP may run. Closed from the start: BGP waits for the first Up.
  bool open() const { return open_; }

 private:
  bool open_ = false;
};

// The peer's millisecond settings as the state machine's configuration.
bfd::session_config to_session_config(const peer_bfd& b);

}  // namespace herald::bgp
