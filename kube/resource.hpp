// Which API resource a request or informer addresses, and its URL paths:
// "/api/v1/namespaces/N/services/NAME/status" for the core group,
// "/apis/G/V/..." for the others; cluster-scoped kinds have no namespace part.
#pragma once

#include <string>
#include <string_view>

namespace herald::kube {

struct resource {
  std::string group;  // "" = the core group
  std::string version;
  std::string plural;
  bool namespaced = true;

  // ns empty: all namespaces (list/watch) or a cluster-scoped object.
  std::string path(std::string_view ns = {}, std::string_view name = {}, std::string_view subresource = {}) const;
};

namespace resources {
inline const resource services{"", "v1", "services", true};
inline const resource endpoint_slices{"discovery.k8s.io", "v1", "endpointslices", true};
inline const resource nodes{"", "v1", "nodes", false};
inline const resource secrets{"", "v1", "secrets", true};
inline const resource events{"", "v1", "events", true};
inline const resource leases{"coordination.k8s.io", "v1", "leases", true};
}  // namespace resources

// Percent-encoding for query values (selectors, continue tokens); RFC 3986 unreserved kept.
std::string query_escape(std::string_view value);

}  // namespace herald::kube
