// Bounds-checked reading and appending of wire bytes (STYLE.md §5: every read
// goes through a cursor, no pointer arithmetic). A short read sets the cursor's
// failed flag and yields zeros, so a decoder checks once after a group of
// reads instead of after each byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "bgp/wire/types.hpp"

namespace herald::bgp::wire {

class cursor {
 public:
  explicit cursor(std::span<const std::byte> data) : data_(data) {}

  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }
  bool failed() const { return failed_; }

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return std::to_integer<std::uint8_t>(data_[pos_++]);
  }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    auto v = static_cast<std::uint16_t>(std::to_integer<unsigned>(data_[pos_]) << 8 |
                                        std::to_integer<unsigned>(data_[pos_ + 1]));
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | std::to_integer<std::uint32_t>(data_[pos_ + static_cast<std::size_t>(i)]);
    pos_ += 4;
    return v;
  }
  // The next n bytes as a sub-span; empty and failed when fewer remain.
  std::span<const std::byte> take(std::size_t n) {
    if (!need(n)) return {};
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::span<const std::byte> rest() { return take(remaining()); }
  bool copy_to(std::uint8_t* out, std::size_t n) {
    auto s = take(n);
    if (s.size() != n) return false;
    if (n != 0) std::memcpy(out, s.data(), n);
    return true;
  }

 private:
  bool need(std::size_t n) {
    if (failed_ || remaining() < n) {
      failed_ = true;
      return false;
    }
    return true;
  }
  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

// Appends big-endian values to a byte vector; lengths are back-patched from
// what was written (STYLE.md §5).
class writer {
 public:
  explicit writer(bytes& out) : out_(out) {}

  std::size_t size() const { return out_.size(); }
  void u8(std::uint8_t v) { out_.push_back(std::byte{v}); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void raw(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void raw(const std::uint8_t* p, std::size_t n) {
    auto b = reinterpret_cast<const std::byte*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  // Reserves a 1- or 2-byte length at the current position; returns its offset.
  std::size_t placeholder8() { u8(0); return out_.size() - 1; }
  std::size_t placeholder16() { u16(0); return out_.size() - 2; }
  void patch8(std::size_t at, std::size_t v) { out_[at] = std::byte(static_cast<std::uint8_t>(v)); }
  void patch16(std::size_t at, std::size_t v) {
    out_[at] = std::byte(static_cast<std::uint8_t>(v >> 8));
    out_[at + 1] = std::byte(static_cast<std::uint8_t>(v));
  }
  bytes& buffer() { return out_; }

 private:
  bytes& out_;
};

}  // namespace herald::bgp::wire
