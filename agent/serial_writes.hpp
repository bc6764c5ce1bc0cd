// One write per Kubernetes object at a time, and the latest plan's value
// after it: the rule the agent's two kinds of write (a Service's announcing
// annotations, a BGPPeer's status) follow (docs/agent.md, reconcile step 5).
// A plan made while an object's write is in flight writes nothing for it;
// its value is kept here, and when the write is answered the runtime writes
// the value kept if it differs from the one it wrote. Waiting for the echo
// instead would not do: the write's echo may come before a later plan, or
// never differ from what that plan's diff saw. Pure: keys and values in,
// the value to write next out.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace herald::agent {

template <class Value>
class serial_writes {
 public:
  // A full plan starts saying, object by object, what it wants written:
  // values kept from earlier plans are let go unless it says them again (an
  // object the latest plan no longer writes is not written after its write).
  void plan_starts() {
    for (auto& [key, wanted] : in_flight_) wanted.reset();
  }

  // While a write of ns/name is in flight: keeps `wanted` (replacing what an
  // earlier call kept) and returns true, the caller writing nothing now.
  bool defer(const std::string& ns, const std::string& name, const Value& wanted) {
    if (in_flight_.empty()) return false;  // the steady state: no key built per object per plan
    auto it = in_flight_.find(key(ns, name));
    if (it == in_flight_.end()) return false;
    it->second = wanted;
    return true;
  }

  // A write of ns/name goes out (defer() returned false for it).
  void start(const std::string& ns, const std::string& name) { in_flight_.try_emplace(key(ns, name)); }

  // The write of `written` to ns/name was answered, whatever the answer: the
  // value kept since, if it differs from `written`.
  std::optional<Value> finish(const std::string& ns, const std::string& name, const Value& written) {
    auto node = in_flight_.extract(key(ns, name));
    if (node.empty() || !node.mapped() || *node.mapped() == written) return std::nullopt;
    return std::move(node.mapped());
  }

  std::size_t in_flight() const { return in_flight_.size(); }

 private:
  static std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

  std::map<std::string, std::optional<Value>> in_flight_;  // ns/name → the value kept while in flight
};

}  // namespace herald::agent
