/*
 * mountfs.h: the mounted filesystem's shared state and operations table
 * (ops.c; the trees that serve it: tree.h).
 *
 * Threading: libfuse's multi-threaded loop calls the handlers concurrently.
 * libvrm serialises database access itself (the vault's mutex).  The state
 * below that lives only in the daemon (records being written but not yet
 * committed, the error log) is guarded by `mu`; an open file
 * handle is guarded by its own mutex, taken after `mu` when both are held.
 */
#ifndef VRMFS_MOUNTFS_H
#define VRMFS_MOUNTFS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <pthread.h>
#include <sys/types.h>

#include "nameset.h"
#include "vrm.h"

typedef struct handle handle;

typedef struct vscratch {
    char vendor[VRM_VENDOR_MAX + 1];
    char name[256];
    char *buf;                        /* its bytes, len of them */
    size_t len;
    struct timespec mtime;
    struct vscratch *next;
} vscratch;

#define DELIVER_THREADS 4             /* messages sent at once */

typedef struct vrmfs {
    vrm_vault *v;                     /* the open vault */
    char *vault_dir;                  /* absolute path of the vault */
    const char *mnt;                  /* absolute path of the mount point */
    uid_t uid;                        /* owner shown for every file */
    gid_t gid;
    struct timespec mounted;          /* times of the fixed directories */
    int foreground;                   /* log to stderr, not syslog */
    int read_only;                    /* mounted with -o ro */
    vrm_grants_due grants_due;        /* the expiry's last scan (tree_vendors.c's
                                         tick): the invalidation thread's alone */
    pthread_mutex_t mu;               /* guards the fields below */
    handle *pending;                  /* records created, not yet committed */
    /* Paths whose cached attributes the kernel must drop (a record's size
     * changes when it is committed at close), or, written "!PATH", whose
     * cached name and everything below it (a view whose grants changed).
     * A thread of its own sends the invalidations: sent from the handler of
     * a related request they could deadlock. */
    struct fuse *fuse;                /* set before the loop starts */
    pthread_t inval_thread;
    int inval_running;                /* the thread was started */
    pthread_cond_t inval_cv;          /* guarded by mu, like the queue */
    char **inval_queue;               /* malloc'd paths, inval_len of them */
    size_t inval_len, inval_cap;
    int inval_stop;
    int inval_busy;                   /* the thread is sending one (mu) */
    pthread_cond_t inval_idle;        /* signalled when the queue drains */
    /* vendors/<v>/vendor.json and grants.json removed with rm (mv from
     * another file system removes the target before creating it again):
     * absent until created again or the vendor goes.  "<v>/grants.json". */
    char **removed;
    size_t nremoved;
    /* Tools' temporary files in vendors/<v>/ (sed -i, vim's swap file): kept
     * in memory only, since they hold nothing but a draft of vendor.json or
     * grants.json; renaming one onto either commits it. */
    struct vscratch *vscratch;
    /* Paths under views/ that lookups found (folders and files): what the
     * kernel may hold in its caches, so what a change of grants must
     * invalidate, name by name (a folder pinned by an open file would come
     * back with its cached children otherwise). */
    nameset viewnames;
    /* The delivery threads (deliver.c).  deliver_mu guards the fields
     * below it; deliver_gen moves on when a message is queued. */
    pthread_t deliver_threads[DELIVER_THREADS];
    int deliver_running;              /* threads started */
    pthread_mutex_t deliver_mu;
    pthread_cond_t deliver_cv;
    unsigned deliver_gen;
    int deliver_stop;
    char *errlog;                     /* .vrmfs/errors.log, newest last */
    size_t errlen;                    /* bytes used in errlog */
} vrmfs;

/* The operations for fuse_new(); private data is a vrmfs. */
extern const struct fuse_operations vrmfs_ops;

/* A line in the daemon's log: standard error in the foreground (with
 * "vrmfs: " before it), else syslog at `prio`. */
void vrmfs_log(const vrmfs *fs, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a refusal: in .vrmfs/errors.log and in the daemon's log. */
void vrmfs_refusal(vrmfs *fs, const char *path, const char *reason);

/* Start and stop the invalidation thread (around the loop). */
int vrmfs_inval_start(vrmfs *fs);
void vrmfs_inval_stop(vrmfs *fs);

/* Free what the daemon holds in memory (after the loop ends). */
void vrmfs_release_state(vrmfs *fs);

/* deliver.c: start (not on a read-only mount), wake (a message was
 * queued) and stop the delivery threads. */
int vrmfs_deliver_start(vrmfs *fs);
void vrmfs_deliver_wake(vrmfs *fs);
void vrmfs_deliver_stop(vrmfs *fs);

#endif
