/*
 * accesslog.c: the append-only, hash-chained access logs of vendor views.
 *
 * Each line is one row of access_log(vendor, n, line), n = 1, 2, ... per
 * vendor, stored without its newline.  The chain is kept in the text itself
 * (the " chain=HEX" at the end of each line), so that a copy of the text
 * taken out of the mount can be checked without the vault; the rows only
 * give the order.  Appending reads the last row's HEX to chain from, inside
 * the same transaction as the insert, so concurrent appends (serialised by
 * the vault's mutex) can neither fork nor interleave the chain.
 */
#include "consent/accesslog.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "data/records.h"
#include "store/vault_int.h"
#include "consent/accesslog_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#define HEXLEN (crypto_hash_sha256_BYTES * 2)   /* 64 */
#define CHAIN " chain="
#define CHAINLEN (sizeof CHAIN - 1)
#define TIMELEN 24                             /* 2026-11-23T13:44:27.123Z */

/* The HEX of line 0, from which the first line chains. */
static const char genesis[HEXLEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* hex = lowercase hex SHA-256 of prev || "\n" || body[0..len).  hex has room
 * for HEXLEN + 1 bytes and ends NUL-terminated. */
static void chain_hash(char *hex, const char *prev, const char *body, size_t len)
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)prev, HEXLEN);
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)body, len);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, HEXLEN + 1, h, sizeof h);
}

/* The last occurrence of " chain=" in s[0..n), or NULL.  Only the last one
 * counts: PATH may hold the same characters, unescaped, but comes before. */
static const char *find_chain(const char *s, size_t n)
{
    size_t i;

    if (n < CHAINLEN)
        return NULL;
    for (i = n - CHAINLEN + 1; i-- > 0;)
        if (memcmp(s + i, CHAIN, CHAINLEN) == 0)
            return s + i;
    return NULL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_lower_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* ---- the shape of a line --------------------------------------------- */

/* A cursor over one line's text before " chain=". */
typedef struct cursor {
    const char *p;        /* next byte */
    const char *end;      /* one past the last byte */
} cursor;

/* Consume the literal `lit`; 0 or -1. */
static int eat(cursor *c, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

/* Consume a decimal number that fits in 32 unsigned bits, no sign, no
 * leading zero but for 0 itself; 0 or -1. */
static int eat_number(cursor *c)
{
    unsigned long long v = 0;
    const char *start = c->p;

    while (c->p < c->end && is_digit(*c->p)) {
        v = v * 10 + (unsigned)(*c->p - '0');
        if (v > UINT32_MAX)
            return -1;
        c->p++;
    }
    if (c->p == start || (*start == '0' && c->p - start > 1))
        return -1;
    return 0;
}

/* Consume "YYYY-MM-DDTHH:MM:SS.mmmZ"; 0 or -1. */
static int eat_time(cursor *c)
{
    static const char shape[TIMELEN + 1] = "dddd-dd-ddTdd:dd:dd.dddZ";
    size_t i;

    if (c->end - c->p < TIMELEN)
        return -1;
    for (i = 0; i < TIMELEN; i++) {
        if (shape[i] == 'd' ? !is_digit(c->p[i]) : c->p[i] != shape[i])
            return -1;
    }
    c->p += TIMELEN;
    return 0;
}

/* Consume a JSON string as cJSON_PrintUnformatted writes one: quotes,
 * escapes \" \\ \/ \b \f \n \r \t \uXXXX, no raw control characters; 0 or
 * -1.  Bytes from 0x80 up pass as they are (cJSON does not check UTF-8,
 * and a path is bytes). */
static int eat_json_string(cursor *c)
{
    if (c->p >= c->end || *c->p != '"')
        return -1;
    for (c->p++; c->p < c->end; c->p++) {
        unsigned char ch = (unsigned char)*c->p;

        if (ch == '"') {
            c->p++;
            return 0;
        }
        if (ch < 0x20)
            return -1;
        if (ch != '\\')
            continue;
        if (++c->p >= c->end)
            return -1;
        switch (*c->p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            break;
        case 'u':
            if (c->end - c->p < 5 || !isxdigit((unsigned char)c->p[1]) ||
                !isxdigit((unsigned char)c->p[2]) || !isxdigit((unsigned char)c->p[3]) ||
                !isxdigit((unsigned char)c->p[4]))
                return -1;
            c->p += 4;
            break;
        default:
            return -1;
        }
    }
    return -1;
}

/* Check one line s[0..n) (no newline) that should chain from prev (HEXLEN
 * characters).  0 and next (HEXLEN + 1 bytes) set to its HEX, or -1 and
 * *why saying what is wrong. */
static int check_line(const char *s, size_t n, const char *prev, char *next,
                      const char **why)
{
    const char *chain = find_chain(s, n);
    char want[HEXLEN + 1];
    cursor c;
    size_t i;

    if (chain == NULL) {
        *why = "no \" chain=\" field";
        return -1;
    }
    c.p = s;
    c.end = chain;
    if (eat_time(&c) != 0) {
        *why = "malformed time (expected YYYY-MM-DDTHH:MM:SS.mmmZ)";
        return -1;
    }
    if (eat(&c, " pid=") != 0 || eat_number(&c) != 0) {
        *why = "malformed pid= field";
        return -1;
    }
    if (eat(&c, " uid=") != 0 || eat_number(&c) != 0) {
        *why = "malformed uid= field";
        return -1;
    }
    if (eat(&c, " comm=") != 0 || eat_json_string(&c) != 0) {
        *why = "malformed comm= field (expected a JSON string)";
        return -1;
    }
    if (eat(&c, " path=") != 0 || eat_json_string(&c) != 0 || c.p != c.end) {
        *why = "malformed path= field (expected a JSON string, then chain=)";
        return -1;
    }
    if ((size_t)(s + n - (chain + CHAINLEN)) != HEXLEN) {
        *why = "malformed chain= field (expected 64 hex digits)";
        return -1;
    }
    for (i = 0; i < HEXLEN; i++) {
        if (!is_lower_hex(chain[CHAINLEN + i])) {
            *why = "malformed chain= field (expected 64 lowercase hex digits)";
            return -1;
        }
    }
    chain_hash(want, prev, s, (size_t)(chain - s));
    if (memcmp(want, chain + CHAINLEN, HEXLEN) != 0) {
        *why = "chain mismatch (a line was removed, reordered or altered at or before it)";
        return -1;
    }
    memcpy(next, want, sizeof want);
    return 0;
}

int vrm_accesslog_verify_text(const char *text, size_t len, size_t *bad_line)
{
    char prev[HEXLEN + 1];
    const char *p = text, *end, *why;
    size_t line = 0;

    if (bad_line != NULL)
        *bad_line = 0;
    if (len == 0)
        return 0;  /* before any arithmetic on a possibly NULL text */
    end = text + len;
    memcpy(prev, genesis, sizeof prev);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        line++;
        if (nl == NULL) {
            why = "no newline at its end (truncated)";
            goto bad;
        }
        if (check_line(p, (size_t)(nl - p), prev, prev, &why) != 0)
            goto bad;
        p = nl + 1;
    }
    return 0;
bad:
    if (bad_line != NULL)
        *bad_line = line;
    return vrm_error(EBADMSG, "line %zu: %s", line, why);
}

/* ---- appending ------------------------------------------------------- */

/* The current time as TIMELEN characters + NUL. */
static int format_now(char out[TIMELEN + 1])
{
    struct timespec ts;
    struct tm tm;
    char sec[32];
    int n;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL)
        return vrm_error(EIO, "cannot read the clock");
    if (strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
        return vrm_error(ERANGE, "the clock is outside years 0000-9999");
    n = snprintf(out, TIMELEN + 1, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
    return n == TIMELEN ? 0 : vrm_error(ERANGE, "the clock is outside years 0000-9999");
}

/* s as a JSON string (malloc'd through cJSON, free with cJSON_free), or
 * NULL when out of memory. */
static char *json_string(const char *s)
{
    cJSON *item = cJSON_CreateString(s);
    char *out;

    if (item == NULL)
        return NULL;
    out = cJSON_PrintUnformatted(item);
    cJSON_Delete(item);
    return out;
}

/* Read the HEX of vendor's last line into prev (HEXLEN + 1 bytes) and its
 * n into *last (0 and genesis when the log is empty). */
static int last_line_locked(vrm_vault *v, const char *vendor, char *prev, int64_t *last)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT n, line FROM access_log WHERE vendor = ?1 "
                               "ORDER BY n DESC LIMIT 1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        memcpy(prev, genesis, HEXLEN + 1);
        *last = 0;
        rc = 0;
    } else if (rc == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1), i;
        const char *chain = line != NULL ? find_chain(line, n) : NULL;

        *last = sqlite3_column_int64(st, 0);
        rc = 0;
        /* Fail closed: a log whose end cannot be chained from stays as it
         * is for verify to report, rather than grow a second chain. */
        if (chain == NULL || (size_t)(line + n - chain) != CHAINLEN + HEXLEN)
            rc = vrm_error(EBADMSG, "the access log of %s is damaged at line %lld: "
                           "no chain to append to", vendor, (long long)*last);
        for (i = 0; rc == 0 && i < HEXLEN; i++)
            if (!is_lower_hex(chain[CHAINLEN + i]))
                rc = vrm_error(EBADMSG, "the access log of %s is damaged at line %lld: "
                               "no chain to append to", vendor, (long long)*last);
        if (rc == 0)
            memcpy(prev, chain + CHAINLEN, HEXLEN);
        prev[HEXLEN] = '\0';
    } else {
        rc = vrm_vault_sqlerr(v, "database");
    }
    sqlite3_reset(st);
    return rc;
}

int vrm_accesslog_append_locked(vrm_vault *v, const char *vendor, const char *path,
                                pid_t pid, uid_t uid, const char *comm)
{
    char when[TIMELEN + 1], prev[HEXLEN + 1], hex[HEXLEN + 1];
    char *jcomm = NULL, *jpath = NULL, *line = NULL;
    sqlite3_stmt *st;
    size_t cap, body;
    int64_t last = 0;
    int rc, n;

    if (vendor == NULL || path == NULL || pid < 0)
        return vrm_error(EINVAL, "access log: no vendor, no path or a negative pid");
    if ((rc = vrm_collection_name_valid(vendor)) != 0)  /* vendor names follow it */
        return rc;
    if ((rc = format_now(when)) != 0)
        return rc;
    jcomm = json_string(comm != NULL ? comm : "");
    jpath = json_string(path);
    if (jcomm == NULL || jpath == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    /* time, " pid=" 10 digits, " uid=" 10 digits, " comm=", " path=",
     * " chain=" hex, NUL; each strlen is far below SIZE_MAX / 4. */
    cap = TIMELEN + 64 + strlen(jcomm) + strlen(jpath) + CHAINLEN + HEXLEN + 1;
    line = malloc(cap);
    if (line == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    n = snprintf(line, cap, "%s pid=%ld uid=%lu comm=%s path=%s", when, (long)pid,
                 (unsigned long)uid, jcomm, jpath);
    if (n < 0 || (size_t)n >= cap - CHAINLEN - HEXLEN) {
        rc = vrm_error(EOVERFLOW, "access log: line too long");
        goto out;
    }
    body = (size_t)n;
    if (body + CHAINLEN + HEXLEN > INT_MAX) {  /* sqlite3_bind_text takes an int */
        rc = vrm_error(EOVERFLOW, "access log: line too long");
        goto out;
    }
    if ((rc = last_line_locked(v, vendor, prev, &last)) != 0)
        goto out;
    chain_hash(hex, prev, line, body);
    memcpy(line + body, CHAIN, CHAINLEN);
    memcpy(line + body + CHAINLEN, hex, HEXLEN + 1);
    rc = vrm_vault_stmt(v, "INSERT INTO access_log(vendor, n, line) VALUES (?1, ?2, ?3)", &st);
    if (rc != 0)
        goto out;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, last + 1);
    sqlite3_bind_text(st, 3, line, (int)(body + CHAINLEN + HEXLEN), SQLITE_STATIC);
    rc = vrm_vault_run(v, st);
out:
    free(line);
    cJSON_free(jpath);
    cJSON_free(jcomm);
    return rc;
}

int vrm_accesslog_append(vrm_vault *v, const char *vendor, const char *path, pid_t pid,
                         uid_t uid, const char *comm)
{
    int rc;

    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc == 0) {
        rc = vrm_accesslog_append_locked(v, vendor, path, pid, uid, comm);
        rc = vrm_tx_finish(v, rc);
    }
    vrm_vault_unlock(v);
    return rc;
}

/* ---- reading --------------------------------------------------------- */

int vrm_accesslog_read(vrm_vault *v, const char *vendor, char **out, size_t *len)
{
    vrm_strbuf log = VRM_STRBUF_INIT;
    sqlite3_stmt *st;
    int rc;

    *out = NULL;
    *len = 0;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT line FROM access_log WHERE vendor = ?1 ORDER BY n", &st);
    if (rc != 0)
        goto out;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);

        if (vrm_strbuf_add(&log, line, n) != 0 || vrm_strbuf_addch(&log, '\n') != 0) {
            rc = -ENOMEM;
            goto reset;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
reset:
    sqlite3_reset(st);
out:
    vrm_vault_unlock(v);
    if (rc != 0) {
        vrm_strbuf_release(&log);
        return rc;
    }
    *out = vrm_strbuf_detach(&log, len);
    return *out != NULL ? 0 : -ENOMEM;
}

int vrm_accesslog_size(vrm_vault *v, const char *vendor, uint64_t *size)
{
    sqlite3_stmt *st;
    int rc;

    *size = 0;
    vrm_vault_lock(v);
    /* length() of TEXT counts characters; the cast makes it count bytes. */
    rc = vrm_vault_stmt(v, "SELECT COALESCE(SUM(length(CAST(line AS BLOB)) + 1), 0) "
                           "FROM access_log WHERE vendor = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            *size = (uint64_t)sqlite3_column_int64(st, 0);
        else
            rc = vrm_vault_sqlerr(v, "database");
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

/* ---- verifying the stored logs --------------------------------------- */

int vrm_accesslog_verify_all(vrm_vault *v)
{
    char prev[HEXLEN + 1];
    char *vendor = NULL;      /* the log being walked */
    const char *why;
    sqlite3_stmt *st;
    int64_t k = 0;
    int rc;

    vrm_vault_lock(v);
    /* One statement: one consistent snapshot of every log, in key order. */
    rc = vrm_vault_stmt(v, "SELECT vendor, line FROM access_log ORDER BY vendor, n", &st);
    if (rc != 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *line = (const char *)sqlite3_column_text(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);

        if (name == NULL || line == NULL) {
            rc = vrm_error(EBADMSG, "access log: a row without vendor or line");
            goto reset;
        }
        if (vendor == NULL || strcmp(name, vendor) != 0) {
            free(vendor);
            if ((vendor = strdup(name)) == NULL) {
                rc = -ENOMEM;
                goto reset;
            }
            memcpy(prev, genesis, sizeof prev);
            k = 0;
        }
        k++;
        /* A stored newline would split the line in the text a vendor sees. */
        if (memchr(line, '\n', n) != NULL)
            why = "holds a newline";
        else if (check_line(line, n, prev, prev, &why) == 0)
            continue;
        rc = vrm_error(EBADMSG, "access log of %s: line %lld: %s", name, (long long)k, why);
        goto reset;
    }
    rc = rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
reset:
    sqlite3_reset(st);
out:
    vrm_vault_unlock(v);
    free(vendor);
    return rc;
}
