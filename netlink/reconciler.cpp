// Diff and apply for one link's addresses; see reconciler.hpp. Lifetimes
// (RFC 4862 §5.5.4 semantics for IPv6; the same fields for IPv4) are renewed
// when half of the preferred lifetime has passed, so an address never turns
// deprecated while it is desired.
#include "netlink/reconciler.hpp"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <boost/asio/post.hpp>

namespace herald::netlink {

std::string change_report::summary() const {
  return fmt::format("+{} -{} ~{} kept {} failed {}", added.size(), removed.size(), renewed.size(),
                     foreign_kept.size(), failures.size());
}

reconciler::reconciler(boost::asio::any_io_executor ex, rtnl& nl, std::string link_name)
    : ex_(ex), nl_(nl), link_name_(std::move(link_name)), renew_timer_(ex) {}

namespace {
// The kernel's slot for an address: IPv4 keys on (address, length), IPv6 on
// the address alone.
bool same_slot(const ip_address& a, std::uint8_t alen, const ip_address& b, std::uint8_t blen) {
  return a == b && (a.is_v6() || alen == blen);
}
bool same_flags(const address_info& have, const address_spec& want) {
  bool npr = (have.flags & IFA_F_NOPREFIXROUTE) != 0;
  bool nodad = (have.flags & IFA_F_NODAD) != 0;
  return npr == want.noprefixroute && nodad == want.nodad;
}
// Renew once the kernel's remaining lifetime has fallen below half the
// desired one (the kernel reports remaining seconds in ifa_cacheinfo). A
// preferred lifetime of 0 (deprecated at once, as local service addresses
// are) never runs down: only the valid lifetime counts then, else every pass
// would renew.
bool needs_renewal(const address_info& have, const address_spec& want) {
  if (!want.finite()) return have.valid_lifetime != infinite_lifetime || have.preferred_lifetime != infinite_lifetime;
  return have.valid_lifetime < want.valid_lifetime / 2 + 1 ||
         (want.preferred_lifetime > 0 && have.preferred_lifetime < want.preferred_lifetime / 2 + 1);
}
// Entries by address, then prefix length: an address's slots are adjacent,
// so matching desired against present is a binary search, not a scan (with
// 10,000 addresses a scan per address was 10^8 comparisons per pass).
bool by_address(const address_spec& a, const address_spec& b) {
  return std::tie(a.address, a.prefix_len) < std::tie(b.address, b.prefix_len);
}
}  // namespace

nl_result<change_report> reconciler::set_desired(std::vector<address_spec> desired) {
  for (const auto& d : desired)
    if (auto v = validate(d, link_name_); !v) return v.error();
  std::stable_sort(desired.begin(), desired.end(), by_address);
  std::vector<address_spec> unique;
  unique.reserve(desired.size());
  for (const auto& d : desired) {
    if (unique.empty() || !same_slot(unique.back().address, unique.back().prefix_len, d.address, d.prefix_len)) {
      unique.push_back(d);
      continue;
    }
    const auto& u = unique.back();
    if (u.prefix_len != d.prefix_len || u.noprefixroute != d.noprefixroute || u.nodad != d.nodad ||
        u.valid_lifetime != d.valid_lifetime || u.preferred_lifetime != d.preferred_lifetime)
      return make_error(errc::invalid_argument,
                        fmt::format("address {} on {}: desired twice with different settings ({} and {})",
                                    d.address.to_string(), link_name_, u.to_string(), d.to_string()));
  }
  desired_ = std::move(unique);
  auto r = reconcile();
  arm_renewal();
  return r;
}

nl_result<change_report> reconciler::add_desired(std::vector<address_spec> more) {
  for (const auto& m : more)
    if (auto v = validate(m, link_name_); !v) return v.error();
  auto known = [&](const address_spec& m) {
    return is_desired(m.address) || std::find(on_link_.begin(), on_link_.end(), m.address) != on_link_.end() ||
           std::count_if(more.begin(), more.end(), [&](const address_spec& o) { return o.address == m.address; }) > 1;
  };
  if (!link_ || scheduled_ || std::any_of(more.begin(), more.end(), known)) {
    auto all = desired_;
    all.insert(all.end(), more.begin(), more.end());
    return set_desired(std::move(all));
  }
  std::vector<msg_ptr> requests;
  for (const auto& m : more) requests.push_back(nl_.address_request(RTM_NEWADDR, false, *link_, m));
  for (const auto& m : more) desired_.insert(std::upper_bound(desired_.begin(), desired_.end(), m, by_address), m);
  arm_renewal();
  auto acks = nl_.transact(requests);
  if (!acks) return reconcile();  // the batch's outcome is unknown: read the link
  change_report report;
  bool refused = false;
  for (std::size_t i = 0; i < more.size(); ++i) {
    if ((*acks)[i].error != 0) {
      refused = true;
      continue;
    }
    report.added.push_back(more[i]);
    on_link_.push_back(more[i].address);
  }
  if (refused) {
    // The pass finds this batch's additions on the link: report them with its own.
    auto r = reconcile();
    if (r) r->added.insert(r->added.begin(), report.added.begin(), report.added.end());
    return r;
  }
  // No summary line here: on this path every microsecond before the
  // caller's UPDATE counts, and the caller logs each address after it.
  return report;
}

nl_result<change_report> reconciler::reconcile() {
  on_link_.clear();
  link_.reset();
  auto link = nl_.ensure_link(link_name_);
  if (!link) return link.error();
  ifindex_ = link->index;
  auto have = nl_.list_addresses(*link);
  if (!have) return have.error();
  for (const auto& h : *have) on_link_.push_back(h.address);

  change_report report;
  std::vector<msg_ptr> requests;
  enum class kind { add, renew, remove };
  struct pending {
    kind k;
    address_spec spec;
    address_info info;
  };
  std::vector<pending> what;
  auto remove = [&](const address_info& h) {
    address_spec s{h.address, h.prefix_len};
    requests.push_back(nl_.address_request(RTM_DELADDR, false, *link, s));
    what.push_back({kind::remove, s, h});
  };
  // desired_ is sorted by address (by_address); `have` gets a sorted view.
  auto desired_in_slot = [&](const address_info& h) {
    auto d = std::lower_bound(desired_.begin(), desired_.end(), address_spec{h.address, 0}, by_address);
    for (; d != desired_.end() && d->address == h.address; ++d)
      if (same_slot(d->address, d->prefix_len, h.address, h.prefix_len)) return d;
    return desired_.end();
  };
  std::vector<const address_info*> present;
  present.reserve(have->size());
  for (const auto& h : *have) present.push_back(&h);
  auto addr_less = [](const address_info* a, const address_info* b) { return a->address < b->address; };
  std::sort(present.begin(), present.end(), addr_less);
  auto present_in_slot = [&](const address_spec& d) -> const address_info* {
    address_info key;
    key.address = d.address;
    auto h = std::lower_bound(present.begin(), present.end(), &key, addr_less);
    for (; h != present.end() && (*h)->address == d.address; ++h)
      if (same_slot((*h)->address, (*h)->prefix_len, d.address, d.prefix_len)) return *h;
    return nullptr;
  };
  // Removals first: an IPv6 address whose length or flags changed must go
  // before its replacement can be added.
  std::vector<const address_spec*> to_add;
  for (const auto& h : *have) {
    if (!nl_.owns(h)) continue;
    auto d = desired_in_slot(h);
    if (d == desired_.end() || d->prefix_len != h.prefix_len || !same_flags(h, *d)) remove(h);
  }
  for (const auto& d : desired_) {
    const address_info* h = present_in_slot(d);
    if (!h) {
      to_add.push_back(&d);
    } else if (!nl_.owns(*h)) {
      report.foreign_kept.push_back(*h);
    } else if (h->prefix_len != d.prefix_len || !same_flags(*h, d)) {
      to_add.push_back(&d);  // removed above
    } else if (needs_renewal(*h, d)) {
      requests.push_back(nl_.address_request(RTM_NEWADDR, true, *link, d));
      what.push_back({kind::renew, d, *h});
    }
  }
  for (const auto* d : to_add) {
    requests.push_back(nl_.address_request(RTM_NEWADDR, false, *link, *d));
    what.push_back({kind::add, *d, {}});
  }

  if (requests.empty()) {
    link_ = *link;
    return report;
  }
  auto acks = nl_.transact(requests);
  if (!acks) {
    on_link_.clear();  // the batch's outcome is unknown
    return acks.error();
  }
  link_ = *link;
  for (std::size_t i = 0; i < what.size(); ++i) {
    const auto& w = what[i];
    const auto& a = (*acks)[i];
    if (a.error == 0 || (w.k == kind::remove && a.error == EADDRNOTAVAIL)) {
      if (w.k == kind::add) report.added.push_back(w.spec);
      if (w.k == kind::renew) report.renewed.push_back(w.spec);
      if (w.k == kind::remove) report.removed.push_back(w.info);
      continue;
    }
    const char* verb = w.k == kind::add ? "add" : w.k == kind::renew ? "renew" : "remove";
    auto code = errc_from_errno(a.error);
    auto msg = fmt::format("address {} on {}: cannot {}: {}{}", w.spec.to_string(), link_name_, verb,
                           std::strerror(a.error), a.ext_ack.empty() ? "" : " (" + a.ext_ack + ")");
    spdlog::warn("netlink reconciler {}: {}", link_name_, msg);
    report.failures.push_back(make_error(code, std::move(msg)));
  }
  // on_link_: removals first (one pass, not a scan per removal), then the
  // additions, so an address replaced in place (a new prefix length) stays.
  if (!report.removed.empty()) {
    std::vector<ip_address> gone;
    for (const auto& r : report.removed) gone.push_back(r.address);
    std::sort(gone.begin(), gone.end());
    std::erase_if(on_link_, [&](const ip_address& a) { return std::binary_search(gone.begin(), gone.end(), a); });
  }
  for (const auto& a : report.added) on_link_.push_back(a.address);
  if (report.changed() || !report.failures.empty())
    spdlog::info("netlink reconciler {}: {}", link_name_, report.summary());
  return report;
}

bool reconciler::is_desired(const ip_address& a) const {
  auto d = std::lower_bound(desired_.begin(), desired_.end(), address_spec{a, 0}, by_address);
  return d != desired_.end() && d->address == a;
}

void reconciler::on_event(const event& e) {
  bool relevant = std::visit(
      [&](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, link_event>) {
          return ev.link.name == link_name_ || (ifindex_ != 0 && ev.link.index == ifindex_);
        } else if constexpr (std::is_same_v<T, address_event>) {
          // Our own removals of undesired addresses also arrive here; only
          // the loss of a desired one is drift.
          return ev.removed && ev.address.ifindex == ifindex_ && is_desired(ev.address.address);
        } else {
          return true;  // resync: anything may have changed
        }
      },
      e);
  if (relevant) schedule();
}

void reconciler::schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  boost::asio::post(ex_, [self = shared_from_this()] {
    self->scheduled_ = false;
    auto r = self->reconcile();
    if (!r) spdlog::warn("netlink reconciler {}: repair failed: {}", self->link_name_, r.error().message);
    if (self->on_repair_) self->on_repair_(r);
  });
}

void reconciler::arm_renewal() {
  renew_timer_.cancel();
  std::uint32_t shortest = infinite_lifetime;
  for (const auto& d : desired_)
    if (d.finite())
      shortest = std::min({shortest, d.valid_lifetime, d.preferred_lifetime > 0 ? d.preferred_lifetime : shortest});
  if (shortest == infinite_lifetime) return;
  // Half the shortest lifetime, as needs_renewal() measures it; at least 1 s.
  renew_timer_.expires_after(std::chrono::milliseconds(std::max<std::uint64_t>(1000, shortest * 500ull)));
  renew_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    auto r = self->reconcile();
    if (!r) spdlog::warn("netlink reconciler {}: renewal failed: {}", self->link_name_, r.error().message);
    if (self->on_repair_) self->on_repair_(r);
    self->arm_renewal();
  });
}

void reconciler::stop() { renew_timer_.cancel(); }

}  // namespace herald::netlink
