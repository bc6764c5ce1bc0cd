// The decisions of Lease leader election with client-go's semantics
// (tools/leaderelection, kube-api.md §3), as a pure class over a caller's
// clock: what to write given the Lease just read, and whether a leader is
// past its renew deadline. leader_elector (leader.hpp) does the I/O.
//
// Validity of another holder's lease is judged on the local clock, from
// when this candidate last saw the record change, never from renewTime
// (clocks of two nodes are not comparable).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace herald::kube {

struct lease_record {
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime text
  std::string renew_time;
  int lease_transitions = 0;
  bool operator==(const lease_record&) const = default;
};

struct election_params {
  std::string identity;
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
  double jitter = 1.2;  // an acquire retry waits retry_period × [1, 1 + jitter)
};

class election_core {
 public:
  using clock = std::chrono::steady_clock;

  enum class action { create, update, wait };
  struct decision {
    action what = action::wait;
    lease_record record;  // what to write for create / update
  };

  explicit election_core(election_params p) : p_(std::move(p)) {}

  // `current` is the Lease's spec as just read (nullopt: 404). `now_micro` is
  // the wall time as MicroTime for the record.
  decision decide(const std::optional<lease_record>& current, clock::time_point now, const std::string& now_micro);

  // The write of decide()'s record succeeded at `now`.
  void wrote(const lease_record& record, clock::time_point now);

  // What we last wrote or saw says we hold the lease.
  bool holds_record() const { return observed_ && observed_->holder_identity == p_.identity; }

  // A leader whose last successful renew is older than renew_deadline must stop acting.
  bool past_renew_deadline(clock::time_point now) const { return now - last_renew_ > p_.renew_deadline; }
  clock::time_point last_renew() const { return last_renew_; }

  // The record that gives the lease up on shutdown: no holder, 1 s duration.
  std::optional<lease_record> release_record(const std::string& now_micro) const;

  const election_params& params() const { return p_; }

 private:
  election_params p_;
  std::optional<lease_record> observed_;
  clock::time_point observed_time_{};
  clock::time_point last_renew_{};
};

// "2006-01-02T15:04:05.000000Z" for a wall-clock time.
std::string format_micro_time(std::chrono::system_clock::time_point t);
// "2006-01-02T15:04:05Z" (metav1.Time: conditions' lastTransitionTime).
std::string format_time(std::chrono::system_clock::time_point t);

}  // namespace herald::kube
