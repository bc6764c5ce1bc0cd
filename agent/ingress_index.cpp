// The Service ingress address index (see ingress_index.hpp).
#include "agent/ingress_index.hpp"

namespace herald::agent {

void ingress_index::update(const kube::service* before, const kube::service* after) {
  if (before)
    for (const auto& in : before->ingress)
      if (auto a = bgp::wire::ip_address::parse(in.ip)) entries_.erase({*a, before->meta.key()});
  if (after)
    for (const auto& in : after->ingress)
      if (auto a = bgp::wire::ip_address::parse(in.ip)) entries_.emplace(*a, after->meta.key());
}

bool ingress_index::other_service_in(const bgp::wire::ip_prefix& p, const kube::service& self) const {
  const auto last = p.last();
  const auto self_key = self.meta.key();
  for (auto it = entries_.lower_bound({p.first(), std::string()}); it != entries_.end() && it->first <= last; ++it)
    if (it->second != self_key) return true;
  return false;
}

}  // namespace herald::agent
