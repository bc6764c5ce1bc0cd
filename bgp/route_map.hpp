// A compact hash map from prefix to attribute set, for the speaker's route
// table and every session's Adj-RIB-Out. A million /128 routes cost about
// 30 MB per map where a node-based std::unordered_map<prefix, shared_ptr>
// costs about 90 MB: routes share few distinct attribute sets, so an entry
// holds a 4-octet index into this map's own list of the sets it uses (each
// counted, dropped when no entry uses it). Entries sit in a vector in
// insertion order, found through an open-addressing index of positions.
// Iteration in insertion order matters: a router fed a million routes in
// hash order took five times as long (BIRD's tables lose cache locality).
// Entries never move except when erased ones are compacted away, which bumps
// layout_generation(), so a walk by position (an incremental full sync) can
// tell it must start again.
#pragma once

#include <atomic>
#include <cstdint>
#include <iterator>
#include <unordered_map>
#include <vector>

#include "bgp/config.hpp"
#include "bgp/wire/types.hpp"

namespace herald::bgp {

class route_map {
  struct slot {
    wire::ip_prefix key;  // key.length == erased_mark once erased
    std::uint32_t attrs = 0;
  };

 public:
  // What iteration yields: references into the map, valid until it changes.
  struct entry {
    const wire::ip_prefix& first;
    const attrs_ref& second;
  };

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = entry;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = entry;
    iterator() = default;
    entry operator*() const { return {pos_->key, map_->attrs_[pos_->attrs]}; }
    iterator& operator++() {
      ++pos_;
      skip();
      return *this;
    }
    iterator operator++(int) {
      auto old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.pos_ == b.pos_; }

   private:
    friend class route_map;
    iterator(const route_map* m, const slot* pos, const slot* end) : map_(m), pos_(pos), end_(end) { skip(); }
    void skip() {
      while (pos_ != end_ && !occupied(*pos_)) ++pos_;
    }
    const route_map* map_ = nullptr;
    const slot* pos_ = nullptr;
    const slot* end_ = nullptr;
  };

  route_map();
  route_map(std::initializer_list<std::pair<wire::ip_prefix, attrs_ref>> init);

  iterator begin() const { return {this, slots_.data(), slots_.data() + slots_.size()}; }
  iterator end() const { return {this, slots_.data() + slots_.size(), slots_.data() + slots_.size()}; }
  // The entries at positions [from, to) of slot_count(), for walks done in steps.
  template <class F>
  void for_each_in_slots(std::size_t from, std::size_t to, F&& f) const {
    for (std::size_t i = from; i < to && i < slots_.size(); ++i)
      if (occupied(slots_[i])) f(slots_[i].key, attrs_[slots_[i].attrs]);
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t count(wire::afi f) const { return f == wire::afi::ipv4 ? v4_ : size_ - v4_; }
  std::size_t slot_count() const { return slots_.size(); }
  std::uint64_t layout_generation() const { return layout_generation_; }

  // The attributes of p, or nullptr when p is not in the map.
  const attrs_ref* find(const wire::ip_prefix& p) const;
  bool contains(const wire::ip_prefix& p) const { return find(p) != nullptr; }
  // As std::unordered_map's, for code generic over both (proto/ lookups).
  std::size_t count(const wire::ip_prefix& p) const { return contains(p) ? 1 : 0; }
  const attrs_ref& at(const wire::ip_prefix& p) const;
  // Inserts p or replaces its attributes (a must not be null).
  void set(const wire::ip_prefix& p, attrs_ref a);
  // Removes p; false if it was not there.
  bool erase(const wire::ip_prefix& p);
  void reserve(std::size_t n);
  void clear();

 private:
  static constexpr std::uint8_t erased_mark = 0xFF;  // no prefix is longer than 128
  static constexpr std::uint32_t free_index = 0, deleted_index = UINT32_MAX;  // else position + 1
  static bool occupied(const slot& s) { return s.key.length <= 128; }
  std::uint64_t hash(const wire::ip_prefix& p) const;
  std::size_t home(const wire::ip_prefix& p) const;
  // The index_ cell pointing at p, or index_.size() when p is absent.
  std::size_t locate(const wire::ip_prefix& p) const;
  void rebuild_index(std::size_t cells);
  void compact();
  std::uint32_t acquire(attrs_ref a);
  void release(std::uint32_t index);

  // Per map: with one hash function for all maps, copying one table into
  // another in slot order piles keys into long runs (quadratic probing time).
  std::uint64_t seed_;
  std::vector<slot> slots_;            // insertion order, erased ones marked
  std::vector<std::uint32_t> index_;   // open addressing, linear probing
  std::size_t size_ = 0, erased_ = 0, deleted_cells_ = 0, v4_ = 0;
  std::uint64_t layout_generation_ = 0;
  // The distinct attribute sets in use, with how many slots use each.
  std::vector<attrs_ref> attrs_;
  std::vector<std::uint32_t> uses_;
  std::vector<std::uint32_t> free_attrs_;
  std::uint32_t last_attrs_ = UINT32_MAX;
  std::unordered_map<const route_attrs*, std::uint32_t> attrs_index_;
};

}  // namespace herald::bgp
