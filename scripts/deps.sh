#!/usr/bin/env bash
# Installs, from Debian's archive, whatever resil's build, tests, examples and benchmarks need
# and this machine lacks. Does nothing when everything is present.
#   scripts/deps.sh [extra-package...]   e.g. `scripts/deps.sh prometheus` (CI: promtool)
set -euo pipefail

packages=(
  cmake ninja-build g++ clang clang-format pkg-config  # toolchain
  catch2                                               # tests (Catch2 v2)
  libfmt-dev                                           # examples, benches, resil/fmt.hpp
  libbenchmark-dev                                     # bench/
  libcpp-httplib-dev                                   # examples/delivery/http (delivery serve)
  doxygen                                              # API reference (scripts/doxygen.sh)
  spin                                                 # model/ (scripts/model-check.sh)
  "$@"                                                 # optional extras asked for
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
