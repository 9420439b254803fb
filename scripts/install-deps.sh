#!/bin/sh
# Install what building and testing pycds needs, if it is missing:
# Debian packages (xxHash, Google Benchmark, CMake, clang and libFuzzer,
# strace for the benchmark).
# Idempotent and quiet when everything is present.
set -eu

need=""
have_header() { [ -e "/usr/include/$1" ]; }
have_header xxhash.h || need="$need libxxhash-dev"
have_header benchmark/benchmark.h || need="$need libbenchmark-dev"
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v cc >/dev/null 2>&1 || need="$need build-essential"
command -v g++ >/dev/null 2>&1 || need="$need g++"
command -v strace >/dev/null 2>&1 || need="$need strace"
# libFuzzer and the sanitizer runtimes for the fuzz run.
command -v clang >/dev/null 2>&1 || need="$need clang"
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
    >/dev/null 2>&1 || need="$need libclang-rt-dev"

if [ -n "$need" ]; then
    echo "install-deps: installing$need"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need
fi
