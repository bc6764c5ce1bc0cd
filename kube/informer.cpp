// The list/watch loop of informer_base (informer.hpp).
#include "kube/informer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace herald::kube {

using namespace std::chrono_literals;

informer_base::informer_base(std::shared_ptr<client> c, resource r, informer_options o)
    : client_(std::move(c)),
      resource_(std::move(r)),
      opt_(std::move(o)),
      backoff_(opt_.retry),
      timer_(client_->get_executor()) {}

void informer_base::start() {
  asio::co_spawn(client_->get_executor(), [self = shared_from_this()] { return self->run(); }, asio::detached);
}

void informer_base::stop() {
  stopped_ = true;
  timer_.cancel();
  (*cancel_)();
}

std::string informer_base::what() const {
  return resource_.plural + (opt_.ns.empty() ? std::string() : " in " + opt_.ns);
}

void informer_base::log_malformed(const nlohmann::json& object, const std::string& problem) {
  ++stats_.malformed;
  spdlog::warn("kube: {}: skipping malformed object {}: {}", what(), describe_object(object), problem);
}

void informer_base::guarded(const char* change, const object_meta& meta, const std::function<void()>& handler) {
  std::string problem;
  try {
    handler();
    return;
  } catch (...) {
    problem = exception_text(std::current_exception());
  }
  ++stats_.handler_errors;
  spdlog::error("kube: {}: the {} handler for {} failed: {}; the object is cached and later events are delivered",
                what(), change, meta.key(), problem);
}

std::chrono::milliseconds informer_base::retry_delay(std::optional<std::chrono::seconds> retry_after) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto delay = backoff_.next(std::chrono::steady_clock::now(), unit(rng_));
  if (!retry_after) return delay;
  // The server's Retry-After, within the backoff's ceiling: a server asking
  // for an hour must not blind the informer that long.
  return std::max(delay, std::min<std::chrono::milliseconds>(*retry_after, opt_.retry.max));
}

std::string informer_base::query_suffix() const {
  std::string q;
  if (!opt_.label_selector.empty()) q += "&labelSelector=" + query_escape(opt_.label_selector);
  if (!opt_.field_selector.empty()) q += "&fieldSelector=" + query_escape(opt_.field_selector);
  return q;
}

asio::awaitable<void> informer_base::sleep(std::chrono::milliseconds d) {
  timer_.expires_after(d);
  co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> informer_base::run() {
  while (!stopped_) {
    std::string problem;
    try {
      co_await loop();
      co_return;
    } catch (...) {
      problem = exception_text(std::current_exception());
    }
    if (stopped_) break;
    ++stats_.handler_errors;
    const auto delay = retry_delay(std::nullopt);
    spdlog::error("kube: {}: the list/watch loop failed: {}; relisting in {} ms", what(), problem, delay.count());
    co_await sleep(delay);
  }
}

asio::awaitable<void> informer_base::loop() {
  bool need_list = true;
  while (!stopped_) {
    if (need_list) {
      auto listed = co_await list();
      if (stopped_) break;
      if (!listed) {
        ++stats_.list_errors;
        const auto delay = retry_delay(listed.error().retry_after);
        spdlog::warn("kube: {}: list failed ({}), retrying in {} ms", what(), listed.error().to_string(),
                     delay.count());
        co_await sleep(delay);
        continue;
      }
      need_list = false;
    }
    const auto started = std::chrono::steady_clock::now();
    const watch_end end = co_await watch();
    if (stopped_) break;
    if (end == watch_end::gone) {
      ++stats_.gone;
      spdlog::info("kube: {}: resourceVersion {} expired, relisting", what(), rv_);
      need_list = true;
      continue;
    }
    // client-go: a watch that ends within a second without an event is a failure too.
    const bool too_short = events_this_watch_ == 0 && std::chrono::steady_clock::now() - started < 1s;
    if (end == watch_end::failed || too_short) {
      ++stats_.watch_errors;
      const auto delay = retry_delay(watch_retry_after_);
      co_await sleep(delay);
    }
  }
}

asio::awaitable<result<void>> informer_base::list() {
  list_begin();
  std::string continue_token;
  std::string list_rv;
  int restarts = 0;
  for (;;) {
    request_options req;
    req.target = resource_.path(opt_.ns) + "?limit=" + std::to_string(opt_.page_size) + query_suffix();
    if (!continue_token.empty()) req.target += "&continue=" + query_escape(continue_token);
    auto page = co_await client_->request_json(req);
    if (stopped_) {
      result<void> out = client_error("Cancelled", "informer stopped");
      co_return out;
    }
    if (!page) {
      // An expired continue token (410): start the list again from the top.
      if (page.error().gone() && !continue_token.empty() && restarts++ < 3) {
        list_begin();
        continue_token.clear();
        continue;
      }
      result<void> out = page.error();
      co_return out;
    }
    ++stats_.list_pages;
    const nlohmann::json& body = *page;
    const auto items = body.find("items");
    const auto meta = body.find("metadata");
    if (!body.is_object() || items == body.end() || !(items->is_array() || items->is_null()) || meta == body.end() ||
        !meta->is_object()) {
      result<void> out = client_error("Decode", "list of " + resource_.plural + " without items or metadata");
      co_return out;
    }
    if (items->is_array())
      for (const auto& item : *items) list_item(item);
    const auto rv = meta->find("resourceVersion");
    if (rv != meta->end() && rv->is_string()) list_rv = rv->get<std::string>();
    const auto cont = meta->find("continue");
    continue_token = cont != meta->end() && cont->is_string() ? cont->get<std::string>() : std::string();
    if (continue_token.empty()) break;
  }
  rv_ = list_rv;
  ++stats_.lists;
  list_end();
  synced_ = true;
  if (on_list_done) on_list_done();
  result<void> out{};
  co_return out;
}

bool informer_base::handle_line(std::string_view line, watch_end& end) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  const auto type_it = j.is_object() ? j.find("type") : j.end();
  const auto object_it = j.is_object() ? j.find("object") : j.end();
  if (j.is_discarded() || !j.is_object() || type_it == j.end() || !type_it->is_string() || object_it == j.end()) {
    spdlog::warn("kube: {}: watch sent a line that is not an event; reconnecting", what());
    end = watch_end::failed;
    return false;
  }
  const std::string& type = type_it->get_ref<const std::string&>();
  const nlohmann::json& object = *object_it;
  if (type == "ERROR") {
    const auto status = status_error(0, object.is_object() ? object.dump() : std::string());
    const auto code = object.is_object() && object.contains("code") && object["code"].is_number_integer()
                          ? object["code"].get<int>()
                          : 0;
    if (code == 410 || status.gone()) {
      end = watch_end::gone;
    } else {
      spdlog::warn("kube: {}: watch ERROR event: {} {}", what(), code, status.message);
      end = watch_end::failed;
    }
    return false;
  }
  std::string rv;
  if (object.is_object()) {
    const auto meta = object.find("metadata");
    if (meta != object.end() && meta->is_object()) {
      const auto v = meta->find("resourceVersion");
      if (v != meta->end() && v->is_string()) rv = v->get<std::string>();
    }
  }
  if (type == "BOOKMARK") {
    ++stats_.bookmarks;
    if (!rv.empty()) rv_ = rv;
    return true;
  }
  event_type t;
  if (type == "ADDED") t = event_type::added;
  else if (type == "MODIFIED") t = event_type::modified;
  else if (type == "DELETED") t = event_type::deleted;
  else {
    spdlog::warn("kube: {}: unknown watch event type {}", what(), type);
    return true;
  }
  ++stats_.events;
  ++events_this_watch_;
  watch_event(t, object);
  if (!rv.empty()) rv_ = rv;
  return !stopped_;
}

asio::awaitable<informer_base::watch_end> informer_base::watch() {
  std::uniform_int_distribution<long> seconds(opt_.min_watch_timeout.count(),
                                              std::max(opt_.min_watch_timeout, opt_.max_watch_timeout).count());
  const long timeout = seconds(rng_);
  const std::string target = resource_.path(opt_.ns) + "?watch=1&allowWatchBookmarks=true&resourceVersion=" +
                             query_escape(rv_) + "&timeoutSeconds=" + std::to_string(timeout) + query_suffix();
  ++stats_.watches;
  events_this_watch_ = 0;
  watch_end end = watch_end::closed;
  const std::function<bool(std::string_view)> on_line = [this, &end](std::string_view line) {
    return handle_line(line, end);
  };
  // The server closes at timeoutSeconds; a silent stream past that is dead.
  const std::chrono::milliseconds idle = std::chrono::seconds(timeout) + 30s;
  watch_retry_after_.reset();
  auto streamed = co_await client_->stream_lines(target, idle, on_line, cancel_);
  if (!streamed && !stopped_) {
    if (streamed.error().gone()) co_return watch_end::gone;
    watch_retry_after_ = streamed.error().retry_after;
    spdlog::warn("kube: {}: watch from {} failed: {}", what(), rv_, streamed.error().to_string());
    co_return watch_end::failed;
  }
  co_return end;
}

}  // namespace herald::kube
