/*
 * fuzz.c: what the fuzz targets share (see fuzz.h).
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#define VAULTS_MAX 4

static char *tmpdir;                        /* this process's directory */
static vrm_vault *opened[VAULTS_MAX];       /* closed at exit */
static int accepted;

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s (last libvrm message: %s)\n", file, line,
            what, vrm_error_message());
    abort();
}

void fuzz_accept(void)
{
    accepted = 1;
}

int fuzz_accepted(void)
{
    int a = accepted;

    accepted = 0;
    return a;
}

/* Targets with hand-written seeds only. */
__attribute__((weak)) int fuzz_seeds(const char *dir)
{
    (void)dir;
    fprintf(stderr, "this target has no generated seeds: its corpus is written by hand\n");
    return 1;
}

/* ---- a fixed stream for randombytes ---------------------------------------
 *
 * Call n of the stream is ChaCha20 under FIXED_KEY with nonce n, so calls
 * made from several threads (the vault's checkpointer) stay safe; what the
 * vault's creation draws, before any thread exists, is the same in every
 * run. */

static const unsigned char FIXED_KEY[crypto_stream_chacha20_KEYBYTES] =
    "vrmfs fuzz targets, never secret";
static _Atomic uint64_t fixed_calls;

static const char *fixed_name(void)
{
    return "vrmfs-fuzz-fixed";
}

static void fixed_buf(void *buf, size_t n)
{
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    uint64_t c = atomic_fetch_add(&fixed_calls, 1);
    size_t i;

    for (i = 0; i < sizeof nonce && i < sizeof c; i++)
        nonce[i] = (unsigned char)(c >> (8 * i));
    crypto_stream_chacha20(buf, n, nonce, FIXED_KEY);
}

static uint32_t fixed_random(void)
{
    uint32_t r;

    fixed_buf(&r, sizeof r);
    return r;
}

static randombytes_implementation fixed_impl = {
    .implementation_name = fixed_name,
    .random = fixed_random,
    .buf = fixed_buf,
};

void fuzz_fixed_random(void)
{
    if (randombytes_set_implementation(&fixed_impl) != 0 || sodium_init() < 0) {
        fprintf(stderr, "fuzz: cannot set up libsodium\n");
        abort();
    }
}

/* ---- files and vaults -------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void fuzz_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void at_exit(void)
{
    size_t i;

    for (i = 0; i < VAULTS_MAX; i++)
        if (opened[i] != NULL && vrm_vault_close(opened[i]) != 0)
            fprintf(stderr, "fuzz: closing a vault at exit: %s\n", vrm_error_message());
    if (tmpdir != NULL)
        fuzz_rmtree(tmpdir);
    free(tmpdir);
}

const char *fuzz_tmpdir(void)
{
    const char *base;

    if (tmpdir != NULL)
        return tmpdir;
    base = getenv("TMPDIR");
    if (asprintf(&tmpdir, "%s/vrmfuzz.XXXXXX", base != NULL && *base ? base : "/tmp") < 0 ||
        mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "fuzz: cannot make a temporary directory: %s\n", strerror(errno));
        abort();
    }
    atexit(at_exit);
    return tmpdir;
}

char *fuzz_path(const char *name)
{
    char *p;

    if (asprintf(&p, "%s/%s", fuzz_tmpdir(), name) < 0)
        abort();
    return p;
}

static int keep_recovery(void *ctx, const char *key)
{
    if (ctx != NULL)
        snprintf(ctx, VRM_RECOVERY_KEY_LEN + 1, "%s", key);
    return 0;
}

char *fuzz_vault_create(const char *name, char rec[VRM_RECOVERY_KEY_LEN + 1])
{
    vrm_kdf_limits lim = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    char *path = fuzz_path(name);

    if (vrm_vault_create(path, FUZZ_PASS, strlen(FUZZ_PASS), &lim, keep_recovery, rec) != 0) {
        fprintf(stderr, "fuzz: vrm_vault_create(%s): %s\n", path, vrm_error_message());
        abort();
    }
    return path;
}

vrm_vault *fuzz_vault_open(const char *path)
{
    vrm_vault *v = NULL;
    size_t i;

    if (vrm_vault_open(&v, path, FUZZ_PASS, strlen(FUZZ_PASS), 0) != 0) {
        fprintf(stderr, "fuzz: vrm_vault_open(%s): %s\n", path, vrm_error_message());
        abort();
    }
    for (i = 0; i < VAULTS_MAX && opened[i] != NULL; i++)
        ;
    if (i == VAULTS_MAX)
        abort();
    opened[i] = v;
    return v;
}

void fuzz_vault_close(vrm_vault *v)
{
    size_t i;

    for (i = 0; i < VAULTS_MAX; i++)
        if (opened[i] == v)
            opened[i] = NULL;
    if (vrm_vault_close(v) != 0) {
        fprintf(stderr, "fuzz: vrm_vault_close: %s\n", vrm_error_message());
        abort();
    }
}

void fuzz_vault_renew(vrm_vault **v, const char *name)
{
    char *path;

    if (*v != NULL) {
        fuzz_vault_close(*v);
        *v = NULL;
        path = fuzz_path(name);
        fuzz_rmtree(path);
        free(path);
    }
    path = fuzz_vault_create(name, NULL);
    *v = fuzz_vault_open(path);
    free(path);
}

void fuzz_write(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *p = buf;

    if (fd < 0) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        abort();
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0)
        abort();
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

int fuzz_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0, k, more;
    unsigned long cp, min;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] >= 0xc0 && s[i] < 0xe0) {
            more = 1, cp = s[i] & 0x1f, min = 0x80;
        } else if (s[i] >= 0xe0 && s[i] < 0xf0) {
            more = 2, cp = s[i] & 0x0f, min = 0x800;
        } else if (s[i] >= 0xf0 && s[i] < 0xf8) {
            more = 3, cp = s[i] & 0x07, min = 0x10000;
        } else {
            return 0;                 /* a continuation byte, or 0xf8-0xff */
        }
        if (n - i <= more)
            return 0;
        for (k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += more + 1;
    }
    return 1;
}

int fuzz_json_contained(const cJSON *a, const cJSON *b)
{
    const cJSON *x, *y;

    if (cJSON_IsObject(a)) {
        if (!cJSON_IsObject(b))
            return 0;
        cJSON_ArrayForEach(x, a) {
            y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            if (y == NULL || !fuzz_json_contained(x, y))
                return 0;
        }
        return 1;
    }
    if (cJSON_IsArray(a)) {
        if (!cJSON_IsArray(b))
            return 0;
        /* in order: each element matched to the first one of b left that
         * contains it (greedy is enough for a subsequence) */
        y = b->child;
        cJSON_ArrayForEach(x, a) {
            while (y != NULL && !fuzz_json_contained(x, y))
                y = y->next;
            if (y == NULL)
                return 0;
            y = y->next;
        }
        return 1;
    }
    return cJSON_Compare(a, b, 1);
}

void fuzz_write_variant(const char *dir, const char *name, const char *text, const char *what,
                        const char *from, const char *to)
{
    const char *at = from != NULL ? strstr(text, from) : NULL;
    char *path, *out;

    if (from != NULL && at == NULL) {
        fprintf(stderr, "seeds: %s: \"%s\" not in %s\n", name, from, what);
        abort();
    }
    if (at == NULL)
        out = strdup(text);
    else if (asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) < 0)
        out = NULL;
    if (out == NULL || asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    fuzz_write(path, out, strlen(out));
    free(path);
    free(out);
}
