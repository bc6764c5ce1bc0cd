// election_core (election.hpp): client-go's tryAcquireOrRenew as a decision.
#include "kube/election.hpp"

#include <cstdio>
#include <ctime>

namespace herald::kube {

election_core::decision election_core::decide(const std::optional<lease_record>& current, clock::time_point now,
                                              const std::string& now_micro) {
  lease_record mine;
  mine.holder_identity = p_.identity;
  mine.lease_duration_seconds =
      static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(p_.lease_duration).count());
  if (mine.lease_duration_seconds < 1) mine.lease_duration_seconds = 1;
  mine.acquire_time = now_micro;
  mine.renew_time = now_micro;
  if (!current) return {action::create, mine};

  if (!observed_ || *observed_ != *current) {
    observed_ = current;
    observed_time_ = now;
  }
  const bool we_hold = current->holder_identity == p_.identity;
  // The other holder's lease runs from when we saw the record change, for the
  // duration it announced (client-go uses observedRecord.LeaseDurationSeconds).
  const auto announced = std::chrono::seconds(current->lease_duration_seconds);
  if (!current->holder_identity.empty() && !we_hold && observed_time_ + announced > now) return {action::wait, {}};

  if (we_hold) {
    mine.acquire_time = current->acquire_time;
    mine.lease_transitions = current->lease_transitions;
  } else {
    mine.lease_transitions = current->lease_transitions + 1;
  }
  return {action::update, mine};
}

void election_core::wrote(const lease_record& record, clock::time_point now) {
  observed_ = record;
  observed_time_ = now;
  if (record.holder_identity == p_.identity) last_renew_ = now;
}

std::optional<lease_record> election_core::release_record(const std::string& now_micro) const {
  if (!holds_record()) return std::nullopt;
  lease_record r = *observed_;
  r.holder_identity.clear();
  r.lease_duration_seconds = 1;
  r.acquire_time = now_micro;
  r.renew_time = now_micro;
  return r;
}

std::string format_micro_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(us % 1'000'000));
  return buf;
}

std::string format_time(std::chrono::system_clock::time_point t) { return format_micro_time(t).substr(0, 19) + "Z"; }

}  // namespace herald::kube
