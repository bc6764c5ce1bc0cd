// Leader election against the emulator with two candidates, each with its
// own client (short durations: lease 2 s, renew deadline 1.5 s, retry 0.25 s).
// Sampled every few milliseconds, never are both leading. When the leader
// stops without releasing (a crash), the other leads within the lease
// duration plus its acquire retry (retry period × (1 + jitter), counted twice:
// it may first see the last renewal up to one retry late), plus 0.5 s for
// request latency on a loaded machine. A release hands over well within
// the lease duration.
#include "emulator_process.hpp"
#include "kube/leader.hpp"
#include "result_catch.hpp"

using namespace herald::kube;
using namespace herald::kube::test;
using namespace std::chrono_literals;

namespace {
election_params short_params(std::string id) {
  election_params p;
  p.identity = std::move(id);
  p.lease_duration = 2s;
  p.renew_deadline = 1500ms;
  p.retry_period = 250ms;
  p.jitter = 0.2;
  return p;
}

struct candidate {
  std::shared_ptr<leader_elector> elector;
  int started = 0;
  int stopped = 0;
  std::chrono::steady_clock::time_point started_at{};
};

candidate make_candidate(boost::asio::io_context& ctx, const emulator_process& emu, const std::string& id) {
  candidate cand;
  auto c = make_client(ctx, emu.config());
  cand.elector = leader_elector::create(c, "default", "herald-allocator", short_params(id), {});
  return cand;
}

// Runs until `done` while checking that at most one candidate leads.
bool run_checked(boost::asio::io_context& ctx, std::vector<candidate*> cands, const std::function<bool()>& done,
                 std::chrono::milliseconds limit, int& overlaps) {
  return run_until(
      ctx,
      [&] {
        int leaders = 0;
        for (auto* c : cands)
          if (c->elector && c->elector->leading()) ++leaders;
        if (leaders > 1) ++overlaps;
        return done();
      },
      limit);
}
}  // namespace

TEST_CASE("two candidates: one leader, failover after a crash, handover on release") {
  emulator_process emu;
  boost::asio::io_context ctx;
  candidate a = make_candidate(ctx, emu, "candidate-a");
  candidate b = make_candidate(ctx, emu, "candidate-b");
  a.elector->start();
  b.elector->start();
  int overlaps = 0;
  REQUIRE(run_checked(ctx, {&a, &b}, [&] { return a.elector->leading() || b.elector->leading(); }, 10s, overlaps));
  // Let them compete for a while.
  run_checked(ctx, {&a, &b}, [] { return false; }, 3s, overlaps);
  CHECK(overlaps == 0);
  candidate& leader = a.elector->leading() ? a : b;
  candidate& follower = a.elector->leading() ? b : a;
  REQUIRE(leader.elector->leading());
  CHECK_FALSE(follower.elector->leading());
  CHECK(follower.elector->observed_leader() == leader.elector->params().identity);

  // Crash: the leader stops renewing and does not release.
  const auto crashed_at = std::chrono::steady_clock::now();
  leader.elector->stop();
  const auto p = short_params("x");
  const auto bound = p.lease_duration + 2 * std::chrono::duration_cast<std::chrono::milliseconds>(
                                               p.retry_period * (1.0 + p.jitter)) + 500ms;
  REQUIRE(run_checked(ctx, {&leader, &follower}, [&] { return follower.elector->leading(); }, 10s, overlaps));
  const auto failover = std::chrono::steady_clock::now() - crashed_at;
  INFO("failover took " << std::chrono::duration_cast<std::chrono::milliseconds>(failover).count() << " ms");
  CHECK(failover <= bound);
  CHECK(failover >= p.lease_duration - 300ms);  // not before the crashed leader's lease ran out
  CHECK(overlaps == 0);

  // A third candidate joins; the leader releases on shutdown; the newcomer takes over at once.
  candidate c = make_candidate(ctx, emu, "candidate-c");
  c.elector->start();
  run_checked(ctx, {&follower, &c}, [] { return false; }, 1s, overlaps);
  CHECK_FALSE(c.elector->leading());
  const auto released_at = std::chrono::steady_clock::now();
  run_sync(ctx, follower.elector->release_and_stop());
  CHECK_FALSE(follower.elector->leading());
  REQUIRE(run_checked(ctx, {&follower, &c}, [&] { return c.elector->leading(); }, 10s, overlaps));
  const auto handover = std::chrono::steady_clock::now() - released_at;
  INFO("handover took " << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count() << " ms");
  CHECK(handover <= p.lease_duration);
  CHECK(overlaps == 0);
  c.elector->stop();
  run_for(ctx, 100ms);
}

TEST_CASE("a leader that cannot renew stops acting at its renew deadline") {
  emulator_process emu;
  boost::asio::io_context ctx;
  auto c = make_client(ctx, emu.config());
  int started = 0, stopped = 0;
  auto e = leader_elector::create(c, "default", "solo", short_params("solo"),
                                  {[&] { ++started; }, [&] { ++stopped; }, {}});
  e->start();
  REQUIRE(run_until(ctx, [&] { return e->leading(); }, 10s));
  CHECK(started == 1);
  // Every lease request now fails with 500.
  admin(ctx, *c, "fail?code=500&count=1000&path=leases");
  const auto cut = std::chrono::steady_clock::now();
  REQUIRE(run_until(ctx, [&] { return !e->leading(); }, 5s));
  const auto acted = std::chrono::steady_clock::now() - cut;
  CHECK(acted <= short_params("x").renew_deadline + 300ms);  // slack: polling and a loaded machine
  REQUIRE(run_until(ctx, [&] { return stopped == 1; }, 5s));
  // Renewals work again: it leads again (no one else holds the lease).
  admin(ctx, *c, "reset-faults");
  REQUIRE(run_until(ctx, [&] { return e->leading(); }, 10s));
  CHECK(started == 2);
  e->stop();
  run_for(ctx, 100ms);
}
