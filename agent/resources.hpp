// The node agent's custom resources (herald.dev/v1 BGPPeer and LBNodeAgent,
// manifests/crds/) and the per-node Lease (`herald-node-<node>`), parsed and
// validated into plain values. Spec JSON from the API server is untrusted
// input (STYLE.md §3): nothing here throws; a bad object is an error string
// naming the field ("spec.peerASN: must be an integer from 1 to 4294967295").
// Kubernetes label selectors (metav1.LabelSelector) are evaluated here too.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bgp/config.hpp"
#include "herald/result.hpp"
#include "kube/views.hpp"
#include "netlink/types.hpp"

namespace herald::agent {

// ---- label selectors (metav1.LabelSelector) ----
struct selector_requirement {
  enum class op : std::uint8_t { in, not_in, exists, does_not_exist };
  std::string key;
  op operation = op::exists;
  std::vector<std::string> values;
  friend bool operator==(const selector_requirement&, const selector_requirement&) = default;
};

// Absent or empty selects every node (as the CRDs document).
struct label_selector {
  std::map<std::string, std::string> match_labels;
  std::vector<selector_requirement> match_expressions;

  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  bool matches(const kube::string_map& labels) const;
  friend bool operator==(const label_selector&, const label_selector&) = default;
};

// Parses {matchLabels, matchExpressions}; `path` prefixes error messages
// ("spec.nodeSelector"). In/NotIn need values; Exists/DoesNotExist take none.
Result<label_selector, std::string> parse_label_selector(const nlohmann::json& j, const std::string& path);

// Kubernetes duration strings as CRDs use them: "90s", "1m30s", "1h", "500ms".
// Non-negative only. nullopt on anything else.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// ---- BGPPeer ----
struct secret_ref {
  std::string name;
  std::string key = "password";
  friend bool operator==(const secret_ref&, const secret_ref&) = default;
};

struct bgp_peer {
  std::string ns;
  std::string name;
  // Everything but the password, which comes from the Secret at planning time.
  // families: always explicit (the CRD's default is both).
  bgp::peer_config config;
  std::optional<secret_ref> password;
  label_selector node_selector;
  std::optional<std::uint32_t> router_id;  // spec.routerID, host order
  bool graceful_restart = true;
  std::uint16_t restart_time = 120;  // seconds, 1..4095 (RFC 4724 §3: 12 bits)

  std::string key() const { return ns + "/" + name; }
};

// Validates a BGPPeer. `herald_namespace` is the namespace the agent runs in:
// only a BGPPeer there is used (metadata.namespace: ...), since anyone who
// may create BGPPeers in a tenant namespace could otherwise point the nodes'
// sessions, and the passwords of that namespace's Secrets, at a router of
// their choice. Errors name the field, prefixed "spec." or "metadata.".
Result<bgp_peer, std::string> parse_bgp_peer(const kube::custom_resource& object, std::string_view herald_namespace);

// ---- LBNodeAgent ----
struct garp_settings {
  bool enabled = true;
  int count = 3;  // 1..10
  std::chrono::milliseconds interval{1000};
  friend bool operator==(const garp_settings&, const garp_settings&) = default;
};

struct node_agent_settings {
  std::string name;  // "ns/name" of the LBNodeAgent, empty for built-in defaults
  std::string local_interface = "default";  // "default" or a regex over link names
  std::string dummy_interface = "kube-lb0";
  garp_settings garp;
  std::uint32_t valid_lifetime = 0;      // seconds, 0 = forever (remote addresses)
  std::uint32_t preferred_lifetime = 0;  // seconds, 0 = forever (remote addresses)
  bool noprefixroute = true;
  label_selector node_selector;
  friend bool operator==(const node_agent_settings&, const node_agent_settings&) = default;
};

// Validates an LBNodeAgent: dummyInterface is a valid link name, localInterface
// "default" or a regex that compiles (std::regex ECMAScript), lifetimes
// preferred <= valid unless valid is 0 (forever).
Result<node_agent_settings, std::string> parse_lb_node_agent(const kube::custom_resource& object);

// ---- node Leases ----
// Each agent holds coordination.k8s.io Lease `herald-node-<node>` in Herald's
// namespace, annotated with the subnets of its local interface.
inline constexpr std::string_view node_lease_prefix = "herald-node-";
inline constexpr const char* subnets_annotation = "herald.dev/subnets";  // "192.0.2.0/24,2001:db8::/64"
std::string node_lease_name(std::string_view node);

struct node_lease {
  std::string node;
  std::vector<netlink::subnet> subnets;
  // On the observer's steady clock: when this agent last saw the Lease's
  // renewTime change, plus leaseDurationSeconds (never from renewTime itself:
  // node clocks are not comparable, kube/election.hpp). The agent computes it.
  std::chrono::steady_clock::time_point expires{};
  friend bool operator==(const node_lease&, const node_lease&) = default;
};

// The node and subnets of a herald-node-* Lease (the node from the Lease's
// name; holderIdentity is the node too). `expires` is left for the caller.
// Errors: not a herald-node-* name, a bad subnet in the annotation.
Result<node_lease, std::string> parse_node_lease(const kube::lease& lease);
// The annotation value for a node's subnets, in the given order.
std::string format_subnets(const std::vector<netlink::subnet>& subnets);

}  // namespace herald::agent
