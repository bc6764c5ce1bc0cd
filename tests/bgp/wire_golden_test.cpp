// Golden bytes from real routers (tests/data/bgp/captures/, captured from
// the Debian packages of BIRD 2, FRR 8 and GoBGP 3 by capture.sh; see the
// README there). Each `.hex` has a `.json` beside it saying what decoding
// must yield, written from tshark's own decode. Also replays every input in
// tests/data/bgp/regressions/ (fuzzer finds and hostile seeds).
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "bgp/wire/message.hpp"
#include "wire_properties.hpp"
#include "wire_test_util.hpp"

using namespace herald::bgp::wire;
using herald::bgp::wire::test::from_hex;
using herald::bgp::wire::test::read_file;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const fs::path data_dir = HERALD_TEST_DATA;

std::vector<fs::path> files_in(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  if (fs::is_directory(dir))
    for (auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && (ext.empty() || e.path().extension() == ext)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string family_name(family f) { return to_string(f); }

std::vector<std::string> strings(const std::vector<ip_prefix>& ps) {
  std::vector<std::string> s;
  for (auto& p : ps) s.push_back(p.to_string());
  return s;
}

void check_open(const open_message& o, const json& j) {
  if (j.contains("version")) CHECK(o.version == j["version"].get<int>());
  if (j.contains("my_as")) CHECK(o.my_as == j["my_as"].get<std::uint32_t>());
  if (j.contains("hold_time")) CHECK(o.hold_time == j["hold_time"].get<int>());
  if (j.contains("bgp_id")) CHECK(ip_address::v4(o.bgp_id).to_string() == j["bgp_id"].get<std::string>());
  if (j.contains("four_octet_as")) CHECK(o.asn() == j["four_octet_as"].get<std::uint32_t>());
  if (j.contains("multiprotocol")) {
    std::vector<std::string> fams;
    for (auto& c : o.capabilities)
      if (auto mp = std::get_if<cap::multiprotocol>(&c)) fams.push_back(family_name(mp->f));
    CHECK(fams == j["multiprotocol"].get<std::vector<std::string>>());
  }
  if (j.contains("route_refresh")) CHECK((o.find<cap::route_refresh>() != nullptr) == j["route_refresh"].get<bool>());
  if (j.contains("enhanced_route_refresh"))
    CHECK((o.find<cap::enhanced_route_refresh>() != nullptr) == j["enhanced_route_refresh"].get<bool>());
  if (j.contains("extended_next_hop"))
    CHECK((o.find<cap::extended_next_hop>() != nullptr) == j["extended_next_hop"].get<bool>());
  if (j.contains("extended_message"))
    CHECK((o.find<cap::extended_message>() != nullptr) == j["extended_message"].get<bool>());
  if (j.contains("add_path")) CHECK((o.find<cap::add_path>() != nullptr) == j["add_path"].get<bool>());
  if (j.contains("hostname")) {
    REQUIRE(o.find<cap::fqdn>());
    CHECK(o.find<cap::fqdn>()->hostname == j["hostname"].get<std::string>());
  }
  if (j.contains("graceful_restart")) {
    auto gr = o.find<cap::graceful_restart>();
    REQUIRE(gr);
    auto& g = j["graceful_restart"];
    if (g.contains("restart_time")) CHECK(gr->restart_time == g["restart_time"].get<int>());
    if (g.contains("restart_flag")) CHECK(gr->restart_state == g["restart_flag"].get<bool>());
    if (g.contains("families")) {
      std::vector<std::string> fams;
      for (auto& e : gr->families) fams.push_back(family_name(e.f));
      CHECK(fams == g["families"].get<std::vector<std::string>>());
    }
  }
  if (j.contains("unknown_capability_codes")) {
    std::vector<int> codes;
    for (auto& c : o.capabilities)
      if (auto u = std::get_if<cap::unknown>(&c)) codes.push_back(u->code);
    CHECK(codes == j["unknown_capability_codes"].get<std::vector<int>>());
  }
}

void check_update(const update_message& u, const json& j) {
  auto& a = u.attrs;
  if (j.contains("end_of_rib")) {
    REQUIRE(u.end_of_rib());
    CHECK(family_name(*u.end_of_rib()) == j["end_of_rib"].get<std::string>());
  }
  if (j.contains("withdrawn")) CHECK(strings(u.withdrawn) == j["withdrawn"].get<std::vector<std::string>>());
  if (j.contains("nlri")) CHECK(strings(u.nlri) == j["nlri"].get<std::vector<std::string>>());
  if (j.contains("origin")) {
    REQUIRE(a.origin);
    static const char* names[] = {"igp", "egp", "incomplete"};
    CHECK(names[static_cast<int>(*a.origin)] == j["origin"].get<std::string>());
  }
  if (j.contains("as_path")) CHECK(a.flat_as_path() == j["as_path"].get<std::vector<std::uint32_t>>());
  if (j.contains("next_hop")) {
    REQUIRE(a.next_hop);
    CHECK(a.next_hop->to_string() == j["next_hop"].get<std::string>());
  }
  if (j.contains("med")) CHECK(a.med == j["med"].get<std::uint32_t>());
  if (j.contains("local_pref")) CHECK(a.local_pref == j["local_pref"].get<std::uint32_t>());
  if (j.contains("communities")) {
    std::vector<std::string> cs;
    for (auto c : a.communities) cs.push_back(std::to_string(c >> 16) + ":" + std::to_string(c & 0xffff));
    CHECK(cs == j["communities"].get<std::vector<std::string>>());
  }
  if (j.contains("large_communities")) {
    std::vector<std::string> ls;
    for (auto& l : a.large_communities) ls.push_back(l.to_string());
    CHECK(ls == j["large_communities"].get<std::vector<std::string>>());
  }
  if (j.contains("extended_communities_count"))
    CHECK(a.ext_communities.size() == j["extended_communities_count"].get<std::size_t>());
  if (j.contains("mp_reach")) {
    REQUIRE(a.reach);
    auto& r = j["mp_reach"];
    if (r.contains("afi")) CHECK((a.reach->f.a == afi::ipv4 ? "ipv4" : "ipv6") == r["afi"].get<std::string>());
    if (r.contains("next_hops")) {
      std::vector<std::string> nh;
      for (auto& h : a.reach->next_hops) nh.push_back(h.to_string());
      CHECK(nh == r["next_hops"].get<std::vector<std::string>>());
    }
    if (r.contains("nlri")) CHECK(strings(a.reach->nlri) == r["nlri"].get<std::vector<std::string>>());
  }
  if (j.contains("mp_unreach")) {
    REQUIRE(a.unreach);
    auto& r = j["mp_unreach"];
    if (r.contains("afi")) CHECK((a.unreach->f.a == afi::ipv4 ? "ipv4" : "ipv6") == r["afi"].get<std::string>());
    if (r.contains("withdrawn")) CHECK(strings(a.unreach->withdrawn) == r["withdrawn"].get<std::vector<std::string>>());
  }
}

}  // namespace

TEST_CASE("golden captures from BIRD, FRR and GoBGP decode to what tshark saw") {
  auto fixtures = files_in(data_dir / "bgp" / "captures", ".hex");
  REQUIRE_FALSE(fixtures.empty());
  std::set<std::string> routers;
  for (auto& hex : fixtures) {
    INFO(hex.filename().string());
    auto expect_path = fs::path(hex).replace_extension(".json");
    REQUIRE(fs::exists(expect_path));
    auto j = json::parse(read_file(expect_path.string()));
    auto msg = from_hex(read_file(hex.string()));
    auto f = frame(msg);
    REQUIRE(f.kind == frame_result::message);
    REQUIRE(f.length == msg.size());
    update_context ctx;
    ctx.ebgp = !j.contains("local_pref");
    auto d = decode_message(msg, ctx);
    REQUIRE(d);
    CHECK(d->errors.empty());
    auto type = j.at("type").get<std::string>();
    routers.insert(hex.filename().string().substr(0, hex.filename().string().find('-')));
    if (type == "open") check_open(std::get<open_message>(d->msg), j);
    else if (type == "update") check_update(std::get<update_message>(d->msg), j);
    else if (type == "keepalive") CHECK(std::holds_alternative<keepalive_message>(d->msg));
    else if (type == "notification") {
      auto& n = std::get<notification_message>(d->msg);
      CHECK(static_cast<int>(n.code) == j["code"].get<int>());
      CHECK(n.subcode == j["subcode"].get<int>());
    } else FAIL("unknown type " << type);
    // What we decode from a real router re-encodes to something that decodes the same.
    bytes again;
    encode_message(d->msg, ctx, again);
    auto d2 = decode_message(again, ctx);
    REQUIRE(d2);
    CHECK(d2->msg == d->msg);
  }
  CHECK(routers.count("bird"));
  CHECK(routers.count("frr"));
  CHECK(routers.count("gobgp"));
}

TEST_CASE("regression inputs decode without crashing and round-trip") {
  auto inputs = files_in(data_dir / "bgp" / "regressions", "");
  REQUIRE_FALSE(inputs.empty());
  for (auto& p : inputs) {
    if (p.extension() == ".md") continue;
    INFO(p.filename().string());
    auto text = read_file(p.string());
    auto b = p.extension() == ".hex" ? from_hex(text) : bytes(reinterpret_cast<const std::byte*>(text.data()),
                                                             reinterpret_cast<const std::byte*>(text.data() + text.size()));
    std::span<const std::byte> rest(b);
    while (!rest.empty()) {
      auto f = frame(rest, max_extended_message_size);
      if (f.kind != frame_result::message) break;
      for (bool four : {true, false}) {
        update_context ctx{four, false, max_extended_message_size};
        auto d = decode_message(rest.first(f.length), ctx);
        if (d) CHECK(herald::bgp::wire::test::round_trips(*d, ctx));
      }
      rest = rest.subspan(f.length);
    }
  }
}
