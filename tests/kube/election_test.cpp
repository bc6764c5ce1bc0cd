// Leader-election decisions (kube/election.hpp) on a fake clock: two
// candidates over one simulated Lease never both hold it, a stopped leader is
// replaced within lease duration plus a retry period, and release hands over at once.
#include <optional>

#include "kube/election.hpp"
#include "result_catch.hpp"

using namespace herald::kube;
using namespace std::chrono_literals;
using clock_type = election_core::clock;

namespace {
election_params params(std::string id) {
  election_params p;
  p.identity = std::move(id);
  return p;
}

// One candidate's round against the shared record; returns whether it
// wrote it. The MicroTime text is unique per instant, as a real clock's is.
bool round(election_core& c, std::optional<lease_record>& lease, clock_type::time_point now) {
  const std::string micro = std::to_string(now.time_since_epoch().count());
  auto d = c.decide(lease, now, micro);
  if (d.what == election_core::action::wait) return false;
  lease = d.record;
  c.wrote(d.record, now);
  return true;
}
}  // namespace

TEST_CASE("create, renew, and others wait while the lease is valid") {
  election_core a(params("a")), b(params("b"));
  std::optional<lease_record> lease;
  clock_type::time_point t{};
  auto first = a.decide(lease, t, "t0");
  CHECK(first.what == election_core::action::create);
  CHECK(first.record.lease_duration_seconds == 15);
  lease = first.record;
  a.wrote(first.record, t);
  CHECK(a.holds_record());
  CHECK_FALSE(round(b, lease, t + 1s));
  CHECK(round(a, lease, t + 2s));  // renew keeps acquireTime and transitions
  CHECK(lease->acquire_time == "t0");
  CHECK(lease->lease_transitions == 0);
  CHECK_FALSE(a.past_renew_deadline(t + 11s));
  CHECK(a.past_renew_deadline(t + 12001ms));
}

TEST_CASE("failover after the leader stops renewing, judged from when the record was seen") {
  election_core a(params("a")), b(params("b"));
  std::optional<lease_record> lease;
  clock_type::time_point t{};
  REQUIRE(round(a, lease, t));
  // b first sees the record at t+5 s: it may take over at t+20 s, not at t+15 s.
  CHECK_FALSE(round(b, lease, t + 5s));
  CHECK_FALSE(round(b, lease, t + 15s));
  CHECK_FALSE(round(b, lease, t + 19s));
  REQUIRE(round(b, lease, t + 20s + 1ms));
  CHECK(lease->holder_identity == "b");
  CHECK(lease->lease_transitions == 1);
}

TEST_CASE("a released lease is taken at once") {
  election_core a(params("a")), b(params("b"));
  std::optional<lease_record> lease;
  clock_type::time_point t{};
  REQUIRE(round(a, lease, t));
  CHECK_FALSE(round(b, lease, t + 1s));
  auto released = a.release_record("t2");
  REQUIRE(released);
  CHECK(released->holder_identity.empty());
  CHECK(released->lease_duration_seconds == 1);
  lease = released;
  CHECK(round(b, lease, t + 2s));
  CHECK(b.release_record("x")->holder_identity.empty());
  CHECK_FALSE(election_core(params("c")).release_record("x"));
}

// Simulated time: candidates run rounds every retry period and randomly
// pause (a stalled process keeps believing it leads until its renew
// deadline); at every instant at most one of them may act as leader.
TEST_CASE("never two leaders on a shared lease") {
  std::optional<lease_record> lease;
  std::vector<election_core> cands{election_core(params("a")), election_core(params("b")), election_core(params("c"))};
  std::vector<bool> alive{true, true, true};
  std::vector<bool> leading{false, false, false};
  clock_type::time_point t{};
  unsigned seed = 1;
  auto next_rand = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 16) % 100; };
  int handovers = 0;
  std::string last_holder;
  for (int step = 0; step < 2000; ++step) {
    t += 500ms;
    if (lease && lease->holder_identity != last_holder) {
      ++handovers;
      last_holder = lease->holder_identity;
    }
    for (std::size_t i = 0; i < cands.size(); ++i) {
      if (next_rand() < 2) alive[i] = !alive[i];
      if (!alive[i]) continue;
      if (step % 4 != static_cast<int>(i)) continue;  // rounds spread over the retry period
      const bool held = round(cands[i], lease, t);
      leading[i] = held ? cands[i].holds_record() : false;
    }
    // A leader whose renewals stopped succeeding stops acting past its deadline.
    for (std::size_t i = 0; i < cands.size(); ++i)
      if (leading[i] && cands[i].past_renew_deadline(t)) leading[i] = false;
    int count = 0;
    for (bool l : leading) count += l ? 1 : 0;
    REQUIRE(count <= 1);
  }
  CHECK(handovers >= 5);  // the schedule really moved the lease around
}
