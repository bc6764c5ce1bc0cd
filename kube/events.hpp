// core/v1 Events about objects (kube-api.md §4), the way client-go's
// recorder writes them: an event is named "<object>.<hex unixnano>"; an
// identical event (same object, type, reason, message) seen again is PATCHed
// with count+1 and a new lastTimestamp instead of being created again; and
// each object may emit at most `burst` events, refilled one per `refill`
// (client-go's spam filter: 25, one per 5 minutes). Dropped events are counted.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "kube/client.hpp"

namespace herald::kube {

struct object_reference {
  std::string kind;
  std::string api_version;
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
};

// Builds a reference from any view (views.hpp).
template <class View>
object_reference reference_to(const View& v, std::string kind, std::string api_version) {
  return {std::move(kind), std::move(api_version), v.meta.ns, v.meta.name, v.meta.uid, v.meta.resource_version};
}

// Token bucket per key; pure (the caller passes the clock).
class event_spam_filter {
 public:
  using clock = std::chrono::steady_clock;
  explicit event_spam_filter(int burst = 25, std::chrono::milliseconds refill = std::chrono::minutes(5))
      : burst_(burst), refill_(refill) {}
  bool allow(const std::string& key, clock::time_point now);

 private:
  struct bucket {
    double tokens;
    clock::time_point at;
  };
  int burst_;
  std::chrono::milliseconds refill_;
  std::map<std::string, bucket, std::less<>> buckets_;
};

// The Event object to POST (pure).
nlohmann::json make_event(const object_reference& about, std::string_view type, std::string_view reason,
                          std::string_view message, std::string_view component, std::string_view host,
                          std::chrono::system_clock::time_point now);

class event_recorder {
 public:
  event_recorder(std::shared_ptr<client> c, std::string component, std::string host);

  // Records one event (type "Normal" or "Warning"). Resolves to the event's
  // count after this write, or an error; a rate-limited event resolves to 0
  // without a request.
  asio::awaitable<result<int>> record(const object_reference& about, const std::string& type,
                                      const std::string& reason, const std::string& message);
  // Fire and forget: record() spawned on the client's executor, failures logged.
  void post(object_reference about, std::string type, std::string reason, std::string message);

  std::size_t dropped() const { return dropped_; }
  event_spam_filter& filter() { return filter_; }

 private:
  struct seen {
    std::string ns;
    std::string name;
    int count = 0;
  };
  std::shared_ptr<client> client_;
  std::string component_;
  std::string host_;
  event_spam_filter filter_;
  std::map<std::string, seen, std::less<>> seen_;  // aggregation key → the event written
  std::size_t dropped_ = 0;
};

}  // namespace herald::kube
