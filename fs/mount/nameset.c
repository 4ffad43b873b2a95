/*
 * nameset.c: a set of strings by open addressing (see nameset.h).
 */
#include "nameset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: spreads path-like names well enough for a table. */
static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return (size_t)h;
}

static void place(char **slots, size_t cap, char *name)
{
    size_t i = hash(name) & (cap - 1);

    while (slots[i] != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = name;
}

static int grow(nameset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64, i;
    char **slots;

    if (cap < s->cap || cap > SIZE_MAX / sizeof *slots)
        return -ENOMEM;
    slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -ENOMEM;
    for (i = 0; i < s->cap; i++)
        if (s->slots[i] != NULL)
            place(slots, cap, s->slots[i]);
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int nameset_add(nameset *s, const char *name)
{
    size_t i;
    char *copy;

    if (s->cap > 0) {
        for (i = hash(name) & (s->cap - 1); s->slots[i] != NULL; i = (i + 1) & (s->cap - 1))
            if (strcmp(s->slots[i], name) == 0)
                return 0;
    }
    if ((s->len + 1) * 2 > s->cap && grow(s) != 0)
        return -ENOMEM;
    copy = strdup(name);
    if (copy == NULL)
        return -ENOMEM;
    place(s->slots, s->cap, copy);
    s->len++;
    return 0;
}

int nameset_has(const nameset *s, const char *name)
{
    size_t i;

    if (s->cap == 0)
        return 0;
    for (i = hash(name) & (s->cap - 1); s->slots[i] != NULL; i = (i + 1) & (s->cap - 1))
        if (strcmp(s->slots[i], name) == 0)
            return 1;
    return 0;
}

size_t nameset_take(nameset *s, const char *prefix, void (*fn)(void *ctx, const char *name),
                    void *ctx)
{
    size_t plen = strlen(prefix), i, taken = 0;
    char **keep;

    if (s->len == 0)
        return 0;
    /* rebuild without the taken names: removal by open addressing would
     * otherwise have to shift clusters */
    keep = calloc(s->cap, sizeof *keep);
    if (keep == NULL)
        return 0;   /* nothing taken; the names stay for a later try */
    for (i = 0; i < s->cap; i++) {
        char *name = s->slots[i];

        if (name == NULL)
            continue;
        if (strncmp(name, prefix, plen) == 0) {
            fn(ctx, name);
            free(name);
            taken++;
        } else {
            place(keep, s->cap, name);
        }
    }
    free(s->slots);
    s->slots = keep;
    s->len -= taken;
    return taken;
}

void nameset_release(nameset *s)
{
    size_t i;

    for (i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    s->slots = NULL;
    s->cap = s->len = 0;
}
