// Malformed input: each case checks the exact code, subcode and RFC 7606
// action, not just that an error happened (STYLE.md §6; GoBGP
// Test_MalformedUpdateMsg). Sections of RFC 4271 §6 and RFC 7606 are named.
#include <catch2/catch.hpp>

#include "bgp/wire/message.hpp"
#include "wire_test_util.hpp"

using namespace herald::bgp::wire;
using herald::bgp::wire::test::from_hex;
using herald::bgp::wire::test::with_header;

namespace {

constexpr auto upd = notification_code::update_message_error;

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
bytes attr(std::uint8_t flags, std::uint8_t code, const bytes& v) {
  bytes b{std::byte{flags}, std::byte{code}, std::byte(static_cast<std::uint8_t>(v.size()))};
  b.insert(b.end(), v.begin(), v.end());
  return b;
}
bytes u16(std::size_t v) { return {std::byte(static_cast<std::uint8_t>(v >> 8)), std::byte(static_cast<std::uint8_t>(v))}; }
// An UPDATE body from its three parts, with correct length fields.
bytes update_body(const bytes& withdrawn, const bytes& attrs, const bytes& nlri) {
  return cat({u16(withdrawn.size()), withdrawn, u16(attrs.size()), attrs, nlri});
}

const bytes origin_igp = attr(0x40, 1, from_hex("00"));
const bytes as_path_65001 = attr(0x40, 2, from_hex("02 01 0000fde9"));
const bytes next_hop_ok = attr(0x40, 3, from_hex("c0000201"));
const bytes nlri_host = from_hex("20 c6336401");  // 198.51.100.1/32

decoded_update decode_ok(const bytes& body) {
  auto r = decode_update(body);
  REQUIRE(r);
  return *r;
}
void expect_one(const decoded_update& d, update_subcode sub, error_action action) {
  REQUIRE(d.errors.size() == 1);
  CHECK(d.errors[0].code == upd);
  CHECK(d.errors[0].subcode == static_cast<std::uint8_t>(sub));
  CHECK(d.errors[0].action == action);
  CHECK(d.action == action);
}
void expect_reset(const bytes& body, notification_code code, std::uint8_t sub) {
  auto r = decode_update(body);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == code);
  CHECK(r.error().subcode == sub);
  CHECK(r.error().action == error_action::session_reset);
}
template <class S>
std::uint8_t sc(S s) { return static_cast<std::uint8_t>(s); }

open_message good_open() {
  open_message o;
  o.my_as = 65002;
  o.hold_time = 90;
  o.bgp_id = 0xC0000202;
  return o;
}
open_expectations expect_65002() { return {65002u, 0xC0000201, 65001}; }

}  // namespace

TEST_CASE("header: bad marker, bad length, bad type (RFC 4271 §6.1)") {
  bytes ka;
  encode_keepalive(ka);
  SECTION("marker") {
    ka[3] = std::byte{0};
    auto f = frame(ka);
    REQUIRE(f.kind == frame_result::error);
    CHECK(f.err->code == notification_code::message_header_error);
    CHECK(f.err->subcode == sc(header_subcode::connection_not_synchronized));
    CHECK(f.err->action == error_action::session_reset);
  }
  SECTION("length below 19, above 4096, or wrong for the type") {
    for (std::size_t len : {0u, 18u, 4097u, 65535u}) {
      auto m = ka;
      m[16] = std::byte(static_cast<std::uint8_t>(len >> 8));
      m[17] = std::byte(static_cast<std::uint8_t>(len));
      auto f = frame(m);
      REQUIRE(f.kind == frame_result::error);
      CHECK(f.err->subcode == sc(header_subcode::bad_message_length));
      CHECK(f.err->data == u16(len));  // §6.1: data is the bad Length field
    }
    auto long_keepalive = with_header(4, from_hex("00"));
    CHECK(frame(long_keepalive).err->subcode == sc(header_subcode::bad_message_length));
    auto short_open = with_header(1, from_hex("04 fdea 005a"));
    CHECK(frame(short_open).err->subcode == sc(header_subcode::bad_message_length));
    auto short_update = with_header(2, from_hex("00"));
    CHECK(frame(short_update).err->subcode == sc(header_subcode::bad_message_length));
  }
  SECTION("type") {
    auto m = with_header(6, {});
    auto f = frame(m);
    REQUIRE(f.kind == frame_result::error);
    CHECK(f.err->subcode == sc(header_subcode::bad_message_type));
    CHECK(f.err->data == bytes{std::byte{6}});
    CHECK(frame(with_header(0, {})).err->subcode == sc(header_subcode::bad_message_type));
  }
}

TEST_CASE("OPEN errors (RFC 4271 §6.2)") {
  auto check = [](const open_message& o) {
    auto e = check_open(o, expect_65002());
    REQUIRE(e);
    CHECK(e->code == notification_code::open_message_error);
    CHECK(e->action == error_action::session_reset);
    return *e;
  };
  CHECK_FALSE(check_open(good_open(), expect_65002()));
  SECTION("unsupported version: data is the version we support") {
    auto o = good_open();
    o.version = 3;
    auto e = check(o);
    CHECK(e.subcode == sc(open_subcode::unsupported_version_number));
    CHECK(e.data == u16(4));
  }
  SECTION("bad peer AS") {
    auto o = good_open();
    o.my_as = 65003;
    CHECK(check(o).subcode == sc(open_subcode::bad_peer_as));
    o.my_as = as_trans;
    o.capabilities = {cap::four_octet_as{65003}};
    CHECK(check(o).subcode == sc(open_subcode::bad_peer_as));
    o.my_as = 1234;  // neither AS_TRANS nor the 4-octet AS
    o.capabilities = {cap::four_octet_as{65002}};
    CHECK(check(o).subcode == sc(open_subcode::bad_peer_as));
  }
  SECTION("unacceptable hold time: 1 and 2") {
    for (std::uint16_t h : {1, 2}) {
      auto o = good_open();
      o.hold_time = h;
      CHECK(check(o).subcode == sc(open_subcode::unacceptable_hold_time));
    }
    auto o = good_open();
    o.hold_time = 0;  // no keepalives: allowed
    CHECK_FALSE(check_open(o, expect_65002()));
  }
  SECTION("bad BGP identifier: zero, or ours over iBGP") {
    auto o = good_open();
    o.bgp_id = 0;
    CHECK(check(o).subcode == sc(open_subcode::bad_bgp_identifier));
    o.bgp_id = 0xC0000201;
    o.my_as = 65001;
    auto e = check_open(o, {65001u, 0xC0000201, 65001});
    REQUIRE(e);
    CHECK(e->subcode == sc(open_subcode::bad_bgp_identifier));
  }
  SECTION("unsupported optional parameter") {
    auto m = with_header(1, from_hex("04 fdea 005a c0000202 03 01 01 00"));
    auto d = decode_message(m);
    REQUIRE(d);
    auto e = check_open(std::get<open_message>(d->msg), expect_65002());
    REQUIRE(e);
    CHECK(e->subcode == sc(open_subcode::unsupported_optional_parameter));
  }
  SECTION("parameter lengths that disagree with the message") {
    auto m = with_header(1, from_hex("04 fdea 005a c0000202 09 02 06 01040001 0001"));
    auto d = decode_message(m);
    REQUIRE_FALSE(d);
    CHECK(d.error().code == notification_code::open_message_error);
    auto m2 = with_header(1, from_hex("04 fdea 005a c0000202 04 02 06 0104"));
    REQUIRE_FALSE(decode_message(m2));
  }
}

TEST_CASE("UPDATE: attribute flags error takes the attribute's action (RFC 7606 §3.c)") {
  auto d = decode_ok(update_body({}, cat({attr(0xC0, 1, from_hex("00")), as_path_65001, next_hop_ok}), nlri_host));
  expect_one(d, update_subcode::attribute_flags_error, error_action::treat_as_withdraw);
  CHECK(d.errors[0].data == from_hex("c0 01 01 00"));
  auto d2 = decode_ok(update_body({}, cat({origin_igp, as_path_65001, next_hop_ok, attr(0x80, 6, {})}), nlri_host));
  expect_one(d2, update_subcode::attribute_flags_error, error_action::attribute_discard);
}

TEST_CASE("UPDATE: attribute length errors") {
  auto d = decode_ok(update_body({}, cat({attr(0x40, 1, from_hex("0000")), as_path_65001, next_hop_ok}), nlri_host));
  expect_one(d, update_subcode::attribute_length_error, error_action::treat_as_withdraw);
  CHECK(d.errors[0].data == from_hex("40 01 02 0000"));
  auto d2 = decode_ok(update_body({}, cat({origin_igp, as_path_65001, attr(0x40, 3, from_hex("c000020101"))}), nlri_host));
  expect_one(d2, update_subcode::attribute_length_error, error_action::treat_as_withdraw);
  auto d3 = decode_ok(update_body({}, cat({origin_igp, as_path_65001, next_hop_ok, attr(0x40, 6, from_hex("00"))}), nlri_host));
  expect_one(d3, update_subcode::attribute_length_error, error_action::attribute_discard);
  auto d4 = decode_ok(update_body({}, cat({origin_igp, as_path_65001, next_hop_ok, attr(0xC0, 8, from_hex("000102"))}), nlri_host));
  expect_one(d4, update_subcode::attribute_length_error, error_action::treat_as_withdraw);
  SECTION("an attribute that runs past the attribute field (RFC 7606 §4)") {
    auto attrs = cat({origin_igp, as_path_65001, from_hex("40 03 09 c0000201")});
    auto d5 = decode_ok(update_body({}, attrs, nlri_host));
    expect_one(d5, update_subcode::attribute_length_error, error_action::treat_as_withdraw);
    CHECK(d5.msg.nlri.size() == 1);  // the Total Path Attribute Length still finds the NLRI
  }
}

TEST_CASE("UPDATE: missing well-known attribute (RFC 7606 §3.d)") {
  auto d = decode_ok(update_body({}, cat({as_path_65001, next_hop_ok}), nlri_host));
  expect_one(d, update_subcode::missing_well_known_attribute, error_action::treat_as_withdraw);
  CHECK(d.errors[0].data == bytes{std::byte{1}});
  auto d2 = decode_ok(update_body({}, cat({origin_igp, as_path_65001}), nlri_host));
  expect_one(d2, update_subcode::missing_well_known_attribute, error_action::treat_as_withdraw);
  CHECK(d2.errors[0].data == bytes{std::byte{3}});
  // A pure withdrawal needs no attributes.
  CHECK(decode_ok(update_body(nlri_host, {}, {})).errors.empty());
}

TEST_CASE("UPDATE: invalid ORIGIN") {
  auto d = decode_ok(update_body({}, cat({attr(0x40, 1, from_hex("03")), as_path_65001, next_hop_ok}), nlri_host));
  expect_one(d, update_subcode::invalid_origin_attribute, error_action::treat_as_withdraw);
}

TEST_CASE("UPDATE: malformed AS_PATH") {
  for (auto* value : {"05 01 0000fde9", "02 02 0000fde9", "02 00", "02"}) {
    INFO(value);
    auto d = decode_ok(update_body({}, cat({origin_igp, attr(0x40, 2, from_hex(value)), next_hop_ok}), nlri_host));
    expect_one(d, update_subcode::malformed_as_path, error_action::treat_as_withdraw);
  }
  // AS4_PATH malformed: attribute discard (RFC 6793 §6).
  auto d = decode_ok(update_body({}, cat({origin_igp, as_path_65001, next_hop_ok, attr(0xC0, 17, from_hex("02 02 00"))}), nlri_host));
  expect_one(d, update_subcode::malformed_as_path, error_action::attribute_discard);
}

TEST_CASE("UPDATE: invalid NEXT_HOP") {
  for (auto* nh : {"00000000", "e0000001", "ffffffff"}) {
    INFO(nh);
    auto d = decode_ok(update_body({}, cat({origin_igp, as_path_65001, attr(0x40, 3, from_hex(nh))}), nlri_host));
    REQUIRE(d.errors.size() >= 1);
    CHECK(d.errors[0].subcode == sc(update_subcode::invalid_next_hop_attribute));
    CHECK(d.errors[0].action == error_action::treat_as_withdraw);
    CHECK(d.action == error_action::treat_as_withdraw);
  }
}

TEST_CASE("UPDATE: duplicate attributes (RFC 7606 §3.g)") {
  auto d = decode_ok(update_body({}, cat({origin_igp, attr(0x40, 1, from_hex("02")), as_path_65001, next_hop_ok}), nlri_host));
  expect_one(d, update_subcode::malformed_attribute_list, error_action::attribute_discard);
  CHECK(d.msg.attrs.origin == origin_type::igp);  // the first one counts
  auto mp = attr(0x80, 15, from_hex("0002 01"));
  expect_reset(update_body({}, cat({mp, mp}), {}), upd, sc(update_subcode::malformed_attribute_list));
}

TEST_CASE("UPDATE: MP_REACH_NLRI with a bad length resets (RFC 7606 §7.11)") {
  auto base = cat({origin_igp, as_path_65001});
  for (auto* value : {"0002 01", "0002 01 10 20010db8", "0002 01 05 20010db80000 00 80", "0002 01 10 20010db8000000000000000000000001 00 80 2001"}) {
    INFO(value);
    expect_reset(update_body({}, cat({base, attr(0x80, 14, from_hex(value))}), {}), upd,
                 sc(update_subcode::optional_attribute_error));
  }
  // Prefix length over 128 inside MP_REACH.
  expect_reset(update_body({}, cat({base, attr(0x80, 14, from_hex("0002 01 10 20010db8000000000000000000000001 00 81 20010db8000000000000000000000001ff"))}), {}),
               upd, sc(update_subcode::optional_attribute_error));
}

TEST_CASE("UPDATE: truncated NLRI and prefix length over 32 (RFC 4271 §6.3, RFC 7606 §5.3)") {
  auto attrs = cat({origin_igp, as_path_65001, next_hop_ok});
  expect_reset(update_body({}, attrs, from_hex("20 c63364")), upd, sc(update_subcode::invalid_network_field));
  expect_reset(update_body({}, attrs, from_hex("21 c6336401 00")), upd, sc(update_subcode::invalid_network_field));
  expect_reset(update_body(from_hex("18 c633"), {}, {}), upd, sc(update_subcode::invalid_network_field));
}

TEST_CASE("UPDATE: length fields that overrun the message reset") {
  expect_reset(cat({u16(10), from_hex("18c63364")}), upd, sc(update_subcode::malformed_attribute_list));
  expect_reset(cat({u16(0), u16(40), origin_igp}), upd, sc(update_subcode::malformed_attribute_list));
}

TEST_CASE("UPDATE: a malformed LOCAL_PREF is discarded from eBGP, treat-as-withdraw from iBGP (RFC 7606 §7.5)") {
  // Found by tests/interop/hostile.py: the length check ran before the eBGP check.
  for (const bytes& bad : {attr(0x40, 5, from_hex("000064")), attr(0xc0, 5, from_hex("00000064"))}) {
    auto body = update_body({}, cat({origin_igp, as_path_65001, next_hop_ok, bad}), nlri_host);
    update_context ebgp;
    auto d = decode_update(body, ebgp);
    REQUIRE(d);
    CHECK(d->errors.empty());
    CHECK(d->action == error_action::none);
    CHECK_FALSE(d->msg.attrs.local_pref);
    CHECK(d->msg.nlri.size() == 1);
    update_context ibgp;
    ibgp.ebgp = false;
    auto i = decode_update(body, ibgp);
    REQUIRE(i);
    CHECK(i->action == error_action::treat_as_withdraw);
  }
}

TEST_CASE("UPDATE: unknown attributes") {
  SECTION("unrecognized well-known resets") {
    expect_reset(update_body({}, cat({origin_igp, as_path_65001, next_hop_ok, attr(0x40, 99, from_hex("01"))}), nlri_host),
                 upd, sc(update_subcode::unrecognized_well_known_attribute));
  }
  SECTION("optional transitive is kept with Partial set; non-transitive dropped") {
    auto d = decode_ok(update_body({}, cat({origin_igp, as_path_65001, next_hop_ok, attr(0xC0, 99, from_hex("01")),
                                            attr(0x80, 98, from_hex("02"))}), nlri_host));
    CHECK(d.errors.empty());
    REQUIRE(d.msg.attrs.unknown.size() == 1);
    CHECK(d.msg.attrs.unknown[0].code == 99);
    CHECK(d.msg.attrs.unknown[0].flags == 0xE0);
  }
}

TEST_CASE("ROUTE-REFRESH of the wrong length (RFC 7313 §5)") {
  auto d = decode_message(with_header(5, from_hex("0001 00 01 00")));
  REQUIRE_FALSE(d);
  CHECK(d.error().code == notification_code::route_refresh_message_error);
  CHECK(d.error().subcode == sc(route_refresh_subcode::invalid_message_length));
}

TEST_CASE("several errors: the most severe action wins") {
  auto attrs = cat({origin_igp, attr(0x40, 1, from_hex("02")), as_path_65001, attr(0x40, 3, from_hex("00000000"))});
  auto d = decode_ok(update_body({}, attrs, nlri_host));
  CHECK(d.errors.size() == 2);
  CHECK(d.action == error_action::treat_as_withdraw);
}
