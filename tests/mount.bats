#!/usr/bin/env bats
# mount.bats: the mounted vault driven with the real tools a person uses:
# mount and unmount, records/ with editors and copying tools, files/ as an
# ordinary POSIX tree; then unmount, remount and check that everything is
# still there byte for byte, that nothing written shows in the vault directory
# in the clear, that a daemon killed mid-write loses nothing that was closed
# or fsynced, and that two writers at once lose nothing.
#
# Run:  VRMFS=/path/to/build/fs/vrmfs SRCDIR=/path/to/source bats --tap tests/mount.bats
# (meson test runs it exactly so).  Needs /dev/fuse and fusermount3 (skips
# otherwise); jq, rsync, nano, vim, tmux, attr (setfattr/getfattr) for the
# tests that use them (each skips without its tool).
#
# Every test mounts a fresh vault of its own under $BATS_TEST_TMPDIR and
# teardown always takes its mounts down (see mount_helpers.bash).

# shellcheck disable=SC2016,SC2030,SC2031
bats_require_minimum_version 1.5.0

load mount_helpers

setup() {
    mount_setup
}

teardown() {
    mount_teardown
}

# collection C under $MNT/records, made with mkdir; its path in C.
mkcoll() {
    mkdir "$MNT/records/$1" || return 1
    C="$MNT/records/$1"
}

# pretty JSON as jq prints it, from a compact text.
pretty() {
    jq . <<<"$1"
}

# same_records A B: the two directories hold the same NAME.json files and
# each pair is equal as JSON (jq), checked in one pass.
same_records() {
    local a=$1 b=$2 la lb
    la=$(cd "$a" && LC_ALL=C ls -1 -- *.json) || { echo "no records in $a"; return 1; }
    lb=$(cd "$b" && LC_ALL=C ls -1 -- *.json) || { echo "no records in $b"; return 1; }
    [ "$la" = "$lb" ] || {
        echo "different records in $a and $b:"
        diff <(echo "$la") <(echo "$lb") | head -20
        return 1
    }
    # shellcheck disable=SC2086
    [ "$(cd "$a" && jq -S -c . $la 2>&1)" = "$(cd "$b" && jq -S -c . $lb 2>&1)" ] || {
        echo "records in $a and $b differ as JSON; the first:"
        local f
        for f in $la; do
            [ "$(jq -S -c . "$a/$f" 2>&1)" = "$(jq -S -c . "$b/$f" 2>&1)" ] && continue
            echo "$a/$f ($(stat -c %s "$a/$f") bytes):"; cat "$a/$f"
            echo "$b/$f ($(stat -c %s "$b/$f") bytes):"; cat "$b/$f"; echo
            break
        done
        return 1
    }
}

# ---- mounting ---------------------------------------------------------------

@test "mounting returns once mounted with exit 0; fusermount3 -u unmounts cleanly" {
    mkvault
    mkdir "$MNT"
    run --separate-stderr "$VRMFS" --passfile "$T/pass" "$VAULT" "$MNT"
    expect_status 0
    mountpoint -q "$MNT"
    DAEMON=$(daemon_pid "$MNT")
    DAEMONS+=("$DAEMON")
    # usable at once, without waiting
    [ -d "$MNT/records" ]
    [ -d "$MNT/files" ]
    [ -f "$MNT/README.txt" ]
    grep -qE "^vrmfs $MNT fuse" /proc/mounts || { grep " $MNT " /proc/mounts; return 1; }
    mkdir "$MNT/records/c"
    echo '{"a": 1}' >"$MNT/records/c/x.json"
    # the vault is held while mounted
    run --separate-stderr "$VRMFS" check --passfile "$T/pass" "$VAULT"
    expect_status 7
    run --separate-stderr fusermount3 -u "$MNT"
    expect_status 0
    [ -z "$stderr" ] || { echo "fusermount3: $stderr"; return 1; }
    not mountpoint -q "$MNT"
    wait_gone "$DAEMON"
    [ -z "$(ls -A "$MNT")" ]
    check_ok
    mount_vault
    [ "$(jq -c . "$MNT/records/c/x.json")" = '{"a":1}' ]
}

@test "-p, --passfile and --extpass all give the passphrase" {
    mkvault
    mount_vault
    unmount_vault
    mount_at "$VAULT" "$MNT" -p "$T/pass"
    unmount_vault
    printf '#!/bin/sh\ncat %q\n' "$T/pass" >"$T/askpass"
    chmod +x "$T/askpass"
    run --separate-stderr "$VRMFS" --extpass "$T/askpass" "$VAULT" "$MNT"
    expect_status 0
    mountpoint -q "$MNT"
    DAEMONS+=("$(daemon_pid "$MNT")")
    [ -d "$MNT/records" ]
    unmount_vault
    check_ok
}

@test "a wrong passphrase exits 2 and mounts nothing" {
    mkvault
    mkdir "$MNT"
    run --separate-stderr "$VRMFS" --passfile "$T/wrongpass" "$VAULT" "$MNT"
    expect_status 2
    has "$stderr" "passphrase"
    not mountpoint -q "$MNT"
    [ -z "$(ls -A "$MNT")" ]
    run --separate-stderr "$VRMFS" --extpass "echo not-it" "$VAULT" "$MNT"
    expect_status 2
    not mountpoint -q "$MNT"
    [ -z "$(test_daemons)" ] || { echo "a daemon is left: $(test_daemons)"; return 1; }
    check_ok
}

@test "a missing, non-directory or non-empty mount point, or no vault, fails clearly" {
    mkvault
    run --separate-stderr "$VRMFS" --passfile "$T/pass" "$VAULT" "$T/missing"
    [ "$status" -ne 0 ] || { echo "mounted on a missing directory"; return 1; }
    has "$stderr" "$T/missing"
    [ ! -e "$T/missing" ]

    echo "a file" >"$T/afile"
    run --separate-stderr "$VRMFS" --passfile "$T/pass" "$VAULT" "$T/afile"
    [ "$status" -ne 0 ]
    has "$stderr" "afile"
    [ "$(cat "$T/afile")" = "a file" ]

    mkdir "$T/full"
    echo "precious" >"$T/full/keep"
    run --separate-stderr "$VRMFS" --passfile "$T/pass" "$VAULT" "$T/full"
    [ "$status" -ne 0 ] || { echo "mounted over a non-empty directory"; return 1; }
    has "$stderr" "not empty"
    not mountpoint -q "$T/full"
    [ "$(cat "$T/full/keep")" = precious ]

    mkdir "$MNT"
    run --separate-stderr "$VRMFS" --passfile "$T/pass" "$T/novault" "$MNT"
    expect_status 3
    not mountpoint -q "$MNT"
    [ -z "$(test_daemons)" ] || { echo "a daemon is left: $(test_daemons)"; return 1; }
}

@test "a vault already mounted: a second mount exits 7 and mounts nothing" {
    mkvault
    mount_vault
    mkdir "$T/mnt2"
    run --separate-stderr "$VRMFS" --passfile "$T/pass" "$VAULT" "$T/mnt2"
    expect_status 7
    has "$stderr" "in use"
    not mountpoint -q "$T/mnt2"
    # the first mount is unharmed
    mkdir "$MNT/records/c"
    echo '{"still": "fine"}' >"$MNT/records/c/x.json"
    [ "$(jq -r .still "$MNT/records/c/x.json")" = fine ]
}

@test "SIGTERM to the daemon unmounts and keeps what was written" {
    mkvault
    mount_vault
    mkdir "$MNT/records/c"
    echo '{"by": "term"}' >"$MNT/records/c/x.json"
    echo "document" >"$MNT/files/doc.txt"
    kill -TERM "$DAEMON"
    wait_unmounted "$MNT"
    wait_gone "$DAEMON"
    check_ok
    mount_vault
    [ "$(jq -r .by "$MNT/records/c/x.json")" = term ]
    [ "$(cat "$MNT/files/doc.txt")" = document ]
}

@test "SIGINT to the daemon unmounts and keeps what was written" {
    mkvault
    mount_vault
    mkdir "$MNT/records/c"
    echo '{"by": "int"}' >"$MNT/records/c/x.json"
    kill -INT "$DAEMON"
    wait_unmounted "$MNT"
    wait_gone "$DAEMON"
    check_ok
    mount_vault
    [ "$(jq -r .by "$MNT/records/c/x.json")" = int ]
}

@test "-f stays in the foreground until unmounted and exits 0; -d logs requests" {
    mkvault
    mkdir "$MNT"
    "$VRMFS" -f --passfile "$T/pass" "$VAULT" "$MNT" >/dev/null 2>"$T/fg.err" 3>&- &
    local fg=$!
    bg_started "$fg"
    local i
    for i in $(seq 100); do
        mountpoint -q "$MNT" && break
        pid_alive "$fg" || break
        sleep 0.1
    done
    mountpoint -q "$MNT" || { echo "-f never mounted: $(cat "$T/fg.err")"; return 1; }
    [ "$(daemon_pid "$MNT")" = "$fg" ]
    mkdir "$MNT/records/c"
    echo '{"fg": true}' >"$MNT/records/c/x.json"
    fusermount3 -u "$MNT"
    local rc=0
    wait "$fg" || rc=$?
    [ "$rc" -eq 0 ] || { echo "vrmfs -f exited $rc: $(cat "$T/fg.err")"; return 1; }

    "$VRMFS" -d --passfile "$T/pass" "$VAULT" "$MNT" >/dev/null 2>"$T/debug.err" 3>&- &
    fg=$!
    bg_started "$fg"
    for i in $(seq 100); do
        mountpoint -q "$MNT" && break
        pid_alive "$fg" || break
        sleep 0.1
    done
    mountpoint -q "$MNT" || { echo "-d never mounted: $(cat "$T/debug.err")"; return 1; }
    [ "$(jq .fg "$MNT/records/c/x.json")" = true ]
    fusermount3 -u "$MNT"
    rc=0
    wait "$fg" || rc=$?
    [ "$rc" -eq 0 ] || { echo "vrmfs -d exited $rc"; return 1; }
    grep -q "opcode" "$T/debug.err" || { echo "-d logged no requests:"; head "$T/debug.err"; return 1; }
    check_ok
}

@test "-o ro: everything reads, every change fails with EROFS, the vault is untouched" {
    need jq
    mkvault
    mount_vault
    mkcoll c
    echo '{"a": 1}' >"$C/x.json"
    echo 'scratch' >"$C/notes.txt"
    mkdir "$MNT/files/d"
    echo 'document' >"$MNT/files/d/doc.txt"
    unmount_vault
    local before
    # (SQLite may make an empty WAL for a reader: no frames is no change)
    [ -s "$VAULT/vault.db-wal" ] || rm -f "$VAULT/vault.db-wal"
    before=$(cd "$VAULT" && sha256sum vault.json vault.db vault.db-wal 2>/dev/null || true)
    mount_vault -o ro
    grep -E " $MNT " /proc/mounts | grep -qE ' (ro|ro,[^ ]*) ' ||
        { echo "not read-only in /proc/mounts: $(grep " $MNT " /proc/mounts)"; return 1; }
    [ "$(jq .a "$C/x.json")" = 1 ]
    [ "$(cat "$C/notes.txt")" = scratch ]
    [ "$(cat "$MNT/files/d/doc.txt")" = document ]
    fails_sh "Read-only file system" "echo '{\"a\": 2}' >'$C/x.json'"
    fails_sh "Read-only file system" "echo '{\"b\": 2}' >'$C/new.json'"
    fails_with "Read-only file system" rm "$C/x.json"
    fails_with "Read-only file system" mkdir "$MNT/records/c2"
    fails_with "Read-only file system" rmdir "$MNT/records/c"
    fails_with "Read-only file system" mv "$C/notes.txt" "$C/notes2.txt"
    fails_sh "Read-only file system" "echo more >>'$MNT/files/d/doc.txt'"
    fails_with "Read-only file system" touch "$MNT/files/new"
    fails_with "Read-only file system" mkdir "$MNT/files/e"
    fails_with "Read-only file system" chmod 600 "$MNT/files/d/doc.txt"
    fails_with "Read-only file system" truncate -s 0 "$MNT/files/d/doc.txt"
    fails_with "Read-only file system" ln -s doc.txt "$MNT/files/d/link"
    fails_with "Read-only file system" rm "$MNT/files/d/doc.txt"
    if command -v setfattr >/dev/null; then
        fails_with "Read-only file system" setfattr -n user.x -v 1 "$MNT/files/d/doc.txt"
    fi
    [ "$(jq .a "$C/x.json")" = 1 ]
    [ "$(cat "$MNT/files/d/doc.txt")" = document ]
    unmount_vault
    [ -s "$VAULT/vault.db-wal" ] || rm -f "$VAULT/vault.db-wal"
    [ "$(cd "$VAULT" && sha256sum vault.json vault.db vault.db-wal 2>/dev/null || true)" = "$before" ] ||
        { echo "a read-only mount changed the vault's files"; return 1; }
    check_ok
}

@test "the root holds README.txt, records/, files/; unknown paths ENOENT; fixed parts refuse changes" {
    mkvault
    mount_vault
    local ls_root
    ls_root=$(ls -A "$MNT")
    for e in README.txt records files .vrmfs; do
        grep -qx -- "$e" <<<"$ls_root" || { echo "no $e at the root: $ls_root"; return 1; }
    done
    local readme
    readme=$(cat "$MNT/README.txt") || { echo "cannot read README.txt"; return 1; }
    has "$readme" "records/"
    has "$readme" "files/"
    has "$readme" "fusermount3 -u"
    [ "$(stat -c %s "$MNT/README.txt")" -eq "$(cat "$MNT/README.txt" | wc -c)" ]
    [ -f "$MNT/.vrmfs/errors.log" ]
    cat "$MNT/.vrmfs/errors.log" >/dev/null || { echo "cannot read .vrmfs/errors.log"; return 1; }

    fails_with "No such file or directory" stat "$MNT/nope"
    fails_with "No such file or directory" ls "$MNT/records/nocoll"
    fails_with "No such file or directory" cat "$MNT/records/nocoll/x.json"
    fails_with "No such file or directory" stat "$MNT/.vrmfs/nope"
    fails_with "No such file or directory" cat "$MNT/files/nope"
    mkdir "$MNT/records/c"
    fails_with "No such file or directory" cat "$MNT/records/c/nope.json"
    fails_with "No such file or directory" cat "$MNT/records/c/nope.txt"
    fails_sh "No such file or directory" "echo '{}' >'$MNT/records/nocoll/x.json'"

    fails_sh "Permission denied" "echo hi >'$MNT/README.txt'"
    fails_with "Permission denied" rm -f "$MNT/README.txt"
    fails_sh "Permission denied" "echo hi >'$MNT/.vrmfs/errors.log'"
    fails_with "Permission denied" touch "$MNT/newfile"
    fails_with "Permission denied" mkdir "$MNT/newdir"
    run rmdir "$MNT/records"
    [ "$status" -ne 0 ]
    [ -d "$MNT/records" ]
    run rmdir "$MNT/files"
    [ "$status" -ne 0 ]
    [ -d "$MNT/files" ]
    run mv "$MNT/records" "$MNT/records2"
    [ "$status" -ne 0 ]
    [ -d "$MNT/records" ]
    [ ! -e "$MNT/records2" ]
    has "$(cat "$MNT/README.txt")" "records/"
}

# ---- records/ ------------------------------------------------------------

@test "records/: mkdir and rmdir make and remove collections; bad names are refused and logged" {
    mkvault
    mount_vault
    mkdir "$MNT/records/people" "$MNT/records/my_coll-2" "$MNT/records/9lives"
    [ -d "$MNT/records/people" ]
    [ "$(ls "$MNT/records" | LC_ALL=C sort | tr '\n' ' ')" = "9lives my_coll-2 people " ]
    fails_with "File exists" mkdir "$MNT/records/people"
    local bad
    for bad in Upper "has space" dot.ted _under -dash $'caf\xc3\xa9'; do
        fails_with "Invalid argument" mkdir "$MNT/records/$bad"
        [ ! -e "$MNT/records/$bad" ]
    done
    # too long (65 characters): refused, and nothing made
    bad=$(printf 'a%.0s' $(seq 65))
    run mkdir "$MNT/records/$bad"
    [ "$status" -ne 0 ]
    [ ! -e "$MNT/records/$bad" ]
    not grep -qx Upper <<<"$(ls "$MNT/records")"
    errlog_has /records/Upper
    rmdir "$MNT/records/my_coll-2"
    [ ! -e "$MNT/records/my_coll-2" ]
    fails_with "No such file or directory" rmdir "$MNT/records/my_coll-2"
    # a collection with a record in it is not removed
    echo '{"a": 1}' >"$MNT/records/people/ada.json"
    fails_with "Directory not empty" rmdir "$MNT/records/people"
    rm "$MNT/records/people/ada.json"
    rmdir "$MNT/records/people"
    remount
    [ "$(ls "$MNT/records")" = 9lives ]
}

@test "records/: a record reads as pretty JSON with a final newline; write creates and replaces; rm deletes" {
    need jq
    mkvault
    mount_vault
    mkcoll people
    # no arrays: byte for byte what jq . prints
    local text='{"name":"Ada Lovelace","born":1815,"ratio":1.5,"city":"Zürich ☕","nested":{"none":null,"yes":true,"empty":{},"deeper":{"x":"y"}}}'
    printf '%s' "$text" >"$C/ada.json"
    [ "$(cat "$C/ada.json")" = "$(pretty "$text")" ] || {
        echo "read back:"; cat "$C/ada.json"; echo "jq . prints:"; pretty "$text"; return 1
    }
    cmp <(pretty "$text") "$C/ada.json"
    [ "$(tail -c1 "$C/ada.json" | od -An -c | tr -d ' ')" = '\n' ]
    # with arrays too: byte for byte what jq . prints, final newline
    local arr='{"langs":["en","fr"],"list":[],"objs":[{"a":1},{"b":[2,3]}],"n":1}'
    printf '%s' "$arr" >"$C/arr.json"
    cmp <(pretty "$arr") "$C/arr.json" || { cat "$C/arr.json"; return 1; }
    [ "$(tail -c1 "$C/arr.json" | od -An -c | tr -d ' ')" = '\n' ]
    rm "$C/arr.json"
    [ "$(ls "$C")" = ada.json ]
    # replaced by a new write
    echo '{"name": "Ada", "born": 1815}' >"$C/ada.json"
    cmp <(pretty '{"name":"Ada","born":1815}') "$C/ada.json"
    # a shorter write replaces it whole, nothing of the old text is left
    echo '{"n":1}' >"$C/ada.json"
    [ "$(cat "$C/ada.json")" = "$(printf '{\n  "n": 1\n}')" ]
    # a second record, then rm
    echo '{"name": "Grace"}' >"$C/grace.json"
    [ "$(ls "$C" | tr '\n' ' ')" = "ada.json grace.json " ]
    rm "$C/ada.json"
    [ ! -e "$C/ada.json" ]
    [ "$(ls "$C")" = grace.json ]
    fails_with "No such file or directory" cat "$C/ada.json"
    remount
    [ "$(ls "$MNT/records/people")" = grace.json ]
    cmp <(pretty '{"name":"Grace"}') "$MNT/records/people/grace.json"
}

@test "records/: what is not a JSON object fails at close with EINVAL, changes nothing, and is logged" {
    need jq
    mkvault
    mount_vault
    mkcoll c
    echo '{"keep": "me"}' >"$C/x.json"
    local before
    before=$(cat "$C/x.json")
    printf 'nope\n' >"$T/bad.txt"

    run --separate-stderr cp "$T/bad.txt" "$C/x.json"
    [ "$status" -ne 0 ] || { echo "cp bad.txt x.json succeeded"; return 1; }
    has "$stderr" "Invalid argument"
    [ "$(cat "$C/x.json")" = "$before" ]

    run --separate-stderr cp "$T/bad.txt" "$C/new.json"
    [ "$status" -ne 0 ] || { echo "cp bad.txt new.json succeeded"; return 1; }
    has "$stderr" "Invalid argument"
    [ ! -e "$C/new.json" ]

    fails_sh "Invalid argument" "/bin/echo nope >'$C/x.json'"
    [ "$(cat "$C/x.json")" = "$before" ]
    fails_sh "Invalid argument" "/bin/echo nope >'$C/new2.json'"
    [ ! -e "$C/new2.json" ]

    local bad nb=0
    for bad in '[1, 2]' '"a string"' '42' 'null' '{"a": ' '{"a": 1, "a": 2}' '{} {}' \
        $'{"bad": "\xff\xfe"}' '{"a": 1} trailing'; do
        nb=$((nb + 1))
        printf '%s' "$bad" >"$T/bad$nb"
        run --separate-stderr cp "$T/bad$nb" "$C/x.json"
        [ "$status" -ne 0 ] || { echo "'$bad' was accepted as x.json"; return 1; }
        has "$stderr" "Invalid argument"
        [ "$(cat "$C/x.json")" = "$before" ] || { echo "'$bad' changed x.json"; return 1; }
        run --separate-stderr cp "$T/bad$nb" "$C/n$nb.json"
        [ "$status" -ne 0 ] || { echo "'$bad' was accepted as n$nb.json"; return 1; }
        [ ! -e "$C/n$nb.json" ]
    done
    [ "$(ls "$C")" = x.json ]
    errlog_has /records/c/x.json
    errlog_has /records/c/new.json
    errlog_has /records/c/new2.json
    errlog_has /records/c/n1.json
    # the log only grows, one line per refusal at least
    [ "$(errlog | wc -l)" -ge 20 ] || { echo "errors.log:"; errlog; return 1; }
    remount
    [ "$(cat "$MNT/records/c/x.json")" = "$before" ]
    [ "$(ls "$MNT/records/c")" = x.json ]
}

@test "records/: stat shows true sizes and times" {
    need jq
    mkvault
    mount_vault
    mkcoll c
    local t0 t1 m1 m2 size
    t0=$(date +%s.%N)
    echo '{"a": 1}' >"$C/x.json"
    t1=$(date +%s.%N)
    size=$(stat -c %s "$C/x.json")
    [ "$size" -eq "$(cat "$C/x.json" | wc -c)" ] || { echo "size $size, read $(cat "$C/x.json" | wc -c)"; return 1; }
    [ "$(ls -l "$C/x.json" | awk '{print $5}')" -eq "$size" ]
    m1=$(stat -c %.9Y "$C/x.json")
    awk -v a="$t0" -v m="$m1" -v b="$t1" 'BEGIN { exit !(a - 1 <= m && m <= b + 1) }' ||
        { echo "mtime $m1 not between $t0 and $t1"; return 1; }
    sleep 0.05
    echo '{"a": 1, "b": "a longer text than before"}' >"$C/x.json"
    [ "$(stat -c %s "$C/x.json")" -eq "$(cat "$C/x.json" | wc -c)" ]
    [ "$(stat -c %s "$C/x.json")" -gt "$size" ]
    m2=$(stat -c %.9Y "$C/x.json")
    awk -v a="$m1" -v b="$m2" 'BEGIN { exit !(b > a) }' || { echo "mtime $m1 then $m2"; return 1; }
    [ "$(stat -c %F "$C/x.json")" = "regular file" ]
    [ "$(stat -c %F "$C")" = "directory" ]
    [ "$(stat -c %u "$C/x.json")" = "$(id -u)" ]
    remount
    [ "$(stat -c %.9Y "$MNT/records/c/x.json")" = "$m2" ] || { echo "mtime changed over a remount"; return 1; }
    [ "$(stat -c %s "$MNT/records/c/x.json")" -eq "$(cat "$MNT/records/c/x.json" | wc -c)" ]
}

@test "records/: files not ending in .json are scratch files, kept, never records" {
    need jq
    mkvault
    mount_vault
    mkcoll c
    echo '{"a": 1}' >"$C/x.json"
    printf 'a draft, not JSON at all\n' >"$C/notes.txt"
    head -c 5000 /dev/urandom >"$T/bin"
    cp "$T/bin" "$C/.hidden.swp"
    [ "$(cat "$C/notes.txt")" = "a draft, not JSON at all" ]
    cmp "$T/bin" "$C/.hidden.swp"
    [ "$(stat -c %s "$C/.hidden.swp")" -eq 5000 ]
    [ "$(ls -A "$C" | LC_ALL=C sort | tr '\n' ' ')" = ".hidden.swp notes.txt x.json " ]
    [ "$(find "$C" -name '*.json' | wc -l)" -eq 1 ]
    # an append and a rewrite work as in any file
    echo "second line" >>"$C/notes.txt"
    [ "$(wc -l <"$C/notes.txt")" -eq 2 ]
    remount
    C="$MNT/records/c"
    [ "$(cat "$C/notes.txt")" = "$(printf 'a draft, not JSON at all\nsecond line')" ]
    cmp "$T/bin" "$C/.hidden.swp"
    rm "$C/notes.txt" "$C/.hidden.swp"
    [ "$(ls -A "$C")" = x.json ]
}

@test "records/: vim edits a record (default settings, the 4913 probe, no swap)" {
    need vim jq
    mkvault
    mount_vault
    mkcoll c
    echo '{"a": 1, "b": "x"}' >"$C/v.json"
    run timeout 30 vim -u NONE -i NONE -N -n -es -c 'set backupskip=' -c '%s/"x"/"y"/' -c wq "$C/v.json"
    expect_status 0
    [ "$(jq -c . "$C/v.json")" = '{"a":1,"b":"y"}' ]
    [ "$(ls -A "$C")" = v.json ] || { echo "left behind: $(ls -A "$C")"; return 1; }
    # a new record written by vim
    run timeout 30 vim -u NONE -i NONE -N -n -es -c 'set backupskip=' -c 'call setline(1, "{\"new\": true}")' -c wq "$C/n.json"
    expect_status 0
    [ "$(jq .new "$C/n.json")" = true ]
    remount
    [ "$(jq -r .b "$MNT/records/c/v.json")" = y ]
}

@test "records/: vim with its swap file on (-es, no -n) edits a record" {
    need vim jq
    mkvault
    mount_vault
    mkcoll c
    echo '{"a": 1}' >"$C/v.json"
    run timeout 30 vim -u NONE -i NONE -N -es -c 'set backupskip=' -c 'set directory=.' -c '%s/1/2/' -c wq "$C/v.json"
    expect_status 0
    [ "$(jq .a "$C/v.json")" = 2 ]
    [ "$(ls -A "$C")" = v.json ] || { echo "left behind: $(ls -A "$C")"; return 1; }
    # and with +cmd +wq
    run timeout 30 vim -u NONE -i NONE -N -es '+set backupskip=' '+%s/2/3/' +wq "$C/v.json"
    expect_status 0
    [ "$(jq .a "$C/v.json")" = 3 ]
}

@test "records/: vim with backup files (backupcopy=no and yes) keeps the old text as a scratch file" {
    need vim jq
    mkvault
    mount_vault
    mkcoll c
    echo '{"v": 1}' >"$C/v.json"
    local old
    old=$(cat "$C/v.json")
    run timeout 30 vim -u NONE -i NONE -N -n -es -c 'set backupskip=' -c 'set backup backupcopy=no' -c '%s/1/2/' -c wq "$C/v.json"
    expect_status 0
    [ "$(jq .v "$C/v.json")" = 2 ]
    [ "$(cat "$C/v.json~")" = "$old" ] || { echo "v.json~: $(cat "$C/v.json~")"; return 1; }
    old=$(cat "$C/v.json")
    run timeout 30 vim -u NONE -i NONE -N -n -es -c 'set backupskip=' -c 'set backup backupcopy=yes' -c '%s/2/3/' -c wq "$C/v.json"
    expect_status 0
    [ "$(jq .v "$C/v.json")" = 3 ]
    [ "$(cat "$C/v.json~")" = "$old" ]
    # writebackup without a kept backup, renaming
    run timeout 30 vim -u NONE -i NONE -N -n -es -c 'set backupskip=' -c 'set nobackup writebackup backupcopy=no' -c '%s/3/4/' \
        -c wq "$C/v.json"
    expect_status 0
    [ "$(jq .v "$C/v.json")" = 4 ]
    [ "$(find "$C" -name '*.json' | wc -l)" -eq 1 ]
    remount
    [ "$(jq .v "$MNT/records/c/v.json")" = 4 ]
}

@test "records/: vim writing text that is not JSON fails and leaves the record as it was" {
    need vim jq
    mkvault
    mount_vault
    mkcoll c
    echo '{"safe": true}' >"$C/v.json"
    local before
    before=$(cat "$C/v.json")
    local bc
    for bc in auto no yes; do
        run timeout 30 vim -u NONE -i NONE -N -n -es -c 'set backupskip=' -c "set backupcopy=$bc" -c '%d' -c 'call setline(1, "nope")' \
            -c wq -c 'qa!' "$C/v.json"
        [ "$status" -ne 0 ] || { echo "backupcopy=$bc: vim reported success"; return 1; }
        [ "$(cat "$C/v.json")" = "$before" ] ||
            { echo "backupcopy=$bc: the record became: $(cat "$C/v.json" 2>&1)"; return 1; }
    done
    errlog_has /records/c/v.json
    remount
    [ "$(cat "$MNT/records/c/v.json")" = "$before" ]
}

@test "records/: vim in a terminal, swap file on, edits a record" {
    need vim jq tmux
    mkvault
    mount_vault
    mkcoll c
    echo '{"a": 1}' >"$C/v.json"
    tmux_start vim -u NONE -i NONE -N -c 'set backupskip=' "$C/v.json"
    # vim makes its swap file before it shows the text (and may make it,
    # remove it and make it again on the way): wait for the text first
    tmux_wait '"a": 1'
    local i
    for i in $(seq 300); do  # vim in tmux can take seconds to start on a loaded machine
        [ -e "$C/.v.json.swp" ] && break
        sleep 0.1
    done
    [ -e "$C/.v.json.swp" ] || {
        echo "no swap file after $i polls; listed: $(ls -A "$C" | tr '\n' ' ')"
        stat "$C/.v.json.swp" 2>&1
        tmux_screen | grep -v '^~'
        return 1
    }
    # vim writes the swap file's first block at once: another process sees it
    for i in $(seq 30); do
        [ "$(stat -c %s "$C/.v.json.swp")" -gt 0 ] && break
        sleep 0.1
    done
    [ "$(stat -c %s "$C/.v.json.swp")" -ge 4096 ] ||
        { echo "the swap file, open in vim, shows $(stat -c %s "$C/.v.json.swp") bytes to stat"; return 1; }
    [ "$(head -c 5 "$C/.v.json.swp")" = b0VIM ] ||
        { echo "the swap file, open in vim, reads as: $(head -c 5 "$C/.v.json.swp" | od -c)"; return 1; }
    tmux_keys ':%s/1/5/' Enter
    tmux_keys ':wq' Enter
    tmux_wait_exit
    [ "$(jq .a "$C/v.json")" = 5 ] || { echo "v.json: $(cat "$C/v.json")"; return 1; }
    # vim removes its swap file while it still has it open: libfuse keeps it
    # as .fuse_hidden* until the kernel's asynchronous release, then removes it
    # (seconds later on a loaded machine)
    local i
    for i in $(seq 300); do
        [ "$(ls -A "$C")" = v.json ] && break
        sleep 0.1
    done
    [ "$(ls -A "$C")" = v.json ] || { echo "left behind: $(ls -A "$C")"; return 1; }
}

@test "records/: a scratch file moved onto libfuse's .fuse_hidden name by a close that came first is removed" {
    # libfuse renames a file removed while open to .fuse_hiddenNNN and removes
    # that name at the last release; when the release came while it renamed
    # (libfuse 3.14.0), it never does.  That rename, of a file no descriptor
    # writes any more, is the file's removal.
    mkvault
    mount_vault
    mkcoll c
    printf 'swap' >"$C/.v.json.swp"
    # rename(2), as libfuse does (mv would ask for RENAME_NOREPLACE)
    python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' \
        "$C/.v.json.swp" "$C/.fuse_hidden0000000800000001"
    local i
    for i in $(seq 300); do   # at once, or at the close's asynchronous release
        [ -z "$(ls -A "$C")" ] && break
        sleep 0.1
    done
    [ -z "$(ls -A "$C")" ] || { echo "left: $(ls -A "$C")"; return 1; }
    # a writer still holding it: the name goes at its release
    exec 7>"$C/.w.swp"
    printf 'held' >&7
    python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' \
        "$C/.w.swp" "$C/.fuse_hidden0000000900000001"
    [ "$(ls -A "$C")" = .fuse_hidden0000000900000001 ]
    exec 7>&-
    for i in $(seq 300); do
        [ -z "$(ls -A "$C")" ] && break
        sleep 0.1
    done
    [ -z "$(ls -A "$C")" ] || { echo "left: $(ls -A "$C")"; return 1; }
}

@test "records/: nano edits and creates records, and reports a bad one" {
    need nano jq tmux
    mkvault
    mount_vault
    mkcoll c
    echo '{"a": 1}' >"$C/x.json"
    # line 2 of the pretty text is '  "a": 1'
    tmux_start nano --ignorercfiles "$C/x.json"
    tmux_wait '"a": 1'
    tmux_keys Down C-k
    tmux_keys -l '  "a": 2'
    tmux_keys Enter C-o
    tmux_wait "File Name to Write"
    tmux_keys Enter
    tmux_wait "Wrote"
    tmux_keys C-x
    tmux_wait_exit
    [ "$(jq -c . "$C/x.json")" = '{"a":2}' ] || { echo "x.json: $(cat "$C/x.json")"; return 1; }

    tmux_start nano --ignorercfiles "$C/new.json"
    tmux_wait "New File"
    tmux_keys -l '{"made": "in nano"}'
    tmux_keys C-o
    tmux_wait "File Name to Write"
    tmux_keys Enter
    tmux_wait "Wrote"
    tmux_keys C-x
    tmux_wait_exit
    [ "$(jq -r .made "$C/new.json")" = "in nano" ]

    tmux_start nano --ignorercfiles "$C/bad.json"
    tmux_wait "New File"
    tmux_keys -l 'nope'
    tmux_keys C-o
    tmux_wait "File Name to Write"
    tmux_keys Enter
    tmux_wait "Invalid argument"
    tmux_keys C-x
    tmux_wait "Save modified buffer"
    tmux_keys n
    tmux_wait_exit
    [ ! -e "$C/bad.json" ]
    [ "$(ls "$C" | tr '\n' ' ')" = "new.json x.json " ]
}

@test "records/: sed -i and jq . x.json > t && mv t x.json work; a bad rename is refused" {
    need jq
    mkvault
    mount_vault
    mkcoll c
    echo '{"a": 1, "b": "x"}' >"$C/x.json"
    sed -i 's/"a": 1/"a": 7/' "$C/x.json"
    [ "$(jq -c . "$C/x.json")" = '{"a":7,"b":"x"}' ]
    [ "$(ls -A "$C")" = x.json ] || { echo "sed left: $(ls -A "$C")"; return 1; }
    jq . "$C/x.json" >"$C/t" && mv "$C/t" "$C/x.json"
    [ "$(jq -c . "$C/x.json")" = '{"a":7,"b":"x"}' ]
    jq '.b = "y"' "$C/x.json" >"$C/t" && mv "$C/t" "$C/x.json"
    [ "$(jq -r .b "$C/x.json")" = y ]
    jq '.c = [1, 2]' "$C/x.json" >"$C/t.json" && mv "$C/t.json" "$C/x.json"
    [ "$(jq -c .c "$C/x.json")" = '[1,2]' ]
    jq '.d = 4' "$C/x.json" >"$T/t" && mv "$T/t" "$C/x.json"
    [ "$(jq .d "$C/x.json")" = 4 ]
    [ "$(ls -A "$C")" = x.json ] || { echo "left: $(ls -A "$C")"; return 1; }
    # renaming a scratch file that is not a JSON object over a record
    local before
    before=$(cat "$C/x.json")
    echo 'nope' >"$C/t"
    run mv "$C/t" "$C/x.json"
    [ "$status" -ne 0 ] || { echo "mv t x.json succeeded"; return 1; }
    [ "$(cat "$C/x.json")" = "$before" ]
    [ "$(cat "$C/t")" = nope ]
    errlog_has /records/c/x.json
    # a record renamed to another name and collection
    mkdir "$MNT/records/d"
    mv "$C/x.json" "$MNT/records/d/y.json"
    [ ! -e "$C/x.json" ]
    [ "$(cat "$MNT/records/d/y.json")" = "$before" ]
    remount
    [ "$(cat "$MNT/records/d/y.json")" = "$before" ]
}

# a source tree of NAME.json records for the copying tools
make_records() {  # make_records DIR N
    local dir=$1 n=$2 i
    mkdir -p "$dir"
    for ((i = 1; i <= n; i++)); do
        printf '{"id": %d, "name": "person %d", "city": "%s", "tags": ["t%d", "x"], "score": %d.5}\n' \
            "$i" "$i" "$([ $((i % 7)) -eq 0 ] && echo Paris || echo Lyon)" "$i" "$i" \
            >"$dir/p$(printf %03d "$i").json"
    done
}

@test "records/: cp -r and cp -a copy collections in and out" {
    need jq
    mkvault
    mount_vault
    make_records "$T/src/people" 60
    touch -d '2020-01-01 00:00' "$T/src/people"/*.json
    cp -r "$T/src/people" "$MNT/records/"
    same_records "$T/src/people" "$MNT/records/people"
    cp -a "$T/src/people" "$MNT/records/people2"
    same_records "$T/src/people" "$MNT/records/people2"
    # into an existing collection, over existing records
    cp -r "$T/src/people/." "$MNT/records/people/"
    same_records "$T/src/people" "$MNT/records/people"
    cp -r "$MNT/records/people" "$T/out"
    same_records "$T/src/people" "$T/out"
    cmp "$MNT/records/people/p001.json" "$T/out/p001.json"
    cp -a "$MNT/records/people2" "$T/out2"
    same_records "$T/src/people" "$T/out2"
    remount
    same_records "$T/src/people" "$MNT/records/people"
    same_records "$T/src/people" "$MNT/records/people2"
}

@test "records/: rsync -a copies collections in and out" {
    need jq rsync
    mkvault
    mount_vault
    make_records "$T/src/people" 60
    run --separate-stderr rsync -a "$T/src/people/" "$MNT/records/rs/"
    expect_status 0
    same_records "$T/src/people" "$MNT/records/rs"
    [ "$(ls -A "$MNT/records/rs" | grep -vc '\.json$')" -eq 0 ] ||
        { echo "rsync left: $(ls -A "$MNT/records/rs" | grep -v '\.json$')"; return 1; }
    # again, after a change and a removal in the source
    echo '{"id": 1, "changed": true}' >"$T/src/people/p001.json"
    rm "$T/src/people/p002.json"
    run --separate-stderr rsync -a --delete "$T/src/people/" "$MNT/records/rs/"
    expect_status 0
    same_records "$T/src/people" "$MNT/records/rs"
    [ ! -e "$MNT/records/rs/p002.json" ]
    run --separate-stderr rsync -a "$MNT/records/rs/" "$T/back/"
    expect_status 0
    same_records "$T/src/people" "$T/back"
    run --separate-stderr rsync -a "$MNT/records/" "$T/all/"
    expect_status 0
    same_records "$T/src/people" "$T/all/rs"
    remount
    same_records "$T/src/people" "$MNT/records/rs"
}

@test "records/: tar x extracts records into collections; tar c reads them back" {
    need jq
    mkvault
    mount_vault
    make_records "$T/src/people" 40
    make_records "$T/src/places" 10
    tar -C "$T/src" -cf "$T/recs.tar" people places
    run --separate-stderr tar -C "$MNT/records" -xf "$T/recs.tar"
    expect_status 0
    same_records "$T/src/people" "$MNT/records/people"
    same_records "$T/src/places" "$MNT/records/places"
    # over existing records
    run --separate-stderr tar -C "$MNT/records" -xf "$T/recs.tar"
    expect_status 0
    same_records "$T/src/people" "$MNT/records/people"
    mkdir "$T/x"
    tar -C "$MNT/records" -cf - people | tar -C "$T/x" -xf -
    same_records "$T/src/people" "$T/x/people"
    remount
    same_records "$T/src/places" "$MNT/records/places"
}

@test "records/: find, grep -r and du see the records" {
    need jq
    mkvault
    mount_vault
    make_records "$T/src/people" 30
    cp -r "$T/src/people" "$MNT/records/"
    echo 'scratch text' >"$MNT/records/people/notes.txt"
    run find "$MNT/records" -name '*.json'
    expect_status 0
    [ "$(wc -l <<<"$output")" -eq 30 ]
    run find "$MNT"
    expect_status 0
    has "$output" "$MNT/records/people/p030.json"
    has "$output" "$MNT/README.txt"
    run find "$MNT/records" -type f -newer "$T/src/people/p001.json"
    expect_status 0
    run grep -rl '"city": "Paris"' "$MNT/records"
    expect_status 0
    [ "$(LC_ALL=C sort <<<"$output" | tr '\n' ' ')" = \
      "$MNT/records/people/p007.json $MNT/records/people/p014.json $MNT/records/people/p021.json $MNT/records/people/p028.json " ]
    run grep -r 'scratch text' "$MNT/records"
    expect_status 0
    run grep -rc '"id"' "$MNT/records/people" --include='*.json'
    expect_status 0
    [ "$(grep -c ':1$' <<<"$output")" -eq 30 ]
    run du -sb "$MNT/records/people"
    expect_status 0
    local total
    total=$(cat "$MNT/records/people"/* | wc -c)
    [ "$(cut -f1 <<<"$output")" -ge "$total" ] || { echo "du: $output; bytes: $total"; return 1; }
    [ "$(du -b "$MNT/records/people/p001.json" | cut -f1)" -eq "$(stat -c %s "$MNT/records/people/p001.json")" ]
    run du -s "$MNT"
    expect_status 0
}

# ---- files/ ------------------------------------------------------------------

@test "files/: create, read, write at an offset, append, truncate" {
    mkvault
    mount_vault
    local F="$MNT/files"
    printf 'hello world\n' >"$F/a.txt"
    [ "$(cat "$F/a.txt")" = "hello world" ]
    [ "$(stat -c %s "$F/a.txt")" -eq 12 ]
    printf 'WORLD' | dd of="$F/a.txt" bs=1 seek=6 conv=notrunc status=none
    [ "$(cat "$F/a.txt")" = "hello WORLD" ]
    echo 'more' >>"$F/a.txt"
    [ "$(cat "$F/a.txt")" = "$(printf 'hello WORLD\nmore')" ]
    [ "$(tail -c 5 "$F/a.txt")" = more ]
    [ "$(dd if="$F/a.txt" bs=1 skip=6 count=5 status=none)" = WORLD ]
    truncate -s 5 "$F/a.txt"
    [ "$(cat "$F/a.txt")" = hello ]
    truncate -s 10 "$F/a.txt"
    [ "$(stat -c %s "$F/a.txt")" -eq 10 ]
    [ "$(od -An -tx1 "$F/a.txt" | tr -d ' \n')" = 68656c6c6f0000000000 ]
    printf 'x' >"$F/a.txt"
    [ "$(cat "$F/a.txt")" = x ]
    [ "$(stat -c %s "$F/a.txt")" -eq 1 ]
    # a write far past the end leaves a hole of zeros
    printf 'end' | dd of="$F/sparse" bs=1 seek=3000000 status=none
    [ "$(stat -c %s "$F/sparse")" -eq 3000003 ]
    [ "$(head -c 3000000 "$F/sparse" | tr -d '\0' | wc -c)" -eq 0 ]
    [ "$(tail -c 3 "$F/sparse")" = end ]
    touch "$F/empty"
    [ -f "$F/empty" ]
    [ "$(stat -c %s "$F/empty")" -eq 0 ]
    fails_with "File exists" dd if=/dev/null of="$F/empty" conv=excl status=none
    fails_with "Is a directory" cat "$F"
    remount
    [ "$(cat "$MNT/files/a.txt")" = x ]
    [ "$(tail -c 3 "$MNT/files/sparse")" = end ]
}

@test "files/: mkdir, rmdir, rename over existing and across folders" {
    mkvault
    mount_vault
    local F="$MNT/files"
    mkdir -p "$F/d1/d2" "$F/d3"
    echo one >"$F/d1/a"
    echo two >"$F/d1/b"
    mv "$F/d1/a" "$F/d1/b"
    [ ! -e "$F/d1/a" ]
    [ "$(cat "$F/d1/b")" = one ]
    mv "$F/d1/b" "$F/d3/c"
    [ ! -e "$F/d1/b" ]
    [ "$(cat "$F/d3/c")" = one ]
    echo three >"$F/d1/d2/deep"
    mv "$F/d1/d2" "$F/d3/"
    [ ! -e "$F/d1/d2" ]
    [ "$(cat "$F/d3/d2/deep")" = three ]
    echo four >"$F/d1/e"
    mv -f "$F/d1/e" "$F/d3/c"
    [ "$(cat "$F/d3/c")" = four ]
    # a directory over an empty directory
    mkdir "$F/empty" "$F/d1/sub"
    echo five >"$F/d1/sub/f"
    mv -T "$F/d1/sub" "$F/empty"
    [ "$(cat "$F/empty/f")" = five ]
    [ ! -e "$F/d1/sub" ]
    fails_with "Directory not empty" rmdir "$F/d3"
    fails_with "File exists" mkdir "$F/d3"
    fails_with "Not a directory" mkdir "$F/d3/c/x"
    fails_with "No such file or directory" mkdir "$F/no/such"
    run mv -T "$F/d3/c" "$F/empty"
    [ "$status" -ne 0 ]
    [ -d "$F/empty" ]
    rm "$F/d3/c" "$F/d3/d2/deep"
    rmdir "$F/d3/d2" "$F/d3" "$F/d1"
    [ ! -e "$F/d3" ]
    [ ! -e "$F/d1" ]
    [ "$(ls "$F")" = empty ]
    [ "$(stat -c %h "$F/empty")" -ge 2 ]
    remount
    [ "$(ls "$MNT/files")" = empty ]
    [ "$(cat "$MNT/files/empty/f")" = five ]
}

@test "files/: a file unlinked while open stays readable through its descriptor" {
    mkvault
    mount_vault
    local F="$MNT/files"
    printf 'still here\n' >"$F/u"
    head -c 200000 /dev/urandom >"$T/big"
    cp "$T/big" "$F/big"
    exec 7<"$F/u" 8<"$F/big"   # (3 is bats's)
    rm "$F/u" "$F/big"
    [ ! -e "$F/u" ]
    [ ! -e "$F/big" ]
    local out
    out=$(cat <&7)
    cmp "$T/big" <(cat <&8)
    exec 7<&- 8<&-
    [ "$out" = "still here" ]
    # written to after the unlink, through the same descriptor
    exec 9>"$F/w"
    rm "$F/w"
    echo "written after rm" >&9
    exec 9>&-
    [ -z "$(ls -A "$F")" ]
    remount
    [ -z "$(ls -A "$MNT/files")" ]
}

@test "files/: chmod, touch -d and stat show true modes, sizes and times" {
    mkvault
    mount_vault
    local F="$MNT/files" t0 t1 m
    t0=$(date +%s.%N)
    echo data >"$F/f"
    t1=$(date +%s.%N)
    m=$(stat -c %.9Y "$F/f")
    awk -v a="$t0" -v m="$m" -v b="$t1" 'BEGIN { exit !(a - 1 <= m && m <= b + 1) }' ||
        { echo "mtime $m not between $t0 and $t1"; return 1; }
    [ "$(stat -c %s "$F/f")" -eq 5 ]
    chmod 640 "$F/f"
    [ "$(stat -c %a "$F/f")" = 640 ]
    chmod u+x "$F/f"
    [ "$(stat -c %a "$F/f")" = 740 ]
    mkdir "$F/d"
    chmod 750 "$F/d"
    [ "$(stat -c %a "$F/d")" = 750 ]
    touch -d '2001-02-03 04:05:06.789 UTC' "$F/f"
    [ "$(stat -c %Y "$F/f")" -eq 981173106 ]
    [ "$(stat -c %.9Y "$F/f")" = 981173106.789000000 ]
    touch -a -d '1999-12-31 23:59:59 UTC' "$F/f"
    [ "$(stat -c %X "$F/f")" -eq 946684799 ]
    [ "$(stat -c %Y "$F/f")" -eq 981173106 ]
    touch -d '2010-01-01 00:00:00 UTC' "$F/d"
    [ "$(stat -c %Y "$F/d")" -eq 1262304000 ]
    # a write moves mtime on, and ctime follows chmod
    local c0
    c0=$(stat -c %.9Z "$F/f")
    sleep 0.01
    chmod 600 "$F/f"
    awk -v a="$c0" -v b="$(stat -c %.9Z "$F/f")" 'BEGIN { exit !(b > a) }'
    echo more >>"$F/f"
    [ "$(stat -c %Y "$F/f")" -gt 981173106 ]
    [ "$(stat -c %u:%g "$F/f")" = "$(id -u):$(id -g)" ]
    remount
    [ "$(stat -c %a "$MNT/files/f")" = 600 ]
    [ "$(stat -c %a "$MNT/files/d")" = 750 ]
    [ "$(stat -c %Y "$MNT/files/d")" -eq 1262304000 ]
    [ "$(stat -c %s "$MNT/files/f")" -eq 10 ]
}

@test "files/: symbolic links" {
    mkvault
    mount_vault
    local F="$MNT/files"
    echo target >"$F/t.txt"
    mkdir "$F/dir"
    echo inside >"$F/dir/in"
    ln -s t.txt "$F/l"
    ln -s ../nowhere "$F/dangling"
    ln -s dir "$F/ldir"
    ln -s /etc/hostname "$F/abs"
    [ "$(readlink "$F/l")" = t.txt ]
    [ "$(cat "$F/l")" = target ]
    [ "$(stat -c %F "$F/l")" = "symbolic link" ]
    [ "$(stat -c %s "$F/l")" -eq 5 ]
    [ "$(readlink "$F/dangling")" = ../nowhere ]
    fails_with "No such file or directory" cat "$F/dangling"
    [ "$(cat "$F/ldir/in")" = inside ]
    [ "$(readlink "$F/abs")" = /etc/hostname ]
    [ "$(find "$F" -type l | wc -l)" -eq 4 ]
    mv "$F/l" "$F/dir/l2"
    [ "$(readlink "$F/dir/l2")" = t.txt ]
    rm "$F/dir/l2"
    [ "$(cat "$F/t.txt")" = target ]
    remount
    [ "$(readlink "$MNT/files/dangling")" = ../nowhere ]
    [ "$(cat "$MNT/files/ldir/in")" = inside ]
}

@test "files/: df and stat -f report the filesystem (statfs)" {
    mkvault
    mount_vault
    run --separate-stderr df -P "$MNT"
    expect_status 0
    has "$output" "$MNT"
    local line
    line=$(tail -n1 <<<"$output")
    [ "$(awk '{print $2}' <<<"$line")" -gt 0 ] || { echo "df: $line"; return 1; }
    run --separate-stderr df -P "$MNT/files"
    expect_status 0
    run --separate-stderr stat -f -c '%b %a %S %l' "$MNT/files"
    expect_status 0
    read -r blocks avail bsize namemax <<<"$output"
    [ "$blocks" -gt 0 ] && [ "$bsize" -gt 0 ] && [ "$avail" -le "$blocks" ] && [ "$namemax" -ge 255 ] ||
        { echo "stat -f: $output"; return 1; }
}

@test "files/: user.* extended attributes with setfattr and getfattr" {
    need setfattr getfattr
    mkvault
    mount_vault
    local F="$MNT/files"
    echo x >"$F/f"
    mkdir "$F/d"
    setfattr -n user.color -v blue "$F/f"
    setfattr -n user.bin -v 0x00ff10 "$F/f"
    setfattr -n user.note -v "on a folder" "$F/d"
    [ "$(getfattr --only-values -n user.color "$F/f")" = blue ]
    run getfattr -e hex -n user.bin "$F/f"
    expect_status 0
    has "$output" "user.bin=0x00ff10"
    run getfattr -d "$F/f"
    expect_status 0
    has "$output" 'user.color="blue"'
    has "$output" "user.bin="
    [ "$(getfattr --only-values -n user.note "$F/d")" = "on a folder" ]
    setfattr -n user.color -v green "$F/f"
    [ "$(getfattr --only-values -n user.color "$F/f")" = green ]
    setfattr -x user.bin "$F/f"
    fails_with "No such attribute" getfattr -n user.bin "$F/f"
    fails_with "No such attribute" setfattr -x user.bin "$F/f"
    # kept over a rename and a remount
    mv "$F/f" "$F/d/g"
    remount
    [ "$(getfattr --only-values -n user.color "$MNT/files/d/g")" = green ]
    [ "$(getfattr --only-values -n user.note "$MNT/files/d")" = "on a folder" ]
}

@test "files/: fsync and fdatasync succeed and the data is there" {
    mkvault
    mount_vault
    local F="$MNT/files"
    head -c 1048576 /dev/urandom >"$T/r"
    dd if="$T/r" of="$F/r" bs=64k conv=fsync status=none
    cmp "$T/r" "$F/r"
    dd if="$T/r" of="$F/r2" bs=64k conv=fdatasync status=none
    cmp "$T/r" "$F/r2"
    sync "$F/r"
    sync -d "$F/r2"
    sync -f "$F/r"
    sync "$F"
    mkdir "$MNT/records/c"
    echo '{"a": 1}' >"$MNT/records/c/x.json"
    sync "$MNT/records/c/x.json"
    dd if=/dev/zero of="$F/r" bs=4096 count=1 seek=10 conv=notrunc,fsync status=none
    [ "$(dd if="$F/r" bs=4096 skip=10 count=1 status=none | tr -d '\0' | wc -c)" -eq 0 ]
    remount
    cmp "$T/r" "$MNT/files/r2"
}

@test "files/: a large binary file, cp -a, rsync -a and tar x of a tree, byte for byte" {
    need rsync
    mkvault
    mount_vault
    local F="$MNT/files"
    head -c 20971520 /dev/urandom >"$T/big"
    cp "$T/big" "$F/big"
    [ "$(sha "$F/big")" = "$(sha "$T/big")" ]
    mkdir -p "$T/tree/a/b" "$T/tree/c"
    head -c 70000 /dev/urandom >"$T/tree/a/b/bin"
    echo text >"$T/tree/a/t.txt"
    : >"$T/tree/c/empty"
    chmod 600 "$T/tree/a/t.txt"
    chmod 750 "$T/tree/c"
    ln -s ../a/t.txt "$T/tree/c/link"
    touch -h -d '2015-05-05 05:05:05 UTC' "$T/tree/a/t.txt" "$T/tree/a/b/bin"
    cp -a "$T/tree" "$F/cpa"
    diff -r "$T/tree" "$F/cpa"
    [ "$(stat -c '%a %Y' "$F/cpa/a/t.txt")" = "$(stat -c '%a %Y' "$T/tree/a/t.txt")" ]
    [ "$(stat -c %a "$F/cpa/c")" = 750 ]
    [ "$(readlink "$F/cpa/c/link")" = ../a/t.txt ]
    run --separate-stderr rsync -a "$T/tree/" "$F/rs/"
    expect_status 0
    diff -r "$T/tree" "$F/rs"
    [ "$(stat -c %Y "$F/rs/a/b/bin")" = "$(stat -c %Y "$T/tree/a/b/bin")" ]
    tar -C "$T" -cf "$T/tree.tar" tree
    mkdir "$F/tx"
    run --separate-stderr tar -C "$F/tx" -xf "$T/tree.tar"
    expect_status 0
    diff -r "$T/tree" "$F/tx/tree"
    run --separate-stderr rsync -a "$F/rs/" "$T/back/"
    expect_status 0
    diff -r "$T/tree" "$T/back"
    run grep -rl '^text$' "$F"
    expect_status 0
    [ "$(wc -l <<<"$output")" -eq 3 ]
    [ "$(du -sb "$F/big" | cut -f1)" -eq 20971520 ]
    remount
    [ "$(sha "$MNT/files/big")" = "$(sha "$T/big")" ]
    diff -r "$T/tree" "$MNT/files/cpa"
}

# ---- everything survives a remount; nothing shows in the clear ---------------

# snapshot: what the mount holds, in one text to compare: records as JSON,
# scratch files and documents by sha256, modes, sizes, times, links, xattrs.
snapshot() {
    (
        cd "$MNT" || exit 1
        # (the directories of records/ are not stored things: their times are not compared)
        find records -type f -print0 | LC_ALL=C sort -z | xargs -0 -r stat -c '%n|%F|%a|%s|%.9Y' ||
            exit 1
        find records -type d | LC_ALL=C sort
        find files -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n|%F|%a|%s|%.9Y' || exit 1
        find records -name '*.json' -print0 | LC_ALL=C sort -z |
            while IFS= read -r -d '' f; do printf '%s ' "$f"; jq -S -c . "$f" || exit 1; done
        find records files -type f ! -name '*.json' -print0 | LC_ALL=C sort -z |
            xargs -0 -r sha256sum || exit 1
        find files -type l -print0 | LC_ALL=C sort -z |
            while IFS= read -r -d '' f; do echo "$f -> $(readlink "$f")"; done
        if command -v getfattr >/dev/null; then
            getfattr -R -d -e hex files 2>/dev/null
        fi
    )
}

@test "everything written survives unmount and remount, byte for byte" {
    need jq
    mkvault
    mount_vault
    make_records "$T/src/people" 25
    cp -r "$T/src/people" "$MNT/records/"
    mkdir "$MNT/records/empty-coll"
    echo '{"unicode": "日本語 ✓", "big": 12345678901234, "neg": -0.5, "esc": "tab\tq\"uote"}' \
        >"$MNT/records/people/special.json"
    cp "$MNT/records/people/special.json" "$T/special.json"
    echo 'draft' >"$MNT/records/people/draft.txt"
    local F="$MNT/files"
    mkdir -p "$F/docs/2024" "$F/photos"
    head -c 3000000 /dev/urandom >"$T/photo.bin"
    cp "$T/photo.bin" "$F/photos/photo.bin"
    printf 'line 1\nline 2\n' >"$F/docs/2024/letter.txt"
    : >"$F/docs/empty"
    ln -s 2024/letter.txt "$F/docs/latest"
    chmod 640 "$F/docs/2024/letter.txt"
    touch -d '2020-02-02 02:02:02 UTC' "$F/docs/2024/letter.txt"
    if command -v setfattr >/dev/null; then
        setfattr -n user.tag -v holiday "$F/photos/photo.bin"
    fi
    local before after
    before=$(snapshot) || { echo "snapshot failed"; return 1; }
    unmount_vault
    check_ok
    mount_vault
    after=$(snapshot) || { echo "snapshot failed"; return 1; }
    [ "$before" = "$after" ] || {
        echo "changed over a remount:"
        diff <(echo "$before") <(echo "$after")
        return 1
    }
    # and it is what was written
    local f
    for f in "$T"/src/people/*.json; do
        same_json "$f" "$MNT/records/people/${f##*/}"
    done
    same_json "$T/special.json" "$MNT/records/people/special.json"
    [ "$(sha "$MNT/files/photos/photo.bin")" = "$(sha "$T/photo.bin")" ]
    [ "$(cat "$MNT/files/docs/latest")" = "$(printf 'line 1\nline 2')" ]
    [ -d "$MNT/records/empty-coll" ]
    [ "$(cat "$MNT/records/people/draft.txt")" = draft ]
}

@test "no marker string written through the mount shows in the vault directory" {
    need jq
    mkvault
    mount_vault
    local M=$MARKER N=$NAME_MARKER
    mkdir "$MNT/records/notes" "$MNT/records/$N"
    printf '{"secret": "%s", "%s": 1}\n' "$M" "$M" >"$MNT/records/notes/n.json"
    printf '{"a": "b"}\n' >"$MNT/records/$N/$M.json"
    printf 'scratch %s\n' "$M" >"$MNT/records/notes/$M.txt"
    printf '%s\n' "$M" >"$MNT/files/m.txt"
    yes "$M" | head -c 2000000 >"$MNT/files/many.txt"
    mkdir "$MNT/files/$M"
    echo hidden >"$MNT/files/$M/$M.txt"
    ln -s "$M" "$MNT/files/lnk-$M"
    if command -v setfattr >/dev/null; then
        setfattr -n "user.$M" -v "$M" "$MNT/files/m.txt"
    fi
    printf 'not json %s' "$M" >"$T/bad"
    cp "$T/bad" "$MNT/records/notes/$M-bad.json" 2>/dev/null || true
    sync "$MNT/files/m.txt"
    # written for real: read back through the mount
    [ "$(jq -r .secret "$MNT/records/notes/n.json")" = "$M" ]
    grep -qF "$M" "$MNT/files/m.txt"
    scan() {
        local hits
        hits=$(grep -rlaF -e "$M" -e "$N" -e "correct horse" -e "SQLite format 3" "$VAULT" || true)
        [ -z "$hits" ] || { echo "$1: found in $hits"; return 1; }
        hits=$(find "$VAULT" | grep -F -e "$M" -e "$N" || true)
        [ -z "$hits" ] || { echo "$1: in names: $hits"; return 1; }
    }
    scan "while mounted"
    unmount_vault
    scan "after unmounting"
    mount_vault
    [ "$(cat "$MNT/files/$M/$M.txt")" = hidden ]
    [ "$(readlink "$MNT/files/lnk-$M")" = "$M" ]
}

# ---- crashes and concurrency ------------------------------------------------------

@test "SIGKILL mid cp -r of 1,000 records and a large write: what was closed or fsynced survives; check passes" {
    need jq
    mkvault
    mount_vault
    # 1,000 records as jq prints them, most ~1-30 KB, so that cp takes a while
    local long i n len
    long=$(head -c 45000 /dev/urandom | base64 -w0 | tr -d '+/=')
    mkdir "$T/crash"
    for ((i = 1; i <= 1000; i++)); do
        len=$(((i * 7919) % 30000 + 1000))
        printf '{\n  "i": %d,\n  "pad": "%s"\n}\n' "$i" "${long:0:len}" >"$T/crash/r$(printf %04d "$i").json"
    done
    head -c 67108864 /dev/urandom >"$T/big.src"
    mkdir "$MNT/records/logged" "$MNT/files/docs"
    : >"$T/logged.log"
    : >"$T/docs.log"
    : >"$T/big.log"

    cp -r "$T/crash" "$MNT/records/" >/dev/null 2>&1 3>&- &
    local cp_pid=$!
    (
        for f in "$T"/crash/*.json; do
            n=${f##*/}
            cp "$f" "$MNT/records/logged/$n" || exit 1
            echo "$n" >>"$T/logged.log"
            cp "$f" "$MNT/files/docs/$n.txt" || exit 1
            echo "$n" >>"$T/docs.log"
        done
    ) >/dev/null 2>&1 3>&- &
    local log_pid=$!
    # the large file is written over and over (same bytes at the same
    # offsets) so that this writer is still busy at the kill on any machine
    (
        for ((i = 0; ; i++)); do
            dd if="$T/big.src" of="$MNT/files/big" bs=1M count=1 skip=$((i % 64)) \
                seek=$((i % 64)) conv=notrunc,fsync status=none || exit 1
            echo "$i" >>"$T/big.log"
        done
    ) >/dev/null 2>&1 3>&- &
    local big_pid=$!
    bg_started "$cp_pid" "$log_pid" "$big_pid"

    # kill when every writer is well under way and none is done
    for i in $(seq 600); do
        n=$(ls "$MNT/records/crash" 2>/dev/null | wc -l)
        [ "$n" -ge 150 ] && [ "$(wc -l <"$T/logged.log")" -ge 5 ] && [ "$(wc -l <"$T/big.log")" -ge 2 ] &&
            break
        sleep 0.02
    done
    pid_alive "$cp_pid" && pid_alive "$log_pid" && pid_alive "$big_pid" || {
        echo "a writer ended before the kill (cp -r: $n records; logged $(wc -l <"$T/logged.log");"
        echo "big chunks $(wc -l <"$T/big.log")): the kill was not in the middle"
        return 1
    }
    kill -9 "$DAEMON"
    wait_gone "$DAEMON"
    local p
    for p in "$cp_pid" "$log_pid" "$big_pid"; do
        wait_gone "$p" 300 || return 1
    done
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
    not mountpoint -q "$MNT"
    check_ok
    mount_vault

    local nlog ndocs nbig
    nlog=$(wc -l <"$T/logged.log")
    ndocs=$(wc -l <"$T/docs.log")
    nbig=$(wc -l <"$T/big.log")
    [ "$nbig" -le 64 ] || nbig=64
    echo "# killed after: cp -r ~$n records, $nlog logged, $ndocs documents, $nbig MiB fsynced" >&3
    [ "$nlog" -ge 5 ]
    [ "$nlog" -lt 1000 ]
    # every record whose close() returned is there, byte for byte
    local missing=0 bad=0
    while read -r n; do
        if [ ! -e "$MNT/records/logged/$n" ]; then
            missing=$((missing + 1))
        elif ! cmp -s "$T/crash/$n" "$MNT/records/logged/$n"; then
            bad=$((bad + 1))
        fi
    done <"$T/logged.log"
    [ "$missing" -eq 0 ] && [ "$bad" -eq 0 ] ||
        { echo "closed records: $missing missing, $bad different"; return 1; }
    while read -r n; do
        cmp -s "$T/crash/$n" "$MNT/files/docs/$n.txt" ||
            { echo "document $n.txt lost or damaged"; return 1; }
    done <"$T/docs.log"
    # no record is torn: whatever is there (cp -r's too) is whole
    local got=0
    for f in "$MNT/records/crash"/*.json "$MNT/records/logged"/*.json; do
        [ -e "$f" ] || continue
        cmp -s "$T/crash/${f##*/}" "$f" || { echo "$f is not what was written"; return 1; }
        got=$((got + 1))
    done
    [ "$got" -ge "$nlog" ]
    # jq equality of the closed records, in one pass
    mapfile -t names <"$T/logged.log"
    [ "$(cd "$T/crash" && jq -S -c . "${names[@]}")" = \
      "$(cd "$MNT/records/logged" && jq -S -c . "${names[@]}")" ]
    # the large file: every fsynced MiB is intact
    local size
    size=$(stat -c %s "$MNT/files/big")
    [ "$size" -ge $((nbig * 1048576)) ] || { echo "big is $size bytes, $nbig MiB were fsynced"; return 1; }
    cmp -n $((nbig * 1048576)) "$T/big.src" "$MNT/files/big"
    unmount_vault
    check_ok
}

@test "two processes writing records and documents at once, 10,000 operations, lose nothing" {
    need jq
    mkvault
    mount_vault
    mkdir "$MNT/records/shared" "$MNT/files/shared"
    writer() {
        local id=$1 i
        for ((i = 1; i <= 2500; i++)); do
            printf '{\n  "writer": "%s",\n  "i": %d\n}\n' "$id" "$i" \
                >"$MNT/records/shared/$id-$i.json" || exit 1
            printf 'document %d of writer %s\n' "$i" "$id" >"$MNT/files/shared/$id-$i.txt" || exit 1
        done
    }
    writer a >/dev/null 2>"$T/a.err" 3>&- &
    local a=$!
    writer b >/dev/null 2>"$T/b.err" 3>&- &
    local b=$!
    bg_started "$a" "$b"
    local ra=0 rb=0
    wait "$a" || ra=$?
    wait "$b" || rb=$?
    [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] ||
        { echo "writers exited $ra, $rb: $(cat "$T/a.err" "$T/b.err")"; return 1; }
    # what they should have written, in one stream each
    local id i
    for id in a b; do
        for ((i = 1; i <= 2500; i++)); do
            printf '{\n  "writer": "%s",\n  "i": %d\n}\n' "$id" "$i" >>"$T/want.records"
            printf 'document %d of writer %s\n' "$i" "$id" >>"$T/want.docs"
            echo "$MNT/records/shared/$id-$i.json" >>"$T/list.records"
            echo "$MNT/files/shared/$id-$i.txt" >>"$T/list.docs"
        done
    done
    verify() {
        [ "$(ls "$MNT/records/shared" | wc -l)" -eq 5000 ] ||
            { echo "$1: $(ls "$MNT/records/shared" | wc -l) records, not 5000"; return 1; }
        [ "$(ls "$MNT/files/shared" | wc -l)" -eq 5000 ] ||
            { echo "$1: $(ls "$MNT/files/shared" | wc -l) documents, not 5000"; return 1; }
        xargs -d '\n' cat <"$T/list.records" | cmp - "$T/want.records" ||
            { echo "$1: records differ"; return 1; }
        xargs -d '\n' cat <"$T/list.docs" | cmp - "$T/want.docs" ||
            { echo "$1: documents differ"; return 1; }
        [ "$(xargs -d '\n' cat <"$T/list.records" |
            jq -s -c 'map("\(.writer)-\(.i)") | unique | length')" -eq 5000 ]
    }
    verify "while mounted"
    unmount_vault
    check_ok
    mount_vault
    verify "after a remount"
}

# ---- the tests themselves ----------------------------------------------------------

@test "a failing test leaves no mount and no daemon behind" {
    local inner="$T/inner.bats" at='@test'   # (bats rewrites lines that begin with @test)
    cat >"$inner" <<EOF
load '$BATS_TEST_DIRNAME/mount_helpers'
setup() { mount_setup; }
teardown() { mount_teardown; }
$at "fails while mounted" {
    mkvault
    mount_vault
    echo "\$MNT" >>'$T/inner.mnt'
    echo "\$DAEMON" >>'$T/inner.pid'
    false
}
$at "fails while a writer is busy in the mount" {
    mkvault
    mount_vault
    echo "\$MNT" >>'$T/inner.mnt'
    echo "\$DAEMON" >>'$T/inner.pid'
    ( cd "\$MNT/files" && while :; do echo x >>busy; done ) >/dev/null 2>&1 3>&- &
    bg_started \$!
    echo \$! >>'$T/inner.pid'
    sleep 0.3
    false
}
EOF
    # bats itself, not the libexec script of the same name this run put first in PATH
    local bats_cmd
    bats_cmd=$(type -ap bats | grep -v libexec | head -n1)
    [ -n "$bats_cmd" ] || skip "cannot find the bats command"
    run timeout -k 5 120 env -i PATH="$PATH" HOME="$HOME" VRMFS="$VRMFS" SRCDIR="$SRCDIR" \
        "$bats_cmd" --tap "$inner" 3>&-
    # whatever happened, take down what the inner run may have left
    local m p
    for m in $(cat "$T/inner.mnt" 2>/dev/null); do
        if grep -qF " $m " /proc/self/mountinfo; then
            fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
            echo "left mounted: $m"
            LEFT=1
        fi
    done
    for p in $(cat "$T/inner.pid" 2>/dev/null); do
        if pid_alive "$p"; then
            kill -9 "$p" 2>/dev/null || true
            echo "left running: $p"
            LEFT=1
        fi
    done
    [ "$status" -ne 0 ] || { echo "the inner tests passed: $output"; return 1; }
    has "$output" "not ok 1"
    has "$output" "not ok 2"
    [ "$(wc -l <"$T/inner.mnt")" -eq 2 ] || { echo "inner run: $output"; return 1; }
    [ -z "${LEFT:-}" ]
}

@test "disk full: writes fail with ENOSPC, nothing committed is lost, and writing works again once space is freed" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
    local D="$T/small"
    mkdir -p "$D"
    mount -t tmpfs -o size=8m,mode=0755 tmpfs "$D" 2>/dev/null || skip "cannot mount a tmpfs here"
    mkvault "$D/vault"
    mount_at "$D/vault" "$MNT"
    mkdir "$MNT/records/c" "$MNT/files/docs"
    local i
    for i in $(seq 20); do
        echo "{\"i\": $i, \"pad\": \"$(head -c 300 /dev/zero | tr '\0' x)\"}" >"$MNT/records/c/r$i.json"
    done
    head -c 1048576 /dev/urandom >"$T/doc.bin"
    cp "$T/doc.bin" "$MNT/files/docs/doc.bin"
    sync "$MNT/files/docs/doc.bin"
    # leave little room, then write until the disk is full
    dd if=/dev/zero of="$D/filler" bs=64k status=none 2>/dev/null || true
    rm -f "$D/filler"
    dd if=/dev/zero of="$D/filler" bs=64k count=$(( $(df -k --output=avail "$D" | tail -1) / 64 - 8 )) status=none
    local err=""
    for i in $(seq 200); do
        if ! err=$(head -c 262144 /dev/urandom 2>/dev/null | dd of="$MNT/files/docs/big$i" bs=64k conv=fsync status=none 2>&1); then
            break
        fi
        err=""
    done
    [ -n "$err" ] || { echo "the disk never filled"; return 1; }
    has "$err" "No space left on device"
    run bash -c "echo '{\"late\": 1}' >'$MNT/records/c/late.json'"
    # what was committed is intact, read through the mount
    for i in $(seq 20); do
        [ "$(jq .i "$MNT/records/c/r$i.json")" -eq "$i" ] || { echo "r$i lost"; return 1; }
    done
    cmp "$T/doc.bin" "$MNT/files/docs/doc.bin"
    # space freed: writing works again, and everything is still there after a remount
    rm -f "$D/filler"
    rm -f "$MNT/files/docs"/big*
    echo '{"after": true}' >"$MNT/records/c/after.json"
    cp "$T/doc.bin" "$MNT/files/docs/doc2.bin"
    unmount_vault
    "$VRMFS" check --passfile "$T/pass" "$D/vault" >/dev/null
    mount_at "$D/vault" "$MNT"
    [ "$(jq .after "$MNT/records/c/after.json")" = true ]
    cmp "$T/doc.bin" "$MNT/files/docs/doc2.bin"
    for i in $(seq 20); do
        [ "$(jq .i "$MNT/records/c/r$i.json")" -eq "$i" ]
    done
    unmount_vault
    umount "$D"
}

@test "compact: a deleted document's space goes back to the file system; refused while mounted and on a wrong passphrase; the rest intact" {
    mkvault
    mount_vault
    mkdir "$MNT/files/docs" "$MNT/records/c"
    head -c $((24 << 20)) /dev/urandom >"$T/big.bin"
    head -c $((3 << 20)) /dev/urandom >"$T/keep.bin"
    cp "$T/big.bin" "$MNT/files/docs/big.bin"
    cp "$T/keep.bin" "$MNT/files/docs/keep.bin"
    echo '{"kept": true}' >"$MNT/records/c/r.json"
    rm "$MNT/files/docs/big.bin"
    # mounted: refused, exit 7 (vault in use)
    run "$VRMFS" compact --passfile "$T/pass" "$VAULT"
    [ "$status" -eq 7 ]
    has "$output" "in use"
    unmount_vault
    local before after
    before=$(stat -c %s "$VAULT/vault.db")
    # a wrong passphrase: exit 2, nothing changed
    echo "not the passphrase" >"$T/wrong"
    run "$VRMFS" compact --passfile "$T/wrong" "$VAULT"
    [ "$status" -eq 2 ]
    [ "$(stat -c %s "$VAULT/vault.db")" -eq "$before" ]
    run "$VRMFS" compact --passfile "$T/pass" "$VAULT"
    [ "$status" -eq 0 ]
    has "$output" "MiB given back"
    after=$(stat -c %s "$VAULT/vault.db")
    [ $((before - after)) -ge $((24 << 20)) ] || {
        echo "vault.db went from $before to $after bytes"
        return 1
    }
    [ ! -s "$VAULT/vault.db-wal" ]
    check_ok
    mount_vault
    [ "$(sha "$MNT/files/docs/keep.bin")" = "$(sha "$T/keep.bin")" ]
    [ ! -e "$MNT/files/docs/big.bin" ]
    [ "$(jq .kept "$MNT/records/c/r.json")" = true ]
}
