// Retry delays (kube/backoff.hpp): 0.8 s doubling to the 30 s cap, jitter
// within [d, 2d), reset after two quiet minutes; and the server's
// Retry-After as kube::status_error reads it.
#include "kube/backoff.hpp"
#include "kube/client.hpp"
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

TEST_CASE("a server's Retry-After is read from the header, else from the Status details") {
  // The header in delta-seconds (RFC 9110 §10.2.3) wins over the body.
  const char* status = R"({"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":5}})";
  CHECK(status_error(429, status, "3").retry_after == 3s);
  CHECK(status_error(429, status).retry_after == 5s);
  CHECK(status_error(429, status).reason == "TooManyRequests");
  // An HTTP-date, a negative or a hostile header is not read; the body still is.
  CHECK(status_error(429, status, "Wed, 21 Oct 2015 07:28:00 GMT").retry_after == 5s);
  CHECK(status_error(429, status, "-1").retry_after == 5s);
  CHECK(status_error(503, "{}", "99999999999999").retry_after == std::nullopt);
  // At most a day, whoever says it.
  CHECK(status_error(503, "{}", "999999999").retry_after == 86400s);
  CHECK(status_error(429, R"({"details":{"retryAfterSeconds":1e12}})").retry_after == std::nullopt);
  CHECK(status_error(429, R"({"details":{"retryAfterSeconds":99999999999}})").retry_after == 86400s);
  CHECK(status_error(500, "not json").retry_after == std::nullopt);
}
