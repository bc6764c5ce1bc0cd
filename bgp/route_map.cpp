// The compact prefix → attributes map (see route_map.hpp).
#include "bgp/route_map.hpp"

#include <cstring>
#include <stdexcept>

namespace herald::bgp {

using wire::ip_prefix;

namespace {
constexpr double max_load = 0.6;  // used and deleted index cells, of all (4 octets each)
constexpr std::size_t min_capacity = 16;
__extension__ using uint128 = unsigned __int128;  // GCC and clang; -Wpedantic otherwise

std::uint64_t mix(std::uint64_t x) {  // the splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

route_map::route_map() {
  static std::atomic<std::uint64_t> maps{0};
  seed_ = mix(maps.fetch_add(1, std::memory_order_relaxed) + 0x9e3779b97f4a7c15ull);
}

route_map::route_map(std::initializer_list<std::pair<ip_prefix, attrs_ref>> init) : route_map() {
  reserve(init.size());
  for (auto& [p, a] : init) set(p, a);
}

std::uint64_t route_map::hash(const ip_prefix& p) const {
  std::uint64_t hi, lo;
  std::memcpy(&hi, p.addr.octets.data(), 8);
  std::memcpy(&lo, p.addr.octets.data() + 8, 8);
  return mix(hi ^ seed_ ^ mix(lo ^ (std::uint64_t{p.length} << 8 | static_cast<std::uint64_t>(p.addr.family))));
}

std::size_t route_map::home(const ip_prefix& p) const {
  // Multiply-shift range reduction: any index size, not only powers of two.
  return static_cast<std::size_t>((static_cast<uint128>(hash(p)) * index_.size()) >> 64);
}

std::size_t route_map::locate(const ip_prefix& p) const {
  std::size_t n = index_.size();
  if (n == 0) return 0;
  std::size_t i = home(p);
  for (std::size_t probes = 0; probes < n; ++probes) {
    std::uint32_t cell = index_[i];
    if (cell == free_index) return n;
    if (cell != deleted_index && slots_[cell - 1].key == p) return i;
    if (++i == n) i = 0;
  }
  return n;
}

const attrs_ref* route_map::find(const ip_prefix& p) const {
  std::size_t i = locate(p);
  return i < index_.size() ? &attrs_[slots_[index_[i] - 1].attrs] : nullptr;
}

const attrs_ref& route_map::at(const ip_prefix& p) const {
  if (const attrs_ref* a = find(p)) return *a;
  throw std::out_of_range("route_map::at: " + p.to_string() + " is not in the map");
}

void route_map::set(const ip_prefix& p, attrs_ref a) {
  if (std::size_t i = locate(p); i < index_.size()) {
    slot& s = slots_[index_[i] - 1];
    if (attrs_[s.attrs] == a) return;
    std::uint32_t old = s.attrs;
    s.attrs = acquire(std::move(a));
    release(old);
    return;
  }
  if (static_cast<double>(size_ + deleted_cells_ + 1) > max_load * static_cast<double>(index_.size()))
    rebuild_index(std::max(min_capacity, static_cast<std::size_t>(static_cast<double>(size_ + 1) * 1.6 / max_load)));
  std::size_t n = index_.size(), i = home(p);
  while (index_[i] != free_index && index_[i] != deleted_index)
    if (++i == n) i = 0;
  if (index_[i] == deleted_index) --deleted_cells_;
  slots_.push_back({p, acquire(std::move(a))});
  index_[i] = static_cast<std::uint32_t>(slots_.size());
  ++size_;
  if (p.addr.is_v4()) ++v4_;
}

bool route_map::erase(const ip_prefix& p) {
  std::size_t i = locate(p);
  if (i == index_.size()) return false;
  slot& s = slots_[index_[i] - 1];
  release(s.attrs);
  s.key.length = erased_mark;
  index_[i] = deleted_index;
  ++deleted_cells_;
  ++erased_;
  --size_;
  if (p.addr.is_v4()) --v4_;
  if (erased_ > 1024 && erased_ > size_) compact();
  return true;
}

void route_map::reserve(std::size_t n) {
  slots_.reserve(n);
  auto cells = static_cast<std::size_t>(static_cast<double>(n) / max_load) + 1;
  if (cells > index_.size()) rebuild_index(std::max(min_capacity, cells));
}

void route_map::clear() { *this = route_map(); }

void route_map::rebuild_index(std::size_t cells) {
  // Entries stay where they are: walks by position are not disturbed.
  index_.assign(cells, free_index);
  deleted_cells_ = 0;
  for (std::size_t pos = 0; pos < slots_.size(); ++pos) {
    if (!occupied(slots_[pos])) continue;
    std::size_t i = home(slots_[pos].key);
    while (index_[i] != free_index)
      if (++i == cells) i = 0;
    index_[i] = static_cast<std::uint32_t>(pos + 1);
  }
}

void route_map::compact() {
  std::erase_if(slots_, [](const slot& s) { return !occupied(s); });
  slots_.shrink_to_fit();
  erased_ = 0;
  ++layout_generation_;
  rebuild_index(std::max(min_capacity, static_cast<std::size_t>(static_cast<double>(size_ + 1) * 1.6 / max_load)));
}

std::uint32_t route_map::acquire(attrs_ref a) {
  // Runs of routes share a set: skip the index lookup for the last one used.
  if (last_attrs_ < attrs_.size() && attrs_[last_attrs_] == a) {
    ++uses_[last_attrs_];
    return last_attrs_;
  }
  auto [it, fresh] = attrs_index_.try_emplace(a.get(), 0);
  if (!fresh) {
    ++uses_[it->second];
    last_attrs_ = it->second;
    return it->second;
  }
  std::uint32_t index;
  if (!free_attrs_.empty()) {
    index = free_attrs_.back();
    free_attrs_.pop_back();
    attrs_[index] = std::move(a);
    uses_[index] = 1;
  } else {
    index = static_cast<std::uint32_t>(attrs_.size());
    attrs_.push_back(std::move(a));
    uses_.push_back(1);
  }
  it->second = index;
  last_attrs_ = index;
  return index;
}

void route_map::release(std::uint32_t index) {
  if (--uses_[index] > 0) return;
  attrs_index_.erase(attrs_[index].get());
  attrs_[index].reset();
  free_attrs_.push_back(index);
}

}  // namespace herald::bgp
