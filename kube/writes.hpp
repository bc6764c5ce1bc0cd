// Writes Herald makes (kube-api.md §2): JSON merge patches (RFC 7386) of a
// Service's /status (the load-balancer ingress list, replaced whole, with
// ipMode), of annotations on any object, and of a custom resource's /status.
// Each may carry metadata.resourceVersion as a precondition: a stale one
// answers 409, which surfaces as kube::error with conflict() true.
//
// The body builders are pure; the awaitable functions do one request each.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "kube/client.hpp"
#include "kube/resource.hpp"
#include "kube/views.hpp"

namespace herald::kube {

// Annotation key → new value, or nullopt to remove the annotation.
using annotation_changes = std::map<std::string, std::optional<std::string>>;

std::string service_status_patch(const std::vector<load_balancer_ingress>& ingress,
                                  const std::optional<std::string>& resource_version);
std::string annotations_patch(const annotation_changes& changes, const std::optional<std::string>& resource_version);
std::string status_patch(const nlohmann::json& status, const std::optional<std::string>& resource_version);

// The .status to merge-patch so that `current` (the stored .status) says
// what `desired` says, or nullopt when it already does. Conditions are
// compared without lastTransitionTime; each keeps the stored condition's
// lastTransitionTime when its type's status did not change, else gets `now`
// (RFC 3339). Keys in `fields` that `desired` lacks but `current` has are
// set to null (removed). Pure: the allocator's ServiceGroup status and the
// agent's BGPPeer status both go through it.
std::optional<nlohmann::json> status_update(nlohmann::json desired, const nlohmann::json& current,
                                            const std::vector<std::string>& fields, const std::string& now);

// PATCH `path` with a merge patch; the answer's object.
asio::awaitable<result<nlohmann::json>> merge_patch(client& c, const std::string& path, const std::string& body);

// Sets status.loadBalancer.ingress; returns the Service as the server stored
// it (with ipMode defaulted to VIP where an ip was given without one).
asio::awaitable<result<service>> patch_service_status(client& c, const std::string& ns, const std::string& name,
                                                      const std::vector<load_balancer_ingress>& ingress,
                                                      const std::optional<std::string>& resource_version);

asio::awaitable<result<nlohmann::json>> patch_annotations(client& c, const resource& r, const std::string& ns,
                                                          const std::string& name, const annotation_changes& changes,
                                                          const std::optional<std::string>& resource_version);

// Merges `status` into a custom resource's .status through its /status subresource.
asio::awaitable<result<custom_resource>> patch_custom_status(client& c, const resource& r, const std::string& ns,
                                                             const std::string& name, const nlohmann::json& status,
                                                             const std::optional<std::string>& resource_version);

}  // namespace herald::kube
