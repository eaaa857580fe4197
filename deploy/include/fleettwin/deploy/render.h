// Kubernetes manifests for a fleet (`fleetctl deploy render`): one agent workload per asset
// from an assets file, on the kustomize base and agent template shipped in deploy/k8s (built
// into the binary). Writes a kustomization that `kubectl kustomize` / `kubectl apply -k`
// takes as it is, with the CURVE keys it generates (kept when rendering again) as Secrets and
// public-key ConfigMaps, and the asset kinds as ConfigMaps. docs/operations.md explains it.
#ifndef FLEETTWIN_DEPLOY_RENDER_H_
#define FLEETTWIN_DEPLOY_RENDER_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fleettwin::deploy {

struct RenderOptions {
  std::filesystem::path assets_file;  // YAML: namespace, image, assets: [{id, kind, ...}].
  std::filesystem::path out_dir;      // Created; keys already there are kept.
  std::filesystem::path share_dir;    // Where kinds/ are (empty: found as fleetctl up does).
  std::string image;                  // Overrides the file's image.
  std::string ns;                     // Overrides the file's namespace.
};

struct RenderedAsset {
  std::string id, kind;
  bool new_key = false;  // A key pair was generated for it by this render.
};

// Errors: InvalidArgument naming the assets file's problem (bad YAML, unknown field, bad or
// duplicate id, unknown kind), NotFound (kinds), Unavailable (cannot write).
absl::StatusOr<std::vector<RenderedAsset>> RenderManifests(const RenderOptions& options);

}  // namespace fleettwin::deploy

#endif  // FLEETTWIN_DEPLOY_RENDER_H_
