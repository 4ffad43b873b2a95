/*
 * names.c: a growable list of strings (see names.h).
 */
#include "base/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vrm_names_add(void *list, const char *name)
{
    vrm_names *l = list;
    char **grown = realloc(l->names, (l->n + 1) * sizeof *grown);

    if (grown == NULL)
        return -ENOMEM;
    l->names = grown;
    if ((grown[l->n] = strdup(name)) == NULL)
        return -ENOMEM;
    l->n++;
    return 0;
}

void vrm_names_release(vrm_names *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->n = 0;
}
