// The informer's cache of one kind, indexed by namespace/name, and the pure
// bookkeeping that turns watch events and relists into the add / update /
// delete notifications handlers see. No I/O: informer.hpp feeds it.
//
// Consistency rules (what the kube suite checks under faults):
// - an event for an object whose resourceVersion equals the cached one is a
//   duplicate (a watch restarted from an older RV replays it) and yields nothing;
// - replace() (a relist after 410 Gone) yields a delete for every cached object
//   missing from the new list, and an add or update for each new or changed one,
//   so handlers never miss a final state and never see a delete of an object
//   that still exists.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::kube {

enum class event_type { added, modified, deleted };

enum class change_kind { added, updated, deleted };

template <class T>
struct change {
  change_kind kind;
  std::shared_ptr<const T> old_object;  // set for updated and deleted
  std::shared_ptr<const T> object;      // the new state; for deleted, the last state
};

// T needs a `meta` member with key() and resource_version (views.hpp).
template <class T>
class object_cache {
 public:
  using pointer = std::shared_ptr<const T>;

  // One watch event. Returns the change to deliver, if any.
  std::optional<change<T>> apply(event_type type, pointer object) {
    const std::string key = object->meta.key();
    auto it = objects_.find(key);
    if (type == event_type::deleted) {
      if (it == objects_.end()) return std::nullopt;  // never seen (or already gone): nothing to undo
      pointer old = std::move(it->second);
      objects_.erase(it);
      return change<T>{change_kind::deleted, old, std::move(object)};
    }
    if (it == objects_.end()) {
      objects_.emplace(key, object);
      return change<T>{change_kind::added, nullptr, std::move(object)};
    }
    if (it->second->meta.resource_version == object->meta.resource_version) return std::nullopt;
    pointer old = std::exchange(it->second, object);
    return change<T>{change_kind::updated, std::move(old), std::move(object)};
  }

  // A full list: the new contents. Returns deletes first, then adds and
  // updates, each group in key order.
  std::vector<change<T>> replace(std::vector<pointer> items) {
    std::map<std::string, pointer, std::less<>> next;
    for (auto& item : items) {
      std::string key = item->meta.key();
      next.insert_or_assign(std::move(key), std::move(item));
    }
    std::vector<change<T>> out;
    for (const auto& [key, old] : objects_)
      if (!next.contains(key)) out.push_back(change<T>{change_kind::deleted, old, old});
    for (const auto& [key, now] : next) {
      auto it = objects_.find(key);
      if (it == objects_.end()) out.push_back(change<T>{change_kind::added, nullptr, now});
      else if (it->second->meta.resource_version != now->meta.resource_version)
        out.push_back(change<T>{change_kind::updated, it->second, now});
    }
    objects_ = std::move(next);
    return out;
  }

  pointer get(std::string_view ns, std::string_view name) const {
    const std::string key = ns.empty() ? std::string(name) : std::string(ns) + "/" + std::string(name);
    auto it = objects_.find(key);
    return it == objects_.end() ? nullptr : it->second;
  }

  // Every object of one namespace (keys "ns/..." sort together).
  std::vector<pointer> list_namespace(std::string_view ns) const {
    std::vector<pointer> out;
    const std::string prefix = std::string(ns) + "/";
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it)
      out.push_back(it->second);
    return out;
  }

  std::vector<pointer> list() const {
    std::vector<pointer> out;
    out.reserve(objects_.size());
    for (const auto& [key, object] : objects_) out.push_back(object);
    return out;
  }

  std::size_t size() const { return objects_.size(); }
  const std::map<std::string, pointer, std::less<>>& objects() const { return objects_; }

 private:
  std::map<std::string, pointer, std::less<>> objects_;
};

}  // namespace herald::kube
