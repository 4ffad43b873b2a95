# mount_helpers.bash: helpers for mount.bats: fresh vaults, mounts that are
# always taken down again (even when a test fails); the assertions come from
# assert.bash.
#
# Every test works in its own $BATS_TEST_TMPDIR/w: the vault is $VAULT, the
# mount point $MNT.  mount_teardown unmounts everything mounted below
# $BATS_TEST_TMPDIR (fusermount3 -u, then -uz, then umount -l), ends the
# background processes the test registered with bg_started, and kills any
# vrmfs daemon still serving there, by its pid.
#
# With VRMFS_VALGRIND=1 every vrmfs this test runs (the commands, and the
# daemon, which valgrind follows through its fork) runs under valgrind
# memcheck, one log per process in $BATS_TEST_TMPDIR/valgrind; mount_teardown
# then fails the test if a log shows a memory error or a definite leak (see
# vg_check), and the waits below allow for valgrind's slowness (SLOW).

# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the tests that load this

# expect_status, has, lacks
# shellcheck source=tests/assert.bash
source "$(dirname "${BASH_SOURCE[0]}")/assert.bash"

mount_setup() {
    : "${VRMFS:?set VRMFS to the vrmfs binary}"
    : "${SRCDIR:?set SRCDIR to the source tree}"
    case $VRMFS in /*) ;; */*) VRMFS="$PWD/$VRMFS" ;; esac
    case $SRCDIR in /*) ;; *) SRCDIR="$PWD/$SRCDIR" ;; esac
    [ -c /dev/fuse ] || skip "no /dev/fuse"
    command -v fusermount3 >/dev/null || skip "fusermount3 missing (package fuse3)"
    command -v jq >/dev/null || skip "jq missing (package jq)"
    T="$BATS_TEST_TMPDIR/w"
    mkdir -p "$T"
    cd "$T" || return 1
    exec </dev/null
    MARKER="zebra-MARKER-$$-quux"
    NAME_MARKER="zebramarker$$quux"       # for names that must be lower case
    printf 'correct horse %s battery\n' "$MARKER" >"$T/pass"
    printf 'wrong passphrase\n' >"$T/wrongpass"
    VAULT="$T/vault"
    MNT="$T/mnt"
    DAEMON=
    DAEMONS=()
    BGPIDS=()
    TMUX_SOCK=
    SLOW=1                  # how many times longer the waits below allow
    VG_DIR=
    if [ "${VRMFS_VALGRIND:-0}" != 0 ]; then
        vg_setup || return 1
    fi
}

# vg_setup: point VRMFS at a script running the real one under valgrind.
# Valgrind follows the daemon's fork (a log of its own, %p) but not exec,
# so --extpass commands, exec: vendors and fusermount3 run as they are.
# Definite leaks count as errors; memory still reachable at exit (SQLite's
# and libfuse's caches) does not.  Valgrind runs one thread at a time, and
# the daemon's invalidation thread looks up paths in its own mount: with
# fuse-compatible, valgrind lets the other threads serve such a lookup
# instead of waiting for it (a deadlock).  VRMFS_VALGRIND_OPTS adds options
# (e.g. --track-origins=yes).
vg_setup() {
    command -v valgrind >/dev/null || skip "valgrind missing (package valgrind)"
    local supp="$SRCDIR/tests/valgrind.supp"
    local opts=(--tool=memcheck --error-exitcode=99 --leak-check=full
        --show-leak-kinds=definite --errors-for-leak-kinds=definite
        --num-callers=30 --sim-hints=fuse-compatible
        --log-file="$BATS_TEST_TMPDIR/valgrind/%p.log")
    [ -f "$supp" ] && opts+=(--suppressions="$supp")
    # shellcheck disable=SC2206  # extra options, split on purpose
    opts+=(${VRMFS_VALGRIND_OPTS:-})
    VG_DIR="$BATS_TEST_TMPDIR/valgrind"
    mkdir -p "$VG_DIR"
    {
        echo '#!/bin/bash'
        printf 'exec valgrind'
        printf ' %q' "${opts[@]}" "$VRMFS"
        printf ' "$@"\n'
    } >"$VG_DIR/vrmfs"
    chmod +x "$VG_DIR/vrmfs"
    VRMFS="$VG_DIR/vrmfs"
    SLOW=10
}

# vg_check: every valgrind log of this test reports no error.  A process
# killed with SIGKILL writes no summary; its log must hold no error either.
vg_check() {
    local log bad=0
    [ -n "${VG_DIR:-}" ] || return 0
    for log in "$VG_DIR"/*.log; do
        [ -e "$log" ] || continue
        if grep -q 'ERROR SUMMARY: [1-9]' "$log" ||
            grep -qE '== (Invalid (read|write|free)|Mismatched free|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Jump to the invalid|Argument .* fishy|Process terminating with default action of signal (4|6|7|8|11) )|are definitely lost' "$log"; then
            echo "valgrind found errors ($(basename "$log")):"
            grep -vE '^==[0-9]+== *$|Memcheck, a memory|Copyright \(C\)|Using Valgrind|rerun with|Reachable blocks' "$log" | head -n 80
            bad=1
        fi
    done
    return "$bad"
}

pid_alive() {
    [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# The mount points below this test's temporary directory, deepest first.
test_mounts() {
    awk -v top="$BATS_TEST_TMPDIR/" 'index($5, top) == 1 { print $5 }' /proc/self/mountinfo |
        sort -r
}

# vrmfs processes this test started (their command line names its directory).
test_daemons() {
    local p
    for p in $(pgrep -f -- vrmfs 2>/dev/null); do
        pid_alive "$p" || continue
        tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$BATS_TEST_TMPDIR/" &&
            echo "$p"
    done
}

mount_teardown() {
    local p m i
    exec 7<&- 8<&- 9>&-    # descriptors a test may hold open into the mount
    for p in "${BGPIDS[@]}"; do
        kill -9 "$p" 2>/dev/null || true
    done
    if [ -n "${TMUX_SOCK:-}" ]; then
        tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
    fi
    for m in $(test_mounts); do
        fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null ||
            umount -l "$m" 2>/dev/null || true
    done
    for p in "${DAEMONS[@]}" $(test_daemons); do
        for i in $(seq $((50 * ${SLOW:-1}))); do
            pid_alive "$p" || break
            [ "$i" -eq $((20 * ${SLOW:-1})) ] && kill "$p" 2>/dev/null
            sleep 0.1
        done
        pid_alive "$p" && kill -9 "$p" 2>/dev/null
    done
    for p in "${BGPIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    # anything still mounted now (a daemon killed above) goes too
    for m in $(test_mounts); do
        fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    cd / || true
    vg_check
}

bg_started() {
    BGPIDS+=("$@")
}

# mkvault [DIR [PASSFILE]]: a new vault with cheap Argon2id costs.
mkvault() {
    local dir=${1:-$VAULT} pf=${2:-$T/pass}
    if ! "$VRMFS" init --passfile "$pf" --kdf-ops 1 --kdf-mem 8M \
            --recovery-file "$dir.key" "$dir" >"$T/mkvault.out" 2>&1; then
        echo "mkvault $dir failed:"
        cat "$T/mkvault.out"
        return 1
    fi
}

# daemon_pid MNT: the pid of the vrmfs process serving MNT.
daemon_pid() {
    local mnt=$1 p last
    for p in $(pgrep -f -- vrmfs 2>/dev/null); do
        pid_alive "$p" || continue
        last=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | tail -n1)
        [ "$last" = "$mnt" ] && { echo "$p"; return 0; }
    done
    return 1
}

# mount_at VAULT MNT [OPTIONS...]: mount with the passfile; DAEMON is its pid.
mount_at() {
    local vault=$1 mnt=$2 rc=0
    shift 2
    mkdir -p "$mnt"
    "$VRMFS" --passfile "$T/pass" "$@" "$vault" "$mnt" >"$T/mount.out" 2>"$T/mount.err" ||
        rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "mounting $vault at $mnt exited $rc: $(cat "$T/mount.err")"
        return 1
    fi
    mountpoint -q "$mnt" || { echo "vrmfs exited 0 but $mnt is not mounted"; return 1; }
    DAEMON=$(daemon_pid "$mnt") || { echo "no vrmfs daemon serves $mnt"; return 1; }
    DAEMONS+=("$DAEMON")
}

# mount_vault [OPTIONS...]: $VAULT at $MNT.
mount_vault() {
    mount_at "$VAULT" "$MNT" "$@"
}

# wait_gone PID [TENTHS]: wait for a process to end.
wait_gone() {
    local i
    for i in $(seq $((${2:-100} * ${SLOW:-1}))); do
        pid_alive "$1" || return 0
        sleep 0.1
    done
    echo "process $1 is still running"
    return 1
}

# wait_unmounted MNT [TENTHS]
wait_unmounted() {
    local i
    for i in $(seq $((${2:-100} * ${SLOW:-1}))); do
        mountpoint -q "$1" || return 0
        sleep 0.1
    done
    echo "$1 is still mounted"
    return 1
}

# unmount_vault [MNT]: fusermount3 -u, and wait for the daemon to end (so the
# vault's lock is free again).
unmount_vault() {
    local mnt=${1:-$MNT} pid
    pid=$(daemon_pid "$mnt") || pid=
    fusermount3 -u "$mnt" || { echo "fusermount3 -u $mnt failed"; return 1; }
    ! mountpoint -q "$mnt" || { echo "$mnt is still mounted"; return 1; }
    [ -z "$pid" ] || wait_gone "$pid"
}

remount() {
    unmount_vault && mount_vault "$@"
}

# check_ok [VAULT]: `vrmfs check` says ok (after notes, such as the torn
# tail of a WAL that a killed daemon leaves, which SQLite ignores too).
check_ok() {
    local out rc=0
    out=$("$VRMFS" check --passfile "$T/pass" "${1:-$VAULT}" 2>&1) || rc=$?
    [ "$rc" -eq 0 ] && [ "$(tail -n1 <<<"$out")" = ok ] &&
        ! grep -v '^note: ' <<<"$out" | grep -qvx ok || {
        echo "vrmfs check ${1:-$VAULT}: exit $rc: $out"
        return 1
    }
}


# fails_with MESSAGE COMMAND...: the command fails, saying MESSAGE (strerror).
fails_with() {
    local msg=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "'$*' succeeded; expected it to fail with '$msg'"
        return 1
    fi
    case "$out" in
    *"$msg"*) return 0 ;;
    esac
    echo "'$*' failed (exit $rc) but not with '$msg': $out"
    return 1
}

# fails_sh MESSAGE SCRIPT: as fails_with, for a shell snippet (redirections).
fails_sh() {
    fails_with "$1" bash -c "$2"
}

# not COMMAND...: the command fails (a bare `! cmd` does not fail a bats test).
not() {
    if "$@"; then
        echo "expected to fail: $*"
        return 1
    fi
}

sha() {
    sha256sum <"$1" | cut -d' ' -f1
}

# same_json A B: jq equality of two JSON texts (files).
same_json() {
    local a b
    a=$(jq -S . "$1") || { echo "$1 is not JSON"; return 1; }
    b=$(jq -S . "$2") || { echo "$2 is not JSON"; return 1; }
    [ "$a" = "$b" ] || {
        echo "$1 and $2 differ:"
        diff <(echo "$a") <(echo "$b") | head -20
        return 1
    }
}

need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || skip "$c missing"
    done
}

# errlog: .vrmfs/errors.log as read through the mount.
errlog() {
    cat "$MNT/.vrmfs/errors.log"
}

# errlog_has PATH: a line of errors.log names PATH (as seen in the mount,
# e.g. /records/c/x.json) with a time before it and a reason after it.
errlog_has() {
    local log
    log=$(errlog) || { echo "cannot read $MNT/.vrmfs/errors.log"; return 1; }
    grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}.* $1: .+" <<<"$log" || {
        echo "no line for $1 (time, path, reason) in errors.log:"
        echo "$log"
        return 1
    }
}

# ---- tmux, to drive full-screen editors -------------------------------------

tmux_start() {  # tmux_start COMMAND...
    need tmux
    TMUX_SOCK="$T/tmux.sock"
    TERM=xterm tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s ed -x 100 -y 30 "$@"
}

tmux_screen() {
    tmux -S "$TMUX_SOCK" capture-pane -p -t ed 2>/dev/null
}

# tmux_wait TEXT: until the screen shows TEXT (10 s).
tmux_wait() {
    local i
    for i in $(seq $((100 * ${SLOW:-1}))); do
        case "$(tmux_screen)" in *"$1"*) return 0 ;; esac
        sleep 0.1
    done
    echo "the screen never showed '$1':"
    tmux_screen
    return 1
}

tmux_keys() {
    tmux -S "$TMUX_SOCK" send-keys -t ed "$@"
}

# tmux_wait_exit: until the program in the session ends (10 s).
tmux_wait_exit() {
    local i
    for i in $(seq $((100 * ${SLOW:-1}))); do
        tmux -S "$TMUX_SOCK" has-session -t ed 2>/dev/null || return 0
        sleep 0.1
    done
    echo "the editor did not exit:"
    tmux_screen
    return 1
}
