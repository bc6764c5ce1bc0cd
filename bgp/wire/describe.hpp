// One-line and multi-line text forms of decoded messages, for logs, the
// herald-bgp-decode tool and the demo. Names follow the RFCs and the text
// tshark and the `gobgp` CLI print, so an operator can compare them.
#pragma once

#include <string>

#include "bgp/wire/message.hpp"

namespace herald::bgp::wire {

std::string describe(const open_message& m);
std::string describe(const update_message& m);
// Any message, multi-line for OPEN and UPDATE.
std::string describe(const message& m);

}  // namespace herald::bgp::wire
