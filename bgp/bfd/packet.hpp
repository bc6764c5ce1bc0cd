// BFD Control packet codec (RFC 5880 §4.1), pure: no sockets, no clock.
// decode() applies every check of §6.8.6 that needs only the packet itself
// (version, lengths, multiplier, discriminators, Multipoint, the A bit against
// the configured authentication) and returns the reason for each rejection,
// so the I/O layer can count drops per reason. The authentication section
// (§4.2–4.4) is checked for its length only: Herald does not authenticate
// yet, so a packet with the A bit set is dropped unless the caller says
// authentication is in use.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "herald/result.hpp"

namespace herald::bfd {

inline constexpr std::uint8_t bfd_version = 1;
inline constexpr std::size_t control_header_size = 24;  // §4.1 without authentication
inline constexpr std::size_t min_auth_packet_size = 26;  // §6.8.6: A set needs Length >= 26

// §4.1 State (Sta).
enum class bfd_state : std::uint8_t { admin_down = 0, down = 1, init = 2, up = 3 };
std::string_view to_string(bfd_state s);

// §4.1 Diagnostic (Diag).
enum class diag : std::uint8_t {
  none = 0,
  control_detection_time_expired = 1,
  echo_function_failed = 2,
  neighbor_signaled_session_down = 3,
  forwarding_plane_reset = 4,
  path_down = 5,
  concatenated_path_down = 6,
  administratively_down = 7,
  reverse_concatenated_path_down = 8,
};
std::string_view to_string(diag d);

struct control_packet {
  diag diagnostic = diag::none;
  bfd_state state = bfd_state::down;
  bool poll = false;                  // P
  bool final = false;                 // F
  bool control_plane_independent = false;  // C
  bool auth_present = false;          // A
  bool demand = false;                // D
  bool multipoint = false;            // M, must be zero (§4.1)
  std::uint8_t detect_mult = 3;
  std::uint32_t my_discriminator = 0;
  std::uint32_t your_discriminator = 0;
  std::uint32_t desired_min_tx_us = 1'000'000;
  std::uint32_t required_min_rx_us = 1'000'000;
  std::uint32_t required_min_echo_rx_us = 0;
  std::uint8_t auth_type = 0;         // §4.2, when auth_present

  bool operator==(const control_packet&) const = default;
};

// Why decode() dropped a packet; each maps to a sentence of §6.8.6.
enum class decode_error : std::uint8_t {
  too_short,             // fewer than 24 bytes received
  bad_version,           // Version is not 1
  bad_length,            // Length < 24 (26 with A), or larger than the payload
  zero_multiplier,       // Detect Mult is zero
  multipoint,            // M bit set
  zero_my_discriminator, // My Discriminator is zero
  zero_your_discriminator,  // Your Discriminator zero while State is Init or Up
  auth_mismatch,         // A bit set without authentication in use, or clear with it
  bad_auth_length,       // Auth Len does not fit the Length field
  count_
};
std::string_view to_string(decode_error e);

inline constexpr std::size_t decode_error_count = static_cast<std::size_t>(decode_error::count_);

// Drops per reason, for the session's and the listener's counters.
struct drop_counters {
  std::array<std::uint64_t, decode_error_count> by_reason{};
  void count(decode_error e) { ++by_reason[static_cast<std::size_t>(e)]; }
  std::uint64_t of(decode_error e) const { return by_reason[static_cast<std::size_t>(e)]; }
  std::uint64_t total() const;
};

struct decode_options {
  bool auth_in_use = false;  // bfd.AuthType != 0 for the session the packet is for
};

// Decodes one UDP payload. Never throws, never reads past `in`. Bytes after
// the Length field (padding) are ignored, as §6.8.6 allows.
Result<control_packet, decode_error> decode(std::span<const std::byte> in, decode_options opt = {});

// Appends the 24-byte packet (no authentication section; auth_present must be
// false) to `out`.
void encode(const control_packet& p, std::vector<std::byte>& out);

}  // namespace herald::bfd
