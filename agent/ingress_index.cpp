// The Service ingress address index (see ingress_index.hpp).
#include "agent/ingress_index.hpp"

namespace herald::agent {

namespace {

// p's first and last address: the bits past its length all zero, all one.
std::pair<bgp::wire::ip_address, bgp::wire::ip_address> range_of(const bgp::wire::ip_prefix& p) {
  auto first = p.addr, last = p.addr;
  const std::size_t octets = p.addr.size();
  std::size_t bits = p.length;
  for (std::size_t i = 0; i < octets; ++i) {
    const auto keep = static_cast<std::uint8_t>(bits >= 8 ? 0xff : 0xff << (8 - bits));
    first.octets[i] &= keep;
    last.octets[i] = static_cast<std::uint8_t>(first.octets[i] | ~keep);
    bits = bits >= 8 ? bits - 8 : 0;
  }
  return {first, last};
}

}  // namespace

void ingress_index::update(const kube::service* before, const kube::service* after) {
  if (before)
    for (const auto& in : before->ingress)
      if (auto a = bgp::wire::ip_address::parse(in.ip)) entries_.erase({*a, before->meta.key()});
  if (after)
    for (const auto& in : after->ingress)
      if (auto a = bgp::wire::ip_address::parse(in.ip)) entries_.emplace(*a, after->meta.key());
}

bool ingress_index::other_service_in(const bgp::wire::ip_prefix& p, const kube::service& self) const {
  const auto [first, last] = range_of(p);
  const auto self_key = self.meta.key();
  for (auto it = entries_.lower_bound({first, std::string()}); it != entries_.end() && it->first <= last; ++it)
    if (it->second != self_key) return true;
  return false;
}

}  // namespace herald::agent
