// Lease leader election over the API (coordination.k8s.io/v1), with
// client-go's semantics (kube-api.md §3); the decisions are election_core's
// (election.hpp). Every retry period each candidate GETs the Lease, creates
// it on 404, or PUTs its record with the resourceVersion it read (a 409 is a
// lost round). A leader that has not renewed for renew_deadline stops acting:
// leading() turns false at that instant and on_stopped_leading runs at the
// next round. release_and_stop() gives the lease up (holder "", 1 s) so a
// successor takes over at once.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "kube/client.hpp"
#include "kube/election.hpp"

namespace herald::kube {

struct leader_callbacks {
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;  // any holder change seen
};

class leader_elector : public std::enable_shared_from_this<leader_elector> {
 public:
  static std::shared_ptr<leader_elector> create(std::shared_ptr<client> c, std::string ns, std::string name,
                                                election_params params, leader_callbacks callbacks);

  void start();
  // Stops without releasing (as a crashed process would): others take over
  // after the lease duration.
  void stop();
  // Stops; when leading, writes the release record first. Resolves when done.
  asio::awaitable<void> release_and_stop();

  // This candidate holds the lease and is within its renew deadline.
  bool leading() const;
  const std::string& observed_leader() const { return observed_leader_; }
  const election_params& params() const { return core_.params(); }

 private:
  leader_elector(std::shared_ptr<client> c, std::string ns, std::string name, election_params params,
                 leader_callbacks callbacks);
  asio::awaitable<void> run();
  asio::awaitable<bool> round();
  asio::awaitable<void> release();
  void set_leading(bool now_leading);
  void saw_holder(const std::string& holder);

  std::shared_ptr<client> client_;
  std::string ns_;
  std::string name_;
  election_core core_;
  leader_callbacks callbacks_;
  asio::steady_timer timer_;
  asio::steady_timer done_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::string last_rv_;
  std::string observed_leader_;
  bool leading_ = false;
  bool stopped_ = false;
  bool release_requested_ = false;
  bool finished_ = false;
};

}  // namespace herald::kube
