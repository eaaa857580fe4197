#include "share.h"

#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"

namespace fleettwin::deploy {
namespace {

namespace fs = std::filesystem;

std::optional<Share> ShareAt(const fs::path& root) {
  std::error_code ec;
  for (const auto& [cmapss, models] :
       {std::pair{root / "data" / "cmapss", root / "data" / "models"},
        std::pair{root / "cmapss", root / "models"}}) {
    if (fs::is_directory(root / "kinds", ec) && fs::is_directory(cmapss, ec) &&
        fs::is_directory(models, ec)) {
      return Share{root / "kinds", cmapss, models};
    }
  }
  return std::nullopt;
}

fs::path ExecutableDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

}  // namespace

absl::StatusOr<Share> FindShare(const fs::path& hint) {
  if (!hint.empty()) {
    if (auto s = ShareAt(hint)) return *s;
    return absl::NotFoundError(absl::StrCat(
        hint.string(), " has no kinds/ with data/cmapss and data/models (or cmapss/ and models/)"));
  }
  for (fs::path dir = ExecutableDir(); !dir.empty(); dir = dir.parent_path()) {
    if (auto s = ShareAt(dir)) return *s;
    if (dir == dir.root_path()) break;
  }
  if (auto s = ShareAt("/usr/share/fleettwin")) return *s;
  return absl::NotFoundError(
      "cannot find the shipped kinds and data (give --share: the source tree or "
      "/usr/share/fleettwin)");
}

absl::StatusOr<fs::path> FindBinary(const std::string& name, const fs::path& bin_dir) {
  const fs::path dir = bin_dir.empty() ? ExecutableDir() : bin_dir;
  for (const fs::path& candidate :
       {dir / name, dir / ".." / "agent" / name, dir / ".." / "coordinator" / name,
        dir / ".." / "ledger" / name, dir / "agent" / name, dir / "coordinator" / name,
        dir / "ledger" / name}) {
    if (::access(candidate.c_str(), X_OK) == 0) return fs::canonical(candidate);
  }
  return absl::NotFoundError(absl::StrCat("cannot find ", name, " in or beside ", dir.string(),
                                          " (give --bin-dir)"));
}

}  // namespace fleettwin::deploy
