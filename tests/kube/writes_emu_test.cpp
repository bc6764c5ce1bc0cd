// Writes against the emulator: Service status with ipMode (defaulted to VIP
// by the server), resourceVersion preconditions surfacing as 409 conflicts,
// annotation patches that add and remove, a custom resource's /status, and
// Events aggregated into one object with a count, under a rate limit; a
// burst of requests bounded to max_requests_in_flight connections, a Lease
// renewal (request_options::ahead) served before the requests queued earlier.
#include <boost/asio/detached.hpp>

#include "emulator_process.hpp"
#include "kube/events.hpp"
#include "kube/writes.hpp"
#include "result_catch.hpp"

using namespace herald::kube;
using namespace herald::kube::test;
using namespace std::chrono_literals;
using nlohmann::json;
using boost::beast::http::verb;

TEST_CASE("Service status and annotations by merge patch") {
  emulator_process emu;
  boost::asio::io_context ctx;
  auto c = make_client(ctx, emu.config());
  const json created = call(ctx, *c, verb::post, "/api/v1/namespaces/default/services",
                            json{{"metadata", {{"name", "web"}}},
                                 {"spec", {{"type", "LoadBalancer"}, {"ports", {{{"port", 80}}}}}}});
  const std::string rv0 = created["metadata"]["resourceVersion"];

  std::vector<load_balancer_ingress> ingress(2);
  ingress[0].ip = "192.0.2.10";  // no ipMode: the server defaults VIP
  ingress[1].ip = "2001:db8::10";
  ingress[1].ip_mode = "Proxy";
  auto patched = run_sync(ctx, patch_service_status(*c, "default", "web", ingress, rv0));
  REQUIRE(patched);
  REQUIRE(patched->ingress.size() == 2);
  CHECK(patched->ingress[0].ip_mode == "VIP");
  CHECK(patched->ingress[1].ip_mode == "Proxy");
  CHECK(patched->type == "LoadBalancer");  // a status write keeps the spec

  // The same precondition again is stale now: a typed 409.
  auto stale = run_sync(ctx, patch_service_status(*c, "default", "web", {}, rv0));
  REQUIRE_FALSE(stale);
  CHECK(stale.error().conflict());
  CHECK(stale.error().reason == "Conflict");

  // ingress is replaced whole.
  ingress.resize(1);
  auto replaced = run_sync(ctx, patch_service_status(*c, "default", "web", ingress, std::nullopt));
  REQUIRE(replaced);
  CHECK(replaced->ingress.size() == 1);

  auto added = run_sync(ctx, patch_annotations(*c, resources::services, "default", "web",
                                               {{"herald.dev/pool", "default"}, {"herald.dev/nodes", "a,b"}},
                                               std::nullopt));
  REQUIRE(added);
  auto removed = run_sync(ctx, patch_annotations(*c, resources::services, "default", "web",
                                                 {{"herald.dev/nodes", std::nullopt}}, std::nullopt));
  REQUIRE(removed);
  auto now = service::parse(*removed);
  REQUIRE(now);
  CHECK(now->meta.annotations.at("herald.dev/pool") == "default");
  CHECK_FALSE(now->meta.annotations.contains("herald.dev/nodes"));
  CHECK(now->ingress.size() == 1);  // an annotation patch keeps the status

  auto missing = run_sync(ctx, patch_annotations(*c, resources::services, "default", "nope", {{"a", "b"}},
                                                 std::nullopt));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().not_found());
}

TEST_CASE("custom resource status through the /status subresource") {
  emulator_process emu;
  boost::asio::io_context ctx;
  auto c = make_client(ctx, emu.config());
  const json crd = json::parse(R"({
    "apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"testpools.herald.dev"},
    "spec":{"group":"herald.dev","scope":"Namespaced",
      "names":{"kind":"TestPool","listKind":"TestPoolList","plural":"testpools","singular":"testpool"},
      "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
        "schema":{"openAPIV3Schema":{"type":"object","properties":{
          "spec":{"type":"object","properties":{"pool":{"type":"string"}}},
          "status":{"type":"object","properties":{"inUse":{"type":"integer"},"size":{"type":"integer"}}}}}}}]}})");
  call(ctx, *c, verb::post, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  const resource pools{"herald.dev", "v1", "testpools", true};
  call(ctx, *c, verb::post, pools.path("default"),
       json{{"apiVersion", "herald.dev/v1"}, {"kind", "TestPool"}, {"metadata", {{"name", "p"}}},
            {"spec", {{"pool", "203.0.113.0/24"}}}});
  auto written = run_sync(ctx, patch_custom_status(*c, pools, "default", "p", json{{"inUse", 3}, {"size", 256}},
                                                   std::nullopt));
  REQUIRE(written);
  CHECK(written->kind == "TestPool");
  CHECK(written->status["inUse"] == 3);
  CHECK(written->spec["pool"] == "203.0.113.0/24");
  auto stale = run_sync(ctx, patch_custom_status(*c, pools, "default", "p", json{{"inUse", 4}}, std::string("1")));
  REQUIRE_FALSE(stale);
  CHECK(stale.error().conflict());
}

TEST_CASE("repeated Events are patched with a count, and rate-limited") {
  emulator_process emu;
  boost::asio::io_context ctx;
  auto c = make_client(ctx, emu.config());
  const json svc = call(ctx, *c, verb::post, "/api/v1/namespaces/default/services", service_body("web"));
  auto parsed = service::parse(svc);
  REQUIRE(parsed);
  const auto ref = reference_to(*parsed, "Service", "v1");
  event_recorder rec(c, "herald-allocator", "node-a");
  auto first = run_sync(ctx, rec.record(ref, "Normal", "AddressAssigned", "192.0.2.10 from pool default"));
  REQUIRE(first);
  CHECK(*first == 1);
  auto second = run_sync(ctx, rec.record(ref, "Normal", "AddressAssigned", "192.0.2.10 from pool default"));
  REQUIRE(second);
  CHECK(*second == 2);
  auto other = run_sync(ctx, rec.record(ref, "Warning", "PoolExhausted", "no address left"));
  REQUIRE(other);
  CHECK(*other == 1);

  const json events = call(ctx, *c, verb::get, "/api/v1/namespaces/default/events");
  REQUIRE(events["items"].size() == 2);
  bool saw_count_two = false;
  for (const auto& e : events["items"]) {
    CHECK(e["involvedObject"]["name"] == "web");
    CHECK(e["involvedObject"]["uid"] == parsed->meta.uid);
    CHECK(e["source"]["component"] == "herald-allocator");
    if (e["reason"] == "AddressAssigned") saw_count_two = e["count"] == 2;
  }
  CHECK(saw_count_two);

  // The per-object burst (25) is spent: further events are dropped without a request.
  for (int i = 0; i < 30; ++i) REQUIRE(run_sync(ctx, rec.record(ref, "Normal", "Spam", std::to_string(i))));
  CHECK(rec.dropped() == 30 + 3 - 25);
}

TEST_CASE("a burst of requests shares max_requests_in_flight connections; watches are not counted; "
          "a Lease renewal waits ahead") {
  emulator_process emu;
  boost::asio::io_context ctx;
  auto cfg = emu.config();
  cfg.max_requests_in_flight = 3;
  auto c = make_client(ctx, cfg);

  // Two watch streams, open throughout: they hold connections of their own
  // and no request slot.
  std::vector<std::shared_ptr<stream_cancel>> watches;
  int watches_ended = 0;
  for (int i = 0; i < 2; ++i) {
    auto cancel = std::make_shared<stream_cancel>();
    watches.push_back(cancel);
    boost::asio::co_spawn(
        ctx,
        [c, cancel, &watches_ended]() -> boost::asio::awaitable<void> {
          co_await c->stream_lines("/api/v1/namespaces/default/services?watch=1", 30s,
                                   [](std::string_view) { return true; }, cancel);
          ++watches_ended;
        },
        boost::asio::detached);
  }
  run_for(ctx, 200ms);
  const std::size_t watch_connections = c->connections_opened();
  REQUIRE(watch_connections == 2);
  REQUIRE(watches_ended == 0);

  // 60 requests at once, as an agent annotating Services after its first plan.
  constexpr int burst = 60;
  int answered = 0, finished = 0;
  auto spawn = [&](bool ahead, int* finished_at) {
    boost::asio::co_spawn(
        ctx,
        [c, ahead, finished_at, &answered, &finished]() -> boost::asio::awaitable<void> {
          request_options r;
          r.target = "/api/v1/namespaces/default/services";
          r.ahead = ahead;
          auto res = co_await c->request(r);
          if (res && res->status == 200) ++answered;
          if (finished_at) *finished_at = finished;
          ++finished;
        },
        boost::asio::detached);
  };
  for (int i = 0; i < burst; ++i) spawn(false, nullptr);
  ctx.restart();
  // Every request has started: three are sent, the rest wait. (A quick
  // server may already have answered some within poll(): each answer hands
  // its slot to the next.)
  ctx.poll();
  CHECK(c->requests_waiting() + finished == burst - 3);
  // A Lease renewal queued last goes out with the first free slot.
  const int finished_before_lease = finished;
  int lease_finished_at = -1;
  spawn(true, &lease_finished_at);
  ctx.restart();
  ctx.poll();
  CHECK(c->requests_waiting() + finished == burst - 3 + 1);
  REQUIRE(run_until(ctx, [&] { return finished == burst + 1; }, 30s));
  CHECK(answered == burst + 1);
  CHECK(lease_finished_at >= 0);
  // After at most the three on the wire when it was queued (the 61st without ahead).
  CHECK(lease_finished_at <= finished_before_lease + 3);
  CHECK(c->requests_waiting() == 0);
  // Three connections carried all 61 (one each without the bound).
  CHECK(c->connections_opened() - watch_connections <= 3);

  // The slots are free again: one more request needs no new connection.
  request_options again;
  again.target = "/api/v1/namespaces/default/services";
  auto one = run_sync(ctx, c->request(again));
  REQUIRE(one);
  CHECK(c->connections_opened() - watch_connections <= 3);
  for (auto& w : watches) (*w)();
  CHECK(run_until(ctx, [&] { return watches_ended == 2; }, 5s));
}
