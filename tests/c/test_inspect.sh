#!/bin/sh
# test_inspect.sh - cds-inspect on a good archive and on damaged ones.
#
#   sh test_inspect.sh CDS_INSPECT MAKE_FIXTURE
#
# A good archive must give exit status 0, nothing on stderr, and its modules
# on stdout.  Each damaged one must give exit status 1 (not 0, not a signal)
# and exactly one line on stderr, "cds-inspect: FILE: <reason>", naming the
# damage: a sanitizer report, which also exits 1, fails the case.
# One line per case, then "N passed, M failed"; non-zero exit if any failed.
set -u

if [ $# -ne 2 ]; then
    echo "usage: sh test_inspect.sh CDS_INSPECT MAKE_FIXTURE" >&2
    exit 2
fi
inspect=$1
make_fixture=$2

dir=$(mktemp -d "${TMPDIR:-/tmp}/cds-inspect-test.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
trap 'exit 2' HUP INT TERM

passed=0
failed=0

pass() {
    passed=$((passed + 1))
    echo "PASS $1"
}

# fail NAME WHY: count a failure and show what cds-inspect printed.
fail() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
    sed 's/^/    stdout: /' "$dir/out"
    sed 's/^/    stderr: /' "$dir/err"
}

# run [OPTIONS...] FILE: run cds-inspect, leaving its status in $status.
run() {
    "$inspect" "$@" >"$dir/out" 2>"$dir/err"
    status=$?
}

# expect_good NAME FILE [OPTIONS...]
expect_good() {
    name=$1 file=$2
    shift 2
    run "$@" "$file"
    if [ "$status" -ne 0 ]; then
        fail "$name" "exit status $status, expected 0"
    elif [ -s "$dir/err" ]; then
        fail "$name" "unexpected output on stderr"
    elif ! grep -q 'pkg\.mod1' "$dir/out" || ! grep -q 'ok' "$dir/out"; then
        fail "$name" "no 'pkg.mod1' or 'ok' on stdout"
    else
        pass "$name"
    fi
}

# expect_bad NAME FILE REASON [OPTIONS...]
expect_bad() {
    name=$1 file=$2 reason=$3
    shift 3
    run "$@" "$file"
    if [ "$status" -gt 128 ]; then
        fail "$name" "killed by signal $((status - 128))"
    elif [ "$status" -ne 1 ]; then
        fail "$name" "exit status $status, expected 1"
    elif [ "$(wc -l <"$dir/err")" -ne 1 ]; then
        fail "$name" "expected exactly one line on stderr"
    else
        case $(cat "$dir/err") in
        "cds-inspect: $file: "*"$reason"*) pass "$name" ;;
        *) fail "$name" "stderr does not say '$reason'" ;;
        esac
    fi
}

# flip_byte FILE OFFSET: xor the byte at OFFSET with 0x5a, in place.
flip_byte() {
    old=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 |
        tr -d ' \n')
    octal=$(printf '%03o' $((old ^ 90)))
    printf "\\$octal" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc \
        2>/dev/null
}

# damaged NAME: a fresh copy of the good archive, named NAME.
damaged() {
    cp "$good" "$dir/$1"
    echo "$dir/$1"
}

# middle SECTION: the file offset of the middle of SECTION.
middle() {
    awk -v name="$1" '$1 == name { print $2 + int($3 / 2) }' "$dir/sections"
}

good=$dir/good.img
: >"$dir/out"
: >"$dir/err"
if ! "$make_fixture" "$good" 12 || ! "$make_fixture" --sections "$good" \
    >"$dir/sections"; then
    fail "make_fixture" "cannot write the sample archive"
    echo "$passed passed, $failed failed"
    exit 1
fi
size=$(wc -c <"$good")

expect_good "good archive" "$good"
expect_good "good archive, --no-verify-objects" "$good" --no-verify-objects

file=$(damaged header.img)
flip_byte "$file" 60 # inside the fingerprint
expect_bad "flipped byte in the header" "$file" "header checksum"

file=$(damaged objects.img)
flip_byte "$file" "$(middle objects)"
expect_bad "flipped byte in the objects" "$file" "objects section checksum"

# Inside module 0's objects: its own checksum catches it even when the
# whole region is not checked.
file=$(damaged module.img)
flip_byte "$file" "$(awk '$1 == "objects" { print $2 + 8 }' "$dir/sections")"
expect_bad "flipped byte in a module, --no-verify-objects" "$file" \
    "module 0: module checksum mismatch" --no-verify-objects

file=$(damaged relocs.img)
flip_byte "$file" "$(middle relocs)"
expect_bad "flipped byte in the relocs" "$file" "relocs section checksum"

file=$(damaged strings.img)
flip_byte "$file" "$(middle strings)"
expect_bad "flipped byte in the strings" "$file" "strings section checksum"

file=$dir/truncated.img
dd if="$good" of="$file" bs=$((size / 2)) count=1 2>/dev/null
expect_bad "truncated at half" "$file" "truncated"

file=$(damaged extended.img)
printf 'x' >>"$file"
expect_bad "extended by a byte" "$file" "extended"

file=$dir/empty.img
: >"$file"
expect_bad "empty file" "$file" "a header needs"

file=$dir/random.img
dd if=/dev/urandom of="$file" bs=8192 count=1 2>/dev/null
expect_bad "random bytes" "$file" "magic"

file=$dir/directory
mkdir "$file"
expect_bad "a directory" "$file" "not a regular file"

expect_bad "a missing file" "$dir/missing.img" "No such file"

# A pycds unit record: listed under its module's name (not the NUL and
# "unit" of its key), flagged unit (and starts: it may be a process's first),
# with its size.
file=$dir/unit.img
if ! "$make_fixture" --unit "$file"; then
    fail "unit record" "make_fixture --unit failed"
else
    run "$file"
    unit_line=$(grep ' unit+starts ' "$dir/out")
    if [ "$status" -ne 0 ] || [ -s "$dir/err" ]; then
        fail "unit record" "exit status $status or output on stderr"
    elif ! printf '%s\n' "$unit_line" |
        grep -q '^ *1  pkg\.mod  *unit+starts .*/src/pkg/mod\.py (unit of 5 bytes)$'; then
        fail "unit record" "no line '1  pkg.mod  unit+starts ... (unit of 5 bytes)'"
    elif grep -q 'pkg\.mod\\' "$dir/out"; then
        fail "unit record" "the key's NUL is shown"
    else
        pass "unit record"
    fi
fi

run
if [ "$status" -eq 2 ]; then pass "no argument"; else
    fail "no argument" "exit status $status, expected 2"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
