/*
 * node.c: path parsing for the mounted tree (see node.h).
 */
#include "node.h"

#include <errno.h>
#include <string.h>

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
    if (*p == '\0') {
        n->kind = N_ROOT;
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
        n->kind = N_FILES;
        n->rest = *p ? p - 1 : "/";
        return 0;
    }
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
