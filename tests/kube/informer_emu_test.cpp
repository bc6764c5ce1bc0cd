// Informers against the emulator under every fault switch (docs/emulator.md):
// dropped connections, forced 410 (expired watches, compacted history),
// 429 and 500 answers to lists and watches, instantly closed watches, slow
// responses. While a workload creates, updates and deletes Services, the
// faults fire; after they stop, the informer's cache must equal the server's
// state exactly, and the handlers must have seen a consistent sequence: no
// add of a known object, no update from a state they did not hold, no delete
// of an object they did not hold or that still exists, no final state missed.
#include <map>
#include <random>
#include <set>

#include "emulator_process.hpp"
#include "kube/informer.hpp"
#include "result_catch.hpp"

using namespace herald::kube;
using namespace herald::kube::test;
using namespace std::chrono_literals;
using nlohmann::json;
using boost::beast::http::verb;

namespace {

struct identity {
  std::string uid;
  std::string rv;
  bool operator==(const identity&) const = default;
};
using state_map = std::map<std::string, identity>;

// Rebuilds the world from handler calls only, noting every inconsistency.
struct handler_mirror {
  state_map objects;
  std::vector<std::string> violations;
  std::vector<std::pair<std::string, std::string>> deleted;  // key, uid
  std::size_t calls = 0;

  informer_handlers<service> handlers() {
    informer_handlers<service> h;
    h.on_add = [this](const service& s) {
      ++calls;
      if (objects.contains(s.meta.key())) violations.push_back("add of known " + s.meta.key());
      objects[s.meta.key()] = {s.meta.uid, s.meta.resource_version};
    };
    h.on_update = [this](const service& old_s, const service& new_s) {
      ++calls;
      auto it = objects.find(new_s.meta.key());
      if (it == objects.end()) violations.push_back("update of unknown " + new_s.meta.key());
      else if (it->second.rv != old_s.meta.resource_version)
        violations.push_back("update from a state not held: " + new_s.meta.key());
      objects[new_s.meta.key()] = {new_s.meta.uid, new_s.meta.resource_version};
    };
    h.on_delete = [this](const service& s) {
      ++calls;
      if (!objects.erase(s.meta.key())) violations.push_back("delete of unknown " + s.meta.key());
      deleted.emplace_back(s.meta.key(), s.meta.uid);
    };
    return h;
  }
};

state_map server_state(boost::asio::io_context& ctx, client& c) {
  const json list = call(ctx, c, verb::get, "/api/v1/services");
  state_map out;
  for (const auto& item : list.at("items")) {
    const auto& m = item.at("metadata");
    out[m.at("namespace").get<std::string>() + "/" + m.at("name").get<std::string>()] = {
        m.at("uid").get<std::string>(), m.at("resourceVersion").get<std::string>()};
  }
  return out;
}

state_map cache_state(const informer<service>& inf) {
  state_map out;
  for (const auto& [key, s] : inf.cache().objects()) out[key] = {s->meta.uid, s->meta.resource_version};
  return out;
}

// Random creates, annotation patches and deletes over two namespaces.
class workload {
 public:
  workload(boost::asio::io_context& ctx, client& c) : ctx_(ctx), c_(c) {}

  void step() {
    const std::string ns = rng_() % 2 ? "shop" : "default";
    const std::string name = "svc-" + std::to_string(rng_() % 25);
    const std::string key = ns + "/" + name;
    const std::string path = "/api/v1/namespaces/" + ns + "/services";
    if (!live_.contains(key)) {
      call(ctx_, c_, verb::post, path, service_body(name, {{"app", "web"}}));
      live_.insert(key);
    } else if (rng_() % 3 == 0) {
      call(ctx_, c_, verb::delete_, path + "/" + name);
      live_.erase(key);
    } else {
      request_options req;
      req.method = verb::patch;
      req.target = path + "/" + name;
      req.body = json{{"metadata", {{"annotations", {{"step", std::to_string(++counter_)}}}}}}.dump();
      req.content_type = "application/merge-patch+json";
      auto r = run_sync(ctx_, c_.request_json(req));
      if (!r) throw std::runtime_error("patch: " + r.error().to_string());
    }
  }

 private:
  boost::asio::io_context& ctx_;
  client& c_;
  std::mt19937 rng_{42};
  std::set<std::string> live_;
  int counter_ = 0;
};

struct fault {
  const char* name;
  std::vector<std::string> actions;  // admin actions fired before each burst of writes
  std::vector<std::string> after = {};  // and after it
};

}  // namespace

TEST_CASE("informer cache equals the server after every kind of fault") {
  const std::vector<fault> faults{
      {"drop connections", {"drop"}},
      {"expire open watches (ERROR 410)", {"expire-watches"}},
      {"next watches expire at once", {"expire-next-watches?count=2", "drop"}},
      {"next watches close at once", {"close-next-watches?count=3", "drop"}},
      {"429 on watches and lists", {"fail?code=429&count=3&retryAfter=1&verb=watch", "drop",
                                    "fail?code=429&count=2&verb=list", "expire-watches"}},
      {"500 on watches and lists", {"fail?code=500&count=3&verb=watch", "drop", "fail?code=500&count=2&verb=list",
                                    "expire-watches"}},
      // Watches cut off while writes go on, then the history is compacted:
      // the informer's next watch resumes from a compacted resourceVersion.
      {"compacted history", {"close-next-watches?count=1000", "drop"}, {"compact", "reset-faults"}},
      {"slow responses", {"delay?ms=300"}},
  };
  REQUIRE(faults.size() == 8);
  for (const auto& f : faults) {
    DYNAMIC_SECTION(f.name) {
      emulator_process emu({"--bookmark-interval-ms", "300"});
      boost::asio::io_context ctx;
      auto writer = make_client(ctx, emu.config());
      auto reader = make_client(ctx, emu.config());
      call(ctx, *writer, verb::post, "/api/v1/namespaces", json{{"metadata", {{"name", "shop"}}}});
      workload work(ctx, *writer);
      for (int i = 0; i < 20; ++i) work.step();

      handler_mirror mirror;
      informer_options opt;
      opt.page_size = 7;  // several pages per list
      opt.min_watch_timeout = 2s;
      opt.max_watch_timeout = 4s;
      opt.retry.initial = 50ms;
      opt.retry.max = 1s;
      auto inf = informer<service>::create(reader, resources::services, opt, mirror.handlers());
      inf->start();
      REQUIRE(run_until(ctx, [&] { return inf->synced(); }, 10s));

      for (int burst = 0; burst < 4; ++burst) {
        for (const auto& action : f.actions) admin(ctx, *writer, action);
        for (int i = 0; i < 8; ++i) work.step();
        for (const auto& action : f.after) admin(ctx, *writer, action);
        run_for(ctx, 300ms);
      }
      admin(ctx, *writer, "reset-faults");
      work.step();

      state_map server;
      const bool converged = run_until(
          ctx,
          [&] {
            server = server_state(ctx, *writer);
            return cache_state(*inf) == server && mirror.objects == server;
          },
          20s);
      INFO("stats: lists " << inf->stats().lists << " watches " << inf->stats().watches << " gone "
                           << inf->stats().gone << " watch errors " << inf->stats().watch_errors << " list errors "
                           << inf->stats().list_errors << " events " << inf->stats().events);
      CHECK(converged);
      CHECK(server.size() > 0);
      CHECK(mirror.violations.empty());
      for (const auto& v : mirror.violations) INFO(v);
      for (const auto& [key, uid] : mirror.deleted) {
        auto it = server.find(key);
        CHECK_FALSE((it != server.end() && it->second.uid == uid));  // never a delete of a live object
      }
      // The fault really hit the informer.
      const auto& st = inf->stats();
      const std::string name = f.name;
      if (name.find("drop") != std::string::npos || name.find("close") != std::string::npos) CHECK(st.watches > 3);  // reconnected after the drops
      if (name.find("expire") != std::string::npos || name.find("compact") != std::string::npos) CHECK(st.gone > 0);
      if (name.find("429") != std::string::npos || name.find("500") != std::string::npos)
        CHECK(st.watch_errors + st.list_errors > 0);
      inf->stop();
      run_for(ctx, 50ms);
    }
  }
}

TEST_CASE("label and field selectors narrow an informer") {
  emulator_process emu;
  boost::asio::io_context ctx;
  auto c = make_client(ctx, emu.config());
  for (const char* name : {"a", "b", "c"}) {
    const json labels = {{"tier", name == std::string("c") ? "db" : "web"}};
    call(ctx, *c, verb::post, "/api/v1/namespaces/default/services", service_body(name, labels));
  }
  informer_options by_label;
  by_label.label_selector = "tier=web";
  auto web = informer<service>::create(c, resources::services, by_label, {});
  informer_options by_field;
  by_field.ns = "default";
  by_field.field_selector = "metadata.name=c";
  auto only_c = informer<service>::create(c, resources::services, by_field, {});
  web->start();
  only_c->start();
  REQUIRE(run_until(ctx, [&] { return web->synced() && only_c->synced(); }, 10s));
  CHECK(web->cache().size() == 2);
  CHECK(only_c->cache().size() == 1);
  CHECK(only_c->cache().get("default", "c"));
  // A label change moves an object out of the selection: the informer sees a delete.
  request_options req;
  req.method = verb::patch;
  req.target = "/api/v1/namespaces/default/services/a";
  req.body = R"({"metadata":{"labels":{"tier":"db"}}})";
  req.content_type = "application/merge-patch+json";
  REQUIRE(run_sync(ctx, c->request_json(req)));
  CHECK(run_until(ctx, [&] { return web->cache().size() == 1; }, 10s));
  web->stop();
  only_c->stop();
  run_for(ctx, 50ms);
}

// An emulator, a client of it and informer options for namespace default.
struct emulated {
  emulator_process emu;
  boost::asio::io_context ctx;
  std::shared_ptr<client> c = make_client(ctx, emu.config());
  informer_options opt = [] {
    informer_options o;
    o.ns = "default";
    return o;
  }();
  // Stops the informer and lets its loop end.
  void finish(informer_base& inf) {
    inf.stop();
    run_for(ctx, 50ms);
  }
};

TEST_CASE("malformed objects are skipped, the rest is cached") {
  emulated e;
  auto& ctx = e.ctx;
  auto& c = e.c;
  // The server stores what the view rejects: a lease duration beyond 32 bits.
  const json good = {{"metadata", {{"name", "good"}}}, {"spec", {{"leaseDurationSeconds", 15}}}};
  const json bad = {{"metadata", {{"name", "bad"}}}, {"spec", {{"leaseDurationSeconds", 99999999999LL}}}};
  call(ctx, *c, verb::post, "/apis/coordination.k8s.io/v1/namespaces/default/leases", good);
  call(ctx, *c, verb::post, "/apis/coordination.k8s.io/v1/namespaces/default/leases", bad);
  auto& opt = e.opt;
  auto inf = informer<lease>::create(c, resources::leases, opt, {});
  inf->start();
  REQUIRE(run_until(ctx, [&] { return inf->synced(); }, 10s));
  CHECK(inf->cache().size() == 1);
  CHECK(inf->cache().get("default", "good"));
  CHECK(inf->stats().malformed == 1);
  // Deleting the malformed object is harmless; deleting the good one is seen.
  call(ctx, *c, verb::delete_, "/apis/coordination.k8s.io/v1/namespaces/default/leases/bad");
  call(ctx, *c, verb::delete_, "/apis/coordination.k8s.io/v1/namespaces/default/leases/good");
  CHECK(run_until(ctx, [&] { return inf->cache().size() == 0; }, 10s));
  e.finish(*inf);
}

TEST_CASE("a handler that throws is logged and counted; the informer goes on") {
  emulated e;
  auto& ctx = e.ctx;
  auto& c = e.c;
  auto& opt = e.opt;
  std::vector<std::string> added, updated;
  informer_handlers<service> h;
  h.on_add = [&](const service& s) {
    if (s.meta.name == "boom") throw std::runtime_error("planner bug");
    if (s.meta.name == "odd") throw 42;  // not a std::exception
    added.push_back(s.meta.name);
  };
  h.on_update = [&](const service&, const service& s) { updated.push_back(s.meta.name); };
  auto inf = informer<service>::create(c, resources::services, opt, std::move(h));
  inf->start();
  REQUIRE(run_until(ctx, [&] { return inf->synced(); }, 10s));
  const std::string path = "/api/v1/namespaces/default/services";
  for (const char* name : {"boom", "odd", "fine"}) call(ctx, *c, verb::post, path, service_body(name));
  REQUIRE(run_until(ctx, [&] { return added.size() == 1; }, 10s));
  CHECK(added == std::vector<std::string>{"fine"});
  CHECK(inf->stats().handler_errors == 2);
  // The objects whose handlers threw are cached all the same, and their
  // next change reaches the handlers.
  CHECK(inf->cache().size() == 3);
  request_options req;
  req.method = verb::patch;
  req.target = path + "/boom";
  req.body = json{{"metadata", {{"annotations", {{"step", "1"}}}}}}.dump();
  req.content_type = "application/merge-patch+json";
  REQUIRE(run_sync(ctx, c->request_json(req)));
  REQUIRE(run_until(ctx, [&] { return updated.size() == 1; }, 10s));
  CHECK(updated == std::vector<std::string>{"boom"});
  CHECK(inf->stats().handler_errors == 2);
  e.finish(*inf);
}

TEST_CASE("an exception that escapes the loop restarts it with a relist") {
  emulated e;
  auto& ctx = e.ctx;
  auto& c = e.c;
  auto& opt = e.opt;
  opt.retry.initial = 50ms;
  opt.retry.max = 200ms;
  std::vector<std::string> added;
  informer_handlers<service> h;
  h.on_add = [&](const service& s) { added.push_back(s.meta.name); };
  auto inf = informer<service>::create(c, resources::services, opt, std::move(h));
  int list_done = 0;
  inf->on_list_done = [&] {
    if (++list_done == 1) throw std::runtime_error("first list rejected");
  };
  inf->start();
  REQUIRE(run_until(ctx, [&] { return list_done == 2; }, 10s));
  CHECK(inf->stats().lists == 2);
  CHECK(inf->stats().handler_errors == 1);
  // Watching after the restart: a new Service is delivered.
  call(ctx, *c, verb::post, "/api/v1/namespaces/default/services", service_body("after"));
  REQUIRE(run_until(ctx, [&] { return added.size() == 1; }, 10s));
  CHECK(added == std::vector<std::string>{"after"});
  e.finish(*inf);
}

TEST_CASE("a 429's Retry-After holds the informer's retry back") {
  emulated e;
  auto& ctx = e.ctx;
  auto& c = e.c;
  admin(ctx, *c, "fail?code=429&count=1&retryAfter=2&verb=list");
  auto& opt = e.opt;
  opt.retry.initial = 50ms;  // the backoff alone would retry within 0.1 s
  opt.retry.max = 5s;
  auto inf = informer<service>::create(c, resources::services, opt, {});
  const auto started = std::chrono::steady_clock::now();
  inf->start();
  REQUIRE(run_until(ctx, [&] { return inf->synced(); }, 10s));
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(inf->stats().list_errors == 1);
  CHECK(waited >= 2s);
  CHECK(waited < 4s);
  e.finish(*inf);
}
