// Unit tests of label and field selectors (apimachinery semantics) and of
// selector-filtered lists.
#include "store.hpp"

#include "result_catch.hpp"

using namespace herald::emulator;

TEST_CASE("label selectors", "[selector]") {
  const json labels = {{"app", "web"}, {"tier", "front"}};
  auto check = [&](const std::string& sel) {
    auto s = parse_label_selector(sel);
    REQUIRE(s);
    return s->matches(labels);
  };
  CHECK(check(""));
  CHECK(check("app=web"));
  CHECK(check("app==web,tier"));
  CHECK_FALSE(check("app!=web"));
  CHECK(check("missing!=x"));
  CHECK(check("app in (db, web)"));
  CHECK_FALSE(check("app notin (web)"));
  CHECK(check("!missing"));
  CHECK_FALSE(check("!app"));
  CHECK_FALSE(parse_label_selector("app in (a"));
}

TEST_CASE("field selectors", "[selector]") {
  const json obj = {{"metadata", {{"name", "a"}, {"namespace", "ns"}}}, {"spec", {{"unschedulable", true}}}};
  auto s = parse_field_selector("metadata.name=a,metadata.namespace!=other,spec.unschedulable=true");
  REQUIRE(s);
  CHECK(s->matches(obj));
  auto t = parse_field_selector("metadata.name==b");
  REQUIRE(t);
  CHECK_FALSE(t->matches(obj));
  CHECK_FALSE(parse_field_selector("metadata.name"));
}

TEST_CASE("list filters by namespace and selectors", "[selector][store]") {
  store s;
  const resource_type* cm = s.find_type("", "v1", "configmaps");
  REQUIRE(cm);
  REQUIRE(s.create(*s.find_type("", "v1", "namespaces"), "", json{{"metadata", {{"name", "other"}}}}));
  REQUIRE(s.create(*cm, "default", json{{"metadata", {{"name", "a"}, {"labels", {{"k", "1"}}}}}}));
  REQUIRE(s.create(*cm, "default", json{{"metadata", {{"name", "b"}, {"labels", {{"k", "2"}}}}}}));
  REQUIRE(s.create(*cm, "other", json{{"metadata", {{"name", "a"}, {"labels", {{"k", "1"}}}}}}));
  list_options opt;
  CHECK((*s.list(*cm, "default", opt))["items"].size() == 2);
  CHECK((*s.list(*cm, "", opt))["items"].size() == 3);
  opt.labels = *parse_label_selector("k=1");
  CHECK((*s.list(*cm, "", opt))["items"].size() == 2);
  opt.fields = *parse_field_selector("metadata.namespace=other");
  CHECK((*s.list(*cm, "", opt))["items"].size() == 1);
}
