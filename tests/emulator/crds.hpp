// Loading of YAML manifests into the emulator at startup: every *.yaml in a
// CRD directory (manifests/crds/) registers its CustomResourceDefinitions,
// and object files (Services, Nodes, ServiceGroups, …) are created as if
// POSTed. Startup configuration: errors throw std::runtime_error.
#pragma once

#include "store.hpp"

#include <string>

namespace herald::emulator {

// Returns the number of CRDs registered; a directory with none is an error.
std::size_t load_crd_directory(store& s, const std::string& dir);
// Creates every object in the YAML file; returns how many.
std::size_t load_objects(store& s, const std::string& file);
// Creates one object from its apiVersion / kind (and metadata.namespace,
// default "default", created if missing). Untrusted input: returns errors.
api_result<json> create_any(store& s, const json& obj);

}  // namespace herald::emulator
