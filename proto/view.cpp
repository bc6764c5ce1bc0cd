// ListPath prefix lookups (see view.hpp).
#include "proto/view.hpp"

namespace herald::proto {

bool contains(const wire::ip_prefix& outer, const wire::ip_prefix& inner) {
  if (outer.addr.family != inner.addr.family || inner.length < outer.length) return false;
  for (unsigned bit = 0; bit < outer.length; ++bit) {
    auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((outer.addr.octets[bit / 8] & mask) != (inner.addr.octets[bit / 8] & mask)) return false;
  }
  return true;
}

Result<prefix_query, std::string> parse_prefix_query(std::string_view text, int type, wire::family f) {
  auto p = wire::ip_prefix::parse(text);
  if (!p) return "invalid prefix " + std::string(text) + " (host bits must be zero)";
  if (p->addr.family != f.a) return "prefix " + std::string(text) + " is not of family " + wire::to_string(f);
  prefix_query q;
  q.prefix = *p;
  bool bare = text.find('/') == std::string_view::npos;
  switch (type) {
    case 0: q.how = bare ? prefix_query::kind::longest : prefix_query::kind::exact; break;
    case 1: q.how = prefix_query::kind::longer; break;
    case 2: q.how = prefix_query::kind::shorter; break;
    default: return "unknown lookup type " + std::to_string(type);
  }
  return q;
}

}  // namespace herald::proto
