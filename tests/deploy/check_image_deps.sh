#!/usr/bin/env bash
# Offline check that deploy/Dockerfile's runtime stage installs every Debian package holding a
# shared library of the five shipped binaries.
#
#   tests/deploy/check_image_deps.sh BUILD_DIR DOCKERFILE
#
# Runs ldd on the binaries in BUILD_DIR (the release preset's layout), maps each resolved
# library to its package with dpkg -S, and compares with the packages of the apt-get install
# in the Dockerfile's last stage. Fails (exit 1) on a library ldd cannot find, a library no
# package owns, or a package missing from the Dockerfile. Needs a Debian host matching the
# image's release (the build machine). Exit 2: bad usage.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 BUILD_DIR DOCKERFILE" >&2
  exit 2
fi
build_dir=$1
dockerfile=$2
binaries=(agent/fleet-agent coordinator/fleet-coordinator coordinator/fleetctl
          coordinator/fleet-fl-server ledger/fleet-audit)

# The packages of the runtime stage's apt-get install: the words after "install" up to the
# end of that command (the next && or the end of the RUN), options left out.
runtime_packages() {
  awk '
    /^[[:space:]]*FROM[[:space:]]/ { stage++; delete pkgs; n = 0; next }
    {
      line = $0
      sub(/^[[:space:]]*#.*/, "", line)
      if (line ~ /^[[:space:]]*$/) next  # comment lines may sit inside a continued RUN
      if (!in_install && line ~ /apt-get[^&]*[[:space:]]install[[:space:]]/) {
        in_install = 1
        sub(/.*apt-get[^&]*[[:space:]]install[[:space:]]/, "", line)
      }
      if (in_install) {
        ended = (line ~ /&&/) || (line !~ /\\[[:space:]]*$/)
        sub(/&&.*/, "", line)
        gsub(/\\/, " ", line)
        count = split(line, words, /[[:space:]]+/)
        for (i = 1; i <= count; i++) {
          if (words[i] != "" && words[i] !~ /^-/) pkgs[++n] = words[i]
        }
        if (ended) in_install = 0
      }
    }
    END { for (i = 1; i <= n; i++) print pkgs[i] }
  ' "$dockerfile" | sort -u
}

# The package owning a library path. With merged /usr, dpkg may know the file under /lib or
# /usr/lib, and ldd may report either.
owning_package() {
  local lib=$1 real candidate out
  real=$(readlink -f "$lib")
  for candidate in "$lib" "$real" "/usr$lib" "/usr$real" "${lib#/usr}" "${real#/usr}"; do
    [[ $candidate == /* ]] || continue
    if out=$(dpkg -S "$candidate" 2>/dev/null); then
      # "libfoo1:amd64: /usr/lib/..."; a diversion line would start with "diversion by".
      out=$(grep -v '^diversion' <<<"$out" | head -n1)
      out=${out%%: *}
      echo "${out%%:*}"
      return 0
    fi
  done
  return 1
}

failures=()
declare -A needed=()  # package -> the libraries that need it
library_count=0
for bin in "${binaries[@]}"; do
  path=$build_dir/$bin
  if [[ ! -x $path ]]; then
    failures+=("$bin: no executable at $path")
    continue
  fi
  if ! ldd_out=$(ldd "$path" 2>&1); then
    failures+=("$bin: ldd failed: $ldd_out")
    continue
  fi
  while IFS= read -r line; do
    lib=""
    if [[ $line == *"=> not found"* ]]; then
      failures+=("$bin: library not found: $(awk '{print $1}' <<<"$line")")
      continue
    elif [[ $line =~ =\>[[:space:]]+(/[^[:space:]]+) ]]; then
      lib=${BASH_REMATCH[1]}
    elif [[ $line =~ ^[[:space:]]*(/[^[:space:]]+) ]]; then
      lib=${BASH_REMATCH[1]}  # the dynamic loader
    fi
    [[ -n $lib ]] || continue  # linux-vdso and other virtual objects
    library_count=$((library_count + 1))
    if ! pkg=$(owning_package "$lib"); then
      failures+=("$bin: no Debian package owns $lib")
      continue
    fi
    needed[$pkg]+=" $(basename "$lib")"
  done <<<"$ldd_out"
done

mapfile -t listed < <(runtime_packages)
declare -A in_dockerfile=()
for pkg in "${listed[@]}"; do in_dockerfile[$pkg]=1; done
if ((${#listed[@]} == 0)); then
  failures+=("$dockerfile: no apt-get install found in the last stage")
fi
missing=()
for pkg in $(printf '%s\n' "${!needed[@]}" | sort); do
  if [[ -z ${in_dockerfile[$pkg]:-} ]]; then
    missing+=("$pkg")
    libs=$(tr ' ' '\n' <<<"${needed[$pkg]}" | sed '/^$/d' | sort -u | paste -sd' ')
    failures+=("$dockerfile: runtime stage does not install $pkg (for $libs)")
  fi
done

for f in "${failures[@]}"; do echo "check_image_deps: $f" >&2; done
if ((${#failures[@]})); then
  echo "check_image_deps: FAILED: ${#failures[@]} problem(s); missing packages: ${missing[*]:-none}"
  exit 1
fi
echo "check_image_deps: ok: ${#binaries[@]} binaries, $library_count library references," \
  "${#needed[@]} packages, all installed by the runtime stage (${#listed[@]} listed)"
