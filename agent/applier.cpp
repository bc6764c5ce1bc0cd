// Applying a node's desired state: netlink reconcilers per link, GARP / NA
// for arriving local addresses, and the speaker (see applier.hpp).
#include "agent/applier.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace herald::agent {

bgp::wire::ip_address to_wire(const netlink::ip_address& a) {
  if (a.is_v4()) return bgp::wire::ip_address::v4(a.to_v4().to_uint());
  return bgp::wire::ip_address::v6(a.to_v6().to_bytes());
}

bool sessions_differ(const bgp::speaker_config& a, const bgp::speaker_config& b) {
  return a.router_id != b.router_id || a.local_asn != b.local_asn || a.hostname != b.hostname ||
         a.graceful_restart != b.graceful_restart || a.restart_time != b.restart_time || a.peers != b.peers ||
         a.listen_address != b.listen_address || a.listen_port != b.listen_port || a.drain != b.drain;
}

applier::applier(boost::asio::any_io_executor ex, netlink::rtnl& nl, bgp::speaker& sp, applier_options o)
    : ex_(std::move(ex)), nl_(nl), sp_(sp), opt_(std::move(o)) {}

applier::~applier() { stop(); }

void applier::stop() {
  for (auto* st : {&dummy_, &local_})
    if (st->rec) st->rec->stop();
  for (auto& a : announcers_) a->cancel();
  announcers_.clear();
}

void applier::release_local() {
  if (!local_.rec) return;
  auto r = local_.rec->set_desired({});
  if (!r) {
    ++counters_.netlink_errors;
    spdlog::warn("agent: releasing local addresses on {}: {}", local_.name, r.error().message);
    return;
  }
  count(*r);
  for (const auto& a : r->removed) spdlog::info("agent: {}: released {}", local_.name, a.to_string());
  local_wanted_.clear();
}

void applier::count(const netlink::change_report& r) {
  counters_.netlink_operations += r.added.size() + r.removed.size() + r.renewed.size();
  counters_.netlink_errors += r.failures.size();
}

std::optional<netlink::change_report> applier::reconcile_link(link_state& st, const link_addresses& want,
                                                              const char* what, apply_report& report) {
  if (st.rec && st.name != want.link) {
    // The link changed (LBNodeAgent edited): Herald's addresses leave the old one.
    if (auto r = st.rec->set_desired({}); r) {
      count(*r);
      spdlog::info("agent: {} link {} replaced by {}: removed {}", what, st.name, want.link.empty() ? "none" : want.link,
                   r->summary());
    }
    st.rec->stop();
    st.rec.reset();
  }
  if (want.link.empty()) return std::nullopt;
  if (!st.rec) {
    st.name = want.link;
    st.rec = std::make_shared<netlink::reconciler>(ex_, nl_, want.link);
    st.rec->on_repair([this, name = want.link](const netlink::nl_result<netlink::change_report>& r) {
      if (!r) {
        ++counters_.netlink_errors;
        spdlog::warn("agent: repairing {}: {}", name, r.error().message);
        return;
      }
      count(*r);
      if (r->changed() || !r->failures.empty()) spdlog::info("agent: repaired {}: {}", name, r->summary());
    });
  }
  auto r = st.rec->set_desired(want.addresses);
  if (!r) {
    ++counters_.netlink_errors;
    report.addresses_ok = false;
    report.errors.push_back(std::string(what) + " link " + want.link + ": " + r.error().message);
    return std::nullopt;
  }
  log_change(want.link, *r, report);
  return *r;
}

void applier::log_change(const std::string& link, const netlink::change_report& r, apply_report& report) {
  count(r);
  for (const auto& a : r.added) spdlog::info("agent: {}: added {}", link, a.to_string());
  for (const auto& a : r.removed) spdlog::info("agent: {}: removed {}", link, a.to_string());
  for (const auto& a : r.foreign_kept)
    spdlog::warn("agent: {}: {} is held by another owner (not Herald); left alone", link, a.to_string());
  for (const auto& f : r.failures) {
    spdlog::warn("agent: {}: {}", link, f.message);
    report.errors.push_back(f.message);
  }
}

void applier::announce_new(const netlink::change_report& r, const desired_node_state& d) {
  // Announced: every address this node did not want before, also one the
  // kernel still had (a restarted agent adopts it while neighbours' caches
  // may point at the node that held it meanwhile), and every one re-added.
  std::vector<netlink::ip_address> fresh;
  auto add_fresh = [&](const netlink::ip_address& a) {
    if (std::find(fresh.begin(), fresh.end(), a) == fresh.end()) fresh.push_back(a);
  };
  for (const auto& a : d.local.addresses)
    if (std::find(local_wanted_.begin(), local_wanted_.end(), a.address) == local_wanted_.end()) add_fresh(a.address);
  for (const auto& a : r.added) add_fresh(a.address);
  local_wanted_.clear();
  for (const auto& a : d.local.addresses) local_wanted_.push_back(a.address);
  if (!d.garp_enabled || fresh.empty()) return;
  auto link = nl_.find_link(d.local.link);
  if (!link) {
    ++counters_.garp_errors;
    spdlog::warn("agent: cannot announce on {}: {}", d.local.link, link.error().message);
    return;
  }
  std::erase_if(announcers_, [](const auto& a) { return a.use_count() == 1; });
  for (const auto& a : fresh) {
    auto ann = std::make_shared<netlink::announcer>(ex_, nl_, *link, a, d.garp);
    ++counters_.garp_sent;
    std::string text = a.to_string();
    ann->start([this, text, link_name = d.local.link](const netlink::nl_result<void>& res) {
      if (!res) {
        ++counters_.garp_errors;
        spdlog::warn("agent: announcing {} on {}: {}", text, link_name, res.error().message);
      }
    });
    announcers_.push_back(std::move(ann));
  }
}

std::vector<bgp::wire::ip_prefix> applier::backed_filter(bgp::route_list& routes) {
  // What the dummy link's reconciler just read and changed: no second dump
  // of the link on the way from a Service change to its UPDATE.
  std::vector<bgp::wire::ip_address> on_link;
  if (dummy_.rec)
    for (const auto& a : dummy_.rec->on_link()) on_link.push_back(to_wire(a));
  // Sorted, the addresses a prefix covers are one run starting at or after
  // its network address: one lookup per route, not a scan of the link (with
  // 10,000 addresses the scan was half an idle agent's CPU).
  std::sort(on_link.begin(), on_link.end());
  std::vector<bgp::wire::ip_prefix> held;
  std::erase_if(routes, [&](const auto& r) {
    auto first = std::lower_bound(on_link.begin(), on_link.end(), r.first.first());
    bool backed = first != on_link.end() && r.first.covers(*first);
    if (!backed) held.push_back(r.first);
    return !backed;
  });
  return held;
}

apply_report applier::apply(desired_node_state desired) {
  apply_report report;
  ++counters_.applies;
  report.dummy = reconcile_link(dummy_, desired.dummy, "dummy", report);
  report.local = reconcile_link(local_, desired.local, "local", report);
  if (report.local) announce_new(*report.local, desired);
  else if (desired.local.addresses.empty()) local_wanted_.clear();

  auto cfg = std::move(desired.speaker);
  cfg.listen_address = opt_.bgp_listen;
  cfg.listen_port = opt_.bgp_port;
  cfg.drain = opt_.drain.count() > 0 ? std::optional<std::chrono::seconds>(opt_.drain) : std::nullopt;
  report.routes_held = backed_filter(cfg.routes);
  if (report.routes_held != last_held_) {
    for (const auto& p : report.routes_held)
      spdlog::warn("agent: not announcing {}: no address it covers is on {}", p.to_string(),
                   desired.dummy.link.empty() ? std::string("the dummy link") : desired.dummy.link);
    last_held_ = report.routes_held;
  }
  report.routes_announced = cfg.routes.size();
  if (!applied_ || sessions_differ(*applied_, cfg)) {
    report.speaker_reconfigured = true;
    applied_ = cfg;
    applied_->routes.clear();
    sp_.reconfigure(std::move(cfg));
  } else {
    sp_.set_routes(cfg.routes);
  }
  if (!initial_complete_) {
    // Every route this node will announce after a (re)start is now in the
    // table: End-of-RIB may follow, and routers drop stale routes only then.
    initial_complete_ = true;
    report.initial_complete_sent = true;
    sp_.initial_routes_complete();
  }
  return report;
}

apply_report applier::add(std::vector<netlink::address_spec> addresses, bgp::route_list routes) {
  apply_report report;
  ++counters_.applies;
  if (!dummy_.rec || !applied_) {
    report.addresses_ok = false;
    report.errors.push_back("no dummy link applied yet");
    return report;
  }
  auto r = dummy_.rec->add_desired(std::move(addresses));
  // Held routes are logged by the next apply(), which holds them too.
  report.routes_held = backed_filter(routes);
  sp_.add_routes(routes);  // the UPDATE leaves now (session.cpp: leading edge); logs follow it
  report.routes_announced = routes.size();
  if (!r) {
    ++counters_.netlink_errors;
    report.addresses_ok = false;
    report.errors.push_back("dummy link " + dummy_.name + ": " + r.error().message);
  } else {
    log_change(dummy_.name, *r, report);
    report.dummy = std::move(*r);
  }
  return report;
}

bool applier::dummy_wants(const netlink::ip_address& a) const { return dummy_.rec && dummy_.rec->is_desired(a); }

void applier::on_netlink_event(const netlink::event& e) {
  for (auto* st : {&dummy_, &local_})
    if (st->rec) st->rec->on_event(e);
}

}  // namespace herald::agent
