// Event recording (events.hpp).
#include "kube/events.hpp"

#include <cstdio>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

#include "kube/election.hpp"
#include "kube/resource.hpp"

namespace herald::kube {

using nlohmann::json;

namespace {
constexpr std::size_t max_remembered_events = 4096;

std::string rfc3339_seconds(std::chrono::system_clock::time_point t) {
  std::string micro = format_micro_time(t);  // 2006-01-02T15:04:05.000000Z
  return micro.substr(0, 19) + "Z";
}

std::string event_namespace(const object_reference& about) { return about.ns.empty() ? "default" : about.ns; }
}  // namespace

bool event_spam_filter::allow(const std::string& key, clock::time_point now) {
  auto [it, fresh] = buckets_.try_emplace(key, bucket{static_cast<double>(burst_), now});
  bucket& b = it->second;
  if (!fresh) {
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min<double>(burst_, b.tokens + elapsed / std::chrono::duration<double>(refill_).count());
    b.at = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

json make_event(const object_reference& about, std::string_view type, std::string_view reason,
                std::string_view message, std::string_view component, std::string_view host,
                std::chrono::system_clock::time_point now) {
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(nanos));
  const std::string stamp = rfc3339_seconds(now);
  json involved = {{"kind", about.kind}, {"apiVersion", about.api_version}, {"name", about.name}};
  if (!about.ns.empty()) involved["namespace"] = about.ns;
  if (!about.uid.empty()) involved["uid"] = about.uid;
  if (!about.resource_version.empty()) involved["resourceVersion"] = about.resource_version;
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", about.name + suffix}, {"namespace", event_namespace(about)}}},
          {"involvedObject", std::move(involved)},
          {"reason", reason},
          {"message", message},
          {"type", type},
          {"source", {{"component", component}, {"host", host}}},
          {"firstTimestamp", stamp},
          {"lastTimestamp", stamp},
          {"count", 1},
          {"reportingComponent", component},
          {"reportingInstance", host}};
}

event_recorder::event_recorder(std::shared_ptr<client> c, std::string component, std::string host)
    : client_(std::move(c)), component_(std::move(component)), host_(std::move(host)) {}

asio::awaitable<result<int>> event_recorder::record(const object_reference& about, const std::string& type,
                                                    const std::string& reason, const std::string& message) {
  const std::string object_key = about.kind + "/" + about.ns + "/" + about.name + "/" + about.uid;
  if (!filter_.allow(object_key, std::chrono::steady_clock::now())) {
    ++dropped_;
    result<int> out = 0;
    co_return out;
  }
  const std::string key = object_key + "\n" + type + "\n" + reason + "\n" + message;
  const auto now = std::chrono::system_clock::now();
  if (auto it = seen_.find(key); it != seen_.end()) {
    const int count = it->second.count + 1;
    const json patch = {{"count", count}, {"lastTimestamp", rfc3339_seconds(now)}};
    request_options req;
    req.method = http::verb::patch;
    req.target = resources::events.path(it->second.ns, it->second.name);
    req.body = patch.dump();
    req.content_type = "application/merge-patch+json";
    auto answer = co_await client_->request_json(req);
    if (answer) {
      seen_[key].count = count;
      result<int> out = count;
      co_return out;
    }
    if (!answer.error().not_found()) {
      result<int> out = answer.error();
      co_return out;
    }
    seen_.erase(key);  // the event expired on the server (1 h TTL): create a new one
  }
  const json event = make_event(about, type, reason, message, component_, host_, now);
  request_options req;
  req.method = http::verb::post;
  req.target = resources::events.path(event_namespace(about));
  req.body = event.dump();
  auto answer = co_await client_->request_json(req);
  if (!answer) {
    result<int> out = answer.error();
    co_return out;
  }
  if (seen_.size() >= max_remembered_events) seen_.clear();
  seen_[key] = seen{event_namespace(about), event["metadata"]["name"].get<std::string>(), 1};
  result<int> out = 1;
  co_return out;
}

void event_recorder::post(object_reference about, std::string type, std::string reason, std::string message) {
  asio::co_spawn(
      client_->get_executor(),
      [this, about = std::move(about), type = std::move(type), reason = std::move(reason),
       message = std::move(message)]() -> asio::awaitable<void> {
        auto r = co_await record(about, type, reason, message);
        if (!r) spdlog::warn("kube: event {} about {}/{} not recorded: {}", reason, about.ns, about.name,
                             r.error().to_string());
      },
      asio::detached);
}

}  // namespace herald::kube
