/*
 * test_accesslog.c: the hash-chained access logs of vendor views: the line
 * format (checked against the formula in accesslog.h, recomputed here), what
 * verification finds in a text and in the stored rows, escaping, size, and
 * appends from several threads.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "consent/accesslog.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* The whole line, as accesslog.h describes it; comm and path without quotes
 * or backslashes inside (the escaping test looks at those). */
#define LINE_RE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z " \
                "pid=(0|[1-9][0-9]*) uid=(0|[1-9][0-9]*) comm=\"[^\"\\\\]*\" " \
                "path=\"[^\"\\\\]*\" chain=[0-9a-f]{64}$"

typedef tu_fixture fixture;

static char *read_log(vrm_vault *v, const char *vendor, size_t *len)
{
    char *text = NULL;
    size_t n = 0;

    assert_int_equal(vrm_accesslog_read(v, vendor, &text, &n), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), n);
    if (len != NULL)
        *len = n;
    return text;
}

/* Split text into its lines (NUL-terminated copies); returns the count. */
static size_t split(const char *text, char ***lines)
{
    size_t n = 0;
    const char *p;

    *lines = NULL;
    for (p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');

        assert_non_null(nl);
        *lines = realloc(*lines, (n + 1) * sizeof **lines);
        (*lines)[n++] = strndup(p, (size_t)(nl - p));
        p = nl + 1;
    }
    return n;
}

static void free_lines(char **lines, size_t n)
{
    while (n-- > 0)
        free(lines[n]);
    free(lines);
}

/* Join lines (each gets a newline) into one malloc'd text. */
static char *join(char **lines, size_t n, size_t *len)
{
    size_t i, total = 0;
    char *t;

    for (i = 0; i < n; i++)
        total += strlen(lines[i]) + 1;
    t = malloc(total + 1);
    *len = 0;
    for (i = 0; i < n; i++) {
        size_t l = strlen(lines[i]);

        memcpy(t + *len, lines[i], l);
        *len += l;
        t[(*len)++] = '\n';
    }
    t[*len] = '\0';
    return t;
}

/* The HEX of a line by the header's formula, computed here on its own. */
static void expect_hex(const char *prev, const char *line, char hex[65])
{
    const char *chain = strstr(line, " chain=");
    unsigned char h[crypto_hash_sha256_BYTES];
    char *msg = NULL;
    int n;

    assert_non_null(chain);
    n = asprintf(&msg, "%s\n%.*s", prev, (int)(chain - line), line);
    assert_true(n > 0);
    crypto_hash_sha256(h, (const unsigned char *)msg, (size_t)n);
    sodium_bin2hex(hex, 65, h, sizeof h);
    free(msg);
}

/* line is TIME + fields + " chain=" + 64 characters. */
static void expect_fields(const char *line, const char *fields)
{
    size_t n = strlen(fields);

    assert_int_equal(strlen(line), 24 + n + 7 + 64);
    assert_memory_equal(line + 24, fields, n);
    assert_memory_equal(line + 24 + n, " chain=", 7);
}

static void expect_text_bad(const char *text, size_t len, size_t line)
{
    size_t bad = 12345;
    char want[32];

    assert_int_equal(vrm_accesslog_verify_text(text, len, &bad), -EBADMSG);
    assert_int_equal(bad, line);
    snprintf(want, sizeof want, "line %zu: ", line);
    if (strncmp(vrm_error_message(), want, strlen(want)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", vrm_error_message(), want);
}

/* ---- format and chain ------------------------------------------------ */

static void test_empty(void **state)
{
    fixture *f = *state;
    uint64_t size = 99;
    size_t len = 99, bad = 99;
    char *text = read_log(f->v, "acme", &len);

    assert_string_equal(text, "");
    assert_int_equal(len, 0);
    assert_int_equal(vrm_accesslog_size(f->v, "acme", &size), 0);
    assert_int_equal(size, 0);
    assert_int_equal(vrm_accesslog_verify_text("", 0, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(vrm_accesslog_verify_text(NULL, 0, NULL), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), 0);
    free(text);
}

static void test_format_two_vendors(void **state)
{
    fixture *f = *state;
    regex_t re;
    char **lines, prev[65] = ZEROS, hex[65];
    char *text;
    size_t n, i, len;
    time_t before = time(NULL), after;

    assert_int_equal(vrm_accesslog_append(f->v, "acme", "/records/profile/me.json", 4242,
                                          1000, "cat"), 0);
    assert_int_equal(vrm_accesslog_append(f->v, "globex", "/records/x/y.json", 1, 0,
                                          "jq"), 0);
    assert_int_equal(vrm_accesslog_append(f->v, "acme", "/records/profile/me.json", 4243,
                                          1000, "less"), 0);
    assert_int_equal(vrm_accesslog_append(f->v, "acme", "/files/a.pdf", 0, 4294967295u,
                                          NULL), 0);
    after = time(NULL);
    assert_int_equal(regcomp(&re, LINE_RE, REG_EXTENDED | REG_NOSUB), 0);

    text = read_log(f->v, "acme", &len);
    n = split(text, &lines);
    assert_int_equal(n, 3);
    for (i = 0; i < n; i++) {
        struct tm tm = {0};
        const char *end;
        time_t t;

        if (regexec(&re, lines[i], 0, NULL, 0) != 0)
            fail_msg("line %zu does not match: %s", i + 1, lines[i]);
        end = strptime(lines[i], "%Y-%m-%dT%H:%M:%S", &tm);
        assert_non_null(end);
        t = timegm(&tm);
        assert_true(t >= before && t <= after);
        expect_hex(prev, lines[i], hex);
        assert_string_equal(strstr(lines[i], " chain=") + 7, hex);
        memcpy(prev, hex, sizeof prev);
    }
    /* After the time, exactly this, then the 64 digits. */
    expect_fields(lines[0], " pid=4242 uid=1000 comm=\"cat\" path=\"/records/profile/me.json\"");
    expect_fields(lines[1], " pid=4243 uid=1000 comm=\"less\" path=\"/records/profile/me.json\"");
    expect_fields(lines[2], " pid=0 uid=4294967295 comm=\"\" path=\"/files/a.pdf\"");
    assert_int_equal(vrm_accesslog_verify_text(text, len, NULL), 0);
    free_lines(lines, n);
    free(text);

    /* The other vendor's log is its own chain, starting from the zeros. */
    text = read_log(f->v, "globex", &len);
    n = split(text, &lines);
    assert_int_equal(n, 1);
    assert_int_equal(regexec(&re, lines[0], 0, NULL, 0), 0);
    expect_hex(ZEROS, lines[0], hex);
    assert_string_equal(strstr(lines[0], " chain=") + 7, hex);
    assert_int_equal(vrm_accesslog_verify_text(text, len, NULL), 0);
    free_lines(lines, n);
    free(text);

    assert_int_equal(vrm_accesslog_verify_all(f->v), 0);
    regfree(&re);
}

/* Fill acme's log with 5 lines and return them. */
static size_t five_lines(fixture *f, char ***lines)
{
    char path[64], *text;
    int i;
    size_t n;

    for (i = 1; i <= 5; i++) {
        snprintf(path, sizeof path, "/records/profile/r%d.json", i);
        assert_int_equal(vrm_accesslog_append(f->v, "acme", path, 100 + i, 1000, "cat"), 0);
    }
    text = read_log(f->v, "acme", NULL);
    n = split(text, lines);
    assert_int_equal(n, 5);
    free(text);
    return n;
}

static void test_verify_text_finds_changes(void **state)
{
    fixture *f = *state;
    char **lines, *text, *keep, *p;
    size_t n = five_lines(f, &lines), len;

    text = join(lines, n, &len);
    assert_int_equal(vrm_accesslog_verify_text(text, len, NULL), 0);

    /* A truncated last line (no newline), or a cut inside it. */
    expect_text_bad(text, len - 1, 5);
    expect_text_bad(text, len - 20, 5);
    /* A cut right after a newline is a shorter log that still chains. */
    assert_int_equal(vrm_accesslog_verify_text(text, len - strlen(lines[4]) - 1, NULL), 0);
    free(text);

    /* Line 3 removed: line 4 (now the third) no longer chains. */
    keep = lines[2];
    memmove(lines + 2, lines + 3, 2 * sizeof *lines);
    text = join(lines, n - 1, &len);
    expect_text_bad(text, len, 3);
    free(text);
    memmove(lines + 3, lines + 2, 2 * sizeof *lines);
    lines[2] = keep;

    /* The first line removed. */
    text = join(lines + 1, n - 1, &len);
    expect_text_bad(text, len, 1);
    free(text);

    /* Lines 2 and 4 swapped. */
    keep = lines[1];
    lines[1] = lines[3];
    lines[3] = keep;
    text = join(lines, n, &len);
    expect_text_bad(text, len, 2);
    free(text);
    lines[3] = lines[1];
    lines[1] = keep;

    /* Line 4 altered: one character of the path, then of the pid. */
    p = strstr(lines[3], "r4.json");
    *p = 'R';
    text = join(lines, n, &len);
    expect_text_bad(text, len, 4);
    assert_non_null(strstr(vrm_error_message(), "chain"));
    free(text);
    *p = 'r';
    p = strstr(lines[3], "pid=104");
    p[6] = '5';
    text = join(lines, n, &len);
    expect_text_bad(text, len, 4);
    free(text);
    p[6] = '4';

    /* Line 2's chain altered: line 2 is reported, not only line 3. */
    p = strstr(lines[1], " chain=") + 7;
    p[0] = p[0] == 'a' ? 'b' : 'a';
    text = join(lines, n, &len);
    expect_text_bad(text, len, 2);
    free(text);

    free_lines(lines, n);
}

static void test_verify_text_shape(void **state)
{
    static const struct {
        const char *body;       /* a line before " chain=" */
        const char *why;        /* in the message */
    } bad[] = {
        {"2026-11-23 13:44:27.123Z pid=1 uid=2 comm=\"a\" path=\"/b\"", "time"},
        {"2026-11-23T13:44:27Z pid=1 uid=2 comm=\"a\" path=\"/b\"", "time"},
        {"2026-11-23T13:44:27.123Z pid=-1 uid=2 comm=\"a\" path=\"/b\"", "pid"},
        {"2026-11-23T13:44:27.123Z pid=01 uid=2 comm=\"a\" path=\"/b\"", "pid"},
        {"2026-11-23T13:44:27.123Z pid=1 uid=99999999999 comm=\"a\" path=\"/b\"", "uid"},
        {"2026-11-23T13:44:27.123Z pid=1 uid=2 comm=a path=\"/b\"", "comm"},
        {"2026-11-23T13:44:27.123Z pid=1 uid=2 comm=\"a\\x\" path=\"/b\"", "comm"},
        {"2026-11-23T13:44:27.123Z pid=1 uid=2 comm=\"a\" path=\"/b\tc\"", "path"},
        {"2026-11-23T13:44:27.123Z pid=1 uid=2 comm=\"a\" path=\"/b\" x=1", "path"},
        {"2026-11-23T13:44:27.123Z pid=1 uid=2 comm=\"a\" path=\"/b\"\r", "path"},
        {"2026-11-23T13:44:27.123Z pid=1 comm=\"a\" path=\"/b\"", "uid"},
    };
    char hex[65], *line = NULL;
    size_t i, bad_line;
    int n;

    (void)state;
    /* A hand-made line with the right chain is accepted... */
    n = asprintf(&line, "2026-11-23T13:44:27.123Z pid=1 uid=2 comm=\"a\" path=\"/b\" chain=%s\n",
                 ZEROS);
    expect_hex(ZEROS, line, hex);
    memcpy(strstr(line, " chain=") + 7, hex, 64);
    assert_int_equal(vrm_accesslog_verify_text(line, (size_t)n, NULL), 0);
    /* ... and twice is not (the second does not chain from the first). */
    {
        char *two = NULL;
        int m = asprintf(&two, "%s%s", line, line);

        expect_text_bad(two, (size_t)m, 2);
        free(two);
    }
    /* Upper-case hex, a short chain, no chain. */
    for (i = 0; i < 64 && !(hex[i] >= 'a' && hex[i] <= 'f'); i++)
        ;
    assert_true(i < 64);
    line[n - 1 - 64 + (int)i] = (char)(hex[i] - 'a' + 'A');
    expect_text_bad(line, (size_t)n, 1);
    free(line);
    n = asprintf(&line, "2026-11-23T13:44:27.123Z pid=1 uid=2 comm=\"a\" path=\"/b\" chain=%.63s\n",
                 hex);
    expect_text_bad(line, (size_t)n, 1);
    free(line);
    expect_text_bad("just text\n", 10, 1);
    expect_text_bad("\n", 1, 1);

    /* Every malformed shape is refused even with a correct chain. */
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = asprintf(&line, "%s chain=%s\n", bad[i].body, ZEROS);
        expect_hex(ZEROS, line, hex);
        memcpy(strstr(line, " chain=") + 7, hex, 64);
        bad_line = 0;
        if (vrm_accesslog_verify_text(line, (size_t)n, &bad_line) != -EBADMSG)
            fail_msg("accepted: %s", line);
        assert_int_equal(bad_line, 1);
        if (strstr(vrm_error_message(), bad[i].why) == NULL)
            fail_msg("for %s: message \"%s\" lacks \"%s\"", bad[i].body,
                     vrm_error_message(), bad[i].why);
        free(line);
    }
}

/* ---- the stored rows ------------------------------------------------- */

static void test_tampered_row(void **state)
{
    fixture *f = *state;
    char **lines;
    size_t n = five_lines(f, &lines);

    free_lines(lines, n);
    assert_int_equal(vrm_accesslog_append(f->v, "globex", "/a", 1, 1, "cat"), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), 0);

    /* Another path in line 3 of acme. */
    assert_int_equal(vrm_vault_exec(f->v, "UPDATE access_log SET line = "
                                          "replace(line, 'r3.json', 'r9.json') "
                                          "WHERE vendor = 'acme' AND n = 3"), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), -EBADMSG);
    assert_string_equal(vrm_error_message(), "access log of acme: line 3: chain mismatch "
                        "(a line was removed, reordered or altered at or before it)");
    assert_int_equal(vrm_vault_exec(f->v, "UPDATE access_log SET line = "
                                          "replace(line, 'r9.json', 'r3.json') "
                                          "WHERE vendor = 'acme' AND n = 3"), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), 0);

    /* A row deleted from the middle. */
    assert_int_equal(vrm_vault_exec(f->v, "DELETE FROM access_log "
                                          "WHERE vendor = 'acme' AND n = 2"), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), -EBADMSG);
    assert_non_null(strstr(vrm_error_message(), "access log of acme: line 2: "));

    /* A vendor's log is checked though the vendor is gone (there is no
     * vendors row for globex at all here), and named. */
    assert_int_equal(vrm_vault_exec(f->v, "DELETE FROM access_log WHERE vendor = 'acme'"), 0);
    assert_int_equal(vrm_vault_exec(f->v, "UPDATE access_log SET line = "
                                          "replace(line, 'pid=1 ', 'pid=2 ') "
                                          "WHERE vendor = 'globex'"), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), -EBADMSG);
    assert_non_null(strstr(vrm_error_message(), "access log of globex: line 1: "));

    /* A stored newline would split the line: refused as such. */
    assert_int_equal(vrm_vault_exec(f->v, "UPDATE access_log SET line = "
                                          "replace(line, 'pid=2 ', 'pid=1 ' || char(10)) "
                                          "WHERE vendor = 'globex'"), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), -EBADMSG);
    assert_string_equal(vrm_error_message(), "access log of globex: line 1: holds a newline");
}

static void test_append_fails_closed(void **state)
{
    fixture *f = *state;

    assert_int_equal(vrm_accesslog_append(f->v, "acme", "/a", 1, 1, "cat"), 0);
    assert_int_equal(vrm_vault_exec(f->v, "UPDATE access_log SET line = "
                                          "substr(line, 1, length(line) - 10)"), 0);
    assert_int_equal(vrm_accesslog_append(f->v, "acme", "/b", 1, 1, "cat"), -EBADMSG);
    assert_non_null(strstr(vrm_error_message(), "acme"));
    assert_int_equal(vrm_accesslog_append(f->v, "globex", "/b", 1, 1, "cat"), 0);

    assert_int_equal(vrm_accesslog_append(f->v, "Bad/Name", "/b", 1, 1, "cat"), -EINVAL);
    assert_int_equal(vrm_accesslog_append(f->v, "", "/b", 1, 1, "cat"), -EINVAL);
    assert_int_equal(vrm_accesslog_append(f->v, "acme", NULL, 1, 1, "cat"), -EINVAL);
    assert_int_equal(vrm_accesslog_append(f->v, "globex", "/b", -1, 1, "cat"), -EINVAL);
}

/* ---- escaping and size ----------------------------------------------- */

static void test_escaping(void **state)
{
    static const char *const comms[] = {
        "say \"hi\"", "back\\slash", "two words", "new\nline", "tab\tbell\a", "caf\xc3\xa9",
        "\xe2\x9c\x93 chain=", "",
    };
    static const char *const paths[] = {
        "/records/profile/\"me\".json", "/files/a b/c d.txt", "/files/line\nbreak",
        "/files/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt", "/files/x chain=0000 y",
        "/files/ctl\x01\x1f\x7f", "/files/\\\\server", "/files/\xff\xfe not utf-8",
    };
    fixture *f = *state;
    char **lines, *text;
    size_t n, i, len;
    uint64_t size;

    for (i = 0; i < sizeof comms / sizeof comms[0]; i++)
        assert_int_equal(vrm_accesslog_append(f->v, "acme", paths[i], 7, 7, comms[i]), 0);
    text = read_log(f->v, "acme", &len);
    n = split(text, &lines);
    assert_int_equal(n, sizeof comms / sizeof comms[0]);
    assert_int_equal(vrm_accesslog_verify_text(text, len, NULL), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), 0);
    assert_int_equal(vrm_accesslog_size(f->v, "acme", &size), 0);
    assert_int_equal(size, len);

    /* Exactly as JSON writes them. */
    assert_non_null(strstr(lines[0], " comm=\"say \\\"hi\\\"\" "
                                     "path=\"/records/profile/\\\"me\\\".json\" chain="));
    assert_non_null(strstr(lines[1], " comm=\"back\\\\slash\" path=\"/files/a b/c d.txt\" "));
    assert_non_null(strstr(lines[2], " comm=\"two words\" path=\"/files/line\\nbreak\" "));
    assert_non_null(strstr(lines[3], " comm=\"new\\nline\" "
                                     "path=\"/files/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt\" "));
    assert_non_null(strstr(lines[4], " comm=\"tab\\tbell\\u0007\" "
                                     "path=\"/files/x chain=0000 y\" chain="));
    assert_non_null(strstr(lines[5], " comm=\"caf\xc3\xa9\" "
                                     "path=\"/files/ctl\\u0001\\u001f\x7f\" "));
    assert_non_null(strstr(lines[6], " comm=\"\xe2\x9c\x93 chain=\" "
                                     "path=\"/files/\\\\\\\\server\" "));
    assert_non_null(strstr(lines[7], " comm=\"\" path=\"/files/\xff\xfe not utf-8\" "));

    /* And they parse back to what was given (cJSON takes the bytes). */
    for (i = 0; i < n; i++) {
        char *p = strstr(lines[i], " path=") + 6, *c = strstr(lines[i], " comm=") + 6;
        char *chain = strrchr(lines[i], ' ');
        cJSON *jp = cJSON_ParseWithLength(p, (size_t)(chain - p));
        cJSON *jc = cJSON_ParseWithLength(c, (size_t)(strstr(lines[i], " path=") - c));

        assert_non_null(jp);
        assert_non_null(jc);
        assert_string_equal(cJSON_GetStringValue(jp), paths[i]);
        assert_string_equal(cJSON_GetStringValue(jc), comms[i]);
        cJSON_Delete(jp);
        cJSON_Delete(jc);
    }
    free_lines(lines, n);
    free(text);
}

static void test_size_matches_read(void **state)
{
    fixture *f = *state;
    uint64_t size;
    size_t len;
    char *text;
    int i;

    for (i = 0; i < 50; i++) {
        char path[64];

        snprintf(path, sizeof path, "/files/\xc3\xa9t\xc3\xa9 %d", i);
        assert_int_equal(vrm_accesslog_append(f->v, "acme", path, i, 1, "cat"), 0);
        assert_int_equal(vrm_accesslog_size(f->v, "acme", &size), 0);
        text = read_log(f->v, "acme", &len);
        assert_int_equal(size, len);   /* bytes, not characters */
        free(text);
    }
    assert_int_equal(vrm_accesslog_size(f->v, "globex", &size), 0);
    assert_int_equal(size, 0);
}

/* ---- threads --------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 500

typedef struct worker {
    vrm_vault *v;
    int id;
    int rc;
} worker;

static void *append_many(void *arg)
{
    worker *w = arg;
    char path[64];
    int i;

    for (i = 0; i < PER_THREAD && w->rc == 0; i++) {
        snprintf(path, sizeof path, "/records/t%d/%d.json", w->id, i);
        w->rc = vrm_accesslog_append(w->v, "acme", path, 1000 + w->id, 1000, "worker");
    }
    return NULL;
}

static void test_threads(void **state)
{
    fixture *f = *state;
    pthread_t t[THREADS];
    worker w[THREADS];
    char **lines, *text;
    size_t n, len, i;
    uint64_t size;
    int k;

    for (k = 0; k < THREADS; k++) {
        w[k] = (worker){f->v, k, 0};
        assert_int_equal(pthread_create(&t[k], NULL, append_many, &w[k]), 0);
    }
    for (k = 0; k < THREADS; k++) {
        assert_int_equal(pthread_join(t[k], NULL), 0);
        assert_int_equal(w[k].rc, 0);
    }
    text = read_log(f->v, "acme", &len);
    n = split(text, &lines);
    assert_int_equal(n, THREADS * PER_THREAD);
    assert_int_equal(vrm_accesslog_verify_text(text, len, NULL), 0);
    assert_int_equal(vrm_accesslog_verify_all(f->v), 0);
    assert_int_equal(vrm_accesslog_size(f->v, "acme", &size), 0);
    assert_int_equal(size, len);
    /* Every thread's lines are there, each once. */
    for (k = 0; k < THREADS; k++) {
        char needle[64];
        size_t count = 0;

        snprintf(needle, sizeof needle, " pid=%d ", 1000 + k);
        for (i = 0; i < n; i++)
            count += strstr(lines[i], needle) != NULL;
        assert_int_equal(count, PER_THREAD);
    }
    free_lines(lines, n);
    free(text);
}

static void test_persists(void **state)
{
    fixture *f = *state;
    char *before, *after;
    size_t lb, la;

    assert_int_equal(vrm_accesslog_append(f->v, "acme", "/a", 1, 1, "cat"), 0);
    before = read_log(f->v, "acme", &lb);
    assert_int_equal(vrm_vault_close(f->v), 0);
    f->v = tu_open(f->vault);
    assert_int_equal(vrm_accesslog_append(f->v, "acme", "/b", 1, 1, "cat"), 0);
    after = read_log(f->v, "acme", &la);
    assert_true(la > lb);
    assert_memory_equal(before, after, lb);
    assert_int_equal(vrm_accesslog_verify_text(after, la, NULL), 0);
    free(before);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_format_two_vendors, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_verify_text_finds_changes, tu_setup, tu_teardown),
        cmocka_unit_test(test_verify_text_shape),
        cmocka_unit_test_setup_teardown(test_tampered_row, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_append_fails_closed, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_escaping, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_size_matches_read, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_threads, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_persists, tu_setup, tu_teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
