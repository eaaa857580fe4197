#!/usr/bin/env bash
# The offline check of fleettwin's Kubernetes manifests that CI runs: no cluster, no image.
#
#   tests/deploy/check_manifests.sh FLEETCTL BIN_DIR REPO_DIR
#
#   a. kubectl kustomize deploy/k8s/base and deploy/k8s/agent render;
#   b. FLEETCTL deploy render --assets tests/deploy/assets-3.yaml writes a fleet's kustomization,
#      its base/ and agent/ identical to deploy/k8s (fleetctl embeds them when it is built);
#   c. kubectl kustomize renders it;
#   d. every rendered object is valid for the Kubernetes schema of its kind (validate.mjs; needs
#      `npm ci --prefix tests/deploy` first);
#   e. the render is the fleet asked for, one line per assertion (check_fleet.py): 3 agent
#      StatefulSets, one per asset, each with its own claim template and key Secret, one
#      coordinator Deployment, every reference resolved; each agent's flags (--http-operator,
#      federated learning for an asset with a history); three different agent keys, each
#      matching its public key in fleet-agent-keys; every pod's and container's
#      securityContext, probes and resources; the NetworkPolicies (agents' egress, 8081 and
#      7401 from operator pods only, no auditor path to them); the PodDisruptionBudget and the
#      Prometheus annotations;
#   f. every container's command line passes its binary's --check-config (check_args.py).
#
# Needs kubectl (with kustomize; v2.0.3 of Debian's kubectl 1.20 will do), node 18 or later
# and python3 with PyYAML. Closes with
# "check_manifests: N passed, M failed"; exit 1 when a check failed, 2 on bad usage.
# KEEP=1 keeps the scratch directory.
set -uo pipefail

if (($# != 3)); then
  echo "usage: $0 FLEETCTL BIN_DIR REPO_DIR" >&2
  exit 2
fi
abs() { [[ $1 == /* ]] && echo "$1" || echo "$PWD/$1"; }
fleetctl=$(abs "$1")
bin_dir=$(abs "$2")
repo=$(cd "$3" && pwd) || { echo "check_manifests: no directory $3" >&2; exit 2; }
here=$repo/tests/deploy
assets=tests/deploy/assets-3.yaml

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_manifests.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then
  echo "check_manifests: scratch directory: $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# Prints a failed step's log, indented.
show() { sed 's/^/     | /' "$1"; }
# kustomize's warnings (deprecated fields) are worth seeing once, not failing on.
warnings() {
  grep -h '^# Warning' "$@" 2>/dev/null | sort -u | sed 's/^# /     note: kustomize: /'
}

# a. The static kustomizations.
for dir in deploy/k8s/base deploy/k8s/agent; do
  out=$tmp/$(basename "$dir")
  if kubectl kustomize "$repo/$dir" >"$out.yaml" 2>"$out.log"; then
    pass "kubectl kustomize $dir ($(grep -c '^kind:' "$out.yaml") objects)"
  else
    fail "kubectl kustomize $dir"
    show "$out.log"
  fi
done

# b. The render.
rendered=0
if (cd "$repo" && "$fleetctl" deploy render --assets "$assets" --out "$tmp/render") \
    >"$tmp/render.log" 2>&1; then
  pass "fleetctl deploy render --assets $assets"
  rendered=1
else
  fail "fleetctl deploy render --assets $assets"
  show "$tmp/render.log"
fi

# The render copies deploy/k8s as fleetctl embedded it at build time: a stale fleetctl would
# check old manifests.
if ((rendered)); then
  for dir in base agent; do
    if diff -r "$repo/deploy/k8s/$dir" "$tmp/render/$dir" >"$tmp/diff-$dir.log" 2>&1; then
      pass "the render's $dir/ is deploy/k8s/$dir"
    else
      fail "the render's $dir/ differs from deploy/k8s/$dir (rebuild fleetctl)"
      show "$tmp/diff-$dir.log"
    fi
  done
fi

# c. The render's kustomization.
built=0
if ((rendered)); then
  if kubectl kustomize "$tmp/render" >"$tmp/all.yaml" 2>"$tmp/kustomize.log"; then
    pass "kubectl kustomize of the render ($(grep -c '^kind:' "$tmp/all.yaml") objects)"
    warnings "$tmp/kustomize.log"
    built=1
  else
    fail "kubectl kustomize of the render"
    show "$tmp/kustomize.log"
  fi
else
  fail "kubectl kustomize of the render: no render"
fi

# d. Schemas.
if [[ ! -d $here/node_modules/kubernetes-models || ! -d $here/node_modules/yaml ]]; then
  fail "schema validation: $here/node_modules is missing; run: npm ci --prefix tests/deploy"
elif ((built)); then
  if node "$here/validate.mjs" "$tmp/all.yaml" >"$tmp/validate.log" 2>&1; then
    pass "schemas: $(tail -n1 "$tmp/validate.log")"
  else
    fail "schemas: $(tail -n1 "$tmp/validate.log")"
    show "$tmp/validate.log"
  fi
else
  fail "schema validation: nothing rendered"
fi

# e. The shape of the fleet.
if ((built)); then
  python3 "$here/check_fleet.py" "$tmp/all.yaml" "$repo/$assets" >"$tmp/assert.log" 2>&1
  while IFS= read -r line; do
    case $line in
      "ok   "*) pass "${line#ok   }" ;;
      "FAIL "*) fail "${line#FAIL }" ;;
      *) fail "assertions: $line" ;;
    esac
  done <"$tmp/assert.log"
  [[ -s $tmp/assert.log ]] || fail "assertions: no output"
else
  fail "assertions: nothing rendered"
fi

# f. Command lines against the binaries.
if ((built)); then
  if python3 "$here/check_args.py" --repo "$repo" "$tmp/render" "$tmp/all.yaml" "$bin_dir" \
      >"$tmp/args.log" 2>&1; then
    pass "$(tail -n1 "$tmp/args.log")"
  else
    fail "$(tail -n1 "$tmp/args.log")"
    show "$tmp/args.log"
  fi
else
  fail "check_args: nothing rendered"
fi

echo "check_manifests: $passed passed, $failed failed"
((failed == 0))
