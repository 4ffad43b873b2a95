/*
 * names.h: a growable list of strings, for collecting names under the vault's
 * lock and handing them on after it is released.
 *
 *     vrm_names l = VRM_NAMES_INIT;
 *     rc = vrm_vendor_list(v, vrm_names_add, &l);   ... use l.names[0..l.n) ...
 *     vrm_names_release(&l);
 */
#ifndef VRM_NAMES_H
#define VRM_NAMES_H

#include <stddef.h>

/* Called once per name, in name order, by the listing functions of libvrm;
 * a non-zero return stops the walk and is returned by the listing
 * function. */
typedef int (*vrm_name_fn)(void *ctx, const char *name);

typedef struct vrm_names {
    char **names;                     /* n strings, each malloc'd; NULL when empty */
    size_t n;
} vrm_names;

#define VRM_NAMES_INIT {NULL, 0}

/* Append a copy of `name` to the vrm_names at `list` (a vrm_name_fn, so it
 * can be handed to the listing functions).  0 or -ENOMEM. */
int vrm_names_add(void *list, const char *name) __attribute__((warn_unused_result));

/* Free every name; the list is empty and usable again. */
void vrm_names_release(vrm_names *list);

#endif
