#!/bin/bash
# valgrind.sh: mounted tests with every vrmfs process under valgrind memcheck
# (the daemon too: valgrind follows its fork).  mount_helpers.bash does the
# work when VRMFS_VALGRIND=1: each test fails if a log of its processes shows
# an invalid read, write or free, a use of uninitialised memory or a definite
# leak.  Here: which tests, chosen to pass through records/, files/, vendors
# and views, a message out over dir:, import and analytics, and unmount,
# remount and check, in about two minutes.
#
# Run:  VRMFS=/path/to/build/fs/vrmfs SRCDIR=/path/to/source tests/valgrind.sh
# (meson test -C build valgrind runs it so).  Prints TAP; skips without
# valgrind and in sanitized builds (VRMFS_SANITIZE, the b_sanitize option),
# where ASan's shadow memory and valgrind cannot share the process.
set -u

: "${VRMFS:?set VRMFS to the vrmfs binary}"
: "${SRCDIR:?set SRCDIR to the source tree}"

skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}

command -v valgrind >/dev/null || skip_all "valgrind missing (package valgrind)"
command -v bats >/dev/null || skip_all "bats missing (package bats)"
case ${VRMFS_SANITIZE:-none} in
none | "" | "[]") ;;
*) skip_all "sanitized build ($VRMFS_SANITIZE): valgrind runs in the plain build" ;;
esac
if ldd "$VRMFS" 2>/dev/null | grep -qE 'lib(asan|ubsan|tsan|lsan)'; then
    skip_all "$VRMFS is built with a sanitizer: valgrind runs in the plain build"
fi

# file<TAB>test name, exactly as in the file
TESTS="\
mount.bats	-f stays in the foreground until unmounted and exits 0; -d logs requests
mount.bats	records/: a record reads as pretty JSON with a final newline; write creates and replaces; rm deletes
mount.bats	records/: what is not a JSON object fails at close with EINVAL, changes nothing, and is logged
mount.bats	records/: sed -i and jq . x.json > t && mv t x.json work; a bad rename is refused
mount.bats	records/: cp -r and cp -a copy collections in and out
mount.bats	files/: create, read, write at an offset, append, truncate
mount.bats	files/: mkdir, rmdir, rename over existing and across folders
mount.bats	files/: symbolic links
mount.bats	files/: user.* extended attributes with setfattr and getfattr
mount.bats	everything written survives unmount and remount, byte for byte
vendors.bats	grants.json: the view shows exactly the granted fields of the records that pass the filters
vendors.bats	grants.json: malformed grants, unknown paths and unknown keys are refused and the previous grants stay
messages.bats	outbox/: a disclose goes to a dir: vendor, signed and sealed; sent/ and a receipt record it
data.bats	analytics/: spending, calories and mileage equal an independent computation, to the cent"

# One regular expression matching exactly those names (bats -f, ERE).
regex='' files=() want=0
while IFS=$'\t' read -r file name; do
    want=$((want + 1))
    # shellcheck disable=SC2001  # a bracket expression: sed says it best
    regex+="${regex:+|}$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$name")"
    case " ${files[*]} " in
    *" $SRCDIR/tests/$file "*) ;;
    *) files+=("$SRCDIR/tests/$file") ;;
    esac
done <<<"$TESTS"
regex="^($regex)\$"

# A test renamed in its file must not drop out of this run unnoticed.
got=$(bats --count -f "$regex" "${files[@]}") || got=0
if [ "$got" -ne "$want" ]; then
    echo "1..1"
    echo "not ok 1 the tests chosen in tests/valgrind.sh: $got of $want names match a test"
    exit 1
fi

export VRMFS_VALGRIND=1
exec bats --tap -f "$regex" "${files[@]}"
