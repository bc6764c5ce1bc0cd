// BFD session state machine (RFC 5880 §6.2, §6.8). See session.hpp.
#include "bgp/bfd/session.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace herald::bfd {

session::session(std::uint32_t local_discriminator, session_config cfg, uniform_rng rng)
    : local_disc_(local_discriminator), cfg_(cfg), rng_(std::move(rng)) {
  assert(local_disc_ != 0 && cfg_.detect_mult >= 1 && rng_);
  adv_tx_us_ = active_tx_us_ = std::max(cfg_.desired_min_tx_us, slow_tx_us);
  adv_rx_us_ = active_rx_us_ = cfg_.required_min_rx_us;
}

microseconds session::tx_interval() const {
  return microseconds(std::max(active_tx_us_, remote_min_rx_us_));
}

microseconds session::detection_time() const {
  return microseconds(std::int64_t{remote_detect_mult_} * std::max(active_rx_us_, remote_desired_tx_us_));
}

time_point session::next_deadline() const {
  if (detect_deadline_ && *detect_deadline_ < next_tx_) return *detect_deadline_;
  return next_tx_;
}

control_packet session::make_packet(bool final) const {
  control_packet p;
  p.diagnostic = local_diag_;
  p.state = state_;
  // §6.8.7: P and F are never set together; a Final answers a Poll at once.
  p.poll = polling_ && !final;
  p.final = final;
  p.detect_mult = cfg_.detect_mult;
  p.my_discriminator = local_disc_;
  p.your_discriminator = remote_disc_;
  p.desired_min_tx_us = adv_tx_us_;
  p.required_min_rx_us = adv_rx_us_;
  p.required_min_echo_rx_us = 0;  // no Echo function
  return p;
}

void session::schedule_tx(time_point from) {
  // §6.8.7: no periodic packets while the peer asks for none.
  if (remote_min_rx_us_ == 0) {
    next_tx_ = time_point::max();
    return;
  }
  // §6.8.7: jitter to 75–100% of the interval, 75–90% when Detect Mult is 1
  // so that a single late packet cannot trip the peer's detection timer.
  const double u = std::clamp(rng_(), 0.0, 1.0);
  const double factor = cfg_.detect_mult == 1 ? 0.75 + 0.15 * u : 0.75 + 0.25 * u;
  const auto interval = static_cast<double>(tx_interval().count());
  next_tx_ = from + microseconds(static_cast<std::int64_t>(interval * factor));
}

void session::transmit(time_point now, session_output& out) {
  out.send.push_back(make_packet(false));
  ++counters_.packets_sent;
  schedule_tx(now);
}

// §6.8.3: recompute what we advertise after a configuration or state change.
// Faster sending and slower detection are safe at once; the rest waits for
// the Poll Sequence to end, so the peer never sees us break its timers.
void session::update_timers() {
  const std::uint32_t tx = state_ == bfd_state::up ? cfg_.desired_min_tx_us
                                                   : std::max(cfg_.desired_min_tx_us, slow_tx_us);
  const std::uint32_t rx = cfg_.required_min_rx_us;
  if (tx == adv_tx_us_ && rx == adv_rx_us_) return;
  adv_tx_us_ = tx;
  adv_rx_us_ = rx;
  if (state_ == bfd_state::init || state_ == bfd_state::up) {
    active_tx_us_ = std::min(active_tx_us_, tx);
    active_rx_us_ = std::max(active_rx_us_, rx);
    polling_ = true;
  } else {
    active_tx_us_ = tx;
    active_rx_us_ = rx;
    polling_ = false;
  }
}

void session::set_state(bfd_state to, diag why, session_output& out) {
  if (to == state_) return;
  out.changes.push_back({state_, to, why});
  if (to == bfd_state::up) ++counters_.went_up;
  if (state_ == bfd_state::up) ++counters_.went_down;
  state_ = to;
  local_diag_ = why;
  update_timers();
}

session_output session::start(time_point now) {
  session_output out;
  if (started_) return out;
  started_ = true;
  transmit(now, out);
  return out;
}

session_output session::on_packet(const control_packet& p, time_point now) {
  session_output out;
  ++counters_.packets_received;
  // §6.8.6, in order: remember the peer's view of the session.
  remote_disc_ = p.my_discriminator;
  remote_state_ = p.state;
  const bool rx_changed = remote_min_rx_us_ != p.required_min_rx_us;
  remote_min_rx_us_ = p.required_min_rx_us;
  remote_desired_tx_us_ = p.desired_min_tx_us;
  remote_detect_mult_ = p.detect_mult;
  if (polling_ && p.final) {
    polling_ = false;
    active_tx_us_ = adv_tx_us_;
    active_rx_us_ = adv_rx_us_;
    ++counters_.polls_completed;
  }
  detect_deadline_ = now + detection_time();
  if (state_ == bfd_state::admin_down) {
    ++counters_.packets_discarded;
    return out;
  }
  const bfd_state before = state_;
  if (p.state == bfd_state::admin_down) {
    if (state_ != bfd_state::down) set_state(bfd_state::down, diag::neighbor_signaled_session_down, out);
  } else if (state_ == bfd_state::down) {
    if (p.state == bfd_state::down) set_state(bfd_state::init, diag::none, out);
    else if (p.state == bfd_state::init) set_state(bfd_state::up, diag::none, out);
  } else if (state_ == bfd_state::init) {
    if (p.state == bfd_state::init || p.state == bfd_state::up) set_state(bfd_state::up, diag::none, out);
  } else if (p.state == bfd_state::down) {  // Up
    set_state(bfd_state::down, diag::neighbor_signaled_session_down, out);
  }
  if (p.poll) {
    // §6.8.7: answer a Poll at once, outside the periodic schedule.
    out.send.push_back(make_packet(true));
    ++counters_.packets_sent;
  }
  if (!started_) return out;
  if (state_ != before) {
    // Tell the peer about the new state now rather than up to an interval later.
    transmit(now, out);
  } else if (rx_changed) {
    // §6.8.7: a changed Required Min RX may shorten (or stop) our schedule.
    schedule_tx(now);
  }
  return out;
}

session_output session::on_timer(time_point now) {
  session_output out;
  if (detect_deadline_ && now >= *detect_deadline_) {
    detect_deadline_.reset();
    // §6.8.4: only Init and Up can time out.
    if (state_ == bfd_state::init || state_ == bfd_state::up) {
      ++counters_.detection_expiries;
      remote_disc_ = 0;  // §6.8.1: reset when the Detection Time expires
      remote_state_ = bfd_state::down;
      set_state(bfd_state::down, diag::control_detection_time_expired, out);
      if (started_) transmit(now, out);
      return out;
    }
  }
  if (started_ && now >= next_tx_) transmit(now, out);
  return out;
}

session_output session::set_admin_down(bool down, time_point now) {
  session_output out;
  if (down == (state_ == bfd_state::admin_down)) return out;
  detect_deadline_.reset();
  set_state(down ? bfd_state::admin_down : bfd_state::down,
            down ? diag::administratively_down : diag::none, out);
  if (started_) transmit(now, out);
  return out;
}

session_output session::set_config(const session_config& cfg, time_point now) {
  session_output out;
  assert(cfg.detect_mult >= 1);
  cfg_ = cfg;
  const bool was_polling = polling_;
  update_timers();
  // Start the Poll at once instead of waiting for the next periodic packet.
  if (started_ && polling_ && !was_polling) transmit(now, out);
  return out;
}

}  // namespace herald::bfd
