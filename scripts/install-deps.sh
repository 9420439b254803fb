#!/bin/sh
# Install what building and testing pycds needs, if it is missing:
# Debian packages (xxHash, Google Benchmark, CMake, clang for the fuzzer).
# Idempotent and quiet when everything is present.
set -eu

need=""
have_header() { [ -e "/usr/include/$1" ]; }
have_header xxhash.h || need="$need libxxhash-dev"
have_header benchmark/benchmark.h || need="$need libbenchmark-dev"
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v cc >/dev/null 2>&1 || need="$need build-essential"
command -v g++ >/dev/null 2>&1 || need="$need g++"

if [ -n "$need" ]; then
    echo "install-deps: installing$need"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need
fi
