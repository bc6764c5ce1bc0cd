// Server-side printing: the meta.k8s.io/v1 Table kubectl asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (kubectl get's
// human output). Columns follow kube-apiserver's printers
// (pkg/printers/internalversion/printers.go) for Services, Nodes, Namespaces,
// Secrets, ConfigMaps, EndpointSlices and Leases, and a CRD's
// additionalPrinterColumns (simple `.a.b` JSONPaths) for custom resources;
// other kinds get Name and Age. Pure: `now` is passed in.
#pragma once

#include "store.hpp"

#include <chrono>
#include <string>

namespace herald::emulator {

// includeObject: "None", "Object" or "Metadata" (default).
json to_table(const resource_type& t, const json& list_or_object, const std::string& include_object,
              std::chrono::system_clock::time_point now);

// kube's duration.HumanDuration ("45s", "3m20s", "5h", "12d").
std::string human_duration(std::chrono::seconds d);

}  // namespace herald::emulator
