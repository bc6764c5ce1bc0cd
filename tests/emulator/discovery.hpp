// Discovery documents the real kubectl reads (kube-api.md §6): /version,
// legacy /api and /apis, per group-version APIResourceLists with
// subresources, and the minimal OpenAPI v3 stub (an index plus, per
// group-version, a `patch` operation per kind carrying
// x-kubernetes-group-version-kind and a fieldValidation parameter, which is
// what makes kubectl send fieldValidation=Strict instead of validating
// client-side). Pure: built from the store's registered types.
#pragma once

#include "store.hpp"

#include <string>

namespace herald::emulator {

json version_info(int minor);
json api_versions(const std::string& server_address);
json api_group_list(const store& s);
// Null when the group is not served.
json api_group(const store& s, const std::string& group);
json api_resource_list(const store& s, const std::string& group, const std::string& version);
json openapi_v3_index(const store& s);
json openapi_v3_document(const store& s, const std::string& group, const std::string& version, int minor);

}  // namespace herald::emulator
