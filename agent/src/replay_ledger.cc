// `fleet-agent replay-ledger`: the twin rebuilt from a ledger directory alone (docs/agent.md).
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/agent_runtime.h"

namespace fleettwin::agent {

absl::StatusOr<std::string> RebuildTwinJson(const std::filesystem::path& ledger_dir,
                                            const std::filesystem::path& kind_file,
                                            const std::string& asset,
                                            const std::filesystem::path& model_dir,
                                            const std::filesystem::path& models_dir) {
  std::optional<model::RulModel> model;
  if (!model_dir.empty()) {
    absl::StatusOr<model::RulModel> loaded = model::RulModel::Load(model_dir);
    if (!loaded.ok()) return loaded.status();
    model = std::move(*loaded);
  }
  std::error_code ec;
  if (!models_dir.empty() && std::filesystem::exists(models_dir, ec) &&
      !std::filesystem::is_directory(models_dir, ec)) {
    // A missing one holds no models (an agent that never adopted one has none).
    return absl::InvalidArgumentError(absl::StrCat(models_dir.string(), " is not a directory"));
  }
  absl::StatusOr<std::unique_ptr<ledger::LedgerReader>> reader =
      ledger::OpenLedgerReadOnly(ledger_dir);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::string> ledgered = LedgeredKindText(**reader);
  if (!ledgered.ok() && !absl::IsNotFound(ledgered.status())) return ledgered.status();
  std::string text;
  if (kind_file.empty()) {
    if (!ledgered.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ledgered.status().message(), "; give the kind file with --kind"));
    }
    text = *ledgered;
  } else {
    absl::StatusOr<AssetKind> loaded = LoadAssetKind(kind_file, &text);
    if (!loaded.ok()) return loaded.status();
    if (ledgered.ok() && *ledgered != text) {
      return absl::FailedPreconditionError(absl::StrCat(
          kind_file.string(),
          " is not the asset kind the ledger records for this twin; omit --kind to rebuild "
          "with the recorded one"));
    }
  }
  absl::StatusOr<AssetKind> kind = ParseAssetKind(text);
  if (!kind.ok()) {
    return absl::DataLossError(
        absl::StrCat("the recorded asset kind does not parse: ", kind.status().message()));
  }
  if (model && kind->simulator.horizon > 0) {
    model->set_horizon(static_cast<int>(kind->simulator.horizon));
  }
  if (model) {
    if (absl::Status fits = CheckModelFitsKind(*model, *kind); !fits.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the failure model does not fit the recorded asset kind: ", fits.message()));
    }
  }
  ModelCatalog catalog;
  if (!models_dir.empty()) {
    absl::Status loaded =
        LoadAdoptedModels(catalog, models_dir, TwinHorizon(*kind, model ? &*model : nullptr));
    if (!loaded.ok()) return loaded;
  }
  absl::StatusOr<RebuiltTwin> rebuilt =
      RebuildTwin(**reader, *kind, asset, 0, model ? &*model : nullptr, &catalog);
  if (!rebuilt.ok()) return rebuilt.status();
  if ((model || catalog.size() > 0) && rebuilt->twin->model() == nullptr) {
    std::string given = model ? absl::StrCat("the given one ('", model->version(), "')")
                              : std::string("no model given");
    if (catalog.size() > 0) absl::StrAppend(&given, " nor one of ", catalog.size(), " adopted");
    return absl::FailedPreconditionError(absl::StrCat(
        "the ledger's twin uses model '", rebuilt->twin->state().model_version, "', not ", given,
        models_dir.empty() ? "; give the agent's adopted models with --models "
                             "DATA_DIR/models"
                           : ""));
  }
  return rebuilt->twin->StateJson();
}

}  // namespace fleettwin::agent
