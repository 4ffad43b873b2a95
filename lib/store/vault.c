/*
 * vault.c: vault.json, the keys it wraps, and opening the encrypted database.
 *
 * vault.json (all binary values unpadded base64url):
 *   { "format": 1, "id": ID,
 *     "kdf": { "alg": "argon2id13", "ops": N, "mem": N, "salt": SALT },
 *     "wrapped": { "passphrase": W, "recovery": W },
 *     "mac": MAC }
 * W is nonce (24) || XChaCha20-Poly1305(master key) (48).  MAC is
 * crypto_auth (HMAC-SHA-512-256) under a subkey of the master key over every
 * other field, so once the key is unwrapped any change to the file shows.
 * A wrong passphrase and altered Argon2id limits look the same from inside
 * (the unwrap fails); everything else altered is reported as such.
 */
#define _GNU_SOURCE
#include "store/cryptvfs.h"
#include "base/error.h"
#include "base/json.h"
#include "store/vault.h"
#include "store/vault_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#define SALTBYTES crypto_pwhash_SALTBYTES
#define WNONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define WRAPBYTES (WNONCE + VRM_KEYBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define MACBYTES crypto_auth_BYTES
#define RECBYTES 32
#define JSON_MAX 65536

/* Subkey ids under the master key. */
enum { SUBKEY_PAGES = 1, SUBKEY_HEADER = 2 };

typedef struct header {
    int format;                       /* VRM_FORMAT_VERSION */
    uint8_t id[VRM_VAULT_IDBYTES];
    unsigned long long ops;           /* Argon2id passes */
    size_t mem;                       /* Argon2id bytes */
    uint8_t salt[SALTBYTES];
    uint8_t wrap_pass[WRAPBYTES];     /* master key under the passphrase key */
    uint8_t wrap_rec[WRAPBYTES];      /* master key under the recovery key */
    uint8_t mac[MACBYTES];
} header;

static const char ROLE_PASS[] = "vrmfs passphrase key v1";
static const char ROLE_REC[] = "vrmfs recovery key v1";

/* ---- small helpers --------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);

    if (p == NULL)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static void put64(uint8_t *b, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Read at most `max` bytes of a regular file into a NUL-terminated buffer. */
static int read_small_file(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    ssize_t got;
    int fd, err;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        err = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        err = -EFBIG;
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        err = -ENOMEM;
        goto fail;
    }
    got = read(fd, buf, (size_t)st.st_size);
    if (got != st.st_size) {
        err = got < 0 ? -errno : -EIO;
        goto fail;
    }
    buf[got] = '\0';
    close(fd);
    *out = buf;
    *len = (size_t)got;
    return 0;
fail:
    free(buf);
    close(fd);
    return err;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* Replace dir/name with `data` so that a crash or a full disk leaves either
 * the old file or the new one, never a mix. */
static int replace_file(const char *dir, const char *name, const char *data, size_t len)
{
    char *path = path_join(dir, name), *tmp = NULL;
    int fd = -1, rc;

    if (path == NULL || asprintf(&tmp, "%s.new", path) < 0) {
        tmp = NULL;
        rc = -ENOMEM;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    fd = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    else
        rc = fsync_dir(dir);
out:
    if (rc != 0)
        vrm_error(-rc, "cannot write %s/%s: %s", dir, name, strerror(-rc));
    free(tmp);
    free(path);
    return rc;
}

/* ---- vault.json ------------------------------------------------------ */

static int b64_put(cJSON *obj, const char *key, const uint8_t *bin, size_t len)
{
    char buf[256];

    if (sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > sizeof buf)
        return -EINVAL;
    sodium_bin2base64(buf, sizeof buf, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return cJSON_AddStringToObject(obj, key, buf) ? 0 : -ENOMEM;
}

static int b64_get(const cJSON *obj, const char *key, uint8_t *bin, size_t len)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    size_t got = 0;

    if (!cJSON_IsString(it) ||
        sodium_base642bin(bin, len, it->valuestring, strlen(it->valuestring), NULL,
                          &got, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        got != len)
        return vrm_error(EBADMSG, "vault.json is damaged: \"%s\" is not %zu bytes "
                         "of base64url", key, len);
    return 0;
}

static int uint_get(const cJSON *obj, const char *key, double max, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > max ||
        floor(it->valuedouble) != it->valuedouble)
        return vrm_error(EBADMSG, "vault.json is damaged: \"%s\" is not a valid number", key);
    *out = it->valuedouble;
    return 0;
}

/* Only the keys in `allowed` may appear in `obj`. */
static int only_keys(const cJSON *obj, const char *const *allowed, const char *where)
{
    const cJSON *it;
    size_t i;

    cJSON_ArrayForEach(it, obj) {
        for (i = 0; allowed[i] != NULL; i++)
            if (it->string && strcmp(it->string, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL)
            return vrm_error(EBADMSG, "vault.json is damaged: unknown key \"%s\" in %s",
                             it->string ? it->string : "?", where);
    }
    return 0;
}

static int header_parse(const char *text, size_t len, header *h)
{
    static const char *const top_keys[] = {"format", "id", "kdf", "wrapped", "mac", NULL};
    static const char *const kdf_keys[] = {"alg", "ops", "mem", "salt", NULL};
    static const char *const wrap_keys[] = {"passphrase", "recovery", NULL};
    const cJSON *kdf, *wrapped, *alg;
    cJSON *root;
    double d;
    int rc;

    memset(h, 0, sizeof *h);
    root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return vrm_error(EBADMSG, "vault.json is damaged: not a JSON object");
    }
    /* The format first: a newer vault must say so, not "damaged". */
    rc = uint_get(root, "format", INT_MAX, &d);
    if (rc != 0)
        goto out;
    h->format = (int)d;
    if (h->format > VRM_FORMAT_VERSION) {
        rc = vrm_error(EPROTONOSUPPORT, "the vault is in format %d, newer than this "
                       "vrmfs understands (%d); upgrade vrmfs", h->format,
                       VRM_FORMAT_VERSION);
        goto out;
    }
    if (h->format < 1) {
        rc = vrm_error(EBADMSG, "vault.json is damaged: format %d", h->format);
        goto out;
    }
    kdf = cJSON_GetObjectItemCaseSensitive(root, "kdf");
    wrapped = cJSON_GetObjectItemCaseSensitive(root, "wrapped");
    if (!cJSON_IsObject(kdf) || !cJSON_IsObject(wrapped)) {
        rc = vrm_error(EBADMSG, "vault.json is damaged: \"kdf\" or \"wrapped\" missing");
        goto out;
    }
    alg = cJSON_GetObjectItemCaseSensitive(kdf, "alg");
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "argon2id13") != 0) {
        rc = vrm_error(EBADMSG, "vault.json is damaged: unknown kdf algorithm");
        goto out;
    }
    if ((rc = only_keys(root, top_keys, "the top level")) != 0 ||
        (rc = only_keys(kdf, kdf_keys, "\"kdf\"")) != 0 ||
        (rc = only_keys(wrapped, wrap_keys, "\"wrapped\"")) != 0 ||
        (rc = b64_get(root, "id", h->id, sizeof h->id)) != 0 ||
        (rc = b64_get(root, "mac", h->mac, sizeof h->mac)) != 0 ||
        (rc = b64_get(kdf, "salt", h->salt, sizeof h->salt)) != 0 ||
        (rc = b64_get(wrapped, "passphrase", h->wrap_pass, sizeof h->wrap_pass)) != 0 ||
        (rc = b64_get(wrapped, "recovery", h->wrap_rec, sizeof h->wrap_rec)) != 0)
        goto out;
    /* The limits are authenticated only after the key is derived with them:
     * a vault.json altered to ask for more than vrmfs ever writes would make
     * every open spend that much first. */
    if ((rc = uint_get(kdf, "ops", (double)crypto_pwhash_OPSLIMIT_MAX, &d)) != 0)
        goto out;
    h->ops = (unsigned long long)d;
    if ((rc = uint_get(kdf, "mem", (double)crypto_pwhash_MEMLIMIT_MAX, &d)) != 0)
        goto out;
    h->mem = (size_t)d;
    if (h->ops < crypto_pwhash_OPSLIMIT_MIN || h->mem < crypto_pwhash_MEMLIMIT_MIN)
        rc = vrm_error(EBADMSG, "vault.json is damaged: Argon2id limits below the minimum");
    else if (h->ops > VRM_KDF_OPS_MAX || h->mem > VRM_KDF_MEM_MAX)
        rc = vrm_error(EBADMSG, "vault.json is damaged or tampered: it asks for Argon2id "
                       "limits above what vrmfs allows (%d passes, %d MiB)", VRM_KDF_OPS_MAX,
                       (int)(VRM_KDF_MEM_MAX >> 20));
out:
    cJSON_Delete(root);
    return rc;
}

static int header_write(const char *dir, const header *h)
{
    cJSON *root = cJSON_CreateObject(), *kdf, *wrapped;
    char *text = NULL;
    int rc = -ENOMEM;

    if (root == NULL)
        goto out;
    kdf = cJSON_CreateObject();
    wrapped = cJSON_CreateObject();
    if (kdf == NULL || wrapped == NULL) {
        cJSON_Delete(kdf);
        cJSON_Delete(wrapped);
        goto out;
    }
    if (!cJSON_AddNumberToObject(root, "format", h->format) ||
        b64_put(root, "id", h->id, sizeof h->id) != 0 ||
        !cJSON_AddItemToObject(root, "kdf", kdf)) {
        cJSON_Delete(kdf);
        cJSON_Delete(wrapped);
        goto out;
    }
    if (!cJSON_AddItemToObject(root, "wrapped", wrapped)) {
        cJSON_Delete(wrapped);
        goto out;
    }
    if (!cJSON_AddStringToObject(kdf, "alg", "argon2id13") ||
        !cJSON_AddNumberToObject(kdf, "ops", (double)h->ops) ||
        !cJSON_AddNumberToObject(kdf, "mem", (double)h->mem) ||
        b64_put(kdf, "salt", h->salt, sizeof h->salt) != 0 ||
        b64_put(wrapped, "passphrase", h->wrap_pass, sizeof h->wrap_pass) != 0 ||
        b64_put(wrapped, "recovery", h->wrap_rec, sizeof h->wrap_rec) != 0 ||
        b64_put(root, "mac", h->mac, sizeof h->mac) != 0)
        goto out;
    {
        size_t n;

        rc = vrm_json_pretty(root, &text, &n);
        if (rc == 0)
            rc = replace_file(dir, "vault.json", text, n);
    }
out:
    if (rc == -ENOMEM)
        vrm_error(ENOMEM, "out of memory writing vault.json");
    free(text);
    cJSON_Delete(root);
    return rc;
}

/* Load and parse dir/vault.json; with `keep`, also hand back its text
 * (malloc'd) and length, exactly the bytes parsed. */
static int header_read(const char *dir, header *h, char **keep, size_t *keeplen)
{
    char *path = path_join(dir, "vault.json"), *text = NULL;
    struct stat st;
    size_t len = 0;
    int rc;

    if (path == NULL)
        return -ENOMEM;
    if (stat(dir, &st) != 0) {
        rc = vrm_error(errno, "no vault at %s: %s", dir, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = vrm_error(ENOTDIR, "no vault at %s: not a directory", dir);
        goto out;
    }
    rc = read_small_file(path, JSON_MAX, &text, &len);
    if (rc == -ENOENT) {
        vrm_error(ENOENT, "no vault at %s (no vault.json)", dir);
        goto out;
    }
    if (rc != 0) {
        vrm_error(rc == -EFBIG ? EBADMSG : -rc, "cannot read %s: %s", path,
                  rc == -EFBIG ? "not a small regular file" : strerror(-rc));
        if (rc == -EFBIG)
            rc = -EBADMSG;
        goto out;
    }
    rc = header_parse(text, len, h);
    if (rc == 0 && keep != NULL) {
        *keep = text;
        *keeplen = len;
        text = NULL;
    }
out:
    free(text);
    free(path);
    return rc;
}

static int header_load(const char *dir, header *h)
{
    return header_read(dir, h, NULL, NULL);
}

/* ---- keys ------------------------------------------------------------ */

static int subkey(uint8_t *out, const uint8_t *master, uint64_t id, const char ctx[8])
{
    return crypto_kdf_derive_from_key(out, VRM_KEYBYTES, id, ctx, master) == 0 ? 0 : -EINVAL;
}

static void header_mac(const header *h, const uint8_t *master, uint8_t out[MACBYTES])
{
    uint8_t *key = sodium_malloc(crypto_auth_KEYBYTES);
    crypto_auth_hmacsha512256_state st;
    uint8_t b[8];
    static const char tag[] = "vrmfs vault.json v1";

    if (key == NULL) {  /* no memory: a MAC that cannot match */
        memset(out, 0, MACBYTES);
        return;
    }
    subkey(key, master, SUBKEY_HEADER, "vrmheadr");
    crypto_auth_hmacsha512256_init(&st, key, crypto_auth_KEYBYTES);
    crypto_auth_hmacsha512256_update(&st, (const uint8_t *)tag, sizeof tag);
    put64(b, (uint64_t)h->format);
    crypto_auth_hmacsha512256_update(&st, b, 8);
    crypto_auth_hmacsha512256_update(&st, h->id, sizeof h->id);
    crypto_auth_hmacsha512256_update(&st, (const uint8_t *)"argon2id13", 10);
    put64(b, h->ops);
    crypto_auth_hmacsha512256_update(&st, b, 8);
    put64(b, (uint64_t)h->mem);
    crypto_auth_hmacsha512256_update(&st, b, 8);
    crypto_auth_hmacsha512256_update(&st, h->salt, sizeof h->salt);
    crypto_auth_hmacsha512256_update(&st, h->wrap_pass, sizeof h->wrap_pass);
    crypto_auth_hmacsha512256_update(&st, h->wrap_rec, sizeof h->wrap_rec);
    crypto_auth_hmacsha512256_final(&st, out);
    sodium_memzero(&st, sizeof st);
    sodium_free(key);
}

static int passkey(uint8_t *key, const header *h, const char *pass, size_t passlen)
{
    if (crypto_pwhash(key, VRM_KEYBYTES, pass, passlen, h->salt, h->ops, h->mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return vrm_error(ENOMEM, "Argon2id needs %zu MiB of memory that could not be had",
                         h->mem >> 20);
    return 0;
}

/* The recovery key as bytes, from its printed form (hex; dashes, spaces and
 * case ignored). */
static int recovery_parse(uint8_t *out, const char *text)
{
    char hex[2 * RECBYTES + 1];
    size_t n = 0, got = 0;
    const char *s;

    for (s = text; *s; s++) {
        if (*s == '-' || isspace((unsigned char)*s))
            continue;
        if (!isxdigit((unsigned char)*s) || n == sizeof hex - 1) {
            sodium_memzero(hex, sizeof hex);
            return vrm_error(EKEYREJECTED, "that is not a recovery key "
                             "(64 hexadecimal digits expected)");
        }
        hex[n++] = (char)tolower((unsigned char)*s);
    }
    hex[n] = '\0';
    if (n != sizeof hex - 1 ||
        sodium_hex2bin(out, RECBYTES, hex, n, NULL, &got, NULL) != 0 || got != RECBYTES) {
        sodium_memzero(hex, sizeof hex);
        return vrm_error(EKEYREJECTED, "that is not a recovery key "
                         "(64 hexadecimal digits expected)");
    }
    sodium_memzero(hex, sizeof hex);
    return 0;
}

static void recovery_format(char *out, const uint8_t *bin)
{
    char hex[2 * RECBYTES + 1];
    size_t i, j = 0;

    sodium_bin2hex(hex, sizeof hex, bin, RECBYTES);
    for (i = 0; i < 2 * RECBYTES; i++) {
        if (i > 0 && i % 4 == 0)
            out[j++] = '-';
        out[j++] = hex[i];
    }
    out[j] = '\0';
    sodium_memzero(hex, sizeof hex);
}

static void wrap(uint8_t out[WRAPBYTES], const uint8_t *key, const uint8_t *master,
                 const char *role)
{
    randombytes_buf(out, WNONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + WNONCE, NULL, master, VRM_KEYBYTES,
                                               (const uint8_t *)role, strlen(role),
                                               NULL, out, key);
}

static int unwrap(uint8_t *master, const uint8_t in[WRAPBYTES], const uint8_t *key,
                  const char *role)
{
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
               master, NULL, NULL, in + WNONCE, WRAPBYTES - WNONCE,
               (const uint8_t *)role, strlen(role), in, key) == 0 ? 0 : -1;
}

/* Unwrap the master key with a passphrase (rec == NULL) or a recovery key
 * (rec != NULL), then authenticate the whole header with it. */
static int header_unlock(const header *h, const char *pass, size_t passlen,
                         const char *rec, uint8_t *master)
{
    uint8_t *key = sodium_malloc(VRM_KEYBYTES), *recbin = sodium_malloc(RECBYTES);
    uint8_t mac[MACBYTES];
    int rc;

    if (key == NULL || recbin == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (rec != NULL) {
        rc = recovery_parse(recbin, rec);
        if (rc == 0)
            rc = subkey(key, recbin, 1, "vrmrecov");
        if (rc == 0 && unwrap(master, h->wrap_rec, key, ROLE_REC) != 0)
            rc = vrm_error(EKEYREJECTED, "wrong recovery key");
    } else {
        rc = passkey(key, h, pass, passlen);
        if (rc == 0 && unwrap(master, h->wrap_pass, key, ROLE_PASS) != 0)
            rc = vrm_error(EKEYREJECTED, "wrong passphrase");
    }
    if (rc != 0)
        goto out;
    header_mac(h, master, mac);
    if (sodium_memcmp(mac, h->mac, MACBYTES) != 0)
        rc = vrm_error(EBADMSG, "vault.json has been altered or damaged (its MAC "
                       "does not match)");
out:
    sodium_memzero(mac, sizeof mac);
    sodium_free(key);
    sodium_free(recbin);
    return rc;
}

/* ---- the vault ------------------------------------------------------- */

void vrm_vault_lock(vrm_vault *v)
{
    pthread_mutex_lock(&v->mu);
}

void vrm_vault_unlock(vrm_vault *v)
{
    pthread_mutex_unlock(&v->mu);
}

sqlite3 *vrm_vault_sqlite(vrm_vault *v)
{
    return v->db;
}

int vrm_vault_exec(vrm_vault *v, const char *sql)
{
    return sqlite3_exec(v->db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0 : vrm_error_from_db(v->db, "database");
}

int vrm_vault_run(vrm_vault *v, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
}

int vrm_vault_step(vrm_vault *v, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        return 1;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
}

/* Run a statement of the cache that returns no rows. */
static int run_sql(vrm_vault *v, const char *sql)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, sql, &st);

    return rc != 0 ? rc : vrm_vault_run(v, st);
}

int vrm_tx_begin(vrm_vault *v)
{
    return run_sql(v, "BEGIN IMMEDIATE");
}

int vrm_tx_finish(vrm_vault *v, int rc)
{
    if (rc >= 0) {
        int c = run_sql(v, "COMMIT");

        if (c == 0)
            return rc;
        rc = c;
    }
    if (!sqlite3_get_autocommit(v->db))
        sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int vrm_find_named_locked(vrm_vault *v, const char *sql, const char *coll, const char *name,
                          const char *what, sqlite3_stmt **st)
{
    int rc = vrm_vault_stmt(v, sql, st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(*st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(*st, 2, name, -1, SQLITE_STATIC);
    rc = vrm_vault_step(v, *st);
    if (rc == 0)
        return vrm_error(ENOENT, "no %s %s/%s", what, coll, name);
    return rc == 1 ? 0 : rc;
}

int vrm_vault_record_changed_locked(vrm_vault *v, const char *coll, const char *name,
                                    const char *old_body, const char *new_body)
{
    if (v->record_hook == NULL)
        return 0;
    return v->record_hook(v->record_hook_ctx, v, coll, name, old_body, new_body);
}

int vrm_vault_stmt(vrm_vault *v, const char *sql, sqlite3_stmt **out)
{
    size_t i;

    for (i = 0; i < VRM_STMT_CACHE && v->stmts[i].sql != NULL; i++)
        if (v->stmts[i].sql == sql) {
            sqlite3_reset(v->stmts[i].st);
            sqlite3_clear_bindings(v->stmts[i].st);
            *out = v->stmts[i].st;
            return 0;
        }
    if (i == VRM_STMT_CACHE)
        return vrm_error(ENOSPC, "internal: statement cache full");
    if (sqlite3_prepare_v3(v->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return vrm_vault_sqlerr(v, "database");
    v->stmts[i].sql = sql;
    v->stmts[i].st = *out;
    return 0;
}

int vrm_reader_stmt(vrm_reader *r, const char *sql, sqlite3_stmt **out)
{
    size_t i;

    for (i = 0; i < VRM_READER_STMTS && r->stmts[i].sql != NULL; i++)
        if (r->stmts[i].sql == sql) {
            sqlite3_reset(r->stmts[i].st);
            sqlite3_clear_bindings(r->stmts[i].st);
            *out = r->stmts[i].st;
            return 0;
        }
    if (i == VRM_READER_STMTS)
        return vrm_error(ENOSPC, "internal: reader statement cache full");
    if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return vrm_error_from_db(r->db, "database");
    r->stmts[i].sql = sql;
    r->stmts[i].st = *out;
    return 0;
}

vrm_reader *vrm_vault_reader_get(vrm_vault *v)
{
    static _Thread_local unsigned next;  /* where this thread waits if all are busy */
    int i;

    if (v->nreaders == 0)
        return NULL;
    for (i = 0; i < v->nreaders; i++)
        if (pthread_mutex_trylock(&v->readers[i].mu) == 0)
            return &v->readers[i];
    i = (int)(next++ % (unsigned)v->nreaders);
    pthread_mutex_lock(&v->readers[i].mu);
    return &v->readers[i];
}

void vrm_vault_reader_put(vrm_reader *r)
{
    if (r != NULL)
        pthread_mutex_unlock(&r->mu);
}

/* Open the read connections (one per core, 2 to VRM_READERS_MAX).  Without
 * them reads go through v->db, so a failure here is not an error. */
static void readers_open(vrm_vault *v)
{
    char *path = path_join(v->dir, "vault.db");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cores < 2 ? 2 : cores > VRM_READERS_MAX ? VRM_READERS_MAX : (int)cores;
    char pragmas[160];

    snprintf(pragmas, sizeof pragmas, "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; "
             "PRAGMA cache_size=-%d; PRAGMA schema_version", VRM_READER_CACHE_KIB);
    while (path != NULL && v->nreaders < want) {
        vrm_reader *r = &v->readers[v->nreaders];

        memset(r, 0, sizeof *r);
        if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX |
                            SQLITE_OPEN_EXRESCODE, vrm_cryptvfs_name(v->vfs)) != SQLITE_OK ||
            sqlite3_busy_timeout(r->db, 5000) != SQLITE_OK ||
            sqlite3_exec(r->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
            pthread_mutex_init(&r->mu, NULL) != 0) {
            sqlite3_close(r->db);
            r->db = NULL;
            break;
        }
        v->nreaders++;
    }
    free(path);
}

static void readers_close(vrm_vault *v)
{
    int i;
    size_t j;

    for (i = 0; i < v->nreaders; i++) {
        vrm_reader *r = &v->readers[i];

        for (j = 0; j < VRM_READER_STMTS && r->stmts[j].sql != NULL; j++)
            sqlite3_finalize(r->stmts[j].st);
        sqlite3_close(r->db);
        pthread_mutex_destroy(&r->mu);
        memset(r, 0, sizeof *r);
    }
    v->nreaders = 0;
}

static void stmts_release(vrm_vault *v)
{
    size_t i;

    for (i = 0; i < VRM_STMT_CACHE && v->stmts[i].sql != NULL; i++) {
        sqlite3_finalize(v->stmts[i].st);
        v->stmts[i].sql = NULL;
        v->stmts[i].st = NULL;
    }
}

const char *vrm_vault_dir(const vrm_vault *v)
{
    return v->dir;
}

const uint8_t *vrm_vault_id(const vrm_vault *v)
{
    return v->id;
}

int vrm_vault_subkey(const vrm_vault *v, uint8_t out[VRM_KEYBYTES], uint64_t id,
                     const char purpose[8])
{
    return subkey(out, v->master, id, purpose);
}

/* Subkey id under purpose "vrmpairw" (identity.h); one value for all
 * vendors, since the vendor name goes into the keyed hash. */
#define PAIRWISE_SUBKEY_ID 0

void vrm_vault_pairwise_root(const vrm_vault *v, uint8_t out[VRM_KEYBYTES])
{
    if (v->pairwise != NULL)
        memcpy(out, v->pairwise, VRM_KEYBYTES);
    else
        subkey(out, v->master, PAIRWISE_SUBKEY_ID, "vrmpairw");
}

/* Load the settings' "pairwise-root", if the vault has one. */
static int pairwise_load(vrm_vault *v)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;

    if (sqlite3_prepare_v2(v->db, "SELECT value FROM settings WHERE key = 'pairwise-root'",
                           -1, &st, NULL) != SQLITE_OK)
        return vrm_vault_sqlerr(v, "cannot read the vault's settings");
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != VRM_KEYBYTES) {
            rc = vrm_error(EBADMSG, "the vault's pairwise-root setting has %d bytes, not %d",
                           sqlite3_column_bytes(st, 0), VRM_KEYBYTES);
        } else if ((v->pairwise = sodium_malloc(VRM_KEYBYTES)) == NULL) {
            rc = -ENOMEM;
        } else {
            memcpy(v->pairwise, sqlite3_column_blob(st, 0), VRM_KEYBYTES);
            sodium_mprotect_readonly(v->pairwise);
        }
    } else if (step != SQLITE_DONE) {
        rc = vrm_vault_sqlerr(v, "cannot read the vault's settings");
    }
    sqlite3_finalize(st);
    return rc;
}

int vrm_vault_set_pairwise_root_locked(vrm_vault *v, const uint8_t root[VRM_KEYBYTES])
{
    sqlite3_stmt *st;
    uint8_t *copy;
    int rc;

    if (v->pairwise != NULL)
        return vrm_error(EEXIST, "the vault already has its pairwise identities' root");
    rc = vrm_vault_stmt(v, "INSERT INTO settings(key, value) VALUES ('pairwise-root', ?1)", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_blob(st, 1, root, VRM_KEYBYTES, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "cannot store a setting");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != 0)
        return rc;
    copy = sodium_malloc(VRM_KEYBYTES);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, root, VRM_KEYBYTES);
    sodium_mprotect_readonly(copy);
    v->pairwise = copy;
    return 0;
}

static vrm_vault *vault_new(const char *dir)
{
    vrm_vault *v = calloc(1, sizeof *v);

    if (v == NULL)
        return NULL;
    v->lockfd = -1;
    v->dir = strdup(dir);
    v->master = sodium_malloc(VRM_KEYBYTES);
    if (v->dir == NULL || v->master == NULL || pthread_mutex_init(&v->mu, NULL) != 0 ||
        pthread_mutex_init(&v->ckpt_mu, NULL) != 0 || pthread_cond_init(&v->ckpt_cv, NULL) != 0 ||
        pthread_mutex_init(&v->ckpt_run, NULL) != 0) {
        free(v->dir);
        sodium_free(v->master);
        free(v);
        return NULL;
    }
    return v;
}

static void checkpointer_stop(vrm_vault *v);

static void vault_free(vrm_vault *v)
{
    readers_close(v);
    checkpointer_stop(v);
    stmts_release(v);
    if (v->db != NULL)
        sqlite3_close(v->db);
    vrm_cryptvfs_destroy(v->vfs);
    if (v->lockfd >= 0)
        close(v->lockfd);
    sodium_free(v->master);
    sodium_free(v->pairwise);
    pthread_mutex_destroy(&v->mu);
    pthread_mutex_destroy(&v->ckpt_mu);
    pthread_mutex_destroy(&v->ckpt_run);
    pthread_cond_destroy(&v->ckpt_cv);
    free(v->dir);
    free(v);
}

/* Take the vault's lock file, so only one process has the database open. */
/* Take the vault's lock file, so only one process has the database open.
 * The holder may have written what it is doing into the file (see
 * vrm_vault_note): then the vault is busy and we say so at once.  An empty
 * note means the holder is closing (a daemon finishing its last checkpoint
 * after an unmount) or checking: with VRM_OPEN_WAIT, wait for it, up to
 * LOCK_WAIT_MS. */
#define LOCK_WAIT_MS 15000

static int vault_lock_dir(vrm_vault *v)
{
    char *path = path_join(v->dir, "vault.lock"), note[300];
    int rc = 0, waited = 0;
    ssize_t n;

    if (path == NULL)
        return -ENOMEM;
    v->lockfd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (v->lockfd < 0) {
        rc = vrm_error(errno, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    while (flock(v->lockfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            rc = vrm_error(errno, "cannot lock %s: %s", path, strerror(errno));
            goto out;
        }
        n = pread(v->lockfd, note, sizeof note - 1, 0);
        if (n > 0) {
            note[n] = '\0';
            note[strcspn(note, "\n")] = '\0';
            rc = vrm_error(EBUSY, "the vault at %s is in use: %s", v->dir, note);
            goto out;
        }
        if (!(v->flags & VRM_OPEN_WAIT) || waited >= LOCK_WAIT_MS) {
            rc = vrm_error(EBUSY, "the vault at %s is in use by another process", v->dir);
            goto out;
        }
        usleep(50 * 1000);
        waited += 50;
    }
out:
    free(path);
    return rc;
}

int vrm_vault_note(vrm_vault *v, const char *note)
{
    size_t n = note ? strlen(note) : 0;

    if (v->lockfd < 0)
        return -EBADF;
    if (ftruncate(v->lockfd, 0) != 0)
        return vrm_error(errno, "vault.lock: %s", strerror(errno));
    if (n > 0 && (pwrite(v->lockfd, note, n, 0) != (ssize_t)n || pwrite(v->lockfd, "\n", 1,
                                                                     (off_t)n) != 1))
        return vrm_error(errno ? errno : EIO, "vault.lock: %s", strerror(errno ? errno : EIO));
    return 0;
}

static int vault_make_vfs(vrm_vault *v)
{
    uint8_t *key = sodium_malloc(VRM_KEYBYTES);
    int rc;

    if (key == NULL)
        return -ENOMEM;
    rc = subkey(key, v->master, SUBKEY_PAGES, "vrmpages");
    if (rc == 0)
        rc = vrm_cryptvfs_create(&v->vfs, key, v->id);
    sodium_free(key);
    return rc;
}

int vrm_vault_sqlerr(vrm_vault *v, const char *what)
{
    return vrm_error_from_db(v->db, what);
}

/* Open vault.db through the shim and set the connection up.  `create` makes
 * a new database: page size and reserved bytes are fixed before its first
 * page is written, and it goes straight from an in-memory journal to WAL, so
 * no rollback journal file is ever needed. */
static int vault_open_db(vrm_vault *v, int create)
{
    char *path = path_join(v->dir, "vault.db");
    int flags = SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX;
    int rc = 0, reserve = VRM_PAGE_RESERVE;
    char pragmas[256];
    sqlite3_stmt *st = NULL;

    if (path == NULL)
        return -ENOMEM;
    if (create)
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    else if (v->flags & VRM_OPEN_READONLY)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE;
    if (!create && access(path, F_OK) != 0) {
        rc = vrm_error(ENOENT, "the vault at %s has no vault.db", v->dir);
        goto out;
    }
    if (sqlite3_open_v2(path, &v->db, flags, vrm_cryptvfs_name(v->vfs)) != SQLITE_OK) {
        rc = vrm_vault_sqlerr(v, "cannot open vault.db");
        goto out;
    }
    sqlite3_extended_result_codes(v->db, 1);
    sqlite3_busy_timeout(v->db, 5000);
    /* The WAL and its index take the database file's mode. */
    if (create && chmod(path, 0600) != 0) {
        rc = vrm_error(errno, "cannot set the mode of %s: %s", path, strerror(errno));
        goto out;
    }
    /* The page cache is where the vault's plaintext lives: every page read
     * from the file costs a decryption (3.6 us per 4 KiB page here) that
     * plain SQLite does not pay, so a cache miss costs the vault about twice
     * what it costs plain SQLite.  VRM_VAULT_CACHE_KIB (128 MiB) is a limit,
     * not an allocation: SQLite allocates cache pages as they are first
     * used, so a vault of 10 MiB costs 10 MiB, and only a vault (or a file
     * read through it) of 128 MiB or more holds the full 128 MiB (+ ~5% of
     * page headers) for as long as it is open.  Measured with
     * tests/bench (an 80 MiB database, the same cache on every backend),
     * vault / plain SQLite:
     *     cache      16 MiB   32 MiB   64 MiB   128 MiB
     *     reads      1.80x    1.43x    1.12x    0.96x
     *     aggregate  2.23x    1.97x    1.61x    0.99x
     * Point reads and the aggregate come within 1.3x only when the working
     * set fits.  The plaintext stays in process memory as it did at 16 MiB,
     * just more of it: swap, if any, should be encrypted (as for any
     * program holding decrypted data). */
    /* secure_delete=FAST, not Debian's default ON: ON zeroes every page
     * SQLite frees, which for a document means writing (and encrypting,
     * twice: WAL, then checkpoint) as much as it held; deleting a 256 MiB
     * file took longer than writing it.  FAST still zeroes what is deleted
     * from a b-tree page (records, names, small rows) when that page is
     * written anyway, and leaves freed pages as they were: ciphertext under
     * the vault's page key, reused by later writes (README, "Deleting"). */
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; PRAGMA foreign_keys=ON;"
             "PRAGMA secure_delete=FAST; "
             "PRAGMA cache_size=-%d; PRAGMA synchronous=%s;", VRM_VAULT_CACHE_KIB,
             (v->flags & VRM_OPEN_SYNC_FULL) ? "FULL" : "NORMAL");
    if ((rc = vrm_vault_exec(v, pragmas)) != 0)
        goto out;
    /* auto_vacuum=INCREMENTAL keeps a pointer map (one page per 811),
     * from which SQLite finds each next page of a document chunk's overflow
     * chain without reading the page before it: deleting a 256 MiB file
     * read and decrypted all its 65,536 pages (0.3-0.4 s) just to free
     * them, and now reads a few dozen (0.02 s).  The pages stay in the
     * file, free, as before; no incremental_vacuum is run.  Set in the
     * in-memory journal mode: it writes the header, and the shim opens no
     * rollback journal.  Vaults made before keep auto_vacuum=NONE. */
    if (create) {
        if ((rc = vrm_vault_exec(v, "PRAGMA page_size=4096")) != 0)
            goto out;
        sqlite3_file_control(v->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
        if ((rc = vrm_vault_exec(v, "PRAGMA journal_mode=MEMORY")) != 0 ||
            (rc = vrm_vault_exec(v, "PRAGMA auto_vacuum=INCREMENTAL")) != 0 ||
            (rc = vrm_vault_exec(v, "PRAGMA journal_mode=WAL")) != 0)
            goto out;
    }
    /* The first real read: a page failing authentication shows here. */
    if (sqlite3_prepare_v2(v->db, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = vrm_vault_sqlerr(v, "cannot read vault.db");
        goto out;
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        rc = vrm_error(EUCLEAN, "vault.db is not in WAL mode (journal_mode=%s)",
                       sqlite3_column_text(st, 0));
        goto out;
    }
    reserve = -1;
    sqlite3_file_control(v->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
    if (reserve != VRM_PAGE_RESERVE) {
        rc = vrm_error(EUCLEAN, "vault.db reserves %d bytes per page, not %d",
                       reserve, VRM_PAGE_RESERVE);
        goto out;
    }
out:
    sqlite3_finalize(st);
    free(path);
    return rc;
}

/* ---- background checkpoints ------------------------------------------ */

/* Called by SQLite after each commit of the writer, with the WAL's size in
 * frames.  While a steady writer keeps committing, the thread never finds
 * the WAL wholly copied at the start of a write transaction, which is the
 * only time SQLite restarts it from the beginning; so the WAL would grow
 * without bound.  At CKPT_WRITER_HELPS times ckpt_frames the writer waits
 * for the thread's checkpoint and copies what is left itself, so that its
 * next transaction restarts the WAL.  It waits rather than skip its turn
 * when the thread is busy: a stream of 1 MiB writes to files/ keeps the
 * thread busy all the time, and skipping let the WAL reach 80-176 MiB during
 * a 256 MiB write, each new frame allocating disk and many missing the
 * shim's plaintext WAL cache (2,048 frames), and left the fsync at the end
 * a backlog to copy.  Waiting keeps the WAL under ~4,300 frames (17 MiB);
 * the write took as long either way (1.0-1.5 s on a noisy machine, the
 * waits adding up to ~0.3 s), as it did at 8 or 16 times instead of 4, or
 * when waking the thread only once ckpt_frames frames wait to be copied.
 * In the insert benchmark the WAL file
 * peaked at ~4,900 frames (20 MiB) at 4x, at 16,100 (66 MiB) at 16x, with
 * no measurable difference in time (best of 7: 0.534 s at 4x, 0.530 s at
 * 16x). */
#define CKPT_WRITER_HELPS 4

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int nframes)
{
    vrm_vault *v = ctx;

    if (nframes >= CKPT_WRITER_HELPS * v->ckpt_frames) {
        /* The WAL is long enough: the writer helps, so it can restart. */
        pthread_mutex_lock(&v->ckpt_run);
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_unlock(&v->ckpt_run);
    } else if (nframes >= v->ckpt_frames) {
        pthread_mutex_lock(&v->ckpt_mu);
        v->ckpt_wanted = 1;
        pthread_cond_signal(&v->ckpt_cv);
        pthread_mutex_unlock(&v->ckpt_mu);
    }
    return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
    vrm_vault *v = arg;

    for (;;) {
        int rc;

        pthread_mutex_lock(&v->ckpt_mu);
        while (!v->ckpt_wanted && !v->ckpt_stop)
            pthread_cond_wait(&v->ckpt_cv, &v->ckpt_mu);
        if (v->ckpt_stop) {
            pthread_mutex_unlock(&v->ckpt_mu);
            return NULL;
        }
        v->ckpt_wanted = 0;
        pthread_mutex_unlock(&v->ckpt_mu);
        pthread_mutex_lock(&v->ckpt_run);
        rc = sqlite3_wal_checkpoint_v2(v->ckpt_db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_unlock(&v->ckpt_run);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            sqlite3_log(rc, "background checkpoint: %s", sqlite3_errmsg(v->ckpt_db));
    }
}

/* Open the second connection and start the thread; on failure the vault
 * just checkpoints in the writer, as SQLite does by default. */
static void checkpointer_start(vrm_vault *v)
{
    char *path = path_join(v->dir, "vault.db");

    v->ckpt_frames = 1000;
    if (path == NULL ||
        sqlite3_open_v2(path, &v->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                        SQLITE_OPEN_EXRESCODE, vrm_cryptvfs_name(v->vfs)) != SQLITE_OK) {
        sqlite3_close(v->ckpt_db);
        v->ckpt_db = NULL;
        free(path);
        return;
    }
    free(path);
    sqlite3_busy_timeout(v->ckpt_db, 5000);
    /* The read is what makes the thread work at all: a connection that has
     * never read the database has not opened its WAL yet, and SQLite answers
     * its checkpoints with SQLITE_OK having done nothing (log and checkpoint
     * counts -1), which left every frame to the writer. */
    if (sqlite3_exec(v->ckpt_db, "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; "
                     "PRAGMA wal_autocheckpoint=0; PRAGMA schema_version", NULL, NULL,
                     NULL) != SQLITE_OK) {
        sqlite3_close(v->ckpt_db);
        v->ckpt_db = NULL;
        return;
    }
    if (pthread_create(&v->ckpt_thread, NULL, checkpointer, v) != 0) {
        sqlite3_close(v->ckpt_db);
        v->ckpt_db = NULL;
        return;
    }
    v->ckpt_running = 1;
    sqlite3_wal_hook(v->db, wal_hook, v);
}

static void checkpointer_stop(vrm_vault *v)
{
    if (v->ckpt_running) {
        if (v->db != NULL)
            sqlite3_wal_hook(v->db, NULL, NULL);
        pthread_mutex_lock(&v->ckpt_mu);
        v->ckpt_stop = 1;
        pthread_cond_signal(&v->ckpt_cv);
        pthread_mutex_unlock(&v->ckpt_mu);
        pthread_join(v->ckpt_thread, NULL);
        v->ckpt_running = 0;
    }
    if (v->ckpt_db != NULL) {
        sqlite3_close(v->ckpt_db);
        v->ckpt_db = NULL;
    }
}

int vrm_vault_sync_locked(vrm_vault *v)
{
    int rc;

    /* Wait out a background checkpoint rather than be told SQLITE_BUSY. */
    pthread_mutex_lock(&v->ckpt_run);
    rc = sqlite3_wal_checkpoint_v2(v->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_mutex_unlock(&v->ckpt_run);
    return rc == SQLITE_OK ? 0 : vrm_vault_sqlerr(v, "checkpoint");
}

/* One integer from a PRAGMA (or any one-value query).  Mutex held. */
static int pragma_int(vrm_vault *v, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : vrm_vault_sqlerr(v, "database");
}

/* Checkpoint everything and empty the WAL; then vault.db's size.  Mutex
 * held. */
static int checkpoint_truncate(vrm_vault *v, uint64_t *size)
{
    char *path;
    struct stat st;
    int rc;

    pthread_mutex_lock(&v->ckpt_run);
    rc = sqlite3_wal_checkpoint_v2(v->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    pthread_mutex_unlock(&v->ckpt_run);
    if (rc != SQLITE_OK)
        return vrm_vault_sqlerr(v, "checkpoint");
    if (size == NULL)
        return 0;
    path = path_join(v->dir, "vault.db");
    if (path == NULL)
        return -ENOMEM;
    rc = stat(path, &st) == 0 ? 0 : vrm_error(errno, "%s: %s", path, strerror(errno));
    free(path);
    if (rc == 0)
        *size = (uint64_t)st.st_size;
    return rc;
}

int vrm_vault_compact(vrm_vault *v, vrm_progress_fn progress, void *ctx, uint64_t *before,
                      uint64_t *after)
{
    int64_t mode = 0, total = 0, left = 0;
    char sql[64];
    int rc;

    vrm_vault_lock(v);
    rc = pragma_int(v, "PRAGMA auto_vacuum", &mode);
    if (rc == 0 && mode != 2)
        rc = vrm_error(EOPNOTSUPP, "this vault keeps no pointer map (it was made before vrmfs "
                       "kept one), so its pages cannot be moved in place; 'vrmfs export' "
                       "and 'vrmfs import-all' copy it into a new vault that can be "
                       "compacted");
    if (rc == 0)
        rc = checkpoint_truncate(v, before);
    if (rc == 0)
        rc = pragma_int(v, "PRAGMA freelist_count", &total);
    left = total;
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", VRM_COMPACT_STEP);
    while (rc == 0 && left > 0) {
        int64_t was = left;

        if (sqlite3_exec(v->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = vrm_vault_sqlerr(v, "compacting");
        if (rc == 0)
            rc = vrm_vault_sync_locked(v);
        if (rc == 0)
            rc = pragma_int(v, "PRAGMA freelist_count", &left);
        if (rc == 0 && left >= was)
            rc = vrm_error(EIO, "compacting: %lld free pages remain and none moved",
                           (long long)left);
        if (rc == 0 && progress != NULL)
            progress(ctx, (uint64_t)(total - left), (uint64_t)total);
    }
    if (rc == 0)
        rc = checkpoint_truncate(v, after);
    vrm_vault_unlock(v);
    return rc;
}

int vrm_vault_sync(vrm_vault *v)
{
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_sync_locked(v);
    vrm_vault_unlock(v);
    return rc;
}

/* Unwrap the master key of a loaded header into v. */
static int vault_unlock(vrm_vault *v, const header *h, const char *pass, size_t passlen)
{
    int rc = header_unlock(h, pass, passlen, NULL, v->master);

    if (rc == 0) {
        memcpy(v->id, h->id, sizeof v->id);
        sodium_mprotect_readonly(v->master);
    }
    return rc;
}

/* A read-only open cannot migrate: the schema must be this build's. */
static int schema_current(vrm_vault *v)
{
    sqlite3_stmt *st = NULL;
    int version = -1, rc = 0;

    if (sqlite3_prepare_v2(v->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    else
        rc = vrm_vault_sqlerr(v, "cannot read vault.db");
    sqlite3_finalize(st);
    if (rc == 0 && version > vrm_schema_version())
        rc = vrm_error(EPROTONOSUPPORT, "the vault's schema (version %d) is newer than "
                       "this vrmfs knows (%d); upgrade vrmfs", version, vrm_schema_version());
    else if (rc == 0 && version < vrm_schema_version())
        rc = vrm_error(EROFS, "the vault's schema (version %d) needs upgrading to %d; "
                       "open it once read-write", version, vrm_schema_version());
    return rc;
}

int vrm_vault_open_raw(vrm_vault **out, const char *dir, const char *pass, size_t passlen,
                       unsigned flags)
{
    vrm_vault *v;
    header h;
    int rc;

    *out = NULL;
    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    v = vault_new(dir);
    if (v == NULL)
        return -ENOMEM;
    v->flags = flags;
    rc = header_load(dir, &h);  /* "no vault here" before creating a lock file */
    if (rc == 0)
        rc = vault_lock_dir(v);
    if (rc == 0)
        rc = vault_unlock(v, &h, pass, passlen);
    if (rc == 0)
        rc = vault_make_vfs(v);
    if (rc == 0)
        rc = vault_open_db(v, 0);
    if (rc == 0)
        rc = (flags & VRM_OPEN_READONLY) ? schema_current(v) : vrm_schema_migrate(v->db);
    if (rc == 0)
        rc = pairwise_load(v);
    if (rc == 0 && !(flags & VRM_OPEN_READONLY))
        checkpointer_start(v);
    if (rc == 0)
        readers_open(v);
    sodium_memzero(&h, sizeof h);
    if (rc != 0) {
        vault_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int vrm_vault_close(vrm_vault *v)
{
    int rc = 0;

    if (v == NULL)
        return 0;
    readers_close(v);
    checkpointer_stop(v);
    stmts_release(v);
    if (v->db != NULL && sqlite3_close(v->db) != SQLITE_OK)
        rc = vrm_vault_sqlerr(v, "closing vault.db");
    else
        v->db = NULL;
    if (v->db != NULL) {  /* statements left open: force it */
        sqlite3_close_v2(v->db);
        v->db = NULL;
    }
    vault_free(v);
    return rc;
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;

    if (d == NULL)
        return -errno;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

static void remove_created(const char *dir, int made_dir)
{
    static const char *const names[] = {"vault.json", "vault.json.new", "vault.db",
                                        "vault.db-wal", "vault.db-shm", "vault.lock"};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = path_join(dir, names[i]);

        if (p != NULL)
            unlink(p);
        free(p);
    }
    if (made_dir)
        rmdir(dir);
}

void vrm_vault_discard(const char *dir, int remove_dir)
{
    remove_created(dir, remove_dir);
}

int vrm_vault_create(const char *dir, const char *pass, size_t passlen,
                     const vrm_kdf_limits *limits, vrm_recovery_fn keep, void *ctx)
{
    char recovery[VRM_RECOVERY_KEY_LEN + 1];
    vrm_vault *v = NULL;
    uint8_t *key = NULL, *rec = NULL;
    int made_dir = 0, rc;
    header h;

    memset(&h, 0, sizeof h);
    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    if (passlen == 0)
        return vrm_error(EINVAL, "the passphrase is empty");
    h.format = VRM_FORMAT_VERSION;
    h.ops = limits && limits->ops ? limits->ops : crypto_pwhash_OPSLIMIT_MODERATE;
    h.mem = limits && limits->mem ? limits->mem : crypto_pwhash_MEMLIMIT_MODERATE;
    if (h.ops < crypto_pwhash_OPSLIMIT_MIN || h.ops > VRM_KDF_OPS_MAX)
        return vrm_error(EINVAL, "Argon2id ops must be between %llu and %d",
                         (unsigned long long)crypto_pwhash_OPSLIMIT_MIN, VRM_KDF_OPS_MAX);
    if (h.mem < crypto_pwhash_MEMLIMIT_MIN || h.mem > VRM_KDF_MEM_MAX)
        return vrm_error(EINVAL, "Argon2id memory must be between %zu bytes and %d MiB",
                         (size_t)crypto_pwhash_MEMLIMIT_MIN, (int)(VRM_KDF_MEM_MAX >> 20));

    if (mkdir(dir, 0700) == 0) {
        made_dir = 1;
    } else if (errno == EEXIST) {
        char *vj = path_join(dir, "vault.json");
        int empty = dir_is_empty(dir);

        if (vj != NULL && access(vj, F_OK) == 0)
            rc = vrm_error(EEXIST, "%s already holds a vault; not overwriting it", dir);
        else if (empty < 0)
            rc = vrm_error(-empty, "%s: %s", dir, strerror(-empty));
        else if (!empty)
            rc = vrm_error(EEXIST, "%s exists and is not empty; not making a vault there", dir);
        else
            rc = 0;
        free(vj);
        if (rc != 0)
            return rc;
    } else {
        return vrm_error(errno, "cannot make %s: %s", dir, strerror(errno));
    }

    rc = -ENOMEM;
    v = vault_new(dir);
    key = sodium_malloc(VRM_KEYBYTES);
    rec = sodium_malloc(RECBYTES);
    if (v == NULL || key == NULL || rec == NULL)
        goto fail;
    if ((rc = vault_lock_dir(v)) != 0)
        goto fail;
    randombytes_buf(v->master, VRM_KEYBYTES);
    randombytes_buf(h.id, sizeof h.id);
    randombytes_buf(h.salt, sizeof h.salt);
    randombytes_buf(rec, RECBYTES);
    memcpy(v->id, h.id, sizeof v->id);

    if ((rc = passkey(key, &h, pass, passlen)) != 0)
        goto fail;
    wrap(h.wrap_pass, key, v->master, ROLE_PASS);
    if ((rc = subkey(key, rec, 1, "vrmrecov")) != 0)
        goto fail;
    wrap(h.wrap_rec, key, v->master, ROLE_REC);
    header_mac(&h, v->master, h.mac);

    if ((rc = vault_make_vfs(v)) != 0 || (rc = vault_open_db(v, 1)) != 0 ||
        (rc = vrm_schema_migrate(v->db)) != 0)
        goto fail;
    if (sqlite3_close(v->db) != SQLITE_OK) {
        rc = vrm_vault_sqlerr(v, "closing vault.db");
        goto fail;
    }
    v->db = NULL;
    recovery_format(recovery, rec);
    rc = keep(ctx, recovery);
    sodium_memzero(recovery, sizeof recovery);
    if (rc != 0)
        goto fail;
    if ((rc = header_write(dir, &h)) != 0)
        goto fail;
    goto out;
fail:
    if (v != NULL && v->db != NULL) {
        sqlite3_close_v2(v->db);
        v->db = NULL;
    }
    remove_created(dir, made_dir);
out:
    if (v != NULL)
        vault_free(v);
    sodium_free(key);
    sodium_free(rec);
    sodium_memzero(&h, sizeof h);
    return rc;
}

/* Rewrap the master key under a new passphrase; serialised against other
 * rewraps by a lock on the directory itself. */
static int rewrap(const char *dir, const char *old, size_t oldlen, const char *rec,
                  const char *new_pass, size_t newlen)
{
    uint8_t *master = NULL, *key = NULL;
    int dfd, rc;
    header h;

    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    if (newlen == 0)
        return vrm_error(EINVAL, "the new passphrase is empty");
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return vrm_error(errno, "no vault at %s: %s", dir, strerror(errno));
    if (flock(dfd, LOCK_EX) != 0) {
        rc = vrm_error(errno, "cannot lock %s: %s", dir, strerror(errno));
        goto out;
    }
    master = sodium_malloc(VRM_KEYBYTES);
    key = sodium_malloc(VRM_KEYBYTES);
    if (master == NULL || key == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = header_load(dir, &h)) != 0 ||
        (rc = header_unlock(&h, old, oldlen, rec, master)) != 0)
        goto out;
    randombytes_buf(h.salt, sizeof h.salt);
    if ((rc = passkey(key, &h, new_pass, newlen)) != 0)
        goto out;
    wrap(h.wrap_pass, key, master, ROLE_PASS);
    header_mac(&h, master, h.mac);
    rc = header_write(dir, &h);
out:
    sodium_memzero(&h, sizeof h);
    sodium_free(master);
    sodium_free(key);
    close(dfd);
    return rc;
}

int vrm_vault_passwd(const char *dir, const char *old, size_t oldlen,
                     const char *new_pass, size_t newlen)
{
    return rewrap(dir, old, oldlen, NULL, new_pass, newlen);
}

int vrm_vault_recover(const char *dir, const char *recovery, const char *new_pass,
                      size_t newlen)
{
    return rewrap(dir, NULL, 0, recovery, new_pass, newlen);
}

/* ---- backup ---------------------------------------------------------- */

#define BACKUP_STEP_PAGES 256

/* Fsync the regular file at dir/name. */
static int fsync_file(const char *dir, const char *name)
{
    char *path = path_join(dir, name);
    int fd, rc = 0;

    if (path == NULL)
        return -ENOMEM;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = vrm_error(errno, "cannot sync %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/* Copy the database of src (open, read-only) into dst (open, created empty)
 * with the online backup API, then checkpoint dst's WAL into its database.
 * The copy runs inside one read transaction on src: the backup API leaves a
 * transaction it did not open alone, so every step reads the same snapshot
 * and a write to the mounted vault between two steps does not restart the
 * copy from its first page (which under a steady writer would never end).
 * In WAL mode the reader blocks no writer; the vault's checkpoints are
 * passive, so they copy what they can and its WAL grows meanwhile. */
static int backup_copy(vrm_vault *src, vrm_vault *dst, vrm_progress_fn progress, void *ctx)
{
    sqlite3_backup *b = NULL;
    sqlite3_stmt *st = NULL;
    int rc, total, busy = 0;

    if (sqlite3_exec(src->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return vrm_vault_sqlerr(src, "cannot read vault.db");
    if (sqlite3_prepare_v2(src->db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL) !=
        SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        rc = vrm_vault_sqlerr(src, "cannot read vault.db");
        sqlite3_finalize(st);
        sqlite3_exec(src->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    sqlite3_finalize(st);
    b = sqlite3_backup_init(dst->db, "main", src->db, "main");
    if (b == NULL) {
        rc = vrm_vault_sqlerr(dst, "cannot start the backup");
        sqlite3_exec(src->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    for (;;) {
        rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
        total = sqlite3_backup_pagecount(b);
        if (progress != NULL && total > 0)
            progress(ctx, (uint64_t)(total - sqlite3_backup_remaining(b)), (uint64_t)total);
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_OK)
            continue;
        /* The vault's writer holds a lock for a moment: wait, up to 60 s. */
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && busy++ < 1200) {
            usleep(50 * 1000);
            continue;
        }
        break;
    }
    if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
        /* The error is on the destination's connection, or the source's. */
        if (sqlite3_errcode(dst->db) != SQLITE_OK)
            rc = vrm_vault_sqlerr(dst, "backup");
        else
            rc = vrm_vault_sqlerr(src, "backup");
        sqlite3_exec(src->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    sqlite3_exec(src->db, "COMMIT", NULL, NULL, NULL);  /* a read: nothing to lose */
    if (sqlite3_wal_checkpoint_v2(dst->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
        SQLITE_OK)
        return vrm_vault_sqlerr(dst, "checkpoint of the backup");
    return 0;
}

int vrm_vault_backup(const char *dir, const char *pass, size_t passlen, const char *dest,
                     vrm_progress_fn progress, void *ctx)
{
    vrm_vault *src = NULL, *dst = NULL;
    char *json = NULL, *dbpath = NULL;
    size_t jsonlen = 0;
    int made_dir = 0, rc;
    header h;

    memset(&h, 0, sizeof h);
    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    src = vault_new(dir);
    if (src == NULL)
        return -ENOMEM;
    /* Read-only and without the lock: the vault may be mounted. */
    src->flags = VRM_OPEN_READONLY;
    rc = header_read(dir, &h, &json, &jsonlen);
    if (rc == 0)
        rc = vault_unlock(src, &h, pass, passlen);
    sodium_memzero(&h, sizeof h);
    if (rc == 0)
        rc = vault_make_vfs(src);
    if (rc == 0)
        rc = vault_open_db(src, 0);
    if (rc != 0)
        goto out;

    if (mkdir(dest, 0700) == 0) {
        made_dir = 1;
    } else if (errno == EEXIST) {
        int empty = dir_is_empty(dest);

        if (empty < 0)
            rc = vrm_error(-empty, "%s: %s", dest, strerror(-empty));
        else if (!empty)
            rc = vrm_error(EEXIST, "%s exists and is not empty; not writing a backup there",
                           dest);
        if (rc != 0)
            goto out;
    } else {
        rc = vrm_error(errno, "cannot make %s: %s", dest, strerror(errno));
        goto out;
    }

    dst = vault_new(dest);
    if (dst == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    /* The same page key and id: the pages are encrypted as in the vault. */
    dst->vfs = src->vfs;
    dst->flags = VRM_OPEN_SYNC_FULL;
    memcpy(dst->id, src->id, sizeof dst->id);
    if ((rc = vault_open_db(dst, 1)) != 0 || (rc = backup_copy(src, dst, progress, ctx)) != 0)
        goto fail;
    if (sqlite3_close(dst->db) != SQLITE_OK) {
        rc = vrm_vault_sqlerr(dst, "closing the backup's vault.db");
        goto fail;
    }
    dst->db = NULL;
    dbpath = path_join(dest, "vault.db-wal");
    if (dbpath == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (access(dbpath, F_OK) == 0) {
        rc = vrm_error(EIO, "%s was left behind after the checkpoint", dbpath);
        goto fail;
    }
    /* vault.json last: a directory without it is no vault. */
    if ((rc = fsync_file(dest, "vault.db")) != 0 ||
        (rc = replace_file(dest, "vault.json", json, jsonlen)) != 0)
        goto fail;
    goto out;
fail:
    if (dst != NULL && dst->db != NULL) {
        sqlite3_close_v2(dst->db);
        dst->db = NULL;
    }
    remove_created(dest, made_dir);
out:
    if (dst != NULL) {
        dst->vfs = NULL;  /* src's */
        vault_free(dst);
    }
    vault_free(src);
    if (json != NULL) {
        sodium_memzero(json, jsonlen);
        free(json);
    }
    free(dbpath);
    return rc;
}

/* ---- check ----------------------------------------------------------- */

typedef struct check_ctx {
    const vrm_check_report *r;
} check_ctx;

static void check_line(const vrm_check_report *r, int bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void check_line(const vrm_check_report *r, int bad, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (bad && r && r->bad)
        r->bad(r->ctx, line);
    else if (!bad && r && r->note)
        r->note(r->ctx, line);
}

static void on_bad(void *ctx, const char *file, uint64_t index, const char *why)
{
    check_ctx *c = ctx;

    check_line(c->r, 1, "%s %s %llu %s", file, strcmp(file, "vault.db") == 0 ? "page" : "frame",
               (unsigned long long)index, why);
}

static void on_note(void *ctx, const char *file, uint64_t index, const char *what)
{
    check_ctx *c = ctx;

    check_line(c->r, 0, "%s frame %llu: %s", file, (unsigned long long)index, what);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    check_ctx *c = ctx;

    if (c->r && c->r->progress)
        c->r->progress(c->r->ctx, done, total);
}

int vrm_vault_check(const char *dir, const char *pass, size_t passlen,
                    const vrm_check_report *r)
{
    check_ctx c = {r};
    vrm_verify_report vr = {on_bad, on_note, on_progress, &c};
    sqlite3_stmt *st = NULL;
    vrm_vault *v;
    char *dbpath = NULL;
    int rc, nbad = 0, version = 0;
    header h;

    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    v = vault_new(dir);
    if (v == NULL)
        return -ENOMEM;
    v->flags = VRM_OPEN_READONLY;
    rc = header_load(dir, &h);
    if (rc == 0)
        rc = vault_lock_dir(v);
    if (rc == 0)
        rc = vault_unlock(v, &h, pass, passlen);
    if (rc == 0)
        rc = vault_make_vfs(v);
    sodium_memzero(&h, sizeof h);
    if (rc != 0)
        goto out;
    dbpath = path_join(dir, "vault.db");
    if (dbpath == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (access(dbpath, F_OK) != 0) {
        rc = vrm_error(ENOENT, "the vault at %s has no vault.db", dir);
        goto out;
    }
    rc = vrm_cryptvfs_verify(v->vfs, dbpath, &vr);
    if (rc < 0)
        goto out;
    nbad = rc;
    rc = 0;
    if (nbad > 0)
        goto out;  /* SQLite would only trip over the same pages */

    if ((rc = vault_open_db(v, 0)) != 0) {
        if (rc != -EBADMSG && rc != -EUCLEAN)
            goto out;  /* not damage: disk full, out of memory... */
        check_line(r, 1, "%s", vrm_error_message());
        nbad++;
        rc = 0;
        goto out;
    }
    if (sqlite3_prepare_v2(v->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > vrm_schema_version())
        check_line(r, 0, "schema version %d is newer than this vrmfs knows (%d)",
                   version, vrm_schema_version());
    if (sqlite3_prepare_v2(v->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
        check_line(r, 1, "integrity check could not run: %s", sqlite3_errmsg(v->db));
        nbad++;
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);

        if (line != NULL && strcmp(line, "ok") != 0) {
            check_line(r, 1, "integrity: %s", line);
            nbad++;
        }
    }
    if (rc != SQLITE_DONE) {
        check_line(r, 1, "integrity check stopped: %s",
                   vrm_errno_from_sqlite(sqlite3_extended_errcode(v->db)) == -EBADMSG
                       ? vrm_error_message() : sqlite3_errmsg(v->db));
        nbad++;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    free(dbpath);
    vault_free(v);
    return rc < 0 ? rc : nbad;
}
