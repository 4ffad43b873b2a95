/*
 * node.c: path parsing for the mounted tree (see node.h).
 */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Copy the next component of *p into out (size n) and advance *p past it.
 * Returns its length, or -ENAMETOOLONG. */
static int component(const char **p, char *out, size_t n)
{
    const char *s = *p, *e = strchr(s, '/');
    size_t len = e ? (size_t)(e - s) : strlen(s);

    if (len >= n)
        return -ENAMETOOLONG;
    memcpy(out, s, len);
    out[len] = '\0';
    *p = e ? e + 1 : s + len;
    return (int)len;
}

/* Does `name` end in `suffix`, with something before it?  Then cut it. */
static int cut_suffix(char *name, const char *suffix)
{
    size_t len = strlen(name), n = strlen(suffix);

    if (len <= n || strcmp(name + len - n, suffix) != 0)
        return 0;
    name[len - n] = '\0';
    return 1;
}

/* DIR, DIR/<coll>, DIR/<coll>/<name> (name whole) after a top folder. */
static int parse_three(const char *p, node *n, enum node_kind top, enum node_kind mid,
                       enum node_kind leaf)
{
    int len;

    if (*p == '\0') {
        n->kind = top;
        return 0;
    }
    len = component(&p, n->coll, sizeof n->coll);
    if (len <= 0)
        return -ENOENT;
    if (*p == '\0') {
        n->kind = mid;
        return 0;
    }
    len = component(&p, n->name, sizeof n->name);
    if (len < 0)
        return len;
    if (len == 0 || *p != '\0')
        return -ENOENT;
    n->kind = leaf;
    return 0;
}

/* The rest of a view's path after views/<vendor> (or a --view mount's
 * root): "", "records", "records/<coll>", "records/<coll>/<name>.json". */
static int parse_view(const char *p, node *n)
{
    char first[16];
    int len;

    if (*p == '\0') {
        n->kind = N_VIEW;
        return 0;
    }
    len = component(&p, first, sizeof first);
    if (len < 0)
        return -ENOENT;
    if (strcmp(first, "analytics") == 0)
        return parse_three(p, n, N_VIEW_ANALYTICS, N_VIEW_ATOPIC, N_VIEW_AFILE);
    if (strcmp(first, "records") != 0)
        return -ENOENT;
    if (*p == '\0') {
        n->kind = N_VIEW_RECORDS;
        return 0;
    }
    len = component(&p, n->coll, sizeof n->coll);
    if (len <= 0)
        return -ENOENT;
    if (*p == '\0') {
        n->kind = N_VIEW_COLL;
        return 0;
    }
    len = component(&p, n->name, sizeof n->name);
    if (len <= 0 || *p != '\0' || !cut_suffix(n->name, ".json"))
        return -ENOENT;
    n->kind = N_VIEW_RECORD;
    return 0;
}

/* The rest of a path after vendors/<vendor>. */
static int parse_vendor(const char *p, node *n)
{
    static const struct {
        const char *name;
        enum node_kind kind;
    } files[] = {
        {"vendor.json", N_VENDOR_JSON},
        {"identity.json", N_IDENTITY},
        {"grants.json", N_GRANTS},
        {"access.log", N_ACCESSLOG},
    };
    char *first = n->name, num[32], *end;
    size_t i;
    int len;

    if (*p == '\0') {
        n->kind = N_VENDOR;
        return 0;
    }
    len = component(&p, first, sizeof n->name);
    if (len <= 0)
        return len < 0 ? len : -ENOENT;
    for (i = 0; i < sizeof files / sizeof files[0]; i++)
        if (*p == '\0' && strcmp(first, files[i].name) == 0) {
            n->kind = files[i].kind;
            return 0;
        }
    if (strcmp(first, "receipts") != 0) {
        if (*p != '\0')
            return -ENOENT;
        n->kind = N_VENDOR_SCRATCH;   /* an editor's temporary file */
        return 0;
    }
    if (*p == '\0') {
        n->kind = N_RECEIPTS;
        return 0;
    }
    len = component(&p, num, sizeof num);
    if (len <= 0 || *p != '\0')
        return -ENOENT;
    if (cut_suffix(num, ".jws"))
        n->jws = 1;
    else if (!cut_suffix(num, ".json"))
        return -ENOENT;
    if (num[0] < '1' || num[0] > '9' || strlen(num) > 15)
        return -ENOENT;
    n->num = strtoll(num, &end, 10);
    if (*end != '\0')
        return -ENOENT;
    n->kind = N_RECEIPT;
    return 0;
}

/* The rest of a path after outbox/, sent/ or inbox/ (`top`: 'o', 's', 'i'). */
static int parse_messages(const char *p, node *n, char top)
{
    static const enum node_kind kinds[3][3] = {
        {N_OUTBOX, N_OUTBOX_VENDOR, N_OUTBOX_MSG},
        {N_SENT, N_SENT_VENDOR, N_SENT_MSG},
        {N_INBOX, N_INBOX_VENDOR, N_INBOX_MSG},
    };
    const enum node_kind *k = kinds[top == 'o' ? 0 : top == 's' ? 1 : 2];
    int len;

    if (*p == '\0') {
        n->kind = k[0];
        return 0;
    }
    len = component(&p, n->vendor, sizeof n->vendor);
    if (len <= 0)
        return len < 0 ? -ENOENT : -ENOENT;
    if (top == 'i' && strcmp(n->vendor, ".rejected") == 0) {
        n->vendor[0] = '\0';
        if (*p == '\0') {
            n->kind = N_REJECTED;
            return 0;
        }
        len = component(&p, n->name, sizeof n->name);
        if (len <= 0 || *p != '\0' || !cut_suffix(n->name, ".json"))
            return -ENOENT;
        n->kind = N_REJECTED_MSG;
        return 0;
    }
    if (*p == '\0') {
        n->kind = k[1];
        return 0;
    }
    len = component(&p, n->name, sizeof n->name);
    if (len < 0)
        return len;
    if (len == 0 || *p != '\0')
        return -ENOENT;
    if (top != 'o' && !cut_suffix(n->name, ".json"))
        return -ENOENT;
    n->kind = k[2];
    return 0;
}

int node_parse(const char *path, node *n)
{
    static const char suffix[] = ".json";
    char first[16];
    const char *p = path;
    int len;

    memset(n, 0, sizeof *n);
    if (p == NULL || *p != '/')  /* NULL: removed while open */
        return -ENOENT;
    p++;
    if (view_vendor != NULL) {
        strcpy(n->vendor, view_vendor);
        return parse_view(p, n);
    }
    if (*p == '\0') {
        n->kind = N_ROOT;
        return 0;
    }
    if (is_trash(p)) {
        /* the store keeps it under the same name at its root */
        n->kind = N_FILES;
        n->rest = path;
        n->trash = strchr(p, '/') == NULL ? 1 : 2;
        return 0;
    }
    len = component(&p, first, sizeof first);
    if (len < 0)
        return -ENOENT;
    if (strcmp(first, "README.txt") == 0 && *p == '\0') {
        n->kind = N_README;
        return 0;
    }
    if (strcmp(first, ".vrmfs") == 0) {
        if (*p == '\0') {
            n->kind = N_META;
            return 0;
        }
        if (strcmp(p, "errors.log") == 0) {
            n->kind = N_ERRLOG;
            return 0;
        }
        return -ENOENT;
    }
    if (strcmp(first, "files") == 0) {
        if (is_trash(p))
            return -ENOENT;   /* the trash's own name in the store */
        n->kind = N_FILES;
        n->rest = *p ? p - 1 : "/";
        return 0;
    }
    if (strcmp(first, "vendors") == 0 || strcmp(first, "views") == 0) {
        int views = first[1] == 'i';

        if (*p == '\0') {
            n->kind = views ? N_VIEWS : N_VENDORS;
            return 0;
        }
        len = component(&p, n->vendor, sizeof n->vendor);
        if (len <= 0)
            return len < 0 ? len : -ENOENT;
        return views ? parse_view(p, n) : parse_vendor(p, n);
    }
    if (strcmp(first, "import") == 0)
        return parse_three(p, n, N_IMPORT, N_IMPORT_COLL, N_IMPORT_FILE);
    if (strcmp(first, "analytics") == 0)
        return parse_three(p, n, N_ANALYTICS, N_ANALYTICS_TOPIC, N_ANALYTICS_FILE);
    if (strcmp(first, "outbox") == 0 || strcmp(first, "sent") == 0 ||
        strcmp(first, "inbox") == 0)
        return parse_messages(p, n, first[0]);
    if (strcmp(first, "records") != 0)
        return -ENOENT;
    if (*p == '\0') {
        n->kind = N_RECORDS;
        return 0;
    }
    len = component(&p, n->coll, sizeof n->coll);
    if (len < 0)
        return len;  /* no collection has so long a name */
    if (*p == '\0') {
        n->kind = N_COLL;
        return 0;
    }
    len = component(&p, n->name, sizeof n->name);
    if (len < 0)
        return len;
    if (*p != '\0' || len == 0)
        return -ENOENT;
    if ((size_t)len > sizeof suffix - 1 &&
        strcmp(n->name + len - (sizeof suffix - 1), suffix) == 0) {
        n->name[len - (sizeof suffix - 1)] = '\0';
        n->kind = N_RECORD;
    } else {
        n->kind = N_SCRATCH;
    }
    return 0;
}
