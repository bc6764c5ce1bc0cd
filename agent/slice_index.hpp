// Which EndpointSlices belong to which Service (the kubernetes.io/service-name
// label), kept from the EndpointSlice informer's changes. The fast path
// (runtime.cpp apply_service_early) plans an externalTrafficPolicy Local
// Service with its own slices only: this names them with one lookup instead
// of a walk over every slice of the namespace, which grows with the Services
// there (BENCHMARKS.md "Stop 27", bench-agent-event ... local). Pure: slice
// views in, names out; slices_of() reads the informer's cache by those names.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kube/cache.hpp"
#include "kube/views.hpp"

namespace herald::agent {

class slice_index {
 public:
  // One informer change: `before` is the slice's previous state (null when
  // it was added), `after` its new state (null when it was deleted). A slice
  // without the label belongs to no Service and is not indexed. A slice is
  // let go by its namespace/name, under the Service it was indexed with,
  // whatever labels `before` carries.
  void update(const kube::endpoint_slice* before, const kube::endpoint_slice* after);
  // Names of the slices of Service ns/name, in name order (empty if none).
  const std::set<std::string>& names_of(const std::string& ns, const std::string& service) const;
  // Those slices, read from `cache` (the informer's, which the index follows).
  std::vector<kube::endpoint_slice> slices_of(const kube::service& s,
                                              const kube::object_cache<kube::endpoint_slice>& cache) const;
  // Services with at least one slice.
  std::size_t size() const { return by_service_.size(); }

 private:
  std::map<std::string, std::set<std::string>, std::less<>> by_service_;  // "ns/service" → slice names
  std::map<std::string, std::string, std::less<>> service_of_;            // "ns/slice" → "ns/service"
};

}  // namespace herald::agent
