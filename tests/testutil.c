/*
 * testutil.c: see testutil.h.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "consent/receipt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

char *tu_path(const char *dir, const char *name)
{
    char *p = NULL;

    if (asprintf(&p, "%s/%s", dir, name) < 0)
        fail_msg("out of memory");
    return p;
}

char *tu_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *t = tu_path(base && *base ? base : "/tmp", "vrmtest.XXXXXX");

    if (mkdtemp(t) == NULL)
        fail_msg("mkdtemp: %s", strerror(errno));
    return t;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_cleanup(char *dir)
{
    if (dir != NULL)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static int ignore_key(void *ctx, const char *key)
{
    (void)ctx;
    (void)key;
    return 0;
}

char *tu_make_vault(const char *dir, const char *name)
{
    vrm_kdf_limits lim = {1, 8192};
    char *path = tu_path(dir, name);
    int rc = vrm_vault_create(path, TU_PASS, strlen(TU_PASS), &lim, ignore_key, NULL);

    if (rc != 0)
        fail_msg("vrm_vault_create(%s): %s", path, vrm_error_message());
    return path;
}

vrm_vault *tu_open(const char *vault)
{
    vrm_vault *v = NULL;
    int rc = vrm_vault_open(&v, vault, TU_PASS, strlen(TU_PASS), 0);

    if (rc != 0)
        fail_msg("vrm_vault_open(%s): %d %s", vault, rc, vrm_error_message());
    return v;
}

int tu_setup(void **state)
{
    tu_fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->tmp = tu_tempdir();
    f->vault = tu_make_vault(f->tmp, "vault");
    f->v = tu_open(f->vault);
    *state = f;
    return 0;
}

int tu_teardown(void **state)
{
    tu_fixture *f = *state;

    assert_int_equal(vrm_vault_close(f->v), 0);
    free(f->vault);
    tu_cleanup(f->tmp);
    free(f);
    return 0;
}

static int count_receipt(void *ctx, int64_t n)
{
    int64_t *c = ctx;

    (*c)++;
    assert_int_equal(n, *c);        /* numbered 1, 2, ... */
    return 0;
}

int64_t tu_receipt_count(vrm_vault *v, const char *vendor)
{
    int64_t c = 0;

    assert_int_equal(vrm_receipt_list(v, vendor, count_receipt, &c), 0);
    return c;
}

cJSON *tu_receipt_payload(vrm_vault *v, const char *vendor, int64_t n)
{
    char *out = NULL;
    size_t len = 0;
    cJSON *p;
    int rc = vrm_receipt_get(v, vendor, n, 0, &out, &len);

    if (rc != 0)
        fail_msg("receipt %s/%" PRId64 ": %d %s", vendor, n, rc, vrm_error_message());
    p = cJSON_Parse(out);
    free(out);
    assert_non_null(p);
    return p;
}

int tu_file_contains(const char *path, const void *needle, size_t n)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    char *buf;
    int found;

    if (fd < 0 || fstat(fd, &st) != 0)
        fail_msg("%s: %s", path, strerror(errno));
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size)
        fail_msg("read %s", path);
    close(fd);
    found = memmem(buf, (size_t)st.st_size, needle, n) != NULL;
    free(buf);
    return found;
}

char *tu_find_in_tree(const char *dir, const void *needle, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *hit = NULL;

    if (d == NULL)
        fail_msg("opendir %s: %s", dir, strerror(errno));
    while (hit == NULL && (e = readdir(d)) != NULL) {
        struct stat st;
        char *p;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        p = tu_path(dir, e->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            hit = tu_find_in_tree(p, needle, n);
        else if (S_ISREG(st.st_mode) && tu_file_contains(p, needle, n))
            hit = strdup(p);
        free(p);
    }
    closedir(d);
    return hit;
}

void tu_flip(const char *path, off_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    uint8_t b = 0;

    if (fd < 0 || pread(fd, &b, 1, off) != 1)
        fail_msg("flip %s at %lld: %s", path, (long long)off, strerror(errno));
    b ^= mask;
    if (pwrite(fd, &b, 1, off) != 1)
        fail_msg("flip %s: %s", path, strerror(errno));
    close(fd);
}

void tu_copy_range(const char *path, off_t from, off_t to, size_t len)
{
    int fd = open(path, O_RDWR);
    char *buf = malloc(len);

    if (fd < 0 || buf == NULL || pread(fd, buf, len, from) != (ssize_t)len ||
        pwrite(fd, buf, len, to) != (ssize_t)len)
        fail_msg("copy range in %s: %s", path, strerror(errno));
    free(buf);
    close(fd);
}

void tu_copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out;
    char buf[65536];
    ssize_t n;

    if (in < 0)
        fail_msg("%s: %s", from, strerror(errno));
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0)
        fail_msg("%s: %s", to, strerror(errno));
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            fail_msg("write %s", to);
    close(in);
    close(out);
}

off_t tu_file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : -1;
}

char *tu_body(unsigned i, const char *marker)
{
    static const char *const merchants[] = {"acme", "bikeshop", "grocer", "airline", "cafe"};
    unsigned pad = (i * 37u) % 700u;
    char *fill = malloc(pad + 1), *out = NULL;

    if (fill == NULL)
        fail_msg("out of memory");
    for (unsigned k = 0; k < pad; k++)
        fill[k] = (char)('a' + (i + k) % 26);
    fill[pad] = '\0';
    if (asprintf(&out, "{\"i\": %u, \"date\": \"2026-%02u-%02u\", \"amount\": %u.%02u, "
                 "\"merchant\": \"%s\", \"note\": \"%s\", \"fill\": \"%s\"}",
                 i, 1 + i % 12, 1 + i % 28, i % 500, i % 100, merchants[i % 5],
                 marker ? marker : "", fill) < 0)
        fail_msg("out of memory");
    free(fill);
    return out;
}
