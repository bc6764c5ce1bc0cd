// Unit tests of the Table printer kubectl get shows (columns as kube-apiserver prints them).
#include "table.hpp"

#include "result_catch.hpp"

using namespace herald::emulator;

TEST_CASE("human durations follow kube's HumanDuration", "[table]") {
  using std::chrono::seconds;
  CHECK(human_duration(seconds(5)) == "5s");
  CHECK(human_duration(seconds(119)) == "119s");
  CHECK(human_duration(seconds(200)) == "3m20s");
  CHECK(human_duration(seconds(600)) == "10m");
  CHECK(human_duration(seconds(3 * 3600 + 300)) == "3h5m");
  CHECK(human_duration(seconds(30 * 3600)) == "30h");
  CHECK(human_duration(seconds(3 * 86400)) == "3d");
  CHECK(human_duration(seconds(-5)) == "<invalid>");
}

TEST_CASE("Service rows show type, cluster IP, external IP and ports", "[table]") {
  store s;
  const resource_type* svc = s.find_type("", "v1", "services");
  json body = {{"metadata", {{"name", "web"}}},
               {"spec", {{"type", "LoadBalancer"}, {"ports", json::array({{{"port", 80}}})}, {"selector", {{"app", "web"}}}}}};
  auto made = s.create(*svc, "default", body);
  REQUIRE(made);
  const auto now = std::chrono::system_clock::now();
  json table = to_table(*svc, *made, "", now);
  CHECK(table["kind"] == "Table");
  REQUIRE(table["rows"].size() == 1);
  json cells = table["rows"][0]["cells"];
  CHECK(cells[0] == "web");
  CHECK(cells[1] == "LoadBalancer");
  CHECK(cells[3] == "<pending>");
  CHECK(cells[4] == "80:30000/TCP");
  CHECK(cells[6] == "app=web");
  CHECK(table["rows"][0]["object"]["kind"] == "PartialObjectMetadata");
  auto st = s.patch(*svc, "default", "web", patch_kind::merge,
                    json::parse(R"({"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}})"), "status");
  REQUIRE(st);
  CHECK(to_table(*svc, *st, "", now)["rows"][0]["cells"][3] == "192.0.2.10");
  list_options lo;
  auto listed = s.list(*svc, "", lo);
  REQUIRE(listed);
  CHECK(to_table(*svc, *listed, "None", now)["rows"][0]["object"].is_null());
}

TEST_CASE("custom resources print their additionalPrinterColumns", "[table]") {
  resource_type t;
  t.group = "herald.dev";
  t.version = "v1";
  t.kind = "BGPPeer";
  t.custom = true;
  t.printer_columns = json::parse(R"([{"name":"Address","type":"string","jsonPath":".spec.peerAddress"},
                                      {"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}])");
  json obj = {{"metadata", {{"name", "r1"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
              {"spec", {{"peerAddress", "192.0.2.1"}}}};
  json table = to_table(t, obj, "", std::chrono::system_clock::from_time_t(1767225600 + 90));
  CHECK(table["columnDefinitions"].size() == 3);
  CHECK(table["rows"][0]["cells"] == json::array({"r1", "192.0.2.1", "90s"}));
}
