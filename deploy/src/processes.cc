#include "processes.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace fleettwin::deploy {
namespace {

absl::StatusOr<pid_t> SpawnRaw(const std::filesystem::path& binary,
                               const std::vector<std::string>& args,
                               const std::filesystem::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // Nothing else of ours: a fleet left running must not hold the launcher's caller's pipes.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> argv_strings = {binary.string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot start ", binary.string(), ": ", std::strerror(err)));
  }
  return pid;
}

bool RunsBinary(pid_t pid, const std::filesystem::path& binary) {
  std::error_code ec;
  const std::filesystem::path exe =
      std::filesystem::read_symlink(absl::StrCat("/proc/", pid, "/exe"), ec);
  if (ec) return false;
  // A binary replaced by a rebuild shows as "PATH (deleted)".
  const std::string s = exe.string();
  return s == binary.string() || s == binary.string() + " (deleted)";
}

}  // namespace

absl::StatusOr<ChildProcess> Spawn(const std::string& name, const std::filesystem::path& binary,
                                   const std::vector<std::string>& args,
                                   const std::filesystem::path& log) {
  absl::StatusOr<pid_t> pid = SpawnRaw(binary, args, log);
  if (!pid.ok()) return pid.status();
  return ChildProcess{name, *pid, binary, log};
}

absl::StatusOr<int> RunToEnd(const std::filesystem::path& binary,
                             const std::vector<std::string>& args,
                             const std::filesystem::path& log, int timeout_s) {
  absl::StatusOr<pid_t> pid = SpawnRaw(binary, args, log);
  if (!pid.ok()) return pid.status();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(*pid, &status, WNOHANG);
    if (r == *pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno != EINTR) return absl::InternalError("waitpid failed");
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(*pid, SIGKILL);
      ::waitpid(*pid, &status, 0);
      return absl::DeadlineExceededError(
          absl::StrCat(binary.filename().string(), " did not finish within ", timeout_s, " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool Running(const ChildProcess& p) {
  if (p.pid <= 0) return false;
  int status = 0;
  if (::waitpid(p.pid, &status, WNOHANG) == p.pid) return false;  // Our child, now reaped.
  return ::kill(p.pid, 0) == 0 && RunsBinary(p.pid, p.binary);
}

void StopAll(const std::vector<ChildProcess>& processes, int grace_s, std::ostream& progress) {
  std::vector<const ChildProcess*> left;
  for (const ChildProcess& p : processes) {
    if (Running(p) && ::kill(p.pid, SIGTERM) == 0) left.push_back(&p);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_s);
  while (!left.empty() && std::chrono::steady_clock::now() < deadline) {
    std::erase_if(left, [](const ChildProcess* p) { return !Running(*p); });
    if (!left.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const ChildProcess* p : left) {
    progress << "  " << p->name << " (pid " << p->pid << ") ignored SIGTERM for " << grace_s
             << " s: SIGKILL\n";
    ::kill(p->pid, SIGKILL);
    int status = 0;
    ::waitpid(p->pid, &status, 0);
  }
}

}  // namespace fleettwin::deploy
