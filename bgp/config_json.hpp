// Reads the standalone speaker's JSON configuration (docs/standalone.md).
// Bad input is an error that names the file, the field and the problem:
// "speaker.json: peers[1].asn: must be an integer from 1 to 4294967295".
#pragma once

#include <string>
#include <string_view>

#include "bgp/config.hpp"
#include "herald/result.hpp"

namespace herald::bgp {

Result<speaker_config, std::string> parse_speaker_config(std::string_view text, std::string_view file_name);
Result<speaker_config, std::string> load_speaker_config(const std::string& path);

}  // namespace herald::bgp
