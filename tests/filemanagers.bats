#!/usr/bin/env bats
# filemanagers.bats: the mounted vault driven by file managers: GNOME's GIO
# (the `gio` command: list, info, copy, move, trash) and Midnight Commander
# (mc, driven in tmux), and statfs as they read it.
#
# Run:  VRMFS=/path/to/build/fs/vrmfs SRCDIR=/path/to/source bats --tap tests/filemanagers.bats
# (meson test filemanagers runs it exactly so).  Needs /dev/fuse and
# fusermount3 (skips otherwise); gio (Debian libglib2.0-bin), mc and tmux,
# attr (setfattr/getfattr) for the tests that use them (each skips without).
#
# gio runs with GIO_USE_VFS=local and no session bus, so it does what GLib
# itself does on a local mount, whether or not gvfs is installed: GLib
# trashes a file of a mount into `$mount/.Trash-$uid` (it makes the folder,
# checks that it is the caller's, writes info/NAME.trashinfo, then renames
# the file into files/).  Listing and emptying the trash (`gio trash
# --list`, `--empty`, `gio list trash://`) go through gvfsd-trash and need
# gvfs and a session bus; they are not tested here.
#
# mc runs without a subshell, with HOME and its XDG config, data and cache
# folders under the test's own directory, so no user's settings are read.
# Every wait polls the screen or the files with a generous deadline (a
# loaded machine can take seconds to start mc).
#
# Every test mounts a fresh vault of its own under $BATS_TEST_TMPDIR and
# teardown always takes its mounts down and ends tmux (mount_helpers.bash).

# shellcheck disable=SC2016
bats_require_minimum_version 1.5.0

load mount_helpers

setup() {
    mount_setup
    U=$(id -u)
    TRASH="$MNT/.Trash-$U"
    mkdir -p "$T/home/.config" "$T/home/.local/share" "$T/home/.cache"
}

teardown() {
    mount_teardown
}

# gio_ ARGS...: the gio command with a home of the test's own, GLib's local
# file system only and no session bus; messages in UTF-8 English.
gio_() {
    env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR HOME="$T/home" \
        XDG_CONFIG_HOME="$T/home/.config" XDG_DATA_HOME="$T/home/.local/share" \
        XDG_CACHE_HOME="$T/home/.cache" GIO_USE_VFS=local GIO_USE_VOLUME_MONITOR=unix \
        LC_ALL=C.UTF-8 gio "$@"
}

# gio_attr FILE ATTRIBUTE: the value `gio info -a ATTRIBUTE` prints.
gio_attr() {
    gio_ info -a "$2" "$1" | sed -n "s/^  $2: //p"
}

# until_true SECONDS COMMAND...: poll COMMAND every 0.2 s until it succeeds.
until_true() {
    local secs=$1
    shift
    for _ in $(seq $((secs * 5))); do
        "$@" && return 0
        sleep 0.2
    done
    "$@"
}

# ---- mc in tmux ---------------------------------------------------------------

# mc_start LEFT RIGHT: mc with those panels (the left one active), 200x40
# (wide, so that the panels show whole paths).
mc_start() {
    need tmux mc
    local home="$T/home"
    mkdir -p "$home/.config/mc"
    # mc's own editor and viewer (not $EDITOR), no questions on leaving;
    # mcedit saves in place ("quick save": open with O_TRUNC, write, close)
    cat >"$home/.config/mc/ini" <<'EOF'
[Midnight-Commander]
use_internal_edit=true
use_internal_view=true
confirm_exit=false
auto_save_setup=false
editor_option_save_mode=0
editor_option_save_position=false
EOF
    TMUX_SOCK="$T/tmux.sock"
    env -i PATH="$PATH" HOME="$home" XDG_CONFIG_HOME="$home/.config" \
        XDG_DATA_HOME="$home/.local/share" XDG_CACHE_HOME="$home/.cache" \
        TERM=xterm LANG=C.UTF-8 \
        tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s ed -x 200 -y 40 \
        mc --nosubshell --nomouse --no-x11 --stickchars "$1" "$2"
    mc_wait "10Quit" || return 1
    mc_wait "$2" || return 1
}

mc_screen() {
    tmux -S "$TMUX_SOCK" capture-pane -p -t ed 2>/dev/null
}

mc_keys() {
    tmux -S "$TMUX_SOCK" send-keys -t ed "$@"
}

# mc_wait TEXT [SECONDS]: until the screen shows TEXT (default 30 s).
mc_wait() {
    for _ in $(seq $((${2:-30} * 5))); do
        case "$(mc_screen)" in *"$1"*) return 0 ;; esac
        sleep 0.2
    done
    echo "the screen never showed '$1':"
    mc_screen
    return 1
}

# mc_gone TEXT: until the screen no longer shows TEXT (30 s).
mc_gone() {
    for _ in $(seq 150); do
        case "$(mc_screen)" in *"$1"*) ;; *) return 0 ;; esac
        sleep 0.2
    done
    echo "the screen still shows '$1':"
    mc_screen
    return 1
}

# mc_select NAME: put the active panel's cursor on NAME (quick search; the
# next key ends the search and acts on it), and wait until the mini-status
# line under the panels shows NAME (a file " NAME", a folder "/NAME").
mc_select() {
    local status
    mc_keys C-s
    mc_keys -l "$1"
    for _ in $(seq 150); do
        status=$(mc_screen | grep -A1 -E '^\|-+\|\|-+\|$' | tail -n1)
        case "$status" in *"| $1 "* | *"|/$1 "*) return 0 ;; esac
        sleep 0.2
    done
    echo "the cursor never reached $1:"
    mc_screen
    return 1
}

# mc_cd DIR: change the active panel to DIR through mc's command line.
mc_cd() {
    mc_keys -l "cd $1"
    mc_keys Enter
    mc_wait "<- $1 " || return 1
}

# ---- gio: list, info, statfs -------------------------------------------------

@test "gio list and gio info show files/ and records/ as stat does" {
    need gio jq setfattr
    mkvault
    mount_vault
    mkdir "$MNT/files/d"
    printf 'hello' >"$MNT/files/a.txt"
    chmod 0640 "$MNT/files/a.txt"
    touch -d '2021-03-04 05:06:07 UTC' "$MNT/files/a.txt"
    setfattr -n user.colour -v blue "$MNT/files/a.txt"
    echo hidden >"$MNT/files/.dot"
    mkdir "$MNT/records/c"
    echo '{"name": "Ada"}' >"$MNT/records/c/r.json"

    local out
    out=$(gio_ list -a standard::size,unix::mode,time::modified "$MNT/files") ||
        { echo "gio list failed: $out"; return 1; }
    has "$out" "$(printf 'a.txt\t5\t(regular)\t')"
    has "$out" "unix::mode=$(printf %d 0100640)"
    has "$out" "time::modified=$(date -d '2021-03-04 05:06:07 UTC' +%s)"
    has "$out" "$(printf 'd\t0\t(directory)\t')"
    lacks "$out" ".dot"
    out=$(gio_ list -h "$MNT/files")
    has "$out" ".dot"
    out=$(gio_ list -h "$MNT")
    for e in README.txt records files .vrmfs; do
        grep -qx -- "$e" <<<"$out" || { echo "gio list of the root lacks $e: $out"; return 1; }
    done
    lacks "$out" ".Trash"

    out=$(gio_ info "$MNT/files/a.txt")
    has "$out" "type: regular"
    has "$out" "size:  5"
    [ "$(gio_attr "$MNT/files/a.txt" unix::mode)" = "$(printf %d 0100640)" ]
    [ "$(gio_attr "$MNT/files/a.txt" time::modified)" = "$(stat -c %Y "$MNT/files/a.txt")" ]
    [ "$(gio_attr "$MNT/files/a.txt" unix::uid)" = "$U" ]
    [ "$(gio_attr "$MNT/files/a.txt" xattr::colour)" = blue ]
    [ "$(gio_attr "$MNT/files/a.txt" access::can-trash)" = TRUE ]
    [ "$(gio_attr "$MNT/files/d" standard::type)" = 2 ]   # G_FILE_TYPE_DIRECTORY
    # a record: the size is the pretty text's, as read
    [ "$(gio_attr "$MNT/records/c/r.json" standard::size)" = "$(wc -c <"$MNT/records/c/r.json")" ]
    [ "$(gio_attr "$MNT/records/c/r.json" standard::content-type)" = application/json ]
    # the file system: fuse, writable, with a size and free space
    out=$(gio_ info -f "$MNT/files")
    has "$out" "filesystem::type: fuse"
    [ "$(gio_ info -f -a filesystem::size "$MNT/files" | sed -n 's/^  filesystem::size: //p')" -gt 0 ]
    [ "$(gio_ info -f -a filesystem::free "$MNT/files" | sed -n 's/^  filesystem::free: //p')" -gt 0 ]
}

@test "statfs: df, stat -f and gio report the free space of the file system holding the vault" {
    need gio
    mkvault
    mount_vault
    dd if=/dev/urandom of="$MNT/files/blob" bs=64k count=16 status=none
    # the host's statfs before and after the mount's, so that other writers
    # on the machine only widen the window (the vault's free pages count as
    # free on the mount too: a slack of 16 MiB)
    local h1 m h2 gfree gsize hs hb ha1 ha2 ms mb ma mf mfiles mffree
    h1=$(stat -f -c '%S %b %a' "$T")
    m=$(stat -f -c '%S %b %a %f %c %d' "$MNT")
    h2=$(stat -f -c '%S %b %a' "$T")
    read -r hs hb ha1 <<<"$h1"
    read -r _ _ ha2 <<<"$h2"
    read -r ms mb ma mf mfiles mffree <<<"$m"
    echo "host: $h1 / $h2; mount: $m"
    [ "$ms" -eq 4096 ]
    [ "$mb" -gt 0 ] && [ "$ma" -gt 0 ] && [ "$mf" -ge "$ma" ]
    [ "$mfiles" -gt 0 ] && [ "$mffree" -gt 0 ]
    # the same size, to a block of 4096
    local htotal=$((hs * hb)) mtotal=$((ms * mb))
    [ $((htotal - mtotal)) -ge 0 ] && [ $((htotal - mtotal)) -lt 4096 ] ||
        { echo "size: host $htotal bytes, mount $mtotal"; return 1; }
    # the same room
    local lo=$(( (ha1 < ha2 ? ha1 : ha2) * hs - (16 << 20) ))
    local hi=$(( (ha1 > ha2 ? ha1 : ha2) * hs + (16 << 20) ))
    [ $((ma * ms)) -ge "$lo" ] && [ $((ma * ms)) -le "$hi" ] ||
        { echo "available: mount $((ma * ms)), host between $lo and $hi (with slack)"; return 1; }
    # df shows the same size and some room, and GIO the same numbers
    local dfm dfv
    dfm=$(df -B1 --output=size,avail "$MNT" | tail -n1)
    dfv=$(df -B1 --output=size "$VAULT" | tail -n1 | tr -d ' ')
    [ $((dfv - ${dfm% *})) -ge 0 ] && [ $((dfv - ${dfm% *})) -lt 4096 ] &&
        [ "${dfm##* }" -gt 0 ] || { echo "df: vault's size $dfv, mount's size, room $dfm"; return 1; }
    gsize=$(gio_ info -f -a filesystem::size "$MNT" | sed -n 's/^  filesystem::size: //p')
    [ "$gsize" -eq "$mtotal" ] || { echo "gio size $gsize, statfs $mtotal"; return 1; }
    ha1=$(stat -f -c %a "$T")
    gfree=$(gio_ info -f -a filesystem::free "$MNT" | sed -n 's/^  filesystem::free: //p')
    ha2=$(stat -f -c %a "$T")
    lo=$(( (ha1 < ha2 ? ha1 : ha2) * hs - (16 << 20) ))
    hi=$(( (ha1 > ha2 ? ha1 : ha2) * hs + (16 << 20) ))
    [ "$gfree" -ge "$lo" ] && [ "$gfree" -le "$hi" ] ||
        { echo "gio free $gfree, host between $lo and $hi (with slack)"; return 1; }
}

# ---- gio copy and move ----------------------------------------------------------

@test "gio copy: into files/, within it, out of the mount; --preserve keeps mode, times, user.* xattrs" {
    need gio jq setfattr getfattr
    mkvault
    mount_vault
    local src="$T/src.txt" F="$MNT/files"
    printf 'copied by gio\n' >"$src"
    chmod 0640 "$src"
    setfattr -n user.colour -v blue "$src"
    setfattr -n user.note -v 'two words' "$src"
    touch -d '2020-01-02 03:04:05.123456789 UTC' "$src"

    gio_ copy "$src" "$F/"
    cmp "$src" "$F/src.txt"
    # GLib copies times and user.* attributes even without --preserve
    [ "$(getfattr --only-values -n user.colour "$F/src.txt")" = blue ]
    [ "$(stat -c %Y "$F/src.txt")" = "$(stat -c %Y "$src")" ]

    gio_ copy --preserve "$src" "$F/kept.txt"
    cmp "$src" "$F/kept.txt"
    [ "$(stat -c '%a %u %y' "$F/kept.txt")" = "$(stat -c '%a %u %y' "$src")" ] ||
        { echo "src: $(stat -c '%a %u %y' "$src"); copy: $(stat -c '%a %u %y' "$F/kept.txt")"; return 1; }
    [ "$(getfattr -d --absolute-names "$F/kept.txt" | tail -n +2)" = "$(getfattr -d --absolute-names "$src" | tail -n +2)" ]

    # within files/, into a folder, and back out of the mount
    mkdir "$F/d"
    gio_ copy --preserve "$F/kept.txt" "$F/d/"
    cmp "$src" "$F/d/kept.txt"
    [ "$(getfattr --only-values -n user.note "$F/d/kept.txt")" = 'two words' ]
    gio_ copy --preserve "$F/d/kept.txt" "$T/out.txt"
    cmp "$src" "$T/out.txt"
    [ "$(stat -c '%a %y' "$T/out.txt")" = "$(stat -c '%a %y' "$src")" ]
    [ "$(getfattr --only-values -n user.note "$T/out.txt")" = 'two words' ]

    # over an existing file with a backup: the old one as NAME~
    printf 'newer\n' >"$T/newer.txt"
    gio_ copy -b "$T/newer.txt" "$F/kept.txt"
    [ "$(cat "$F/kept.txt")" = newer ]
    cmp "$src" "$F/kept.txt~"

    # a folder: GLib's copy does not recurse (its own refusal, nothing made)
    fails_with "recursively copy directory" gio_ copy "$F/d" "$F/d2"
    [ ! -e "$F/d2" ]

    # records/: a JSON object becomes a record; anything else fails at close
    mkdir "$MNT/records/c"
    echo '{"a": 1}' >"$T/good.json"
    echo 'nope' >"$T/bad.json"
    gio_ copy "$T/good.json" "$MNT/records/c/"
    [ "$(jq -c . "$MNT/records/c/good.json")" = '{"a":1}' ]
    fails_with "Error closing file: Invalid argument" gio_ copy "$T/bad.json" "$MNT/records/c/"
    [ ! -e "$MNT/records/c/bad.json" ]
    errlog_has /records/c/bad.json
    # the root holds no files
    fails_with "Permission denied" gio_ copy "$src" "$MNT/"
    [ ! -e "$MNT/src.txt" ]
}

@test "gio move: renames within files/, across folders, out of and into the mount" {
    need gio jq setfattr getfattr
    mkvault
    mount_vault
    local F="$MNT/files"
    mkdir "$F/a" "$F/b" "$T/out"
    printf 'moving\n' >"$F/a/m.txt"
    setfattr -n user.colour -v green "$F/a/m.txt"
    touch -d '2019-05-06 07:08:09 UTC' "$F/a/m.txt"
    local mtime
    mtime=$(stat -c %y "$F/a/m.txt")

    gio_ move "$F/a/m.txt" "$F/a/n.txt"                 # a rename in place
    [ ! -e "$F/a/m.txt" ] && [ "$(cat "$F/a/n.txt")" = moving ]
    gio_ move "$F/a/n.txt" "$F/b/"                      # into another folder
    [ ! -e "$F/a/n.txt" ] && [ "$(cat "$F/b/n.txt")" = moving ]
    [ "$(getfattr --only-values -n user.colour "$F/b/n.txt")" = green ]
    [ "$(stat -c %y "$F/b/n.txt")" = "$mtime" ]
    gio_ move "$F/b" "$F/c"                             # a folder, with what it holds
    [ ! -e "$F/b" ] && [ "$(cat "$F/c/n.txt")" = moving ]

    # out of the mount and back: GLib copies (data, times, xattrs), then deletes
    gio_ move "$F/c/n.txt" "$T/out/"
    [ ! -e "$F/c/n.txt" ] && [ "$(cat "$T/out/n.txt")" = moving ]
    [ "$(getfattr --only-values -n user.colour "$T/out/n.txt")" = green ]
    [ "$(stat -c %y "$T/out/n.txt")" = "$mtime" ]
    gio_ move "$T/out/n.txt" "$F/a/"
    [ ! -e "$T/out/n.txt" ] && [ "$(cat "$F/a/n.txt")" = moving ]
    [ "$(getfattr --only-values -n user.colour "$F/a/n.txt")" = green ]
    [ "$(stat -c %y "$F/a/n.txt")" = "$mtime" ]
    # without the copy fallback a move across the mount's edge is refused
    printf 'stays\n' >"$T/out/s.txt"
    fails_with "Operation not supported" gio_ move -C "$T/out/s.txt" "$F/"
    [ -e "$T/out/s.txt" ] && [ ! -e "$F/s.txt" ]

    # a record moved into files/: copied as its text, then deleted
    mkdir "$MNT/records/c"
    echo '{"name": "Ada"}' >"$MNT/records/c/r.json"
    gio_ move "$MNT/records/c/r.json" "$F/"
    [ ! -e "$MNT/records/c/r.json" ]
    [ "$(jq -r .name "$F/r.json")" = Ada ]
    unmount_vault
    check_ok
}

# ---- gio trash ----------------------------------------------------------------------

# trashinfo_ok NAME PATH: .Trash-UID/info/NAME.trashinfo says the file came
# from PATH (relative to the mount, as the trash specification says for a
# trash at the top of a mount) and when, in the specification's format.
trashinfo_ok() {
    local info="$TRASH/info/$1.trashinfo" text
    text=$(cat "$info") || { echo "no $info: $(ls -A "$TRASH/info" 2>&1)"; return 1; }
    [ "$(sed -n 1p <<<"$text")" = "[Trash Info]" ] &&
        grep -qx "Path=$2" <<<"$text" &&
        grep -qE '^DeletionDate=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$' <<<"$text" || {
        echo "$info does not say Path=$2 with a DeletionDate:"
        echo "$text"
        return 1
    }
}

@test "gio trash: a file of files/ goes to the mount's .Trash-UID with its trashinfo; restoring is a rename" {
    need gio setfattr getfattr
    mkvault
    mount_vault
    local F="$MNT/files"
    mkdir -p "$F/sub" "$F/dir/deeper"
    printf 'to the trash\n' >"$F/sub/doc.txt"
    setfattr -n user.colour -v red "$F/sub/doc.txt"
    printf 'another doc\n' >"$F/doc.txt"
    printf 'inside\n' >"$F/dir/deeper/x"
    # no trash until something is trashed
    lacks "$(ls -A "$MNT")" ".Trash"
    fails_with "No such file or directory" stat "$TRASH"

    gio_ trash "$F/sub/doc.txt"
    [ ! -e "$F/sub/doc.txt" ]
    # the folder GLib made: the caller's, 0700, listed at the root only
    [ "$(stat -c '%F %a %u' "$TRASH")" = "directory 700 $U" ]
    grep -qx ".Trash-$U" <<<"$(ls -A "$MNT")" || { echo "root: $(ls -A "$MNT")"; return 1; }
    lacks "$(ls -A "$F")" ".Trash"
    fails_with "No such file or directory" stat "$F/.Trash-$U"
    [ "$(ls -A "$TRASH" | tr '\n' ' ')" = "files info " ]
    [ "$(cat "$TRASH/files/doc.txt")" = "to the trash" ]
    [ "$(getfattr --only-values -n user.colour "$TRASH/files/doc.txt")" = red ]
    trashinfo_ok doc.txt files/sub/doc.txt
    [ "$(ls -A "$TRASH/info")" = doc.txt.trashinfo ]   # GLib's temporary is gone

    # the same name again, and a folder with what it holds
    gio_ trash "$F/doc.txt" "$F/dir"
    [ "$(cat "$TRASH/files/doc.2.txt")" = "another doc" ]
    trashinfo_ok doc.2.txt files/doc.txt
    [ "$(cat "$TRASH/files/dir/deeper/x")" = inside ]
    trashinfo_ok dir files/dir
    [ "$(ls -A "$F" | tr '\n' ' ')" = "sub " ]

    # kept in the vault
    remount
    [ "$(cat "$TRASH/files/doc.txt")" = "to the trash" ]
    trashinfo_ok doc.txt files/sub/doc.txt

    # restore as the specification says: move the file back to Path, drop
    # its trashinfo (what gio trash --restore does through gvfs)
    local path
    path=$(sed -n 's/^Path=//p' "$TRASH/info/doc.txt.trashinfo")
    mv "$TRASH/files/doc.txt" "$MNT/$path"
    rm "$TRASH/info/doc.txt.trashinfo"
    [ "$(cat "$F/sub/doc.txt")" = "to the trash" ]
    [ "$(getfattr --only-values -n user.colour "$F/sub/doc.txt")" = red ]

    # emptying: gio remove of an entry, rm -r of the whole trash
    gio_ remove "$TRASH/files/doc.2.txt" "$TRASH/info/doc.2.txt.trashinfo"
    [ ! -e "$TRASH/files/doc.2.txt" ]
    rm -r "$TRASH"
    lacks "$(ls -A "$MNT")" ".Trash"
    [ "$(cat "$F/sub/doc.txt")" = "to the trash" ]
    # and GLib makes it again when needed
    gio_ trash "$F/sub/doc.txt"
    trashinfo_ok doc.txt files/sub/doc.txt
    unmount_vault
    check_ok
}

@test "gio trash: refused cleanly where there can be no trash; the name .Trash-UID is reserved" {
    need gio jq
    mkvault
    mount_vault
    local F="$MNT/files" other=$((U + 1))
    mkdir "$MNT/records/c"
    echo '{"name": "Ada"}' >"$MNT/records/c/r.json"
    printf 'doc\n' >"$F/doc.txt"

    # a record cannot go into the trash (a rename out of records/ answers
    # EXDEV): GLib says so, takes its trashinfo back, and the record stays
    fails_with "across filesystem boundaries" gio_ trash "$MNT/records/c/r.json"
    [ "$(jq -r .name "$MNT/records/c/r.json")" = Ada ]
    [ -z "$(ls -A "$TRASH/info")" ] || { echo "left in info/: $(ls -A "$TRASH/info")"; return 1; }
    # nor what the root holds
    fails_with "across filesystem boundaries" gio_ trash "$MNT/README.txt"
    fails_with "across filesystem boundaries" gio_ trash "$MNT/records"
    [ -e "$MNT/README.txt" ] && [ -d "$MNT/records/c" ]
    fails_with "Device or resource busy" gio_ trash "$MNT/files"
    [ -e "$F/doc.txt" ]
    [ -z "$(ls -A "$TRASH/info")" ] || { echo "left in info/: $(ls -A "$TRASH/info")"; return 1; }

    # at the root, only mkdir and rmdir of .Trash-UID itself
    fails_with "Permission denied" mv "$TRASH" "$F/old-trash"
    [ -d "$TRASH" ] && [ ! -e "$F/old-trash" ]
    errlog_has "/.Trash-$U"
    fails_with "Permission denied" mkdir "$MNT/.Trash-$other"
    errlog_has "/.Trash-$other"
    fails_with "Permission denied" mkdir "$MNT/.Trash"
    rmdir "$TRASH/info" "$TRASH/files" "$TRASH"
    fails_with "Permission denied" touch "$TRASH"
    fails_with "Permission denied" ln -s files "$TRASH"
    fails_with "Permission denied" mv "$F/doc.txt" "$TRASH"
    [ ! -e "$TRASH" ] && [ -e "$F/doc.txt" ]
    (umask 0 && mkdir "$TRASH")          # mkdir(2) with mode 0777
    [ "$(stat -c %a "$TRASH")" = 700 ]   # is the caller's alone

    # in files/ the name is the trash's: refused, and said why
    fails_with "Permission denied" mkdir "$F/.Trash-$U"
    fails_with "Permission denied" touch "$F/.Trash-$U"
    fails_with "Permission denied" mv "$F/doc.txt" "$F/.Trash-$U"
    fails_with "Permission denied" ln -s x "$F/.Trash-$U"
    [ -e "$F/doc.txt" ]
    errlog_has "/files/.Trash-$U"
    has "$(errlog)" "is reserved"

    # a read-only mount: no trash can be made, nothing moves
    rmdir "$TRASH"
    remount -o ro
    fails_with "Unable to find or create trash directory" gio_ trash "$F/doc.txt"
    [ "$(cat "$F/doc.txt")" = doc ]
}

# ---- Midnight Commander -------------------------------------------------------------

@test "mc: F5 copies into files/, F6 renames and moves, F7 makes a folder, F8 deletes" {
    need tmux mc
    mkvault
    mount_vault
    local F="$MNT/files"
    mkdir "$T/src"
    printf 'copied by mc\n' >"$T/src/one.txt"
    chmod 0640 "$T/src/one.txt"
    touch -d '2022-02-03 04:05:06 UTC' "$T/src/one.txt"
    mkdir "$F/old"
    printf 'x\n' >"$F/old/inside.txt"
    mc_start "$T/src" "$F"
    # both panels show size and free space: the mount's statfs, as the
    # vault's file system has them
    local sizes
    sizes=$(mc_screen | grep -oE '[0-9.]+[KMGT]? / [0-9.]+[KMGT]? \([0-9]+%\)')
    [ "$(wc -l <<<"$sizes")" -eq 2 ] || { echo "free space shown: '$sizes'"; mc_screen; return 1; }
    [ "$(sed -n 1p <<<"$sizes" | cut -d' ' -f3)" = "$(sed -n 2p <<<"$sizes" | cut -d' ' -f3)" ] ||
        { echo "the sizes differ: $sizes"; return 1; }
    not grep -qE '^0[KMGT]? ' <<<"$sizes"

    # F5: copy one.txt into files/, with its attributes
    mc_select one.txt
    mc_keys F5
    mc_wait 'Copy file "one.txt"'
    mc_keys Enter
    until_true 30 test -e "$F/one.txt"
    mc_gone 'Copy file "one.txt"'
    cmp "$T/src/one.txt" "$F/one.txt"
    [ "$(stat -c '%a %y' "$F/one.txt")" = "$(stat -c '%a %y' "$T/src/one.txt")" ]

    # to the right panel (files/; keys are taken in order): F7 makes a folder
    mc_keys Tab
    mc_keys F7
    mc_wait "Create a new Directory"
    mc_keys -l new
    mc_keys Enter
    until_true 30 test -d "$F/new"
    # Shift-F6: rename in place, then move into the new folder
    mc_select one.txt
    mc_keys S-F6
    mc_wait 'Move file "one.txt"'
    mc_keys -l two.txt
    mc_keys Enter
    until_true 30 test -e "$F/two.txt"
    [ ! -e "$F/one.txt" ]
    mc_gone 'Move file'
    mc_select two.txt
    mc_keys S-F6
    mc_wait 'Move file "two.txt"'
    mc_keys -l new/three.txt
    mc_keys Enter
    until_true 30 test -e "$F/new/three.txt"
    [ ! -e "$F/two.txt" ]
    cmp "$T/src/one.txt" "$F/new/three.txt"
    [ "$(stat -c %y "$F/new/three.txt")" = "$(stat -c %y "$T/src/one.txt")" ]
    mc_gone 'Move file'

    # F8: a folder that is not empty, confirmed twice
    mc_select old
    mc_keys F8
    mc_wait 'Delete directory'
    mc_keys Enter
    mc_wait 'Delete it recursively?'
    mc_keys Enter
    until_true 30 test ! -e "$F/old"
    mc_gone 'Delete it recursively?'
    # and a file
    mc_keys -l "cd $F/new"
    mc_keys Enter
    mc_wait "<- $F/new "
    mc_select three.txt
    mc_keys F8
    mc_wait 'Delete file'
    mc_keys Enter
    until_true 30 test ! -e "$F/new/three.txt"
    mc_gone 'Delete file'
    [ "$(find "$F" | sort | tr '\n' ' ')" = "$F $F/new " ]
    mc_keys F10
    until_true 30 not tmux -S "$TMUX_SOCK" has-session -t ed 2>/dev/null
    unmount_vault
    check_ok
}

@test "mc: F3 views a record, F4 edits it in mcedit and saves it (in place and safely)" {
    need tmux mc jq
    mkvault
    mount_vault
    local C="$MNT/records/c"
    mkdir "$C"
    echo '{"name": "Ada", "n": 1}' >"$C/r.json"
    mc_start "$T" "$C"
    mc_keys Tab
    mc_select r.json
    # F3: the viewer shows the pretty text
    mc_keys F3
    mc_wait '"name": "Ada",'
    mc_wait "$C/r.json"
    mc_keys F10
    mc_gone '"name": "Ada",'
    mc_wait "10Quit"

    # F4: mcedit saves in place; line 3 is '  "n": 1'
    mc_select r.json
    mc_keys F4
    mc_wait '"n": 1'
    mc_keys Down Down End BSpace
    mc_keys -l 2
    mc_wait '"n": 2'
    mc_keys F2
    mc_wait 'Confirm save file'
    mc_keys Enter
    until_true 30 test "$(jq .n "$C/r.json")" = 2
    mc_gone 'Confirm save file'
    [ "$(jq -c . "$C/r.json")" = '{"name":"Ada","n":2}' ]
    # not JSON any more: the close() fails, mcedit offers to save elsewhere
    # (its way of saying it could not save), the record stays
    mc_keys BSpace
    mc_keys -l x
    mc_wait '"n": x'
    mc_keys F2
    mc_wait 'Confirm save file'
    mc_keys Enter
    mc_wait 'Save As'
    mc_keys F10
    mc_gone 'Save As'
    [ "$(jq -c . "$C/r.json")" = '{"name":"Ada","n":2}' ]
    errlog_has /records/c/r.json
    mc_keys F10
    mc_wait 'Save before close?'
    mc_keys n
    mc_wait "10Quit"
    # nothing else in the collection (mcedit's lock link is refused there)
    [ "$(ls -A "$C")" = r.json ] || { echo "left: $(ls -A "$C")"; return 1; }

    # safe save: mcedit writes a temporary file and renames it over the
    # record, which commits its text
    mc_keys F10
    until_true 30 not tmux -S "$TMUX_SOCK" has-session -t ed 2>/dev/null
    sed -i 's/^editor_option_save_mode=0$/editor_option_save_mode=1/' "$T/home/.config/mc/ini"
    mc_start "$T" "$C"
    mc_keys Tab
    mc_select r.json
    mc_keys F4
    mc_wait '"n": 2'
    mc_keys Down Down End BSpace
    mc_keys -l 3
    mc_wait '"n": 3'
    mc_keys F2
    mc_wait 'Confirm save file'
    mc_keys Enter
    until_true 30 test "$(jq .n "$C/r.json")" = 3
    mc_gone 'Confirm save file'
    mc_keys F10
    mc_wait "10Quit"
    [ "$(jq -c . "$C/r.json")" = '{"name":"Ada","n":3}' ]
    [ "$(ls -A "$C")" = r.json ] || { echo "left: $(ls -A "$C")"; return 1; }
    mc_keys F10
    until_true 30 not tmux -S "$TMUX_SOCK" has-session -t ed 2>/dev/null
}
