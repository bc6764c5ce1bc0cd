// BFD Control packet codec (RFC 5880 §4.1, reception checks of §6.8.6).
#include "bgp/bfd/packet.hpp"

#include <numeric>

namespace herald::bfd {

std::string_view to_string(bfd_state s) {
  switch (s) {
    case bfd_state::admin_down: return "AdminDown";
    case bfd_state::down: return "Down";
    case bfd_state::init: return "Init";
    case bfd_state::up: return "Up";
  }
  return "?";
}

std::string_view to_string(diag d) {
  switch (d) {
    case diag::none: return "no diagnostic";
    case diag::control_detection_time_expired: return "control detection time expired";
    case diag::echo_function_failed: return "echo function failed";
    case diag::neighbor_signaled_session_down: return "neighbor signaled session down";
    case diag::forwarding_plane_reset: return "forwarding plane reset";
    case diag::path_down: return "path down";
    case diag::concatenated_path_down: return "concatenated path down";
    case diag::administratively_down: return "administratively down";
    case diag::reverse_concatenated_path_down: return "reverse concatenated path down";
  }
  return "unknown diagnostic";
}

std::string_view to_string(decode_error e) {
  switch (e) {
    case decode_error::too_short: return "shorter than 24 bytes";
    case decode_error::bad_version: return "version is not 1";
    case decode_error::bad_length: return "bad length field";
    case decode_error::zero_multiplier: return "detect multiplier is zero";
    case decode_error::multipoint: return "multipoint bit set";
    case decode_error::zero_my_discriminator: return "my discriminator is zero";
    case decode_error::zero_your_discriminator: return "your discriminator is zero in Init/Up";
    case decode_error::auth_mismatch: return "authentication bit does not match configuration";
    case decode_error::bad_auth_length: return "bad authentication length";
    case decode_error::count_: break;
  }
  return "?";
}

std::uint64_t drop_counters::total() const {
  return std::accumulate(by_reason.begin(), by_reason.end(), std::uint64_t{0});
}

namespace {
std::uint8_t u8(std::span<const std::byte> in, std::size_t at) { return std::to_integer<std::uint8_t>(in[at]); }
std::uint32_t u32(std::span<const std::byte> in, std::size_t at) {
  return (std::uint32_t{u8(in, at)} << 24) | (std::uint32_t{u8(in, at + 1)} << 16) |
         (std::uint32_t{u8(in, at + 2)} << 8) | std::uint32_t{u8(in, at + 3)};
}
void put32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::byte>((v >> shift) & 0xff));
}
}  // namespace

Result<control_packet, decode_error> decode(std::span<const std::byte> in, decode_options opt) {
  // The fixed header is read only after this size check; every offset below is < 24.
  if (in.size() < control_header_size) return decode_error::too_short;
  // §6.8.6 checks, in the RFC's order.
  if ((u8(in, 0) >> 5) != bfd_version) return decode_error::bad_version;
  const std::uint8_t flags = u8(in, 1);
  control_packet p;
  p.diagnostic = static_cast<diag>(u8(in, 0) & 0x1f);
  p.state = static_cast<bfd_state>(flags >> 6);
  p.poll = flags & 0x20;
  p.final = flags & 0x10;
  p.control_plane_independent = flags & 0x08;
  p.auth_present = flags & 0x04;
  p.demand = flags & 0x02;
  p.multipoint = flags & 0x01;
  p.detect_mult = u8(in, 2);
  const std::size_t length = u8(in, 3);
  const std::size_t min_length = p.auth_present ? min_auth_packet_size : control_header_size;
  if (length < min_length || length > in.size()) return decode_error::bad_length;
  if (p.detect_mult == 0) return decode_error::zero_multiplier;
  if (p.multipoint) return decode_error::multipoint;
  p.my_discriminator = u32(in, 4);
  p.your_discriminator = u32(in, 8);
  if (p.my_discriminator == 0) return decode_error::zero_my_discriminator;
  if (p.your_discriminator == 0 && p.state != bfd_state::down && p.state != bfd_state::admin_down)
    return decode_error::zero_your_discriminator;
  if (p.auth_present != opt.auth_in_use) return decode_error::auth_mismatch;
  p.desired_min_tx_us = u32(in, 12);
  p.required_min_rx_us = u32(in, 16);
  p.required_min_echo_rx_us = u32(in, 20);
  if (p.auth_present) {
    // §4.2: Auth Type, Auth Len (covering the whole section) then type data.
    p.auth_type = u8(in, 24);
    const std::size_t auth_len = u8(in, 25);
    if (auth_len < 2 || control_header_size + auth_len != length) return decode_error::bad_auth_length;
  }
  return p;
}

void encode(const control_packet& p, std::vector<std::byte>& out) {
  out.push_back(static_cast<std::byte>((bfd_version << 5) | (static_cast<std::uint8_t>(p.diagnostic) & 0x1f)));
  std::uint8_t flags = static_cast<std::uint8_t>(static_cast<std::uint8_t>(p.state) << 6);
  if (p.poll) flags |= 0x20;
  if (p.final) flags |= 0x10;
  if (p.control_plane_independent) flags |= 0x08;
  if (p.demand) flags |= 0x02;
  if (p.multipoint) flags |= 0x01;
  out.push_back(static_cast<std::byte>(flags));
  out.push_back(static_cast<std::byte>(p.detect_mult));
  out.push_back(static_cast<std::byte>(control_header_size));
  put32(out, p.my_discriminator);
  put32(out, p.your_discriminator);
  put32(out, p.desired_min_tx_us);
  put32(out, p.required_min_rx_us);
  put32(out, p.required_min_echo_rx_us);
}

}  // namespace herald::bfd
