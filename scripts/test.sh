#!/usr/bin/env bash
# The test command: installs what is missing, then runs a short coverage-guided fuzz run
# (clang), the AddressSanitizer+UBSan build of every test, and last the release build of every
# test, whose ctest summary closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

if command -v clang++ >/dev/null && [[ "${FLEETTWIN_SKIP_FUZZ:-0}" != 1 ]]; then
  echo "== libFuzzer: ledger_fuzz for ${FLEETTWIN_FUZZ_SECONDS:-60}s"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz --target ledger_fuzz -j"$jobs" >/dev/null
  mkdir -p build/fuzz/corpus
  ./build/fuzz/tests/fuzz/ledger_fuzz -max_total_time="${FLEETTWIN_FUZZ_SECONDS:-60}" \
    -print_final_stats=1 build/fuzz/corpus 2>build/fuzz/fuzz.log || { tail -n 40 build/fuzz/fuzz.log; exit 1; }
  grep -E "^(Done|stat::number_of_executed_units)" build/fuzz/fuzz.log || true
fi

if [[ "${FLEETTWIN_SKIP_ASAN:-0}" != 1 ]]; then
  echo "== asan: AddressSanitizer + UBSan build and tests"
  cmake --preset asan -DFLEETTWIN_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build --preset asan -j"$jobs" >/dev/null
  ctest --preset asan -j"$jobs"
fi

echo "== release build and tests"
cmake --preset release -DFLEETTWIN_WERROR=ON >/dev/null
cmake --build --preset release -j"$jobs"
ctest --preset release -j"$jobs"
