// Update packing: many prefixes that share one attribute set go into as few
// UPDATE messages as the negotiated size limit allows (RFC 4271 §4.3 and
// RFC 8654 for the limit, RFC 4760 for prefixes carried in MP_REACH_NLRI and
// MP_UNREACH_NLRI). MetalLB sends each prefix alone; BIRD and GoBGP pack.
#pragma once

#include <span>

#include "bgp/wire/update.hpp"

namespace herald::bgp::wire {

// Announces `prefixes` (all of one family) with `attrs`. For IPv4 prefixes
// with an IPv4 NEXT_HOP in attrs the NLRI field is used; otherwise the
// prefixes go in MP_REACH_NLRI with attrs.reach's family and next hops
// (attrs.reach's own nlri is ignored). Appends whole messages to out and
// returns how many.
std::size_t pack_announce(const path_attributes& attrs, std::span<const ip_prefix> prefixes,
                          const update_context& ctx, bytes& out);

// Withdraws `prefixes` (all of family f): IPv4 unicast in Withdrawn Routes,
// everything else in MP_UNREACH_NLRI. Returns the number of messages.
std::size_t pack_withdraw(family f, std::span<const ip_prefix> prefixes, const update_context& ctx,
                          bytes& out);

}  // namespace herald::bgp::wire
