// Small helpers on configuration values.
#include "bgp/config.hpp"

#include <algorithm>

namespace herald::bgp {

std::string peer_config::name() const { return address.to_string() + " AS" + std::to_string(asn); }

bool route_attrs::for_peer(const wire::ip_address& peer) const {
  return peers.empty() || std::find(peers.begin(), peers.end(), peer) != peers.end();
}

}  // namespace herald::bgp
