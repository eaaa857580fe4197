#include "fleettwin/agent/model_catalog.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fleettwin::agent {

const model::RulModel* ModelCatalog::Add(model::RulModel model) {
  std::string version = model.version();
  std::lock_guard lock(mu_);
  auto [it, added] = models_.try_emplace(std::move(version));
  if (added) it->second = std::make_unique<model::RulModel>(std::move(model));
  return it->second.get();
}

const model::RulModel* ModelCatalog::Find(std::string_view version) const {
  std::lock_guard lock(mu_);
  auto it = models_.find(version);
  return it == models_.end() ? nullptr : it->second.get();
}

size_t ModelCatalog::size() const {
  std::lock_guard lock(mu_);
  return models_.size();
}

namespace {

// fsync of a file or a directory.
absl::Status Sync(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", path.string(), ": ", std::strerror(errno)));
  }
  const int synced = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  if (synced != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot sync ", path.string(), ": ", std::strerror(saved_errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ModelCatalog::Save(const std::filesystem::path& dir, const model::RulModel& model) {
  const std::string version = model.version();
  const std::filesystem::path target = dir / version;
  std::error_code ec;
  if (std::filesystem::exists(target / "model.json", ec)) return absl::OkStatus();
  const std::filesystem::path staging = dir / (".staging-" + version);
  std::filesystem::remove_all(staging, ec);  // Left by a crash, if anything.
  absl::Status status = model.Save(staging);
  // Durable before it gets its name, and the name durable before the ledger may refer to it.
  for (std::filesystem::directory_iterator it(staging, ec);
       status.ok() && !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    status = Sync(it->path());
  }
  if (status.ok() && ec) {
    status =
        absl::UnavailableError(absl::StrCat("cannot list ", staging.string(), ": ", ec.message()));
  }
  if (status.ok()) status = Sync(staging);
  if (status.ok()) {
    std::filesystem::remove_all(target, ec);  // A directory without model.json: incomplete.
    std::filesystem::rename(staging, target, ec);
    if (ec) {
      status = absl::UnavailableError(
          absl::StrCat("cannot move the model into ", target.string(), ": ", ec.message()));
    }
  }
  if (status.ok()) status = Sync(dir);
  if (!status.ok()) std::filesystem::remove_all(staging, ec);
  return status;
}

absl::Status ModelCatalog::Load(const std::filesystem::path& dir,
                                const std::function<void(model::RulModel&)>& prepare,
                                std::vector<std::string>* problems) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
  }
  if (!exists) return absl::OkStatus();
  for (std::filesystem::directory_iterator it(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::filesystem::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory(ec) || name.empty() || name[0] == '.') continue;  // .staging-*
    absl::StatusOr<model::RulModel> loaded = model::RulModel::Load(entry.path());
    if (!loaded.ok()) {
      if (problems) problems->push_back(absl::StrCat(name, ": ", loaded.status().message()));
      continue;
    }
    if (loaded->version() != name) {
      if (problems) {
        problems->push_back(
            absl::StrCat(name, ": holds model ", loaded->version(), ", not the one its name says"));
      }
      continue;
    }
    if (prepare) prepare(*loaded);
    Add(std::move(*loaded));
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

int TwinHorizon(const AssetKind& kind, const model::RulModel* start) {
  if (kind.simulator.horizon > 0) return static_cast<int>(kind.simulator.horizon);
  return start != nullptr ? start->horizon() : 0;
}

absl::Status LoadAdoptedModels(ModelCatalog& catalog, const std::filesystem::path& dir,
                               int horizon) {
  std::vector<std::string> problems;
  absl::Status loaded = catalog.Load(
      dir,
      [horizon](model::RulModel& m) {
        if (horizon > 0) m.set_horizon(horizon);
      },
      &problems);
  if (!loaded.ok()) return loaded;
  if (!problems.empty()) {
    return absl::DataLossError(absl::StrCat("adopted models in ", dir.string(),
                                            " do not load: ", absl::StrJoin(problems, "; ")));
  }
  return absl::OkStatus();
}

}  // namespace fleettwin::agent
