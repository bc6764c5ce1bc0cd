// Retry delays (kube/backoff.hpp): 0.8 s doubling to the 30 s cap, jitter
// within [d, 2d), reset after two quiet minutes.
#include "kube/backoff.hpp"
#include "result_catch.hpp"

using namespace herald::kube;
using namespace std::chrono_literals;

TEST_CASE("backoff doubles, jitters, caps and resets") {
  backoff b;
  backoff::clock::time_point t{};
  CHECK(b.next(t, 0.0) == 800ms);
  CHECK(b.next(t + 1s, 0.0) == 1600ms);
  CHECK(b.next(t + 2s, 0.5) == 4800ms);  // 3.2 s × 1.5
  for (int i = 0; i < 10; ++i) CHECK(b.next(t + 3s, 0.999) <= 30s);
  CHECK(b.next(t + 4s, 0.0) == 30s);
  // Two minutes without failure: back to the start.
  CHECK(b.next(t + 4s + 120s, 0.0) == 800ms);
  b.reset();
  CHECK(b.next(t + 200s, 0.25) == 1000ms);
}
