// UPDATE messages and path attributes: RFC 4271 §4.3 and §5, RFC 7606
// (revised error handling), RFC 6793 (AS4_PATH, AS4_AGGREGATOR), RFC 1997
// (communities), RFC 4360 (extended communities), RFC 8092 (large
// communities), RFC 4760 (MP_REACH_NLRI / MP_UNREACH_NLRI), RFC 8950 (IPv4
// NLRI with an IPv6 next hop), RFC 4724 §2 (End-of-RIB).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bgp/wire/error.hpp"
#include "bgp/wire/types.hpp"
#include "herald/result.hpp"

namespace herald::bgp::wire {

enum class attr_code : std::uint8_t {
  origin = 1,
  as_path = 2,
  next_hop = 3,
  multi_exit_disc = 4,
  local_pref = 5,
  atomic_aggregate = 6,
  aggregator = 7,
  communities = 8,
  mp_reach_nlri = 14,
  mp_unreach_nlri = 15,
  extended_communities = 16,
  as4_path = 17,
  as4_aggregator = 18,
  large_communities = 32,
};

namespace attr_flag {
inline constexpr std::uint8_t optional = 0x80;
inline constexpr std::uint8_t transitive = 0x40;
inline constexpr std::uint8_t partial = 0x20;
inline constexpr std::uint8_t extended_length = 0x10;
}  // namespace attr_flag

enum class origin_type : std::uint8_t { igp = 0, egp = 1, incomplete = 2 };

struct as_segment {
  enum kind : std::uint8_t { as_set = 1, as_sequence = 2, confed_sequence = 3, confed_set = 4 };
  kind type = as_sequence;
  std::vector<std::uint32_t> asns;
  friend bool operator==(const as_segment&, const as_segment&) = default;
};
using as_path = std::vector<as_segment>;

struct aggregator {
  std::uint32_t asn = 0;
  std::uint32_t address = 0;  // host order
  friend bool operator==(const aggregator&, const aggregator&) = default;
};

struct mp_reach {
  family f = ipv6_unicast;
  std::vector<ip_address> next_hops;  // global, then link-local if present
  std::vector<ip_prefix> nlri;
  friend bool operator==(const mp_reach&, const mp_reach&) = default;
};
struct mp_unreach {
  family f = ipv6_unicast;
  std::vector<ip_prefix> withdrawn;
  friend bool operator==(const mp_unreach&, const mp_unreach&) = default;
};

// An attribute Herald does not interpret; optional transitive ones are
// re-sent with the Partial bit set (RFC 4271 §5).
struct raw_attribute {
  std::uint8_t flags = 0;
  std::uint8_t code = 0;
  bytes value;
  friend bool operator==(const raw_attribute&, const raw_attribute&) = default;
};

struct path_attributes {
  std::optional<origin_type> origin;
  std::optional<as_path> path;
  std::optional<as_path> as4_path;
  std::optional<ip_address> next_hop;  // IPv4 NEXT_HOP attribute
  std::optional<std::uint32_t> med;
  std::optional<std::uint32_t> local_pref;
  bool atomic_aggregate = false;
  std::optional<aggregator> aggr;
  std::optional<aggregator> as4_aggr;
  std::vector<std::uint32_t> communities;
  std::vector<extended_community> ext_communities;
  std::vector<large_community> large_communities;
  std::optional<mp_reach> reach;
  std::optional<mp_unreach> unreach;
  std::vector<raw_attribute> unknown;

  // AS_PATH merged with AS4_PATH per RFC 6793 §4.2.3, flattened to the ASNs
  // of its AS_SEQUENCE and AS_SET segments in order.
  std::vector<std::uint32_t> flat_as_path() const;
  friend bool operator==(const path_attributes&, const path_attributes&) = default;
};

struct update_message {
  std::vector<ip_prefix> withdrawn;  // IPv4, in the Withdrawn Routes field
  path_attributes attrs;
  std::vector<ip_prefix> nlri;  // IPv4, in the NLRI field

  // RFC 4724 §2: an UPDATE with nothing in it is the IPv4 End-of-RIB; one
  // with only an empty MP_UNREACH_NLRI is that family's.
  std::optional<family> end_of_rib() const;
  friend bool operator==(const update_message&, const update_message&) = default;
};

// What the session negotiated that changes how UPDATEs are read and written.
struct update_context {
  bool four_octet_as = true;  // RFC 6793: both sides sent the capability
  bool ebgp = true;           // LOCAL_PREF from an eBGP peer is discarded (RFC 7606 §7.5)
  std::size_t max_message = max_message_size;
};

// A decoded UPDATE. Errors that RFC 7606 lets the session survive are listed
// in `errors`; `action` is the strongest of them (none, attribute_discard or
// treat_as_withdraw). With treat_as_withdraw every NLRI in the message, in
// the NLRI field and in MP_REACH_NLRI, is to be handled as withdrawn.
struct decoded_update {
  update_message msg;
  error_action action = error_action::none;
  std::vector<decode_error> errors;
};

// Decodes an UPDATE body (after the header). Returns an error only when the
// action is session_reset (the message cannot be parsed or RFC 7606 says so).
Result<decoded_update, decode_error> decode_update(std::span<const std::byte> body,
                                                   const update_context& ctx = {});

// Appends one whole UPDATE message. Precondition: it fits in ctx.max_message
// (pack_updates() splits large sets); returns false and appends nothing if not.
bool encode_update(const update_message& m, const update_context& ctx, bytes& out);

// Appends the path attributes of `a` (as in an UPDATE, without the Total
// Path Attribute Length), in type-code order. Used by encode_update() and
// by the packer.
void encode_attributes(const path_attributes& a, const update_context& ctx, bytes& out);

// Appends the End-of-RIB marker of a family.
void encode_end_of_rib(family f, bytes& out);

// Encodes a prefix in NLRI form (length byte and the significant octets).
void encode_prefix(const ip_prefix& p, bytes& out);

}  // namespace herald::bgp::wire
