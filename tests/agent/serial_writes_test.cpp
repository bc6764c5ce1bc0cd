// Unit tests of the agent's one-write-per-object rule (agent/serial_writes.hpp):
// nothing deferred without a write in flight; a plan during a write keeps its
// value, the latest one wins and is handed back only if it differs from what
// was written; a plan that no longer names the object lets its value go;
// objects are independent; an answer for an object with no write (or twice)
// hands back nothing.
#include <catch2/catch.hpp>

#include <string>

#include "agent/plan.hpp"
#include "agent/serial_writes.hpp"

using namespace herald::agent;

TEST_CASE("serial writes: nothing in flight, nothing deferred") {
  serial_writes<std::string> w;
  CHECK_FALSE(w.defer("default", "web", "a,b"));
  CHECK(w.in_flight() == 0);
  w.start("default", "web");
  CHECK(w.in_flight() == 1);
  CHECK_FALSE(w.finish("default", "web", "a,b"));
  CHECK(w.in_flight() == 0);
  CHECK_FALSE(w.defer("default", "web", "a,b"));  // answered: the next write goes out
}

TEST_CASE("serial writes: the latest value kept during a write, handed back if it differs") {
  serial_writes<std::string> w;
  w.start("default", "web");
  CHECK(w.defer("default", "web", "a"));
  CHECK(w.defer("default", "web", "a,b"));
  auto next = w.finish("default", "web", "a,b,c");
  REQUIRE(next);
  CHECK(*next == "a,b");

  w.start("default", "web");
  CHECK(w.defer("default", "web", "a,b,c"));
  CHECK_FALSE(w.finish("default", "web", "a,b,c"));  // the same as written: nothing more
}

TEST_CASE("serial writes: a plan that no longer names the object lets its value go") {
  serial_writes<std::string> w;
  w.start("default", "web");
  w.start("default", "api");
  CHECK(w.defer("default", "web", "a"));
  CHECK(w.defer("default", "api", "b"));
  w.plan_starts();
  CHECK(w.defer("default", "api", "c"));  // the new plan names api only
  CHECK_FALSE(w.finish("default", "web", "x"));
  auto next = w.finish("default", "api", "x");
  REQUIRE(next);
  CHECK(*next == "c");
}

TEST_CASE("serial writes: objects are independent, by namespace and name") {
  serial_writes<std::string> w;
  w.start("default", "web");
  CHECK_FALSE(w.defer("other", "web", "a"));
  CHECK_FALSE(w.defer("default", "web2", "a"));
  CHECK_FALSE(w.finish("other", "web", "a"));  // no write of it: nothing, and web's stays
  CHECK(w.in_flight() == 1);
  CHECK(w.defer("default", "web", "a"));
  CHECK(w.finish("default", "web", "b"));
  CHECK_FALSE(w.finish("default", "web", "b"));  // answered twice: nothing the second time
}

TEST_CASE("serial writes: plan entries compare by every field") {
  serial_writes<service_announcing> w;
  service_announcing written{"default", "web", {"node-a"}, {}, "node-a"};
  auto later = written;
  later.v6_nodes = {"node-a"};
  w.start("default", "web");
  CHECK(w.defer("default", "web", later));
  auto next = w.finish("default", "web", written);
  REQUIRE(next);
  CHECK(*next == later);
}
