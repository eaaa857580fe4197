#!/usr/bin/env bash
# The main job: a whole fleet on this machine. Installs what is missing (apt, quiet,
# idempotent), builds the release preset, then runs `fleetctl up` (docs/operations.md): the
# coordinator and 20 agents for C-MAPSS FD001 engines as processes on loopback, federated
# rounds, live replay, a negotiated maintenance plan, every ledger audited, and a summary.
# Extra arguments go to fleetctl up (e.g. --assets 5 --speed max --keep-running).
set -euo pipefail
cd "$(dirname "$0")/.."
fleetctl=build/release/coordinator/fleetctl
data_dir=(--data-dir build/fleet)
for arg in "$@"; do
  # Help needs no install or build when fleetctl is already there.
  if [[ ($arg == --help || $arg == -h) && -x $fleetctl ]]; then exec "$fleetctl" up --help; fi
  [[ $arg == --data-dir* ]] && data_dir=()
done
bash scripts/install-deps.sh
echo "== building (release preset; the first build takes a while)" >&2
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target fleetctl fleet-agent fleet-coordinator \
  fleet-audit >/dev/null
exec "$fleetctl" up "${data_dir[@]}" "$@"
