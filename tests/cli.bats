#!/usr/bin/env bats
# cli.bats: the vrmfs command driven as a person would drive it, checking
# what a person would check: exit codes, messages, files and their modes, and
# that damage or tampering is caught.
#
# Run:  VRMFS=/path/to/build/fs/vrmfs SRCDIR=/path/to/source bats --tap tests/cli.bats
# (meson test runs it exactly so).  The disk-full tests need root and a
# mountable tmpfs, and skip otherwise.

# shellcheck disable=SC2016,SC2012
# (SC2016: the bash -c scripts expand "$0" in the child, on purpose)
bats_require_minimum_version 1.5.0

KEY_RE='[0-9a-f]{4}(-[0-9a-f]{4}){15}'

load assert

setup() {
    : "${VRMFS:?set VRMFS to the vrmfs binary}"
    : "${SRCDIR:?set SRCDIR to the source tree}"
    case $VRMFS in /*) ;; */*) VRMFS="$PWD/$VRMFS" ;; esac
    case $SRCDIR in /*) ;; *) SRCDIR="$PWD/$SRCDIR" ;; esac
    T="$BATS_TEST_TMPDIR/w"
    mkdir -p "$T"
    cd "$T" || return 1
    # No test may wait for a terminal: secrets come from files or pipes.
    exec </dev/null
    MARKER="zebra-MARKER-$$-quux"
    printf 'correct horse %s battery\n' "$MARKER" >pass
    printf 'a new passphrase\n' >newpass
    printf 'wrong passphrase\n' >wrongpass
    HOLDER=
    MNT=
}

teardown() {
    if [ -n "${HOLDER:-}" ]; then
        kill "$HOLDER" 2>/dev/null || true
        wait "$HOLDER" 2>/dev/null || true
    fi
    if [ -n "${MNT:-}" ] && mountpoint -q "$MNT" 2>/dev/null; then
        umount -l "$MNT" || true
    fi
}

# ---- helpers ------------------------------------------------------------

# mkvault DIR [PASSFILE]: a new vault with cheap Argon2id costs; the recovery
# key goes to DIR.key.
mkvault() {
    local dir=$1 pf=${2:-pass}
    if ! "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile "$pf" \
            --recovery-file "$dir.key" "$dir" >"$T/mkvault.out" 2>&1; then
        echo "mkvault $dir failed:"
        cat "$T/mkvault.out"
        return 1
    fi
}

sha() {
    sha256sum <"$1" | cut -d' ' -f1
}

mode() {
    stat -c %a "$1"
}

# b64 N: N random bytes in unpadded base64url, as vault.json holds them.
b64() {
    head -c "$1" /dev/urandom | basenc -w0 --base64url | tr -d '='
}

# json_set FILE KEY NEWVALUE: replace the value of "KEY" in vault.json
# (string or number, as it is written) and make sure the file changed.
json_set() {
    local f=$1 key=$2 val=$3 before
    before=$(sha "$f")
    sed -E -i "s/(\"$key\":[[:space:]]*)(\"[^\"]*\"|[0-9]+)/\\1$val/" "$f"
    [ "$(sha "$f")" != "$before" ] || { echo "json_set: $key not changed in $f"; return 1; }
}


# mklog FILE: a valid 3-line access log built from outside, with sha256sum
# and the format of accesslog.h and vrmfs(5) alone: HEX = sha256(previous
# HEX, "\n", the line before " chain="), 64 zeros before the first line.
# Line 2 has escapes, spaces and UTF-8 in its JSON strings.
mklog() {
    local f=$1 prev body
    prev=0000000000000000000000000000000000000000000000000000000000000000
    : >"$f"
    for body in \
        '2026-11-23T13:44:27.123Z pid=4242 uid=1000 comm="cat" path="/records/profile/me.json"' \
        '2026-11-23T13:44:28.004Z pid=4243 uid=1000 comm="my \"tool\"" path="/files/a b/caf\u00e9 é\n.txt"' \
        '2026-11-23T13:45:00.999Z pid=1 uid=0 comm="jq" path="/records/profile/me.json"'; do
        prev=$(printf '%s\n%s' "$prev" "$body" | sha256sum | cut -d' ' -f1)
        printf '%s chain=%s\n' "$body" "$prev" >>"$f"
    done
}

# verify_log_bad FILE LINE: verify-log FILE exits 1 naming line LINE
verify_log_bad() {
    run --separate-stderr "$VRMFS" verify-log "$1"
    expect_status 1
    [[ "$output" == "$1: line $2: "* ]] || { echo "expected '$1: line $2: ...', got: $output"; return 1; }
}

check_ok() {
    run --separate-stderr "$VRMFS" check --passfile "${2:-pass}" "$1"
    expect_status 0
    [ "$output" = ok ] || { echo "check printed: $output"; return 1; }
}

# hold_lock DIR: another process takes the vault's lock (util-linux flock)
# and keeps it until killed; its pid is in HOLDER.
hold_lock() {
    local _
    (
        exec 9>>"$1/vault.lock"
        flock 9
        exec sleep 60
    ) 3>&- &
    HOLDER=$!
    for _ in $(seq 100); do
        flock -n "$1/vault.lock" true || return 0
        sleep 0.05
    done
    echo "the lock holder never took the lock"
    return 1
}

# mount_tmpfs SIZE: a small tmpfs at $T/mnt, or skip the test.
mount_tmpfs() {
    [ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
    command -v mountpoint >/dev/null || skip "mountpoint(1) missing"
    mkdir -p "$T/mnt"
    mount -t tmpfs -o "size=$1,mode=0755" tmpfs "$T/mnt" 2>/dev/null ||
        skip "cannot mount a tmpfs here"
    MNT="$T/mnt"
}

fill_disk() {
    dd if=/dev/zero of="$MNT/fill" bs=4k status=none 2>/dev/null || true
    [ "$(df -k --output=avail "$MNT" | tail -1 | tr -d ' ')" -eq 0 ] ||
        { echo "could not fill $MNT"; df -k "$MNT"; return 1; }
}

# ---- the command line ---------------------------------------------------

# usage_errors CMDLINE...: each `vrmfs CMDLINE` (split on spaces) exits 64
# with a message on stderr and nothing on stdout.
usage_errors() {
    local c
    for c in "$@"; do
        # shellcheck disable=SC2086
        run --separate-stderr "$VRMFS" $c
        [ "$status" -eq 64 ] || { echo "'vrmfs $c': exit $status, not 64; stderr: $stderr"; return 1; }
        [ -n "$stderr" ] || { echo "'vrmfs $c': nothing on stderr"; return 1; }
        [ -z "$output" ] || { echo "'vrmfs $c': stdout: $output"; return 1; }
    done
}

@test "--help and -h print the usage on stdout and exit 0" {
    for opt in --help -h; do
        run --separate-stderr "$VRMFS" "$opt"
        expect_status 0
        has "$output" "Usage: vrmfs"
        has "$output" "vrmfs COMMAND [OPTIONS] VAULT"
        for cmd in init check verify-log passwd recover compact; do
            has "$output" "  $cmd "
        done
        [ -z "$stderr" ]
    done
}

@test "--version and -V print vrmfs 0.1.0 and exit 0" {
    for opt in --version -V; do
        run --separate-stderr "$VRMFS" "$opt"
        expect_status 0
        [[ "$output" == "vrmfs 0.1.0"* ]] || { echo "got: $output"; return 1; }
        [ -z "$stderr" ]
    done
}

@test "every command has --help and -h" {
    for cmd in init check verify-log passwd recover compact; do
        for opt in --help -h; do
            run --separate-stderr "$VRMFS" "$cmd" "$opt"
            expect_status 0
            has "$output" "Usage: vrmfs $cmd [OPTIONS] VAULT"
        done
    done
}

@test "no command: the usage on stderr, exit 64" {
    run --separate-stderr "$VRMFS"
    expect_status 64
    [ -z "$output" ]
    has "$stderr" "Usage: vrmfs"
}

@test "an unknown command or option exits 64 with a message on stderr" {
    # (a first word that is no command names a vault to mount: VAULT MOUNTPOINT)
    local -a cases=("frobnicate" "--bogus" "-Z" "frobnicate v w x" "--bogus v mnt")
    local c
    for c in "${cases[@]}"; do
        # shellcheck disable=SC2086
        run --separate-stderr "$VRMFS" $c
        [ "$status" -eq 64 ] || { echo "'vrmfs $c': exit $status, not 64; stderr: $stderr"; return 1; }
        [ -z "$output" ] || { echo "'vrmfs $c': stdout: $output"; return 1; }
        has "$stderr" "vrmfs --help"
    done
}

@test "bad options and arguments exit 64 with a message on stderr, making nothing" {
    mkvault v
    local -a cases=(
        "check --bogus v"
        "check -x v"
        "check --passfile"
        "check"
        "check --passfile pass v v"
        "check --passfile no-such-file v"
        "compact --bogus v"
        "compact --passfile pass"
        "compact --passfile pass v v"
        "init --kdf-ops 0 --passfile pass n"
        "init --kdf-ops many --passfile pass n"
        "init --kdf-mem 12Q --passfile pass n"
        "init --kdf-mem -8K --passfile pass n"
        "init --kdf-mem 4K --kdf-ops 1 --passfile pass n"
        "init --kdf-mem 5G --kdf-ops 1 --passfile pass n"
        "init --kdf-ops 65 --kdf-mem 8K --passfile pass n"
        "init --kdf-ops 1 --kdf-mem 8K --passfile pass n m"
        "init --kdf-ops 1 --kdf-mem 8K --passfile pass"
        "passwd --recovery-file v.key --new-passfile newpass v"
        "passwd --passfile pass --new-passfile newpass"
        "recover --passfile pass --new-passfile newpass v"
        "recover --recovery-file v.key --new-passfile newpass v w"
    )
    local c
    for c in "${cases[@]}"; do
        # shellcheck disable=SC2086
        run --separate-stderr "$VRMFS" $c
        [ "$status" -eq 64 ] || { echo "'vrmfs $c': exit $status, not 64; stderr: $stderr"; return 1; }
        [ -n "$stderr" ] || { echo "'vrmfs $c': nothing on stderr"; return 1; }
        [ -z "$output" ] || { echo "'vrmfs $c': stdout: $output"; return 1; }
        [ ! -e n ] && [ ! -e m ] || { echo "'vrmfs $c' made a vault"; return 1; }
    done
    check_ok v
}

# ---- init ---------------------------------------------------------------

@test "init makes the directory 0700 and vault.json, vault.db 0600" {
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass v
    expect_status 0
    has "$stderr" "created the vault at v"
    [ -d v ]
    [ "$(mode v)" = 700 ] || { echo "v is $(mode v)"; return 1; }
    [ -f v/vault.json ]
    [ "$(mode v/vault.json)" = 600 ] || { echo "vault.json is $(mode v/vault.json)"; return 1; }
    [ -f v/vault.db ]
    [ "$(mode v/vault.db)" = 600 ] || { echo "vault.db is $(mode v/vault.db)"; return 1; }
    [ $(($(stat -c %s v/vault.db) % 4096)) -eq 0 ]
    [ ! -e v/vault.json.new ]
    local f
    for f in v/* v/.[!.]*; do
        [ -e "$f" ] || continue
        case "${f#v/}" in
        vault.json | vault.db | vault.db-wal | vault.db-shm | vault.lock) ;;
        *) echo "unexpected file $f"; return 1 ;;
        esac
    done
    check_ok v
}

@test "init prints the recovery key once on stdout, 16 groups of 4 hex digits" {
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass v
    expect_status 0
    local keys key
    keys=$(grep -oE "$KEY_RE" <<<"$output" || true)
    [ "$(grep -c . <<<"$keys")" -eq 1 ] || { echo "keys on stdout: $keys"; return 1; }
    key=$keys
    # a line of its own holds exactly the key
    grep -qE "^[[:space:]]*${KEY_RE}[[:space:]]*\$" <<<"$output"
    [ "$(grep -o -- "$key" <<<"$output" | wc -l)" -eq 1 ]
    lacks "$stderr" "$key"
    # and it is the key: it recovers the vault
    printf '%s\n' "$key" >key
    run --separate-stderr "$VRMFS" recover --recovery-file key --new-passfile newpass v
    expect_status 0
    check_ok v newpass
}

@test "init --recovery-file writes the key there, mode 0600, not on stdout" {
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass \
        --recovery-file R v
    expect_status 0
    [ -f R ]
    [ "$(mode R)" = 600 ] || { echo "R is $(mode R)"; return 1; }
    [ "$(wc -l <R)" -eq 1 ]
    grep -qxE "$KEY_RE" R
    ! grep -qE "$KEY_RE" <<<"$output" || { echo "key on stdout: $output"; return 1; }
    ! grep -qE "$KEY_RE" <<<"$stderr" || { echo "key on stderr: $stderr"; return 1; }
    has "$stderr" "recovery key written to R"
    # -r is the short form
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K -p pass -r R2 w
    expect_status 0
    grep -qxE "$KEY_RE" R2
    [ "$(cat R)" != "$(cat R2)" ]
}

@test "init refuses an existing recovery file: exit 8, R unchanged, no vault" {
    echo "my notes, not a key" >R
    local before
    before=$(sha R)
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass \
        --recovery-file R v
    expect_status 8
    has "$stderr" "R"
    [ ! -e v ]
    [ "$(sha R)" = "$before" ]
    # a symbolic link is not followed either
    ln -s elsewhere L
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass \
        --recovery-file L v
    [ "$status" -ne 0 ]
    [ ! -e elsewhere ] && [ ! -e v ]
}

@test "init refuses an existing vault: exit 8, nothing changed" {
    mkvault v
    local j d
    j=$(sha v/vault.json)
    d=$(sha v/vault.db)
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile newpass v
    expect_status 8
    has "$stderr" "already holds a vault"
    if grep -qE "$KEY_RE" <<<"$output"; then echo "a recovery key on stdout: $output"; return 1; fi
    [ "$(sha v/vault.json)" = "$j" ]
    [ "$(sha v/vault.db)" = "$d" ]
    # with --recovery-file, the file it made beforehand is not left behind
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile newpass \
        --recovery-file R v
    expect_status 8
    [ ! -e R ]
    [ "$(sha v/vault.json)" = "$j" ]
    check_ok v
}

@test "init refuses a non-empty directory: exit 8, nothing changed" {
    mkdir d
    echo "precious" >d/file
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass d
    expect_status 8
    has "$stderr" "not empty"
    [ "$(ls -A d)" = file ]
    [ "$(cat d/file)" = precious ]
    # a hidden file counts too
    mkdir h
    touch h/.hidden
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass h
    expect_status 8
    [ "$(ls -A h)" = .hidden ]
}

@test "init makes a vault in an existing empty directory" {
    mkdir e
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass e
    expect_status 0
    [ -f e/vault.json ] && [ -f e/vault.db ]
    check_ok e
}

@test "init refuses an empty passphrase" {
    printf '\n' >empty-line
    : >empty-file
    local f
    for f in empty-line empty-file; do
        run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile "$f" v
        [ "$status" -ne 0 ] || { echo "$f: accepted"; return 1; }
        expect_status 64
        [ -n "$stderr" ]
        [ ! -e v ]
    done
    run --separate-stderr bash -c 'printf "\n" | "$0" init --kdf-ops 1 --kdf-mem 8K v' "$VRMFS"
    expect_status 64
    has "$stderr" "empty"
    [ ! -e v ]
}

@test "init reads the passphrase from standard input when it is not a terminal" {
    run --separate-stderr bash -c 'printf "pw\n" | "$0" init --kdf-ops 1 --kdf-mem 8K v' "$VRMFS"
    expect_status 0
    grep -qE "$KEY_RE" <<<"$output"
    printf 'pw\n' >pw
    check_ok v pw
    run --separate-stderr bash -c 'printf "pw\n" | "$0" check v' "$VRMFS"
    expect_status 0
    [ "$output" = ok ]
    run --separate-stderr bash -c 'printf "pW\n" | "$0" check v' "$VRMFS"
    expect_status 2
}

@test "a passfile's first line is the passphrase; CRLF is fine; - is standard input" {
    printf 'line one\nline two\n' >two-lines
    mkvault v two-lines
    printf 'line one\n' >one
    printf 'line one\r\n' >crlf
    printf 'line one' >no-newline
    printf 'line two\n' >second
    check_ok v one
    check_ok v crlf
    check_ok v no-newline
    run --separate-stderr "$VRMFS" check --passfile second v
    expect_status 2
    run --separate-stderr "$VRMFS" check --passfile - v <one
    expect_status 0
    [ "$output" = ok ]
}

@test "init stores the Argon2id costs it was given in vault.json" {
    mkvault v
    grep -qE '"format":[[:space:]]*1,' v/vault.json
    grep -qE '"alg":[[:space:]]*"argon2id13"' v/vault.json
    grep -qE '"ops":[[:space:]]*1,' v/vault.json
    grep -qE '"mem":[[:space:]]*8192,' v/vault.json
    run --separate-stderr "$VRMFS" init --kdf-ops 2 --kdf-mem 16k --passfile pass w
    expect_status 0
    grep -qE '"ops":[[:space:]]*2,' w/vault.json
    grep -qE '"mem":[[:space:]]*16384,' w/vault.json
    check_ok w
}

@test "init with standard output closed never writes the recovery key into the vault" {
    run --separate-stderr bash -c \
        '"$0" init --kdf-ops 1 --kdf-mem 8K --passfile pass v >&-' "$VRMFS"
    if [ -d v ]; then
        local f
        for f in v/*; do
            ! grep -aqE "$KEY_RE" "$f" ||
                { echo "the recovery key was written into $f (exit $status)"; return 1; }
        done
    fi
    # The key could not be shown, so there must be no vault it belongs to.
    [ "$status" -ne 0 ] || { echo "init exited 0 with stdout closed"; return 1; }
    [ ! -e v ]
}

@test "init whose recovery key cannot be printed makes no vault (exit 6 on /dev/full)" {
    [ -w /dev/full ] || skip "no /dev/full"
    run --separate-stderr bash -c \
        '"$0" init --kdf-ops 1 --kdf-mem 8K --passfile pass v >/dev/full' "$VRMFS"
    expect_status 6
    has "$stderr" "recovery key"
    [ ! -e v ]
}

# ---- nothing in clear -----------------------------------------------------

@test "vault.db does not start with the SQLite header" {
    mkvault v
    check_ok v
    [ "$(head -c 15 v/vault.db)" != "SQLite format 3" ]
    if head -c 16 v/vault.db | cmp -s - <(printf 'SQLite format 3\0'); then
        echo "vault.db starts with the SQLite header"
        return 1
    fi
    [ "$(grep -ac 'SQLite format 3' v/vault.db)" -eq 0 ]
}

@test "no file of the vault holds the passphrase, the recovery key or SQL in clear" {
    mkvault v
    check_ok v            # leaves -wal and -shm behind: look at them too
    local key hex f
    key=$(cat v.key)
    hex=$(tr -d -- '-' <v.key)
    for f in v/*; do
        [ "$(grep -ac -- "$MARKER" "$f")" -eq 0 ] || { echo "passphrase in $f"; return 1; }
        [ "$(grep -ac -- "$key" "$f")" -eq 0 ] || { echo "recovery key in $f"; return 1; }
        [ "$(grep -aci -- "$hex" "$f")" -eq 0 ] || { echo "recovery key (hex) in $f"; return 1; }
        [ "$(grep -ac 'CREATE TABLE' "$f")" -eq 0 ] || { echo "SQL in $f"; return 1; }
    done
    if command -v strings >/dev/null; then
        [ "$(strings v/vault.db | grep -c 'CREATE TABLE')" -eq 0 ]
        [ "$(strings -n 6 v/vault.db | grep -ci 'sqlite')" -eq 0 ]
    fi
}

# ---- check ----------------------------------------------------------------

@test "check prints ok and exits 0; --quiet prints nothing" {
    mkvault v
    check_ok v
    run --separate-stderr "$VRMFS" check --quiet --passfile pass v
    expect_status 0
    [ -z "$output" ] && [ -z "$stderr" ]
    run --separate-stderr "$VRMFS" check -q -p pass v
    expect_status 0
    [ -z "$output" ]
}

@test "check with a wrong passphrase exits 2 naming the passphrase" {
    mkvault v
    run --separate-stderr "$VRMFS" check --passfile wrongpass v
    expect_status 2
    has "$stderr" "passphrase"
    lacks "$output" "ok"
}

@test "check where there is no vault exits 3" {
    run --separate-stderr "$VRMFS" check --passfile pass missing
    expect_status 3
    has "$stderr" "missing"
    mkdir empty
    run --separate-stderr "$VRMFS" check --passfile pass empty
    expect_status 3
    has "$stderr" "vault.json"
    [ -z "$(ls -A empty)" ] || { echo "check left $(ls -A empty) in an empty directory"; return 1; }
    echo hello >plainfile
    run --separate-stderr "$VRMFS" check --passfile pass plainfile
    expect_status 3
    # a vault.json without its vault.db
    mkvault v
    rm v/vault.db
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 3
    has "$stderr" "vault.db"
}

@test "check handles the -wal and -shm files SQLite leaves behind" {
    mkvault v
    check_ok v
    check_ok v                          # again, with whatever the first left
    rm -f v/vault.db-shm
    check_ok v                          # the WAL index is rebuilt
    rm -f v/vault.db-wal v/vault.db-shm
    check_ok v
    : >v/vault.db-wal                   # an empty WAL
    check_ok v
    # damage is still found with the WAL files present
    flip v/vault.db $((4096 + 100))
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 1
    has "$output" "page 2"
}

@test "check: WAL bytes SQLite would ignore are not damage" {
    mkvault v
    check_ok v
    head -c $((32 + 4120 * 2)) /dev/urandom >v/vault.db-wal     # no valid header
    check_ok v
    head -c $((32 + 4120)) /dev/zero >v/vault.db-wal             # zeros
    check_ok v
}

@test "check: a forged WAL frame is reported, exit 1" {
    mkvault v
    check_ok v
    rm -f v/vault.db-shm
    {
        # WAL header: magic, version 3007000, page size 4096, checkpoint 0,
        # salts "SALTSALT", checksums
        printf '\067\177\006\202\000\055\342\030\000\000\020\000\000\000\000\000'
        printf 'SALTSALT'
        head -c 8 /dev/zero
        # frame 1: page 2, not a commit, this generation's salts, a forged page
        printf '\000\000\000\002\000\000\000\000SALTSALT'
        head -c 8 /dev/zero
        head -c 4096 /dev/urandom
        # frame 2: page 3, a commit (database of 4 pages)
        printf '\000\000\000\003\000\000\000\004SALTSALT'
        head -c 8 /dev/zero
        head -c 4096 /dev/urandom
    } >v/vault.db-wal
    [ "$(stat -c %s v/vault.db-wal)" -eq $((32 + 2 * 4120)) ]
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 1
    has "$output" "vault.db-wal frame 1"
    has "$output" "damaged"
    lacks "$output" "vault.db page"
}

@test "check: a flipped byte in page 2 is reported as page 2, exit 1" {
    mkvault v
    check_ok v
    local d
    d=$(sha v/vault.db)
    flip v/vault.db $((4096 + 100))
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 1
    has "$output" "page 2"
    lacks "$output" "page 1 "
    has "$output" "damaged"
    grep -q '^damaged: 1 problem' <<<"$output"
    # check only reads: flipping the byte back makes the vault whole again
    flip v/vault.db $((4096 + 100))
    [ "$(sha v/vault.db)" = "$d" ]
    check_ok v
}

@test "check: a flipped byte in page 1, in its data or its tag, is reported, exit 1" {
    mkvault v
    local off
    for off in 0 16 200 $((4096 - 40)) $((4096 - 1)); do
        flip v/vault.db "$off"
        run --separate-stderr "$VRMFS" check --passfile pass v
        [ "$status" -eq 1 ] || { echo "byte $off: exit $status; $output $stderr"; return 1; }
        has "$output" "page 1"
        flip v/vault.db "$off"
    done
    check_ok v
}

@test "check: page 2 copied over page 3 is rejected as page 3" {
    mkvault v
    [ "$(stat -c %s v/vault.db)" -ge $((3 * 4096)) ] || skip "vault.db has fewer than 3 pages"
    dd if=v/vault.db of=v/vault.db bs=4096 skip=1 seek=2 count=1 conv=notrunc status=none
    cmp -s <(dd if=v/vault.db bs=4096 skip=1 count=1 status=none) \
        <(dd if=v/vault.db bs=4096 skip=2 count=1 status=none)
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 1
    has "$output" "page 3"
    lacks "$output" "page 2"
}

@test "check: pages swapped between two vaults are rejected" {
    mkvault a
    mkvault b
    # page 2 of b at the same offset of a: same passphrase, another vault
    dd if=b/vault.db of=a/vault.db bs=4096 skip=1 seek=1 count=1 conv=notrunc status=none
    run --separate-stderr "$VRMFS" check --passfile pass a
    expect_status 1
    has "$output" "page 2"
    # the whole vault.db of b under a's vault.json
    cp b/vault.db a/vault.db
    run --separate-stderr "$VRMFS" check --passfile pass a
    expect_status 1
    has "$output" "page 1"
    check_ok b
}

@test "check: vault.db cut short is damage, exit 1" {
    mkvault v
    cp v/vault.db whole.db
    truncate -s $(($(stat -c %s v/vault.db) - 100)) v/vault.db
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 1
    has "$output" "truncated"
    # cut at a page boundary: every page left is authentic, the database is not
    cp whole.db v/vault.db
    rm -f v/vault.db-wal v/vault.db-shm
    truncate -s 8192 v/vault.db
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 1
    has "$output" "damaged"
    # empty
    : >v/vault.db
    run --separate-stderr "$VRMFS" check --passfile pass v
    [ "$status" -ne 0 ] || { echo "an empty vault.db passed check"; return 1; }
    cp whole.db v/vault.db
    rm -f v/vault.db-wal v/vault.db-shm
    check_ok v
}

# ---- verify-log -----------------------------------------------------------------

@test "verify-log on a fresh vault prints ok and exits 0; check verifies the logs too" {
    mkvault v
    run --separate-stderr "$VRMFS" verify-log --passfile pass v
    expect_status 0
    [ "$output" = ok ] || { echo "verify-log printed: $output"; return 1; }
    run --separate-stderr "$VRMFS" verify-log -p pass v
    expect_status 0
    check_ok v
    run --separate-stderr "$VRMFS" check --help
    has "$output" "access log"
}

@test "verify-log VAULT: wrong passphrase exits 2, a vault in use exits 7" {
    mkvault v
    run --separate-stderr "$VRMFS" verify-log --passfile wrongpass v
    expect_status 2
    [ -z "$output" ]
    hold_lock v
    run --separate-stderr "$VRMFS" verify-log --passfile pass v
    expect_status 7
}

@test "verify-log FILE accepts a log chained with sha256sum alone" {
    mklog log
    [ "$(wc -l <log)" -eq 3 ]
    run --separate-stderr "$VRMFS" verify-log log
    expect_status 0
    [ "$output" = "ok (3 lines)" ] || { echo "verify-log printed: $output"; return 1; }
    [ -z "$stderr" ]
    : >empty.log
    run --separate-stderr "$VRMFS" verify-log empty.log
    expect_status 0
    [ "$output" = "ok (0 lines)" ] || { echo "verify-log printed: $output"; return 1; }
    # the last line cut off leaves a log that still chains (see vrmfs(5))
    sed -i '$d' log
    run --separate-stderr "$VRMFS" verify-log log
    expect_status 0
    [ "$output" = "ok (2 lines)" ]
}

@test "verify-log FILE finds a removed, altered or reordered line and a cut end: exit 1, naming the line" {
    mklog log
    cp log l1 && sed -i 2d l1                       # a line removed
    verify_log_bad l1 2
    has "$output" "chain"
    cp log l2 && sed -i 1d l2                       # the first line removed
    verify_log_bad l2 1
    cp log l3 && sed -i '2s/pid=4243/pid=4244/' l3  # a line altered
    verify_log_bad l3 2
    cp log l4 && sed -i '3s/uid=0 /uid=1 /' l4      # the last line altered
    verify_log_bad l4 3
    cp log l5 && sed -i '1{h;d};2{G}' l5            # lines 1 and 2 swapped
    [ "$(sort l5)" = "$(sort log)" ] && ! cmp -s log l5
    verify_log_bad l5 1
    cp log l6 && sed -i '1s/chain=./chain=X/' l6    # a chain field altered
    verify_log_bad l6 1
    head -c -1 log >l7                              # no newline at the end
    verify_log_bad l7 3
    has "$output" "truncated"
    head -c -30 log >l8                             # cut inside the last line
    verify_log_bad l8 3
    printf 'garbage\n' >>log                        # a line of something else
    verify_log_bad log 4
}

@test "verify-log: bad arguments exit 64 with a message on stderr" {
    mkvault v
    mklog log
    mkdir notavault
    local -a cases=(
        "verify-log"
        "verify-log --bogus v"
        "verify-log --passfile"
        "verify-log --passfile pass v v"
        "verify-log --passfile pass no-such-thing"
        "verify-log notavault"
        "verify-log --passfile pass log"
        "verify-log /dev/null"
    )
    local c
    for c in "${cases[@]}"; do
        # shellcheck disable=SC2086
        run --separate-stderr "$VRMFS" $c
        [ "$status" -eq 64 ] || { echo "'vrmfs $c': exit $status, not 64; stderr: $stderr"; return 1; }
        has "$stderr" "vrmfs verify-log"
        [ -z "$output" ] || { echo "'vrmfs $c': stdout: $output"; return 1; }
    done
    run --separate-stderr "$VRMFS" verify-log notavault
    has "$stderr" "without vault.json"
    run --separate-stderr "$VRMFS" verify-log no-such-thing
    has "$stderr" "No such file or directory"
    [ -z "$(ls -A notavault)" ]
}

# ---- vault.json tampered ----------------------------------------------------

@test "vault.json with another id exits 5 naming vault.json; restored, check passes" {
    mkvault v
    cp v/vault.json orig.json
    local d
    d=$(sha v/vault.db)
    json_set v/vault.json id "\"$(b64 16)\""
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5
    has "$stderr" "vault.json"
    [ "$(sha v/vault.db)" = "$d" ]
    cp orig.json v/vault.json
    check_ok v
}

@test "vault.json with another wrapped recovery key exits 5; restored, check passes" {
    mkvault v
    cp v/vault.json orig.json
    json_set v/vault.json recovery "\"$(b64 72)\""
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5
    has "$stderr" "vault.json"
    cp orig.json v/vault.json
    check_ok v
}

@test "vault.json damaged in other ways exits 5; restored, check passes" {
    mkvault v
    cp v/vault.json orig.json
    local d
    d=$(sha v/vault.db)

    echo 'this is not JSON' >v/vault.json
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5
    has "$stderr" "vault.json"

    : >v/vault.json
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5

    head -c 200 orig.json >v/vault.json
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5

    cp orig.json v/vault.json
    json_set v/vault.json mac "\"$(b64 32)\""
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5
    has "$stderr" "vault.json"

    cp orig.json v/vault.json
    json_set v/vault.json id '"AAAA"'
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5

    cp orig.json v/vault.json
    sed -i 's/"format":/"extra": 1, "format":/' v/vault.json
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5

    cp orig.json v/vault.json
    json_set v/vault.json format 0
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 5

    [ "$(sha v/vault.db)" = "$d" ]
    cp orig.json v/vault.json
    check_ok v
}

@test "vault.json in format 2 exits 4 saying it is newer; restored, check passes" {
    mkvault v
    cp v/vault.json orig.json
    json_set v/vault.json format 2
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 4
    has "$stderr" "newer"
    run --separate-stderr "$VRMFS" passwd --passfile pass --new-passfile newpass v
    expect_status 4
    cp orig.json v/vault.json
    check_ok v
}

@test "vault.json with altered Argon2id costs or salt looks like a wrong passphrase" {
    mkvault v
    cp v/vault.json orig.json
    json_set v/vault.json ops 2
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 2
    cp orig.json v/vault.json
    json_set v/vault.json salt "\"$(b64 16)\""
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 2
    cp orig.json v/vault.json
    check_ok v
}

# ---- passwd and recover -------------------------------------------------------

@test "passwd changes the passphrase and leaves vault.db alone" {
    mkvault v
    local j d
    j=$(sha v/vault.json)
    d=$(sha v/vault.db)
    run --separate-stderr "$VRMFS" passwd --passfile pass --new-passfile newpass v
    expect_status 0
    has "$stderr" "passphrase changed"
    [ "$(sha v/vault.json)" != "$j" ]
    [ "$(sha v/vault.db)" = "$d" ]
    [ "$(mode v/vault.json)" = 600 ]
    [ ! -e v/vault.json.new ]
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 2
    check_ok v newpass
    # short options, and back
    run --separate-stderr "$VRMFS" passwd -p newpass -n pass v
    expect_status 0
    check_ok v pass
    [ "$(sha v/vault.db)" = "$d" ]
    # the recovery key still works after passwd
    run --separate-stderr "$VRMFS" recover --recovery-file v.key --new-passfile newpass v
    expect_status 0
    check_ok v newpass
}

@test "passwd with a wrong old passphrase exits 2 and leaves vault.json unchanged" {
    mkvault v
    local j
    j=$(sha v/vault.json)
    run --separate-stderr "$VRMFS" passwd --passfile wrongpass --new-passfile newpass v
    expect_status 2
    has "$stderr" "passphrase"
    [ "$(sha v/vault.json)" = "$j" ]
    [ ! -e v/vault.json.new ]
    check_ok v
}

@test "passwd reads the old and new passphrases as two lines of standard input" {
    mkvault v
    run --separate-stderr bash -c '{ cat pass newpass; } | "$0" passwd v' "$VRMFS"
    expect_status 0
    check_ok v newpass
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 2
    # only one line given: nothing changes
    local j
    j=$(sha v/vault.json)
    run --separate-stderr bash -c 'cat newpass | "$0" passwd v' "$VRMFS"
    expect_status 64
    [ "$(sha v/vault.json)" = "$j" ]
}

@test "passwd refuses an empty new passphrase" {
    mkvault v
    local j
    j=$(sha v/vault.json)
    printf '\n' >empty
    run --separate-stderr "$VRMFS" passwd --passfile pass --new-passfile empty v
    expect_status 64
    [ "$(sha v/vault.json)" = "$j" ]
    check_ok v
}

@test "passwd and recover where there is no vault exit 3" {
    run --separate-stderr "$VRMFS" passwd --passfile pass --new-passfile newpass missing
    expect_status 3
    mkdir empty
    run --separate-stderr "$VRMFS" passwd --passfile pass --new-passfile newpass empty
    expect_status 3
    run --separate-stderr "$VRMFS" recover --recovery-file pass --new-passfile newpass empty
    expect_status 3
    [ -z "$(ls -A empty)" ]
}

@test "recover with the recovery file sets a new passphrase" {
    mkvault v
    local d
    d=$(sha v/vault.db)
    run --separate-stderr "$VRMFS" recover --recovery-file v.key --new-passfile newpass v
    expect_status 0
    has "$stderr" "passphrase changed"
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 2
    check_ok v newpass
    [ "$(sha v/vault.db)" = "$d" ]
    # the same key works again (it is not used up), with short options
    run --separate-stderr "$VRMFS" recover -r v.key -n pass v
    expect_status 0
    check_ok v pass
}

@test "recover accepts the key without dashes, in upper case, or with spaces" {
    mkvault v
    tr -d -- '-' <v.key | tr a-f A-F >upper
    grep -qxE '[0-9A-F]{64}' upper
    run --separate-stderr "$VRMFS" recover --recovery-file upper --new-passfile newpass v
    expect_status 0
    check_ok v newpass
    tr -- '-' ' ' <v.key >spaced
    run --separate-stderr "$VRMFS" recover --recovery-file spaced --new-passfile pass v
    expect_status 0
    check_ok v pass
    # and from standard input, key then new passphrase
    run --separate-stderr bash -c '{ cat v.key newpass; } | "$0" recover v' "$VRMFS"
    expect_status 0
    check_ok v newpass
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 2
}

@test "recover with a wrong recovery key exits 2 and changes nothing" {
    mkvault v
    mkvault other
    local j
    j=$(sha v/vault.json)
    run --separate-stderr "$VRMFS" recover --recovery-file other.key --new-passfile newpass v
    expect_status 2
    has "$stderr" "recovery key"
    # one digit changed
    local k last
    k=$(cat v.key)
    last=${k: -1}
    if [ "$last" = 0 ]; then last=1; else last=0; fi
    printf '%s%s\n' "${k%?}" "$last" >near
    run --separate-stderr "$VRMFS" recover --recovery-file near --new-passfile newpass v
    expect_status 2
    [ "$(sha v/vault.json)" = "$j" ]
    check_ok v
}

@test "recover with garbage for a recovery key exits 2" {
    mkvault v
    local j
    j=$(sha v/vault.json)
    local g
    for g in 'garbage' 'correct horse battery' "$(cut -c1-78 v.key)" "$(cat v.key)0" \
        "$(sed 's/./g/1' v.key)"; do
        printf '%s\n' "$g" >g
        run --separate-stderr "$VRMFS" recover --recovery-file g --new-passfile newpass v
        [ "$status" -eq 2 ] || { echo "'$g': exit $status; $stderr"; return 1; }
    done
    has "$stderr" "recovery key"
    # the passphrase is not a recovery key
    run --separate-stderr "$VRMFS" recover --recovery-file pass --new-passfile newpass v
    expect_status 2
    [ "$(sha v/vault.json)" = "$j" ]
    check_ok v
}

# ---- a vault in use -------------------------------------------------------------

@test "a vault in use: check exits 7, passwd still works" {
    command -v flock >/dev/null || skip "flock(1) missing"
    mkvault v
    hold_lock v
    run --separate-stderr "$VRMFS" check --passfile pass v
    expect_status 7
    has "$stderr" "in use"
    run --separate-stderr "$VRMFS" passwd --passfile pass --new-passfile newpass v
    expect_status 0
    kill "$HOLDER"
    wait "$HOLDER" 2>/dev/null || true
    HOLDER=
    check_ok v newpass
}

# ---- disk full --------------------------------------------------------------------

@test "disk full: init fails with exit 6 and leaves no half-made vault" {
    mount_tmpfs 256k
    local free problems="" failures=0 avail
    for free in 0 8 16 24 32 40 48 56 64 72 80 96; do
        rm -rf "$MNT/v" "$MNT/fill"
        dd if=/dev/zero of="$MNT/fill" bs=1k count=$((256 - free)) status=none 2>/dev/null || true
        avail=$(df -k --output=avail "$MNT" | tail -1 | tr -d ' ')
        run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass \
            --recovery-file "key.$free" "$MNT/v"
        if [ "$status" -eq 0 ]; then
            run --separate-stderr "$VRMFS" check --passfile pass "$MNT/v"
            [ "$status" -eq 0 ] ||
                problems+="${free}K free: init succeeded but check exits $status: $output $stderr"$'\n'
            continue
        fi
        failures=$((failures + 1))
        [ "$status" -eq 6 ] ||
            problems+="${free}K free (df: ${avail}K): exit $status, not 6: $stderr"$'\n'
        [ ! -e "$MNT/v" ] ||
            problems+="${free}K free: left $(ls -A "$MNT/v" | tr '\n' ' ')"$'\n'
        [ ! -e "key.$free" ] ||
            problems+="${free}K free: left the recovery file"$'\n'
        [ "$(ls -A "$MNT")" = fill ] ||
            problems+="${free}K free: left $(ls -A "$MNT" | tr '\n' ' ')"$'\n'
    done
    [ "$failures" -gt 0 ] || { echo "init never ran out of space"; return 1; }
    [ -z "$problems" ] || { printf '%s' "$problems"; return 1; }
}

@test "disk full: a recovery file that cannot be written fails init with exit 6, no vault" {
    mount_tmpfs 64k
    fill_disk
    run --separate-stderr "$VRMFS" init --kdf-ops 1 --kdf-mem 8K --passfile pass \
        --recovery-file "$MNT/key" v
    expect_status 6
    has "$stderr" "recovery key"
    [ ! -e v ]
    [ ! -e "$MNT/key" ]
}

@test "disk full: passwd exits 6 and keeps the old vault.json" {
    mount_tmpfs 1m   # room for a new vault (five schema steps)
    mkvault "$MNT/v"
    check_ok "$MNT/v"
    local j d
    j=$(sha "$MNT/v/vault.json")
    d=$(sha "$MNT/v/vault.db")
    fill_disk
    run --separate-stderr "$VRMFS" passwd --passfile pass --new-passfile newpass "$MNT/v"
    expect_status 6
    has "$stderr" "space"
    [ "$(sha "$MNT/v/vault.json")" = "$j" ]
    [ "$(sha "$MNT/v/vault.db")" = "$d" ]
    [ ! -e "$MNT/v/vault.json.new" ]
    rm "$MNT/fill"
    check_ok "$MNT/v"
    run --separate-stderr "$VRMFS" check --passfile newpass "$MNT/v"
    expect_status 2
}

@test "disk full: recover exits 6 and keeps the old vault.json" {
    mount_tmpfs 1m   # room for a new vault (five schema steps)
    mkvault "$MNT/v"
    mv "$MNT/v.key" v.key
    local j
    j=$(sha "$MNT/v/vault.json")
    fill_disk
    run --separate-stderr "$VRMFS" recover --recovery-file v.key --new-passfile newpass "$MNT/v"
    expect_status 6
    [ "$(sha "$MNT/v/vault.json")" = "$j" ]
    [ ! -e "$MNT/v/vault.json.new" ]
    rm "$MNT/fill"
    check_ok "$MNT/v"
}

@test "disk full: check does not call a sound vault damaged" {
    mount_tmpfs 1m   # room for a new vault (five schema steps)
    mkvault "$MNT/v"            # no check yet: no -shm to reuse
    fill_disk
    run --separate-stderr "$VRMFS" check --passfile pass "$MNT/v"
    lacks "$output" "damaged"
    [ "$status" -eq 0 ] || [ "$status" -eq 6 ] ||
        { echo "check of a sound vault on a full disk: exit $status, not 0 or 6: $output $stderr"; return 1; }
    rm "$MNT/fill"
    check_ok "$MNT/v"
}

# ---- the manual pages -----------------------------------------------------------

man_text() {
    # one line per paragraph, no hyphenation, plain characters; $1: vrmfs.1 (default) or vrmfs.5
    groff -man -Tascii -rLL=2000n -rHY=0 -P-cbou "$SRCDIR/fs/${1:-vrmfs.1}" 2>/dev/null
}

@test "the manual pages render without warnings" {
    command -v groff >/dev/null || skip "groff missing"
    local page
    for page in vrmfs.1 vrmfs.5; do
        [ -s "$SRCDIR/fs/$page" ] || { echo "no fs/$page"; return 1; }
        run --separate-stderr groff -man -ww -z "$SRCDIR/fs/$page"
        expect_status 0
        [ -z "$stderr" ] || { echo "groff $page: $stderr"; return 1; }
        run --separate-stderr groff -man -ww -Tutf8 "$SRCDIR/fs/$page"
        expect_status 0
        [ -z "$stderr" ] || { echo "groff -Tutf8 $page: $stderr"; return 1; }
        if command -v mandoc >/dev/null; then
            run mandoc -Tlint -Wwarning "$SRCDIR/fs/$page"
            [ -z "$output" ] || { echo "mandoc $page: $output"; return 1; }
        fi
        if command -v lexgrog >/dev/null; then   # the NAME line apropos(1) shows
            run lexgrog "$SRCDIR/fs/$page"
            expect_status 0
            has "$output" "vrmfs - "
        fi
        if command -v man >/dev/null; then
            run --separate-stderr env MANWIDTH=80 man -P cat -l "$SRCDIR/fs/$page"
            expect_status 0
            has "$output" "vrmfs"
        fi
    done
}

@test "vrmfs(5) names every path of the mounted tree, the formats and the threat model" {
    command -v groff >/dev/null || skip "groff missing"
    local text s comp routes
    text=$(man_text vrmfs.5)
    for s in NAME SYNOPSIS DESCRIPTION "THE MOUNTED TREE" "THE VAULT DIRECTORY" MESSAGES \
        "CONSENT RECEIPTS" "ACCESS LOGS" "THE EXPORT DIRECTORY" "THREAT MODEL" "SEE ALSO"; do
        grep -qx "$s" <<<"$text" || { echo "no section $s"; return 1; }
    done
    # every fixed part of every path of the daemon's route table (its
    # patterns' * and ** left out; *.json read as .json)
    routes=$(sed -n 's/^ *{"\(\/[^"]*\)", *N_[A-Z_]*,.*/\1/p' "$SRCDIR/fs/mount/node.c")
    [ "$(wc -l <<<"$routes")" -ge 40 ] ||
        { echo "fs/mount/node.c no longer lists the routes as this test reads them"; return 1; }
    while read -r comp; do
        has "$text" "$comp"
    done < <(tr '/' '\n' <<<"$routes" | sed 's/^\*\*$//; s/^\*$//; s/^\*\././' | grep -v '^$' |
        sort -u)
    for f in vault.json vault.db vault.db-wal vault.db-shm vault.lock; do
        sed -n '/^THE VAULT DIRECTORY$/,/^MESSAGES$/p' <<<"$text" | grep -qE "^ +$f\$" ||
            { echo "$f not in THE VAULT DIRECTORY"; return 1; }
    done
    for s in XChaCha20-Poly1305 Argon2id crypto_box_seal vrm+jws KI-CR-v1.1.0 chain= \
        "older copy" "vrmfs(1)"; do
        has "$text" "$s"
    done
    has "$(man_text vrmfs.1)" "vrmfs(5)"
}

@test "the manual page names every command, option, exit status and file" {
    command -v groff >/dev/null || skip "groff missing"
    local text synopsis cmd line opt short long code
    text=$(man_text)
    for s in NAME SYNOPSIS DESCRIPTION COMMANDS PASSPHRASES "EXIT STATUS" FILES SECURITY \
        EXAMPLES "SEE ALSO"; do
        grep -qx "$s" <<<"$text" || { echo "no section $s"; return 1; }
    done
    synopsis=$(sed -n '/^SYNOPSIS$/,/^DESCRIPTION$/p' <<<"$text")
    for cmd in init check verify-log passwd recover compact; do
        line=$(grep -E "^ *vrmfs $cmd " <<<"$synopsis") || { echo "no synopsis for $cmd"; return 1; }
        # every option of 'vrmfs CMD --help' but --help itself, short|long
        while read -r short long; do
            [ "$long" = --help ] && continue
            [ "$short" != - ] || short=
            if [ -n "$short" ]; then
                has "$line" "[$short|$long"
            else
                has "$line" "[$long"
            fi
            grep -qE "^ *(${short:+$short, })$long" <<<"$text" ||
                { echo "option $short $long of $cmd not described"; return 1; }
        done < <("$VRMFS" "$cmd" --help |
            sed -nE 's/^ +(-[a-zA-Z]), (--[a-z][a-z-]*).*/\1 \2/p; s/^ +(--[a-z][a-z-]*).*/- \1/p')
        grep -qE "^ *$cmd \[OPTIONS\] VAULT" <<<"$text" || { echo "no section for $cmd"; return 1; }
    done
    # exit statuses: every one of fs/cli.h, in EXIT STATUS
    local status_section
    status_section=$(sed -n '/^EXIT STATUS$/,/^FILES$/p' <<<"$text")
    grep -qE '^ +0 +Success' <<<"$status_section"
    while read -r code; do
        grep -qE "^ +$code +[[:alnum:]]" <<<"$status_section" ||
            { echo "exit status $code not in EXIT STATUS"; return 1; }
    done < <(sed -nE 's/^ *EXIT_[A-Z]+ = ([0-9]+),.*/\1/p' "$SRCDIR/fs/cli.h")
    [ "$(sed -nE 's/^ *EXIT_[A-Z]+ = ([0-9]+),.*/\1/p' "$SRCDIR/fs/cli.h" | wc -l)" -ge 10 ]
    for f in vault.json vault.db vault.db-wal vault.db-shm vault.lock; do
        sed -n '/^FILES$/,/^SECURITY$/p' <<<"$text" | grep -qE "^ +$f\$" ||
            { echo "$f not in FILES"; return 1; }
    done
    has "$text" "sqlite3(1)"
    has "$text" "XChaCha20-Poly1305"
    has "$text" "Argon2id"
    has "$text" "older copy"
}

# ---- import -----------------------------------------------------------------------

# mkcsv FILE: a small finance CSV with a quoted comma, a CRLF line and a row
# with one cell too many (line 4).
mkcsv() {
    printf 'date,amount,currency,merchant\n2026-01-02,12.50,EUR,"Caf\xc3\xa9, Bern"\r\n' >"$1"
    printf '2026-01-03,-3,EUR,Coop\n2026-01-04,1,EUR,x,extra\n2026-01-05,7,CHF,SBB\n' >>"$1"
}

@test "import prints the report on stdout, exit 0; a second import adds nothing" {
    mkvault v
    mkcsv bank.csv
    run --separate-stderr "$VRMFS" import --passfile pass v finance bank.csv
    expect_status 0
    has "$output" '"file": "bank.csv"'
    has "$output" '"format": "csv"'
    has "$output" '"rows": 4'
    has "$output" '"imported": 3'
    has "$output" '"unchanged": 0'
    has "$output" '"line": 4'
    has "$output" '"reason": "more cells than the header names"'
    has "$output" '"collection": "finance"'
    [[ "$output" =~ \"finished\":\ \"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\" ]] ||
        { echo "no finished time in: $output"; return 1; }
    [ -z "$stderr" ] || { echo "stderr: $stderr"; return 1; }
    if command -v jq >/dev/null; then
        [ "$(jq -c '[.rows, .imported, .unchanged, (.refused | length)]' <<<"$output")" = '[4,3,0,1]' ]
    fi
    run --separate-stderr "$VRMFS" import -p pass v finance "$T/bank.csv"
    expect_status 0
    has "$output" '"imported": 0'
    has "$output" '"unchanged": 3'
    # JSON lines, into a collection made for it
    printf '{"id": "a", "n": 1}\n\nnot json\n{"id": "b"}\n' >notes.jsonl
    run --separate-stderr "$VRMFS" import -p pass v notes notes.jsonl
    expect_status 0
    has "$output" '"format": "jsonl"'
    has "$output" '"imported": 2'
    has "$output" '"line": 3'
    check_ok v
}

@test "import refuses a file that is neither CSV nor JSON lines: exit 11, nothing changed" {
    mkvault v
    local f
    head -c 4096 /dev/urandom >binary.dat
    printf '\0' >>binary.dat
    : >empty.csv
    printf 'a,,b\n1,2,3\n' >emptyname.csv
    printf 'a,b,a\n1,2,3\n' >dup.csv
    for f in binary.dat empty.csv emptyname.csv dup.csv; do
        run --separate-stderr "$VRMFS" import -p pass v finance "$f"
        [ "$status" -eq 11 ] || { echo "$f: exit $status, not 11; stderr: $stderr"; return 1; }
        [ -z "$output" ] || { echo "$f: stdout: $output"; return 1; }
        has "$stderr" "$f: not CSV or JSON lines"
    done
    # nothing was imported before: every row of a good file is new
    mkcsv bank.csv
    run --separate-stderr "$VRMFS" import -p pass v finance bank.csv
    expect_status 0
    has "$output" '"imported": 3'
    # a file that cannot be read: exit 10
    run --separate-stderr "$VRMFS" import -p pass v finance no-such.csv
    expect_status 10
    has "$stderr" "no-such.csv"
    check_ok v
}

@test "import into a vault in use exits 7; wrong passphrase 2; no vault 3" {
    command -v flock >/dev/null || skip "flock(1) missing"
    mkvault v
    mkcsv bank.csv
    run --separate-stderr "$VRMFS" import -p wrongpass v finance bank.csv
    expect_status 2
    [ -z "$output" ]
    run --separate-stderr "$VRMFS" import -p pass nowhere finance bank.csv
    expect_status 3
    hold_lock v
    run --separate-stderr "$VRMFS" import -p pass v finance bank.csv
    expect_status 7
    has "$stderr" "in use"
    [ -z "$output" ]
    kill "$HOLDER"
    wait "$HOLDER" 2>/dev/null || true
    HOLDER=
    run --separate-stderr "$VRMFS" import -p pass v finance bank.csv
    expect_status 0
    has "$output" '"imported": 3'
}

@test "import: --help, and usage errors exit 64 with a message, importing nothing" {
    mkvault v
    mkcsv bank.csv
    cp bank.csv .hidden.csv
    for opt in --help -h; do
        run --separate-stderr "$VRMFS" import "$opt"
        expect_status 0
        has "$output" "Usage: vrmfs import [OPTIONS] VAULT COLLECTION FILE"
        has "$output" "--passfile"
    done
    local -a cases=(
        "import"
        "import -p pass v"
        "import -p pass v finance"
        "import -p pass v finance bank.csv extra"
        "import --bogus -p pass v finance bank.csv"
        "import -p pass v Finance bank.csv"
        "import -p pass v fin.ance bank.csv"
        "import -p pass v finance .hidden.csv"
        "import -p pass v finance ."
    )
    usage_errors "${cases[@]}"
    run --separate-stderr "$VRMFS" import -p pass v finance bank.csv
    expect_status 0
    has "$output" '"imported": 3'
}

@test "import is in vrmfs --help and in the manual page" {
    run --separate-stderr "$VRMFS" --help
    has "$output" "  import "
    command -v groff >/dev/null || skip "groff missing"
    local text
    text=$(man_text)
    grep -qE "^ *vrmfs import \[-p\|--passfile F\] VAULT COLLECTION FILE" <<<"$text" ||
        { echo "no synopsis for import"; return 1; }
    grep -qE "^ *import \[OPTIONS\] VAULT COLLECTION FILE" <<<"$text" ||
        { echo "no section for import"; return 1; }
}

# ---- backup and restore ---------------------------------------------------------

# mkrecords VAULT: import two records holding RECMARKER into collection people.
mkrecords() {
    RECMARKER="okapi-RECORD-$$-marker"
    printf 'name,note\nAda,%s\nBob,plain\n' "$RECMARKER" >people.csv
    run --separate-stderr "$VRMFS" import --passfile pass "$1" people people.csv
    expect_status 0
    has "$output" '"imported": 2'
}

# need_fuse: skip unless a vault can be mounted here.
need_fuse() {
    [ -c /dev/fuse ] || skip "no /dev/fuse"
    command -v fusermount3 >/dev/null || skip "fusermount3 missing (package fuse3)"
    command -v mountpoint >/dev/null || skip "mountpoint(1) missing"
}

# mount_here VAULT DIR: mount VAULT at DIR (teardown unmounts MNT).
mount_here() {
    mkdir -p "$2"
    MNT=$2
    "$VRMFS" --passfile pass "$1" "$2" || { echo "mounting $1 at $2 failed"; return 1; }
    mountpoint -q "$2" || { echo "$2 is not mounted"; return 1; }
}

# unmount_here DIR: fusermount3 -u and wait until the vault's lock is free.
unmount_here() {
    local vault=$2 _
    fusermount3 -u "$1" || { echo "fusermount3 -u $1 failed"; return 1; }
    MNT=
    for _ in $(seq 100); do
        flock -n "$vault/vault.lock" true && return 0
        sleep 0.1
    done
    echo "the daemon of $1 never let go of $vault"
    return 1
}

@test "backup and restore have --help and -h" {
    for opt in --help -h; do
        run --separate-stderr "$VRMFS" backup "$opt"
        expect_status 0
        has "$output" "Usage: vrmfs backup [OPTIONS] VAULT DEST"
        has "$output" "vrmfs backup --check [OPTIONS] DEST"
        run --separate-stderr "$VRMFS" restore "$opt"
        expect_status 0
        has "$output" "Usage: vrmfs restore [OPTIONS] BACKUP NEWVAULT"
    done
    run --separate-stderr "$VRMFS" --help
    has "$output" "  backup "
    has "$output" "  restore "
}

@test "backup copies a vault that check, the passphrase and the recovery key open" {
    mkvault v
    mkrecords v
    run --separate-stderr "$VRMFS" backup --passfile pass v bk
    expect_status 0
    [ "$output" = ok ] || { echo "backup printed: $output"; return 1; }
    [ "$(mode bk)" = 700 ]
    [ "$(mode bk/vault.db)" = 600 ]
    [ -f bk/vault.json ] && [ -f bk/vault.db ]
    [ ! -e bk/vault.db-wal ] || { echo "a -wal was left in the backup"; return 1; }
    [ "$(sha bk/vault.json)" = "$(sha v/vault.json)" ]
    # nothing in clear: no record, no SQL, no SQLite header
    ! grep -r -q -a -- "$RECMARKER" bk || { echo "the record is in clear in bk"; return 1; }
    ! grep -r -q -a -- "CREATE TABLE" bk || { echo "SQL in clear in bk"; return 1; }
    [ "$(head -c 15 bk/vault.db)" != "SQLite format 3" ]
    run --separate-stderr "$VRMFS" backup --check --passfile pass bk
    expect_status 0
    [ "$output" = ok ] || { echo "backup --check printed: $output"; return 1; }
    run --separate-stderr "$VRMFS" restore --passfile pass bk nv
    expect_status 0
    [ "$output" = ok ] || { echo "restore printed: $output"; return 1; }
    [ ! -e nv/vault.db-wal ]
    check_ok nv
    # the records came along: a second import of the same rows adds nothing
    run --separate-stderr "$VRMFS" import --passfile pass nv people people.csv
    expect_status 0
    has "$output" '"imported": 0'
    has "$output" '"unchanged": 2'
    # and the recovery key of the original opens the restored vault
    run --separate-stderr "$VRMFS" recover --recovery-file v.key --new-passfile newpass nv
    expect_status 0
    check_ok nv newpass
    check_ok v
}

@test "backup --check: a flipped byte in the backup's vault.db exits 1" {
    mkvault v
    mkrecords v
    run --separate-stderr "$VRMFS" backup --passfile pass v bk
    expect_status 0
    flip bk/vault.db $((4096 + 100))
    run --separate-stderr "$VRMFS" backup --check --passfile pass bk
    expect_status 1
    has "$output" "vault.db page 2"
    has "$output" "damaged:"
    # restore refuses it and makes nothing
    run --separate-stderr "$VRMFS" restore --passfile pass bk nv
    expect_status 1
    [ ! -e nv ] || { echo "restore made nv from a damaged backup"; return 1; }
}

@test "backup --check and restore: wrong passphrase exits 2, no backup exits 3" {
    mkvault v
    run --separate-stderr "$VRMFS" backup --passfile wrongpass v bk
    expect_status 2
    [ ! -e bk ] || { echo "a failed backup left bk"; return 1; }
    run --separate-stderr "$VRMFS" backup --passfile pass v bk
    expect_status 0
    run --separate-stderr "$VRMFS" backup --check --passfile wrongpass bk
    expect_status 2
    run --separate-stderr "$VRMFS" restore --passfile wrongpass bk nv
    expect_status 2
    [ ! -e nv ]
    run --separate-stderr "$VRMFS" backup --check --passfile pass nothere
    expect_status 3
    run --separate-stderr "$VRMFS" backup --passfile pass nothere bk2
    expect_status 3
    [ ! -e bk2 ]
}

@test "backup and restore refuse a non-empty destination: exit 8, nothing changed" {
    mkvault v
    mkdir bk
    echo keep >bk/other
    run --separate-stderr "$VRMFS" backup --passfile pass v bk
    expect_status 8
    has "$stderr" "not empty"
    [ "$(ls bk)" = other ]
    [ "$(cat bk/other)" = keep ]
    run --separate-stderr "$VRMFS" backup --passfile pass v bk2
    expect_status 0
    # restore over an existing vault, or over the backup itself
    run --separate-stderr "$VRMFS" restore --passfile pass bk2 v
    expect_status 8
    check_ok v
    run --separate-stderr "$VRMFS" restore --passfile pass bk2 bk
    expect_status 8
    [ "$(ls bk)" = other ]
    # an empty directory is fine
    mkdir empty
    run --separate-stderr "$VRMFS" restore --passfile pass bk2 empty
    expect_status 0
    check_ok empty
}

@test "backup and restore: bad command lines exit 64" {
    local cases=(
        "backup"
        "backup -p pass v"
        "backup -p pass v a b"
        "backup --check -p pass"
        "backup --check -p pass a b"
        "backup --bogus -p pass v d"
        "restore -p pass v"
        "restore --check -p pass v d"
        "restore -p pass a b c"
    )
    mkvault v
    usage_errors "${cases[@]}"
    [ ! -e d ] && [ ! -e a ]
}

@test "backup of a mounted vault holds what was written before it, and no more" {
    need_fuse
    mkvault v
    mount_here v "$T/mnt"
    mkdir "$T/mnt/records/c"
    printf '{"m": "%s-before"}\n' "$MARKER" >"$T/mnt/records/c/before.json"
    run --separate-stderr "$VRMFS" backup --passfile pass v bk
    expect_status 0
    printf '{"m": "after"}\n' >"$T/mnt/records/c/after.json"
    unmount_here "$T/mnt" v
    [ ! -e bk/vault.db-wal ]
    ! grep -r -q -a -- "$MARKER-before" bk || { echo "the record is in clear in bk"; return 1; }
    run --separate-stderr "$VRMFS" backup --check --passfile pass bk
    expect_status 0
    run --separate-stderr "$VRMFS" restore --passfile pass bk nv
    expect_status 0
    check_ok nv
    mount_here nv "$T/mnt2"
    run cat "$T/mnt2/records/c/before.json"
    local got=$output
    [ -e "$T/mnt2/records/c/after.json" ] && local after=1
    unmount_here "$T/mnt2" nv
    has "$got" "$MARKER-before"
    [ -z "${after:-}" ] || { echo "after.json, written after the backup, is in it"; return 1; }
}

@test "backup and restore are in the manual page, with their options" {
    command -v groff >/dev/null || skip "groff missing"
    local text synopsis
    text=$(man_text)
    synopsis=$(sed -n '/^SYNOPSIS$/,/^DESCRIPTION$/p' <<<"$text")
    grep -qE "^ *vrmfs backup \[-p\|--passfile F\] \[-q\|--quiet\] VAULT DEST" <<<"$synopsis" ||
        { echo "no synopsis for backup"; return 1; }
    grep -qE "^ *vrmfs backup --check \[-p\|--passfile F\] \[-q\|--quiet\] DEST" <<<"$synopsis" ||
        { echo "no synopsis for backup --check"; return 1; }
    grep -qE "^ *vrmfs restore \[-p\|--passfile F\] \[-q\|--quiet\] BACKUP NEWVAULT" <<<"$synopsis" ||
        { echo "no synopsis for restore"; return 1; }
    grep -qE "^ *backup \[OPTIONS\] VAULT DEST" <<<"$text" || { echo "no section for backup"; return 1; }
    grep -qE "^ *restore \[OPTIONS\] BACKUP NEWVAULT" <<<"$text" ||
        { echo "no section for restore"; return 1; }
    for opt in "-p, --passfile" "-c, --check" "-q, --quiet"; do
        grep -qE "^ *$opt" <<<"$text" || { echo "option $opt not described"; return 1; }
    done
}

@test "backup of a damaged vault exits 5 and leaves nothing" {
    mkvault v
    mkrecords v
    flip v/vault.db $((4096 + 100))
    run --separate-stderr "$VRMFS" backup --passfile pass v bk
    expect_status 5
    has "$stderr" "page 2"
    [ ! -e bk ] || { echo "a failed backup left bk"; return 1; }
}

@test "backup of a mounted vault under a steady writer is one consistent snapshot" {
    need_fuse
    mkvault v
    # about 1,000 pages, so the copy takes several steps of 256 pages
    { echo 'name,note'; seq 1 20000 | sed 's/.*/n&,a note of some length for row &/'; } >big.csv
    run --separate-stderr "$VRMFS" import --passfile pass v big big.csv
    expect_status 0
    mount_here v "$T/mnt"
    mkdir "$T/mnt/records/w"
    (
        for i in $(seq 1 300); do
            printf '{"i": %d, "pad": "%s"}\n' "$i" "$(head -c 2000 /dev/zero | tr '\0' x)" \
                >"$T/mnt/records/w/r$i.json" || exit 1
        done
    ) &
    local writer=$! rc=0
    sleep 0.2
    run --separate-stderr "$VRMFS" backup --passfile pass v bk
    wait "$writer" || rc=$?
    unmount_here "$T/mnt" v
    expect_status 0
    [ "$rc" -eq 0 ] || { echo "the writer failed: $rc"; return 1; }
    [ ! -e bk/vault.db-wal ]
    run --separate-stderr "$VRMFS" backup --check --passfile pass bk
    expect_status 0
    [ "$output" = ok ] || { echo "backup --check printed: $output"; return 1; }
    check_ok v
}
