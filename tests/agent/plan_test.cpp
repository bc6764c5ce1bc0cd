// Unit tests of the node agent's pure core: resource parsing and the planner.
#include <catch2/catch.hpp>

#include "agent/plan.hpp"

using namespace herald::agent;

TEST_CASE("label selectors: matchLabels and matchExpressions", "[selector]") {
  label_selector s;
  s.match_labels["rack"] = "a";
  s.match_expressions.push_back({"role", selector_requirement::op::not_in, {"edge"}});
  CHECK(s.matches({{"rack", "a"}}));
  CHECK(!s.matches({{"rack", "b"}}));
  CHECK(!s.matches({{"rack", "a"}, {"role", "edge"}}));
  CHECK(label_selector{}.matches({}));
  CHECK(node_lease_name("n1") == "herald-node-n1");
}
