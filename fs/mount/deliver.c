/*
 * deliver.c: the daemon's delivery threads.
 *
 * DELIVER_THREADS threads each take the next message that is due
 * (vrm_outbox_deliver claims it, so no two send the same one), send it
 * without holding the vault's lock, and record the outcome; a slow vendor
 * holds up one thread, not the others.  When nothing is due they sleep
 * until the next retry, a new message (vrmfs_deliver_wake), or a second at
 * most.  The first thread also takes in vendors' replies from the spools
 * (vrm_inbox_scan) once a second.  Nothing runs on a read-only mount.
 */
#include "mountfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static void note(vrmfs *fs, const char *what, int rc)
{
    if (fs->foreground)
        fprintf(stderr, "vrmfs: %s: %s\n", what, vrm_error_message());
    else
        syslog(LOG_WARNING, "%s: %s", what, vrm_error_message());
    (void)rc;
}

typedef struct worker {
    vrmfs *fs;
    int first;                        /* also scans the inbox */
} worker;

static worker workers[DELIVER_THREADS];

static void *deliver_main(void *arg)
{
    worker *w = arg;
    vrmfs *fs = w->fs;
    struct timespec last_scan = {0, 0};

    for (;;) {
        struct timespec now, until;
        int64_t next = 0, now_ns, wait_ns;
        unsigned seen;
        int rc;

        pthread_mutex_lock(&fs->deliver_mu);
        seen = fs->deliver_gen;
        if (fs->deliver_stop) {
            pthread_mutex_unlock(&fs->deliver_mu);
            break;
        }
        pthread_mutex_unlock(&fs->deliver_mu);

        clock_gettime(CLOCK_REALTIME, &now);
        if (w->first && now.tv_sec != last_scan.tv_sec) {
            last_scan = now;
            rc = vrm_inbox_scan(fs->v, fs->vault_dir);
            if (rc < 0)
                note(fs, "taking in replies", rc);
        }
        rc = vrm_outbox_deliver(fs->v, 16, &next);
        if (rc < 0)
            note(fs, "delivering messages", rc);
        if (rc > 0)
            continue;   /* more may be due */

        clock_gettime(CLOCK_REALTIME, &now);
        now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        wait_ns = 1000000000;
        if (next > 0 && next - now_ns < wait_ns)
            wait_ns = next - now_ns > 0 ? next - now_ns : 0;
        until.tv_sec = (time_t)((now_ns + wait_ns) / 1000000000);
        until.tv_nsec = (long)((now_ns + wait_ns) % 1000000000);
        pthread_mutex_lock(&fs->deliver_mu);
        while (!fs->deliver_stop && fs->deliver_gen == seen)
            if (pthread_cond_timedwait(&fs->deliver_cv, &fs->deliver_mu, &until) != 0)
                break;
        pthread_mutex_unlock(&fs->deliver_mu);
    }
    return NULL;
}

int vrmfs_deliver_start(vrmfs *fs)
{
    int i;

    if (fs->read_only)
        return 0;
    if (pthread_mutex_init(&fs->deliver_mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&fs->deliver_cv, NULL) != 0) {
        pthread_mutex_destroy(&fs->deliver_mu);
        return -1;
    }
    fs->deliver_stop = 0;
    for (i = 0; i < DELIVER_THREADS; i++) {
        workers[i].fs = fs;
        workers[i].first = i == 0;
        if (pthread_create(&fs->deliver_threads[i], NULL, deliver_main, &workers[i]) != 0)
            break;
        fs->deliver_running++;
    }
    return fs->deliver_running > 0 ? 0 : -1;
}

void vrmfs_deliver_wake(vrmfs *fs)
{
    if (fs->deliver_running == 0)
        return;
    pthread_mutex_lock(&fs->deliver_mu);
    fs->deliver_gen++;
    pthread_cond_broadcast(&fs->deliver_cv);
    pthread_mutex_unlock(&fs->deliver_mu);
}

void vrmfs_deliver_stop(vrmfs *fs)
{
    int i;

    if (fs->deliver_running == 0)
        return;
    pthread_mutex_lock(&fs->deliver_mu);
    fs->deliver_stop = 1;
    pthread_cond_broadcast(&fs->deliver_cv);
    pthread_mutex_unlock(&fs->deliver_mu);
    for (i = 0; i < fs->deliver_running; i++)
        pthread_join(fs->deliver_threads[i], NULL);
    fs->deliver_running = 0;
    pthread_cond_destroy(&fs->deliver_cv);
    pthread_mutex_destroy(&fs->deliver_mu);
}
