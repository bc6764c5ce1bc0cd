// Pure parts of the writes: merge-patch bodies, Event objects and the
// per-object spam filter (kube/writes.hpp, kube/events.hpp).
#include "kube/events.hpp"
#include "kube/writes.hpp"
#include "result_catch.hpp"

using namespace herald::kube;

TEST_CASE("event spam filter: burst, then one per refill period, per object") {
  event_spam_filter f(3, std::chrono::seconds(10));
  event_spam_filter::clock::time_point t{};
  CHECK(f.allow("a", t));
  CHECK(f.allow("a", t));
  CHECK(f.allow("a", t));
  CHECK_FALSE(f.allow("a", t));
  CHECK(f.allow("b", t));  // another object has its own bucket
  CHECK_FALSE(f.allow("a", t + std::chrono::seconds(9)));
  CHECK(f.allow("a", t + std::chrono::seconds(19)));
  CHECK_FALSE(f.allow("a", t + std::chrono::seconds(20)));
}

TEST_CASE("event objects and patch bodies") {
  object_reference ref{"Service", "v1", "shop", "web", "uid-1", "42"};
  const auto e = make_event(ref, "Normal", "AddressAssigned", "m", "herald", "node-a",
                            std::chrono::system_clock::time_point(std::chrono::seconds(1796029200)));
  CHECK(e["metadata"]["name"].get<std::string>().starts_with("web."));
  CHECK(e["metadata"]["namespace"] == "shop");
  CHECK(e["involvedObject"]["uid"] == "uid-1");
  CHECK(e["firstTimestamp"] == "2026-11-30T09:00:00Z");
  CHECK(e["count"] == 1);

  load_balancer_ingress in;
  in.ip = "192.0.2.10";
  in.ip_mode = "VIP";
  in.ports.push_back({80, "TCP", std::nullopt});
  CHECK(nlohmann::json::parse(service_status_patch({in}, std::string("7"))) ==
        nlohmann::json::parse(R"({"metadata":{"resourceVersion":"7"},"status":{"loadBalancer":{"ingress":[
          {"ip":"192.0.2.10","ipMode":"VIP","ports":[{"port":80,"protocol":"TCP"}]}]}}})"));
  CHECK(nlohmann::json::parse(service_status_patch({}, std::nullopt)) ==
        nlohmann::json::parse(R"({"status":{"loadBalancer":{"ingress":[]}}})"));
  CHECK(nlohmann::json::parse(annotations_patch({{"a", "1"}, {"b", std::nullopt}}, std::nullopt)) ==
        nlohmann::json::parse(R"({"metadata":{"annotations":{"a":"1","b":null}}})"));
}

TEST_CASE("status_update: only a change is written, transition times kept while a condition's status holds") {
  using nlohmann::json;
  const json accepted = {{"conditions", {{{"type", "Accepted"}, {"status", "True"}, {"reason", "Accepted"}, {"message", "m"}}}}};
  auto first = status_update(accepted, json(nullptr), {}, "2026-11-30T08:00:00Z");
  REQUIRE(first);
  CHECK((*first)["conditions"][0]["lastTransitionTime"] == "2026-11-30T08:00:00Z");
  CHECK_FALSE(status_update(accepted, *first, {}, "2026-11-30T09:00:00Z"));  // steady: nothing to write

  json refused = accepted;
  refused["conditions"][0]["status"] = "False";
  refused["conditions"][0]["reason"] = "PasswordUnavailable";
  auto second = status_update(refused, *first, {}, "2026-11-30T09:00:00Z");
  REQUIRE(second);
  CHECK((*second)["conditions"][0]["lastTransitionTime"] == "2026-11-30T09:00:00Z");

  json message_only = accepted;
  message_only["conditions"][0]["message"] = "other";
  auto third = status_update(message_only, *first, {}, "2026-11-30T10:00:00Z");
  REQUIRE(third);
  CHECK((*third)["conditions"][0]["lastTransitionTime"] == "2026-11-30T08:00:00Z");  // status did not change

  // A field no longer reported is removed (null in the merge patch); an unlisted one is left alone.
  json stored = *first;
  stored["v4Size"] = 8;
  stored["other"] = 1;
  auto fourth = status_update(accepted, stored, {"v4Size"}, "2026-11-30T10:00:00Z");
  REQUIRE(fourth);
  CHECK((*fourth)["v4Size"].is_null());
  CHECK_FALSE(fourth->contains("other"));
}
