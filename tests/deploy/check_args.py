#!/usr/bin/env python3
"""Runs each rendered fleettwin container's command line with --check-config, offline.

    check_args.py [--repo REPO] [--keep] RENDER_DIR RENDERED_YAML BIN_DIR

For every Deployment and StatefulSet in RENDERED_YAML (`kubectl kustomize RENDER_DIR`, YAML
or JSON) this builds the pod's volumes in a scratch directory as the kubelet would lay them
out, runs the init containers on this host, then runs each container's command from BIN_DIR
with its args plus --check-config. Every arg that names a path under a volume mount or under
/usr/share/fleettwin is rewritten to the scratch copy; any other absolute path fails the
check, so a command line that points outside its mounts is caught here, not in the cluster.

Volumes: a configMap or secret volume gets the files of the RENDER_DIR generator that made it
(configMapGenerator/secretGenerator files, literals and envs, found by the generated name with
its name prefix/suffix and hash), or else the data of the rendered object, in the kubelet's
layout (..data symlinks) and modes (defaultMode, plus group read when the pod has an fsGroup:
kubernetes/kubernetes#57923). emptyDir, persistentVolumeClaim and volumeClaimTemplates get an
empty directory. The image's /usr/share/fleettwin/{kinds,models,cmapss} are REPO's kinds/,
data/models/ and data/cmapss/ (REPO defaults to this file's repository).

Binaries are looked up in BIN_DIR/agent, BIN_DIR/coordinator, BIN_DIR/ledger and BIN_DIR;
an init container's command is looked up there first, then on PATH. Prints one line per
container and closes with "check_args: N passed, M failed". Exit 1 when a check fails or none
ran, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

try:
    import yaml
except ImportError:
    sys.exit("check_args: needs PyYAML (Debian: apt-get install python3-yaml)")

IMAGE_SHARE = "/usr/share/fleettwin"
# The image's shipped data (deploy/Dockerfile) and where it comes from in the repository.
IMAGE_DATA = {"kinds": "kinds", "models": "data/models", "cmapss": "data/cmapss"}
FLEET_BINARIES = {"fleet-agent", "fleet-coordinator", "fleet-fl-server", "fleet-audit", "fleetctl"}
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# kustomize's name hash: 10 characters from an alphabet without vowels.
HASH_SUFFIX = re.compile(r"-[a-z0-9]{10}$")
TIMEOUT_S = 120


class CheckError(Exception):
    """A problem that fails one container's check."""


# --- Generators in the render directory ----------------------------------------------------


@dataclass
class Generator:
    kind: str  # "ConfigMap" or "Secret"
    name: str  # with the name prefixes and suffixes that apply to it
    hashed: bool
    entries: dict[str, bytes] = field(default_factory=dict)
    origin: str = ""

    def matches(self, rendered: str) -> bool:
        if not self.hashed:
            return rendered == self.name
        return rendered.startswith(self.name) and bool(
            HASH_SUFFIX.fullmatch(rendered[len(self.name):]))


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_NAMES:
        if (directory / name).is_file():
            return directory / name
    return None


def generator_entries(spec: dict, base: Path) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    for item in spec.get("files") or []:
        key, _, source = str(item).rpartition("=")
        path = (base / source).resolve()
        entries[key or Path(source).name] = path.read_bytes()
    for item in spec.get("literals") or []:
        key, sep, value = str(item).partition("=")
        if not sep:
            raise CheckError(f"literal {item!r} in {base} has no '='")
        entries[key] = value.strip("'\"").encode()
    env_files = list(spec.get("envs") or [])
    if spec.get("env"):
        env_files.append(spec["env"])
    for env in env_files:
        for line in (base / env).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                entries[key] = value.encode()
    return entries


def collect_generators(directory: Path, prefix: str = "", suffix: str = "",
                       seen: set[Path] | None = None) -> list[Generator]:
    """The generators of the kustomization in `directory` and of those it includes."""
    seen = set() if seen is None else seen
    directory = directory.resolve()
    if directory in seen:
        return []
    seen.add(directory)
    path = kustomization_file(directory)
    if path is None:
        return []
    spec = yaml.safe_load(path.read_text()) or {}
    # Outer affixes wrap inner ones: outer prefix + own prefix + name + own suffix + outer suffix.
    full_prefix = prefix + (spec.get("namePrefix") or "")
    full_suffix = (spec.get("nameSuffix") or "") + suffix
    options = spec.get("generatorOptions") or {}
    found: list[Generator] = []
    for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for gen in spec.get(key) or []:
            hashed = not (options.get("disableNameSuffixHash")
                          or (gen.get("options") or {}).get("disableNameSuffixHash"))
            try:
                entries = generator_entries(gen, directory)
            except OSError as e:
                raise CheckError(f"{path}: {key} {gen.get('name')}: {e}") from e
            found.append(Generator(kind, full_prefix + gen["name"] + full_suffix, hashed, entries,
                                   f"{path.relative_to(path.parents[1])} {key} {gen['name']}"))
    for ref in list(spec.get("resources") or []) + list(spec.get("bases") or []) + list(
            spec.get("components") or []):
        sub = directory / str(ref)
        if sub.is_dir():
            found += collect_generators(sub, full_prefix, full_suffix, seen)
    return found


# --- Volumes -------------------------------------------------------------------------------


def write_atomic_layout(target: Path, files: dict[str, bytes], mode: int) -> None:
    """Writes `files` as the kubelet's AtomicWriter does: in a timestamped directory that
    ..data points to, with a symlink per top-level name."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = target / "..2001_01_01_00_00_00.000000001"
    stamp.mkdir()
    for rel, data in files.items():
        dest = stamp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        dest.chmod(mode)
    (target / "..data").symlink_to(stamp.name)
    for top in sorted({Path(rel).parts[0] for rel in files}):
        (target / top).symlink_to(Path("..data") / top)


def object_entries(obj: dict) -> dict[str, bytes]:
    entries = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    if obj.get("kind") == "Secret":
        entries = {k: base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()}
        entries.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    else:
        entries.update({k: base64.b64decode(str(v))
                        for k, v in (obj.get("binaryData") or {}).items()})
    return entries


class Sources:
    """Finds the content of a generated ConfigMap or Secret by its rendered name."""

    def __init__(self, generators: list[Generator], objects: list[dict]):
        self.generators = generators
        self.objects = {(o.get("kind"), (o.get("metadata") or {}).get("name")): o
                        for o in objects if o.get("kind") in ("ConfigMap", "Secret")}

    def entries(self, kind: str, name: str) -> tuple[dict[str, bytes], str]:
        candidates = [g for g in self.generators if g.kind == kind and g.matches(name)]
        if not candidates:  # a generator whose affixes were missed: the longest name prefix
            loose = [g for g in self.generators
                     if g.kind == kind and name.startswith(g.name + "-")]
            longest = max((len(g.name) for g in loose), default=0)
            candidates = [g for g in loose if len(g.name) == longest]
        if len(candidates) > 1:
            raise CheckError(f"{kind} {name}: several generators match: "
                             + ", ".join(g.origin for g in candidates))
        rendered = self.objects.get((kind, name))
        if candidates:
            gen = candidates[0]
            if rendered is not None and object_entries(rendered) != gen.entries:
                raise CheckError(f"{kind} {name}: the rendered data differs from {gen.origin}")
            return gen.entries, gen.origin
        if rendered is not None:
            return object_entries(rendered), f"rendered {kind} {name}"
        raise CheckError(f"{kind} {name}: neither a generator in the render directory nor an "
                         "object in the rendered YAML")


def materialize_volume(volume: dict, target: Path, sources: Sources, fs_group) -> None:
    def mode_of(mode):
        mode = 0o644 if mode is None else int(mode)
        return mode | 0o440 if fs_group is not None else mode

    def projected_files(kind: str, ref: dict) -> dict[str, bytes]:
        name = ref.get("name") if kind == "ConfigMap" else ref.get("secretName", ref.get("name"))
        try:
            entries, _ = sources.entries(kind, name)
        except CheckError:
            if ref.get("optional"):
                return {}
            raise
        items = ref.get("items")
        if not items:
            return dict(entries)
        files = {}
        for item in items:
            if item["key"] not in entries:
                if ref.get("optional"):
                    continue
                raise CheckError(f"{kind} {name} has no key {item['key']}")
            files[item["path"]] = entries[item["key"]]
        return files

    if "configMap" in volume or "secret" in volume:
        kind = "ConfigMap" if "configMap" in volume else "Secret"
        ref = volume["configMap"] if kind == "ConfigMap" else volume["secret"]
        write_atomic_layout(target, projected_files(kind, ref), mode_of(ref.get("defaultMode")))
    elif "projected" in volume:
        files: dict[str, bytes] = {}
        for source in volume["projected"].get("sources") or []:
            if "configMap" in source:
                files.update(projected_files("ConfigMap", source["configMap"]))
            elif "secret" in source:
                files.update(projected_files("Secret", source["secret"]))
            else:
                raise CheckError(f"volume {volume['name']}: unsupported projected source "
                                 + ", ".join(source))
        write_atomic_layout(target, files, mode_of(volume["projected"].get("defaultMode")))
    elif "emptyDir" in volume or "persistentVolumeClaim" in volume or "ephemeral" in volume:
        target.mkdir(parents=True)
    else:
        kinds = [k for k in volume if k != "name"]
        raise CheckError(f"volume {volume['name']}: unsupported type {', '.join(kinds)}")


# --- Containers ----------------------------------------------------------------------------


def find_binary(bin_dir: Path, name: str) -> Path | None:
    for sub in ("agent", "coordinator", "ledger", "."):
        path = bin_dir / sub / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


class PathMap:
    """Rewrites in-container paths to their scratch equivalents."""

    def __init__(self, mounts: dict[str, Path], repo: Path):
        self.mounts = mounts
        self.repo = repo

    def path(self, value: str) -> str:
        best = max((m for m in self.mounts if value == m or value.startswith(m.rstrip("/") + "/")),
                   key=len, default=None)
        if best is not None:
            return str(self.mounts[best]) + value[len(best.rstrip("/")):]
        if value == IMAGE_SHARE or value.startswith(IMAGE_SHARE + "/"):
            parts = value[len(IMAGE_SHARE) + 1:].split("/", 1)
            if parts[0] not in IMAGE_DATA:
                raise CheckError(f"{value}: the image ships only {IMAGE_SHARE}/"
                                 f"{{{','.join(sorted(IMAGE_DATA))}}}")
            base = self.repo / IMAGE_DATA[parts[0]]
            return str(base / parts[1]) if len(parts) > 1 else str(base)
        raise CheckError(f"{value}: neither under a volume mount nor in the image's {IMAGE_SHARE}")

    def arg(self, value: str) -> str:
        if value.startswith("/"):
            return self.path(value)
        flag, sep, rest = value.partition("=")
        if sep and flag.startswith("-") and rest.startswith("/"):
            return f"{flag}={self.path(rest)}"
        return value


def run_container(container: dict, mounts: dict[str, Path], args: argparse.Namespace,
                  scratch: Path, main: bool) -> str:
    command = list(container.get("command") or [])
    if not command:
        raise CheckError("no command: the image has no ENTRYPOINT, so each container names one")
    program = Path(command[0]).name
    paths = PathMap(mounts, args.repo)
    binary = find_binary(args.bin_dir, program)
    if binary is None and main:
        raise CheckError(f"{program}: not a fleettwin binary in {args.bin_dir}")
    if binary is None:
        found = shutil.which(command[0])
        if found is None:
            raise CheckError(f"{command[0]}: not on this host's PATH")
        binary = Path(found)
    argv = [str(binary)] + [paths.arg(a) for a in command[1:] + list(container.get("args") or [])]
    if main:
        argv.append("--check-config")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch / "home"),
           "TMPDIR": str(mounts.get("/tmp", scratch / "home"))}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = paths.arg(str(var["value"]))
    (scratch / "home").mkdir(exist_ok=True)
    try:
        done = subprocess.run(argv, cwd=scratch / "home", env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as e:
        raise CheckError(f"{' '.join(argv)}: no answer in {TIMEOUT_S} s") from e
    if done.returncode != 0:
        raise CheckError(f"exit {done.returncode}: {' '.join(argv)}\n"
                         + (done.stderr.strip() or done.stdout.strip()))
    output = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return output[-1] if output else "exit 0"


def check_workload(obj: dict, sources: Sources, args: argparse.Namespace, scratch: Path):
    """Yields (container name, None or error) per main container of one workload."""
    pod = obj["spec"]["template"]["spec"]
    fs_group = (pod.get("securityContext") or {}).get("fsGroup")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for claim in obj["spec"].get("volumeClaimTemplates") or []:
        volumes.setdefault(claim["metadata"]["name"], {"name": claim["metadata"]["name"],
                                                       "persistentVolumeClaim": {}})
    volume_dirs: dict[str, Path] = {}
    setup_error = None
    try:
        for name, volume in volumes.items():
            volume_dirs[name] = scratch / "volumes" / name
            materialize_volume(volume, volume_dirs[name], sources, fs_group)
    except (CheckError, OSError) as e:
        setup_error = str(e)

    def mounts_of(container: dict) -> dict[str, Path]:
        mounts = {}
        for mount in container.get("volumeMounts") or []:
            if mount["name"] not in volume_dirs:
                raise CheckError(f"mount {mount['mountPath']}: no volume {mount['name']}")
            mounts[mount["mountPath"]] = volume_dirs[mount["name"]] / mount.get("subPath", "")
        return mounts

    init_error = setup_error
    if init_error is None:
        for init in pod.get("initContainers") or []:
            try:
                run_container(init, mounts_of(init), args, scratch, main=False)
            except CheckError as e:
                init_error = f"init container {init['name']}: {e}"
                break
    for container in pod.get("containers") or []:
        if init_error is not None:
            yield container["name"], init_error
            continue
        try:
            yield container["name"], "ok: " + run_container(container, mounts_of(container), args,
                                                            scratch, main=True)
        except CheckError as e:
            yield container["name"], str(e)


def load_objects(path: Path) -> list[dict]:
    objects = []
    for doc in yaml.safe_load_all(path.read_text()):
        if isinstance(doc, dict) and doc.get("kind") == "List":
            objects += [o for o in doc.get("items") or [] if isinstance(o, dict)]
        elif isinstance(doc, dict):
            objects.append(doc)
    return objects


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("render_dir", type=Path)
    parser.add_argument("rendered_yaml", type=Path)
    parser.add_argument("bin_dir", type=Path)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[2],
                        help="the repository whose kinds/ and data/ the image ships")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    args.bin_dir = args.bin_dir.resolve()
    args.repo = args.repo.resolve()

    try:
        objects = load_objects(args.rendered_yaml)
        generators = collect_generators(args.render_dir)
    except (OSError, yaml.YAMLError, CheckError) as e:
        print(f"check_args: {e}", file=sys.stderr)
        print("check_args: 0 passed, 1 failed")
        return 1
    sources = Sources(generators, objects)
    workloads = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet")]
    passed = failed = 0
    scratch_root = Path(tempfile.mkdtemp(prefix="check_args."))
    try:
        for i, obj in enumerate(workloads):
            name = f"{obj['kind']}/{obj['metadata']['name']}"
            scratch = scratch_root / f"{i:03d}-{obj['metadata']['name']}"
            scratch.mkdir()
            for container, result in check_workload(obj, sources, args, scratch):
                if result.startswith("ok: "):
                    passed += 1
                    print(f"ok   {name} {container}: {result[4:]}")
                else:
                    failed += 1
                    print(f"FAIL {name} {container}: {result}")
    finally:
        if args.keep:
            print(f"check_args: scratch directory kept: {scratch_root}")
        else:
            shutil.rmtree(scratch_root, ignore_errors=True)
    if passed + failed == 0:
        print("FAIL no Deployment or StatefulSet container in the rendered YAML")
    print(f"check_args: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
