#!/usr/bin/env bash
# The main job until the local fleet lands: the audit ledger on real data. Installs what is
# missing, builds the release preset, records engine 1's C-MAPSS FD001 test trajectory in a
# signed ledger, and audits it as an outsider would: verify, checkpoint, inclusion and
# consistency proofs, export, and a verification with the wrong key that must fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target fleet-ledger fleet-audit >/dev/null

out=${FLEETTWIN_DEMO_DIR:-build/demo}
bin=build/release/ledger
rm -rf "$out" && mkdir -p "$out"
origin="fleettwin.demo/agent/engine-1"

echo "== 1. keys: a signing key for engine 1's ledger and its public verifier key"
$bin/fleet-ledger keygen --name "$origin" --out "$out/engine-1"
echo

echo "== 2. record engine 1's test trajectory (data/cmapss/test_FD001.txt), one entry per cycle"
awk '$1 == 1 { $1 = $1; print }' data/cmapss/test_FD001.txt |
  $bin/fleet-ledger append "$out/ledger" --key "$out/engine-1.key" --kind telemetry.cmapss \
    --author engine-1 | tail -n 1 | sed 's/^/last acknowledged index: /'
echo "maintenance done, crew 2" |
  $bin/fleet-ledger append "$out/ledger" --key "$out/engine-1.key" --kind manual --author operator |
  sed 's/^/manual record at index: /'
echo

echo "== 3. the auditor verifies everything with the public key only"
$bin/fleet-audit verify "$out/ledger" --key "$out/engine-1.vkey"
echo

echo "== 4. the latest signed checkpoint (C2SP signed note)"
$bin/fleet-audit checkpoint "$out/ledger"
echo

echo "== 5. proof that cycle 10 (index 9) is in the log, and consistency of size 16 with the latest"
$bin/fleet-audit prove "$out/ledger" 9
size=$($bin/fleet-audit checkpoint "$out/ledger" | sed -n 2p)
$bin/fleet-audit consistency "$out/ledger" 16 "$size"
echo

echo "== 6. export: the first entry as JSON"
$bin/fleet-audit export "$out/ledger" --to 1
echo

echo "== 7. a key the auditor does not trust must fail verification"
$bin/fleet-ledger keygen --name "$origin" --out "$out/impostor" >/dev/null 2>&1
if $bin/fleet-audit verify "$out/ledger" --key "$out/impostor.vkey" --quiet; then
  echo "unexpected: verified with the wrong key" >&2
  exit 1
fi
echo
echo "demo done: the ledger is in $out/ledger, keys in $out/"
