#!/usr/bin/env bash
# The test command: installs what is missing, then runs a short coverage-guided fuzz run
# (clang), the AddressSanitizer+UBSan build of every test, and last the release build of every
# test, whose ctest summary closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
# The Kubernetes schema validator's packages, pinned by tests/deploy/package-lock.json.
if ! cmp -s tests/deploy/package-lock.json tests/deploy/node_modules/.fleettwin-lock 2>/dev/null; then
  npm ci --prefix tests/deploy --no-audit --no-fund --loglevel=error >/dev/null
  cp tests/deploy/package-lock.json tests/deploy/node_modules/.fleettwin-lock
fi

if command -v clang++ >/dev/null && [[ "${FLEETTWIN_SKIP_FUZZ:-0}" != 1 ]]; then
  seconds=${FLEETTWIN_FUZZ_SECONDS:-60}
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz --target ledger_fuzz agent_fuzz federated_fuzz -j"$jobs" >/dev/null
  # Half of the time for the ledger's decoders, the rest shared by the agent's and federated's.
  for target in ledger_fuzz:$((seconds / 2)) agent_fuzz:$((seconds / 4)) federated_fuzz:$((seconds / 4)); do
    name=${target%%:*}
    echo "== libFuzzer: $name for ${target##*:}s"
    mkdir -p "build/fuzz/corpus-$name"
    "./build/fuzz/tests/fuzz/$name" -max_total_time="${target##*:}" -print_final_stats=1 \
      "build/fuzz/corpus-$name" 2>"build/fuzz/$name.log" || { tail -n 40 "build/fuzz/$name.log"; exit 1; }
    grep -E "^Done" "build/fuzz/$name.log" || true
  done
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
