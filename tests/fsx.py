#!/usr/bin/python3
"""fsx.py: a seeded random-operation exerciser for a directory in a vrmfs
mount (files/...), checked against an in-memory model after every step.

    fsx.py --seed N --ops N --dir DIR [--remounts N] [--max-size BYTES]

Operations on a few names (f0..f3) in DIR: write at a random offset (often
across the 64 KiB chunk boundaries, sometimes past the end, leaving a hole),
read a random range and compare, truncate (grow and shrink), rename between
the names (over an existing one or not), unlink, fsync, and 'remount': the
script closes everything, prints "REMOUNT" on stdout and waits for a line on
stdin (the driver unmounts and mounts the vault again, then answers).  After
every step the listing of DIR and the size of every file are checked against
the model, and the content of the files the step touched; every 50 steps and
after each remount, the content of every file.

The run is reproducible: the same seed gives the same operations.  On a
mismatch it prints the seed, the step number and the tail of the operation
log on stderr and exits 1.  On success it prints "DONE <ops>" and exits 0.
Standard library only.
"""

import argparse
import collections
import os
import random
import sys

NAMES = ['f0', 'f1', 'f2', 'f3']
CHUNK = 64 << 10


class Mismatch(Exception):
    pass


class Fsx:
    def __init__(self, args):
        self.args = args
        self.rnd = random.Random(args.seed)
        self.dir = args.dir
        self.model = {}                 # name -> bytearray
        self.log = collections.deque(maxlen=40)
        self.step = 0
        n = args.ops
        # the steps (1..ops) after which to remount, spread evenly
        self.remount_at = set()
        if args.remounts > 0 and n > 1:
            for i in range(1, args.remounts + 1):
                self.remount_at.add(max(1, i * n // (args.remounts + 1)))

    def path(self, name):
        return os.path.join(self.dir, name)

    def note(self, text):
        self.log.append('%d: %s' % (self.step, text))

    def fail(self, text):
        raise Mismatch(text)

    # ---- operations -------------------------------------------------------

    def pick_offset_len(self, size):
        r = self.rnd.random()
        maxsz = self.args.max_size
        if r < 0.3 and size > 0:
            off = self.rnd.randrange(size)                      # inside
        elif r < 0.55:
            # around a chunk boundary
            k = self.rnd.randrange(1, max(2, maxsz // CHUNK + 1))
            off = max(0, k * CHUNK - self.rnd.randrange(1, 4096))
        elif r < 0.8:
            off = size                                          # append
        else:
            off = self.rnd.randrange(maxsz)                     # maybe a hole
        off = min(off, maxsz - 1)
        ln = self.rnd.choice([1, 7, 512, 4096, 5000, CHUNK, CHUNK + 3,
                              self.rnd.randrange(1, 3 * CHUNK)])
        ln = max(1, min(ln, maxsz - off))
        return off, ln

    def op_write(self):
        name = self.rnd.choice(NAMES)
        cur = self.model.get(name)
        size = len(cur) if cur is not None else 0
        off, ln = self.pick_offset_len(size)
        data = self.rnd.randbytes(ln)
        self.note('write %s off=%d len=%d%s' % (name, off, ln, '' if cur is not None else ' (new)'))
        fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            done = 0
            while done < ln:
                done += os.pwrite(fd, data[done:], off + done)
        finally:
            os.close(fd)
        if cur is None:
            cur = self.model[name] = bytearray()
        if off > len(cur):
            cur.extend(b'\0' * (off - len(cur)))
        cur[off:off + ln] = data
        return [name]

    def op_read(self):
        names = sorted(self.model)
        if not names:
            return self.op_write()
        name = self.rnd.choice(names)
        cur = self.model[name]
        off = self.rnd.randrange(len(cur) + 100)
        ln = self.rnd.randrange(1, 2 * CHUNK + 10)
        self.note('read %s off=%d len=%d' % (name, off, ln))
        fd = os.open(self.path(name), os.O_RDONLY)
        try:
            got = bytearray()
            while len(got) < ln:
                b = os.pread(fd, ln - len(got), off + len(got))
                if not b:
                    break
                got += b
        finally:
            os.close(fd)
        want = bytes(cur[off:off + ln])
        if bytes(got) != want:
            self.fail('read %s off=%d len=%d: got %d bytes, expected %d; first difference at %s'
                      % (name, off, ln, len(got), len(want), first_diff(got, want, off)))
        return []

    def op_truncate(self):
        names = sorted(self.model)
        if not names:
            return self.op_write()
        name = self.rnd.choice(names)
        cur = self.model[name]
        r = self.rnd.random()
        if r < 0.4:
            size = self.rnd.randrange(len(cur) + 1)                         # shrink
        elif r < 0.5:
            size = 0
        elif r < 0.6:
            size = (self.rnd.randrange(1, self.args.max_size // CHUNK + 1)) * CHUNK
        else:
            size = len(cur) + self.rnd.randrange(1, 3 * CHUNK)              # grow
        size = min(size, self.args.max_size)
        self.note('truncate %s %d -> %d' % (name, len(cur), size))
        if self.rnd.random() < 0.5:
            os.truncate(self.path(name), size)
        else:
            fd = os.open(self.path(name), os.O_RDWR)
            try:
                os.ftruncate(fd, size)
            finally:
                os.close(fd)
        if size < len(cur):
            del cur[size:]
        else:
            cur.extend(b'\0' * (size - len(cur)))
        return [name]

    def op_rename(self):
        names = sorted(self.model)
        if not names:
            return self.op_write()
        src = self.rnd.choice(names)
        dst = self.rnd.choice([n for n in NAMES if n != src])
        self.note('rename %s -> %s%s' % (src, dst, ' (over)' if dst in self.model else ''))
        os.rename(self.path(src), self.path(dst))
        self.model[dst] = self.model.pop(src)
        return [dst]

    def op_unlink(self):
        names = sorted(self.model)
        if not names:
            return self.op_write()
        name = self.rnd.choice(names)
        self.note('unlink %s' % name)
        os.unlink(self.path(name))
        del self.model[name]
        return []

    def op_fsync(self):
        names = sorted(self.model)
        if not names:
            return self.op_write()
        name = self.rnd.choice(names)
        self.note('fsync %s' % name)
        fd = os.open(self.path(name), os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return []

    def op_remount(self):
        self.note('remount')
        sys.stdout.write('REMOUNT\n')
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            self.fail('remount: no answer on stdin (end of input)')
        self.note('remounted (%s)' % line.strip())
        return None     # check everything

    OPS = [(op_write, 30), (op_read, 20), (op_truncate, 14), (op_rename, 8),
           (op_unlink, 4), (op_fsync, 6)]

    # ---- checks -----------------------------------------------------------

    def check(self, touched):
        try:
            listed = sorted(os.listdir(self.dir))
        except OSError as e:
            self.fail('listing %s: %s' % (self.dir, e))
        if listed != sorted(self.model):
            self.fail('listing: got %s, expected %s' % (listed, sorted(self.model)))
        for name in sorted(self.model):
            cur = self.model[name]
            st = os.stat(self.path(name))
            if st.st_size != len(cur):
                self.fail('size of %s: got %d, expected %d' % (name, st.st_size, len(cur)))
            if touched is None or name in touched:
                with open(self.path(name), 'rb') as f:
                    got = f.read()
                if got != cur:
                    self.fail('content of %s: %d bytes read, %d expected; first difference at %s'
                              % (name, len(got), len(cur), first_diff(got, cur, 0)))

    def run(self):
        weights = [w for _, w in self.OPS]
        for self.step in range(1, self.args.ops + 1):
            if self.step in self.remount_at:
                touched = self.op_remount()
            else:
                op = self.rnd.choices([o for o, _ in self.OPS], weights)[0]
                try:
                    touched = op(self)
                except OSError as e:
                    self.fail('%s failed: %s' % (self.log[-1] if self.log else '?', e))
            if self.step % 50 == 0:
                touched = None
            self.check(touched)


def first_diff(got, want, base):
    n = min(len(got), len(want))
    for i in range(n):
        if got[i] != want[i]:
            return 'offset %d (got 0x%02x, expected 0x%02x)' % (base + i, got[i], want[i])
    return 'offset %d (one is shorter)' % (base + n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--ops', type=int, required=True)
    ap.add_argument('--dir', required=True)
    ap.add_argument('--remounts', type=int, default=0,
                    help='how many REMOUNT steps, spread evenly (default 0)')
    ap.add_argument('--max-size', type=int, default=5 * CHUNK + 1234,
                    help='largest file size (default 5 chunks and a bit)')
    args = ap.parse_args()
    if not os.path.isdir(args.dir):
        print('fsx: %s is not a directory' % args.dir, file=sys.stderr)
        return 2
    if os.listdir(args.dir):
        print('fsx: %s is not empty' % args.dir, file=sys.stderr)
        return 2
    fsx = Fsx(args)
    try:
        fsx.run()
    except Mismatch as e:
        print('fsx: MISMATCH seed=%d step=%d: %s' % (args.seed, fsx.step, e), file=sys.stderr)
        print('fsx: last operations (step: op):', file=sys.stderr)
        for line in fsx.log:
            print('  ' + line, file=sys.stderr)
        print('fsx: reproduce with --seed %d --ops %d --remounts %d'
              % (args.seed, args.ops, args.remounts), file=sys.stderr)
        return 1
    print('DONE %d' % args.ops)
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
