/*
 * nameset.h: a set of strings, for the names of view entries the kernel
 * has been told about (see tree_views.c, view_changed).
 *
 * Not thread-safe: the caller holds its own lock.  Strings are copied in.
 */
#ifndef VRMFS_NAMESET_H
#define VRMFS_NAMESET_H

#include <stddef.h>

typedef struct nameset {
    char **slots;                     /* open addressing; NULL: empty */
    size_t cap;                       /* a power of two, or 0 */
    size_t len;                       /* names held */
} nameset;

/* Add `name` (kept as a copy).  0, or -ENOMEM (the set is unchanged). */
int nameset_add(nameset *s, const char *name);

/* 1 if `name` is in the set, else 0. */
int nameset_has(const nameset *s, const char *name);

/* Remove every name that starts with `prefix` and call fn for each (the
 * name is freed after fn returns).  Returns how many were removed. */
size_t nameset_take(nameset *s, const char *prefix, void (*fn)(void *ctx, const char *name),
                    void *ctx);

/* Free everything; the set is empty and usable again. */
void nameset_release(nameset *s);

#endif
