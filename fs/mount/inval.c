/*
 * inval.c: the invalidation thread (see mountfs.h): it tells the kernel to
 * forget cached attributes, pages and names, which a handler cannot do
 * itself without risking a deadlock with a related request, and once a
 * second runs the trees' ticks (tree_vendors.c: grants that have run out
 * expire).
 */
#define _GNU_SOURCE
#include "tree.h"

#include <fuse_lowlevel.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void inval_queue(vrmfs *fs, const char *path)
{
    char *copy;

    if (path == NULL || !fs->inval_running)
        return;
    copy = strdup(path);
    if (copy == NULL)
        return;  /* the attributes expire by themselves within a second */
    pthread_mutex_lock(&fs->mu);
    if (vrm_array_grow(&fs->inval_queue, &fs->inval_cap, fs->inval_len,
                       sizeof *fs->inval_queue) != 0) {
        pthread_mutex_unlock(&fs->mu);
        free(copy);
        return;
    }
    fs->inval_queue[fs->inval_len++] = copy;
    pthread_cond_signal(&fs->inval_cv);
    pthread_mutex_unlock(&fs->mu);
}

/* The node id the kernel knows the directory `path` (in the mount) by, or
 * 0 if it cannot be told.  libfuse's high-level API maps no path to a node
 * id, and st_ino is not one (op_init: use_ino), but Linux's FUSE module
 * puts the node id in the file handles it makes for NFS export
 * (fuse_encode_fh: type FILEID_INO64_GEN, 0x81, or with the parent 0x82;
 * words 0 and 1 the node id's high and low halves, word 2 the generation),
 * and name_to_handle_at(2) hands them to anyone, on any FUSE mount.  A
 * handle of another shape gives 0: the entry is not invalidated, and its
 * timeout (op_init) bounds how long the kernel keeps it. */
static fuse_ino_t node_id(const char *path)
{
    union {
        struct file_handle fh;
        char room[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } u;
    uint32_t w[3];
    int mount_id, fd, rc;

    /* The lookup is an open's and the handle the descriptor's: valgrind
     * (--sim-hints=fuse-compatible) lets the daemon's other threads serve
     * an open of its own mount, but not a name_to_handle_at of a path. */
    fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    u.fh.handle_bytes = MAX_HANDLE_SZ;
    rc = name_to_handle_at(fd, "", &u.fh, &mount_id, AT_EMPTY_PATH);
    close(fd);
    if (rc != 0 || (u.fh.handle_type != 0x81 && u.fh.handle_type != 0x82) ||
        u.fh.handle_bytes < sizeof w)
        return 0;
    memcpy(w, u.fh.f_handle, sizeof w);
    return (fuse_ino_t)w[0] << 32 | w[1];
}

/* Make the kernel forget the name `path` ("/views/acme") and every name
 * below it.  libfuse's high-level API invalidates inodes only, so this goes
 * to the low level, with the parent's node id from node_id().  Only while
 * the session serves requests: the lookup of the parent is one. */
typedef struct parent_cache {
    char path[PATH_MAX];              /* the last parent looked up, or "" */
    fuse_ino_t ino;
} parent_cache;

static void inval_entry(vrmfs *fs, const char *path, parent_cache *pc)
{
    struct fuse_session *se = fuse_get_session(fs->fuse);
    const char *slash = strrchr(path, '/');
    char parent[PATH_MAX];
    fuse_ino_t ino = FUSE_ROOT_ID;
    int n;

    if (slash == NULL || slash[1] == '\0' || fs->mnt == NULL || fuse_session_exited(se))
        return;
    if (slash != path) {
        n = snprintf(parent, sizeof parent, "%s%.*s", fs->mnt, (int)(slash - path), path);
        if (n < 0 || (size_t)n >= sizeof parent)
            return;
        if (strcmp(parent, pc->path) == 0) {
            ino = pc->ino;
        } else {
            ino = node_id(parent);
            if (ino == 0)
                return;   /* gone (its own entry is invalidated next), or no handle */
            strcpy(pc->path, parent);
            pc->ino = ino;
        }
    }
    fuse_lowlevel_notify_inval_entry(se, ino, slash + 1, strlen(slash + 1));
}

static void *inval_main(void *arg)
{
    vrmfs *fs = arg;
    /* a view's files come one after another: their folder is looked up
     * once per drain of the queue (node ids may change between drains) */
    static parent_cache pc;

    struct timespec tick;
    int i;

    clock_gettime(CLOCK_REALTIME, &tick);
    pthread_mutex_lock(&fs->mu);
    for (;;) {
        while (fs->inval_len == 0 && !fs->inval_stop) {
            struct timespec ts;

            now(&ts);
            if (ts.tv_sec > tick.tv_sec) {  /* once a second */
                tick = ts;
                pthread_mutex_unlock(&fs->mu);
                for (i = 0; i < T_COUNT; i++)
                    if (trees[i]->tick != NULL)
                        trees[i]->tick(fs);
                pthread_mutex_lock(&fs->mu);
                continue;
            }
            ts.tv_sec += 1;
            ts.tv_nsec = 0;
            pthread_cond_timedwait(&fs->inval_cv, &fs->mu, &ts);
        }
        if (fs->inval_len == 0)
            break;
        {
            char *path = fs->inval_queue[--fs->inval_len];

            fs->inval_busy = 1;   /* before mu is let go: inval_wait must not
                                     see an empty queue and an idle thread
                                     while this one is still to be sent */
            pthread_mutex_unlock(&fs->mu);
            if (path[0] == '!') {
                if (!fs->inval_stop)
                    inval_entry(fs, path + 1, &pc);
            } else {
                fuse_invalidate_path(fs->fuse, path);  /* -ENOENT if not cached: fine */
            }
            free(path);
            pthread_mutex_lock(&fs->mu);
            fs->inval_busy = 0;
            if (fs->inval_len == 0) {
                pc.path[0] = '\0';
                pthread_cond_broadcast(&fs->inval_idle);
            }
        }
    }
    pthread_mutex_unlock(&fs->mu);
    return NULL;
}

void inval_wait(vrmfs *fs)
{
    struct timespec until;

    if (!fs->inval_running)
        return;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&fs->mu);
    while ((fs->inval_len > 0 || fs->inval_busy) && !fs->inval_stop)
        if (pthread_cond_timedwait(&fs->inval_idle, &fs->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&fs->mu);
}

int vrmfs_inval_start(vrmfs *fs)
{
    if (pthread_cond_init(&fs->inval_cv, NULL) != 0)
        return -1;
    if (pthread_cond_init(&fs->inval_idle, NULL) != 0) {
        pthread_cond_destroy(&fs->inval_cv);
        return -1;
    }
    if (pthread_create(&fs->inval_thread, NULL, inval_main, fs) != 0) {
        pthread_cond_destroy(&fs->inval_cv);
        pthread_cond_destroy(&fs->inval_idle);
        return -1;
    }
    fs->inval_running = 1;
    return 0;
}

void vrmfs_inval_stop(vrmfs *fs)
{
    if (!fs->inval_running)
        return;
    pthread_mutex_lock(&fs->mu);
    fs->inval_stop = 1;
    pthread_cond_signal(&fs->inval_cv);
    pthread_mutex_unlock(&fs->mu);
    pthread_join(fs->inval_thread, NULL);
    fs->inval_running = 0;
    while (fs->inval_len > 0)
        free(fs->inval_queue[--fs->inval_len]);
    free(fs->inval_queue);
    fs->inval_queue = NULL;
    pthread_cond_destroy(&fs->inval_cv);
    pthread_cond_destroy(&fs->inval_idle);
}
