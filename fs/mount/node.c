/*
 * node.c: the route table, and the parsing of a path along it (see node.h).
 */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the routes -------------------------------------------------------------
 * Which path is which node, and which tree it is in.  A pattern is matched
 * one component of the path at a time:
 *
 *   literal   matches itself;
 *   *         takes the component into a field of the node, the one that
 *             the folder it is in names (`captures` below): in vendors/,
 *             views/, outbox/, sent/ and inbox/ the vendor, in records/,
 *             import/ and analytics/ (a view's too) the collection or topic,
 *             in receipts/ the receipt's number, anywhere else (a vendor's
 *             or a collection's folder, .rejected) the name;
 *   *.json    the same for a component ending in ".json" with something
 *             before it, taken without the suffix (also *.jws);
 *   **        the rest of the path, as it is, from the '/' before it ("/"
 *             when nothing follows): files/' `rest`.
 *
 * One '/' after the last component is allowed.  The first route that
 * matches wins.  Lengths: a component longer than its field can hold, or
 * empty, in the last segment of a route ends the search there: -ENOENT, or
 * -ENAMETOOLONG for a name too long where the route says R_LONG (and an
 * empty one is taken where it says R_EMPTY).  Since every route comes after
 * the route of its folder, that route has checked a folder's component
 * before the routes below it see it. */

#define R_LONG    1u                  /* too long a last component: -ENAMETOOLONG */
#define R_EMPTY   2u                  /* the last component may be empty */
#define R_JWS     4u                  /* N_RECEIPT: the signed one (jws 1) */
#define R_NOSLASH 8u                  /* no '/' may follow the last component */

typedef struct route {
    const char *pattern;
    enum node_kind kind;
    enum tree_id tree;
    unsigned flags;
} route;

static const route routes[] = {
    {"/",                               N_ROOT,            T_ROOT,     0},
    {"/README.txt",                     N_README,          T_ROOT,     0},
    {"/.vrmfs",                         N_META,            T_ROOT,     0},
    {"/.vrmfs/errors.log",              N_ERRLOG,          T_ROOT,     R_NOSLASH},

    {"/records",                        N_RECORDS,         T_RECORDS,  0},
    {"/records/*",                      N_COLL,            T_RECORDS,  R_LONG | R_EMPTY},
    {"/records/*/*.json",               N_RECORD,          T_RECORDS,  R_LONG},
    {"/records/*/*",                    N_SCRATCH,         T_RECORDS,  R_LONG},  /* an editor's
                                                                          temporary file */
    {"/files/**",                       N_FILES,           T_FILES,    0},

    {"/vendors",                        N_VENDORS,         T_VENDORS,  0},
    {"/vendors/*",                      N_VENDOR,          T_VENDORS,  R_LONG},
    {"/vendors/*/vendor.json",          N_VENDOR_JSON,     T_VENDORS,  0},
    {"/vendors/*/identity.json",        N_IDENTITY,        T_VENDORS,  0},
    {"/vendors/*/grants.json",          N_GRANTS,          T_VENDORS,  0},
    {"/vendors/*/access.log",           N_ACCESSLOG,       T_VENDORS,  0},
    {"/vendors/*/receipts",             N_RECEIPTS,        T_VENDORS,  0},
    {"/vendors/*/receipts/*.jws",       N_RECEIPT,         T_VENDORS,  R_JWS},
    {"/vendors/*/receipts/*.json",      N_RECEIPT,         T_VENDORS,  0},
    {"/vendors/*/*",                    N_VENDOR_SCRATCH,  T_VENDORS,  R_LONG},  /* sed -i's
                                                                          temporary file */
    /* a --view mount's "/" is /views/VENDOR: only the routes below it */
    {"/views",                          N_VIEWS,           T_VIEWS,    0},
    {"/views/*",                        N_VIEW,            T_VIEWS,    R_LONG},
    {"/views/*/records",                N_VIEW_RECORDS,    T_VIEWS,    0},
    {"/views/*/records/*",              N_VIEW_COLL,       T_VIEWS,    0},
    {"/views/*/records/*/*.json",       N_VIEW_RECORD,     T_VIEWS,    0},
    {"/views/*/analytics",              N_VIEW_ANALYTICS,  T_VIEWS,    0},
    {"/views/*/analytics/*",            N_VIEW_ATOPIC,     T_VIEWS,    0},
    {"/views/*/analytics/*/*",          N_VIEW_AFILE,      T_VIEWS,    R_LONG},

    {"/outbox",                         N_OUTBOX,          T_MESSAGES, 0},
    {"/outbox/*",                       N_OUTBOX_VENDOR,   T_MESSAGES, 0},  /* "all": broadcasts */
    {"/outbox/*/*",                     N_OUTBOX_MSG,      T_MESSAGES, R_LONG},  /* ID.pending.json,
                                                                          or a new message */
    {"/sent",                           N_SENT,            T_MESSAGES, 0},
    {"/sent/*",                         N_SENT_VENDOR,     T_MESSAGES, 0},
    {"/sent/*/*.json",                  N_SENT_MSG,        T_MESSAGES, R_LONG},  /* name: the id */
    {"/inbox",                          N_INBOX,           T_MESSAGES, 0},
    {"/inbox/.rejected",                N_REJECTED,        T_MESSAGES, 0},
    {"/inbox/.rejected/*.json",         N_REJECTED_MSG,    T_MESSAGES, 0},
    {"/inbox/*",                        N_INBOX_VENDOR,    T_MESSAGES, 0},
    {"/inbox/*/*.json",                 N_INBOX_MSG,       T_MESSAGES, R_LONG},  /* name: the id */

    {"/import",                         N_IMPORT,          T_DATA,     0},
    {"/import/*",                       N_IMPORT_COLL,     T_DATA,     0},
    {"/import/*/*",                     N_IMPORT_FILE,     T_DATA,     R_LONG},  /* NAME.report.json,
                                                                          or a file imported */
    {"/analytics",                      N_ANALYTICS,       T_DATA,     0},
    {"/analytics/*",                    N_ANALYTICS_TOPIC, T_DATA,     0},
    {"/analytics/*/*",                  N_ANALYTICS_FILE,  T_DATA,     R_LONG},
};

#define VIEW_PREFIX "/views/*"        /* what a --view mount's "/" stands for */

/* The fields a `*` fills, by the folder it is in (anything else: F_NAME). */
enum field { F_NAME, F_VENDOR, F_COLL, F_NUM };

#define CAPTURE(folder, field) {folder, sizeof folder - 1, field}

static const struct {
    const char *folder;
    size_t len;
    enum field field;
} captures[] = {
    CAPTURE("vendors", F_VENDOR), CAPTURE("views", F_VENDOR), CAPTURE("outbox", F_VENDOR),
    CAPTURE("sent", F_VENDOR), CAPTURE("inbox", F_VENDOR), CAPTURE("records", F_COLL),
    CAPTURE("import", F_COLL), CAPTURE("analytics", F_COLL), CAPTURE("receipts", F_NUM),
};

/* The vendor of a --view mount, or NULL: set once before any request. */
static const char *view_vendor;

/* ".Trash-<uid>", or "": set once before any request (op_init). */
static char trash_name[32];

void node_set_view(const char *vendor)
{
    view_vendor = vendor;
}

const char *node_view(void)
{
    return view_vendor;
}

void node_set_trash(unsigned uid)
{
    snprintf(trash_name, sizeof trash_name, ".Trash-%u", uid);
}

const char *node_trash_name(void)
{
    return trash_name;
}

/* Is `p` (no leading '/') the trash's name, alone or followed by '/'? */
static int is_trash(const char *p)
{
    size_t n = strlen(trash_name);

    return n > 0 && strncmp(p, trash_name, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

int node_trash_reserved(const char *path)
{
    return path != NULL && view_vendor == NULL && strncmp(path, "/files/", 7) == 0 &&
           is_trash(path + 7);
}

int node_files_path(const char *rest, char *out, size_t size)
{
    int n;

    if (view_vendor != NULL)
        return -ENOENT;
    if (*rest == '/' && is_trash(rest + 1))
        n = snprintf(out, size, "%s", rest);
    else
        n = snprintf(out, size, "/files%s", strcmp(rest, "/") == 0 ? "" : rest);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

uint64_t node_ino(const char *path)
{
    uint64_t h = 0xcbf29ce484222325u;   /* FNV-1a... */
    const unsigned char *p;

    for (p = (const unsigned char *)path; *p != '\0'; p++)
        h = (h ^ *p) * 0x100000001b3u;
    h ^= h >> 33;                       /* ...then a 64-bit finalizer (MurmurHash3's),
                                           so that every bit depends on every byte */
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return (h & (((uint64_t)1 << 62) - 1)) | (uint64_t)1 << 62;
}

/* ---- matching ---------------------------------------------------------------- */

/* A segment of a pattern or a component of a path: s[0..len). */
typedef struct span {
    const char *s;
    size_t len;
} span;

/* The next segment of *p ("a/b": "a"), stepping *p past it and one '/'
 * after it; *slash: that '/' was there. */
static span next_span(const char **p, int *slash)
{
    const char *e = strchr(*p, '/');
    span sp = {*p, e != NULL ? (size_t)(e - *p) : strlen(*p)};

    *slash = e != NULL;
    *p = e != NULL ? e + 1 : *p + sp.len;
    return sp;
}

static int span_is(span a, const char *s)
{
    return a.len == strlen(s) && memcmp(a.s, s, a.len) == 0;
}

static enum field field_of(span folder)
{
    size_t i;

    for (i = 0; i < sizeof captures / sizeof captures[0]; i++)
        if (folder.len == captures[i].len && memcmp(folder.s, captures[i].folder, folder.len) == 0)
            return captures[i].field;
    return F_NAME;
}

/* Where field `f` of n is, and in *size how many bytes it holds (F_NUM:
 * the digits, into num[32]). */
static char *field_buf(node *n, enum field f, char *num, size_t *size)
{
    switch (f) {
    case F_VENDOR:
        *size = sizeof n->vendor;
        return n->vendor;
    case F_COLL:
        *size = sizeof n->coll;
        return n->coll;
    case F_NUM:
        *size = 32;
        return num;
    default:
        *size = sizeof n->name;
        return n->name;
    }
}

/* A receipt's number: 1 to 15 digits, the first not 0. */
static int receipt_number(const char *s, long long *num)
{
    size_t i, len = strlen(s);

    if (len == 0 || len > 15 || s[0] < '1' || s[0] > '9')
        return 0;
    for (i = 1; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    *num = strtoll(s, NULL, 10);
    return 1;
}

/* Match `path` (after its leading '/') against route r, whose pattern is
 * read from `pat` ("" or a '/' and segments): 1 with n's fields filled, 0
 * if it does not match, or a negative errno that ends the search (see the
 * table). */
static int match(const route *r, const char *pat, const char *path, node *n)
{
    struct {
        span comp;
        enum field field;
    } taken[4];
    size_t ntaken = 0, i, size;
    const char *p = path, *rest = NULL;
    span folder = {"", 0};
    long long number = 0;
    char num[32];
    int slash = 0, pslash;

    if (*pat == '/')
        pat++;
    while (*pat != '\0') {
        span seg = next_span(&pat, &pslash), comp;

        if (span_is(seg, "**")) {
            rest = *p != '\0' ? p - 1 : "/";
            p += strlen(p);
            slash = 0;
            break;
        }
        if (*p == '\0')
            return 0;                 /* the path ends first */
        comp = next_span(&p, &slash);
        if (seg.s[0] == '*') {
            span suffix = {seg.s + 1, seg.len - 1};
            enum field f = field_of(folder);

            field_buf(n, f, num, &size);
            if (*pat == '\0' && comp.len >= size)
                return r->flags & R_LONG ? -ENAMETOOLONG : -ENOENT;
            if (*pat == '\0' && comp.len == 0 && !(r->flags & R_EMPTY))
                return -ENOENT;
            if (comp.len >= size)
                return 0;             /* (its folder's route refused it already) */
            if (suffix.len > 0 && (comp.len <= suffix.len ||
                                   memcmp(comp.s + comp.len - suffix.len, suffix.s,
                                          suffix.len) != 0))
                return 0;
            comp.len -= suffix.len;
            if (f == F_NUM) {
                memcpy(num, comp.s, comp.len);
                num[comp.len] = '\0';
                if (!receipt_number(num, &number))
                    return 0;
            }
            taken[ntaken].comp = comp;
            taken[ntaken++].field = f;
        } else if (comp.len != seg.len || memcmp(comp.s, seg.s, seg.len) != 0) {
            return 0;
        }
        folder = seg;
    }
    if (*p != '\0' || (slash && (r->flags & R_NOSLASH)))
        return 0;
    for (i = 0; i < ntaken; i++) {
        char *to = field_buf(n, taken[i].field, num, &size);

        memcpy(to, taken[i].comp.s, taken[i].comp.len);
        to[taken[i].comp.len] = '\0';
    }
    n->num = number;
    n->jws = (r->flags & R_JWS) != 0;
    n->rest = rest;
    return 1;
}

/* Does the pattern `pat` ("" or a '/' and segments) begin with `top`? */
static int begins_with(const char *pat, span top)
{
    size_t n = top.len;

    if (*pat == '\0')
        return n == 0;
    return strncmp(pat + 1, top.s, n) == 0 && (pat[1 + n] == '/' || pat[1 + n] == '\0');
}

int node_parse(const char *path, node *n)
{
    const char *p, *pat;
    size_t i, skip = 0;
    span top;
    int rc = 0, slash;

    memset(n, 0, sizeof *n);
    n->tree = view_vendor != NULL ? T_VIEWS : T_ROOT;
    if (path == NULL || *path != '/')  /* NULL: removed while open */
        return -ENOENT;
    if (view_vendor != NULL) {
        strcpy(n->vendor, view_vendor);
        skip = sizeof VIEW_PREFIX - 1;
    } else if (is_trash(path + 1)) {
        /* the store keeps it under the same name at its root */
        n->kind = N_FILES;
        n->tree = T_FILES;
        n->rest = path;
        n->trash = strchr(path + 1, '/') == NULL ? 1 : 2;
        return 0;
    }
    p = path + 1;
    top = next_span(&p, &slash);
    for (i = 0; i < sizeof routes / sizeof routes[0] && rc == 0; i++) {
        const route *r = &routes[i];

        if (skip > 0 && (strncmp(r->pattern, VIEW_PREFIX, skip) != 0 ||
                         (r->pattern[skip] != '\0' && r->pattern[skip] != '/')))
            continue;
        pat = r->pattern + skip;
        if (!begins_with(pat, top))
            continue;
        n->tree = r->tree;            /* the top folder's, whatever follows */
        rc = match(r, pat, path + 1, n);
        if (rc > 0)
            n->kind = r->kind;
    }
    if (rc == 0)
        return -ENOENT;
    if (rc < 0)
        return rc;
    if (n->kind == N_FILES && is_trash(n->rest + 1))
        return -ENOENT;               /* the trash's own name in the store */
    return 0;
}
