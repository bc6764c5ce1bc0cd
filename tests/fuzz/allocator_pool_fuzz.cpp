// libFuzzer target for the pool and address parsers (allocator/address.hpp):
// parse_pool, parse_cidr and ip_address::parse on the input as text.
// Properties beyond "no crash": a parsed address prints to text that parses
// back to it; a parsed pool has first <= last in one family, its printed form
// parses back to the same range, and its size agrees with nth(); a CIDR's
// range is a prefix of the CIDR's length.
#include <cstdlib>
#include <string_view>

#include "allocator/address.hpp"

using namespace herald::allocator;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto a = ip_address::parse(text)) {
    auto again = ip_address::parse(a->to_string());
    if (!again || *again != *a) std::abort();
  }
  if (auto c = parse_cidr(text)) {
    if (c->length > max_length(c->base.family)) std::abort();
    auto r = c->range();
    if (prefix_length_of(r) != c->length) std::abort();
    auto again = parse_cidr(c->to_string());
    if (!again || *again != *c) std::abort();
  }
  if (auto p = parse_pool(text)) {
    if (p->first.family != p->last.family || p->first.value > p->last.value) std::abort();
    auto again = parse_pool(p->to_string());
    if (!again || *again != *p) std::abort();
    auto last = p->nth(p->size_minus_one());
    if (!last || *last != p->last) std::abort();
    if (p->size_minus_one() != max_value(ip_family::v6) && p->nth(p->size_minus_one() + 1)) std::abort();
    (void)p->size_string();
  }
  return 0;
}
