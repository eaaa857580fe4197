#!/usr/bin/env bash
# A tour of one twin (the main job is scripts/up.sh, the whole fleet). Installs what is missing,
# builds the release preset, starts a Mosquitto broker and a fleet-agent for C-MAPSS engine 31
# (its FD001 test trajectory replayed at 100x, plus MQTT telemetry with some bad samples) with
# the shipped failure model predicting its RUL every cycle, reads the twin over HTTP, asks it
# what-if questions (Monte Carlo), stops the agent with SIGTERM, and audits its ledger as an
# outsider would: verify with the public key, rebuild the twin from the ledger alone and
# compare it with what the agent served, prove one entry. Then a small fleet: fleet-coordinator
# and five agents (FD001 test engines 1-5) over ZeroMQ with CURVE keys made by fleetctl, a
# negotiated maintenance plan, and the fleet ledger audited: every agent ledger cross-checked
# against the checkpoints the fleet anchored, and the plan re-solved from its ledgered bids.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target fleet-agent fleet-audit fleet-coordinator \
  fleetctl >/dev/null

out=${FLEETTWIN_DEMO_DIR:-build/demo}
agent_bin=build/release/agent/fleet-agent
audit_bin=build/release/ledger/fleet-audit
kind=kinds/cmapss-turbofan.json
model=data/models/cmapss-fd001-mlp
rm -rf "$out" && mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }
wait_for() {  # wait_for SECONDS COMMAND...: retry until the command succeeds.
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then echo "timed out waiting for: $*" >&2; exit 1; fi
    sleep 0.1
  done
}

echo "== 1. an MQTT broker (Eclipse Mosquitto) on loopback"
mqtt_port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nlog_dest none\n' \
  "$mqtt_port" >"$out/mosquitto.conf"
/usr/sbin/mosquitto -c "$out/mosquitto.conf" &
pids+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$mqtt_port"
echo "mosquitto on tcp://127.0.0.1:$mqtt_port"
echo

echo "== 2. fleet-agent for engine 31: C-MAPSS replay at 100x, MQTT subscription, HTTP API,"
echo "      the failure model in $model"
$agent_bin --asset engine-31 --kind "$kind" --data-dir "$out/engine-31" --model "$model" \
  --replay data/cmapss/test_FD001.txt --replay-unit 31 --speed 100x \
  --mqtt "tcp://127.0.0.1:$mqtt_port" --http 127.0.0.1:0 >"$out/engine-31.exit.json" \
  2>"$out/engine-31.log" &
agent=$!
pids+=($agent)
wait_for 10 grep -q "HTTP 127.0.0.1:" "$out/engine-31.log"
cat "$out/engine-31.log"
http=http://$(grep -o 'HTTP 127.0.0.1:[0-9]*' "$out/engine-31.log" | cut -d' ' -f2)
wait_for 10 curl -sf "$http/readyz"
echo "readyz: $(curl -s "$http/readyz")"
echo "replaying 196 cycles at 100x..."
wait_for 60 bash -c "curl -s $http/metrics | grep -q '^fleettwin_agent_replay_done{asset=\"engine-31\"} 1'"
echo

echo "== 3. MQTT telemetry on fleettwin/engine-31/telemetry: one good cycle and three bad ones"
row=$(awk '$1 == 31 && $2 == 196 { $1 = ""; $2 = ""; print }' data/cmapss/test_FD001.txt)
names=(os1 os2 os3 s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12 s13 s14 s15 s16 s17 s18 s19 s20 s21)
values=($row)
json_values() {  # json_values OVERRIDE_NAME OVERRIDE_VALUE
  local out="" i
  for i in "${!names[@]}"; do
    local v=${values[$i]}
    [[ ${names[$i]} == "$1" ]] && v=$2
    out+="\"${names[$i]}\": $v,"
  done
  echo "{${out%,}}"
}
publish() { mosquitto_pub -p "$mqtt_port" -q 1 -t fleettwin/engine-31/telemetry -m "$1"; }
publish "{\"samples\": [{\"time\": 197, \"values\": $(json_values none 0)}]}"
publish "{\"samples\": [{\"time\": 198, \"values\": $(json_values s11 '"high"')},
                        {\"time\": 199, \"values\": $(json_values s4 1e308)},
                        {\"time\": 150, \"values\": $(json_values none 0)}]}"
publish "this is not JSON"
wait_for 20 bash -c "curl -s $http/metrics | grep -q '^fleettwin_agent_source_messages_total{asset=\"engine-31\",source=\"mqtt\"} 3'"
wait_for 20 bash -c "curl -s $http/quarantine | grep -q '\"total\":3'"
curl -s "$http/metrics" | grep -E '^fleettwin_agent_(samples_|twin_revision|ledger_entries|source_malformed|queue_dropped|ledger_append_seconds_count)' | grep -v ' 0$' || true
echo "quarantine:"
curl -s "$http/quarantine" | grep -o '"detail":"[^"]*"\|"reason":"[a-z_]*"' | paste -d' ' - - |
  sed 's/^/  /'
echo

echo "== 4. an operator sets a desired value (recorded in the ledger as a twin update)"
curl -s -X PUT "$http/desired/max_s11" -H 'Content-Type: application/json' \
  -d '{"value": 48.0, "author": "demo-operator"}'
curl -s "$http/twin" >"$out/engine-31.twin.json"
echo "the twin (/twin, saved in $out/engine-31.twin.json):"
head -c 600 "$out/engine-31.twin.json"; echo " ..."
echo

echo "== 5. the failure model's view and what-if questions (Monte Carlo, 2000 replications each)"
curl -s "$http/metrics" | grep -E '^fleettwin_twin_(rul|failure_probability|model_info)'
whatif() {  # whatif BODY: prints cost and P(failure within 30 cycles) with 95% intervals.
  curl -s -X POST "$http/whatif" -d "$1" | python3 -c '
import json, sys
a = json.load(sys.stdin)["answers"]
c, p = a["cost"], a["p_failure_before"]
print("cost %.1f [%.1f, %.1f]   P(failure within 30) %.3f [%.3f, %.3f]" % (
    c["mean"], c["ci"][0], c["ci"][1], p["mean"], p["ci"][0], p["ci"][1]))'
}
for at in 5 20 40; do
  printf '  maintenance in %2s cycles: ' "$at"
  whatif "{\"maintenance_at\": $at, \"replications\": 2000}"
done
printf '  run to failure:          '
whatif '{"replications": 2000}'
echo

echo "== 6. SIGTERM: the agent drains, flushes its ledger and exits 0"
kill -TERM "$agent"
wait "$agent"
tail -n 1 "$out/engine-31.log"
echo

echo "== 7. the auditor: verify with the public key only, rebuild the twin from the ledger alone"
echo "      (with the model the ledger names, to recompute its predictions)"
$audit_bin verify "$out/engine-31/ledger" --key "$out/engine-31/agent.vkey"
$agent_bin replay-ledger "$out/engine-31/ledger" --asset engine-31 --model "$model" \
  >"$out/engine-31.rebuilt.json"
if cmp -s "$out/engine-31.rebuilt.json" "$out/engine-31.twin.json"; then
  echo "the twin rebuilt from the ledger alone (it records the asset kind too) is byte-identical to what /twin served"
else
  echo "unexpected: the rebuilt twin differs from /twin" >&2
  diff <(tr ',' '\n' <"$out/engine-31.rebuilt.json") <(tr ',' '\n' <"$out/engine-31.twin.json") >&2
  exit 1
fi
size=$($audit_bin checkpoint "$out/engine-31/ledger" | sed -n 2p)
echo "inclusion proof of the last entry ($((size - 1))) in the signed tree of $size:"
$audit_bin prove "$out/engine-31/ledger" $((size - 1))
echo

echo "== 8. a fleet: fleet-coordinator and five agents (FD001 test engines 1-5), CURVE keys from fleetctl"
ctl_bin=build/release/coordinator/fleetctl
fleet=$out/fleet
mkdir -p "$fleet/keys/agents" "$fleet/keys/operators"
$ctl_bin keys generate coordinator --out "$fleet/keys" >/dev/null
$ctl_bin keys generate engine-1 engine-2 engine-3 engine-4 engine-5 --out "$fleet/keys/agents" >/dev/null
$ctl_bin keys generate operator --out "$fleet/keys/operators" >/dev/null
bind=tcp://127.0.0.1:$(free_port)
control=tcp://127.0.0.1:$(free_port)
build/release/coordinator/fleet-coordinator --bind "$bind" --control "$control" \
  --key "$fleet/keys/coordinator.curve-secret" --agents-dir "$fleet/keys/agents" \
  --operators-dir "$fleet/keys/operators" --data-dir "$fleet/coordinator" \
  --anchor-interval-ms 500 2>"$fleet/coordinator.log" &
coordinator=$!
pids+=($coordinator)
wait_for 10 grep -q "control on" "$fleet/coordinator.log"
cat "$fleet/coordinator.log"
agents=()
for i in 1 2 3 4 5; do
  $agent_bin --asset "engine-$i" --kind "$kind" --data-dir "$fleet/engine-$i" --model "$model" \
    --replay data/cmapss/test_FD001.txt --replay-unit "$i" --speed max \
    --coordinator "$bind" --coordinator-key "$fleet/keys/coordinator.curve-public" \
    --agent-key "$fleet/keys/agents/engine-$i.curve-secret" --heartbeat-ms 200 \
    --bid-replications 1000 >"$fleet/engine-$i.exit.json" 2>"$fleet/engine-$i.log" &
  agents+=($!)
  pids+=($!)
done
ctl() { $ctl_bin --coordinator "$control" --coordinator-key "$fleet/keys/coordinator.curve-public" \
  --operator-key "$fleet/keys/operators/operator.curve-secret" "$@"; }
wait_for 60 bash -c "$(declare -f ctl); ctl_bin=$ctl_bin control=$control fleet=$fleet; \
  ctl --json agents | python3 -c 'import json,sys; a=json.load(sys.stdin); sys.exit(0 if len([m for m in a if \"rul\" in m.get(\"twin\",{})])==5 else 1)'"
ctl agents
echo

echo "== 9. a maintenance plan negotiated with the agents (contract net: each bids from its own"
echo "      twin's Monte Carlo; the coordinator solves exactly under 2 crews, slots of 5 cycles)"
ctl plan maintenance --id demo-1 --horizon 150 --duration 5 --crews 2 --bid-window-ms 3000
echo
echo "== 9b. a task auctioned to the agent whose twin simulates the cheapest completion"
ctl task submit --id inspect-1 --duration 5 --deadline 20 --bid-window-ms 3000
echo
sleep 1  # One more heartbeat each, so the latest checkpoints are anchored.
ctl ledger heads
for a in "${agents[@]}"; do kill -TERM "$a"; done
for a in "${agents[@]}"; do wait "$a"; done
kill -TERM "$coordinator"
wait "$coordinator"
tail -n 1 "$fleet/coordinator.log"
echo

echo "== 10. the auditor: the fleet ledger verifies; every agent ledger agrees with what the fleet"
echo "       anchored; the plan re-solves identically from its ledgered bids"
$audit_bin verify "$fleet/coordinator/ledger" --key "$fleet/coordinator/coordinator.vkey" --quiet
$audit_bin crosscheck "$fleet/coordinator/ledger" "$fleet"/engine-*/ledger
$audit_bin replay-plan "$fleet/coordinator/ledger"
echo
echo "demo done: ledgers in $out/engine-31/ledger and $fleet (coordinator/ledger, engine-N/ledger)"
