// Shared fixtures for ledger tests: temp directories, deterministic keys.
#ifndef FLEETTWIN_TESTS_LEDGER_LEDGER_TEST_UTIL_H_
#define FLEETTWIN_TESTS_LEDGER_LEDGER_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "fleettwin/ledger/ledger.h"
#include "testing/temp_dir.h"

namespace fleettwin::ledger::testing {

using ::fleettwin::testing::TempDir;

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
