// Retry delays for list and watch failures, as client-go's reflector uses
// them (kube-api.md §1): 800 ms doubling to a 30 s cap, each delay stretched
// by a random factor in [1, 2) (jitter 1.0), and back to 800 ms once no
// failure has happened for 2 minutes. Pure: the caller passes the clock and
// the random draw.
#pragma once

#include <chrono>

namespace herald::kube {

class backoff {
 public:
  using clock = std::chrono::steady_clock;
  using duration = std::chrono::milliseconds;

  struct params {
    duration initial{800};
    duration max{30'000};
    double factor = 2.0;
    double jitter = 1.0;
    duration reset_after{120'000};
  };

  backoff() = default;
  explicit backoff(params p) : p_(p) {}

  // The delay before the next attempt after a failure at `now`; `random01`
  // is uniform in [0, 1). The result never exceeds params.max.
  duration next(clock::time_point now, double random01);
  void reset() { current_ = duration::zero(); }

 private:
  params p_;
  duration current_{0};
  clock::time_point last_failure_{};
};

}  // namespace herald::kube
