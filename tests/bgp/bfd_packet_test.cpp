// BFD Control packet codec (RFC 5880 §4.1): round trips, a packet laid out
// byte by byte from the RFC's figure, and every §6.8.6 rejection with its
// exact reason.
#include <catch2/catch.hpp>

#include "bgp/bfd/packet.hpp"
#include "result_catch.hpp"

using namespace herald::bfd;

namespace {
std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}
std::vector<std::byte> encoded(const control_packet& p) {
  std::vector<std::byte> out;
  encode(p, out);
  return out;
}
control_packet sample() {
  control_packet p;
  p.state = bfd_state::up;
  p.diagnostic = diag::neighbor_signaled_session_down;
  p.poll = true;
  p.detect_mult = 3;
  p.my_discriminator = 0x01020304;
  p.your_discriminator = 0xa0b0c0d0;
  p.desired_min_tx_us = 300'000;
  p.required_min_rx_us = 100'000;
  return p;
}
}  // namespace

TEST_CASE("bfd: encode lays out the RFC 5880 §4.1 figure") {
  auto b = encoded(sample());
  REQUIRE(b == bytes({0x23, 0xe0, 3, 24, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0,
                      0x00, 0x04, 0x93, 0xe0, 0x00, 0x01, 0x86, 0xa0, 0, 0, 0, 0}));
}

TEST_CASE("bfd: every flag and state round-trips") {
  for (auto st : {bfd_state::admin_down, bfd_state::down, bfd_state::init, bfd_state::up}) {
    for (int f = 0; f < 16; ++f) {
      control_packet p = sample();
      p.state = st;
      p.poll = f & 1;
      p.final = f & 2;
      p.control_plane_independent = f & 4;
      p.demand = f & 8;
      auto d = decode(encoded(p));
      REQUIRE(d);
      CHECK(*d == p);
    }
  }
}

TEST_CASE("bfd: trailing bytes beyond Length are ignored") {
  auto b = encoded(sample());
  b.push_back(std::byte{0xff});
  auto d = decode(b);
  REQUIRE(d);
  CHECK(*d == sample());
}

TEST_CASE("bfd: §6.8.6 rejections carry their reason") {
  auto check = [](std::vector<std::byte> b, decode_error want, decode_options opt = {}) {
    auto d = decode(b, opt);
    REQUIRE_FALSE(d);
    CHECK(d.error() == want);
  };
  const auto good = encoded(sample());
  SECTION("empty and short") {
    check({}, decode_error::too_short);
    check(std::vector<std::byte>(good.begin(), good.begin() + 23), decode_error::too_short);
  }
  SECTION("version 0 and 2") {
    auto b = good;
    b[0] = std::byte{0x03};
    check(b, decode_error::bad_version);
    b[0] = std::byte{0x43};
    check(b, decode_error::bad_version);
  }
  SECTION("length below 24 or beyond the payload") {
    auto b = good;
    b[3] = std::byte{23};
    check(b, decode_error::bad_length);
    b[3] = std::byte{25};
    check(b, decode_error::bad_length);
  }
  SECTION("multiplier zero") {
    auto b = good;
    b[2] = std::byte{0};
    check(b, decode_error::zero_multiplier);
  }
  SECTION("multipoint") {
    auto b = good;
    b[1] |= std::byte{0x01};
    check(b, decode_error::multipoint);
  }
  SECTION("my discriminator zero") {
    auto p = sample();
    p.my_discriminator = 0;
    check(encoded(p), decode_error::zero_my_discriminator);
  }
  SECTION("your discriminator zero: rejected in Init and Up, accepted in Down and AdminDown") {
    auto p = sample();
    p.your_discriminator = 0;
    for (auto st : {bfd_state::init, bfd_state::up}) {
      p.state = st;
      check(encoded(p), decode_error::zero_your_discriminator);
    }
    for (auto st : {bfd_state::down, bfd_state::admin_down}) {
      p.state = st;
      CHECK(decode(encoded(p)));
    }
  }
  SECTION("A bit without authentication in use, and no A bit with it") {
    auto b = good;
    b[1] |= std::byte{0x04};
    b[3] = std::byte{28};
    for (int x : {2, 4, 0, 0}) b.push_back(static_cast<std::byte>(x));  // Simple Password, len 4
    check(b, decode_error::auth_mismatch);
    CHECK(decode(b, {.auth_in_use = true}));
    check(good, decode_error::auth_mismatch, {.auth_in_use = true});
  }
  SECTION("A bit with Length below 26 or an Auth Len that does not fit") {
    auto b = good;
    b[1] |= std::byte{0x04};
    check(b, decode_error::bad_length, {.auth_in_use = true});
    b[3] = std::byte{28};
    for (int x : {2, 5, 0, 0}) b.push_back(static_cast<std::byte>(x));
    check(b, decode_error::bad_auth_length, {.auth_in_use = true});
  }
}

TEST_CASE("bfd: drop counters count per reason") {
  drop_counters c;
  c.count(decode_error::bad_version);
  c.count(decode_error::bad_version);
  c.count(decode_error::zero_multiplier);
  CHECK(c.of(decode_error::bad_version) == 2);
  CHECK(c.of(decode_error::zero_multiplier) == 1);
  CHECK(c.total() == 3);
  for (std::size_t i = 0; i < decode_error_count; ++i)
    CHECK(to_string(static_cast<decode_error>(i)) != "?");
}
