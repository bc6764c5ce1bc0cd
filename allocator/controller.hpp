// The allocator controller: wires the pure allocation core (allocator.hpp)
// to the Kubernetes client (kube/). It watches Services (all namespaces) and
// ServiceGroups (its own namespace), holds a Lease, and while it leads:
//   - once both informers have synced, rebuilds the core from the caches
//     (nothing is allocated before), then feeds it every change;
//   - writes what the core decides and the Service does not already show
//     (sync.hpp): annotations and status.loadBalancer.ingress as merge
//     patches carrying the cached resourceVersion. A 409 is never retried
//     blindly: the informer brings the newer object, the core decides again
//     from it, and that decision is written (or not);
//   - patches each ServiceGroup's status when it differs from the stored one
//     (debounced), and records the core's Events.
// Losing the Lease stops every write at once (each request checks
// leading() first); the core is rebuilt when leadership comes back.
//
// Threading: one io_context thread (the client's) runs informers, elector,
// handlers and writers; nothing locks.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "allocator/allocator.hpp"
#include "allocator/metrics.hpp"
#include "allocator/sync.hpp"
#include "kube/client.hpp"
#include "kube/events.hpp"
#include "kube/informer.hpp"
#include "kube/leader.hpp"

namespace herald::allocator {

struct controller_options {
  allocator_config core;
  std::string ns = "herald-system";  // ServiceGroups, the Lease, group Events
  std::string lease_name = "herald-allocator";
  kube::election_params election;    // identity, lease timings
  std::string component = "herald-allocator";
  std::size_t writers = 4;           // Service patches in flight at once
  std::size_t event_writers = 2;     // Event writes in flight at once
  std::chrono::milliseconds group_status_delay{200};  // debounce of ServiceGroup status writes
  std::chrono::milliseconds retry_delay{1000};        // after a failed write other than 409
};

class controller : public std::enable_shared_from_this<controller> {
 public:
  static std::shared_ptr<controller> create(std::shared_ptr<kube::client> c, controller_options o);

  // Starts informers and the elector on the client's executor.
  void start();
  // SIGTERM: stops writing, stops the informers, and gives the Lease up so
  // another replica takes over at once.
  boost::asio::awaitable<void> shutdown();

  // Both informers have listed once.
  bool synced() const;
  bool leading() const;
  // The core has been rebuilt under the current leadership.
  bool active() const { return active_; }
  // Prometheus text: pools and allocations (while leading), controller figures.
  std::string metrics() const;

 private:
  controller(std::shared_ptr<kube::client> c, controller_options o);
  using service_informer = kube::informer<kube::service>;
  using group_informer = kube::informer<kube::custom_resource>;

  void maybe_activate();
  void deactivate();
  bool can_write() const;

  void on_service(const kube::service& s);
  void on_service_deleted(const kube::service& s);
  void on_group(const kube::custom_resource* before, const kube::custom_resource& g);
  void on_group_deleted(const kube::custom_resource& g);

  void handle(std::vector<service_decision> decisions, const kube::service* deleted = nullptr);
  void handle(group_changes changes);
  void record(const event& e, const kube::service* deleted);
  void kick_event_writers();
  boost::asio::awaitable<void> event_writer();

  void enqueue(const std::string& key);
  void kick_writers();
  boost::asio::awaitable<void> writer();
  boost::asio::awaitable<void> write_service(std::string key);
  void retry_later(const std::string& key);
  void groups_dirty();
  boost::asio::awaitable<void> write_group_statuses();
  void count_error(const char* operation, const kube::error& e);

  std::shared_ptr<kube::client> client_;
  controller_options opt_;
  allocator core_;
  kube::event_recorder recorder_;
  std::shared_ptr<service_informer> services_;
  std::shared_ptr<group_informer> groups_;
  std::shared_ptr<kube::leader_elector> elector_;
  bool active_ = false;
  bool stopping_ = false;

  // Service key ("ns/name") → what it should look like; written by writers.
  std::map<std::string, service_target> pending_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_;
  std::set<std::string> writing_;  // Services with a write in flight
  std::size_t writers_running_ = 0;
  // What we wrote last per Service, and the resourceVersions our write made
  // stale: while the cache still shows one of them, the write is on its way
  // back through the watch and is not repeated.
  struct written {
    service_target target;
    std::set<std::string> superseded;
  };
  std::map<std::string, written> last_written_;
  std::set<std::string> retry_;
  boost::asio::steady_timer retry_timer_;
  bool retry_armed_ = false;
  boost::asio::steady_timer group_timer_;
  bool group_sync_armed_ = false;
  bool group_sync_running_ = false;

  // Events waiting to be written, oldest first (a rebuild can make thousands:
  // they go out a few at a time, not as thousands of parallel requests).
  struct queued_event {
    kube::object_reference about;
    std::string type, reason, message;
  };
  std::deque<queued_event> events_;
  std::size_t event_writers_running_ = 0;

  controller_figures figures_;
};

}  // namespace herald::allocator
