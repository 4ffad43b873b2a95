/*
 * fuzz_import.c: a CSV or JSON-lines file dropped into import/COLL/ (or
 * given to `vrmfs import`): vrm_import, in a vault made once per process.
 *
 * Checks: 0 or -EINVAL with a message; for an imported file, the report is
 * an object saying csv or jsonl, rows = imported + unchanged + refused (at
 * most 1000 of them listed, each with a line and a reason), every record
 * made reads back; importing the same file again refuses the same rows,
 * and, when the first import made one new record per imported row, adds
 * nothing (record names are stable).  Then the collection is emptied.
 *
 * And against a model of import.h written here from its text (CSV cells,
 * quoting and typing, JSON lines, record names from ids or hashes, what is
 * refused): whether the file is taken, as which format, the report's
 * counts and refused lines, and every record's name and body.
 */
#include "fuzz.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/names.h"
#include "data/records_int.h"
#include "store/vault_int.h"

#define COLL "imported"

static vrm_vault *v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_fixed_random();
    fuzz_vault_renew(&v, "vault");
    return 0;
}

typedef struct report {
    double rows, imported, unchanged;
    int refused_listed;
    int jsonl;                        /* "format" is "jsonl" */
    double lines[1000];               /* of the refused rows listed */
} report;

/* ---- the model ---------------------------------------------------------------- */

typedef struct mrec {
    char name[VRM_RECORD_NAME_MAX + 1];
    char *compact;                    /* its body, as cJSON prints it compact */
} mrec;

typedef struct model {
    int jsonl;
    size_t rows, imported, unchanged, nrefused;
    size_t lines[1000];               /* the first refused rows' lines */
    mrec *recs;                       /* the collection afterwards */
    size_t nrecs;
} model;

static void model_release(model *m)
{
    size_t i;

    for (i = 0; i < m->nrecs; i++)
        free(m->recs[i].compact);
    free(m->recs);
}

static void m_refuse(model *m, size_t line)
{
    if (m->nrefused < 1000)
        m->lines[m->nrefused] = line;
    m->nrefused++;
    m->rows++;
}

/* A row's body under `name`: created, replaced or unchanged. */
static void m_store(model *m, const char *name, cJSON *body)
{
    char *compact = cJSON_PrintUnformatted(body);
    size_t i;

    FUZZ_CHECK(compact != NULL);
    m->rows++;
    for (i = 0; i < m->nrecs && strcmp(m->recs[i].name, name) != 0; i++)
        ;
    if (i == m->nrecs) {
        m->recs = realloc(m->recs, (m->nrecs + 1) * sizeof *m->recs);
        FUZZ_CHECK(m->recs != NULL);
        snprintf(m->recs[i].name, sizeof m->recs[i].name, "%s", name);
        m->recs[i].compact = compact;
        m->nrecs++;
        m->imported++;
    } else if (strcmp(m->recs[i].compact, compact) == 0) {
        m->unchanged++;
        free(compact);
    } else {
        free(m->recs[i].compact);
        m->recs[i].compact = compact;
        m->imported++;
    }
}

/* The name an id makes (import.h), or 0 if it makes none. */
static int m_id_name(const unsigned char *id, size_t n, char out[VRM_RECORD_NAME_MAX + 1])
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int keep = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                          id[i]) != NULL && id[i] != '\0';

        if (id[i] >= 0x80 && id[i] < 0xc0)
            continue;                 /* the rest of a character already made '_' */
        if (o == VRM_RECORD_NAME_MAX)
            return 0;
        out[o] = keep && !(o == 0 && id[i] == '.') ? (char)id[i] : '_';
        o++;
    }
    out[o] = '\0';
    return o > 0;
}

static void m_hash_name(const cJSON *body, char out[VRM_RECORD_NAME_MAX + 1])
{
    unsigned char h[32];
    char *compact = cJSON_PrintUnformatted(body);

    FUZZ_CHECK(compact != NULL);
    crypto_generichash(h, sizeof h, (const unsigned char *)compact, strlen(compact), NULL, 0);
    out[0] = 'r';
    sodium_bin2hex(out + 1, 17, h, 8);
    free(compact);
}

/* A CSV cell's value: a JSON number of at most 15 significant digits that a
 * double holds, else the text. */
static cJSON *m_value(const char *s, size_t n)
{
    size_t i = 0, sig = 0, first;
    int seen = 0;

    if (i < n && s[i] == '-')
        i++;
    first = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        seen = seen || s[i] != '0';
        sig += seen;
        i++;
    }
    if (i == first || (s[first] == '0' && i - first > 1))
        return cJSON_CreateString(s);
    if (i < n && s[i] == '.') {
        size_t f = ++i;

        while (i < n && s[i] >= '0' && s[i] <= '9') {
            seen = seen || s[i] != '0';
            sig += seen;
            i++;
        }
        if (i == f)
            return cJSON_CreateString(s);
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e;

        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        e = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e)
            return cJSON_CreateString(s);
    }
    if (i != n || sig > 15 || !isfinite(strtod(s, NULL)))
        return cJSON_CreateString(s);
    return cJSON_CreateNumber(strtod(s, NULL));
}

/* One CSV record from d[*pos..len) (RFC 4180 as import.h has it): its
 * cells, NUL-terminated, into cells[] (malloc'd), *bad if malformed. */
typedef struct mcsv {
    char **cells;
    size_t *lens, n;
    const char *bad;
    size_t line;                      /* where it starts */
} mcsv;

static void mcsv_release(mcsv *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free(r->cells[i]);
    free(r->cells);
    free(r->lens);
    memset(r, 0, sizeof *r);
}

static void mcsv_add(mcsv *r, const char *text, size_t n)
{
    r->cells = realloc(r->cells, (r->n + 1) * sizeof *r->cells);
    r->lens = realloc(r->lens, (r->n + 1) * sizeof *r->lens);
    FUZZ_CHECK(r->cells != NULL && r->lens != NULL);
    r->cells[r->n] = malloc(n + 1);
    FUZZ_CHECK(r->cells[r->n] != NULL);
    memcpy(r->cells[r->n], text, n);
    r->cells[r->n][n] = '\0';
    r->lens[r->n++] = n;
}

static void mcsv_next(const char *d, size_t len, size_t *pos, size_t *line, mcsv *r)
{
    char *cell = malloc(len + 1);
    size_t p = *pos, n;

    FUZZ_CHECK(cell != NULL);
    memset(r, 0, sizeof *r);
    r->line = *line;
    for (;;) {
        n = 0;
        if (p < len && d[p] == '"') {
            for (p++;; p++) {
                if (p == len) {
                    r->bad = "never closed";
                    goto out;
                }
                if (d[p] == '"' && p + 1 < len && d[p + 1] == '"') {
                    cell[n++] = '"';
                    p++;
                } else if (d[p] == '"') {
                    p++;
                    break;
                } else {
                    *line += d[p] == '\n';
                    cell[n++] = d[p];
                }
            }
            if (p + 1 < len && d[p] == '\r' && d[p + 1] == '\n')
                p++;                  /* CRLF after the closing quote */
            else if (p + 1 == len && d[p] == '\r')
                p++;
            if (p < len && d[p] != ',' && d[p] != '\n') {
                r->bad = "text after the closing quote";
                while (p < len && d[p] != '\n')
                    p++;
                if (p < len) {
                    p++;
                    (*line)++;
                }
                goto out;
            }
        } else {
            while (p < len && d[p] != ',' && d[p] != '\n')
                cell[n++] = d[p++];
            if (n > 0 && cell[n - 1] == '\r' && (p == len || d[p] == '\n'))
                n--;
        }
        mcsv_add(r, cell, n);
        if (p == len)
            break;
        if (d[p++] == '\n') {
            (*line)++;
            break;
        }
    }
out:
    *pos = p;
    free(cell);
}

static int m_blank(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* The header's names: at least one, none empty or twice, UTF-8 without
 * control characters. */
static int m_header_ok(const mcsv *h)
{
    size_t i, k;

    if (h->bad != NULL || h->n == 0)
        return 0;
    for (i = 0; i < h->n; i++) {
        if (h->lens[i] == 0 || !fuzz_utf8_valid((const uint8_t *)h->cells[i], h->lens[i]))
            return 0;
        for (k = 0; k < h->lens[i]; k++)
            if ((unsigned char)h->cells[i][k] < 0x20 || h->cells[i][k] == 0x7f)
                return 0;
        for (k = 0; k < i; k++)
            if (strcmp(h->cells[k], h->cells[i]) == 0)
                return 0;
    }
    return 1;
}

static void m_csv(model *m, const char *d, size_t len, size_t pos)
{
    size_t line = 1, i, nonempty;
    mcsv head, r;
    int idcol = -1;

    mcsv_next(d, len, &pos, &line, &head);
    for (i = 0; i < head.n; i++)
        if (strcmp(head.cells[i], "id") == 0)
            idcol = (int)i;
    while (pos < len) {
        char name[VRM_RECORD_NAME_MAX + 1];
        int ok = 1, named = 0;
        cJSON *body;

        mcsv_next(d, len, &pos, &line, &r);
        for (i = 0, nonempty = 0; i < r.n; i++)
            nonempty += r.lens[i] > 0;
        if (r.bad == NULL && nonempty == 0) {
            mcsv_release(&r);
            continue;
        }
        ok = r.bad == NULL && r.n <= head.n;
        for (i = 0; ok && i < r.n; i++)
            ok = fuzz_utf8_valid((const uint8_t *)r.cells[i], r.lens[i]) &&
                 memchr(r.cells[i], '\0', r.lens[i]) == NULL;
        if (!ok) {
            m_refuse(m, r.line);
            mcsv_release(&r);
            continue;
        }
        body = cJSON_CreateObject();
        for (i = 0; i < r.n; i++) {
            if (r.lens[i] == 0)
                continue;
            cJSON_AddItemToObject(body, head.cells[i], m_value(r.cells[i], r.lens[i]));
            if ((int)i == idcol) {
                named = 1;
                ok = m_id_name((const unsigned char *)r.cells[i], r.lens[i], name);
            }
        }
        if (!named)
            m_hash_name(body, name);
        if (ok)
            m_store(m, name, body);
        else
            m_refuse(m, r.line);
        cJSON_Delete(body);
        mcsv_release(&r);
    }
    mcsv_release(&head);
}

static void m_jsonl(model *m, const char *d, size_t len, size_t pos)
{
    size_t line = 1;

    while (pos < len) {
        const char *nl = memchr(d + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - d) : len;
        char name[VRM_RECORD_NAME_MAX + 1], *idtext = NULL;
        const cJSON *id;
        cJSON *obj = NULL;
        int ok;

        if (!m_blank(d + pos, end - pos)) {
            ok = vrm_json_parse_object(d + pos, end - pos, &obj) == 0;
            id = cJSON_GetObjectItemCaseSensitive(obj, "id");
            if (ok && cJSON_IsString(id))
                idtext = strdup(id->valuestring);
            else if (ok && cJSON_IsNumber(id))
                idtext = cJSON_PrintUnformatted(id);
            if (ok && id != NULL)
                ok = idtext != NULL && m_id_name((const unsigned char *)idtext,
                                                 strlen(idtext), name);
            else if (ok)
                m_hash_name(obj, name);
            if (ok)
                m_store(m, name, obj);
            else
                m_refuse(m, line);
            free(idtext);
            cJSON_Delete(obj);
        }
        pos = end + 1;
        line++;
    }
}

/* 1 and *m if import.h takes the file, else 0. */
static int model_import(const char *d, size_t len, model *m)
{
    size_t pos = len >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0 ? 3 : 0, p, line = 1;
    cJSON *obj = NULL;
    mcsv head;
    int ok;

    memset(m, 0, sizeof *m);
    if (pos == len || memchr(d, '\0', len < 8192 ? len : 8192) != NULL)
        return 0;
    for (p = pos; p < len;) {         /* the first line that is not blank */
        const char *nl = memchr(d + p, '\n', len - p);
        size_t end = nl != NULL ? (size_t)(nl - d) : len;

        if (!m_blank(d + p, end - p)) {
            m->jsonl = vrm_json_parse_object(d + p, end - p, &obj) == 0;
            cJSON_Delete(obj);
            break;
        }
        p = end + 1;
    }
    if (m->jsonl) {
        m_jsonl(m, d, len, pos);
        return 1;
    }
    p = pos;
    mcsv_next(d, len, &p, &line, &head);
    ok = m_header_ok(&head);
    mcsv_release(&head);
    if (ok)
        m_csv(m, d, len, pos);
    return ok;
}

/* The import of the file against the model. */
static void check_model(const model *m, const report *rep)
{
    size_t i, listed = m->nrefused < 1000 ? m->nrefused : 1000;
    char *json = NULL;
    cJSON *got = NULL;
    size_t len = 0;

    FUZZ_CHECK(rep->jsonl == m->jsonl);
    FUZZ_CHECK(rep->rows == (double)m->rows);
    FUZZ_CHECK(rep->imported == (double)m->imported);
    FUZZ_CHECK(rep->unchanged == (double)m->unchanged);
    FUZZ_CHECK(rep->refused_listed == (int)listed);
    for (i = 0; i < listed; i++)
        FUZZ_CHECK(rep->lines[i] == (double)m->lines[i]);
    FUZZ_CHECK(vrm_record_count(v, COLL) == (int64_t)m->nrecs);
    for (i = 0; i < m->nrecs; i++) {
        char *compact;

        FUZZ_CHECK(vrm_record_get(v, COLL, m->recs[i].name, &json, &len, NULL) == 0);
        FUZZ_CHECK(vrm_json_parse_object(json, len, &got) == 0);
        compact = cJSON_PrintUnformatted(got);
        FUZZ_CHECK(compact != NULL && strcmp(compact, m->recs[i].compact) == 0);
        free(compact);
        cJSON_Delete(got);
        free(json);
    }
}

/* Check the report text and read its counts. */
static report read_report(const char *text, size_t len)
{
    const cJSON *format, *refused, *r, *item;
    cJSON *obj = NULL;
    report rep;
    size_t i;

    FUZZ_CHECK(vrm_json_parse_object(text, len, &obj) == 0);
    format = cJSON_GetObjectItemCaseSensitive(obj, "format");
    FUZZ_CHECK(cJSON_IsString(format) && (strcmp(format->valuestring, "csv") == 0 ||
                                          strcmp(format->valuestring, "jsonl") == 0));
    item = cJSON_GetObjectItemCaseSensitive(obj, "rows");
    FUZZ_CHECK(cJSON_IsNumber(item));
    rep.rows = item->valuedouble;
    item = cJSON_GetObjectItemCaseSensitive(obj, "imported");
    FUZZ_CHECK(cJSON_IsNumber(item));
    rep.imported = item->valuedouble;
    item = cJSON_GetObjectItemCaseSensitive(obj, "unchanged");
    FUZZ_CHECK(cJSON_IsNumber(item));
    rep.unchanged = item->valuedouble;
    refused = cJSON_GetObjectItemCaseSensitive(obj, "refused");
    FUZZ_CHECK(cJSON_IsArray(refused));
    rep.refused_listed = cJSON_GetArraySize(refused);
    rep.jsonl = strcmp(format->valuestring, "jsonl") == 0;
    FUZZ_CHECK(rep.imported + rep.unchanged <= rep.rows);
    FUZZ_CHECK(rep.rows - rep.imported - rep.unchanged >= rep.refused_listed);
    FUZZ_CHECK(rep.refused_listed <= 1000);
    FUZZ_CHECK(rep.refused_listed == 1000 ||
               rep.rows - rep.imported - rep.unchanged == rep.refused_listed);
    i = 0;
    cJSON_ArrayForEach(r, refused) {
        item = cJSON_GetObjectItemCaseSensitive(r, "line");
        FUZZ_CHECK(cJSON_IsNumber(item) && item->valuedouble >= 1);
        rep.lines[i++] = item->valuedouble;
        item = cJSON_GetObjectItemCaseSensitive(r, "reason");
        FUZZ_CHECK(cJSON_IsString(item) && item->valuestring[0] != '\0');
    }
    cJSON_Delete(obj);
    return rep;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vrm_names names = VRM_NAMES_INIT;
    char *text = NULL, *json = NULL;
    size_t len = 0, i;
    report first, second;
    int64_t count;
    int rc, taken;
    model m;

    taken = model_import((const char *)data, size, &m);
    rc = vrm_import(v, COLL, "fuzz.csv", (const char *)data, size, NULL, NULL, &text, &len);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    FUZZ_CHECK((rc == 0) == taken);
    if (rc != 0) {
        FUZZ_CHECK(vrm_error_message()[0] != '\0' && text == NULL);
        model_release(&m);
        return 0;
    }
    fuzz_accept();
    first = read_report(text, len);
    free(text);
    check_model(&m, &first);
    model_release(&m);
    count = vrm_record_count(v, COLL);
    FUZZ_CHECK(count >= 0 && count <= first.imported);
    FUZZ_CHECK(vrm_record_list(v, COLL, vrm_names_add, &names) == 0);
    FUZZ_CHECK((int64_t)names.n == count);
    for (i = 0; i < names.n; i++) {
        FUZZ_CHECK(vrm_record_name_valid(names.names[i]) == 0);
        FUZZ_CHECK(vrm_record_get(v, COLL, names.names[i], &json, &len, NULL) == 0);
        free(json);
    }

    FUZZ_CHECK(vrm_import(v, COLL, "fuzz.csv", (const char *)data, size, NULL, NULL, &text,
                          &len) == 0);
    second = read_report(text, len);
    free(text);
    FUZZ_CHECK(second.rows == first.rows);
    FUZZ_CHECK(second.rows - second.imported - second.unchanged ==
               first.rows - first.imported - first.unchanged);
    if (first.unchanged == 0 && count == first.imported)
        FUZZ_CHECK(second.imported == 0 && second.unchanged == first.imported);
    FUZZ_CHECK(vrm_record_count(v, COLL) == count);   /* the same names */

    /* empty the collection, in one transaction */
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    for (i = 0; rc == 0 && i < names.n; i++)
        rc = vrm_record_delete_locked(v, COLL, names.names[i]);
    rc = vrm_tx_finish(v, rc);
    vrm_vault_unlock(v);
    FUZZ_CHECK(rc == 0);
    vrm_names_release(&names);
    return 0;
}
