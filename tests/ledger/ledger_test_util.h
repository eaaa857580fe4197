// Shared fixtures for ledger tests: temp directories, deterministic keys.
#ifndef FLEETTWIN_TESTS_LEDGER_LEDGER_TEST_UTIL_H_
#define FLEETTWIN_TESTS_LEDGER_LEDGER_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "fleettwin/ledger/ledger.h"

namespace fleettwin::ledger::testing {

// A fresh directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("fleettwin-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline SignerKey KeyFromByte(std::string_view name, uint8_t fill) {
  std::array<uint8_t, 32> seed;
  seed.fill(fill);
  return *SignerKeyFromSeed(name, seed);
}

inline NewEntry Record(uint64_t i) {
  return NewEntry{"test.record", "tester", i, 0, "payload #" + std::to_string(i)};
}

}  // namespace fleettwin::ledger::testing

#endif  // FLEETTWIN_TESTS_LEDGER_LEDGER_TEST_UTIL_H_
