// The Service ingress address index (see ingress_index.hpp).
#include "agent/ingress_index.hpp"

namespace herald::agent {

void ingress_index::update(const kube::service* before, const kube::service* after) {
  // Whatever was indexed under this Service's name goes first (also for an
  // add of a Service already held, which a well-behaved informer never sends).
  if (const auto* service = before ? before : after)
    if (auto was = addresses_of_.find(service->meta.key()); was != addresses_of_.end()) {
      for (const auto& a : was->second) entries_.erase({a, was->first});
      addresses_of_.erase(was);
    }
  if (after) {
    std::vector<bgp::wire::ip_address> indexed;
    auto key = after->meta.key();
    for (const auto& in : after->ingress)
      if (auto a = bgp::wire::ip_address::parse(in.ip); a && entries_.emplace(*a, key).second) indexed.push_back(*a);
    if (!indexed.empty()) addresses_of_[std::move(key)] = std::move(indexed);
  }
}

bool ingress_index::other_service_in(const bgp::wire::ip_prefix& p, const kube::service& self) const {
  const auto last = p.last();
  const auto self_key = self.meta.key();
  for (auto it = entries_.lower_bound({p.first(), std::string()}); it != entries_.end() && it->first <= last; ++it)
    if (it->second != self_key) return true;
  return false;
}

}  // namespace herald::agent
