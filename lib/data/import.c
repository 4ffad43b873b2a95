/*
 * import.c: CSV and JSON-lines files into records (see import.h).
 *
 * The file is classified and its CSV header checked before anything is
 * locked, so a refused file changes nothing.  Then, under the vault's mutex
 * and in one transaction, each row is turned into a record body (cJSON,
 * checked and measured by vrm_record_prepare), named, compared with the
 * record of that name, and written through vrm_record_put_locked so that
 * the facts and the vendors' notifications follow as for any other write.
 * The report is stored in the same transaction.
 */
#include "data/import.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "data/records_int.h"
#include "store/vault_int.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define REFUSED_KEPT 1000                 /* refused lines listed in a report */
#define PROGRESS_MIN (64 * 1024)          /* bytes between progress calls, at least */
#define SNIFF_BYTES 8192                  /* a NUL in these: binary */
#define NUMBER_DIGITS 15                  /* significant digits a double keeps */

/* ---- CSV (RFC 4180) ----------------------------------------------------------
 *
 * csv_next() reads one record: its cells are copied, unquoted, into `text`
 * (each NUL-terminated) with their offsets and lengths in `cells`.  A
 * record spans several lines when a quoted cell holds line breaks; `line`
 * is where it starts.  Malformed quoting makes `bad` the reason; the rest
 * of the physical line is skipped so the next record starts cleanly. */

typedef struct cell {
    size_t off, len;                      /* in text.buf */
    int quoted;
} cell;

typedef struct csv {
    const char *data;
    size_t len, pos;                      /* the whole file; where we are */
    size_t line;                          /* of data[pos], from 1 */
    vrm_strbuf text;                      /* the current record's cells */
    cell *cells;
    size_t ncells, capcells;
    size_t start_line;                    /* of the current record */
    const char *bad;                      /* why it is malformed, or NULL */
} csv;

static int csv_cell_end(csv *c, size_t off, int quoted)
{
    if (vrm_array_grow(&c->cells, &c->capcells, c->ncells, sizeof *c->cells) != 0)
        return -ENOMEM;
    c->cells[c->ncells].off = off;
    c->cells[c->ncells].len = c->text.len - off;
    c->cells[c->ncells].quoted = quoted;
    c->ncells++;
    return vrm_strbuf_add(&c->text, "", 1);      /* the NUL, not counted */
}

/* Skip to just past the next line feed (or the end). */
static void csv_skip_line(csv *c)
{
    const char *nl = memchr(c->data + c->pos, '\n', c->len - c->pos);

    c->pos = nl != NULL ? (size_t)(nl - c->data) + 1 : c->len;
    if (nl != NULL)
        c->line++;
}

/* 1 with a record, 0 at the end, or -ENOMEM. */
static int csv_next(csv *c)
{
    const char *d = c->data;
    size_t n = c->len;

    vrm_strbuf_setlen(&c->text, 0);
    c->ncells = 0;
    c->bad = NULL;
    c->start_line = c->line;
    if (c->pos >= n)
        return 0;
    for (;;) {
        size_t off = c->text.len;
        int quoted = c->pos < n && d[c->pos] == '"';

        if (quoted) {
            size_t i = ++c->pos;

            for (;;) {
                const char *q = memchr(d + i, '"', n - i);
                size_t j = q != NULL ? (size_t)(q - d) : n, k;

                for (k = i; k < j; k++)
                    c->line += d[k] == '\n';
                if (vrm_strbuf_add(&c->text, d + i, j - i) != 0)
                    return -ENOMEM;
                if (q == NULL) {
                    c->pos = n;
                    c->bad = "a quoted cell is never closed";
                    return 1;
                }
                if (j + 1 < n && d[j + 1] == '"') {   /* "" is one " */
                    if (vrm_strbuf_add(&c->text, "\"", 1) != 0)
                        return -ENOMEM;
                    i = j + 2;
                    continue;
                }
                c->pos = j + 1;
                break;
            }
            if (c->pos + 1 < n && d[c->pos] == '\r' && d[c->pos + 1] == '\n')
                c->pos++;
            else if (c->pos == n - 1 && d[c->pos] == '\r')
                c->pos++;
            if (c->pos < n && d[c->pos] != ',' && d[c->pos] != '\n') {
                c->bad = "text after a closing quote";
                csv_skip_line(c);
                return 1;
            }
        } else {
            size_t i = c->pos, end;

            while (i < n && d[i] != ',' && d[i] != '\n')
                i++;
            end = i;
            if (end > c->pos && (end == n || d[end] == '\n') && d[end - 1] == '\r')
                end--;                    /* CRLF */
            if (vrm_strbuf_add(&c->text, d + c->pos, end - c->pos) != 0)
                return -ENOMEM;
            c->pos = i;
        }
        if (csv_cell_end(c, off, quoted) != 0)
            return -ENOMEM;
        if (c->pos >= n)
            return 1;
        if (d[c->pos] == '\n') {
            c->pos++;
            c->line++;
            return 1;
        }
        c->pos++;                         /* the comma */
    }
}

static void csv_release(csv *c)
{
    vrm_strbuf_release(&c->text);
    free(c->cells);
    c->cells = NULL;
}

static const char *csv_cell(const csv *c, size_t i)
{
    return c->text.buf + c->cells[i].off;
}

/* ---- cells to JSON values ------------------------------------------------------ */

/* Is s[0..n) a JSON number (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?) that a double
 * holds exactly as written (at most 15 significant digits, finite)? */
static int json_number(const char *s, size_t n, double *out)
{
    size_t i = 0, sig = 0;
    int leading = 1;

    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return 0;
    if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
        return 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        leading = leading && s[i] == '0';
        sig += !leading;
    }
    if (i < n && s[i] == '.') {
        if (++i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            leading = leading && s[i] == '0';
            sig += !leading;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i != n || sig > NUMBER_DIGITS)
        return 0;
    *out = strtod(s, NULL);
    return isfinite(*out);
}

/* The record name an id makes: [A-Za-z0-9._-] kept, any other character
 * (a whole UTF-8 sequence) '_', a leading '.' too.  NULL, or why it makes
 * none. */
static const char *id_name(const char *id, size_t n, char out[VRM_RECORD_NAME_MAX + 1])
{
    size_t i, o = 0;

    if (n == 0)
        return "the id is empty";
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        int keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';

        if ((ch & 0xc0) == 0x80)          /* continuation: part of the last '_' */
            continue;
        if (o == VRM_RECORD_NAME_MAX)
            return "the id makes a name longer than 200 characters";
        if (o == 0 && ch == '.')
            keep = 0;                     /* a record name cannot start with '.' */
        out[o++] = keep ? (char)ch : '_';
    }
    out[o] = '\0';
    return NULL;
}

/* "r" and 16 hex digits of BLAKE2b-256 of the compact body. */
static void hash_name(const char *compact, size_t clen, char out[VRM_RECORD_NAME_MAX + 1])
{
    unsigned char h[crypto_generichash_BYTES];

    crypto_generichash(h, sizeof h, (const unsigned char *)compact, clen, NULL, 0);
    out[0] = 'r';
    sodium_bin2hex(out + 1, 17, h, 8);
}

/* ---- rows, made by a reader thread ---------------------------------------------
 *
 * Turning text into record bodies (cells, cJSON, vrm_record_prepare, the
 * hash) costs about as much as writing them, and needs no vault: a reader
 * thread does it, a batch of rows at a time, while the caller's thread,
 * holding the vault's mutex and the transaction, writes the previous
 * batch.  Batches go round between two queues (empty and full), so memory
 * stays bounded whatever the file's size. */

#define BATCH_ROWS 256
#define BATCHES 4

typedef struct row {
    size_t line;                          /* where it starts */
    char *compact;                        /* the body, or NULL: refused */
    size_t clen, plen;
    char name[VRM_RECORD_NAME_MAX + 1];
    char why[256];                        /* refused: the reason */
} row;

typedef struct batch {
    row rows[BATCH_ROWS];
    size_t n;
    size_t pos;                           /* bytes of the file read up to here */
    int rc;                               /* the reader's error (-ENOMEM) */
    int last;                             /* the reader is done */
} batch;

typedef struct queue {
    batch *b[BATCHES + 1];                /* + the NULL of a stopped reader */
    size_t head, n;
} queue;

typedef struct reader {
    const char *data;
    size_t len, skip;
    int jsonl;
    pthread_mutex_t mu;                   /* guards the queues and stop */
    pthread_cond_t cv;
    queue empty, full;
    int stop;                             /* the writer gave up */
    batch *cur;                           /* being filled, reader only */
} reader;

static void q_push(reader *r, queue *q, batch *b)
{
    pthread_mutex_lock(&r->mu);
    assert(q->n <= BATCHES);
    q->b[(q->head + q->n++) % (BATCHES + 1)] = b;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static batch *q_pop(reader *r, queue *q)
{
    batch *b;

    pthread_mutex_lock(&r->mu);
    while (q->n == 0)
        pthread_cond_wait(&r->cv, &r->mu);
    b = q->b[q->head];
    q->head = (q->head + 1) % (BATCHES + 1);
    q->n--;
    pthread_mutex_unlock(&r->mu);
    return b;
}

static void batch_clear(batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        free(b->rows[i].compact);
    b->n = 0;
    b->rc = 0;
    b->last = 0;
}

/* Hand the current batch over.  -ECANCELED when the writer gave up. */
static int reader_flush(reader *r, size_t pos, int last, int rc)
{
    int stop;

    r->cur->pos = pos;
    r->cur->last = last;
    r->cur->rc = rc;
    q_push(r, &r->full, r->cur);
    r->cur = NULL;
    if (last)
        return rc;
    pthread_mutex_lock(&r->mu);
    stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    if (stop)
        return -ECANCELED;
    r->cur = q_pop(r, &r->empty);
    batch_clear(r->cur);
    return 0;
}

/* The next row slot, handing over a full batch first. */
static int reader_slot(reader *r, size_t pos, row **out)
{
    int rc = 0;

    if (r->cur->n == BATCH_ROWS)
        rc = reader_flush(r, pos, 0, 0);
    if (rc == 0) {
        *out = &r->cur->rows[r->cur->n++];
        (*out)->compact = NULL;
        (*out)->why[0] = '\0';
    }
    return rc;
}

static int row_refused(reader *r, size_t pos, size_t line, const char *why)
{
    row *w;
    int rc = reader_slot(r, pos, &w);

    if (rc == 0) {
        w->line = line;
        snprintf(w->why, sizeof w->why, "%s", why);
    }
    return rc;
}

/* A row's JSON text (from cJSON or the file) into a record body: named by
 * `id` (may be NULL: by the hash).  A body that vrm_record_prepare does not
 * accept is a refused row. */
static int row_body(reader *r, size_t pos, size_t line, const char *text, size_t len,
                    const char *id, size_t idlen)
{
    const char *why = NULL;
    row *w;
    int rc = reader_slot(r, pos, &w);

    if (rc != 0)
        return rc;
    w->line = line;
    rc = vrm_record_prepare(text, len, &w->compact, &w->clen, &w->plen);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0) {
        snprintf(w->why, sizeof w->why, "%s", vrm_error_message());
        return 0;
    }
    if (id != NULL)
        why = id_name(id, idlen, w->name);
    else
        hash_name(w->compact, w->clen, w->name);
    if (why != NULL) {
        free(w->compact);
        w->compact = NULL;
        snprintf(w->why, sizeof w->why, "%s", why);
    }
    return 0;
}

/* The header's names, checked: at least one, none empty or repeated, UTF-8
 * text.  0 or -EINVAL with a message. */
static int csv_header(csv *c, char ***names, size_t *n)
{
    size_t i, k;
    char **out;
    int rc = csv_next(c);

    *names = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    if (rc == 0)
        return vrm_error(EINVAL, "not CSV or JSON lines: the file is empty");
    if (c->bad != NULL)
        return vrm_error(EINVAL, "not CSV or JSON lines: the header: %s", c->bad);
    for (i = 0; i < c->ncells; i++) {
        const char *s = csv_cell(c, i);
        size_t len = c->cells[i].len;

        if (len == 0)
            return vrm_error(EINVAL, "not CSV or JSON lines: name %zu of the header is "
                             "empty", i + 1);
        if (!vrm_utf8_valid(s, len))
            return vrm_error(EINVAL, "not CSV or JSON lines: the header is not UTF-8 text");
        for (k = 0; k < len; k++)
            if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
                return vrm_error(EINVAL, "not CSV or JSON lines: the header holds "
                                 "control characters");
        for (k = 0; k < i; k++)
            if (strcmp(csv_cell(c, k), s) == 0)
                return vrm_error(EINVAL, "not CSV or JSON lines: the header names "
                                 "\"%.64s\" twice", s);
    }
    out = calloc(c->ncells, sizeof *out);
    if (out == NULL)
        return -ENOMEM;
    for (i = 0; i < c->ncells; i++)
        if ((out[i] = strdup(csv_cell(c, i))) == NULL) {
            while (i > 0)
                free(out[--i]);
            free(out);
            return -ENOMEM;
        }
    *names = out;
    *n = c->ncells;
    return 0;
}

static void names_free(char **names, size_t n)
{
    size_t i;

    for (i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

/* One CSV record (not the header) into a row; blank ones are skipped. */
static int csv_row(reader *r, csv *c, char **names, size_t nnames, int idcol)
{
    const char *why = c->bad, *id = NULL;
    size_t i, nonempty = 0, idlen = 0;
    cJSON *obj;
    char *text;
    int rc;

    for (i = 0; i < c->ncells; i++)
        nonempty += c->cells[i].len > 0;
    if (why == NULL && nonempty == 0)
        return 0;                         /* a blank line, or only commas */
    if (why == NULL && c->ncells > nnames)
        why = "more cells than the header names";
    for (i = 0; why == NULL && i < c->ncells; i++) {
        if (!vrm_utf8_valid(csv_cell(c, i), c->cells[i].len))
            why = "not valid UTF-8";
        else if (memchr(csv_cell(c, i), '\0', c->cells[i].len) != NULL)
            why = "a cell holds a NUL byte";
    }
    if (why != NULL)
        return row_refused(r, c->pos, c->start_line, why);
    obj = cJSON_CreateObject();
    if (obj == NULL)
        return -ENOMEM;
    for (i = 0; i < c->ncells; i++) {
        const char *s = csv_cell(c, i);
        cJSON *val;
        double d;

        if (c->cells[i].len == 0)
            continue;
        val = json_number(s, c->cells[i].len, &d) ? cJSON_CreateNumber(d)
                                                  : cJSON_CreateString(s);
        if (val == NULL) {
            cJSON_Delete(obj);
            return -ENOMEM;
        }
        cJSON_AddItemToObject(obj, names[i], val);
        if ((int)i == idcol) {
            id = s;
            idlen = c->cells[i].len;
        }
    }
    text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (text == NULL)
        return -ENOMEM;
    rc = row_body(r, c->pos, c->start_line, text, strlen(text), id, idlen);
    free(text);
    return rc;
}

static int read_csv(reader *r)
{
    csv c = {r->data, r->len, r->skip, 1, VRM_STRBUF_INIT, NULL, 0, 0, 0, NULL};
    char **names = NULL;
    size_t nnames = 0, i;
    int idcol = -1, rc;

    rc = csv_header(&c, &names, &nnames);   /* checked before: only -ENOMEM */
    for (i = 0; rc == 0 && i < nnames; i++)
        if (strcmp(names[i], "id") == 0)
            idcol = (int)i;
    while (rc == 0 && (rc = csv_next(&c)) == 1)
        rc = csv_row(r, &c, names, nnames, idcol);
    names_free(names, nnames);
    csv_release(&c);
    return rc;
}

/* The end of the line starting at `pos` (its '\n' or len). */
static size_t line_end(const char *data, size_t len, size_t pos)
{
    const char *nl = memchr(data + pos, '\n', len - pos);

    return nl != NULL ? (size_t)(nl - data) : len;
}

static int blank(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* The id of a JSON-lines record, as text (*out malloc'd), or NULL when it
 * has none.  0 (*why set if it cannot name a record) or -ENOMEM. */
static int jsonl_id(const char *compact, size_t clen, char **out, const char **why)
{
    const cJSON *id;
    cJSON *obj;

    *out = NULL;
    *why = NULL;
    if (strstr(compact, "\"id\":") == NULL)
        return 0;
    obj = cJSON_ParseWithLength(compact, clen);
    if (obj == NULL)
        return -ENOMEM;
    id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (cJSON_IsString(id))
        *out = strdup(id->valuestring);
    else if (cJSON_IsNumber(id))
        *out = cJSON_PrintUnformatted(id);
    else if (id != NULL)
        *why = "\"id\" is neither a string nor a number";
    cJSON_Delete(obj);
    return id != NULL && *why == NULL && *out == NULL ? -ENOMEM : 0;
}

static int jsonl_row(reader *r, size_t pos, size_t line, const char *s, size_t n)
{
    char *compact = NULL, *id = NULL;
    const char *why = NULL;
    size_t clen, plen;
    int rc;

    /* prepared once here for the id, once in row_body: JSON lines are not
     * the bulk case */
    rc = vrm_record_prepare(s, n, &compact, &clen, &plen);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0)
        return row_body(r, pos, line, s, n, NULL, 0);   /* refused, with the reason */
    rc = jsonl_id(compact, clen, &id, &why);
    if (rc == 0)
        rc = why != NULL ? row_refused(r, pos, line, why)
                         : row_body(r, pos, line, compact, clen, id, id ? strlen(id) : 0);
    free(id);
    free(compact);
    return rc;
}

static int read_jsonl(reader *r)
{
    size_t line = 1, pos = r->skip;
    int rc = 0;

    while (rc == 0 && pos < r->len) {
        size_t end = line_end(r->data, r->len, pos), next = end < r->len ? end + 1 : r->len;

        if (!blank(r->data + pos, end - pos))
            rc = jsonl_row(r, next, line, r->data + pos, end - pos);
        pos = next;
        line++;
    }
    return rc;
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    int rc;

    r->cur = q_pop(r, &r->empty);
    batch_clear(r->cur);
    rc = r->jsonl ? read_jsonl(r) : read_csv(r);
    if (r->cur != NULL)
        reader_flush(r, r->len, 1, rc == -ECANCELED ? 0 : rc);
    else                                   /* cancelled at a flush */
        q_push(r, &r->full, (batch *)NULL);
    return NULL;
}

/* ---- the import ------------------------------------------------------------------ */

typedef struct job {
    vrm_vault *v;
    const char *coll;
    size_t rows, imported, unchanged, refused;
    cJSON *refused_list;                  /* the first REFUSED_KEPT */
} job;

static int refuse(job *j, size_t line, const char *reason)
{
    cJSON *r;

    j->refused++;
    if (j->refused > REFUSED_KEPT)
        return 0;
    r = cJSON_CreateObject();
    if (r == NULL || cJSON_AddNumberToObject(r, "line", (double)line) == NULL ||
        cJSON_AddStringToObject(r, "reason", reason) == NULL) {
        cJSON_Delete(r);
        return -ENOMEM;
    }
    cJSON_AddItemToArray(j->refused_list, r);
    return 0;
}

/* Write one record body under `name`, unless the record of that name holds
 * it already.  Locked, in the transaction. */
static int store(job *j, const char *name, const char *compact, size_t clen, size_t plen)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(j->v, "SELECT body FROM records "
                                  "WHERE collection = ?1 AND name = ?2", &st);
    int same;

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, j->coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    same = rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == clen &&
           memcmp(sqlite3_column_blob(st, 0), compact, clen) == 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return vrm_vault_sqlerr(j->v, "database");
    if (same) {
        j->unchanged++;
        return 0;
    }
    rc = vrm_record_put_locked(j->v, j->coll, name, compact, clen, plen, 0, NULL);
    if (rc == 0)
        j->imported++;
    return rc;
}

typedef struct progress {
    vrm_import_progress_fn fn;
    void *ctx;
    uint64_t total, step, next;
} progress;

static void progress_at(progress *p, size_t done)
{
    if (p->fn != NULL && done >= p->next) {
        p->fn(p->ctx, done, p->total);
        p->next = done + p->step;
    }
}

/* Take the reader's batches until the last, writing their rows.  On an
 * error, stops the reader and drains what it still sends. */
static int write_rows(job *j, reader *r, progress *p)
{
    int rc = 0, done = 0;

    while (!done) {
        batch *b = q_pop(r, &r->full);
        size_t i;

        if (b == NULL)                    /* the reader stopped as told */
            break;
        for (i = 0; rc == 0 && i < b->n; i++) {
            const row *w = &b->rows[i];

            j->rows++;
            rc = w->compact == NULL ? refuse(j, w->line, w->why)
                                    : store(j, w->name, w->compact, w->clen, w->plen);
        }
        if (rc == 0)
            rc = b->rc;
        done = b->last;
        if (rc == 0)
            progress_at(p, b->pos);
        if (rc != 0 && !done) {
            pthread_mutex_lock(&r->mu);
            r->stop = 1;
            pthread_mutex_unlock(&r->mu);
        }
        q_push(r, &r->empty, b);
    }
    return rc;
}

/* Run the reader thread and write what it makes.  Locked, in the
 * transaction. */
static int import_rows(job *j, const char *data, size_t len, size_t skip, int jsonl,
                       progress *p)
{
    reader r;
    batch *bs;
    pthread_t t;
    int rc, i;

    memset(&r, 0, sizeof r);
    r.data = data;
    r.len = len;
    r.skip = skip;
    r.jsonl = jsonl;
    bs = calloc(BATCHES, sizeof *bs);
    if (bs == NULL)
        return -ENOMEM;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    for (i = 0; i < BATCHES; i++)
        q_push(&r, &r.empty, &bs[i]);
    rc = pthread_create(&t, NULL, reader_main, &r);
    if (rc != 0) {
        rc = vrm_error(rc, "import: cannot start a thread: %s", strerror(rc));
    } else {
        rc = write_rows(j, &r, p);
        pthread_join(t, NULL);
    }
    for (i = 0; i < BATCHES; i++)
        batch_clear(&bs[i]);
    free(bs);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}

/* Is the file JSON lines: its first line that is not blank a JSON object? */
static int is_jsonl(const char *data, size_t len, size_t pos)
{
    cJSON *obj = NULL;
    int yes;

    while (pos < len) {
        size_t end = line_end(data, len, pos);

        if (!blank(data + pos, end - pos)) {
            yes = vrm_json_parse_object(data + pos, end - pos, &obj) == 0;
            cJSON_Delete(obj);
            vrm_error_clear();
            return yes;
        }
        pos = end + 1;
    }
    return 0;
}

/* Check what can be checked before the vault is touched: the format, the
 * CSV header.  *jsonl says which. */
static int classify(const char *data, size_t len, size_t skip, int *jsonl)
{
    csv c = {data, len, skip, 1, VRM_STRBUF_INIT, NULL, 0, 0, 0, NULL};
    char **names = NULL;
    size_t n = 0;
    int rc;

    *jsonl = 0;
    if (skip == len)
        return vrm_error(EINVAL, "not CSV or JSON lines: the file is empty");
    if (memchr(data, '\0', len < SNIFF_BYTES ? len : SNIFF_BYTES) != NULL)
        return vrm_error(EINVAL, "not CSV or JSON lines: a binary file (it holds NUL bytes)");
    if (is_jsonl(data, len, skip)) {
        *jsonl = 1;
        return 0;
    }
    rc = csv_header(&c, &names, &n);
    names_free(names, n);
    csv_release(&c);
    return rc;
}

static int save_report(vrm_vault *v, const char *coll, const char *name, const char *compact,
                       int64_t now)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "INSERT OR REPLACE INTO import_reports"
                               "(collection, name, body, created) VALUES (?1, ?2, ?3, ?4)",
                            &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, compact, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    rc = vrm_vault_run(v, st);
    return rc;
}

static int make_collection(vrm_vault *v, const char *coll)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "INSERT INTO collections(name, created) VALUES (?1, ?2) "
                               "ON CONFLICT DO NOTHING", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, vrm_now_ns());
    rc = vrm_vault_run(v, st);
    return rc;
}

/* The report object of a finished job (takes its refused list). */
static cJSON *report_new(job *j, const char *name, int jsonl, int64_t now)
{
    cJSON *r = cJSON_CreateObject();
    char when[VRM_RFC3339_LEN];

    vrm_rfc3339_format(now, when);
    if (r == NULL || cJSON_AddStringToObject(r, "file", name) == NULL ||
        cJSON_AddStringToObject(r, "format", jsonl ? "jsonl" : "csv") == NULL ||
        cJSON_AddNumberToObject(r, "rows", (double)j->rows) == NULL ||
        cJSON_AddNumberToObject(r, "imported", (double)j->imported) == NULL ||
        cJSON_AddNumberToObject(r, "unchanged", (double)j->unchanged) == NULL) {
        cJSON_Delete(r);
        return NULL;
    }
    cJSON_AddItemToObject(r, "refused", j->refused_list);
    j->refused_list = NULL;
    if (cJSON_AddStringToObject(r, "collection", j->coll) == NULL ||
        cJSON_AddStringToObject(r, "finished", when) == NULL) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

int vrm_import(vrm_vault *v, const char *coll, const char *name, const char *data, size_t len,
               vrm_import_progress_fn progress_fn, void *ctx, char **report, size_t *rlen)
{
    job j = {v, coll, 0, 0, 0, 0, NULL};
    progress p = {progress_fn, ctx, len, len / 100 > PROGRESS_MIN ? len / 100 : PROGRESS_MIN,
                  0};
    char *compact = NULL;
    cJSON *r = NULL;
    size_t skip = 0;
    int64_t now;
    int rc, jsonl;

    *report = NULL;
    *rlen = 0;
    if ((rc = vrm_collection_name_valid(coll)) != 0)
        return rc;
    if (vrm_record_name_valid(name) != 0)
        return vrm_error(EINVAL, "import: \"%.64s\" cannot name a report: %s", name,
                         vrm_error_message());
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        skip = 3;
    if ((rc = classify(data, len, skip, &jsonl)) != 0)
        return rc;
    p.next = p.step;
    if ((j.refused_list = cJSON_CreateArray()) == NULL)
        return -ENOMEM;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = make_collection(v, coll);
    if (rc == 0)
        rc = import_rows(&j, data, len, skip, jsonl, &p);
    now = vrm_now_ns();
    if (rc == 0 && (r = report_new(&j, name, jsonl, now)) == NULL)
        rc = -ENOMEM;
    if (rc == 0 && (compact = cJSON_PrintUnformatted(r)) == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = save_report(v, coll, name, compact, now);
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    if (rc == 0 && progress_fn != NULL)
        progress_fn(ctx, len, len);
    if (rc == 0)
        rc = vrm_json_pretty(r, report, rlen);
    free(compact);
    cJSON_Delete(r);
    cJSON_Delete(j.refused_list);
    return rc;
}

/* ---- the names of import/<collection>/ ------------------------------------------ */

/* The length of NAME if file is "NAME.report.json" (NAME not empty), else 0. */
static size_t report_name_len(const char *file)
{
    size_t n = strlen(file), s = strlen(VRM_IMPORT_REPORT_SUFFIX);

    return n > s && strcmp(file + n - s, VRM_IMPORT_REPORT_SUFFIX) == 0 ? n - s : 0;
}

/* file[0..n) into out[0..size): 0 or -ENAMETOOLONG. */
static int name_part(const char *file, size_t n, char *out, size_t size)
{
    if (n >= size)
        return -ENAMETOOLONG;
    memcpy(out, file, n);
    out[n] = '\0';
    return 0;
}

int vrm_import_file_valid(const char *file)
{
    if (file[0] == '.' || report_name_len(file) > 0)
        return vrm_error(EACCES, "import/: copy in a .csv or .jsonl file (not a report or a "
                         "hidden file)");
    return 0;
}

int vrm_import_file_name(const char *file, char *out, size_t size)
{
    const char *dot = strrchr(file, '.');
    size_t n = dot != NULL && dot != file ? (size_t)(dot - file) : strlen(file);

    if (name_part(file, n, out, size) != 0)
        return vrm_error(ENAMETOOLONG, "import: \"%.64s...\" makes too long a name", file);
    return 0;
}

int vrm_import_report_name(const char *file, char *out, size_t size)
{
    size_t n = report_name_len(file);

    return n > 0 && name_part(file, n, out, size) == 0 ? 0 : -ENOENT;
}

int vrm_import_report_file(const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s%s", name, VRM_IMPORT_REPORT_SUFFIX);

    return n >= 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* ---- the stored reports -------------------------------------------------------- */

int vrm_import_reports(vrm_vault *v, const char *coll, vrm_name_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT name FROM import_reports WHERE collection = ?1 "
                           "ORDER BY created, name", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int stop = fn(ctx, (const char *)sqlite3_column_text(st, 0));

            if (stop != 0) {
                sqlite3_reset(st);
                vrm_vault_unlock(v);
                return stop;
            }
        }
        rc = rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_import_report_get(vrm_vault *v, const char *coll, const char *name, char **out,
                          size_t *len, int64_t *created_ns)
{
    sqlite3_stmt *st;
    cJSON *obj;
    int rc;

    *out = NULL;
    *len = 0;
    vrm_vault_lock(v);
    rc = vrm_find_named_locked(v, "SELECT body, created FROM import_reports "
                                  "WHERE collection = ?1 AND name = ?2",
                               coll, name, "import report", &st);
    if (rc == 0) {
        obj = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0),
                                    (size_t)sqlite3_column_bytes(st, 0));
        if (created_ns != NULL)
            *created_ns = sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
        if (obj == NULL)
            rc = vrm_error(EUCLEAN, "import report %s/%s holds unreadable JSON", coll, name);
        else
            rc = vrm_json_pretty(obj, out, len);
        cJSON_Delete(obj);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_import_report_delete(vrm_vault *v, const char *coll, const char *name)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "DELETE FROM import_reports WHERE collection = ?1 AND name = ?2",
                        &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
        if (rc == 0 && sqlite3_changes(v->db) == 0)
            rc = vrm_error(ENOENT, "no import report %s/%s", coll, name);
    }
    vrm_vault_unlock(v);
    return rc;
}
