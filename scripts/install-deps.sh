#!/usr/bin/env bash
# Installs the Debian packages fleettwin builds and tests with, if any is missing. Idempotent
# and quiet; needs root (or sudo) only when something is missing.
set -euo pipefail
packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  capnproto libcapnp-dev librocksdb-dev libsodium-dev libssl-dev openssl libabsl-dev
  libzmq3-dev cppzmq-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libpaho-mqtt-dev libpaho-mqttpp-dev libcpp-httplib-dev mosquitto mosquitto-clients curl libeigen3-dev python3-numpy
  libyaml-cpp-dev python3-yaml
)
# The offline manifest checks: a kubectl with kustomize and Node.js with npm, from Debian when
# the machine has none of its own.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "installing: ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
