// The allocator's view of a Kubernetes Service (input) and what it decides
// for one (output): plain values, no client types, so the allocation core is
// tested without an API server. The controller converts informer objects with
// service_view_from_json and applies a service_decision with the patch helpers.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "herald/result.hpp"

namespace herald::allocator {

// Annotations Herald reads and writes on Services (docs/allocator.md).
namespace annotation {
inline constexpr const char* service_group = "herald.dev/service-group";
inline constexpr const char* addresses = "herald.dev/addresses";
inline constexpr const char* allow_shared_ip = "herald.dev/allow-shared-ip";
inline constexpr const char* allocated_by = "herald.dev/allocated-by";
inline constexpr const char* allocated_from = "herald.dev/allocated-from";
inline constexpr const char* pool_type = "herald.dev/pool-type";
}  // namespace annotation

struct service_port {
  std::string protocol = "TCP";  // TCP, UDP, SCTP
  std::uint16_t port = 0;
  friend bool operator==(const service_port&, const service_port&) = default;
};

struct service_view {
  std::string ns;
  std::string name;
  std::string uid;
  std::string creation_timestamp;  // RFC 3339; with uid, orders Services by age
  std::string type;                // "LoadBalancer", "ClusterIP", ...
  std::optional<std::string> load_balancer_class;
  std::map<std::string, std::string> annotations;
  std::vector<service_port> ports;
  std::vector<std::string> ip_families;  // "IPv4" / "IPv6", in order
  std::string ip_family_policy;          // SingleStack (default), PreferDualStack, RequireDualStack
  std::string load_balancer_ip;          // deprecated spec.loadBalancerIP
  std::vector<std::string> ingress_ips;  // current status.loadBalancer.ingress[].ip

  std::string key() const { return ns + "/" + name; }
  std::string annotation_or(const char* name_, const std::string& fallback) const {
    auto it = annotations.find(name_);
    return it == annotations.end() ? fallback : it->second;
  }
};

// Reads the fields above from a whole Service object (metadata, spec, status).
// Missing optional fields take Kubernetes' defaults; wrong types are errors.
Result<service_view, std::string> service_view_from_json(const nlohmann::json& object);

enum class event_type : std::uint8_t { normal, warning };

// A Kubernetes Event to record: on a Service, or (kind "ServiceGroup", ns
// empty) on a group. Reasons: AddressAssigned, AddressReleased,
// AllocationFailed, ConfigurationWarning.
struct event {
  std::string kind;  // "Service" or "ServiceGroup"
  std::string ns;
  std::string name;
  event_type type = event_type::normal;
  std::string reason;
  std::string message;
};

// What one Service should look like. `managed` false and no `write`: not
// ours, leave it alone. Otherwise `ingress_ips` is the whole desired
// status.loadBalancer.ingress (each with ipMode VIP) and `annotations` the
// herald.dev/allocated-* annotations to set (value) or remove (nullopt).
struct service_decision {
  std::string ns;
  std::string name;
  bool managed = false;  // Herald owns this Service's address
  bool write = false;    // status or annotations differ from the view: patch
  std::vector<std::string> ingress_ips;
  std::map<std::string, std::optional<std::string>> annotations;
  std::vector<event> events;
};

// JSON merge patches for a decision: metadata.annotations (null removes), and
// the status subresource's loadBalancer.ingress with ipMode VIP.
nlohmann::json annotations_patch(const service_decision& d);
nlohmann::json status_patch(const service_decision& d);

}  // namespace herald::allocator
