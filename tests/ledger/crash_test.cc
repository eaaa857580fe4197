// Crash safety: a child appends and reports acknowledged indices; the parent kills it with
// SIGKILL at random moments, then checks that the ledger reopens, verifies, and holds every
// acknowledged entry unchanged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>
#include <sstream>

#include "fleettwin/ledger/ledger.h"
#include "fleettwin/ledger/verify.h"
#include "ledger_test_util.h"

namespace fleettwin::ledger {
namespace {

constexpr char kOrigin[] = "fleettwin.test/crash";
constexpr int kKills = 40;

// Runs the child for about `run_ms`, kills it, and returns everything it printed.
std::string RunAndKill(const std::filesystem::path& dir, int run, int run_ms) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    const std::string run_text = std::to_string(run);
    ::execl(FLEETTWIN_CRASH_CHILD, FLEETTWIN_CRASH_CHILD, dir.c_str(), run_text.c_str(), nullptr);
    std::_Exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buffer[1 << 16];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  bool killed = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    ::poll(&p, 1, killed ? 1000 : static_cast<int>(left));
    if (p.revents & (POLLIN | POLLHUP)) {
      const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
      if (n > 0) {
        out.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) break;  // EOF: the child is gone and the pipe drained.
    } else if (killed) {
      break;
    }
  }
  if (!killed) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child ended on its own with status " << status;
  return out;
}

TEST(CrashTest, SigkillAtRandomMomentsLosesNoAcknowledgedEntry) {
  testing::TempDir dir;
  const std::filesystem::path db = dir.path() / "ledger";
  std::array<uint8_t, 32> seed;
  seed.fill(42);
  const SignerKey key = *SignerKeyFromSeed(kOrigin, seed);
  std::mt19937 rng(12345);
  std::map<uint64_t, std::string> acked;
  FakeClock clock;
  for (int run = 0; run < kKills; ++run) {
    const int run_ms = 20 + static_cast<int>(rng() % 180);
    const std::string out = RunAndKill(db, run, run_ms);
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (lines.eof()) break;  // A torn last line was never fully reported.
      std::istringstream fields(line);
      uint64_t index;
      std::string payload;
      ASSERT_TRUE(fields >> index >> payload) << line;
      ASSERT_TRUE(acked.emplace(index, payload).second) << "index acknowledged twice: " << index;
    }
    // The ledger reopens for writing (tail checked against the signed checkpoint)...
    LedgerOptions options;
    options.directory = db;
    options.origin = kOrigin;
    {
      auto ledger = OpenLedger(options, clock, key);
      ASSERT_TRUE(ledger.ok()) << "run " << run << ": " << ledger.status();
      if (!acked.empty()) {
        ASSERT_GT((*ledger)->Size(), acked.rbegin()->first);
      }
      // ...and holds every acknowledged entry unchanged.
      auto next = acked.begin();
      ASSERT_TRUE((*ledger)
                      ->Scan(0, (*ledger)->Size(),
                             [&](const Entry& entry, const std::string&) {
                               if (next != acked.end() && next->first == entry.index) {
                                 EXPECT_EQ(entry.payload, next->second) << "entry " << entry.index;
                                 ++next;
                               }
                               return true;
                             })
                      .ok());
      ASSERT_TRUE(next == acked.end()) << "acknowledged entry " << next->first << " is missing";
    }
    absl::StatusOr<VerifyReport> report = VerifyLedger(db, key.Verifier());
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_TRUE(report->ok()) << "run " << run << ": index " << *report->first_bad_index << ": "
                              << report->reason;
  }
  std::cout << "[ info ] " << kKills << " kills, " << acked.size()
            << " acknowledged entries, all present and verified\n";
  EXPECT_GT(acked.size(), static_cast<size_t>(kKills));
}

}  // namespace
}  // namespace fleettwin::ledger
