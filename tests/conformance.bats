#!/usr/bin/env bats
# conformance.bats: POSIX behaviour of files/ in a mounted vault, through the
# real system calls (Python's os.* where a shell tool cannot express one):
# open flags, rename, unlink while open, hard links (one inode number, link
# counts and changes seen through every name at once, cp -a, rsync -aH, tar
# and du compared with the same tree on disk), permissions, times, extended
# attributes, long and unicode names; then fsx.py, a seeded random exerciser
# checked against a model, with remounts in between.
#
# Run:  VRMFS=/path/to/build/fs/vrmfs SRCDIR=/path/to/source bats --tap tests/conformance.bats
# (meson test conformance runs it exactly so).  Needs /dev/fuse and
# fusermount3 (skips otherwise) and /usr/bin/python3; the permissions test
# needs setpriv or su to act as nobody (skips otherwise).
#
# Soak mode: FSX_OPS=N (default 1500) and FSX_SEED=N (default 20261123) set
# fsx.py's number of operations and seed; it remounts every 500 operations
# (FSX_REMOUNTS=N to choose).  E.g.
#   FSX_OPS=100000 FSX_SEED=$RANDOM meson test -C build conformance
# (raise meson's timeout with -t for long runs).
#
# Errors are checked as a user sees them: the errno name (EEXIST, ENOENT...)
# printed by the Python snippets, or the strerror text of a tool.

# shellcheck disable=SC2016
bats_require_minimum_version 1.5.0

load mount_helpers

PY=/usr/bin/python3

setup() {
    mount_setup
    [ -x "$PY" ] || skip "no $PY"
    mkvault
    mount_vault
    F="$MNT/files"
}

teardown() {
    mount_teardown
}

# py CODE [ARGS...]: run CODE with os, sys, errno and stat imported and
#   e(f, *args) -> 'ok' or the errno name f raised (EEXIST, ...)
#   rd(path) -> the file's bytes;   wr(path, bytes) -> writes it (created 0644)
# sys.argv[1:] are the ARGS.
py() {
    local code=$1
    shift
    "$PY" -c 'import os, sys, errno, stat, time
def e(f, *a, **k):
    try:
        f(*a, **k)
        return "ok"
    except OSError as x:
        return errno.errorcode.get(x.errno, str(x.errno))
def rd(p):
    with open(p, "rb") as f:
        return f.read()
def wr(p, b):
    with open(p, "wb") as f:
        f.write(b)
'"$code" "$@"
}

# same OUTPUT EXPECTED: the two texts are equal (shows both if not).
same() {
    [ "$1" = "$2" ] || {
        echo "got:"
        echo "$1"
        echo "expected:"
        echo "$2"
        return 1
    }
}

# ---- open flags -------------------------------------------------------------

@test "open: O_CREAT|O_EXCL creates once, then EEXIST (also on a directory and a dangling symlink)" {
    mkdir "$F/d"
    ln -s nowhere "$F/dangling"
    run py '
F = sys.argv[1]
X = os.O_WRONLY | os.O_CREAT | os.O_EXCL
def mk(p):
    fd = os.open(p, X, 0o600); os.write(fd, b"first"); os.close(fd)
print(e(mk, F + "/new"))
print(e(os.open, F + "/new", X, 0o600))
print(e(os.open, F + "/d", X, 0o600))
print(e(os.open, F + "/dangling", X, 0o600))
print(rd(F + "/new").decode(), oct(os.stat(F + "/new").st_mode & 0o7777))
print(os.path.lexists(F + "/nowhere"))
' "$F"
    expect_status 0
    same "$output" "ok
EEXIST
EEXIST
EEXIST
first 0o600
False"
    # the shell's noclobber is O_EXCL too
    fails_with "cannot overwrite existing file" bash -c "set -C; echo again >'$F/new'"
    [ "$(cat "$F/new")" = first ]
}

@test "open: O_TRUNC empties the file and changes its mtime; O_TRUNC on an empty file keeps it empty" {
    head -c 200000 /dev/urandom >"$F/t"
    touch -d '2001-01-01 00:00:00' "$F/t"
    run py '
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
st = os.fstat(fd)
print(st.st_size, st.st_mtime > 1e9 + 1e8)
os.write(fd, b"short")
os.close(fd)
print(rd(p))
fd = os.open(p, os.O_RDWR | os.O_TRUNC); os.close(fd)
fd = os.open(p, os.O_RDWR | os.O_TRUNC); os.close(fd)
print(os.stat(p).st_size, rd(p))
' "$F/t"
    expect_status 0
    same "$output" "0 True
b'short'
0 b''"
    remount
    [ "$(stat -c %s "$MNT/files/t")" = 0 ]
}

@test "open: O_APPEND on two descriptors interleaves without loss; two processes appending at once lose nothing" {
    run py '
p = sys.argv[1]
a = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
b = os.open(p, os.O_WRONLY | os.O_APPEND)
want = b""
for i in range(300):
    for fd, tag in ((a, b"A"), (b, b"B")):
        rec = tag + b"%04d" % i + b"." * (i % 37) + b"\n"
        os.write(fd, rec)
        want += rec
    if i == 100:
        os.lseek(a, 0, os.SEEK_SET)     # O_APPEND ignores the file offset
os.close(a); os.close(b)
got = rd(p)
print(len(got) == len(want), got == want)
' "$F/app"
    expect_status 0
    same "$output" "True True"

    # two processes at once, each appending 400 lines with >>
    local i
    for i in 1 2; do
        "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for n in range(400):
    os.write(fd, b"p%s-%04d %s\n" % (sys.argv[2].encode(), n, b"x" * (n % 50)))
os.close(fd)' "$F/both" "$i" &
        bg_started $!
    done
    wait
    [ "$(wc -l <"$F/both")" -eq 800 ] || { wc -l "$F/both"; return 1; }
    for i in 1 2; do
        # each writer's lines all there, whole and in its order
        run bash -c "grep '^p$i-' '$F/both' | cut -d' ' -f1"
        same "$output" "$(for n in $(seq 0 399); do printf 'p%s-%04d\n' "$i" "$n"; done)"
    done
    run grep -cvE '^p[12]-[0-9]{4} x*$' "$F/both"
    same "$output" 0
}

# ---- rename -----------------------------------------------------------------

@test "rename: over a file replaces it atomically (same inode, old data kept for an open descriptor)" {
    printf 'source\n' >"$F/a"
    printf 'target, old\n' >"$F/b"
    exec 7<"$F/b"
    local ino
    ino=$(stat -c %i "$F/a")
    mv "$F/a" "$F/b"
    [ ! -e "$F/a" ]
    [ "$(cat "$F/b")" = source ]
    [ "$(stat -c %i "$F/b")" = "$ino" ]
    [ "$(stat -c %h "$F/b")" = 1 ]
    # the replaced file is still readable through the descriptor opened before
    [ "$(cat <&7)" = "target, old" ]
    exec 7<&-
    run ls -A "$F"
    same "$output" "b"
    remount
    [ "$(cat "$MNT/files/b")" = source ]
}

@test "rename: a directory over an empty one; ENOTEMPTY, EISDIR, ENOTDIR, EINVAL change nothing" {
    mkdir -p "$F/src/sub" "$F/empty" "$F/full"
    echo in-src >"$F/src/sub/x"
    echo in-full >"$F/full/y"
    echo plain >"$F/file"
    run py '
F = sys.argv[1]
print(e(os.rename, F + "/src", F + "/full"))      # onto a non-empty directory
print(e(os.rename, F + "/file", F + "/empty"))    # a file over a directory
print(e(os.rename, F + "/src", F + "/file"))      # a directory over a file
print(e(os.rename, F + "/src", F + "/src/sub/inside"))  # into itself
print(e(os.rename, F + "/missing", F + "/m2"))
print(e(os.rename, F + "/src", F + "/empty"))     # over an empty directory
print(sorted(os.listdir(F)))
print(rd(F + "/empty/sub/x"), rd(F + "/full/y"), rd(F + "/file"))
' "$F"
    expect_status 0
    same "$output" "ENOTEMPTY
EISDIR
ENOTDIR
EINVAL
ENOENT
ok
['empty', 'file', 'full']
b'in-src\n' b'in-full\n' b'plain\n'"
    fails_with "Directory not empty" mv -T "$F/empty" "$F/full"
    # the moved directory's .. and nlink are right
    [ "$(stat -c %i "$F/empty/sub/..")" = "$(stat -c %i "$F/empty")" ]
    [ "$(stat -c %h "$F/empty")" = 3 ]
    [ "$(stat -c %h "$F")" = 4 ]
}

# ---- unlink while open ------------------------------------------------------

@test "unlink: an open file stays readable and writable through its descriptor, then is gone" {
    head -c 300000 /dev/urandom >"$T/orig"
    cp "$T/orig" "$F/open"
    run py '
p, orig = sys.argv[1], sys.argv[2]
fd = os.open(p, os.O_RDWR)
os.unlink(p)
print(e(os.stat, p), os.listdir(os.path.dirname(p)))
st = os.fstat(fd)
print(st.st_nlink, st.st_size)
data = b""
while True:
    b = os.read(fd, 65536)
    if not b: break
    data += b
print(data == rd(orig))
os.pwrite(fd, b"after", 299998)
print(os.pread(fd, 10, 299995) == rd(orig)[299995:299998] + b"after", os.fstat(fd).st_size)
os.close(fd)
print(e(os.stat, p))
' "$F/open" "$T/orig"
    expect_status 0
    same "$output" "ENOENT []
0 300000
True
True 300003
ENOENT"
    # a new file of the same name is a new, empty file
    : >"$F/open"
    [ "$(stat -c %s "$F/open")" = 0 ]
    remount
    run ls -A "$MNT/files"
    same "$output" "open"
}

# ---- link counts ------------------------------------------------------------

@test "links: a hard link is the same file: one inode number for all its names" {
    echo shared >"$F/f"
    mkdir "$F/d"
    ln "$F/f" "$F/g"
    ln "$F/f" "$F/d/h"
    same "$(stat -c %i "$F/g") $(stat -c %i "$F/d/h")" "$(stat -c %i "$F/f") $(stat -c %i "$F/f")"
    # readdir gives every entry the number stat gives (d_ino: os.scandir),
    # in files/ and outside it; no two folders share one (find sees no loop)
    mkdir "$MNT/records/notes"
    echo '{"a": 1}' >"$MNT/records/notes/x.json"
    run py '
bad = 0
for d in sys.argv[1:]:
    for e in os.scandir(d):
        if e.inode() != os.lstat(e.path).st_ino:
            print("d_ino", e.path, e.inode(), os.lstat(e.path).st_ino)
            bad += 1
print(bad, os.stat(sys.argv[2]).st_ino, os.stat(sys.argv[2] + "/d").st_ino != os.stat(sys.argv[1]).st_ino)
' "$MNT" "$F" "$F/d" "$MNT/records" "$MNT/records/notes" "$MNT/views" "$MNT/.vrmfs"
    expect_status 0
    same "$output" "0 1 True"
    run find "$MNT" -type d -printf '%i\n'
    expect_status 0
    same "$(sort <<<"$output" | uniq -d)" ""
    remount
    same "$(stat -c %i "$MNT/files/g")" "$(stat -c %i "$MNT/files/f")"
    same "$(stat -c %i "$MNT/files/d/h")" "$(stat -c %i "$MNT/files/f")"
}

@test "links: ln and rm change the link count seen through every name at once" {
    echo shared >"$F/f"
    [ "$(stat -c %h "$F/f")" = 1 ]
    ln "$F/f" "$F/g"
    same "$(stat -c %h "$F/f") $(stat -c %h "$F/g")" "2 2"
    rm "$F/g"
    same "$(stat -c %h "$F/f")" 1
}

@test "links: data appended through one name is read whole through another at once" {
    echo shared >"$F/f"
    ln "$F/f" "$F/g"
    mkdir "$F/d"
    ln "$F/f" "$F/d/h"
    echo more >>"$F/g"
    same "$(cat "$F/d/h")" "shared
more"
    same "$(stat -c %s "$F/d/h")" 12
}

@test "links: every change through one name shows through the others at once, open descriptors too" {
    echo shared >"$F/f"
    mkdir "$F/d" "$MNT/.Trash-$(id -u)"
    ln "$F/f" "$F/d/h"
    ln "$F/f" "$MNT/.Trash-$(id -u)/t"      # a name in the trash is one more
    stat "$F/f" "$F/d/h" "$MNT/.Trash-$(id -u)/t" >/dev/null   # all cached now
    run py '
f, h, t = sys.argv[1:4]
r = os.open(h, os.O_RDONLY)              # a reader holding the old bytes
print(os.pread(r, 100, 0))
w = os.open(f, os.O_WRONLY)
os.pwrite(w, b"SHARED", 0)
os.fsync(w)                               # synced: shown before the close
print(os.pread(r, 100, 0), os.stat(h).st_size, rd(t))
os.pwrite(w, b"!", 7)
os.close(w)
print(os.pread(r, 100, 0), os.stat(t).st_size)
os.truncate(f, 3)
print(os.stat(h).st_size, os.pread(r, 100, 0))
w = os.open(t, os.O_WRONLY | os.O_TRUNC)
print(os.stat(f).st_size, os.stat(h).st_size)
os.close(w)
os.chmod(h, 0o640)
print(oct(os.stat(f).st_mode & 0o777), oct(os.stat(t).st_mode & 0o777))
os.utime(f, ns=(1, 1500000000123456789))
print(os.stat(h).st_mtime_ns)
before = os.stat(h).st_ctime_ns
time.sleep(0.01)
os.setxattr(f, "user.k", b"v")
print(os.stat(h).st_ctime_ns > before, os.getxattr(t, "user.k"))
os.close(r)
' "$F/f" "$F/d/h" "$MNT/.Trash-$(id -u)/t"
    expect_status 0
    same "$output" "b'shared\n'
b'SHARED\n' 7 b'SHARED\n'
b'SHARED\n!' 8
3 b'SHA'
0 0
0o640 0o640
1500000000123456789
True b'v'"
    # rename over one name, then rm another: the rest count down at once
    echo other >"$F/new"
    same "$(stat -c %h "$F/d/h")" 3
    mv "$F/new" "$F/f"
    same "$(stat -c %h "$F/d/h") $(stat -c %h "$MNT/.Trash-$(id -u)/t")" "2 2"
    rm "$MNT/.Trash-$(id -u)/t"
    same "$(stat -c %h "$F/d/h")" 1
    # a name made while a descriptor is open: what it writes shows there too
    exec 8>>"$F/d/h"
    ln "$F/d/h" "$F/late"
    echo appended >&8
    exec 8>&-
    same "$(stat -c %s "$F/late") $(cat "$F/late")" "9 appended"
}

@test "links: hard links share content; EEXIST, EPERM; directory nlink is 2 plus subdirectories" {
    echo shared >"$F/f"
    ln "$F/f" "$F/g"
    mkdir "$F/d"
    ln "$F/f" "$F/d/h"
    [ "$(stat -c %h "$F/d/h")" = 3 ]      # the newest name (no stale attributes)
    echo more >>"$F/g"
    [ "$(cat "$F/g")" = "shared
more" ]
    rm "$F/f"
    fails_with "File exists" ln "$F/g" "$F/d/h"
    fails_with "not allowed" ln "$F/d" "$F/dlink"      # EPERM: no hard links to directories
    # directories
    [ "$(stat -c %h "$F/d")" = 2 ]
    mkdir "$F/d/s1" "$F/d/s2"
    echo x >"$F/d/file"
    [ "$(stat -c %h "$F/d")" = 4 ]
    mv "$F/d/s1" "$F/s1"
    [ "$(stat -c %h "$F/d")" = 3 ]
    rmdir "$F/d/s2"
    [ "$(stat -c %h "$F/d")" = 2 ]
    [ "$(stat -c %h "$F")" = 4 ]      # files/ holds d and s1
    # counts as stored, with no cached attributes: after a remount
    remount
    F="$MNT/files"
    [ "$(stat -c %h "$F/g")" = 2 ]
    [ "$(stat -c %h "$F/d/h")" = 2 ]
    [ "$(stat -c %h "$F/d")" = 2 ]
    [ "$(stat -c %h "$F")" = 4 ]
    rm "$F/g"
    remount
    [ "$(stat -c %h "$MNT/files/d/h")" = 1 ]
    [ "$(cat "$MNT/files/d/h")" = "shared
more" ]
}

# link_shape DIR: "name nlink first-name-of-its-inode" for every non-directory
# below DIR, sorted by name: how a tree's names share files, whatever the
# inode numbers are.
link_shape() {
    (cd "$1" && find . -mindepth 1 ! -type d -printf '%P %n %i\n') | sort |
        awk '{ if (!($3 in first)) first[$3] = $1; print $1, $2, first[$3] }'
}

@test "links: cp -a, rsync -aH, tar and du treat a file's names as one file, out of files/ and back, as on a disk" {
    command -v rsync >/dev/null || skip "rsync missing"
    local d ref big
    # the same tree on the disk of the test's directory and in files/
    for d in "$T/ref" "$F/tree"; do
        mkdir -p "$d/sub/deep" "$d/other"
        echo one >"$d/a"
        ln "$d/a" "$d/sub/a2"
        ln "$d/a" "$d/sub/deep/a3"
        echo two >"$d/b"
        ln "$d/b" "$d/other/b2"
        echo solo >"$d/c"
        seq 1 50000 >"$d/big"
        ln "$d/big" "$d/other/big2"
        ln -s a "$d/sym"
    done
    ref=$(link_shape "$T/ref")
    same "$(link_shape "$F/tree")" "$ref"
    grep -q '^sub/deep/a3 3 a$' <<<"$ref"
    # du counts a file once (-l: once per name), as on the disk; folders in
    # files/ have size 0
    same "$(du -s --inodes "$F/tree" | cut -f1)" "$(du -s --inodes "$T/ref" | cut -f1)"
    same "$(du -sl --inodes "$F/tree" | cut -f1)" "$(du -sl --inodes "$T/ref" | cut -f1)"
    big=$(stat -c %s "$T/ref/big")
    same "$(du -sb "$F/tree" | cut -f1)" "$((4 + 4 + 5 + big + 1))"
    same "$(du -slb "$F/tree" | cut -f1)" "$((3 * 4 + 2 * 4 + 5 + 2 * big + 1))"
    # rsync -aH out of the mount, and back in
    rsync -aH "$F/tree/" "$T/rs/"
    same "$(link_shape "$T/rs")" "$ref"
    rsync -aH "$T/rs/" "$F/rs/"
    same "$(link_shape "$F/rs")" "$ref"
    diff -r "$T/ref" "$F/rs"
    # cp -a likewise, and within the mount
    cp -a "$F/tree" "$T/cp"
    same "$(link_shape "$T/cp")" "$ref"
    cp -a "$T/cp" "$F/cp"
    same "$(link_shape "$F/cp")" "$ref"
    cp -a "$F/tree" "$F/cp2"
    same "$(link_shape "$F/cp2")" "$ref"
    # tar keeps the later names as links to the first, and makes them again
    tar -C "$F" -cf "$T/t.tar" tree
    same "$(tar -tvf "$T/t.tar" | grep -c ' link to ')" 4
    mkdir "$F/untar"
    tar -C "$F/untar" -xf "$T/t.tar"
    same "$(link_shape "$F/untar/tree")" "$ref"
    diff -r "$T/ref" "$F/untar/tree"
    # as stored: after a remount
    remount
    F="$MNT/files"
    for d in tree rs cp cp2 untar/tree; do
        same "$(link_shape "$F/$d")" "$ref"
    done
}

# ---- permissions ------------------------------------------------------------

# as_nobody CODE ARGS...: py CODE as uid/gid 65534, with descriptor 7 inherited.
as_nobody() {
    local code=$1
    shift
    if [ "$NOBODY" = setpriv ]; then
        setpriv --reuid 65534 --regid 65534 --clear-groups "$PY" -c "import os, sys, errno
$code" "$@"
    else
        su nobody -s /bin/sh -c '"$0" -c "$1" "$2"' -- "$PY" "import os, sys, errno
$code" "$@"
    fi
}

@test "permissions (default_permissions): chmod 000 stops another user; EACCES and EPERM as on a disk" {
    NOBODY=
    if setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null; then
        NOBODY=setpriv
    elif su nobody -s /bin/sh -c true 2>/dev/null; then
        NOBODY=su
    else
        skip "neither setpriv nor su can run a command as nobody"
    fi
    unmount_vault
    mount_vault -o allow_other
    F="$MNT/files"
    mkdir -m 0755 "$F/pub"
    echo readable >"$F/pub/r"
    chmod 0644 "$F/pub/r"
    echo secret >"$F/pub/s"
    chmod 000 "$F/pub/s"
    [ "$(stat -c %a "$F/pub/s")" = 0 ]
    # nobody reaches pub/ through a descriptor opened here (the test's
    # temporary directories above the mount need not be searchable by it)
    exec 7<"$F/pub"
    local code='
def e(f, *a, **k):
    try:
        f(*a, **k); return "ok"
    except OSError as x:
        return errno.errorcode.get(x.errno, str(x.errno))
def rd(n):
    fd = os.open(n, os.O_RDONLY, dir_fd=7)
    try: return os.read(fd, 100).decode().strip()
    finally: os.close(fd)
print(os.getuid(), rd("r"))
print(e(rd, "s"))
print(e(os.open, "r", os.O_WRONLY, dir_fd=7))
print(e(os.open, "new", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=7))
print(e(os.chmod, "s", 0o644, dir_fd=7))
print(e(os.unlink, "r", dir_fd=7))
'
    run as_nobody "$code"
    expect_status 0
    same "$output" "65534 readable
EACCES
EACCES
EACCES
EPERM
EACCES"
    # the owner still can (root: as on any disk), and nothing changed
    [ "$(cat "$F/pub/s")" = secret ]
    [ "$(stat -c %a "$F/pub/s")" = 0 ]
    [ ! -e "$F/pub/new" ]
    # handed over with chmod, nobody can read it
    chmod 0604 "$F/pub/s"
    run as_nobody 'fd = os.open("s", os.O_RDONLY, dir_fd=7); print(os.read(fd, 100).decode().strip())'
    expect_status 0
    same "$output" secret
    exec 7<&-
}

# ---- times ------------------------------------------------------------------

@test "times: utime to the nanosecond, touch -d, mtime and ctime move on write and chmod, kept over a remount" {
    echo x >"$F/t"
    mkdir "$F/d"
    run py '
p = sys.argv[1]
os.utime(p, ns=(1000000000123456789, 1200000000987654321))
st = os.stat(p)
print(st.st_atime_ns, st.st_mtime_ns)
os.utime(p, (946684800, 978307200))
st = os.stat(p)
print(int(st.st_atime), int(st.st_mtime))
' "$F/t"
    expect_status 0
    same "$output" "1000000000123456789 1200000000987654321
946684800 978307200"
    touch -d '2003-04-05 06:07:08 UTC' "$F/d"
    [ "$(stat -c %Y "$F/d")" = 1049522828 ]
    touch -m -d '@1234567890' "$F/t"
    [ "$(stat -c %Y "$F/t")" = 1234567890 ]
    [ "$(stat -c %X "$F/t")" = 946684800 ]        # -m leaves atime alone
    # a write moves mtime and ctime to now
    local before now
    before=$(stat -c %Z "$F/t")
    sleep 1.1
    echo more >>"$F/t"
    now=$(date +%s)
    [ "$(stat -c %Y "$F/t")" -ge $((now - 5)) ] && [ "$(stat -c %Y "$F/t")" -le "$now" ] ||
        { stat "$F/t"; return 1; }
    [ "$(stat -c %Z "$F/t")" -gt "$before" ]
    # chmod moves ctime, not mtime; creating in a directory moves its mtime
    touch -d '@1500000000' "$F/t"
    before=$(stat -c %Z "$F/t")
    sleep 1.1
    chmod 600 "$F/t"
    [ "$(stat -c %Y "$F/t")" = 1500000000 ]
    [ "$(stat -c %Z "$F/t")" -gt "$before" ]
    echo y >"$F/d/new"
    [ "$(stat -c %Y "$F/d")" -ge $((now - 5)) ] || { stat "$F/d"; return 1; }
    # a read does not move mtime
    cat "$F/t" >/dev/null
    [ "$(stat -c %Y "$F/t")" = 1500000000 ]
    touch -d '@1600000000.5' "$F/d"
    remount
    [ "$(stat -c %Y "$MNT/files/t")" = 1500000000 ]
    [ "$(stat -c %y "$MNT/files/d")" = "$(TZ=${TZ:-} date -d @1600000000.5 '+%Y-%m-%d %H:%M:%S.500000000 %z')" ] ||
        { stat "$MNT/files/d"; return 1; }
}

# ---- extended attributes ----------------------------------------------------

@test "xattrs: user.* set, get, list, remove; ENODATA, EEXIST, ENOTSUP; kept over a remount" {
    echo x >"$F/f"
    mkdir "$F/d"
    run py '
p, d = sys.argv[1], sys.argv[2]
os.setxattr(p, "user.color", b"blue")
os.setxattr(p, "user.bin", bytes(range(256)))
os.setxattr(p, "user.empty", b"")
os.setxattr(d, "user.note", "on a folder é".encode())
print(os.getxattr(p, "user.color"), os.getxattr(p, "user.bin") == bytes(range(256)), os.getxattr(p, "user.empty"))
print(sorted(os.listxattr(p)), os.listxattr(d))
print(e(os.getxattr, p, "user.missing"))
print(e(os.removexattr, p, "user.missing"))
print(e(os.setxattr, p, "user.color", b"x", os.XATTR_CREATE))
print(e(os.setxattr, p, "user.nope", b"x", os.XATTR_REPLACE))
print(e(os.setxattr, p, "user.color", b"green", os.XATTR_REPLACE), os.getxattr(p, "user.color"))
print(e(os.setxattr, p, "trusted.x", b"1"), e(os.setxattr, p, "security.x", b"1") in ("ENOTSUP", "EOPNOTSUPP", "EPERM"))
os.removexattr(p, "user.bin")
print(sorted(os.listxattr(p)), e(os.getxattr, p, "user.bin"))
' "$F/f" "$F/d"
    expect_status 0
    same "$output" "b'blue' True b''
['user.bin', 'user.color', 'user.empty'] ['user.note']
ENODATA
ENODATA
EEXIST
ENODATA
ok b'green'
ENOTSUP True
['user.color', 'user.empty'] ENODATA"
    remount
    run py '
p, d = sys.argv[1], sys.argv[2]
print(sorted(os.listxattr(p)), os.getxattr(p, "user.color"), os.getxattr(d, "user.note").decode())
' "$MNT/files/f" "$MNT/files/d"
    expect_status 0
    same "$output" "['user.color', 'user.empty'] b'green' on a folder é"
}

# ---- listings ---------------------------------------------------------------

# A long directory comes in many readdir calls (about 27 entries with their
# attributes per 4 KiB reply), each going on after the last name the one
# before gave (fs/mount/tree.h, dirh).  D is a folder of files/ or a collection of
# records/ (then the names end in .json).
listing_check() {
    run py '
D, ext = sys.argv[1], sys.argv[2]
names = ["n%04d%s" % (i, ext) for i in range(1000)]
def fill():
    for n in names:
        wr(D + "/" + n, b"{\"i\": 1}\n")
def once(seen):
    return len(seen) == len(set(seen)) and set(names) <= set(seen)
fill()
l = os.listdir(D)
print("listed", len(l), once(l))
# Removing what was listed while listing (as rm -r does) skips nothing.
seen = []
with os.scandir(D) as it:
    for x in it:
        seen.append(x.name)
        os.unlink(D + "/" + x.name)
print("unlinked while listing", len(seen), once(seen), os.listdir(D))
# Names made while listing, before and after the cursor, disturb no other.
fill()
seen = []
with os.scandir(D) as it:
    for i, x in enumerate(it):
        seen.append(x.name)
        if i % 100 == 50:
            wr(D + "/a%d%s" % (i, ext), b"{}\n")
            wr(D + "/z%d%s" % (i, ext), b"{}\n")
print("created while listing", once([n for n in seen if n.startswith("n")]))
' "$1" "$2"
    expect_status 0
    same "$output" "listed 1000 True
unlinked while listing 1000 True []
created while listing True"
    # telldir/seekdir: the rest read again from a remembered position.
    run perl -e 'opendir(my $d, $ARGV[0]) or die "$!";
        readdir($d) for 1 .. 333;
        my $pos = telldir($d);
        my @a = readdir($d);
        seekdir($d, $pos);
        my @b = readdir($d);
        rewinddir($d);
        my @all = readdir($d);
        print scalar(@a), " ", ("@a" eq "@b" ? "same" : "different"), " ", scalar(@all), "\n"' "$1"
    expect_status 0
    same "$output" "689 same 1022"
}

@test "listings: a folder of 1,000 files is listed once per name, while files are removed and made, and after seekdir" {
    mkdir "$F/big"
    listing_check "$F/big" ""
}

@test "listings: a collection of 1,000 records is listed once per name, while records are removed and made, and after seekdir" {
    mkdir "$MNT/records/big"
    listing_check "$MNT/records/big" .json
}

# ---- names ------------------------------------------------------------------

@test "names: 255 bytes work, 256 give ENAMETOOLONG (create, mkdir, rename, link; ASCII and UTF-8)" {
    run py '
F = sys.argv[1]
n255 = "a" * 255
n256 = "b" * 256
u255 = "€" * 85                         # 3 bytes each: 255 bytes
u256 = "é" * 128                        # 2 bytes each: 256 bytes
print(len(u255.encode()), len(u256.encode()))
wr(F + "/" + n255, b"long")
wr(F + "/" + u255, b"unicode long")
print(rd(F + "/" + n255), rd(F + "/" + u255).decode())
print(e(open, F + "/" + n256, "w"))
print(e(os.open, F + "/" + u256, os.O_WRONLY | os.O_CREAT, 0o644))
print(e(os.mkdir, F + "/" + n256))
print(e(os.rename, F + "/" + n255, F + "/" + n256))
print(e(os.link, F + "/" + n255, F + "/" + n256))
print(e(os.symlink, "x", F + "/" + n256))
print(e(os.stat, F + "/" + n256))
print(e(os.mkdir, F + "/" + "d" * 255))
print(e(os.rename, F + "/" + n255, F + "/" + "d" * 255 + "/" + "c" * 255))
print(sorted(len(n) for n in os.listdir(F)), sorted(len(n) for n in os.listdir(F + "/" + "d" * 255)))
' "$F"
    expect_status 0
    same "$output" "255 256
b'long' unicode long
ENAMETOOLONG
ENAMETOOLONG
ENAMETOOLONG
ENAMETOOLONG
ENAMETOOLONG
ENAMETOOLONG
ENAMETOOLONG
ok
ok
[85, 255] [255]"
    remount
    run py 'print(rd(sys.argv[1]).decode())' "$MNT/files/$(printf 'd%.0s' $(seq 255))/$(printf 'c%.0s' $(seq 255))"
    expect_status 0
    same "$output" long
}

@test "names: NFC and NFD spellings are different names, kept apart over a remount" {
    run py '
import unicodedata
F = sys.argv[1]
nfc = unicodedata.normalize("NFC", "café")
nfd = unicodedata.normalize("NFD", "café")
print(nfc != nfd, len(nfc.encode()), len(nfd.encode()))
wr(F + "/" + nfc, b"composed")
print(e(os.stat, F + "/" + nfd))
wr(F + "/" + nfd, b"decomposed")
print(sorted(n.encode().hex() for n in os.listdir(F)))
print(rd(F + "/" + nfc), rd(F + "/" + nfd))
os.mkdir(F + "/" + unicodedata.normalize("NFD", "Ångström"))
print(e(os.rmdir, F + "/" + unicodedata.normalize("NFC", "Ångström")))
' "$F"
    expect_status 0
    same "$output" "True 5 6
ENOENT
['63616665cc81', '636166c3a9']
b'composed' b'decomposed'
ENOENT"
    remount
    run py '
import unicodedata
F = sys.argv[1]
print(sorted(n.encode().hex() for n in os.listdir(F)))
print(rd(F + "/" + unicodedata.normalize("NFC", "café")), rd(F + "/" + unicodedata.normalize("NFD", "café")))
os.unlink(F + "/" + unicodedata.normalize("NFD", "café"))
print(rd(F + "/" + unicodedata.normalize("NFC", "café")), len(os.listdir(F)))
' "$MNT/files"
    expect_status 0
    same "$output" "['41cc8a6e677374726fcc886d', '63616665cc81', '636166c3a9']
b'composed' b'decomposed'
b'composed' 2"
}

# ---- fsx --------------------------------------------------------------------

# fsx.py as a coprocess: each REMOUNT it prints is answered, after the vault is
# unmounted and mounted again, with a line on its stdin.  FSX_OPS / FSX_SEED /
# FSX_REMOUNTS (see the top of this file) make it a soak test.
@test "fsx: seeded random writes, reads, truncates, renames, unlinks, fsyncs and remounts match a model" {
    local seed=${FSX_SEED:-20261123} ops=${FSX_OPS:-1500} remounts line done= rc=0 n=0
    remounts=${FSX_REMOUNTS:-$((ops / 500))}
    [ "$remounts" -ge 1 ] || remounts=1
    mkdir "$F/fsx"
    coproc FSX { exec "$PY" "$SRCDIR/tests/fsx.py" --seed "$seed" --ops "$ops" \
        --remounts "$remounts" --dir "$F/fsx" 2>"$T/fsx.err"; }
    local pid=$FSX_PID out in
    bg_started "$pid"
    # copies of the coprocess's pipes: bash drops FSX[] as soon as it ends
    exec {out}<&"${FSX[0]}" {in}>&"${FSX[1]}"
    while IFS= read -r -t 300 -u "$out" line; do
        case $line in
        REMOUNT)
            n=$((n + 1))
            remount || { echo "remount $n failed"; exec {out}<&- {in}>&-; return 1; }
            echo "OK $n" >&"$in"
            ;;
        DONE*) done=$line ;;
        *) echo "fsx said: $line" ;;
        esac
    done
    exec {out}<&- {in}>&-
    wait "$pid" || rc=$?
    if [ "$rc" -ne 0 ] || [ "$done" != "DONE $ops" ]; then
        echo "fsx.py --seed $seed --ops $ops --remounts $remounts exited $rc (last line '$done'):"
        cat "$T/fsx.err"
        return 1
    fi
    [ "$n" -eq "$remounts" ] || { echo "$n remounts, expected $remounts"; return 1; }
    unmount_vault
    check_ok
}
