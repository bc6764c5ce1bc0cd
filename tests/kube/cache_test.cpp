// The informer cache (kube/cache.hpp): watch events, duplicates replayed by
// a restarted watch, and the relist diff that synthesises deletes.
#include <random>

#include "kube/cache.hpp"
#include "kube/views.hpp"
#include "result_catch.hpp"

using namespace herald::kube;

namespace {
std::shared_ptr<const service> svc(std::string ns, std::string name, std::string rv) {
  auto s = std::make_shared<service>();
  s->meta.ns = std::move(ns);
  s->meta.name = std::move(name);
  s->meta.resource_version = std::move(rv);
  return s;
}
}  // namespace

TEST_CASE("watch events become adds, updates and deletes") {
  object_cache<service> cache;
  auto c1 = cache.apply(event_type::added, svc("a", "x", "1"));
  REQUIRE(c1);
  CHECK(c1->kind == change_kind::added);
  CHECK_FALSE(cache.apply(event_type::added, svc("a", "x", "1")));  // replayed
  auto c2 = cache.apply(event_type::modified, svc("a", "x", "2"));
  REQUIRE(c2);
  CHECK(c2->kind == change_kind::updated);
  CHECK(c2->old_object->meta.resource_version == "1");
  CHECK(c2->object->meta.resource_version == "2");
  // A MODIFIED for an unknown object (its ADDED fell in a gap) is an add.
  auto c3 = cache.apply(event_type::modified, svc("a", "y", "3"));
  REQUIRE(c3);
  CHECK(c3->kind == change_kind::added);
  auto c4 = cache.apply(event_type::deleted, svc("a", "x", "4"));
  REQUIRE(c4);
  CHECK(c4->kind == change_kind::deleted);
  CHECK(c4->old_object->meta.resource_version == "2");
  CHECK_FALSE(cache.apply(event_type::deleted, svc("a", "x", "4")));
  CHECK(cache.size() == 1);
  CHECK(cache.get("a", "y"));
  CHECK_FALSE(cache.get("a", "x"));
}

TEST_CASE("relist replaces the cache and yields the changes it implies") {
  object_cache<service> cache;
  cache.replace({svc("a", "keep", "1"), svc("a", "change", "1"), svc("b", "gone", "1")});
  auto changes = cache.replace({svc("a", "keep", "1"), svc("a", "change", "5"), svc("c", "new", "6")});
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].kind == change_kind::deleted);
  CHECK(changes[0].object->meta.key() == "b/gone");
  CHECK(changes[1].kind == change_kind::updated);
  CHECK(changes[1].object->meta.key() == "a/change");
  CHECK(changes[2].kind == change_kind::added);
  CHECK(changes[2].object->meta.key() == "c/new");
  CHECK(cache.size() == 3);
  CHECK(cache.list_namespace("a").size() == 2);
  CHECK(cache.list_namespace("c").size() == 1);
  CHECK(cache.list_namespace("b").empty());
}

// Random histories: applying the changes a sequence of events and relists
// yields to a mirror map always reproduces the cache, and a delete is only
// ever delivered for a key the mirror holds.
TEST_CASE("changes replayed on a mirror reproduce the cache") {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    object_cache<service> cache;
    std::map<std::string, std::string> mirror;  // key → rv, built only from changes
    std::map<std::string, std::string> server;
    int rv = 0;
    auto deliver = [&](const change<service>& c) {
      const auto key = c.object->meta.key();
      if (c.kind == change_kind::deleted) {
        REQUIRE(mirror.contains(key));
        mirror.erase(key);
      } else {
        REQUIRE(mirror.contains(key) == (c.kind == change_kind::updated));
        mirror[key] = c.object->meta.resource_version;
      }
    };
    for (int step = 0; step < 50; ++step) {
      const std::string key = "n" + std::to_string(rng() % 3) + "/o" + std::to_string(rng() % 6);
      const auto ns = key.substr(0, key.find('/'));
      const auto name = key.substr(key.find('/') + 1);
      const unsigned what = rng() % 10;
      if (what < 7) {
        const bool exists = server.contains(key);
        const bool del = exists && rng() % 3 == 0;
        server[key] = std::to_string(++rv);
        const auto type = del ? event_type::deleted : (exists ? event_type::modified : event_type::added);
        if (del) server.erase(key);
        if (rng() % 4 != 0) {  // some events are lost (a dropped watch); a relist repairs it
          if (auto c = cache.apply(type, svc(ns, name, std::to_string(rv)))) deliver(*c);
        }
      } else {
        std::vector<std::shared_ptr<const service>> items;
        for (const auto& [k, v] : server) items.push_back(svc(k.substr(0, k.find('/')), k.substr(k.find('/') + 1), v));
        for (const auto& c : cache.replace(items)) deliver(c);
        REQUIRE(mirror == server);
      }
      REQUIRE(mirror.size() == cache.size());
    }
  }
}
