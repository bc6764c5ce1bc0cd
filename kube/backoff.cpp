// backoff::next (backoff.hpp).
#include "kube/backoff.hpp"

#include <algorithm>

namespace herald::kube {

backoff::duration backoff::next(clock::time_point now, double random01) {
  if (current_ != duration::zero() && now - last_failure_ >= p_.reset_after) current_ = duration::zero();
  last_failure_ = now;
  if (current_ == duration::zero()) current_ = p_.initial;
  else current_ = std::min(p_.max, duration(static_cast<duration::rep>(static_cast<double>(current_.count()) * p_.factor)));
  const double r = std::clamp(random01, 0.0, 1.0);
  const auto jittered = duration(static_cast<duration::rep>(static_cast<double>(current_.count()) * (1.0 + p_.jitter * r)));
  return std::min(p_.max, jittered);
}

}  // namespace herald::kube
