#!/usr/bin/env python3
"""Assertions on a rendered fleet (step e of tests/deploy/check_manifests.sh), offline.

    check_fleet.py RENDERED_YAML ASSETS_YAML

RENDERED_YAML is `kubectl kustomize` of `fleetctl deploy render --assets ASSETS_YAML`. Prints
one line per assertion, "ok   WHAT" or "FAIL WHAT", and exits 1 when one failed. It checks:

  - the fleet's shape: one agent StatefulSet per asset, each with its own claim template and
    key Secret, one coordinator Deployment, every reference resolved, namespace and image;
  - each agent's command line: its asset's flags (--http, --http-operator on the ports the
    container declares; --fl-server/--fl-history/--fl-history-units for an asset with history);
  - the CURVE keys: the agents' key Secrets hold different keys, each agent's public key in
    the coordinator's fleet-agent-keys ConfigMap is the one in its secret file, each agent's
    coordinator key is the coordinator's, and no ConfigMap holds a secret key;
  - every pod and container's securityContext, every main container's probes and resources;
  - the NetworkPolicies: agents' egress, who reaches 8081 (agents) and 7401 (coordinator);
  - the PodDisruptionBudget and the Prometheus annotations.

Key files (common/src/curve.cc, docs/protocols.md) are one line each:
"fleettwin-curve-public NAME PUBLIC" and "fleettwin-curve-secret NAME SECRET PUBLIC", keys in
40-character Z85. That a secret file's PUBLIC is its SECRET's own is fleet-agent's to check:
--check-config (step f, check_args.py) reads the key file and refuses a pair that differs.
"""

from __future__ import annotations

import base64
import sys

import yaml

OPERATOR = {"fleettwin.io/role": "operator"}
AUDITOR = {"fleettwin.io/role": "auditor"}
SHARE_CMAPSS = "/usr/share/fleettwin/cmapss"
Z85 = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")

failures = 0


def check(ok, message):
    global failures
    failures += 0 if ok else 1
    print(("ok   " if ok else "FAIL ") + message)


def load(path):
    objects = []
    for doc in yaml.safe_load_all(open(path)):
        if isinstance(doc, dict) and doc.get("kind") == "List":
            objects += [o for o in doc.get("items") or [] if isinstance(o, dict)]
        elif isinstance(doc, dict):
            objects.append(doc)
    return objects


objects = load(sys.argv[1])
spec = yaml.safe_load(open(sys.argv[2]))
assets = {str(a["id"]): a for a in spec["assets"]}
asset_ids = set(assets)
namespace = spec.get("namespace")
image = spec.get("image")


def of_kind(kind):
    return [o for o in objects if o.get("kind") == kind]


def names(kind):
    return {o["metadata"]["name"] for o in of_kind(kind)}


def by_name(kind, name):
    found = [o for o in of_kind(kind) if o["metadata"]["name"] == name]
    return found[0] if found else None


def pod_of(workload):
    return workload["spec"]["template"]["spec"]


def labels_of(workload):
    return workload["spec"]["template"]["metadata"].get("labels") or {}


def containers(workload):
    pod = pod_of(workload)
    return list(pod.get("initContainers") or []) + list(pod.get("containers") or [])


def arg(container, flag):
    args = [str(a) for a in container.get("args") or []]
    return args[args.index(flag) + 1] if flag in args[:-1] else None


def port_of(address):
    """The port of HOST:PORT, or None."""
    try:
        return int(str(address).rpartition(":")[2])
    except ValueError:
        return None


def selects(selector, labels):
    """Whether a label selector (matchLabels, matchExpressions) matches `labels`. A missing
    selector is the caller's to interpret; an empty one matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != str(value):
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], [str(v) for v in e.get("values") or []]
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def decoded(obj):
    """A ConfigMap's or Secret's data as text (Secret data is base64; kustomize may wrap it)."""
    if obj.get("kind") == "Secret":
        data = {k: base64.b64decode(str(v)).decode("utf-8", "replace")
                for k, v in (obj.get("data") or {}).items()}
        data.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
        return data
    return {k: str(v) for k, v in (obj.get("data") or {}).items()}


def key_fields(text, tag, count):
    """The fields of a one-line key file after its tag, or None when it is not one."""
    line = text[:-1] if text.endswith("\n") else text
    fields = line.split(" ")
    if len(fields) != count + 1 or fields[0] != tag or "\n" in line:
        return None
    if any(len(k) != 40 or not set(k) <= Z85 for k in fields[2:]):
        return None
    return fields[1:]


def volume_source(workload, mount_path, container=None):
    """The volume mounted at `mount_path` in `container` (default: the first)."""
    container = container or pod_of(workload)["containers"][0]
    for m in container.get("volumeMounts") or []:
        if m["mountPath"] == mount_path:
            for v in pod_of(workload).get("volumes") or []:
                if v["name"] == m["name"]:
                    return v
    return None


# --- The shape of the fleet ----------------------------------------------------------------

agents = [o for o in of_kind("StatefulSet")
          if labels_of(o).get("app.kubernetes.io/name") == "fleet-agent"]
check(len(agents) == len(asset_ids),
      f"{len(agents)} agent StatefulSets for {len(asset_ids)} assets")
agent_of = {}  # asset id -> StatefulSet
for s in agents:
    agent_of.setdefault(arg(pod_of(s)["containers"][0], "--asset"), s)
assets_seen = [arg(pod_of(s)["containers"][0], "--asset") for s in agents]
check(sorted(a for a in assets_seen if a) == sorted(asset_ids),
      f"one agent per asset: --asset {sorted(map(str, assets_seen))}")
check(all(pod_of(s)["containers"][0]["name"] == "fleet-agent" for s in agents),
      "fleet-agent is the first container of every agent")
claims = [(s["metadata"]["name"], [c["metadata"]["name"] for c in s["spec"].get(
    "volumeClaimTemplates") or []]) for s in agents]
check(all(c for _, c in claims) and len({n for n, _ in claims}) == len(agents),
      f"{len({n for n, _ in claims})} distinct StatefulSets with claim templates: "
      + ", ".join(f"{n} {c}" for n, c in claims))
secrets = [sorted(v["secret"]["secretName"]
                  for v in pod_of(s).get("volumes") or [] if "secret" in v)
           for s in agents]
check(all(len(s) == 1 for s in secrets) and len({s[0] for s in secrets if s}) == len(agents),
      f"each agent mounts its own key Secret: {[s[0] if len(s) == 1 else s for s in secrets]}")
coordinators = [o for o in of_kind("Deployment") if o["metadata"]["name"] == "fleet-coordinator"]
check(len(coordinators) == 1 and len(of_kind("Deployment")) == 1,
      f"one coordinator Deployment ({len(coordinators)} named fleet-coordinator)")
coordinator = coordinators[0] if coordinators else None
workloads = agents + coordinators

# Every reference resolves: kustomize leaves a name it could not match as it was.
missing = []
for w in workloads:
    pod = pod_of(w)
    where = f"{w['kind']}/{w['metadata']['name']}"
    for v in pod.get("volumes") or []:
        if "secret" in v and v["secret"]["secretName"] not in names("Secret"):
            missing.append(f"{where}: Secret {v['secret']['secretName']}")
        if "configMap" in v and v["configMap"]["name"] not in names("ConfigMap"):
            missing.append(f"{where}: ConfigMap {v['configMap']['name']}")
        claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
        if claim and claim not in names("PersistentVolumeClaim"):
            missing.append(f"{where}: PersistentVolumeClaim {claim}")
    if pod.get("serviceAccountName") and pod["serviceAccountName"] not in names("ServiceAccount"):
        missing.append(f"{where}: ServiceAccount {pod['serviceAccountName']}")
    if w["kind"] == "StatefulSet" and w["spec"].get("serviceName") not in names("Service"):
        missing.append(f"{where}: Service {w['spec'].get('serviceName')}")
check(not missing, "every Secret, ConfigMap, claim, service account and service referenced exists"
      + (": missing " + "; ".join(missing) if missing else ""))
if namespace:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    outside = [f"{o['kind']}/{o['metadata']['name']}" for o in objects
               if o.get("kind") not in cluster_scoped
               and o["metadata"].get("namespace") != namespace]
    check(not outside, f"every object in namespace {namespace}"
          + (": not " + ", ".join(outside) if outside else ""))
if image:
    images = sorted({c["image"] for w in workloads for c in containers(w)})
    check(images == [image], f"every container runs {image}: {images}")

# --- Each agent's command line -------------------------------------------------------------

wrong = []
for asset_id, s in sorted(agent_of.items(), key=lambda kv: str(kv[0])):
    c = pod_of(s)["containers"][0]
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
    for flag, name in (("--http", "http"), ("--http-operator", "operator")):
        if arg(c, flag) is None:
            wrong.append(f"{asset_id}: no {flag}")
        elif ports.get(name) is None or port_of(arg(c, flag)) != ports[name]:
            wrong.append(f"{asset_id}: {flag} {arg(c, flag)} is not the container port "
                         f"{name} ({ports.get(name)})")
    if ports.get("http") is not None and ports.get("http") == ports.get("operator"):
        wrong.append(f"{asset_id}: http and operator share port {ports['http']}")
check(agent_of and not wrong,
      "every agent serves reads on its http port and writes on its operator port "
      "(--http, --http-operator)" + (": " + "; ".join(wrong) if wrong else ""))

wrong = []
fl_server_seen = set()
for asset_id, a in sorted(assets.items()):
    s = agent_of.get(asset_id)
    if s is None:
        continue
    c = pod_of(s)["containers"][0]
    history, units = a.get("history"), a.get("history_units")
    want = {"--fl-server": None, "--fl-history": None, "--fl-history-units": None}
    if history:
        want["--fl-server"] = "fleet-coordinator:9092"
        want["--fl-history"] = f"{SHARE_CMAPSS}/{history}"
        want["--fl-history-units"] = str(units) if units is not None else None
    for flag, value in want.items():
        if arg(c, flag) != value:
            wrong.append(f"{asset_id}: {flag} {arg(c, flag)!r}, not {value!r}")
    if arg(c, "--fl-server"):
        fl_server_seen.add(arg(c, "--fl-server"))
# --fl-server names the coordinator's Service and its Fleet API port.
for address in sorted(fl_server_seen):
    host, _, port = address.rpartition(":")
    service = by_name("Service", host)
    if service is None or not any(str(p.get("port")) == port
                                  for p in service["spec"].get("ports") or []):
        wrong.append(f"--fl-server {address}: no Service {host} with port {port}")
with_history = sorted(i for i, a in assets.items() if a.get("history"))
check(not wrong, f"federated learning flags for the assets with a history ({with_history}) and "
      "no others" + (": " + "; ".join(wrong) if wrong else ""))

# --- CURVE keys ----------------------------------------------------------------------------

agent_keys = {}  # asset id -> (name, secret, public) from its key Secret
problems = []
for asset_id, s in sorted(agent_of.items(), key=lambda kv: str(kv[0])):
    mounted = [v["secret"]["secretName"] for v in pod_of(s).get("volumes") or [] if "secret" in v]
    secret = by_name("Secret", mounted[0]) if len(mounted) == 1 else None
    if secret is None:
        problems.append(f"{asset_id}: no key Secret")
        continue
    text = decoded(secret).get("agent.curve-secret")
    fields = key_fields(text, "fleettwin-curve-secret", 3) if text is not None else None
    if fields is None:
        problems.append(f"{asset_id}: Secret {secret['metadata']['name']} holds no "
                        "agent.curve-secret key line")
        continue
    agent_keys[asset_id] = tuple(fields)
distinct_secret = {k[1] for k in agent_keys.values()}
distinct_public = {k[2] for k in agent_keys.values()}
check(not problems and len(agent_keys) == len(agents) and len(distinct_secret) == len(agent_keys)
      and len(distinct_public) == len(agent_keys),
      f"the {len(agents)} agents' key Secrets hold {len(distinct_secret)} different secret keys "
      f"and {len(distinct_public)} different public keys"
      + (": " + "; ".join(problems) if problems else ""))

# The coordinator admits the agents whose public keys are in its --agents-dir.
problems = []
allowed = {}
if coordinator is not None:
    main = pod_of(coordinator)["containers"][0]
    v = volume_source(coordinator, arg(main, "--agents-dir") or "", main)
    cm = by_name("ConfigMap", v["configMap"]["name"]) if v and "configMap" in v else None
    if cm is None:
        problems.append("the coordinator's --agents-dir is no ConfigMap volume")
    else:
        allowed = decoded(cm)
        if not cm["metadata"]["name"].startswith("fleet-agent-keys"):
            problems.append(f"the coordinator's agents come from {cm['metadata']['name']}")
for asset_id, (name, _, public) in sorted(agent_keys.items()):
    text = allowed.get(f"{asset_id}.curve-public")
    fields = key_fields(text, "fleettwin-curve-public", 2) if text is not None else None
    if name != asset_id:
        problems.append(f"{asset_id}: its secret file names {name}")
    if fields is None:
        problems.append(f"{asset_id}: no {asset_id}.curve-public key line in fleet-agent-keys")
    elif fields != [asset_id, public]:
        problems.append(f"{asset_id}: {asset_id}.curve-public is not the public key of its "
                        "secret file" + (f" (names {fields[0]})" if fields[0] != asset_id else ""))
extra = sorted(set(allowed) - {f"{i}.curve-public" for i in asset_ids})
if extra:
    problems.append(f"fleet-agent-keys admits keys of no asset: {extra}")
check(allowed and agent_keys and not problems,
      "each agent's secret key matches its own <id>.curve-public in the coordinator's "
      "fleet-agent-keys" + (": " + "; ".join(problems) if problems else ""))

# Each agent trusts the coordinator's own public key.
problems = []
coordinator_public = None
if coordinator is not None:
    mounted = [v["secret"]["secretName"] for v in pod_of(coordinator).get("volumes") or []
               if "secret" in v]
    secret = by_name("Secret", mounted[0]) if len(mounted) == 1 else None
    text = decoded(secret).get("coordinator.curve-secret") if secret else None
    fields = key_fields(text, "fleettwin-curve-secret", 3) if text is not None else None
    if fields is None:
        problems.append("no coordinator.curve-secret key line in the coordinator's Secret")
    else:
        coordinator_public = fields[2]
        if fields[1] in distinct_secret:
            problems.append("the coordinator's secret key is an agent's")
for asset_id, s in sorted(agent_of.items(), key=lambda kv: str(kv[0])):
    c = pod_of(s)["containers"][0]
    path = arg(c, "--coordinator-key") or ""
    directory, _, file = path.rpartition("/")
    v = volume_source(s, directory, c)
    cm = by_name("ConfigMap", v["configMap"]["name"]) if v and "configMap" in v else None
    text = decoded(cm).get(file) if cm else None
    fields = key_fields(text, "fleettwin-curve-public", 2) if text is not None else None
    if fields is None:
        problems.append(f"{asset_id}: --coordinator-key {path} is no key line in a ConfigMap")
    elif coordinator_public is not None and fields[1] != coordinator_public:
        problems.append(f"{asset_id}: --coordinator-key is not the coordinator's public key")
check(coordinator_public and not problems,
      "every agent's --coordinator-key is the coordinator's public key"
      + (": " + "; ".join(problems) if problems else ""))

leaks = [f"ConfigMap/{o['metadata']['name']} {k}" for o in of_kind("ConfigMap")
         for k, v in decoded(o).items() if "fleettwin-curve-secret" in v]
check(not leaks, "no ConfigMap holds a secret key" + (": " + ", ".join(leaks) if leaks else ""))

# --- Pods and containers -------------------------------------------------------------------

problems = []
for w in workloads:
    where = f"{w['kind']}/{w['metadata']['name']}"
    pod = pod_of(w)
    sc = pod.get("securityContext") or {}
    if sc.get("runAsNonRoot") is not True:
        problems.append(f"{where}: runAsNonRoot is {sc.get('runAsNonRoot')}")
    if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: seccompProfile {sc.get('seccompProfile')}")
    if sc.get("runAsUser") == 0:
        problems.append(f"{where}: runAsUser 0")
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            problems.append(f"{where}: {host}")
check(workloads and not problems,
      f"every pod ({len(workloads)}): runAsNonRoot, seccompProfile RuntimeDefault, no host "
      "namespaces" + (": " + "; ".join(problems) if problems else ""))

problems = []
count = 0
for w in workloads:
    for c in containers(w):
        count += 1
        where = f"{w['kind']}/{w['metadata']['name']} {c['name']}"
        sc = c.get("securityContext") or {}
        caps = sc.get("capabilities") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem {sc.get('readOnlyRootFilesystem')}")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation "
                            f"{sc.get('allowPrivilegeEscalation')}")
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{where}: capabilities.drop {caps.get('drop')}")
        if caps.get("add"):
            problems.append(f"{where}: capabilities.add {caps['add']}")
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
        # A container's own settings override the pod's.
        if sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0:
            problems.append(f"{where}: runs as root")
        if "seccompProfile" in sc and sc["seccompProfile"].get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile {sc['seccompProfile']}")
check(count and not problems,
      f"every container and init container ({count}): readOnlyRootFilesystem, no privilege "
      "escalation, capabilities drop ALL" + (": " + "; ".join(problems) if problems else ""))

problems = []
count = 0
for w in workloads:
    for c in pod_of(w).get("containers") or []:
        count += 1
        where = f"{w['kind']}/{w['metadata']['name']} {c['name']}"
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            port = get.get("port")
            if get.get("path") != path:
                problems.append(f"{where}: {probe} path {get.get('path')}, not {path}")
            elif not (port in ports or (isinstance(port, int) and port in ports.values())):
                problems.append(f"{where}: {probe} port {port} is none of the container's")
        resources = c.get("resources") or {}
        for part in ("requests", "limits"):
            got = resources.get(part) or {}
            if not (got.get("cpu") and got.get("memory")):
                problems.append(f"{where}: resources.{part} {got}")
check(count and not problems,
      f"every main container ({count}): liveness /healthz and readiness /readyz on a container "
      "port, cpu and memory requests and limits" + (": " + "; ".join(problems) if problems else ""))

# --- Network policies ----------------------------------------------------------------------

policies = of_kind("NetworkPolicy")


def policies_for(workload, direction):
    """The policies that select the workload's pods and restrict `direction`."""
    ns = workload["metadata"].get("namespace")
    found = []
    for p in policies:
        if p["metadata"].get("namespace") != ns:
            continue
        if not selects(p["spec"].get("podSelector"), labels_of(workload)):
            continue
        types = p["spec"].get("policyTypes") or (
            ["Ingress", "Egress"] if "egress" in p["spec"] else ["Ingress"])
        if direction in types:
            found.append(p)
    return found


def rule_ports(rule, workload):
    """The (protocol, port) pairs a rule admits on the workload's pods; None for every port."""
    if not rule.get("ports"):
        return None
    named = {p.get("name"): p.get("containerPort") for c in pod_of(workload).get("containers") or []
             for p in c.get("ports") or []}
    pairs = set()
    for p in rule["ports"]:
        protocol = p.get("protocol", "TCP")
        port = p.get("port")
        if port is None:
            return None
        if isinstance(port, str):
            if port not in named:
                continue
            port = named[port]
        for n in range(int(port), int(p.get("endPort", port)) + 1):
            pairs.add((protocol, n))
    return pairs


def covers(rule, workload, port):
    ports = rule_ports(rule, workload)
    return ports is None or ("TCP", port) in ports


def peer_admits(peer, labels):
    """Whether a peer may admit a pod with `labels` in the fleet's namespace. A namespace
    selector alone, an ipBlock or a missing pod selector is taken as admitting it."""
    if "ipBlock" in peer or "podSelector" not in peer:
        return True
    return selects(peer["podSelector"], labels)


def only_operators(peer):
    return "ipBlock" not in peer and (peer.get("podSelector") or {}).get(
        "matchLabels", {}).get("fleettwin.io/role") == "operator"


def ingress_rules(workload, port):
    return [r for p in policies_for(workload, "Ingress") for r in p["spec"].get("ingress") or []
            if covers(r, workload, port)]


def admits(workload, port, labels):
    """Whether a pod with `labels` may reach `port` of the workload: every pod may when no
    policy restricts its ingress, else some rule must let it."""
    if not policies_for(workload, "Ingress"):
        return True
    for rule in ingress_rules(workload, port):
        if not rule.get("from") or any(peer_admits(peer, labels) for peer in rule["from"]):
            return True
    return False


def only_from_operators(workload, port):
    rules = ingress_rules(workload, port)
    bad = [r for r in rules if not r.get("from") or not all(only_operators(p) for p in r["from"])]
    return bool(rules) and not bad


unrestricted = [f"{w['metadata']['name']} {d}" for w in workloads for d in ("Ingress", "Egress")
                if not policies_for(w, d)]
check(workloads and not unrestricted,
      f"every pod ({len(workloads)}) has its ingress and egress restricted by a NetworkPolicy"
      + (": not " + ", ".join(unrestricted) if unrestricted else ""))

# Agents' egress: the coordinator on 7400 and 9092, DNS on 53, nothing else.
problems = []
for s in agents:
    where = s["metadata"]["name"]
    to_coordinator, to_dns = set(), set()
    for p in policies_for(s, "Egress"):
        for rule in p["spec"].get("egress") or []:
            ports = set()
            for q in rule.get("ports") or []:
                if not isinstance(q.get("port"), int) or "endPort" in q:
                    ports = None
                    break
                ports.add((q.get("protocol", "TCP"), q["port"]))
            peers = rule.get("to") or []
            if not ports or not peers:
                what = [w for w, open_ in (("every port", not ports), ("every peer", not peers))
                        if open_]
                problems.append(f"{where}: an egress rule open to {' and '.join(what)}")
                continue
            coordinator_peer = [
                "ipBlock" not in q and "namespaceSelector" not in q and "podSelector" in q
                and coordinator is not None and selects(q["podSelector"], labels_of(coordinator))
                and not any(selects(q["podSelector"], labels_of(a)) for a in agents)
                for q in peers]
            dns_peer = ["ipBlock" not in q and (q.get("podSelector") or {}).get(
                "matchLabels", {}).get("k8s-app") == "kube-dns" for q in peers]
            if all(coordinator_peer):
                to_coordinator |= ports
            elif all(dns_peer):
                to_dns |= ports
            else:
                problems.append(f"{where}: egress to {peers} on {sorted(ports)}")
    if to_coordinator != {("TCP", 7400), ("TCP", 9092)}:
        problems.append(f"{where}: to the coordinator on {sorted(to_coordinator)}")
    if not to_dns or not to_dns <= {("UDP", 53), ("TCP", 53)}:
        problems.append(f"{where}: to DNS on {sorted(to_dns)}")
check(agents and not problems,
      "agents' egress is exactly the coordinator pods on TCP 7400 and 9092, and DNS on 53"
      + (": " + "; ".join(problems) if problems else ""))

check(agents and all(only_from_operators(s, 8081) for s in agents),
      "agents' port 8081 (operator) admits only pods labelled fleettwin.io/role: operator")
check(coordinator is not None and only_from_operators(coordinator, 7401),
      "coordinator's port 7401 (control) admits only pods labelled fleettwin.io/role: operator")
reach = [f"{w['metadata']['name']}:{port}" for w in workloads for port in (7401, 8081)
         if any(port == p.get("containerPort") for c in pod_of(w).get("containers") or []
                for p in c.get("ports") or []) and admits(w, port, AUDITOR)]
check(not reach, "no NetworkPolicy admits auditor pods to 7401 or 8081"
      + (": " + ", ".join(reach) if reach else ""))
reach = [f"{w['metadata']['name']}:8080" for w in workloads if not admits(w, 8080, AUDITOR)]
check(not reach, "auditor pods may read every pod's 8080 (http)"
      + (": not " + ", ".join(reach) if reach else ""))


def only_agents(peer):
    return ("ipBlock" not in peer and "namespaceSelector" not in peer and "podSelector" in peer
            and all(selects(peer["podSelector"], labels_of(a)) for a in agents)
            and not (coordinator and selects(peer["podSelector"], labels_of(coordinator))))


check(coordinator is not None and agents and all(
    ingress_rules(coordinator, port) and all(
        r.get("from") and all(only_agents(q) for q in r["from"])
        for r in ingress_rules(coordinator, port))
    for port in (7400, 9092)),
      "coordinator's ports 7400 and 9092 admit only the agents' pods")

# --- Disruption budget and monitoring ------------------------------------------------------

pdbs = of_kind("PodDisruptionBudget")
selecting = [p for p in pdbs
             if agents and all(p["metadata"].get("namespace") == s["metadata"].get("namespace")
                               and selects(p["spec"].get("selector"), labels_of(s))
                               for s in agents)
             and not (coordinator and selects(p["spec"].get("selector"), labels_of(coordinator)))]
check(selecting, "a PodDisruptionBudget selects every agent and not the coordinator: "
      + str([p["metadata"]["name"] for p in selecting]))

problems = []
for w in workloads:
    a = w["spec"]["template"]["metadata"].get("annotations") or {}
    ports = [p.get("containerPort") for c in pod_of(w).get("containers") or []
             for p in c.get("ports") or []]
    if str(a.get("prometheus.io/scrape")) != "true":
        problems.append(f"{w['metadata']['name']}: prometheus.io/scrape {a.get('prometheus.io/scrape')}")
    if not str(a.get("prometheus.io/port", "")).isdigit() or int(a["prometheus.io/port"]) not in ports:
        problems.append(f"{w['metadata']['name']}: prometheus.io/port {a.get('prometheus.io/port')}")
    if a.get("prometheus.io/path") != "/metrics":
        problems.append(f"{w['metadata']['name']}: prometheus.io/path {a.get('prometheus.io/path')}")
check(workloads and not problems,
      "every pod template: prometheus.io/scrape true, a container's port, path /metrics"
      + (": " + "; ".join(problems) if problems else ""))

sys.exit(1 if failures else 0)
