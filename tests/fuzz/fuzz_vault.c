/*
 * fuzz_vault.c: vault.json, read by every command that opens a vault.
 *
 * The input is written as vault.json beside a copy of a real vault.db and
 * opened two ways:
 *   - with the recovery key (vrm_vault_recover, as `vrmfs recover`): the
 *     file is parsed, the master key unwrapped without Argon2id, the whole
 *     file authenticated, and only then rewrapped under the passphrase;
 *   - with the passphrase (vrm_vault_open, read-only), but only when the
 *     file asks Argon2id for little (ops <= 4, mem <= 1 MiB, or no such
 *     numbers): its limits are authenticated only after the key they
 *     derive has unwrapped, so a mutated file could otherwise ask for
 *     hours of work or terabytes, which is what it is for.
 * The vault (fixed randomness, fuzz.h) is the same in every run, so its
 * vault.json is a valid seed; `replay_vault --seeds DIR` writes it and
 * variations of it.
 *
 * Checks: each way answers 0, -EBADMSG, -EKEYREJECTED or -EPROTONOSUPPORT
 * with a message; a file that opens opens the vault it belongs to (same
 * id), and after a recovery the rewritten vault.json opens with the
 * passphrase.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/cryptvfs.h"

static char rec[VRM_RECOVERY_KEY_LEN + 1];
static char *scratch, *scratch_json;  /* the copy the inputs go into */
static uint8_t vault_id[VRM_VAULT_IDBYTES];
static char *original;                /* the vault's own vault.json */
static size_t original_len;

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = malloc(1 << 20);

    if (fp == NULL || buf == NULL)
        abort();
    *len = fread(buf, 1, (1 << 20) - 1, fp);
    buf[*len] = '\0';
    fclose(fp);
    return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *dir, *p;
    vrm_vault *v;
    size_t len;

    (void)argc;
    (void)argv;
    if (original != NULL)
        return 0;                     /* --seeds calls it again */
    fuzz_fixed_random();
    dir = fuzz_vault_create("vault", rec);
    v = fuzz_vault_open(dir);
    memcpy(vault_id, vrm_vault_id(v), sizeof vault_id);
    fuzz_vault_close(v);
    scratch = fuzz_path("scratch");
    if (asprintf(&p, "%s/vault.db", dir) < 0 || asprintf(&scratch_json, "%s/vault.json",
                                                         scratch) < 0 ||
        mkdir(scratch, 0700) != 0)
        abort();
    original = slurp(p, &len);        /* vault.db, to copy */
    free(p);
    if (asprintf(&p, "%s/vault.db", scratch) < 0)
        abort();
    fuzz_write(p, original, len);
    free(p);
    free(original);
    if (asprintf(&p, "%s/vault.json", dir) < 0)
        abort();
    original = slurp(p, &original_len);
    free(p);
    free(dir);
    return 0;
}

/* Does the text ask Argon2id for little enough to run it per input? */
static int cheap_limits(const uint8_t *data, size_t size)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    const cJSON *kdf = cJSON_GetObjectItemCaseSensitive(root, "kdf"), *ops, *mem;
    int cheap;

    ops = cJSON_GetObjectItemCaseSensitive(kdf, "ops");
    mem = cJSON_GetObjectItemCaseSensitive(kdf, "mem");
    cheap = (!cJSON_IsNumber(ops) || ops->valuedouble <= 4) &&
            (!cJSON_IsNumber(mem) || mem->valuedouble <= 1 << 20);
    cJSON_Delete(root);
    return cheap;
}

static int refusal(int rc)
{
    return (rc == -EBADMSG || rc == -EKEYREJECTED || rc == -EPROTONOSUPPORT) &&
           vrm_error_message()[0] != '\0';
}

/* Open the scratch vault with the passphrase: 0 (and it is our vault) or
 * the error. */
static int open_scratch(void)
{
    vrm_vault *v = NULL;
    int rc = vrm_vault_open(&v, scratch, FUZZ_PASS, strlen(FUZZ_PASS), VRM_OPEN_READONLY);

    if (rc == 0) {
        FUZZ_CHECK(memcmp(vrm_vault_id(v), vault_id, sizeof vault_id) == 0);
        FUZZ_CHECK(vrm_vault_close(v) == 0);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int rc;

    fuzz_write(scratch_json, data, size);
    if (cheap_limits(data, size)) {
        rc = open_scratch();
        FUZZ_CHECK(rc == 0 || refusal(rc));
    }
    rc = vrm_vault_recover(scratch, rec, FUZZ_PASS, strlen(FUZZ_PASS));
    FUZZ_CHECK(rc == 0 || refusal(rc));
    if (rc == 0) {
        fuzz_accept();
        FUZZ_CHECK(open_scratch() == 0);
    }
    return 0;
}

/* ---- seeds ------------------------------------------------------------------ */

static void variant(const char *dir, const char *name, const char *from, const char *to)
{
    fuzz_write_variant(dir, name, original, "vault.json", from, to);
}

int fuzz_seeds(const char *dir)
{
    cJSON *root = cJSON_Parse(original);
    char *compact = cJSON_PrintUnformatted(root), *path;

    variant(dir, "accept-vault.json", NULL, NULL);
    if (compact == NULL || asprintf(&path, "%s/accept-compact", dir) < 0)
        abort();
    fuzz_write(path, compact, strlen(compact));
    free(path);
    free(compact);
    cJSON_Delete(root);
    variant(dir, "format-2", "\"format\": 1", "\"format\": 2");
    variant(dir, "format-0", "\"format\": 1", "\"format\": 0");
    variant(dir, "ops-2", "\"ops\": 1", "\"ops\": 2");
    variant(dir, "mem-float", "\"mem\": 8192", "\"mem\": 8192.5");
    variant(dir, "alg-argon2i", "argon2id13", "argon2i13");
    variant(dir, "unknown-key", "\"format\": 1", "\"format\": 1, \"x\": 0");
    variant(dir, "mac-changed", "\"mac\": \"", "\"mac\": \"A");
    variant(dir, "id-short", "\"id\": \"", "\"id\": \"AA");
    variant(dir, "no-wrapped", "\"wrapped\"", "\"wrappe\"");
    variant(dir, "recovery-empty", "\"recovery\": \"", "\"recovery\": \"\", \"r\": \"");
    return 0;
}
