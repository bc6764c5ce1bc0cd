// The EndpointSlice-by-Service index (see slice_index.hpp).
#include "agent/slice_index.hpp"

namespace herald::agent {

namespace {
std::string service_key(const std::string& ns, const std::string& service) { return ns + "/" + service; }
}  // namespace

void slice_index::update(const kube::endpoint_slice* before, const kube::endpoint_slice* after) {
  // Whatever was indexed under this slice's name goes first (also for an
  // add of a slice already held, which a well-behaved informer never sends).
  if (const auto* slice = before ? before : after)
    if (auto was = service_of_.find(slice->meta.key()); was != service_of_.end()) {
      auto it = by_service_.find(was->second);
      it->second.erase(slice->meta.name);
      if (it->second.empty()) by_service_.erase(it);
      service_of_.erase(was);
    }
  if (after)
    if (auto service = after->service_name(); !service.empty()) {
      auto key = service_key(after->meta.ns, service);
      by_service_[key].insert(after->meta.name);
      service_of_[after->meta.key()] = std::move(key);
    }
}

const std::set<std::string>& slice_index::names_of(const std::string& ns, const std::string& service) const {
  static const std::set<std::string> none;
  auto it = by_service_.find(service_key(ns, service));
  return it == by_service_.end() ? none : it->second;
}

std::vector<kube::endpoint_slice> slice_index::slices_of(
    const kube::service& s, const kube::object_cache<kube::endpoint_slice>& cache) const {
  std::vector<kube::endpoint_slice> out;
  for (const auto& name : names_of(s.meta.ns, s.meta.name))
    if (auto sl = cache.get(s.meta.ns, name)) out.push_back(*sl);
  return out;
}

}  // namespace herald::agent
