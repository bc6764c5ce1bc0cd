// The allocator controller (controller.hpp): informers and Lease in, the
// core's decisions out as patches and Events. Decisions are the core's;
// whether a write is needed is sync.hpp's; this file only sequences I/O.
#include "allocator/controller.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <exception>
#include <spdlog/spdlog.h>

#include "kube/election.hpp"
#include "kube/resource.hpp"
#include "kube/writes.hpp"

namespace herald::allocator {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {
const kube::resource servicegroups{"herald.dev", "v1", "servicegroups", true};

std::string now_rfc3339() { return kube::format_time(std::chrono::system_clock::now()); }

// The controller's coroutines handle their errors; an exception escaping one
// is a bug, and a silently dead writer would be worse than a restart.
void abort_on_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::critical("allocator: unexpected exception: {}", x.what());
  } catch (...) {
    spdlog::critical("allocator: unexpected exception");
  }
  std::abort();
}

std::pair<std::string, std::string> split_key(const std::string& key) {
  auto slash = key.find('/');
  return {key.substr(0, slash), key.substr(slash + 1)};
}
}  // namespace

controller::controller(std::shared_ptr<kube::client> c, controller_options o)
    : client_(std::move(c)),
      opt_(std::move(o)),
      core_(opt_.core),
      recorder_(client_, opt_.component, opt_.election.identity),
      retry_timer_(client_->get_executor()),
      group_timer_(client_->get_executor()) {}

std::shared_ptr<controller> controller::create(std::shared_ptr<kube::client> c, controller_options o) {
  return std::shared_ptr<controller>(new controller(std::move(c), std::move(o)));
}

void controller::start() {
  std::weak_ptr<controller> weak = shared_from_this();
  auto with = [weak](auto fn) {
    return [weak, fn](const auto&... args) {
      if (auto self = weak.lock()) (self.get()->*fn)(args...);
    };
  };
  kube::informer_handlers<kube::service> sh;
  sh.on_add = with(&controller::on_service);
  sh.on_update = [weak](const kube::service&, const kube::service& now) {
    if (auto self = weak.lock()) self->on_service(now);
  };
  sh.on_delete = with(&controller::on_service_deleted);
  services_ = service_informer::create(client_, kube::resources::services, {}, std::move(sh));

  kube::informer_handlers<kube::custom_resource> gh;
  gh.on_add = [weak](const kube::custom_resource& g) {
    if (auto self = weak.lock()) self->on_group(nullptr, g);
  };
  gh.on_update = [weak](const kube::custom_resource& before, const kube::custom_resource& now) {
    if (auto self = weak.lock()) self->on_group(&before, now);
  };
  gh.on_delete = with(&controller::on_group_deleted);
  kube::informer_options go;
  go.ns = opt_.ns;
  groups_ = group_informer::create(client_, servicegroups, go, std::move(gh));

  auto synced = [weak] {
    if (auto self = weak.lock()) self->maybe_activate();
  };
  services_->on_list_done = synced;
  groups_->on_list_done = synced;

  kube::leader_callbacks lc;
  lc.on_started_leading = synced;
  lc.on_stopped_leading = [weak] {
    if (auto self = weak.lock()) self->deactivate();
  };
  lc.on_new_leader = [](const std::string& who) { spdlog::info("allocator: the leader is now \"{}\"", who); };
  elector_ = kube::leader_elector::create(client_, opt_.ns, opt_.lease_name, opt_.election, std::move(lc));

  services_->start();
  groups_->start();
  elector_->start();
}

asio::awaitable<void> controller::shutdown() {
  auto self = shared_from_this();
  stopping_ = true;
  deactivate();
  if (services_) services_->stop();
  if (groups_) groups_->stop();
  retry_timer_.cancel();
  group_timer_.cancel();
  if (elector_) co_await elector_->release_and_stop();
}

bool controller::synced() const {
  return services_ && groups_ && services_->synced() && groups_->synced();
}

bool controller::leading() const {
  return elector_ && elector_->leading();
}

bool controller::can_write() const {
  return active_ && !stopping_ && elector_ && elector_->leading();
}

// ---- leadership and rebuild -------------------------------------------------

void controller::maybe_activate() {
  if (active_ || stopping_ || !synced() || !leading()) return;
  std::vector<service_group_input> groups;
  for (const auto& g : groups_->cache().list()) groups.push_back(group_input_of(*g));
  std::vector<service_view> views;
  views.reserve(services_->cache().size());
  for (const auto& s : services_->cache().list()) views.push_back(view_of(*s));
  const auto started = std::chrono::steady_clock::now();
  auto changes = core_.rebuild(std::move(groups), views);
  active_ = true;
  ++figures_.rebuilds;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  spdlog::info("allocator: leading; rebuilt the allocation table from {} Services and {} ServiceGroups in {} ms",
               views.size(), groups_->cache().size(), took.count());
  handle(std::move(changes));
}

void controller::deactivate() {
  if (active_) spdlog::info("allocator: not leading any more; writes stopped");
  active_ = false;
  pending_.clear();
  queue_.clear();
  queued_.clear();
  last_written_.clear();
  retry_.clear();
  events_.clear();
}

// ---- informer events -----------------------------------------------------------

void controller::on_service(const kube::service& s) {
  if (!active_) return;
  handle(core_.apply_service(view_of(s)));
}

void controller::on_service_deleted(const kube::service& s) {
  if (!active_) return;
  const std::string key = s.meta.key();
  pending_.erase(key);
  last_written_.erase(key);
  handle(core_.delete_service(s.meta.ns, s.meta.name), &s);
}

void controller::on_group(const kube::custom_resource* before, const kube::custom_resource& g) {
  if (!active_) return;
  // Our own status writes come back as updates: only a spec change goes to the core.
  if (before == nullptr || group_input_changed(*before, g))
    handle(core_.apply_group(group_input_of(g)));
  else
    groups_dirty();
}

void controller::on_group_deleted(const kube::custom_resource& g) {
  if (!active_) return;
  handle(core_.delete_group(g.meta.name));
}

// ---- decisions → writes and Events ----------------------------------------------

void controller::handle(group_changes changes) {
  handle(std::move(changes.services));
  for (const auto& e : changes.group_events) record(e, nullptr);
}

void controller::handle(std::vector<service_decision> decisions, const kube::service* deleted) {
  for (auto& d : decisions) {
    const std::string key = d.ns + "/" + d.name;
    if (d.write) {
      pending_[key] = target_of(d);
      enqueue(key);
    } else {
      pending_.erase(key);  // the Service already shows what the core wants
    }
  }
  groups_dirty();
  kick_writers();
  // Events after the writes are started: on one thread, whatever starts
  // first reaches the API server first, and an Event must not hold a
  // Service's address back (an AddressAssigned POST went out ahead of its
  // own patch; benchmark 1a, "created → annotation patch read").
  for (const auto& d : decisions)
    for (const auto& e : d.events) record(e, deleted);
}

void controller::record(const event& e, const kube::service* deleted) {
  if (!can_write()) return;
  kube::object_reference ref;
  ref.kind = e.kind;
  ref.name = e.name;
  if (e.kind == "ServiceGroup") {
    ref.api_version = "herald.dev/v1";
    ref.ns = opt_.ns;
    if (auto g = groups_->cache().get(opt_.ns, e.name)) ref.uid = g->meta.uid;
  } else {
    ref.api_version = "v1";
    ref.ns = e.ns;
    if (auto s = services_->cache().get(e.ns, e.name))
      ref = kube::reference_to(*s, "Service", "v1");
    else if (deleted != nullptr && deleted->meta.ns == e.ns && deleted->meta.name == e.name)
      ref = kube::reference_to(*deleted, "Service", "v1");
  }
  std::string type = e.type == event_type::warning ? "Warning" : "Normal";
  spdlog::info("allocator: {} {}/{}: {}: {}", e.kind, ref.ns, e.name, e.reason, e.message);
  events_.push_back({std::move(ref), std::move(type), e.reason, e.message});
  kick_event_writers();
}

void controller::kick_event_writers() {
  while (event_writers_running_ < opt_.event_writers && event_writers_running_ < events_.size() && can_write()) {
    ++event_writers_running_;
    asio::co_spawn(client_->get_executor(), [self = shared_from_this()] { return self->event_writer(); },
                   abort_on_exception);
  }
}

asio::awaitable<void> controller::event_writer() {
  while (!events_.empty() && can_write()) {
    queued_event e = std::move(events_.front());
    events_.pop_front();
    const auto dropped_before = recorder_.dropped();
    auto r = co_await recorder_.record(e.about, e.type, e.reason, e.message);
    if (!r) {
      ++figures_.event_errors;
      spdlog::warn("allocator: event {} about {}/{} not recorded: {}", e.reason, e.about.ns, e.about.name,
                   r.error().to_string());
    } else if (recorder_.dropped() != dropped_before) {
      ++figures_.events_dropped;
    } else {
      ++figures_.events;
    }
  }
  --event_writers_running_;
}

void controller::enqueue(const std::string& key) {
  if (queued_.insert(key).second) queue_.push_back(key);
}

void controller::kick_writers() {
  while (writers_running_ < opt_.writers && writers_running_ < queue_.size() && can_write()) {
    ++writers_running_;
    asio::co_spawn(client_->get_executor(), [self = shared_from_this()] { return self->writer(); },
                   abort_on_exception);
  }
}

asio::awaitable<void> controller::writer() {
  auto self = shared_from_this();
  while (!queue_.empty() && can_write()) {
    std::string key = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(key);
    // One write per Service at a time; the one in flight looks again when it ends.
    if (!writing_.insert(key).second) continue;
    co_await write_service(key);
    writing_.erase(key);
    if (pending_.contains(key) && !retry_.contains(key)) enqueue(key);
  }
  --writers_running_;
}

void controller::count_error(const char* operation, const kube::error& e) {
  if (e.conflict()) {
    ++figures_.conflicts;
    spdlog::debug("allocator: {}: conflict ({}); waiting for the newer object", operation, e.message);
  } else {
    ++figures_.write_errors;
    spdlog::warn("allocator: {} failed: {}", operation, e.to_string());
  }
}

asio::awaitable<void> controller::write_service(std::string key) {
  auto it = pending_.find(key);
  if (it == pending_.end()) co_return;
  service_target target = it->second;
  auto [ns, name] = split_key(key);
  auto current = services_->cache().get(ns, name);
  if (!current) {  // deleted meanwhile
    pending_.erase(it);
    co_return;
  }
  if (auto w = last_written_.find(key);
      w != last_written_.end() && w->second.target == target &&
      w->second.superseded.contains(current->meta.resource_version)) {
    pending_.erase(it);  // our write has not come back through the watch yet
    co_return;
  }
  service_writes needed = writes_needed(target, *current);
  pending_.erase(it);
  if (needed.empty()) co_return;

  written record{target, {current->meta.resource_version}};
  std::string rv = current->meta.resource_version;
  // A 409 waits for the newer object (the core decides again from it); other
  // failures keep the target and retry after a delay.
  auto failed = [&](const char* operation, const kube::error& e) {
    count_error(operation, e);
    if (e.conflict() || e.not_found()) return;
    if (!pending_.contains(key)) pending_[key] = target;
    retry_later(key);
  };
  for (int step = 0; step < 2; ++step) {
    const bool status_step = (step == 0) == needed.status_first;
    if (status_step ? !needed.ingress : needed.annotations.empty()) continue;
    if (!can_write()) {
      // Leadership wavered (past the renew deadline): keep the target; the
      // retry finds out whether we still lead.
      if (!pending_.contains(key)) pending_[key] = target;
      retry_later(key);
      co_return;
    }
    const std::optional<std::string> precondition = rv;
    if (status_step) {
      std::vector<kube::load_balancer_ingress> ingress;
      for (const auto& ip : *needed.ingress) ingress.push_back({ip, "", "VIP", {}});
      auto r = co_await kube::patch_service_status(*client_, ns, name, ingress, precondition);
      if (!r) {
        failed("status patch", r.error());
        co_return;
      }
      ++figures_.status_patches;
      rv = r->meta.resource_version;
    } else {
      auto r = co_await kube::patch_annotations(*client_, kube::resources::services, ns, name, needed.annotations,
                                                precondition);
      if (!r) {
        failed("annotation patch", r.error());
        co_return;
      }
      ++figures_.annotation_patches;
      rv = r->value(json::json_pointer("/metadata/resourceVersion"), std::string());
    }
    record.superseded.insert(rv);
  }
  // The last resourceVersion is the state we wanted, not a stale one.
  record.superseded.erase(rv);
  spdlog::debug("allocator: wrote Service {} (ingress {})", key, json(target.ingress_ips).dump());
  last_written_[key] = std::move(record);
}

void controller::retry_later(const std::string& key) {
  retry_.insert(key);
  if (retry_armed_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(opt_.retry_delay);
  retry_timer_.async_wait([weak = std::weak_ptr<controller>(shared_from_this())](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    self->retry_armed_ = false;
    if (ec || !self->active_) return;
    for (const auto& k : std::exchange(self->retry_, {}))
      if (self->pending_.contains(k)) self->enqueue(k);
    if (!self->can_write() && !self->queue_.empty()) {
      self->retry_later(self->queue_.front());
      return;
    }
    self->kick_writers();
  });
}

// ---- ServiceGroup status -----------------------------------------------------------

void controller::groups_dirty() {
  if (group_sync_armed_ || !active_) return;
  group_sync_armed_ = true;
  group_timer_.expires_after(opt_.group_status_delay);
  group_timer_.async_wait([weak = std::weak_ptr<controller>(shared_from_this())](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    self->group_sync_armed_ = false;
    if (ec || !self->active_) return;
    if (self->group_sync_running_) {
      self->groups_dirty();  // look again once the running pass is done
      return;
    }
    asio::co_spawn(self->client_->get_executor(), [self] { return self->write_group_statuses(); },
                   abort_on_exception);
  });
}

asio::awaitable<void> controller::write_group_statuses() {
  auto self = shared_from_this();
  group_sync_running_ = true;
  bool failed = false;
  for (const auto& s : core_.group_statuses()) {
    if (!s.exists || !can_write()) continue;
    auto g = groups_->cache().get(opt_.ns, s.name);
    if (!g) continue;
    auto body = group_status_update(s, g->status, now_rfc3339());
    if (!body) continue;
    const std::optional<std::string> precondition = g->meta.resource_version;
    const std::string name = s.name;
    auto r = co_await kube::patch_custom_status(*client_, servicegroups, opt_.ns, name, *body, precondition);
    if (!r) {
      count_error("ServiceGroup status patch", r.error());
      failed = failed || !r.error().conflict();  // a 409 comes back as an informer update
      continue;
    }
    ++figures_.group_status_patches;
  }
  group_sync_running_ = false;
  if (failed) {
    group_timer_.expires_after(opt_.retry_delay);
    co_await group_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    groups_dirty();
  }
}

// ---- metrics --------------------------------------------------------------------------

std::string controller::metrics() const {
  controller_figures f = figures_;
  f.leader = can_write();
  f.kube_connections_opened = client_->connections_opened();
  f.services_synced = services_ && services_->synced();
  f.groups_synced = groups_ && groups_->synced();
  for (const kube::informer_base* inf : {static_cast<const kube::informer_base*>(services_.get()),
                                         static_cast<const kube::informer_base*>(groups_.get())}) {
    if (inf == nullptr) continue;
    f.list_errors += inf->stats().list_errors;
    f.watch_errors += inf->stats().watch_errors;
    f.handler_errors += inf->stats().handler_errors;
  }
  std::string out = render_controller_metrics(f);
  if (active_) out += render_metrics(core_.group_statuses(), core_.counters());
  return out;
}

}  // namespace herald::allocator
