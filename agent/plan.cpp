// The planner (plan.hpp): objects in, plan out. Pure.
#include "agent/plan.hpp"

namespace herald::agent {

// Step 1 placeholders: the interface is fixed; the rules land next.
group_entry group_entry_from(const kube::custom_resource&) { return {std::nullopt, "not implemented yet"}; }
node_agent_settings settings_for_node(const cluster_state&, std::string_view) { return {}; }
node_plan plan_node(const cluster_state&, std::string_view, const node_facts&) { return {}; }
std::optional<std::string> rendezvous_winner(std::string_view, const std::vector<std::string>& candidates) {
  if (candidates.empty()) return std::nullopt;
  return candidates.front();
}
std::array<std::size_t, 2> ready_local_endpoints(const cluster_state&, std::string_view, std::string_view,
                                                 std::string_view) {
  return {0, 0};
}

}  // namespace herald::agent
