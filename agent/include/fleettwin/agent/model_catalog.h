// The failure models a twin may switch to, by version: those its agent adopted from federated
// rounds (docs/federated.md), kept on disk under DATA_DIR/models/<version>/ so that a restarted
// agent and an auditor's replay find every model the ledger names.
#ifndef FLEETTWIN_AGENT_MODEL_CATALOG_H_
#define FLEETTWIN_AGENT_MODEL_CATALOG_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/model/rul_model.h"

namespace fleettwin::agent {

// Thread-safe. Models are never removed: a pointer it hands out stays valid while it lives.
class ModelCatalog final {
 public:
  // Keeps `model` unless one of its version is already there; returns the kept one.
  const model::RulModel* Add(model::RulModel model);
  // The model of this version, or nullptr.
  const model::RulModel* Find(std::string_view version) const;
  size_t size() const;

  // Writes `model` to dir/<version>/ (model.json and its .npy files) through a temporary
  // directory renamed into place, every file, the directory and the rename synced to disk, so a
  // crash leaves no half-written model under that name and a model saved stays saved.
  // A model already saved there is left as it is. Errors: Unavailable.
  static absl::Status Save(const std::filesystem::path& dir, const model::RulModel& model);
  // Adds every model saved under `dir` (a missing `dir` holds none; one that cannot be read is
  // Unavailable). `prepare` runs on each
  // before it is kept (e.g. to set the horizon). A subdirectory that does not load, or whose
  // model's version is not its name, is skipped and described in `problems`.
  absl::Status Load(const std::filesystem::path& dir,
                    const std::function<void(model::RulModel&)>& prepare,
                    std::vector<std::string>* problems);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<model::RulModel>, std::less<>> models_;
};

// The horizon a twin of `kind` started with model `start` (may be null) answers P(failure) for:
// the kind's simulator horizon, else the start model's; 0 when neither says (keep the model's).
int TwinHorizon(const AssetKind& kind, const model::RulModel* start);

// Adds every model of `dir` (an agent's DATA_DIR/models) to `catalog` with `horizon` (if > 0),
// as a running agent holds them. DataLoss naming each one that does not load: the ledger may
// name any of them. Unavailable if `dir` cannot be read.
absl::Status LoadAdoptedModels(ModelCatalog& catalog, const std::filesystem::path& dir,
                               int horizon);

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_MODEL_CATALOG_H_
