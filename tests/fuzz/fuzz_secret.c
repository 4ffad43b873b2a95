/*
 * fuzz_secret.c: a vendor's secret.json, read by every `vrmfs vendor`
 * command with vrm_vendor_keys_load (a parser of its own, in place in
 * guarded memory, not cJSON).
 *
 * Checks: 0 or -EINVAL with a message; loaded keys save (to a new
 * directory) and load again to the same public keys and key id.
 * `replay_secret --seeds DIR` writes a key file as `vrmfs vendor keygen`
 * does (fixed randomness, fuzz.h) and variations of it.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *keydir, *file, *again;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_fixed_random();
    keydir = fuzz_path("keys");
    again = fuzz_path("again");
    if (mkdir(keydir, 0700) != 0 || asprintf(&file, "%s/secret.json", keydir) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vrm_vendor_keys *k = NULL, *k2 = NULL;
    int rc;

    fuzz_write(file, data, size);
    rc = vrm_vendor_keys_load(keydir, &k);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    FUZZ_CHECK((rc == 0) == (k != NULL));
    if (rc != 0) {
        FUZZ_CHECK(vrm_error_message()[0] != '\0');
        return 0;
    }
    fuzz_accept();
    FUZZ_CHECK(vrm_vendor_keys_save(k, again) == 0);
    FUZZ_CHECK(vrm_vendor_keys_load(again, &k2) == 0);
    FUZZ_CHECK(strcmp(vrm_vendor_keys_ed25519(k), vrm_vendor_keys_ed25519(k2)) == 0);
    FUZZ_CHECK(strcmp(vrm_vendor_keys_x25519(k), vrm_vendor_keys_x25519(k2)) == 0);
    FUZZ_CHECK(strcmp(vrm_vendor_keys_kid(k), vrm_vendor_keys_kid(k2)) == 0);
    fuzz_rmtree(again);
    vrm_vendor_keys_free(k2);
    vrm_vendor_keys_free(k);
    return 0;
}

/* ---- seeds ------------------------------------------------------------------ */

static char *saved;                   /* a secret.json as vrm_vendor_keys_save writes it */

static void variant(const char *dir, const char *name, const char *from, const char *to)
{
    fuzz_write_variant(dir, name, saved, "secret.json", from, to);
}

int fuzz_seeds(const char *dir)
{
    vrm_vendor_keys *k = NULL;
    char *kdir = fuzz_path("made"), *path, *compact, ed[128], x[64];
    FILE *fp;
    long n;

    if (vrm_vendor_keys_generate(&k) != 0 || vrm_vendor_keys_save(k, kdir) != 0 ||
        asprintf(&path, "%s/secret.json", kdir) < 0 || (fp = fopen(path, "r")) == NULL)
        abort();
    saved = calloc(1, 4096);
    n = saved != NULL ? (long)fread(saved, 1, 4095, fp) : -1;
    fclose(fp);
    if (n <= 0)
        abort();
    variant(dir, "accept-secret.json", NULL, NULL);
    if (sscanf(saved, " { \"ed25519_secret\": \"%127[^\"]\", \"x25519_secret\": \"%63[^\"]\"",
               ed, x) != 2 ||
        asprintf(&compact, "{\"x25519_secret\":\"%s\",\"ed25519_secret\":\"%s\"}", x, ed) < 0)
        abort();
    variant(dir, "accept-reordered-compact", saved, compact);
    variant(dir, "padded", "\",\n", "=\",\n");
    variant(dir, "escaped", "_secret\": \"", "_secret\": \"\\u0041");
    variant(dir, "repeated", "{", "{\"ed25519_secret\": \"AA\", ");
    variant(dir, "extra-member", "{", "{\"note\": \"x\", ");
    variant(dir, "trailing", "}\n", "}\n}");
    variant(dir, "no-comma", ",\n", "\n");
    variant(dir, "short-x", "\"\n}", "A\"\n}");
    variant(dir, "inconsistent", "_secret\": \"", "_secret\": \"B");
    free(compact);
    free(saved);
    free(path);
    free(kdir);
    vrm_vendor_keys_free(k);
    return 0;
}
