// Read-only typed views of the Kubernetes objects Herald reads, parsed from
// the API server's JSON (core/v1 Service, Node, Secret; discovery.k8s.io/v1
// EndpointSlice; coordination.k8s.io/v1 Lease; and a generic view for the
// project's custom resources). JSON from the API server is untrusted input
// (STYLE.md §3): parse() never throws; a malformed object yields an error that
// names the offending field, and informers log it with the object's
// namespace/name and skip the object.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/error.hpp"

namespace herald::kube {

using string_map = std::map<std::string, std::string, std::less<>>;

// Parse failures carry a human-readable description: "spec.ports[1].port: not an integer".
template <class T>
using parse_result = herald::Result<T, parse_error>;

struct object_meta {
  std::string ns;  // empty for cluster-scoped objects
  std::string name;
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;
  std::string creation_timestamp;
  bool deleting = false;  // deletionTimestamp is set
  string_map labels;
  string_map annotations;

  // The cache key: "namespace/name", or "name" when cluster-scoped.
  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
  bool operator==(const object_meta&) const = default;
};

// Reads metadata only; used for the log line of a malformed object and by
// every view below. Needs metadata.name to be a string.
parse_result<object_meta> parse_meta(const nlohmann::json& object);
// "namespace/name" of whatever an object's metadata holds, for logs; "?" parts if absent.
std::string describe_object(const nlohmann::json& object);

// ---- core/v1 Service ----
struct service_port {
  std::string name;
  std::string protocol = "TCP";
  int port = 0;
  std::string target_port;  // int-or-string, kept as text
  int node_port = 0;
  std::string app_protocol;
  bool operator==(const service_port&) const = default;
};

struct ingress_port {
  int port = 0;
  std::string protocol = "TCP";
  std::optional<std::string> error;
};

struct load_balancer_ingress {
  std::string ip;
  std::string hostname;
  std::string ip_mode;  // "VIP" or "Proxy"; the API server defaults VIP when ip is set
  std::vector<ingress_port> ports;
  bool operator==(const load_balancer_ingress&) const = default;
};
bool operator==(const ingress_port& a, const ingress_port& b);

struct service {
  object_meta meta;
  std::string type = "ClusterIP";
  std::optional<std::string> load_balancer_class;
  std::vector<service_port> ports;
  std::string external_traffic_policy;  // "Cluster" or "Local"; empty if unset
  std::vector<std::string> ip_families;
  std::string ip_family_policy;
  std::vector<std::string> cluster_ips;
  std::string load_balancer_ip;  // deprecated spec.loadBalancerIP, still honoured by some users
  int health_check_node_port = 0;
  std::vector<load_balancer_ingress> ingress;  // status.loadBalancer.ingress

  static parse_result<service> parse(const nlohmann::json& object);
  bool operator==(const service&) const = default;
};

// ---- discovery.k8s.io/v1 EndpointSlice ----
inline constexpr std::string_view service_name_label = "kubernetes.io/service-name";

struct endpoint_conditions {
  // Unset means "unknown"; the API says consumers treat unset ready as true.
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
};

struct endpoint {
  std::vector<std::string> addresses;
  endpoint_conditions conditions;
  std::string node_name;
  std::string zone;
};

struct endpoint_port {
  std::string name;
  std::string protocol = "TCP";
  int port = 0;
};

struct endpoint_slice {
  object_meta meta;
  std::string address_type;  // IPv4, IPv6, FQDN
  std::vector<endpoint> endpoints;
  std::vector<endpoint_port> ports;
  // The owning Service's name, from the kubernetes.io/service-name label; empty if absent.
  std::string service_name() const;

  static parse_result<endpoint_slice> parse(const nlohmann::json& object);
};

// ---- core/v1 Node ----
struct node_address {
  std::string type;  // InternalIP, ExternalIP, Hostname, ...
  std::string address;
};

struct node_condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
};

struct node {
  object_meta meta;
  std::vector<node_address> addresses;
  std::vector<node_condition> conditions;
  bool unschedulable = false;
  std::vector<std::string> pod_cidrs;

  // condition Ready == "True"
  bool ready() const;
  static parse_result<node> parse(const nlohmann::json& object);
};

// ---- coordination.k8s.io/v1 Lease ----
struct lease {
  object_meta meta;
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime text, "" if unset
  std::string renew_time;
  int lease_transitions = 0;

  static parse_result<lease> parse(const nlohmann::json& object);
};

// ---- core/v1 Secret ----
struct secret {
  object_meta meta;
  std::string type;
  string_map data;  // base64-decoded .data, merged with .stringData if present

  static parse_result<secret> parse(const nlohmann::json& object);
};

// ---- custom resources (herald.dev/v1 and any other) ----
// Metadata plus the raw spec and status; the allocator and agent parse specs themselves.
struct custom_resource {
  object_meta meta;
  std::string api_version;
  std::string kind;
  nlohmann::json spec = nlohmann::json::object();
  nlohmann::json status = nlohmann::json::object();

  static parse_result<custom_resource> parse(const nlohmann::json& object);
};

// Strict RFC 4648 base64 (padding required and the bits it leaves over
// zero: exactly the text Kubernetes writes for the bytes).
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

}  // namespace herald::kube
