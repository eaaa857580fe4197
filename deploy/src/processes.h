// Child processes of the launcher: spawned in their own session (Ctrl-C reaches only the
// launcher, which stops them in order) with output to a log file, and stopped by pid, checking
// the pid still runs the binary it was started from.
#ifndef FLEETTWIN_DEPLOY_PROCESSES_H_
#define FLEETTWIN_DEPLOY_PROCESSES_H_

#include <sys/types.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fleettwin::deploy {

struct ChildProcess {
  std::string name;
  pid_t pid = 0;
  std::filesystem::path binary;  // Absolute.
  std::filesystem::path log;
};

// Starts `binary args...` with stdin from /dev/null and stdout+stderr appended to `log`.
absl::StatusOr<ChildProcess> Spawn(const std::string& name, const std::filesystem::path& binary,
                                   const std::vector<std::string>& args,
                                   const std::filesystem::path& log);

// Runs `binary args...` to its end (output to `log`); returns its exit code (128+signal if
// killed). Errors: Unavailable if it could not start, DeadlineExceeded after `timeout_s`.
absl::StatusOr<int> RunToEnd(const std::filesystem::path& binary,
                             const std::vector<std::string>& args,
                             const std::filesystem::path& log, int timeout_s);

// True while `p.pid` exists and runs p.binary (not a reused pid). Reaps it if it is our child.
bool Running(const ChildProcess& p);

// SIGTERM to each (in order), wait up to `grace_s` for all, SIGKILL what is left.
void StopAll(const std::vector<ChildProcess>& processes, int grace_s, std::ostream& progress);

}  // namespace fleettwin::deploy

#endif  // FLEETTWIN_DEPLOY_PROCESSES_H_
