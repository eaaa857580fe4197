// Where the launcher and the renderer find what the project ships (kinds, C-MAPSS data,
// models) and the other binaries: in a source tree with its build folder, or installed
// (/usr/local/bin and /usr/share/fleettwin in the container image).
#ifndef FLEETTWIN_DEPLOY_SHARE_H_
#define FLEETTWIN_DEPLOY_SHARE_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace fleettwin::deploy {

struct Share {
  std::filesystem::path kinds, cmapss, models;
};

// `hint` if given (a source tree: kinds/, data/cmapss, data/models; or a share directory:
// kinds/, cmapss/, models/); else the first of the executable's folder and its parents that is
// one, then /usr/share/fleettwin. NotFound naming what is missing.
absl::StatusOr<Share> FindShare(const std::filesystem::path& hint);

// `name` in `bin_dir` (default: the executable's folder) or the build tree's agent/,
// coordinator/ and ledger/ folders beside or below it. NotFound.
absl::StatusOr<std::filesystem::path> FindBinary(const std::string& name,
                                                 const std::filesystem::path& bin_dir);

}  // namespace fleettwin::deploy

#endif  // FLEETTWIN_DEPLOY_SHARE_H_
