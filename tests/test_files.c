/*
 * test_files.c: the file tree of files.h: names, data, open files, rename,
 * attributes and xattrs, with the errno a person would see for each misuse,
 * and that all of it survives closing and reopening the vault.
 *
 * VRM_FILES_BENCH_MB sets the size of the timed sequential write and read
 * (default 256; 0 skips it).
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

typedef tu_fixture fixture;

static int setup(void **state)
{
    fixture *f;

    tu_setup(state);
    f = *state;
    assert_int_equal(vrm_files_purge_orphans(f->v), 0);
    return 0;
}

/* Close and open the vault again, as the daemon's start would. */
/* Close and open the vault again; returns how many orphans were left for
 * purging after the open (which purges them itself: 0). */
static int reopen(fixture *f)
{
    int purged;

    assert_int_equal(vrm_vault_close(f->v), 0);
    f->v = tu_open(f->vault);
    purged = vrm_files_purge_orphans(f->v);
    assert_true(purged >= 0);
    return purged;
}

/* ---- helpers ------------------------------------------------------------- */

static uint64_t mkfile(vrm_vault *v, const char *path)
{
    vrm_stat st;

    assert_int_equal(vrm_files_create(v, path, 0644, 1000, 1000, &st), 0);
    return st.ino;
}

static uint64_t ino_of(vrm_vault *v, const char *path)
{
    vrm_stat st;
    int rc = vrm_files_resolve(v, path, &st);

    if (rc != 0)
        fail_msg("resolve %s: %d", path, rc);
    return st.ino;
}

static vrm_stat stat_of(vrm_vault *v, const char *path)
{
    vrm_stat st;
    int rc = vrm_files_resolve(v, path, &st);

    if (rc != 0)
        fail_msg("resolve %s: %d", path, rc);
    return st;
}

static void put_str(vrm_vault *v, uint64_t ino, const char *s, uint64_t off)
{
    assert_int_equal(vrm_files_write(v, ino, s, strlen(s), off), (ssize_t)strlen(s));
}

/* The whole content of `ino` (malloc'd, NUL-terminated) and its size. */
static char *slurp(vrm_vault *v, uint64_t ino, size_t *len)
{
    vrm_stat st;
    char *buf;

    assert_int_equal(vrm_files_getattr(v, ino, &st), 0);
    buf = malloc(st.size + 1);
    assert_int_equal(vrm_files_read(v, ino, buf, st.size + 100, 0), (ssize_t)st.size);
    buf[st.size] = '\0';
    if (len != NULL)
        *len = st.size;
    return buf;
}

static int64_t count_rows(vrm_vault *v, const char *sql)
{
    sqlite3_stmt *st;
    int64_t n;

    assert_int_equal(sqlite3_prepare_v2(vrm_vault_sqlite(v), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Rows of chunks and xattrs that belong to `ino`. */
static int64_t rows_of(vrm_vault *v, uint64_t ino)
{
    char sql[200];

    snprintf(sql, sizeof sql, "SELECT (SELECT count(*) FROM chunks WHERE id >> 28 = %llu) + "
             "(SELECT count(*) FROM xattrs WHERE ino = %llu)",
             (unsigned long long)ino, (unsigned long long)ino);
    return count_rows(v, sql);
}

typedef struct listing {
    char names[4096];                 /* "name:mode " for each entry */
    int n;                            /* entries seen */
    int stop_after;                   /* return 7 after this many, if > 0 */
} listing;

static int list_one(void *ctx, const char *name, const vrm_stat *st)
{
    listing *l = ctx;
    size_t at = strlen(l->names);

    snprintf(l->names + at, sizeof l->names - at, "%s:%o ", name, st->mode);
    l->n++;
    return l->stop_after > 0 && l->n >= l->stop_after ? 7 : 0;
}

static const char *ls(vrm_vault *v, const char *path, listing *l)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(vrm_files_readdir(v, ino_of(v, path), NULL, list_one, l), 0);
    return l->names;
}

/* ---- names and the tree --------------------------------------------------- */

static void test_root_and_paths(void **state)
{
    fixture *f = *state;
    char longname[VRM_FILES_NAME_MAX + 3], *longpath;
    vrm_stat st;

    assert_int_equal(vrm_files_resolve(f->v, "/", &st), 0);
    assert_int_equal(st.ino, VRM_FILES_ROOT);
    assert_int_equal(st.mode, S_IFDIR | 0700);
    assert_int_equal(st.nlink, 2);
    assert_true(st.mtime_ns > 1700000000LL * 1000000000LL);
    assert_int_equal(vrm_files_resolve(f->v, "", &st), 0);
    assert_int_equal(st.ino, VRM_FILES_ROOT);
    assert_int_equal(vrm_files_resolve(f->v, "//", &st), 0);
    assert_int_equal(st.ino, VRM_FILES_ROOT);

    assert_int_equal(vrm_files_resolve(f->v, "/nope", &st), -ENOENT);
    assert_int_equal(vrm_files_resolve(f->v, "/nope/x", &st), -ENOENT);
    assert_int_equal(vrm_files_resolve(f->v, "/.", &st), -EINVAL);
    assert_int_equal(vrm_files_resolve(f->v, "/..", &st), -EINVAL);
    assert_int_equal(vrm_files_create(f->v, "/..", 0644, 0, 0, NULL), -EINVAL);
    memset(longname, 'n', sizeof longname);
    longname[0] = '/';
    longname[VRM_FILES_NAME_MAX + 2] = '\0';  /* 256 bytes after the slash */
    assert_int_equal(vrm_files_resolve(f->v, longname, &st), -ENAMETOOLONG);
    assert_int_equal(vrm_files_create(f->v, longname, 0644, 0, 0, NULL), -ENAMETOOLONG);
    longname[VRM_FILES_NAME_MAX + 1] = '\0';  /* 255 bytes: fine */
    assert_int_equal(vrm_files_create(f->v, longname, 0644, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_resolve(f->v, longname, &st), 0);

    longpath = malloc(VRM_FILES_PATH_MAX + 1);
    for (int i = 0; i < VRM_FILES_PATH_MAX; i += 2)
        memcpy(longpath + i, "/a", 2);
    longpath[VRM_FILES_PATH_MAX] = '\0';
    assert_int_equal(vrm_files_resolve(f->v, longpath, &st), -ENAMETOOLONG);
    free(longpath);

    assert_int_equal(vrm_files_getattr(f->v, 999, &st), -ENOENT);
    assert_int_equal(vrm_files_getattr(f->v, 0, &st), -ENOENT);
    assert_int_equal(vrm_files_getattr(f->v, UINT64_MAX, &st), -ENOENT);
}

static void test_create_and_mkdir(void **state)
{
    fixture *f = *state;
    vrm_stat st, d, root0, root1;

    assert_int_equal(vrm_files_resolve(f->v, "/", &root0), 0);
    assert_int_equal(vrm_files_create(f->v, "/a", S_IFDIR | 0640, 1000, 1001, &st), 0);
    assert_int_equal(st.mode, S_IFREG | 0640);  /* the type is the function's */
    assert_int_equal(st.nlink, 1);
    assert_int_equal(st.uid, 1000);
    assert_int_equal(st.gid, 1001);
    assert_int_equal(st.size, 0);
    assert_true(st.ino > VRM_FILES_ROOT);
    assert_int_equal(st.mtime_ns, st.ctime_ns);
    assert_int_equal(ino_of(f->v, "/a"), st.ino);
    assert_int_equal(ino_of(f->v, "a"), st.ino);
    assert_int_equal(vrm_files_resolve(f->v, "/", &root1), 0);
    assert_true(root1.mtime_ns >= root0.mtime_ns);
    assert_int_equal(root1.nlink, 2);

    assert_int_equal(vrm_files_create(f->v, "/a", 0644, 0, 0, NULL), -EEXIST);
    assert_int_equal(vrm_files_mkdir(f->v, "/a", 0755, 0, 0, NULL), -EEXIST);
    assert_int_equal(vrm_files_create(f->v, "/", 0644, 0, 0, NULL), -EEXIST);
    assert_int_equal(vrm_files_mkdir(f->v, "/", 0755, 0, 0, NULL), -EEXIST);
    assert_int_equal(vrm_files_create(f->v, "/nodir/x", 0644, 0, 0, NULL), -ENOENT);
    assert_int_equal(vrm_files_create(f->v, "/a/x", 0644, 0, 0, NULL), -ENOTDIR);
    assert_int_equal(vrm_files_resolve(f->v, "/a/x", &st), -ENOTDIR);

    assert_int_equal(vrm_files_mkdir(f->v, "/d", 0750, 1000, 1000, &d), 0);
    assert_int_equal(d.mode, S_IFDIR | 0750);
    assert_int_equal(d.nlink, 2);
    assert_int_equal(stat_of(f->v, "/").nlink, 3);
    assert_int_equal(vrm_files_mkdir(f->v, "/d/e", 0700, 1000, 1000, NULL), 0);
    assert_int_equal(stat_of(f->v, "/d").nlink, 3);
    mkfile(f->v, "/d/e/f");
    assert_int_equal(stat_of(f->v, "/d").nlink, 3);
    assert_int_equal(stat_of(f->v, "//d//e///f/").ino, ino_of(f->v, "/d/e/f"));
    assert_int_equal(vrm_files_resolve(f->v, "/d/e/f/g", &st), -ENOTDIR);
    assert_int_equal(vrm_files_resolve(f->v, "/d/nope/f", &st), -ENOENT);

    /* A set-group-ID directory passes its group on, and the bit to
     * subdirectories. */
    assert_int_equal(vrm_files_chown(f->v, d.ino, (uint32_t)-1, 77), 0);
    assert_int_equal(vrm_files_chmod(f->v, d.ino, 02775), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/d/sub", 0755, 1000, 1000, &st), 0);
    assert_int_equal(st.gid, 77);
    assert_int_equal(st.mode, S_IFDIR | S_ISGID | 0755);
    assert_int_equal(vrm_files_create(f->v, "/d/file", 0644, 1000, 1000, &st), 0);
    assert_int_equal(st.gid, 77);
    assert_int_equal(st.mode, S_IFREG | 0644);
}

static void test_readdir(void **state)
{
    fixture *f = *state;
    listing l;

    assert_string_equal(ls(f->v, "/", &l), "");
    mkfile(f->v, "/b");
    mkfile(f->v, "/a");
    mkfile(f->v, "/B");
    assert_int_equal(vrm_files_mkdir(f->v, "/c", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_symlink(f->v, "b", "/l", 0, 0, NULL), 0);
    mkfile(f->v, "/c/inner");
    mkfile(f->v, "/\xc3\xa9t\xc3\xa9 file");
    assert_string_equal(ls(f->v, "/", &l),
                        "B:100644 a:100644 b:100644 c:40700 l:120777 "
                        "\xc3\xa9t\xc3\xa9 file:100644 ");
    assert_int_equal(l.n, 6);
    assert_string_equal(ls(f->v, "/c", &l), "inner:100644 ");

    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    assert_int_equal(vrm_files_readdir(f->v, VRM_FILES_ROOT, NULL, list_one, &l), 7);
    assert_int_equal(l.n, 2);
    assert_int_equal(vrm_files_readdir(f->v, ino_of(f->v, "/a"), NULL, list_one, &l), -ENOTDIR);
    assert_int_equal(vrm_files_readdir(f->v, 12345, NULL, list_one, &l), -ENOENT);
}

static void test_unlink_and_rmdir(void **state)
{
    fixture *f = *state;
    vrm_stat st;
    uint64_t ino;

    assert_int_equal(vrm_files_mkdir(f->v, "/d", 0700, 0, 0, NULL), 0);
    ino = mkfile(f->v, "/d/f");
    put_str(f->v, ino, "data", 0);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.k", "v", 1, 0), 0);
    assert_int_equal(rows_of(f->v, ino), 2);

    assert_int_equal(vrm_files_unlink(f->v, "/d"), -EISDIR);
    assert_int_equal(vrm_files_unlink(f->v, "/"), -EISDIR);
    assert_int_equal(vrm_files_rmdir(f->v, "/d/f"), -ENOTDIR);
    assert_int_equal(vrm_files_rmdir(f->v, "/d"), -ENOTEMPTY);
    assert_int_equal(vrm_files_rmdir(f->v, "/"), -EBUSY);
    assert_int_equal(vrm_files_unlink(f->v, "/d/nope"), -ENOENT);
    assert_int_equal(vrm_files_unlink(f->v, "/d/f/x"), -ENOTDIR);
    assert_int_equal(vrm_files_rmdir(f->v, "/nope"), -ENOENT);

    assert_int_equal(vrm_files_unlink(f->v, "/d/f"), 0);
    assert_int_equal(vrm_files_resolve(f->v, "/d/f", &st), -ENOENT);
    assert_int_equal(vrm_files_getattr(f->v, ino, &st), -ENOENT);  /* not open: gone */
    assert_int_equal(rows_of(f->v, ino), 0);
    assert_int_equal(vrm_files_unlink(f->v, "/d/f"), -ENOENT);
    assert_int_equal(stat_of(f->v, "/").nlink, 3);
    assert_int_equal(vrm_files_rmdir(f->v, "/d"), 0);
    assert_int_equal(stat_of(f->v, "/").nlink, 2);
    assert_int_equal(vrm_files_resolve(f->v, "/d", &st), -ENOENT);
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM inodes"), 1);
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM dentries"), 0);
}

static void test_symlinks(void **state)
{
    fixture *f = *state;
    char buf[64], target[VRM_FILES_SYMLINK_MAX + 2];
    vrm_stat st;

    assert_int_equal(vrm_files_mkdir(f->v, "/d", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_symlink(f->v, "../target/x", "/d/l", 5, 6, &st), 0);
    assert_int_equal(st.mode, S_IFLNK | 0777);
    assert_int_equal(st.size, strlen("../target/x"));
    assert_int_equal(st.uid, 5);
    assert_int_equal(vrm_files_readlink(f->v, "/d/l", buf, sizeof buf), 11);
    assert_string_equal(buf, "../target/x");
    assert_int_equal(vrm_files_readlink(f->v, "/d/l", buf, 4), 11);
    assert_string_equal(buf, "../");
    assert_int_equal(vrm_files_readlink(f->v, "/d/l", NULL, 0), 11);
    assert_int_equal(vrm_files_readlink(f->v, "/d", buf, sizeof buf), -EINVAL);
    assert_int_equal(vrm_files_readlink(f->v, "/d/nope", buf, sizeof buf), -ENOENT);

    /* Links are never followed. */
    assert_int_equal(vrm_files_symlink(f->v, "/", "/d/up", 0, 0, NULL), 0);
    assert_int_equal(vrm_files_resolve(f->v, "/d/up/d", &st), -ENOTDIR);
    assert_int_equal(vrm_files_read(f->v, ino_of(f->v, "/d/l"), buf, 10, 0), -EINVAL);
    assert_int_equal(vrm_files_write(f->v, ino_of(f->v, "/d/l"), "x", 1, 0), -EINVAL);
    assert_int_equal(vrm_files_truncate(f->v, ino_of(f->v, "/d/l"), 0), -EINVAL);
    assert_int_equal(vrm_files_setxattr(f->v, ino_of(f->v, "/d/l"), "user.x", "1", 1, 0),
                     -EPERM);

    assert_int_equal(vrm_files_symlink(f->v, "", "/d/empty", 0, 0, NULL), -ENOENT);
    memset(target, 't', sizeof target);
    target[VRM_FILES_SYMLINK_MAX + 1] = '\0';
    assert_int_equal(vrm_files_symlink(f->v, target, "/d/long", 0, 0, NULL), -ENAMETOOLONG);
    target[VRM_FILES_SYMLINK_MAX] = '\0';
    assert_int_equal(vrm_files_symlink(f->v, target, "/d/long", 0, 0, NULL), 0);
    assert_int_equal(vrm_files_readlink(f->v, "/d/long", NULL, 0), VRM_FILES_SYMLINK_MAX);
    assert_int_equal(vrm_files_symlink(f->v, "x", "/d/l", 0, 0, NULL), -EEXIST);
    assert_int_equal(vrm_files_unlink(f->v, "/d/l"), 0);
    assert_int_equal(vrm_files_readlink(f->v, "/d/l", buf, sizeof buf), -ENOENT);
}

static void test_hard_links(void **state)
{
    fixture *f = *state;
    vrm_stat st;
    uint64_t ino = mkfile(f->v, "/a");
    char *s;

    put_str(f->v, ino, "shared", 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/d", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_link(f->v, "/a", "/d/b", &st), 0);
    assert_int_equal(st.ino, ino);
    assert_int_equal(st.nlink, 2);
    assert_int_equal(ino_of(f->v, "/d/b"), ino);
    assert_int_equal(vrm_files_link(f->v, "/d", "/e", NULL), -EPERM);
    assert_int_equal(vrm_files_link(f->v, "/a", "/d/b", NULL), -EEXIST);
    assert_int_equal(vrm_files_link(f->v, "/a", "/d", NULL), -EEXIST);
    assert_int_equal(vrm_files_link(f->v, "/nope", "/x", NULL), -ENOENT);
    assert_int_equal(vrm_files_link(f->v, "/a", "/nope/x", NULL), -ENOENT);
    assert_int_equal(vrm_files_link(f->v, "/a", "/", NULL), -EEXIST);

    assert_int_equal(vrm_files_unlink(f->v, "/a"), 0);
    assert_int_equal(stat_of(f->v, "/d/b").nlink, 1);
    s = slurp(f->v, ino, NULL);
    assert_string_equal(s, "shared");
    free(s);
    assert_int_equal(vrm_files_unlink(f->v, "/d/b"), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &st), -ENOENT);
}

/* The NUL-separated paths of vrm_files_paths, one per line, sorted. */
static char *paths_text(vrm_vault *v, uint64_t ino, size_t max, size_t *count)
{
    char *paths, *lines[64], *out;
    size_t n, i, len = 0;
    const char *p;

    assert_int_equal(vrm_files_paths(v, ino, max, &paths, &n), 0);
    assert_true(n <= 64);
    for (i = 0, p = paths; i < n; i++, p += strlen(p) + 1) {
        lines[i] = (char *)p;
        len += strlen(p) + 1;
    }
    for (i = 1; i < n; i++) {  /* insertion sort: a handful of names */
        char *x = lines[i];
        size_t j = i;

        for (; j > 0 && strcmp(lines[j - 1], x) > 0; j--)
            lines[j] = lines[j - 1];
        lines[j] = x;
    }
    out = calloc(1, len + 1);
    for (i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(paths);
    *count = n;
    return out;
}

static void test_names_of_an_inode(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/a"), dir;
    vrm_stat st, moved, replaced;
    size_t n;
    char *s, *paths;
    int i;

    s = paths_text(f->v, ino, 16, &n);
    assert_string_equal(s, "/a\n");
    free(s);
    assert_int_equal(vrm_files_mkdir(f->v, "/d", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/d/e", 0700, 0, 0, &st), 0);
    dir = st.ino;
    assert_int_equal(vrm_files_link(f->v, "/a", "/d/e/b", NULL), 0);
    assert_int_equal(vrm_files_link(f->v, "/a", "/d/c", NULL), 0);
    s = paths_text(f->v, ino, 16, &n);
    assert_string_equal(s, "/a\n/d/c\n/d/e/b\n");
    free(s);
    s = paths_text(f->v, ino, 2, &n);   /* bounded */
    assert_int_equal(n, 2);
    free(s);
    s = paths_text(f->v, dir, 16, &n);  /* a directory: its one name */
    assert_string_equal(s, "/d/e\n");
    free(s);
    s = paths_text(f->v, VRM_FILES_ROOT, 16, &n);
    assert_string_equal(s, "/\n");
    free(s);
    assert_int_equal(vrm_files_paths(f->v, 999999, 16, &paths, &n), -ENOENT);
    assert_null(paths);

    /* unlink and rename say what is left of the file they touched */
    assert_int_equal(vrm_files_unlink_stat(f->v, "/a", &st), 0);
    assert_int_equal(st.ino, ino);
    assert_int_equal(st.nlink, 2);
    s = paths_text(f->v, ino, 16, &n);
    assert_string_equal(s, "/d/c\n/d/e/b\n");
    free(s);
    mkfile(f->v, "/x");
    assert_int_equal(vrm_files_rename_stat(f->v, "/x", "/d/c", 0, &moved, &replaced), 0);
    assert_int_equal(moved.ino, ino_of(f->v, "/d/c"));
    assert_int_equal(moved.nlink, 1);
    assert_int_equal(replaced.ino, ino);
    assert_int_equal(replaced.nlink, 1);
    assert_int_equal(stat_of(f->v, "/d/e/b").nlink, 1);
    assert_int_equal(vrm_files_rename_stat(f->v, "/d/e/b", "/fresh", 0, &moved, &replaced), 0);
    assert_int_equal(moved.ino, ino);
    assert_int_equal(replaced.ino, 0);
    assert_int_equal(vrm_files_link(f->v, "/fresh", "/again", NULL), 0);
    assert_int_equal(vrm_files_rename_stat(f->v, "/fresh", "/again", 0, &moved, &replaced), 0);
    assert_int_equal(replaced.ino, 0);  /* the same file: nothing happened */
    assert_int_equal(moved.nlink, 2);
    {
        uint64_t other = mkfile(f->v, "/other");

        assert_int_equal(vrm_files_rename_stat(f->v, "/fresh", "/other", VRM_FILES_EXCHANGE,
                                               &moved, &replaced), 0);
        assert_int_equal(moved.ino, ino);
        assert_int_equal(moved.nlink, 2);
        assert_int_equal(replaced.ino, other);   /* now at /fresh, still one name */
        assert_int_equal(replaced.nlink, 1);
        assert_int_equal(ino_of(f->v, "/fresh"), other);
        assert_int_equal(vrm_files_rename_stat(f->v, "/fresh", "/other", VRM_FILES_EXCHANGE,
                                               NULL, NULL), 0);
        assert_int_equal(vrm_files_unlink(f->v, "/other"), 0);
    }
    assert_int_equal(vrm_files_unlink_stat(f->v, "/fresh", NULL), 0);
    assert_int_equal(vrm_files_unlink_stat(f->v, "/again", &st), 0);
    assert_int_equal(st.ino, ino);
    assert_int_equal(st.nlink, 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &st), -ENOENT);

    /* a removed file still open has no path; a long path is whole */
    ino = mkfile(f->v, "/open");
    assert_int_equal(vrm_files_open(f->v, ino), 0);
    assert_int_equal(vrm_files_unlink(f->v, "/open"), 0);
    s = paths_text(f->v, ino, 16, &n);
    assert_int_equal(n, 0);
    free(s);
    assert_int_equal(vrm_files_release(f->v, ino), 0);
    {
        char deep[VRM_FILES_PATH_MAX];
        size_t len = 0;

        for (i = 0; i < 15; i++) {
            len += (size_t)snprintf(deep + len, sizeof deep - len, "/%0200d", i);
            assert_int_equal(vrm_files_mkdir(f->v, deep, 0700, 0, 0, NULL), 0);
        }
        strcat(deep, "/leaf");
        ino = mkfile(f->v, deep);
        assert_int_equal(vrm_files_link(f->v, deep, "/short", NULL), 0);
        strcat(deep, "\n");
        s = paths_text(f->v, ino, 16, &n);
        assert_int_equal(n, 2);
        assert_non_null(strstr(s, deep));
        assert_non_null(strstr(s, "/short\n"));
        free(s);
    }
}

/* ---- data ---------------------------------------------------------------- */

static void test_read_write(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/f"), dir;
    char buf[256];
    vrm_stat a, b;
    char *s;

    assert_int_equal(vrm_files_getattr(f->v, ino, &a), 0);
    put_str(f->v, ino, "hello world", 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_int_equal(b.size, 11);
    assert_int_equal(b.blocks, 1);
    assert_true(b.mtime_ns >= a.mtime_ns);
    assert_int_equal(b.mtime_ns, b.ctime_ns);
    memset(buf, 'x', sizeof buf);
    assert_int_equal(vrm_files_read(f->v, ino, buf, sizeof buf, 0), 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 3, 6), 3);
    assert_memory_equal(buf, "wor", 3);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 10, 11), 0);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 10, 1000000), 0);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 0, 0), 0);
    put_str(f->v, ino, "W", 6);
    s = slurp(f->v, ino, NULL);
    assert_string_equal(s, "hello World");
    free(s);
    assert_int_equal(vrm_files_write(f->v, ino, "", 0, 500), 0);
    assert_int_equal(stat_of(f->v, "/f").size, 11);

    /* Append goes to the end, whatever the caller thinks it is. */
    assert_int_equal(vrm_files_append(f->v, ino, "!!", 2), 2);
    s = slurp(f->v, ino, NULL);
    assert_string_equal(s, "hello World!!");
    free(s);

    /* Misuse. */
    assert_int_equal(vrm_files_mkdir(f->v, "/d", 0700, 0, 0, NULL), 0);
    dir = ino_of(f->v, "/d");
    assert_int_equal(vrm_files_read(f->v, dir, buf, 10, 0), -EISDIR);
    assert_int_equal(vrm_files_write(f->v, dir, "x", 1, 0), -EISDIR);
    assert_int_equal(vrm_files_append(f->v, dir, "x", 1), -EISDIR);
    assert_int_equal(vrm_files_truncate(f->v, dir, 0), -EISDIR);
    assert_int_equal(vrm_files_read(f->v, 4242, buf, 10, 0), -ENOENT);
    assert_int_equal(vrm_files_write(f->v, 4242, "x", 1, 0), -ENOENT);
    assert_int_equal(vrm_files_truncate(f->v, 4242, 0), -ENOENT);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 10, (uint64_t)INT64_MAX + 1), -EINVAL);
    assert_int_equal(vrm_files_write(f->v, ino, "x", 1, (uint64_t)INT64_MAX + 1), -EINVAL);
    assert_int_equal(vrm_files_write(f->v, ino, "x", 1, (uint64_t)INT64_MAX), -EFBIG);
    assert_int_equal(vrm_files_write(f->v, ino, "x", 1, VRM_FILES_SIZE_MAX), -EFBIG);
    assert_int_equal(vrm_files_truncate(f->v, ino, VRM_FILES_SIZE_MAX + 1), -EFBIG);
    assert_int_equal(vrm_files_truncate(f->v, ino, UINT64_MAX), -EFBIG);
    assert_int_equal(stat_of(f->v, "/f").size, 13);

    /* At the very end: what fits is written. */
    assert_int_equal(vrm_files_write(f->v, ino, "abcd", 4, VRM_FILES_SIZE_MAX - 2), 2);
    assert_int_equal(stat_of(f->v, "/f").size, VRM_FILES_SIZE_MAX);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 10, VRM_FILES_SIZE_MAX - 3), 3);
    assert_memory_equal(buf, "\0ab", 3);
    assert_int_equal(vrm_files_append(f->v, ino, "x", 1), -EFBIG);
    assert_int_equal(vrm_files_truncate(f->v, ino, 5), 0);
    s = slurp(f->v, ino, NULL);
    assert_string_equal(s, "hello");
    free(s);
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM chunks"), 1);
}

static void test_sparse_and_truncate(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/sparse");
    const uint64_t far = 10 * (uint64_t)VRM_FILES_CHUNK + 123;
    uint8_t *buf = malloc(3 * VRM_FILES_CHUNK);
    size_t i;

    put_str(f->v, ino, "head", 0);
    put_str(f->v, ino, "tail", far);
    assert_int_equal(stat_of(f->v, "/sparse").size, far + 4);
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM chunks"), 2);  /* holes cost nothing */
    memset(buf, 0xaa, 3 * VRM_FILES_CHUNK);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 3 * VRM_FILES_CHUNK, 2),
                     3 * VRM_FILES_CHUNK);
    assert_memory_equal(buf, "ad", 2);
    for (i = 2; i < 3 * VRM_FILES_CHUNK; i++)
        if (buf[i] != 0)
            fail_msg("byte %zu of a hole is %u", i + 2, buf[i]);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 100, far - 2), 6);
    assert_memory_equal(buf, "\0\0tail", 6);

    /* Truncate into the middle of the last chunk, then grow again: the cut
     * bytes come back as zeros. */
    assert_int_equal(vrm_files_truncate(f->v, ino, far + 2), 0);
    assert_int_equal(vrm_files_truncate(f->v, ino, far + 100), 0);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 200, far), 100);
    assert_memory_equal(buf, "ta", 2);
    for (i = 2; i < 100; i++)
        assert_int_equal(buf[i], 0);

    /* Down to the first chunk: the others go. */
    assert_int_equal(vrm_files_truncate(f->v, ino, 3), 0);
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM chunks"), 1);
    assert_int_equal(count_rows(f->v, "SELECT length(data) FROM chunks"), 3);
    assert_int_equal(vrm_files_truncate(f->v, ino, VRM_FILES_CHUNK), 0);
    assert_int_equal(vrm_files_read(f->v, ino, buf, 10, 0), 10);
    assert_memory_equal(buf, "hea\0\0\0\0\0\0\0", 10);
    assert_int_equal(vrm_files_truncate(f->v, ino, 0), 0);
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM chunks"), 0);
    assert_int_equal(stat_of(f->v, "/sparse").size, 0);
    free(buf);
}

static void test_small_appends(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/log");
    char buf[600], want[600];
    int i;

    /* Rows grow by doubling with a zero tail past the end of the file... */
    memset(want, 0, sizeof want);
    for (i = 0; i < 3; i++) {
        memset(want + 100 * i, 'a' + i, 100);
        assert_int_equal(vrm_files_append(f->v, ino, want + 100 * i, 100), 100);
    }
    assert_int_equal(stat_of(f->v, "/log").size, 300);
    assert_int_equal(count_rows(f->v, "SELECT length(data) FROM chunks"), 400);
    assert_int_equal(vrm_files_read(f->v, ino, buf, sizeof buf, 0), 300);
    assert_memory_equal(buf, want, 300);
    /* ...which growing the file shows as zeros, */
    assert_int_equal(vrm_files_truncate(f->v, ino, 350), 0);
    assert_int_equal(vrm_files_read(f->v, ino, buf, sizeof buf, 0), 350);
    assert_memory_equal(buf, want, 350);
    /* as does cutting it and growing it again. */
    assert_int_equal(vrm_files_truncate(f->v, ino, 150), 0);
    assert_int_equal(count_rows(f->v, "SELECT length(data) FROM chunks"), 150);
    assert_int_equal(vrm_files_truncate(f->v, ino, 500), 0);
    memset(want + 150, 0, 350);
    assert_int_equal(vrm_files_read(f->v, ino, buf, sizeof buf, 0), 500);
    assert_memory_equal(buf, want, 500);
    /* A write past the end inside the row's tail, and one in place. */
    put_str(f->v, ino, "xyz", 520);
    put_str(f->v, ino, "B", 120);
    memcpy(want + 520, "xyz", 3);
    want[120] = 'B';
    assert_int_equal(vrm_files_read(f->v, ino, buf, sizeof buf, 0), 523);
    assert_memory_equal(buf, want, 523);
    reopen(f);
    assert_int_equal(vrm_files_read(f->v, ino, buf, sizeof buf, 0), 523);
    assert_memory_equal(buf, want, 523);
}

/* ---- threads ------------------------------------------------------------- */

typedef struct worker {
    vrm_vault *v;                     /* shared */
    int id;                           /* which file it writes */
    int failures;                     /* mismatches seen */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char path[32], data[5000], back[5000];
    vrm_stat st;

    snprintf(path, sizeof path, "/t%d", w->id);
    memset(data, 'A' + w->id, sizeof data);
    if (vrm_files_create(w->v, path, 0644, 0, 0, &st) != 0)
        w->failures++;
    for (int i = 0; i < 200; i++) {
        if (vrm_files_write(w->v, st.ino, data, sizeof data, (uint64_t)i * 7919) !=
                (ssize_t)sizeof data ||
            vrm_files_read(w->v, st.ino, back, sizeof back, (uint64_t)i * 7919) !=
                (ssize_t)sizeof back ||
            memcmp(back, data, sizeof data) != 0)
            w->failures++;
        if (i % 50 == 0) {
            char tmp[40];

            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            if (vrm_files_rename(w->v, path, tmp, 0) != 0 ||
                vrm_files_rename(w->v, tmp, path, 0) != 0)
                w->failures++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    fixture *f = *state;
    pthread_t t[4];
    worker w[4];
    listing l;

    for (int i = 0; i < 4; i++) {
        w[i] = (worker){f->v, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_string_equal(ls(f->v, "/", &l), "t0:100644 t1:100644 t2:100644 t3:100644 ");
}

/* A cheap deterministic generator (xorshift64*). */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void compare_model(vrm_vault *v, uint64_t ino, const uint8_t *model, size_t size)
{
    uint8_t *got = malloc(size + 1);
    vrm_stat st;

    assert_int_equal(vrm_files_getattr(v, ino, &st), 0);
    assert_int_equal(st.size, size);
    assert_int_equal(vrm_files_read(v, ino, got, size + 1, 0), (ssize_t)size);
    for (size_t i = 0; i < size; i++)
        if (got[i] != model[i])
            fail_msg("byte %zu: %u, model %u", i, got[i], model[i]);
    free(got);
}

static void test_random_writes_against_model(void **state)
{
    fixture *f = *state;
    const size_t cap = 3 * (1u << 20) / 2;  /* ~1 MiB files, room to grow */
    uint8_t *model = calloc(1, cap), *data = malloc(cap), *got = malloc(cap);
    uint64_t ino = mkfile(f->v, "/model"), seed = 0x5eed;
    size_t size = 0;
    int op;

    for (op = 0; op < 4000; op++) {
        uint64_t r = rnd(&seed), kind = r % 100;

        if (kind < 8) {  /* truncate, down or up */
            size_t to = (size_t)(rnd(&seed) % (1u << 20));

            assert_int_equal(vrm_files_truncate(f->v, ino, to), 0);
            if (to > size)
                memset(model + size, 0, to - size);
            else
                memset(model + to, 0, size - to);
            size = to;
        } else if (kind < 88) {  /* write at a random offset: small, unaligned or large */
            size_t len = kind < 50 ? 1 + rnd(&seed) % 300
                       : kind < 80 ? 1 + rnd(&seed) % (3 * VRM_FILES_CHUNK)
                                   : VRM_FILES_CHUNK * (1 + rnd(&seed) % 3);
            size_t off = (size_t)(rnd(&seed) % (1u << 20));

            if (kind >= 80)
                off -= off % VRM_FILES_CHUNK;  /* whole chunks */
            for (size_t i = 0; i < len; i++)
                data[i] = (uint8_t)(rnd(&seed) >> 56);
            assert_int_equal(vrm_files_write(f->v, ino, data, len, off), (ssize_t)len);
            memcpy(model + off, data, len);
            if (off + len > size)
                size = off + len;
        } else if (kind < 92) {  /* append */
            size_t len = 1 + rnd(&seed) % 5000;

            if (size + len > cap)
                continue;
            memset(data, (int)(op & 0xff), len);
            assert_int_equal(vrm_files_append(f->v, ino, data, len), (ssize_t)len);
            memcpy(model + size, data, len);
            size += len;
        } else {  /* read a random range */
            size_t off = (size_t)(rnd(&seed) % (size + 10)), len = rnd(&seed) % 200000;
            ssize_t want = off >= size ? 0 : (ssize_t)(size - off < len ? size - off : len);

            assert_int_equal(vrm_files_read(f->v, ino, got, len, off), want);
            if (want > 0 && memcmp(got, model + off, (size_t)want) != 0)
                fail_msg("op %d: read of %zu at %zu differs", op, len, off);
        }
        assert_true(size <= cap);
    }
    compare_model(f->v, ino, model, size);
    /* No chunk row holds a byte past the end, none is empty or too long. */
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM chunks WHERE length(data) = 0 "
                                      "OR length(data) > 65536"), 0);
    reopen(f);
    compare_model(f->v, ino, model, size);
    free(model);
    free(data);
    free(got);
}

/* ---- open files ---------------------------------------------------------- */

/* A read while another thread holds the vault's mutex (as a long write
 * does): it runs on a read connection and returns without waiting. */
typedef struct reader_arg {
    vrm_vault *v;
    uint64_t ino;
    char buf[64];
    ssize_t got;
    volatile int done;
} reader_arg;

static void *read_once(void *arg)
{
    reader_arg *r = arg;

    r->got = vrm_files_read(r->v, r->ino, r->buf, sizeof r->buf, 0);
    r->done = 1;
    return NULL;
}

static void test_reads_do_not_wait_for_writes(void **state)
{
    fixture *f = *state;
    reader_arg r = {.v = f->v};
    pthread_t t;
    int i;

    r.ino = mkfile(f->v, "/r");
    assert_int_equal(vrm_files_write(f->v, r.ino, "committed", 9, 0), 9);
    assert_true(f->v->nreaders >= 2);
    vrm_vault_lock(f->v);
    assert_int_equal(pthread_create(&t, NULL, read_once, &r), 0);
    for (i = 0; i < 500 && !r.done; i++)
        usleep(10 * 1000);
    vrm_vault_unlock(f->v);
    pthread_join(t, NULL);
    assert_true(i < 500);  /* it did not wait for the unlock */
    assert_int_equal(r.got, 9);
    assert_memory_equal(r.buf, "committed", 9);
    /* ...and sees each write once it has returned. */
    assert_int_equal(vrm_files_write(f->v, r.ino, "COMMITTED", 9, 0), 9);
    r.done = 0;
    read_once(&r);
    assert_memory_equal(r.buf, "COMMITTED", 9);
}

/* PRAGMA wal_checkpoint's frame count of the WAL, mutex held. */
static int wal_frames(vrm_vault *v)
{
    int nlog = -1, nckpt = -1;

    assert_int_equal(vrm_vault_sync_locked(v), 0);
    assert_int_equal(sqlite3_wal_checkpoint_v2(vrm_vault_sqlite(v), "main",
                                               SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt),
                     SQLITE_OK);
    return nlog;
}

static int freelist(vrm_vault *v)
{
    sqlite3_stmt *st;
    int n = -1;

    assert_int_equal(sqlite3_prepare_v2(vrm_vault_sqlite(v), "PRAGMA freelist_count", -1,
                                        &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Deleting a file frees its pages without overwriting them (secure_delete
 * =FAST, vrmfs(5): the freed pages stay as ciphertext until reused): the
 * delete writes a few frames, not one per page of the file. */
static void test_delete_does_not_rewrite_pages(void **state)
{
    fixture *f = *state;
    size_t size = 4u << 20;
    char *data = malloc(size);
    sqlite3_stmt *st;
    uint64_t ino = mkfile(f->v, "/big");
    int before, after, free0, mode = -1;

    memset(data, 'x', size);
    assert_int_equal(vrm_files_write(f->v, ino, data, size, 0), (ssize_t)size);
    vrm_vault_lock(f->v);
    assert_int_equal(sqlite3_prepare_v2(vrm_vault_sqlite(f->v), "PRAGMA secure_delete", -1,
                                        &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        mode = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(mode, 2);  /* FAST */
    before = wal_frames(f->v);
    free0 = freelist(f->v);
    vrm_vault_unlock(f->v);
    assert_int_equal(vrm_files_unlink(f->v, "/big"), 0);
    vrm_vault_lock(f->v);
    after = wal_frames(f->v);
    assert_true(freelist(f->v) >= free0 + (int)(size / VRM_PAGE_SIZE));
    vrm_vault_unlock(f->v);
    /* The WAL restarted for the delete, or grew by it. */
    assert_true(after < before ? after < 64 : after - before < 64);
    free(data);
}

/* Deleting a file does not read its pages either: a new vault keeps an
 * auto_vacuum pointer map, from which SQLite finds each next page of a
 * chunk's overflow chain without reading (and decrypting) the page before
 * it.  With the cache emptied first, a delete of 1,024 pages misses the
 * cache for the few b-tree, pointer-map and freelist pages it touches. */
static void test_delete_does_not_read_pages(void **state)
{
    fixture *f = *state;
    size_t size = 4u << 20;
    char *data = malloc(size);
    sqlite3_stmt *st;
    sqlite3 *db = vrm_vault_sqlite(f->v);
    uint64_t ino = mkfile(f->v, "/big");
    int mode = -1, cur = 0, hi = 0;

    memset(data, 'y', size);
    assert_int_equal(vrm_files_write(f->v, ino, data, size, 0), (ssize_t)size);
    vrm_vault_lock(f->v);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        mode = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(mode, 2);  /* INCREMENTAL */
    assert_int_equal(sqlite3_db_release_memory(db), SQLITE_OK);
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, 1);
    vrm_vault_unlock(f->v);
    assert_int_equal(vrm_files_unlink(f->v, "/big"), 0);
    vrm_vault_lock(f->v);
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, 0);
    vrm_vault_unlock(f->v);
    assert_true(cur < 64);
    free(data);
}

static void progress_count(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *calls = ctx;

    assert_true(done <= total);
    calls[0]++;
    calls[1] = done;
    calls[2] = total;
}

/* Compacting gives a deleted file's pages back: a 6 MiB file written
 * between two others and deleted leaves 1,536 free pages in the middle of
 * vault.db; compacting moves the last file's pages into them and cuts the
 * file by at least 6 MiB, and both files left read back whole. */
static void test_compact(void **state)
{
    fixture *f = *state;
    size_t big = 6u << 20, small = 3u << 20, len = 0;
    char *a = malloc(small), *b = malloc(big), *c = malloc(small), *got;
    uint64_t before = 0, after = 0, calls[3] = {0, 0, 0};
    uint64_t ia = mkfile(f->v, "/a"), ib = mkfile(f->v, "/b"), ic;

    randombytes_buf(a, small);
    randombytes_buf(b, big);
    randombytes_buf(c, small);
    assert_int_equal(vrm_files_write(f->v, ia, a, small, 0), (ssize_t)small);
    assert_int_equal(vrm_files_write(f->v, ib, b, big, 0), (ssize_t)big);
    ic = mkfile(f->v, "/c");
    assert_int_equal(vrm_files_write(f->v, ic, c, small, 0), (ssize_t)small);
    assert_int_equal(vrm_files_unlink(f->v, "/b"), 0);
    vrm_vault_lock(f->v);
    assert_true(freelist(f->v) >= (int)(big / VRM_PAGE_SIZE));
    vrm_vault_unlock(f->v);

    assert_int_equal(vrm_vault_compact(f->v, progress_count, calls, &before, &after), 0);
    if (after + big > before)
        fail_msg("vault.db went from %llu to %llu bytes only",
                 (unsigned long long)before, (unsigned long long)after);
    assert_true(calls[0] >= 1);
    assert_true(calls[1] == calls[2] && calls[2] >= big / VRM_PAGE_SIZE);
    vrm_vault_lock(f->v);
    assert_int_equal(freelist(f->v), 0);
    vrm_vault_unlock(f->v);
    got = slurp(f->v, ia, &len);
    assert_true(len == small && memcmp(got, a, small) == 0);
    free(got);
    got = slurp(f->v, ic, &len);
    assert_true(len == small && memcmp(got, c, small) == 0);
    free(got);

    /* Again: nothing left to give back. */
    assert_int_equal(vrm_vault_compact(f->v, NULL, NULL, &before, &after), 0);
    assert_true(after == before);
    reopen(f);
    got = slurp(f->v, ino_of(f->v, "/c"), &len);
    assert_true(len == small && memcmp(got, c, small) == 0);
    free(got);
    free(a);
    free(b);
    free(c);
}

/* A vault without the pointer map (auto_vacuum=NONE, as vaults were made
 * before) is refused, and left as it was. */
static void test_compact_refused_without_pointer_map(void **state)
{
    fixture *f = *state;
    size_t big = 2u << 20;
    char *b = calloc(1, big);
    uint64_t before = 0, after = 0;
    uint64_t ib = mkfile(f->v, "/b");

    assert_int_equal(vrm_files_write(f->v, ib, b, big, 0), (ssize_t)big);
    vrm_vault_lock(f->v);
    assert_int_equal(sqlite3_exec(vrm_vault_sqlite(f->v),
                                  "PRAGMA auto_vacuum=NONE; VACUUM", NULL, NULL, NULL),
                     SQLITE_OK);
    vrm_vault_unlock(f->v);
    assert_int_equal(vrm_files_unlink(f->v, "/b"), 0);
    assert_int_equal(vrm_vault_compact(f->v, NULL, NULL, &before, &after), -EOPNOTSUPP);
    assert_non_null(strstr(vrm_error_message(), "import-all"));
    vrm_vault_lock(f->v);
    assert_true(freelist(f->v) >= (int)(big / VRM_PAGE_SIZE));
    vrm_vault_unlock(f->v);
    free(b);
}

static void test_unlink_while_open(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/f");
    vrm_stat st;
    char *s;

    put_str(f->v, ino, "still here", 0);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.a", "b", 1, 0), 0);
    assert_int_equal(vrm_files_open(f->v, ino), 0);
    assert_int_equal(vrm_files_open(f->v, ino), 0);  /* two opens */
    assert_int_equal(vrm_files_unlink(f->v, "/f"), 0);
    assert_int_equal(vrm_files_resolve(f->v, "/f", &st), -ENOENT);
    assert_int_equal(vrm_files_getattr(f->v, ino, &st), 0);
    assert_int_equal(st.nlink, 0);
    s = slurp(f->v, ino, NULL);
    assert_string_equal(s, "still here");
    free(s);
    put_str(f->v, ino, "!", 10);  /* writable too */
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.a", NULL, 0), 1);

    /* The name is free again at once. */
    assert_true(mkfile(f->v, "/f") != ino);
    assert_int_equal(vrm_files_release(f->v, ino), 0);
    s = slurp(f->v, ino, NULL);
    assert_string_equal(s, "still here!");
    free(s);
    assert_int_equal(vrm_files_release(f->v, ino), 0);  /* the last one */
    assert_int_equal(vrm_files_getattr(f->v, ino, &st), -ENOENT);
    assert_int_equal(rows_of(f->v, ino), 0);
    assert_int_equal(vrm_files_release(f->v, ino), -EBADF);
    assert_int_equal(vrm_files_open(f->v, ino), -ENOENT);
    assert_int_equal(vrm_files_release(f->v, 77777), -EBADF);

    /* Open and closed while linked: nothing happens. */
    ino = ino_of(f->v, "/f");
    assert_int_equal(vrm_files_open(f->v, ino), 0);
    assert_int_equal(vrm_files_release(f->v, ino), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &st), 0);
    assert_int_equal(st.nlink, 1);

    /* A directory removed while open. */
    assert_int_equal(vrm_files_mkdir(f->v, "/d", 0700, 0, 0, &st), 0);
    assert_int_equal(vrm_files_open(f->v, st.ino), 0);
    assert_int_equal(vrm_files_rmdir(f->v, "/d"), 0);
    assert_int_equal(vrm_files_getattr(f->v, st.ino, &st), 0);
    assert_int_equal(st.nlink, 0);
    assert_int_equal(vrm_files_release(f->v, st.ino), 0);
    assert_int_equal(vrm_files_getattr(f->v, st.ino, &st), -ENOENT);
}

static void test_orphans_purged_on_reopen(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/f"), kept = mkfile(f->v, "/kept");
    uint8_t big[3 * 65536 + 10];
    vrm_stat st;

    memset(big, 'z', sizeof big);
    assert_int_equal(vrm_files_write(f->v, ino, big, sizeof big, 0), (ssize_t)sizeof big);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.a", "b", 1, 0), 0);
    put_str(f->v, kept, "kept", 0);
    assert_int_equal(vrm_files_open(f->v, ino), 0);
    assert_int_equal(vrm_files_open(f->v, kept), 0);
    assert_int_equal(vrm_files_unlink(f->v, "/f"), 0);
    assert_int_equal(rows_of(f->v, ino), 5);
    /* Never released: the vault closes (or the daemon dies) with it open;
     * opening the vault again purges it. */
    assert_int_equal(reopen(f), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &st), -ENOENT);
    assert_int_equal(rows_of(f->v, ino), 0);
    assert_int_equal(stat_of(f->v, "/kept").size, 4);
    /* Open counts do not survive either. */
    assert_int_equal(vrm_files_release(f->v, kept), -EBADF);
    assert_int_equal(vrm_files_purge_orphans(f->v), 0);
}

/* ---- rename --------------------------------------------------------------- */

static void test_rename_basic(void **state)
{
    fixture *f = *state;
    uint64_t a = mkfile(f->v, "/a"), b;
    vrm_stat st, d1, d2;
    char *s;

    put_str(f->v, a, "A", 0);
    assert_int_equal(vrm_files_rename(f->v, "/a", "/b", 0), 0);
    assert_int_equal(vrm_files_resolve(f->v, "/a", &st), -ENOENT);
    assert_int_equal(ino_of(f->v, "/b"), a);

    /* Across directories; a directory takes its link count along. */
    assert_int_equal(vrm_files_mkdir(f->v, "/d1", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/d2", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/d1/sub", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_rename(f->v, "/b", "/d1/sub/c", 0), 0);
    assert_int_equal(ino_of(f->v, "/d1/sub/c"), a);
    assert_int_equal(stat_of(f->v, "/d1").nlink, 3);
    assert_int_equal(vrm_files_rename(f->v, "/d1/sub", "/d2/moved", 0), 0);
    assert_int_equal(stat_of(f->v, "/d1").nlink, 2);
    assert_int_equal(stat_of(f->v, "/d2").nlink, 3);
    assert_int_equal(ino_of(f->v, "/d2/moved/c"), a);
    assert_int_equal(stat_of(f->v, "/").nlink, 4);

    /* Over an existing file: atomically replaced, its data gone. */
    b = mkfile(f->v, "/d2/target");
    put_str(f->v, b, "old data", 0);
    assert_int_equal(vrm_files_rename(f->v, "/d2/moved/c", "/d2/target", 0), 0);
    assert_int_equal(ino_of(f->v, "/d2/target"), a);
    assert_int_equal(vrm_files_getattr(f->v, b, &st), -ENOENT);
    assert_int_equal(rows_of(f->v, b), 0);
    s = slurp(f->v, a, NULL);
    assert_string_equal(s, "A");
    free(s);

    /* Over an open file: the old one lives until released. */
    b = mkfile(f->v, "/d1/tmp");
    put_str(f->v, b, "new", 0);
    assert_int_equal(vrm_files_open(f->v, a), 0);
    assert_int_equal(vrm_files_rename(f->v, "/d1/tmp", "/d2/target", 0), 0);
    s = slurp(f->v, a, NULL);
    assert_string_equal(s, "A");
    free(s);
    s = slurp(f->v, ino_of(f->v, "/d2/target"), NULL);
    assert_string_equal(s, "new");
    free(s);
    assert_int_equal(vrm_files_release(f->v, a), 0);
    assert_int_equal(vrm_files_getattr(f->v, a, &st), -ENOENT);

    /* Directory times change on both sides. */
    assert_int_equal(vrm_files_resolve(f->v, "/d1", &d1), 0);
    assert_int_equal(vrm_files_resolve(f->v, "/d2", &d2), 0);
    assert_true(d1.mtime_ns > 0 && d2.mtime_ns >= d1.mtime_ns);

    /* The same name, and two names of one file: nothing happens. */
    assert_int_equal(vrm_files_rename(f->v, "/d2/target", "/d2/target", 0), 0);
    assert_int_equal(vrm_files_link(f->v, "/d2/target", "/d2/hard", NULL), 0);
    assert_int_equal(vrm_files_rename(f->v, "/d2/target", "/d2/hard", 0), 0);
    assert_int_equal(ino_of(f->v, "/d2/target"), ino_of(f->v, "/d2/hard"));
    assert_int_equal(stat_of(f->v, "/d2/hard").nlink, 2);
}

static void test_rename_errors(void **state)
{
    fixture *f = *state;
    listing l;

    assert_int_equal(vrm_files_mkdir(f->v, "/a", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/a/b", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/a/b/c", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/empty", 0700, 0, 0, NULL), 0);
    mkfile(f->v, "/file");
    mkfile(f->v, "/a/b/c/inner");

    assert_int_equal(vrm_files_rename(f->v, "/nope", "/x", 0), -ENOENT);
    assert_int_equal(vrm_files_rename(f->v, "/file", "/nope/x", 0), -ENOENT);
    assert_int_equal(vrm_files_rename(f->v, "/file", "/file/x", 0), -ENOTDIR);
    assert_int_equal(vrm_files_rename(f->v, "/file/x", "/y", 0), -ENOTDIR);
    /* Into its own subtree. */
    assert_int_equal(vrm_files_rename(f->v, "/a", "/a/b/c/a", 0), -EINVAL);
    assert_int_equal(vrm_files_rename(f->v, "/a", "/a/x", 0), -EINVAL);
    assert_int_equal(vrm_files_rename(f->v, "/a/b", "/a/b/c/inner", 0), -EINVAL);
    /* Over an ancestor of itself. */
    assert_int_equal(vrm_files_rename(f->v, "/a/b/c", "/a", 0), -ENOTEMPTY);
    /* Type mismatches and a full directory. */
    assert_int_equal(vrm_files_rename(f->v, "/file", "/empty", 0), -EISDIR);
    assert_int_equal(vrm_files_rename(f->v, "/empty", "/file", 0), -ENOTDIR);
    assert_int_equal(vrm_files_rename(f->v, "/empty", "/a", 0), -ENOTEMPTY);
    /* The root. */
    assert_int_equal(vrm_files_rename(f->v, "/", "/x", 0), -EBUSY);
    assert_int_equal(vrm_files_rename(f->v, "/empty", "/", 0), -EBUSY);
    /* Flags. */
    assert_int_equal(vrm_files_rename(f->v, "/file", "/x", 4), -EINVAL);
    assert_int_equal(vrm_files_rename(f->v, "/file", "/x",
                                      VRM_FILES_NOREPLACE | VRM_FILES_EXCHANGE), -EINVAL);
    assert_int_equal(vrm_files_rename(f->v, "/file", "/empty", VRM_FILES_NOREPLACE), -EEXIST);
    assert_int_equal(vrm_files_rename(f->v, "/file", "/file", VRM_FILES_NOREPLACE), -EEXIST);
    assert_int_equal(vrm_files_rename(f->v, "/file", "/x", VRM_FILES_EXCHANGE), -ENOENT);
    assert_int_equal(vrm_files_rename(f->v, "/a", "/a/b", VRM_FILES_EXCHANGE), -EINVAL);
    assert_int_equal(vrm_files_rename(f->v, "/a/b", "/a", VRM_FILES_EXCHANGE), -EINVAL);
    /* Nothing changed. */
    assert_string_equal(ls(f->v, "/", &l), "a:40700 empty:40700 file:100644 ");
    assert_string_equal(ls(f->v, "/a/b/c", &l), "inner:100644 ");

    /* NOREPLACE to a free name works; a directory replaces an empty one. */
    assert_int_equal(vrm_files_rename(f->v, "/file", "/file2", VRM_FILES_NOREPLACE), 0);
    assert_int_equal(vrm_files_rename(f->v, "/a/b/c", "/empty", 0), 0);
    assert_string_equal(ls(f->v, "/empty", &l), "inner:100644 ");
    assert_int_equal(stat_of(f->v, "/").nlink, 4);
    assert_int_equal(stat_of(f->v, "/a/b").nlink, 2);
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM inodes"), 6);
}

static void test_rename_exchange(void **state)
{
    fixture *f = *state;
    uint64_t file, dir;
    listing l;

    assert_int_equal(vrm_files_mkdir(f->v, "/p", 0700, 0, 0, NULL), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/q", 0700, 0, 0, NULL), 0);
    file = mkfile(f->v, "/p/x");
    assert_int_equal(vrm_files_mkdir(f->v, "/q/y", 0700, 0, 0, NULL), 0);
    dir = ino_of(f->v, "/q/y");
    mkfile(f->v, "/q/y/z");
    assert_int_equal(stat_of(f->v, "/p").nlink, 2);
    assert_int_equal(stat_of(f->v, "/q").nlink, 3);

    /* A file and a full directory swap places across directories. */
    assert_int_equal(vrm_files_rename(f->v, "/p/x", "/q/y", VRM_FILES_EXCHANGE), 0);
    assert_int_equal(ino_of(f->v, "/p/x"), dir);
    assert_int_equal(ino_of(f->v, "/q/y"), file);
    assert_int_equal(stat_of(f->v, "/p").nlink, 3);
    assert_int_equal(stat_of(f->v, "/q").nlink, 2);
    assert_string_equal(ls(f->v, "/p/x", &l), "z:100644 ");

    /* And back, within one directory too. */
    assert_int_equal(vrm_files_rename(f->v, "/q/y", "/p/x", VRM_FILES_EXCHANGE), 0);
    assert_int_equal(ino_of(f->v, "/p/x"), file);
    mkfile(f->v, "/p/w");
    assert_int_equal(vrm_files_rename(f->v, "/p/x", "/p/w", VRM_FILES_EXCHANGE), 0);
    assert_int_equal(ino_of(f->v, "/p/w"), file);
    assert_int_equal(stat_of(f->v, "/p").nlink, 2);
    assert_int_equal(stat_of(f->v, "/q").nlink, 3);
}

/* ---- attributes ------------------------------------------------------------ */

static void test_chmod_chown_utimens(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/f");
    struct timespec tv[2];
    struct stat px;
    vrm_stat a, b;

    assert_int_equal(vrm_files_getattr(f->v, ino, &a), 0);
    assert_int_equal(vrm_files_chmod(f->v, ino, S_IFDIR | 04751), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_int_equal(b.mode, S_IFREG | 04751);
    assert_true(b.ctime_ns >= a.ctime_ns);
    assert_int_equal(b.mtime_ns, a.mtime_ns);
    assert_int_equal(vrm_files_chmod(f->v, VRM_FILES_ROOT, 0755), 0);
    assert_int_equal(stat_of(f->v, "/").mode, S_IFDIR | 0755);

    assert_int_equal(vrm_files_chown(f->v, ino, 42, (uint32_t)-1), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_int_equal(b.uid, 42);
    assert_int_equal(b.gid, 1000);
    assert_int_equal(vrm_files_chown(f->v, ino, (uint32_t)-1, 43), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_int_equal(b.uid, 42);
    assert_int_equal(b.gid, 43);

    tv[0].tv_sec = 1000000000;
    tv[0].tv_nsec = 123;
    tv[1].tv_sec = -5;  /* before 1970 */
    tv[1].tv_nsec = 7;
    assert_int_equal(vrm_files_utimens(f->v, ino, tv), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_int_equal(b.atime_ns, 1000000000LL * 1000000000LL + 123);
    assert_int_equal(b.mtime_ns, -5LL * 1000000000LL + 7);
    vrm_files_stat_posix(&b, &px);
    assert_int_equal(px.st_mtim.tv_sec, -5);
    assert_int_equal(px.st_mtim.tv_nsec, 7);
    assert_int_equal(px.st_atim.tv_sec, 1000000000);
    assert_int_equal(px.st_ino, ino);
    assert_int_equal(px.st_mode, S_IFREG | 04751);
    assert_int_equal(px.st_uid, 42);

    tv[0].tv_nsec = UTIME_OMIT;
    tv[1].tv_nsec = UTIME_NOW;
    assert_int_equal(vrm_files_utimens(f->v, ino, tv), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &a), 0);
    assert_int_equal(a.atime_ns, b.atime_ns);
    assert_true(a.mtime_ns > 1700000000LL * 1000000000LL);
    tv[0].tv_nsec = UTIME_OMIT;
    tv[1].tv_nsec = UTIME_OMIT;
    assert_int_equal(vrm_files_utimens(f->v, ino, tv), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(vrm_files_utimens(f->v, ino, NULL), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_true(b.atime_ns > 1700000000LL * 1000000000LL);
    assert_int_equal(b.atime_ns, b.mtime_ns);

    tv[0].tv_sec = (time_t)1 << 40;  /* far beyond 2262: clamped */
    tv[0].tv_nsec = 0;
    tv[1].tv_nsec = UTIME_OMIT;
    assert_int_equal(vrm_files_utimens(f->v, ino, tv), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_int_equal(b.atime_ns, INT64_MAX);
    tv[0].tv_nsec = 1000000000;
    assert_int_equal(vrm_files_utimens(f->v, ino, tv), -EINVAL);
    tv[0].tv_nsec = -1;
    assert_int_equal(vrm_files_utimens(f->v, ino, tv), -EINVAL);
    assert_int_equal(vrm_files_utimens(f->v, 999, NULL), -ENOENT);
    assert_int_equal(vrm_files_chmod(f->v, 999, 0644), -ENOENT);
    assert_int_equal(vrm_files_chown(f->v, 999, 1, 1), -ENOENT);
}

static void test_xattrs(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/f");
    char big[VRM_FILES_XATTR_MAX + 1], buf[64], name[300];
    vrm_stat a, b;

    assert_int_equal(vrm_files_listxattr(f->v, ino, NULL, 0), 0);
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.none", buf, sizeof buf), -ENODATA);
    assert_int_equal(vrm_files_getattr(f->v, ino, &a), 0);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.mime", "text/plain", 10, 0), 0);
    assert_int_equal(vrm_files_getattr(f->v, ino, &b), 0);
    assert_true(b.ctime_ns >= a.ctime_ns);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.empty", "", 0, 0), 0);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.a", "1", 1, 0), 0);

    /* Size protocol. */
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.mime", NULL, 0), 10);
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.mime", buf, 9), -ERANGE);
    memset(buf, 0, sizeof buf);
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.mime", buf, 10), 10);
    assert_string_equal(buf, "text/plain");
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.empty", buf, sizeof buf), 0);
    assert_int_equal(vrm_files_listxattr(f->v, ino, NULL, 0), 28);
    assert_int_equal(vrm_files_listxattr(f->v, ino, buf, 27), -ERANGE);
    assert_int_equal(vrm_files_listxattr(f->v, ino, buf, sizeof buf), 28);
    assert_memory_equal(buf, "user.a\0user.empty\0user.mime\0", 28);

    /* Create and replace. */
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.a", "2", 1, XATTR_CREATE), -EEXIST);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.b", "2", 1, XATTR_REPLACE), -ENODATA);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.a", "22", 2, XATTR_REPLACE), 0);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.b", "3", 1, XATTR_CREATE), 0);
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.a", buf, sizeof buf), 2);
    assert_memory_equal(buf, "22", 2);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.a", "2", 1, 8), -EINVAL);

    /* Names and sizes. */
    assert_int_equal(vrm_files_setxattr(f->v, ino, "trusted.x", "1", 1, 0), -ENOTSUP);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "security.selinux", "1", 1, 0), -ENOTSUP);
    assert_int_equal(vrm_files_getxattr(f->v, ino, "system.posix_acl_access", NULL, 0),
                     -ENOTSUP);
    assert_int_equal(vrm_files_removexattr(f->v, ino, "trusted.x"), -ENOTSUP);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.", "1", 1, 0), -EINVAL);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "", "1", 1, 0), -ERANGE);
    memset(name, 'n', sizeof name);
    memcpy(name, "user.", 5);
    name[256] = '\0';
    assert_int_equal(vrm_files_setxattr(f->v, ino, name, "1", 1, 0), -ERANGE);
    name[255] = '\0';
    assert_int_equal(vrm_files_setxattr(f->v, ino, name, "1", 1, 0), 0);
    memset(big, 'v', sizeof big);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.big", big, sizeof big, 0), -E2BIG);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.big", big, sizeof big - 1, 0), 0);
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.big", NULL, 0), VRM_FILES_XATTR_MAX);

    /* Remove. */
    assert_int_equal(vrm_files_removexattr(f->v, ino, "user.a"), 0);
    assert_int_equal(vrm_files_removexattr(f->v, ino, "user.a"), -ENODATA);
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.a", NULL, 0), -ENODATA);

    /* On a directory too; not on what is not there. */
    assert_int_equal(vrm_files_setxattr(f->v, VRM_FILES_ROOT, "user.d", "1", 1, 0), 0);
    assert_int_equal(vrm_files_setxattr(f->v, 999, "user.d", "1", 1, 0), -ENOENT);
    assert_int_equal(vrm_files_getxattr(f->v, 999, "user.d", NULL, 0), -ENOENT);
    assert_int_equal(vrm_files_listxattr(f->v, 999, NULL, 0), -ENOENT);
    assert_int_equal(vrm_files_removexattr(f->v, 999, "user.d"), -ENOENT);
}

static void test_xattr_list_limit(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/f");
    char name[300];
    int i, rc = 0, total = 0;

    /* 255-byte names: the list fills up after 256 of them. */
    for (i = 0; i < 300 && rc == 0; i++) {
        snprintf(name, sizeof name, "user.%04d%0246d", i, 0);
        rc = vrm_files_setxattr(f->v, ino, name, "", 0, 0);
        if (rc == 0)
            total += 256;
    }
    assert_int_equal(rc, -ENOSPC);
    assert_int_equal(vrm_files_listxattr(f->v, ino, NULL, 0), total);
    assert_true(total <= (int)VRM_FILES_XATTR_LIST_MAX);
    /* Replacing an existing one is still fine. */
    snprintf(name, sizeof name, "user.%04d%0246d", 0, 0);
    assert_int_equal(vrm_files_setxattr(f->v, ino, name, "x", 1, 0), 0);
}

/* ---- the whole -------------------------------------------------------------- */

static void test_statfs_and_sync(void **state)
{
    fixture *f = *state;
    struct statvfs sv;

    mkfile(f->v, "/a");
    mkfile(f->v, "/b");
    assert_int_equal(vrm_files_statfs(f->v, &sv), 0);
    assert_int_equal(sv.f_bsize, 4096);
    assert_int_equal(sv.f_frsize, 4096);
    assert_true(sv.f_blocks > 0);
    assert_true(sv.f_bfree <= sv.f_blocks);
    assert_true(sv.f_bavail <= sv.f_bfree);
    assert_true(sv.f_files >= 3);
    assert_int_equal(sv.f_files - sv.f_ffree, 3);
    assert_int_equal(sv.f_namemax, 255);
    assert_int_equal(sv.f_flag & ST_RDONLY, 0);
    assert_int_equal(vrm_files_sync(f->v), 0);
    assert_int_equal(count_rows(f->v, "SELECT count(*) FROM inodes"), 3);
}

static void test_persistence(void **state)
{
    fixture *f = *state;
    uint8_t *data = malloc(300000);
    uint64_t ino, ino2;
    char buf[64], *s;
    listing l;
    size_t len;

    for (size_t i = 0; i < 300000; i++)
        data[i] = (uint8_t)(i * 7 + i / 1000);
    assert_int_equal(vrm_files_mkdir(f->v, "/docs", 0750, 1000, 100, NULL), 0);
    assert_int_equal(vrm_files_mkdir(f->v, "/docs/tax", 0700, 1000, 100, NULL), 0);
    ino = mkfile(f->v, "/docs/tax/2025.pdf");
    assert_int_equal(vrm_files_write(f->v, ino, data, 300000, 0), 300000);
    assert_int_equal(vrm_files_setxattr(f->v, ino, "user.xdg.origin.url", "https://x", 9, 0), 0);
    ino2 = mkfile(f->v, "/docs/notes.txt");
    put_str(f->v, ino2, "remember", 0);
    assert_int_equal(vrm_files_truncate(f->v, ino2, 1 << 20), 0);
    assert_int_equal(vrm_files_symlink(f->v, "tax/2025.pdf", "/docs/latest", 1000, 100, NULL), 0);
    assert_int_equal(vrm_files_link(f->v, "/docs/notes.txt", "/notes", NULL), 0);
    assert_int_equal(vrm_files_chmod(f->v, ino2, 0600), 0);
    assert_int_equal(vrm_files_sync(f->v), 0);

    assert_int_equal(reopen(f), 0);
    assert_string_equal(ls(f->v, "/docs", &l), "latest:120777 notes.txt:100600 tax:40700 ");
    assert_string_equal(ls(f->v, "/", &l), "docs:40750 notes:100600 ");
    assert_int_equal(ino_of(f->v, "/docs/tax/2025.pdf"), ino);
    s = slurp(f->v, ino, &len);
    assert_int_equal(len, 300000);
    assert_memory_equal(s, data, 300000);
    free(s);
    assert_int_equal(vrm_files_getxattr(f->v, ino, "user.xdg.origin.url", buf, sizeof buf), 9);
    assert_memory_equal(buf, "https://x", 9);
    assert_int_equal(stat_of(f->v, "/notes").nlink, 2);
    assert_int_equal(stat_of(f->v, "/notes").size, 1 << 20);
    assert_int_equal(vrm_files_readlink(f->v, "/docs/latest", buf, sizeof buf), 12);
    assert_string_equal(buf, "tax/2025.pdf");
    assert_int_equal(stat_of(f->v, "/docs").nlink, 3);
    assert_int_equal(stat_of(f->v, "/docs").gid, 100);

    /* New inode numbers never repeat old ones, even after deletions. */
    assert_int_equal(vrm_files_unlink(f->v, "/docs/tax/2025.pdf"), 0);
    assert_true(mkfile(f->v, "/docs/tax/new") > ino2);
    free(data);
}

static void test_read_only_vault(void **state)
{
    fixture *f = *state;
    uint64_t ino = mkfile(f->v, "/f");
    struct statvfs sv;
    vrm_vault *v = NULL;
    char buf[8];

    put_str(f->v, ino, "ro", 0);
    assert_int_equal(vrm_vault_close(f->v), 0);
    f->v = NULL;
    assert_int_equal(vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), VRM_OPEN_READONLY), 0);
    f->v = v;
    assert_int_equal(vrm_files_purge_orphans(v), 0);
    assert_int_equal(ino_of(v, "/f"), ino);
    assert_int_equal(vrm_files_open(v, ino), 0);
    assert_int_equal(vrm_files_read(v, ino, buf, sizeof buf, 0), 2);
    assert_int_equal(vrm_files_write(v, ino, "x", 1, 0), -EROFS);
    assert_int_equal(vrm_files_create(v, "/g", 0644, 0, 0, NULL), -EROFS);
    assert_int_equal(vrm_files_unlink(v, "/f"), -EROFS);
    assert_int_equal(vrm_files_setxattr(v, ino, "user.a", "1", 1, 0), -EROFS);
    assert_int_equal(vrm_files_release(v, ino), 0);
    assert_int_equal(vrm_files_statfs(v, &sv), 0);
    assert_true(sv.f_flag & ST_RDONLY);
    assert_int_equal(vrm_files_sync(v), 0);
}

static void test_schema_from_records_only(void **state)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    (void)state;
    /* A vault at step 1 gets the file tree with its root. */
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(vrm_schema_migrate(db), 0);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT mode, nlink FROM inodes WHERE ino = 1", -1,
                                        &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), S_IFDIR | 0700);
    assert_int_equal(sqlite3_column_int(st, 1), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- timing ------------------------------------------------------------------ */

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_block(uint8_t *buf, size_t len, uint64_t n)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = (n * 0x9E3779B97F4A7C15ULL) ^ i;

        memcpy(buf + i, &x, 8);
    }
}

static void test_sequential_timing(void **state)
{
    fixture *f = *state;
    const char *env = getenv("VRM_FILES_BENCH_MB");
    const size_t io = 128 << 10;
    uint64_t mb = env != NULL ? strtoull(env, NULL, 10) : 256, n, blocks;
    uint8_t *buf = malloc(io), *want = malloc(io);
    uint64_t ino = mkfile(f->v, "/big");
    double t0, t1, t2, t3;

    if (mb == 0) {
        free(buf);
        free(want);
        skip();
    }
    blocks = mb * (1u << 20) / io;
    t0 = seconds();
    for (n = 0; n < blocks; n++) {
        fill_block(buf, io, n);
        if (vrm_files_write(f->v, ino, buf, io, n * io) != (ssize_t)io)
            fail_msg("write %llu: %s", (unsigned long long)n, vrm_error_message());
    }
    t1 = seconds();
    assert_int_equal(vrm_files_sync(f->v), 0);
    t2 = seconds();
    for (n = 0; n < blocks; n++) {
        if (vrm_files_read(f->v, ino, buf, io, n * io) != (ssize_t)io)
            fail_msg("read %llu: %s", (unsigned long long)n, vrm_error_message());
        fill_block(want, io, n);
        if (memcmp(buf, want, io) != 0)
            fail_msg("block %llu differs", (unsigned long long)n);
    }
    t3 = seconds();
    print_message("# files: %llu MiB in %zu KiB calls: write %.2f s (%.0f MiB/s), "
                  "sync %.2f s, read %.2f s (%.0f MiB/s)\n",
                  (unsigned long long)mb, io >> 10, t1 - t0, (double)mb / (t1 - t0), t2 - t1,
                  t3 - t2, (double)mb / (t3 - t2));
    /* Deleting it is quick too. */
    assert_int_equal(vrm_files_unlink(f->v, "/big"), 0);
    print_message("# files: unlink of it %.2f s\n", seconds() - t3);
    free(buf);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root_and_paths, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_create_and_mkdir, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_readdir, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_unlink_and_rmdir, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_symlinks, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_hard_links, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_names_of_an_inode, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_read_write, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_sparse_and_truncate, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_small_appends, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_random_writes_against_model, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reads_do_not_wait_for_writes, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_delete_does_not_rewrite_pages, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_delete_does_not_read_pages, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_compact, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_compact_refused_without_pointer_map, setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_unlink_while_open, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_orphans_purged_on_reopen, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_rename_basic, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_rename_errors, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_rename_exchange, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_chmod_chown_utimens, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_xattrs, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_xattr_list_limit, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_statfs_and_sync, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_vault, setup, tu_teardown),
        cmocka_unit_test(test_schema_from_records_only),
        cmocka_unit_test_setup_teardown(test_sequential_timing, setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
