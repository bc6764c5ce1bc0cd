// Unit tests of the fast path's EndpointSlice-by-Service index
// (agent/slice_index.hpp): slices found by their Service in their namespace
// only, unlabelled slices left out, every informer change (add, a label moved
// to another Service, delete, a delete whose last state lost the label)
// reflected, checked against a scan of every slice (what the index replaced)
// through a sequence of changes; and slices_of() reading the cache.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/slice_index.hpp"

using namespace herald;
using namespace herald::agent;

namespace {

kube::endpoint_slice slice(std::string name, std::string service, std::string ns = "default") {
  kube::endpoint_slice s;
  s.meta.ns = std::move(ns);
  s.meta.name = std::move(name);
  if (!service.empty()) s.meta.labels[std::string(kube::service_name_label)] = std::move(service);
  s.address_type = "IPv4";
  return s;
}

// The definition the index must agree with: every slice of ns labelled with
// the Service (an unlabelled slice belongs to none, not to a Service "").
std::set<std::string> scan(const std::map<std::string, kube::endpoint_slice>& slices, const std::string& ns,
                           const std::string& service) {
  std::set<std::string> out;
  for (const auto& [key, s] : slices)
    if (s.meta.ns == ns && !s.service_name().empty() && s.service_name() == service) out.insert(s.meta.name);
  return out;
}

}  // namespace

TEST_CASE("slice index: a Service's slices in its namespace, unlabelled slices left out") {
  slice_index idx;
  auto web_a = slice("web-abcde", "web");
  auto web_b = slice("web-fghij", "web");
  auto web_other_ns = slice("web-klmno", "web", "shop");
  auto webapp = slice("webapp-pqrst", "webapp");  // a name that starts like web's: not web's
  auto mirror = slice("mirror-1", "");             // no service-name label (a mirrored or custom slice)
  for (auto* s : {&web_a, &web_b, &web_other_ns, &webapp, &mirror}) idx.update(nullptr, s);
  CHECK(idx.names_of("default", "web") == std::set<std::string>{"web-abcde", "web-fghij"});
  CHECK(idx.names_of("shop", "web") == std::set<std::string>{"web-klmno"});
  CHECK(idx.names_of("default", "webapp") == std::set<std::string>{"webapp-pqrst"});
  CHECK(idx.names_of("default", "").empty());
  CHECK(idx.names_of("default", "api").empty());
  CHECK(idx.size() == 3);
}

TEST_CASE("slice index: a label moved, a delete whose last state lost the label") {
  slice_index idx;
  auto s1 = slice("s1", "web");
  idx.update(nullptr, &s1);
  auto moved = slice("s1", "api");
  idx.update(&s1, &moved);
  CHECK(idx.names_of("default", "web").empty());
  CHECK(idx.names_of("default", "api") == std::set<std::string>{"s1"});
  // The watch's DELETED event carries the last state from the server; if it
  // differs from the cached one the slice still goes, by its name.
  auto unlabelled = slice("s1", "");
  idx.update(&unlabelled, nullptr);
  CHECK(idx.names_of("default", "api").empty());
  CHECK(idx.size() == 0);
  // An update that drops the label takes the slice out; one that adds it back puts it in.
  idx.update(nullptr, &s1);
  idx.update(&s1, &unlabelled);
  CHECK(idx.size() == 0);
  idx.update(&unlabelled, &s1);
  CHECK(idx.names_of("default", "web") == std::set<std::string>{"s1"});
  // An add of a slice already held replaces its entry rather than adding a second.
  idx.update(nullptr, &moved);
  CHECK(idx.names_of("default", "web").empty());
  CHECK(idx.names_of("default", "api") == std::set<std::string>{"s1"});
}

TEST_CASE("slice index: agrees with a scan of every slice through a sequence of changes") {
  struct step {
    std::string ns, name, service;  // service empty: unlabelled
    bool gone = false;
  };
  const std::vector<step> steps = {
      {"default", "web-1", "web"},
      {"default", "web-2", "web"},
      {"shop", "web-1", "web"},  // same names, another namespace
      {"default", "api-1", "api"},
      {"default", "web-2", "api"},  // relabelled
      {"default", "free", ""},
      {"default", "free", "web"},  // labelled later
      {"shop", "web-1", "", true},
      {"default", "web-1", "", true},
      {"default", "api-1", "api", true},
  };
  const std::vector<std::pair<std::string, std::string>> questions = {
      {"default", "web"}, {"default", "api"}, {"shop", "web"}, {"shop", "api"}, {"default", ""}, {"other", "web"}};
  REQUIRE_FALSE(steps.empty());
  REQUIRE_FALSE(questions.empty());
  slice_index idx;
  std::map<std::string, kube::endpoint_slice> slices;
  std::size_t asked = 0;
  for (const auto& st : steps) {
    auto key = st.ns + "/" + st.name;
    auto it = slices.find(key);
    const kube::endpoint_slice* before = it == slices.end() ? nullptr : &it->second;
    if (st.gone) {
      REQUIRE(before);
      idx.update(before, nullptr);
      slices.erase(it);
    } else {
      auto after = slice(st.name, st.service, st.ns);
      idx.update(before, &after);
      slices[key] = after;
    }
    for (const auto& [ns, service] : questions) {
      INFO("after " << (st.gone ? "deleting " : "setting ") << key << ": " << ns << "/" << service);
      CHECK(idx.names_of(ns, service) == scan(slices, ns, service));
      ++asked;
    }
  }
  CHECK(asked == steps.size() * questions.size());
}

TEST_CASE("slice index: slices_of reads the Service's slices from the informer cache") {
  slice_index idx;
  kube::object_cache<kube::endpoint_slice> cache;
  for (auto s : {slice("web-1", "web"), slice("web-2", "web"), slice("api-1", "api")}) {
    s.meta.resource_version = "1";
    auto c = cache.apply(kube::event_type::added, std::make_shared<const kube::endpoint_slice>(s));
    REQUIRE(c);
    idx.update(c->old_object.get(), c->object.get());
  }
  kube::service web;
  web.meta.ns = "default";
  web.meta.name = "web";
  auto got = idx.slices_of(web, cache);
  REQUIRE(got.size() == 2);
  CHECK(got[0].meta.name == "web-1");
  CHECK(got[1].meta.name == "web-2");
  web.meta.ns = "shop";
  CHECK(idx.slices_of(web, cache).empty());
}
