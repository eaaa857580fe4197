// Child process for crash_test: appends from several threads forever and prints
// "<index> <payload>\n" for every acknowledged entry, until it is killed.
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fleettwin/common/clock.h"
#include "fleettwin/ledger/ledger.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR RUN\n", argv[0]);
    return 2;
  }
  std::array<uint8_t, 32> seed;
  seed.fill(42);
  auto key = fleettwin::ledger::SignerKeyFromSeed("fleettwin.test/crash", seed);
  fleettwin::SystemClock clock;
  fleettwin::ledger::LedgerOptions options;
  options.directory = argv[1];
  options.origin = "fleettwin.test/crash";
  options.group_commit_entries = 64;
  auto ledger = fleettwin::ledger::OpenLedger(options, clock, *key);
  if (!ledger.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(ledger.status().message()).c_str());
    return 1;
  }
  const std::string run = argv[2];
  std::mutex out_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t seq = 0;; ++seq) {
        std::vector<fleettwin::ledger::NewEntry> batch;
        const int n = 1 + static_cast<int>(seq % 3);
        for (int i = 0; i < n; ++i) {
          batch.push_back({"test.crash", "thread-" + std::to_string(t), seq, 0,
                           "r" + run + "-t" + std::to_string(t) + "-s" + std::to_string(seq) + "-" +
                               std::to_string(i)});
        }
        auto first = (*ledger)->AppendBatch(batch);
        if (!first.ok()) {
          std::fprintf(stderr, "append: %s\n", std::string(first.status().message()).c_str());
          std::_Exit(1);
        }
        std::string lines;
        for (int i = 0; i < n; ++i) {
          lines += std::to_string(*first + i) + " " + batch[i].payload + "\n";
        }
        std::lock_guard lock(out_mu);
        // One write per acknowledgement: the parent only trusts complete lines.
        if (::write(STDOUT_FILENO, lines.data(), lines.size()) < 0) std::_Exit(1);
      }
    });
  }
  for (auto& th : threads) th.join();
}
