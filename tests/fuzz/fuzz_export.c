/*
 * fuzz_export.c: an export directory handed to `vrmfs import-all`
 * (vrm_import_all), one of its index files replaced by the input.
 *
 * Once per process a vault with something in every table that a short
 * setup can fill (collections and records, a file with an xattr, a hard
 * link and a symbolic link, a vendor with grants and so a receipt, a
 * custom query) is exported with vrm_export.  The input's first byte picks
 * one index (export.json's "indexes", in order), the rest replaces that
 * file, and export.json is given the new file's sha256 and line count, so
 * that the input reaches the line parser instead of the checksum.  Then it
 * is imported into a new, empty vault, which is discarded afterwards, and
 * the template is put back.
 *
 * Checks: 0, or a negative errno with a message; an imported vault checks
 * clean (receipts and access logs, which import-all verifies itself) and
 * exports again.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "export.h"

#define NINDEX 13                     /* records, files and the 11 tables */

static char *template_dir;            /* the export */
static char *manifest;                /* its export.json, as written */
static size_t manifest_len;
static char *names[NINDEX];           /* its indexes, in order */
static char *texts[NINDEX];           /* and their contents */
static size_t lens[NINDEX];
static size_t nindex;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void fill(vrm_vault *v)
{
    static const char rec[] = "{\"name\": \"Ann\", \"city\": \"Paris\"}";
    static const char fin[] = "{\"date\": \"2026-10-02\", \"amount\": -12.5, \"merchant\": \"Cafe\"}";
    static const char grants[] =
        "{\"grants\": [{\"fields\": [\"profile.name\"], \"purpose\": \"fuzz\", "
        "\"until\": \"2031-01-01T00:00:00Z\"}]}";
    static const char query[] = "SELECT json_extract(body, '$.merchant') AS m FROM records";
    vrm_stat st;
    int64_t receipt;

    if (vrm_collection_create(v, "profile") != 0 || vrm_collection_create(v, "finance") != 0 ||
        vrm_record_put(v, "profile", "me", rec, sizeof rec - 1, 0, NULL) != 0 ||
        vrm_record_put(v, "finance", "t1", fin, sizeof fin - 1, 0, NULL) != 0 ||
        vrm_files_mkdir(v, "/docs", 0755, 0, 0, NULL) != 0 ||
        vrm_files_create(v, "/docs/a.txt", 0640, 0, 0, &st) != 0 ||
        vrm_files_write(v, st.ino, "hello\n", 6, 0) != 6 ||
        vrm_files_setxattr(v, st.ino, "user.tag", "blue", 4, 0) != 0 ||
        vrm_files_link(v, "/docs/a.txt", "/docs/b.txt", NULL) != 0 ||
        vrm_files_symlink(v, "a.txt", "/docs/c", 0, 0, NULL) != 0 ||
        vrm_vendor_create(v, "acme") != 0 ||
        vrm_grants_put(v, "acme", grants, sizeof grants - 1, &receipt) != 0 ||
        vrm_analytics_custom_put(v, "merchants", query, sizeof query - 1) != 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *path, *vault;
    cJSON *m, *indexes, *entry;
    vrm_vault *v;

    (void)argc;
    (void)argv;
    fuzz_fixed_random();
    vault = fuzz_vault_create("source", NULL);
    v = fuzz_vault_open(vault);
    fill(v);
    template_dir = fuzz_path("export");
    if (vrm_export(v, template_dir, NULL, NULL) != 0) {
        fprintf(stderr, "fuzz_export: export failed: %s\n", vrm_error_message());
        abort();
    }
    fuzz_vault_close(v);
    free(vault);
    if (asprintf(&path, "%s/export.json", template_dir) < 0)
        abort();
    manifest = slurp(path, &manifest_len);
    free(path);
    m = cJSON_Parse(manifest);
    indexes = cJSON_GetObjectItemCaseSensitive(m, "indexes");
    cJSON_ArrayForEach(entry, indexes) {
        if (nindex == NINDEX)
            abort();
        names[nindex] = strdup(entry->string);
        if (asprintf(&path, "%s/%s", template_dir, entry->string) < 0)
            abort();
        texts[nindex] = slurp(path, &lens[nindex]);
        free(path);
        nindex++;
    }
    cJSON_Delete(m);
    if (nindex != NINDEX)
        abort();
    return 0;
}

/* export.json with index i's sha256 and rows set for data[0..size). */
static void write_manifest(size_t i, const uint8_t *data, size_t size)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char hexsum[crypto_hash_sha256_BYTES * 2 + 1], *path, *text;
    cJSON *m = cJSON_Parse(manifest), *entry;
    size_t rows = 0, k;

    for (k = 0; k < size; k++)
        rows += data[k] == '\n';
    crypto_hash_sha256(h, data, size);
    sodium_bin2hex(hexsum, sizeof hexsum, h, sizeof h);
    entry = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "indexes"),
                                             names[i]);
    cJSON_ReplaceItemInObjectCaseSensitive(entry, "sha256", cJSON_CreateString(hexsum));
    cJSON_ReplaceItemInObjectCaseSensitive(entry, "rows", cJSON_CreateNumber((double)rows));
    text = cJSON_Print(m);
    if (asprintf(&path, "%s/export.json", template_dir) < 0 || text == NULL)
        abort();
    fuzz_write(path, text, strlen(text));
    free(path);
    free(text);
    cJSON_Delete(m);
}

static void put_back(size_t i)
{
    char *path;

    if (asprintf(&path, "%s/%s", template_dir, names[i]) < 0)
        abort();
    fuzz_write(path, texts[i], lens[i]);
    free(path);
    if (asprintf(&path, "%s/export.json", template_dir) < 0)
        abort();
    fuzz_write(path, manifest, manifest_len);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path, *target = fuzz_path("new"), *again = fuzz_path("again");
    vrm_vault *v = NULL;
    size_t i;
    int rc;

    if (size < 1) {
        free(target);
        free(again);
        return 0;
    }
    i = data[0] % nindex;
    if (asprintf(&path, "%s/%s", template_dir, names[i]) < 0)
        abort();
    fuzz_write(path, data + 1, size - 1);
    free(path);
    write_manifest(i, data + 1, size - 1);

    fuzz_rmtree(target);
    free(target);
    target = fuzz_vault_create("new", NULL);
    v = fuzz_vault_open(target);
    rc = vrm_import_all(v, template_dir, NULL, NULL);
    FUZZ_CHECK(rc <= 0);
    if (rc != 0) {
        FUZZ_CHECK(vrm_error_message()[0] != '\0');
    } else {
        /* what came in holds together: it exports again */
        fuzz_rmtree(again);
        FUZZ_CHECK(vrm_receipt_verify_all(v) == 0);
        FUZZ_CHECK(vrm_accesslog_verify_all(v) == 0);
        FUZZ_CHECK(vrm_export(v, again, NULL, NULL) == 0);
        fuzz_rmtree(again);
        fuzz_accept();
    }
    fuzz_vault_close(v);
    fuzz_rmtree(target);
    put_back(i);
    free(target);
    free(again);
    return 0;
}

/* accept-NAME: each index as exported, behind its selector byte. */
int fuzz_seeds(const char *dir)
{
    size_t i;

    for (i = 0; i < nindex; i++) {
        char *path, *base = strdup(names[i]), *slash;
        uint8_t *buf = malloc(lens[i] + 1);

        if (base == NULL || buf == NULL)
            abort();
        while ((slash = strchr(base, '/')) != NULL)
            *slash = '-';
        if (asprintf(&path, "%s/accept-%s", dir, base) < 0)
            abort();
        buf[0] = (uint8_t)i;
        memcpy(buf + 1, texts[i], lens[i]);
        fuzz_write(path, buf, lens[i] + 1);
        free(path);
        free(base);
        free(buf);
    }
    return 0;
}
