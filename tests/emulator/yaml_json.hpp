// YAML → JSON for the emulator: CRD manifests (manifests/crds/*.yaml) and
// application/apply-patch+yaml bodies. Plain scalars resolve as YAML 1.2's
// core schema does (null, booleans, integers, floats); quoted scalars stay
// strings. Throws YAML::Exception on malformed input (startup configuration,
// caught by the caller).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace herald::emulator {

std::vector<nlohmann::json> yaml_documents_to_json(const std::string& text);

}  // namespace herald::emulator
