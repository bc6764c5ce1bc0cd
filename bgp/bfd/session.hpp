// One BFD session's state machine (RFC 5880 §6.2, reception §6.8.6, timers
// §6.8.2–6.8.4, transmission §6.8.7), as a pure class in asynchronous mode.
// No sockets and no clock: every call takes `now`, and the caller sends what
// the call returns and wakes the session again at next_deadline(). Tests
// drive it with a fake clock; the jitter RNG is injected.
//
// Timer changes (configuration, and the drop from the 1 s slow rate to the
// configured rate once Up, §6.8.3) run a Poll Sequence: packets carry P until
// the peer answers with F. An increase of our transmit interval and a
// decrease of our receive interval take effect only when the sequence ends.
// Demand mode and the Echo function are not implemented (we advertise
// Required Min Echo RX 0 and never set D).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "bgp/bfd/packet.hpp"

namespace herald::bfd {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using microseconds = std::chrono::microseconds;

// §6.8.3: while not Up, bfd.DesiredMinTxInterval must be at least one second.
inline constexpr std::uint32_t slow_tx_us = 1'000'000;

struct session_config {
  std::uint32_t desired_min_tx_us = 300'000;
  std::uint32_t required_min_rx_us = 300'000;
  std::uint8_t detect_mult = 3;  // must be >= 1
};

struct state_change {
  bfd_state from;
  bfd_state to;
  diag reason;  // bfd.LocalDiag after the change
};

// What one call asks the caller to do: send these packets (in order) and
// report the state changes.
struct session_output {
  std::vector<control_packet> send;
  std::vector<state_change> changes;
};

struct session_counters {
  std::uint64_t packets_received = 0;
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_discarded = 0;  // well-formed but discarded by §6.8.6 (e.g. in AdminDown)
  std::uint64_t polls_completed = 0;
  std::uint64_t went_up = 0;
  std::uint64_t went_down = 0;
  std::uint64_t detection_expiries = 0;
};

class session {
 public:
  // Returns a value uniformly distributed in [0, 1); used for §6.8.7 jitter.
  using uniform_rng = std::function<double()>;

  // local_discriminator must be non-zero and unique among this system's sessions.
  session(std::uint32_t local_discriminator, session_config cfg, uniform_rng rng);

  // Begins transmitting (state Down); the first packet is returned at once.
  session_output start(time_point now);

  // A packet that decode() accepted and the caller demultiplexed to this
  // session (§6.8.6: by Your Discriminator, or by addresses when it is zero).
  session_output on_packet(const control_packet& p, time_point now);

  // Runs expired timers: detection time (Init/Up → Down, diag 1) and
  // periodic transmission. Safe to call early; it does nothing then.
  session_output on_timer(time_point now);

  // The earliest time on_timer() has work; time_point::max() if none.
  time_point next_deadline() const;

  // AdminDown (diag 7) or back to Down.
  session_output set_admin_down(bool down, time_point now);

  // New timers; while Up this starts a Poll Sequence.
  session_output set_config(const session_config& cfg, time_point now);

  bfd_state state() const { return state_; }
  bfd_state remote_state() const { return remote_state_; }
  diag local_diag() const { return local_diag_; }
  std::uint32_t local_discriminator() const { return local_disc_; }
  std::uint32_t remote_discriminator() const { return remote_disc_; }
  bool poll_in_progress() const { return polling_; }
  const session_counters& counters() const { return counters_; }
  const session_config& config() const { return cfg_; }

  // Negotiated transmit interval: max(our Desired Min TX in use, their Required Min RX).
  microseconds tx_interval() const;
  // Detection time: their Detect Mult × max(our Required Min RX in use, their Desired Min TX).
  microseconds detection_time() const;

 private:
  void update_timers();
  control_packet make_packet(bool final) const;
  void set_state(bfd_state to, diag why, session_output& out);
  void transmit(time_point now, session_output& out);
  void schedule_tx(time_point from);

  std::uint32_t local_disc_;
  session_config cfg_;
  uniform_rng rng_;

  bool started_ = false;
  bfd_state state_ = bfd_state::down;
  bfd_state remote_state_ = bfd_state::down;
  diag local_diag_ = diag::none;
  std::uint32_t remote_disc_ = 0;
  std::uint32_t remote_min_rx_us_ = 1;  // §6.8.1 initial value
  std::uint32_t remote_desired_tx_us_ = 0;
  std::uint8_t remote_detect_mult_ = 0;

  // What we advertise (bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval)
  // and what is in effect; they differ while a Poll Sequence runs.
  std::uint32_t adv_tx_us_ = slow_tx_us;
  std::uint32_t adv_rx_us_;
  std::uint32_t active_tx_us_ = slow_tx_us;
  std::uint32_t active_rx_us_;
  bool polling_ = false;

  time_point next_tx_ = time_point::max();
  std::optional<time_point> detect_deadline_;
  session_counters counters_;
};

}  // namespace herald::bfd
