// herald-agent's command line (docs/agent.md "Running the agent"): flags
// with their environment defaults (the DaemonSet's downward API sets
// NODE_NAME and POD_NAMESPACE), parsed into plain values. Pure: the
// arguments and an environment lookup in, options or an error message out,
// so every rule is unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "herald/result.hpp"

namespace herald::agent {

inline constexpr const char* default_namespace = "herald-system";
inline constexpr const char* default_http_listen = "0.0.0.0:7473";
inline constexpr const char* default_grpc_listen = "127.0.0.1:50051";

struct agent_options {
  std::string kubeconfig;  // empty: $KUBECONFIG, else in-cluster (kube::load_config decides)
  std::string node_name;
  std::string ns = default_namespace;
  std::string http_listen = default_http_listen;
  std::string grpc_listen = default_grpc_listen;  // "off": no gRPC API
  std::optional<std::string> bgp_listen;         // none: no BGP listener (outgoing sessions only)
  std::uint16_t bgp_port = 179;
  // What SIGTERM does to the BGP sessions (docs/agent.md "SIGTERM"):
  // restart: close them without withdrawing (graceful restart keeps the
  // node's routes at the routers until the next agent's End-of-RIB: a rolling
  // update moves no flow); withdraw: graceful shutdown (RFC 8326), `drain`
  // seconds, withdraw, Cease (the node's traffic leaves it).
  enum class shutdown_mode { restart, withdraw };
  shutdown_mode on_sigterm = shutdown_mode::restart;
  std::chrono::seconds drain{10};
  std::string log_level = "info";
  // Wait after a change before planning, so a burst of events makes one plan
  // (at least as long as the last plan took: see node_agent::changed). 10 ms
  // keeps Service → route within the 50 ms target of issue 7 (BENCHMARKS.md).
  std::chrono::milliseconds debounce{10};

  enum class action { run, help, version };
  action what = action::run;
};

using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses argv[1..]. `env` answers NODE_NAME, POD_NAMESPACE and KUBECONFIG.
// Errors name the flag ("--bgp-port: '70000' is not a port (1-65535)").
// --help and --version return at once with `what` set (no other check).
Result<agent_options, std::string> parse_options(const std::vector<std::string>& args, const env_lookup& env);

std::string usage_text();

}  // namespace herald::agent
