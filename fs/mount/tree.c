/*
 * tree.c: what the trees of the mount share (see tree.h): open handles,
 * text buffers, attributes, listings and the error log.
 */
#define _GNU_SOURCE
#include "tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* ---- open handles ------------------------------------------------------------ */

/* Every handle not released yet.  RELEASE comes after close() returns, and
 * one sent as the file system is unmounted may never be served (the kernel
 * ends the connection, libfuse's loop drops what it reads once exiting), so
 * vrmfs_release_state() frees the handles left here.  A leaf lock: nothing
 * else is taken while holding open_mu. */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static handle *open_handles;

void handle_free(handle *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&open_mu);
    if (h->open_prev != NULL)
        h->open_prev->open_next = h->open_next;
    else
        open_handles = h->open_next;
    if (h->open_next != NULL)
        h->open_next->open_prev = h->open_prev;
    pthread_mutex_unlock(&open_mu);
    pthread_mutex_destroy(&h->mu);
    free(h->buf);
    free(h);
}

handle *handle_new(enum handle_kind kind, const node *n, int writable)
{
    handle *h = calloc(1, sizeof *h);

    if (h == NULL)
        return NULL;
    h->kind = kind;
    if (n != NULL)
        h->n = *n;
    h->n.rest = NULL;  /* points into a path that is gone after the call */
    h->writable = writable;
    h->max = RECORD_MAX;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_lock(&open_mu);
    h->open_next = open_handles;
    if (open_handles != NULL)
        open_handles->open_prev = h;
    open_handles = h;
    pthread_mutex_unlock(&open_mu);
    return h;
}

void handles_free_all(void)
{
    while (open_handles != NULL)
        handle_free(open_handles);
}

void handles_linked(uint64_t ino)
{
    handle *h;

    pthread_mutex_lock(&open_mu);
    for (h = open_handles; h != NULL; h = h->open_next)
        if (h->kind == H_FILE && h->ino == ino)
            h->linked = 1;
    pthread_mutex_unlock(&open_mu);
}

/* ---- error log ------------------------------------------------------- */

void vrmfs_log(const vrmfs *fs, int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (fs->foreground) {
        fputs("vrmfs: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    } else {
        vsyslog(prio, fmt, ap);
    }
    va_end(ap);
}

void vrmfs_refusal(vrmfs *fs, const char *path, const char *reason)
{
    char line[1024], stamp[32];
    struct timespec ts;
    struct tm tm;
    int n;

    now(&ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    n = snprintf(line, sizeof line, "%s %s: %s\n", stamp, path, reason);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    vrmfs_log(fs, LOG_WARNING, "refused %s: %s", path, reason);

    pthread_mutex_lock(&fs->mu);
    if (fs->errlog == NULL)
        fs->errlog = malloc(ERRLOG_MAX);
    if (fs->errlog != NULL) {
        if (fs->errlen + (size_t)n > ERRLOG_MAX) {  /* drop the oldest lines */
            size_t cut = fs->errlen + (size_t)n - ERRLOG_MAX;
            char *nl = memchr(fs->errlog + cut, '\n', fs->errlen - cut);

            cut = nl ? (size_t)(nl - fs->errlog) + 1 : fs->errlen;
            memmove(fs->errlog, fs->errlog + cut, fs->errlen - cut);
            fs->errlen -= cut;
        }
        memcpy(fs->errlog + fs->errlen, line, (size_t)n);
        fs->errlen += (size_t)n;
    }
    pthread_mutex_unlock(&fs->mu);
}

int refuse(const char *path, int err)
{
    char reason[600];

    snprintf(reason, sizeof reason, "%s; nothing changed", vrm_error_message());
    vrmfs_refusal(FS(), path, reason);
    return err;
}

/* ---- text buffers ------------------------------------------------------ */

static int buf_reserve(char **buf, size_t *cap, size_t need, size_t max)
{
    char *b;
    size_t c;

    if (need > max)
        return -EFBIG;
    if (need <= *cap)
        return 0;
    c = *cap ? *cap : 4096;
    while (c < need)
        c = c > max / 2 ? max : c * 2;
    b = realloc(*buf, c);
    if (b == NULL)
        return -ENOMEM;
    *buf = b;
    *cap = c;
    return 0;
}

int buf_write(handle *h, size_t max, const char *data, size_t size, off_t off)
{
    size_t end;
    int rc;

    if (off < 0 || (uint64_t)off > max || size > max - (size_t)off)
        return -EFBIG;
    if (size == 0)
        return 0;  /* writes nothing, extends nothing */
    end = (size_t)off + size;
    rc = buf_reserve(&h->buf, &h->cap, end, max);
    if (rc != 0)
        return rc;
    if ((size_t)off > h->len)
        memset(h->buf + h->len, 0, (size_t)off - h->len);
    memcpy(h->buf + off, data, size);
    if (end > h->len)
        h->len = end;
    return (int)size;
}

int buf_truncate(char **buf, size_t *len, size_t *cap, size_t max, off_t size)
{
    int rc;

    if (size < 0 || (uint64_t)size > max)
        return -EFBIG;
    rc = buf_reserve(buf, cap, (size_t)size, max);
    if (rc != 0)
        return rc;
    if ((size_t)size > *len)
        memset(*buf + *len, 0, (size_t)size - *len);
    *len = (size_t)size;
    return 0;
}

int buf_read(const char *buf, size_t len, char *out, size_t size, off_t off)
{
    if (off < 0)
        return -EINVAL;
    if ((uint64_t)off >= len)
        return 0;
    if (size > len - (size_t)off)
        size = len - (size_t)off;
    memcpy(out, buf + off, size);
    return (int)size;
}

/* ---- attributes ---------------------------------------------------------- */

void fill_dir(vrmfs *fs, struct stat *st, mode_t mode)
{
    st->st_mode = S_IFDIR | mode;
    st->st_nlink = 2;
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    st->st_size = 4096;
    st->st_atim = st->st_mtim = st->st_ctim = fs->mounted;
}

void fill_file(vrmfs *fs, struct stat *st, mode_t mode, size_t size,
               struct timespec mtime, struct timespec ctime)
{
    st->st_mode = S_IFREG | mode;
    st->st_nlink = 1;
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    st->st_size = (off_t)size;
    st->st_blocks = (blkcnt_t)((size + 511) / 512);
    st->st_blksize = 4096;
    st->st_mtim = st->st_atim = mtime;
    st->st_ctim = ctime;
}

void fill_dots(fill_ctx *c)
{
    c->filler(c->buf, ".", NULL, 0, 0);
    c->filler(c->buf, "..", NULL, 0, 0);
}

void fill_text(vrmfs *fs, handle *h, struct stat *st)
{
    struct timespec ts;

    now(&ts);
    pthread_mutex_lock(&h->mu);
    fill_file(fs, st, 0600, h->len, ts, ts);
    pthread_mutex_unlock(&h->mu);
}

int hidden_by_libfuse(const char *name)
{
    return strncmp(name, ".fuse_hidden", 12) == 0;
}

int fill_name(void *ctx, const char *name)
{
    fill_ctx *c = ctx;
    char full[300];

    if (hidden_by_libfuse(name))
        return 0;
    snprintf(full, sizeof full, "%s%s", name, c->suffix);
    return c->filler(c->buf, full, NULL, 0, 0) ? 1 : 0;
}

int emit(fill_ctx *c, const char *shown, const char *key, const struct stat *st)
{
    off_t n = ++c->n;

    if (n <= c->skip)
        return 0;
    if (c->filler(c->buf, shown, st, n, st != NULL && c->plus ? FUSE_FILL_DIR_PLUS : 0))
        return 1;
    c->d->off = n;
    c->d->part = c->part;
    snprintf(c->d->last, sizeof c->d->last, "%s", key);
    return 0;
}

/* A listing's parts, as d->part keeps them: the dots, then parts[i] is
 * PART_MAIN + i. */
enum { PART_DOTS, PART_MAIN };

/* Enter part `part` of a listing with offsets: 1 if it is to be walked
 * (c->after set to where in it to start), 0 if the walk resumes later. */
static int part_begin(fill_ctx *c, int part, int resume_part, const char *resume_after)
{
    c->part = part;
    c->after = part == resume_part ? resume_after : NULL;
    return part >= resume_part;
}

dirh *dirh_new(const char *path)
{
    size_t len = strlen(path);
    dirh *d = malloc(sizeof *d + len + 1);

    if (d == NULL)
        return NULL;
    d->off = 0;
    d->part = PART_DOTS;
    d->last[0] = '\0';
    memcpy(d->path, path, len + 1);
    return d;
}

int list_in_parts(vrmfs *fs, fill_ctx *c, dirh *d, off_t off, const part_fn *parts,
                  int nparts, const void *arg)
{
    int rpart = PART_DOTS, rc = 0, i;
    const char *rafter = NULL;
    char after[sizeof d->last];

    c->d = d;
    if (off != 0 && off == d->off) {   /* where the last readdir stopped */
        rpart = d->part;
        snprintf(after, sizeof after, "%s", d->last);
        rafter = after;
        c->n = off;
    } else {                           /* the start, or a seekdir */
        c->n = 0;
        c->skip = off;
    }
    if (part_begin(c, PART_DOTS, rpart, rafter)) {
        if (c->after == NULL && emit(c, ".", ".", NULL) != 0)
            return 0;
        if ((c->after == NULL || strcmp(c->after, ".") == 0) && emit(c, "..", "..", NULL) != 0)
            return 0;
    }
    for (i = 0; i < nparts && rc == 0; i++)
        if (part_begin(c, PART_MAIN + i, rpart, rafter))
            rc = parts[i](fs, c, arg);
    return rc < 0 ? rc : 0;
}

int text_handle(struct fuse_file_info *fi, enum handle_kind kind, const node *n, size_t max)
{
    handle *h = handle_new(kind, n, 1);

    if (h == NULL)
        return -ENOMEM;
    h->max = max;
    h->dirty = 1;
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 1;
    return 0;
}

int snapshot_handle(struct fuse_file_info *fi, enum handle_kind kind, const node *n,
                    char *text, size_t len)
{
    handle *h = handle_new(kind, n, 0);

    if (h == NULL) {
        free(text);
        return -ENOMEM;
    }
    h->buf = text;
    h->len = h->cap = len;
    h->fresh = 1;
    fi->fh = (uint64_t)(uintptr_t)h;
    /* a view file goes through the page cache (keep_cache off: each open
     * reads anew): its size is kept true by invalidations (view_changed,
     * view_record_changed); direct I/O would cost a request per read */
    fi->direct_io = kind != H_VIEW;
    fi->keep_cache = 0;
    return 0;
}
