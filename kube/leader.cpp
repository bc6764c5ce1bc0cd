// leader_elector (leader.hpp): the I/O around election_core.
#include "kube/leader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "kube/resource.hpp"
#include "kube/views.hpp"

namespace herald::kube {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {
json lease_body(const std::string& ns, const std::string& name, const lease_record& r, const std::string& rv) {
  json spec = {{"holderIdentity", r.holder_identity},
               {"leaseDurationSeconds", r.lease_duration_seconds},
               {"leaseTransitions", r.lease_transitions}};
  if (!r.acquire_time.empty()) spec["acquireTime"] = r.acquire_time;
  if (!r.renew_time.empty()) spec["renewTime"] = r.renew_time;
  json meta = {{"name", name}, {"namespace", ns}};
  if (!rv.empty()) meta["resourceVersion"] = rv;
  return {{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", std::move(meta)},
          {"spec", std::move(spec)}};
}

lease_record record_of(const lease& l) {
  return {l.holder_identity, l.lease_duration_seconds, l.acquire_time, l.renew_time, l.lease_transitions};
}

std::string now_micro() { return format_micro_time(std::chrono::system_clock::now()); }
}  // namespace

leader_elector::leader_elector(std::shared_ptr<client> c, std::string ns, std::string name, election_params params,
                               leader_callbacks callbacks)
    : client_(std::move(c)),
      ns_(std::move(ns)),
      name_(std::move(name)),
      core_(std::move(params)),
      callbacks_(std::move(callbacks)),
      timer_(client_->get_executor()),
      done_(client_->get_executor()) {}

std::shared_ptr<leader_elector> leader_elector::create(std::shared_ptr<client> c, std::string ns, std::string name,
                                                       election_params params, leader_callbacks callbacks) {
  return std::shared_ptr<leader_elector>(
      new leader_elector(std::move(c), std::move(ns), std::move(name), std::move(params), std::move(callbacks)));
}

void leader_elector::start() {
  asio::co_spawn(client_->get_executor(), [self = shared_from_this()] { return self->run(); }, asio::detached);
}

void leader_elector::stop() {
  stopped_ = true;
  timer_.cancel();
}

bool leader_elector::leading() const {
  return leading_ && !core_.past_renew_deadline(std::chrono::steady_clock::now());
}

void leader_elector::set_leading(bool now_leading) {
  if (now_leading == leading_) return;
  leading_ = now_leading;
  spdlog::info("kube: lease {}/{}: {} {}", ns_, name_, core_.params().identity,
               now_leading ? "started leading" : "stopped leading");
  if (now_leading && callbacks_.on_started_leading) callbacks_.on_started_leading();
  if (!now_leading && callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
}

void leader_elector::saw_holder(const std::string& holder) {
  if (holder == observed_leader_) return;
  observed_leader_ = holder;
  if (callbacks_.on_new_leader) callbacks_.on_new_leader(holder);
}

asio::awaitable<bool> leader_elector::round() {
  const auto& p = core_.params();
  request_options get;
  get.target = resources::leases.path(ns_, name_);
  // A round must finish well within the renew deadline.
  get.timeout = std::max<std::chrono::milliseconds>(p.renew_deadline / 2, 200ms);
  get.ahead = true;  // the election Lease: as a node Lease renewal
  auto current = co_await client_->request_json(get);
  std::optional<lease_record> seen;
  if (current) {
    auto parsed = lease::parse(*current);
    if (!parsed) {
      spdlog::warn("kube: lease {}/{} malformed: {}", ns_, name_, parsed.error().text);
      co_return false;
    }
    seen = record_of(*parsed);
    last_rv_ = parsed->meta.resource_version;
    saw_holder(seen->holder_identity);
  } else if (!current.error().not_found()) {
    spdlog::warn("kube: lease {}/{}: get failed: {}", ns_, name_, current.error().to_string());
    co_return false;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto stamp = now_micro();
  const auto d = core_.decide(seen, now, stamp);
  if (d.what == election_core::action::wait) co_return false;
  request_options write;
  write.timeout = get.timeout;
  if (d.what == election_core::action::create) {
    write.method = http::verb::post;
    write.target = resources::leases.path(ns_);
    write.body = lease_body(ns_, name_, d.record, "").dump();
  } else {
    write.method = http::verb::put;
    write.target = resources::leases.path(ns_, name_);
    write.body = lease_body(ns_, name_, d.record, last_rv_).dump();
  }
  write.ahead = true;  // the election Lease: as a node Lease renewal
  auto written = co_await client_->request_json(write);
  if (!written) {
    if (!written.error().conflict() && written.error().status != 409)
      spdlog::warn("kube: lease {}/{}: write failed: {}", ns_, name_, written.error().to_string());
    co_return false;  // a conflict is a lost round
  }
  if (auto stored = lease::parse(*written)) last_rv_ = stored->meta.resource_version;
  core_.wrote(d.record, now);
  saw_holder(d.record.holder_identity);
  co_return true;
}

asio::awaitable<void> leader_elector::release() {
  auto record = core_.release_record(now_micro());
  if (!record || last_rv_.empty()) co_return;
  request_options put;
  put.method = http::verb::put;
  put.target = resources::leases.path(ns_, name_);
  put.body = lease_body(ns_, name_, *record, last_rv_).dump();
  put.timeout = std::max<std::chrono::milliseconds>(core_.params().renew_deadline / 2, 200ms);
  put.ahead = true;  // the election Lease: as a node Lease renewal
  auto written = co_await client_->request_json(put);
  if (!written) spdlog::warn("kube: lease {}/{}: release failed: {}", ns_, name_, written.error().to_string());
  else core_.wrote(*record, std::chrono::steady_clock::now());
}

asio::awaitable<void> leader_elector::run() {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  while (!stopped_) {
    const bool held = co_await round();
    if (stopped_) break;
    const auto now = std::chrono::steady_clock::now();
    if (held && core_.holds_record()) set_leading(true);
    else if (leading_ && (!core_.holds_record() || core_.past_renew_deadline(now))) set_leading(false);
    const auto& p = core_.params();
    auto delay = p.retry_period;
    if (!leading_)
      delay = std::chrono::milliseconds(
          static_cast<long>(static_cast<double>(p.retry_period.count()) * (1.0 + p.jitter * unit(rng_))));
    if (leading_) {
      // Wake in time to notice the renew deadline even if renewals keep failing.
      const auto until_deadline =
          std::chrono::duration_cast<std::chrono::milliseconds>(core_.last_renew() + p.renew_deadline - now);
      delay = std::max(1ms, std::min(delay, until_deadline + 1ms));
    }
    timer_.expires_after(delay);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (release_requested_ && leading_) co_await release();
  set_leading(false);
  finished_ = true;
  done_.cancel();
}

asio::awaitable<void> leader_elector::release_and_stop() {
  auto self = shared_from_this();
  release_requested_ = true;
  stop();
  if (!finished_) {
    done_.expires_at(asio::steady_timer::time_point::max());
    co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace herald::kube
