// Small helpers on configuration values.
#include "bgp/config.hpp"

#include <algorithm>

namespace herald::bgp {

std::string peer_config::name() const {
  auto where = address.to_string() + " AS" + std::to_string(asn);
  return description.empty() ? where : description + " (" + where + ")";
}

bool route_attrs::for_peer(const wire::ip_address& peer) const {
  return peers.empty() || std::find(peers.begin(), peers.end(), peer) != peers.end();
}

}  // namespace herald::bgp
