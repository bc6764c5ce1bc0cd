// Informers: list (paged with limit / continue), then watch from the list's
// resourceVersion with bookmarks, keeping a typed cache and telling handlers
// about adds, updates and deletes, as client-go's reflector does
// (kube-api.md §1):
// - a watch that ends (timeoutSeconds, a dropped connection) resumes from
//   the last resourceVersion seen (events and bookmarks);
// - an ERROR event with code 410 (reason Expired / Gone), or an HTTP 410,
//   leads to a relist whose result replaces the cache; the deletes that
//   implies are delivered (object_cache::replace);
// - failures (429, 500, transport errors, a watch closing within 1 s
//   without an event) wait per `backoff` (0.8 s → 30 s, jitter), or the
//   server's Retry-After if longer (up to the backoff's maximum), and retry;
// - objects that do not parse are logged with namespace/name and skipped;
//   a malformed DELETED still removes the object by its metadata;
// - a handler that throws is logged with the object and counted
//   (`handler_errors`); the change stays cached and the next event is
//   delivered as usual: one bad object must not blind the informer;
// - anything else that escapes the loop (an `on_list_done` that throws, an
//   allocation failure) is logged, counted the same way, and the loop
//   starts again with a relist after a backoff: an informer never ends
//   silently while its cache goes stale.
// Handlers run on the io_context thread that runs the client.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "kube/backoff.hpp"
#include "kube/cache.hpp"
#include "kube/client.hpp"
#include "kube/resource.hpp"
#include "kube/views.hpp"

namespace herald::kube {

struct informer_options {
  std::string ns;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;
  // Each watch asks the server to end it after a random time in this range.
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::seconds max_watch_timeout{600};
  backoff::params retry;
};

struct informer_stats {
  std::size_t lists = 0;        // completed lists (the first and every relist)
  std::size_t list_pages = 0;
  std::size_t list_errors = 0;
  std::size_t watches = 0;      // watch requests started
  std::size_t watch_errors = 0;
  std::size_t gone = 0;         // 410 / Expired seen
  std::size_t events = 0;       // ADDED / MODIFIED / DELETED received
  std::size_t bookmarks = 0;
  std::size_t malformed = 0;
  std::size_t handler_errors = 0;  // handlers that threw, and loop restarts after an exception
};

// The untyped list/watch loop; informer<T> below adds parsing and the cache.
class informer_base : public std::enable_shared_from_this<informer_base> {
 public:
  virtual ~informer_base() = default;
  informer_base(const informer_base&) = delete;
  informer_base& operator=(const informer_base&) = delete;

  // Starts the loop on the client's executor. Call once.
  void start();
  // Ends the loop: the open watch is closed, no handler runs afterwards.
  void stop();

  bool synced() const { return synced_; }
  const std::string& resource_version() const { return rv_; }
  const informer_stats& stats() const { return stats_; }
  // Called (on the io thread) after each completed list, once its changes are delivered.
  std::function<void()> on_list_done;

 protected:
  informer_base(std::shared_ptr<client> c, resource r, informer_options o);
  virtual void list_begin() = 0;
  virtual void list_item(const nlohmann::json& object) = 0;
  virtual void list_end() = 0;
  virtual void watch_event(event_type type, const nlohmann::json& object) = 0;
  void log_malformed(const nlohmann::json& object, const std::string& problem);
  // Runs a handler for the object `meta` names; logs and counts what it throws.
  void guarded(const char* change, const object_meta& meta, const std::function<void()>& handler);
  std::string what() const;  // "services in shop", for logs

 private:
  enum class watch_end { closed, gone, failed };
  asio::awaitable<void> run();
  asio::awaitable<void> loop();
  asio::awaitable<result<void>> list();
  asio::awaitable<watch_end> watch();
  asio::awaitable<void> sleep(std::chrono::milliseconds d);
  std::string query_suffix() const;
  // The backoff's next delay (with jitter), at least the server's
  // Retry-After (capped at the backoff's maximum).
  std::chrono::milliseconds retry_delay(std::optional<std::chrono::seconds> retry_after);
  bool handle_line(std::string_view line, watch_end& end);

  std::shared_ptr<client> client_;
  resource resource_;
  informer_options opt_;
  backoff backoff_;
  std::mt19937_64 rng_{std::random_device{}()};
  asio::steady_timer timer_;
  std::shared_ptr<stream_cancel> cancel_ = std::make_shared<stream_cancel>();
  std::string rv_;
  bool synced_ = false;
  bool stopped_ = false;
  std::size_t events_this_watch_ = 0;
  std::optional<std::chrono::seconds> watch_retry_after_;  // of the last failed watch
  informer_stats stats_;
};

template <class T>
struct informer_handlers {
  std::function<void(const T&)> on_add;
  std::function<void(const T& old_object, const T& new_object)> on_update;
  std::function<void(const T&)> on_delete;  // the object's last known state
};

// T is a view with `static parse_result<T> parse(const json&)` and `meta` (views.hpp).
template <class T>
class informer final : public informer_base {
 public:
  static std::shared_ptr<informer> create(std::shared_ptr<client> c, resource r, informer_options o,
                                          informer_handlers<T> h) {
    return std::shared_ptr<informer>(new informer(std::move(c), std::move(r), std::move(o), std::move(h)));
  }
  const object_cache<T>& cache() const { return cache_; }

 private:
  informer(std::shared_ptr<client> c, resource r, informer_options o, informer_handlers<T> h)
      : informer_base(std::move(c), std::move(r), std::move(o)), handlers_(std::move(h)) {}

  void list_begin() override { pending_.clear(); }
  void list_item(const nlohmann::json& object) override {
    auto parsed = T::parse(object);
    if (!parsed) return log_malformed(object, parsed.error().text);
    pending_.push_back(std::make_shared<const T>(std::move(*parsed)));
  }
  void list_end() override {
    auto changes = cache_.replace(std::move(pending_));
    pending_ = {};
    for (const auto& c : changes) deliver(c);
  }
  void watch_event(event_type type, const nlohmann::json& object) override {
    auto parsed = T::parse(object);
    if (!parsed) {
      log_malformed(object, parsed.error().text);
      auto meta = parse_meta(object);
      if (type != event_type::deleted || !meta) return;
      T stub;  // enough to find the cached object and remove it
      stub.meta = std::move(*meta);
      parsed = std::move(stub);
    }
    if (auto c = cache_.apply(type, std::make_shared<const T>(std::move(*parsed)))) deliver(*c);
  }
  void deliver(const change<T>& c) {
    switch (c.kind) {
      case change_kind::added:
        if (handlers_.on_add) guarded("add", c.object->meta, [&] { handlers_.on_add(*c.object); });
        break;
      case change_kind::updated:
        if (handlers_.on_update) guarded("update", c.object->meta, [&] { handlers_.on_update(*c.old_object, *c.object); });
        break;
      case change_kind::deleted:
        if (handlers_.on_delete) guarded("delete", c.object->meta, [&] { handlers_.on_delete(*c.object); });
        break;
    }
  }

  informer_handlers<T> handlers_;
  object_cache<T> cache_;
  std::vector<std::shared_ptr<const T>> pending_;
};

}  // namespace herald::kube
