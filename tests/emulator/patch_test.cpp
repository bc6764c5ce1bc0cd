// Unit tests of merge patch (RFC 7386) and strategic merge directives.
#include "patch.hpp"

#include "result_catch.hpp"

using herald::emulator::builtin_strategy;
using herald::emulator::merge_patch;
using herald::emulator::strategic_merge;
using nlohmann::json;

TEST_CASE("merge patch: null deletes, arrays replace", "[patch]") {
  const json doc = json::parse(R"({"a":{"b":1,"c":2},"l":[1,2]})");
  CHECK(merge_patch(doc, json::parse(R"({"a":{"b":null},"l":[3]})")) == json::parse(R"({"a":{"c":2},"l":[3]})"));
}

TEST_CASE("strategic merge: directives", "[patch]") {
  const auto svc = builtin_strategy("Service");
  const json doc = json::parse(R"({"metadata":{"finalizers":["a"],"labels":{"x":"1","y":"2"}},
                                   "spec":{"ports":[{"port":80,"name":"http"}],"selector":{"app":"a","tier":"b"}}})");
  auto r = strategic_merge(doc, json::parse(R"({"metadata":{"finalizers":["b"],"labels":{"x":null}},
                                                "spec":{"selector":{"$patch":"replace","app":"z"}}})"), svc);
  REQUIRE(r);
  CHECK((*r)["metadata"]["finalizers"] == json::array({"a", "b"}));
  CHECK((*r)["metadata"]["labels"] == json({{"y", "2"}}));
  CHECK((*r)["spec"]["selector"] == json({{"app", "z"}}));
  CHECK((*r)["spec"]["ports"].size() == 1);

  auto del = strategic_merge(doc, json::parse(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]},
                                                  "spec":{"ports":[{"$patch":"replace"},{"port":443}]}})"), svc);
  REQUIRE(del);
  CHECK((*del)["metadata"]["finalizers"] == json::array());
  CHECK((*del)["spec"]["ports"] == json::parse(R"([{"port":443}])"));

  auto retain = strategic_merge(doc, json::parse(R"({"spec":{"$retainKeys":["ports"],"ports":[{"port":80}]}})"), svc);
  REQUIRE(retain);
  CHECK_FALSE((*retain)["spec"].contains("selector"));

  CHECK_FALSE(strategic_merge(doc, json::parse(R"({"spec":{"ports":[{"name":"nokey"}]}})"), svc));
}
