/*
 * bench_messages.c: how fast messages are queued (checked, signed, sealed and
 * committed) and delivered through a dir: endpoint, in a real vault.
 *
 *   bench-messages [--messages N] [--threads T] [--dir DIR] [--kind note|disclose]
 *
 * Queues N messages to one vendor with vrm_outbox_submit, one transaction
 * each (as the mount does for each file written to outbox/VENDOR/), then
 * delivers them all with T threads calling vrm_outbox_deliver (as the
 * daemon's delivery threads do) into a maildir, and checks that every
 * message arrived once and opens with the vendor's key.  Prints both rates.
 */
#include "vrm.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PASS "bench passphrase"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench-messages: %s: %s\n", what,
            rc < 0 ? vrm_error_message() : strerror(rc));
    exit(1);
}

typedef struct deliverer {
    vrm_vault *v;
    long done;
    int rc;
} deliverer;

static void *deliver_main(void *arg)
{
    deliverer *d = arg;

    for (;;) {
        int n = vrm_outbox_deliver(d->v, 64, NULL);

        if (n < 0) {
            d->rc = n;
            break;
        }
        if (n == 0)
            break;
        d->done += n;
    }
    return NULL;
}

/* The recovery key of a throwaway vault is not kept. */
static int drop_key(void *ctx, const char *key)
{
    (void)ctx;
    (void)key;
    return 0;
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static int rm_tree(const char *path)
{
    char cmd[4200];

    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", path);
    return system(cmd);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"messages", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"dir", required_argument, NULL, 'd'},
        {"kind", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", *kind = "note";
    long n = 10000, i;
    int threads = 4, c, rc;
    char work[4096], vault[4200], spool[4200], endpoint[4300], keys[4200], body[4400];
    vrm_kdf_limits limits = {1, 8192 * 1024};
    vrm_vendor_keys *vk = NULL;
    deliverer *ds;
    pthread_t *tids;
    vrm_vault *v;
    double t0, t1, t2;
    long delivered = 0;

    while ((c = getopt_long(argc, argv, "n:t:d:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            n = strtol(optarg, NULL, 10);
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 'd':
            base = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 'h':
            printf("usage: bench-messages [--messages N] [--threads T] [--dir DIR] "
                   "[--kind note|disclose]\n");
            return 0;
        default:
            return 2;
        }
    }
    if (n < 1 || threads < 1 || threads > 64 ||
        (strcmp(kind, "note") != 0 && strcmp(kind, "disclose") != 0)) {
        fprintf(stderr, "bench-messages: bad arguments (see --help)\n");
        return 2;
    }
    snprintf(work, sizeof work, "%s/bench-messages.XXXXXX", base);
    if (mkdtemp(work) == NULL)
        die("mkdtemp", errno);
    snprintf(vault, sizeof vault, "%s/vault", work);
    snprintf(spool, sizeof spool, "%s/spool", work);
    snprintf(keys, sizeof keys, "%s/keys", work);
    snprintf(endpoint, sizeof endpoint, "dir:%s", spool);
    if (mkdir(spool, 0700) != 0)
        die("mkdir", errno);
    if ((rc = vrm_vault_create(vault, PASS, strlen(PASS), &limits, drop_key, NULL)) != 0)
        die("creating the vault", rc);
    if ((rc = vrm_vault_open(&v, vault, PASS, strlen(PASS), 0)) != 0)
        die("opening the vault", rc);
    if ((rc = vrm_transport_init()) != 0)
        die("transport", rc);
    if ((rc = vrm_vendor_keys_generate(&vk)) != 0 || (rc = vrm_vendor_keys_save(vk, keys)) != 0)
        die("vendor keys", rc);
    if ((rc = vrm_vendor_create(v, "acme")) != 0)
        die("vendor", rc);
    snprintf(body, sizeof body, "{\"name\": \"ACME\", \"keys\": {\"ed25519\": \"%s\", "
             "\"x25519\": \"%s\"}, \"endpoint\": \"%s\"}", vrm_vendor_keys_ed25519(vk),
             vrm_vendor_keys_x25519(vk), endpoint);
    if ((rc = vrm_vendor_put(v, "acme", body, strlen(body))) != 0)
        die("vendor.json", rc);
    if (strcmp(kind, "disclose") == 0) {
        static const char rec[] = "{\"email\": \"ann@example.org\", \"address\": "
                                  "{\"city\": \"Paris\", \"zip\": \"75002\"}}";

        if ((rc = vrm_collection_create(v, "profile")) != 0 ||
            (rc = vrm_record_put(v, "profile", "me", rec, sizeof rec - 1, 0, NULL)) != 0)
            die("profile", rc);
    }

    t0 = now_s();
    for (i = 0; i < n; i++) {
        char msg[200];
        int m = strcmp(kind, "note") == 0
                    ? snprintf(msg, sizeof msg, "{\"kind\": \"note\", \"text\": \"message %ld\"}", i)
                    : snprintf(msg, sizeof msg, "{\"kind\": \"disclose\", \"fields\": "
                               "[\"profile.address.city\"], \"purpose\": \"order %ld\"}", i);

        rc = vrm_outbox_submit(v, "acme", msg, (size_t)m, NULL, NULL);
        if (rc != 1)
            die("queueing", rc);
    }
    t1 = now_s();

    ds = calloc((size_t)threads, sizeof *ds);
    tids = calloc((size_t)threads, sizeof *tids);
    if (ds == NULL || tids == NULL)
        die("memory", ENOMEM);
    for (c = 0; c < threads; c++) {
        ds[c].v = v;
        if (pthread_create(&tids[c], NULL, deliver_main, &ds[c]) != 0)
            die("threads", errno);
    }
    for (c = 0; c < threads; c++) {
        pthread_join(tids[c], NULL);
        if (ds[c].rc != 0)
            die("delivering", ds[c].rc);
        delivered += ds[c].done;
    }
    t2 = now_s();

    {
        char newdir[4300];
        int64_t pending = 0, failing = 0;

        snprintf(newdir, sizeof newdir, "%s/new", spool);
        if ((rc = vrm_outbox_pending(v, &pending, &failing)) != 0)
            die("status", rc);
        if (delivered != n || count_dir(newdir) != n || pending != 0) {
            fprintf(stderr, "bench-messages: %ld tried, %d files in new/, %lld pending "
                    "(expected %ld, %ld, 0)\n", delivered, count_dir(newdir),
                    (long long)pending, n, n);
            return 1;
        }
    }
    printf("messages:  %ld %s messages to one dir: vendor, %d delivery threads\n", n, kind,
           threads);
    printf("queued:    %8.0f /s  (%.3f s: checked, signed, sealed, committed one by one)\n",
           (double)n / (t1 - t0), t1 - t0);
    printf("delivered: %8.0f /s  (%.3f s: claimed, written to tmp/, fsynced, renamed into "
           "new/, marked sent)\n", (double)n / (t2 - t1), t2 - t1);
    vrm_vendor_keys_free(vk);
    free(ds);
    free(tids);
    if ((rc = vrm_vault_close(v)) != 0)
        die("closing", rc);
    rm_tree(work);
    return 0;
}
