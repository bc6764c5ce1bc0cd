// OPEN messages and capabilities: RFC 4271 §4.2, RFC 5492 (capabilities),
// RFC 9072 (extended optional parameters length), RFC 4760 (multiprotocol),
// RFC 2918 (route refresh), RFC 7313 (enhanced route refresh), RFC 6793
// (4-octet AS), RFC 4724 (graceful restart), RFC 8950 (extended next hop),
// RFC 8654 (extended message), RFC 7911 (ADD-PATH, decoded only), and the
// FQDN capability of draft-walton-bgp-hostname-capability (as FRR sends it).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "bgp/wire/error.hpp"
#include "bgp/wire/types.hpp"
#include "herald/result.hpp"

namespace herald::bgp::wire {

enum class capability_code : std::uint8_t {
  multiprotocol = 1,
  route_refresh = 2,
  extended_next_hop = 5,
  extended_message = 6,
  graceful_restart = 64,
  four_octet_as = 65,
  add_path = 69,
  enhanced_route_refresh = 70,
  fqdn = 73,
};

namespace cap {
struct multiprotocol { family f; friend bool operator==(const multiprotocol&, const multiprotocol&) = default; };
struct route_refresh { friend bool operator==(const route_refresh&, const route_refresh&) = default; };
struct enhanced_route_refresh { friend bool operator==(const enhanced_route_refresh&, const enhanced_route_refresh&) = default; };
struct extended_message { friend bool operator==(const extended_message&, const extended_message&) = default; };
struct four_octet_as { std::uint32_t asn = 0; friend bool operator==(const four_octet_as&, const four_octet_as&) = default; };
struct graceful_restart {
  struct entry {
    family f;
    bool forwarding_preserved = false;
    friend bool operator==(const entry&, const entry&) = default;
  };
  bool restart_state = false;  // R bit: this speaker has restarted
  bool notification = false;   // N bit, RFC 8538
  std::uint16_t restart_time = 0;  // seconds, 12 bits
  std::vector<entry> families;
  friend bool operator==(const graceful_restart&, const graceful_restart&) = default;
};
struct extended_next_hop {
  struct entry {
    family nlri;
    afi next_hop = afi::ipv6;
    friend bool operator==(const entry&, const entry&) = default;
  };
  std::vector<entry> entries;
  friend bool operator==(const extended_next_hop&, const extended_next_hop&) = default;
};
struct add_path {
  struct entry {
    family f;
    std::uint8_t send_receive = 0;  // 1 receive, 2 send, 3 both
    friend bool operator==(const entry&, const entry&) = default;
  };
  std::vector<entry> entries;
  friend bool operator==(const add_path&, const add_path&) = default;
};
struct fqdn {
  std::string hostname, domain;
  friend bool operator==(const fqdn&, const fqdn&) = default;
};
// Anything else, kept as it came so logs and the API can show it.
struct unknown {
  std::uint8_t code = 0;
  bytes value;
  friend bool operator==(const unknown&, const unknown&) = default;
};
}  // namespace cap

using capability = std::variant<cap::multiprotocol, cap::route_refresh, cap::enhanced_route_refresh,
                                cap::extended_message, cap::four_octet_as, cap::graceful_restart,
                                cap::extended_next_hop, cap::add_path, cap::fqdn, cap::unknown>;

struct open_message {
  std::uint8_t version = 4;
  std::uint16_t my_as = 0;  // AS_TRANS when the real AS needs 4 octets
  std::uint16_t hold_time = 0;
  std::uint32_t bgp_id = 0;  // host order
  std::vector<capability> capabilities;
  // Optional parameters other than capabilities (type != 2), kept raw.
  std::vector<std::pair<std::uint8_t, bytes>> other_parameters;

  // The 4-octet AS from the capability, else my_as.
  std::uint32_t asn() const;
  template <class C>
  const C* find() const {
    for (auto& c : capabilities)
      if (auto p = std::get_if<C>(&c)) return p;
    return nullptr;
  }
  bool has_family(family f) const;
  friend bool operator==(const open_message&, const open_message&) = default;
};

// Decodes an OPEN body (after the 19-byte header). Only syntax is checked
// here; check_open() applies the configuration-dependent checks.
Result<open_message, decode_error> decode_open(std::span<const std::byte> body);

// What the local configuration expects of the peer's OPEN (RFC 4271 §6.2).
struct open_expectations {
  std::optional<std::uint32_t> peer_as;  // nullopt: any
  std::uint32_t local_bgp_id = 0;        // for the eBGP/iBGP identifier check
  std::uint32_t local_as = 0;
};
// Version, peer AS, hold time (0 or >= 3), BGP identifier (non-zero, and for
// iBGP not ours). Returns the error to send, if any.
std::optional<decode_error> check_open(const open_message& m, const open_expectations& e);

// Appends a whole OPEN message (header included). Capabilities go in one
// optional parameter each kind; RFC 9072's extended length is used only if
// they do not fit in 255 bytes.
void encode_open(const open_message& m, bytes& out);

}  // namespace herald::bgp::wire
