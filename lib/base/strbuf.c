/*
 * strbuf.c: a growable buffer of bytes (see strbuf.h).
 */
#include "base/strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char vrm_strbuf_empty[1];

void vrm_strbuf_init(vrm_strbuf *sb)
{
    sb->buf = vrm_strbuf_empty;
    sb->len = 0;
    sb->alloc = 0;
    sb->failed = 0;
}

int vrm_strbuf_grow(vrm_strbuf *sb, size_t extra)
{
    size_t want, alloc;
    char *p;

    if (sb->failed)
        return -ENOMEM;
    if (extra > SIZE_MAX - 1 - sb->len) {
        sb->failed = 1;
        return -ENOMEM;
    }
    want = sb->len + extra + 1;
    if (want <= sb->alloc)
        return 0;
    alloc = sb->alloc ? sb->alloc : 64;
    while (alloc < want)
        alloc = alloc > SIZE_MAX / 2 ? want : 2 * alloc;
    p = realloc(sb->alloc ? sb->buf : NULL, alloc);
    if (p == NULL) {
        sb->failed = 1;
        return -ENOMEM;
    }
    if (sb->alloc == 0)
        p[0] = '\0';
    sb->buf = p;
    sb->alloc = alloc;
    return 0;
}

int vrm_strbuf_add(vrm_strbuf *sb, const void *data, size_t len)
{
    if (vrm_strbuf_grow(sb, len) != 0)
        return -ENOMEM;
    if (len > 0)
        memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
    return 0;
}

int vrm_strbuf_adds(vrm_strbuf *sb, const char *s)
{
    return vrm_strbuf_add(sb, s, strlen(s));
}

int vrm_strbuf_addch(vrm_strbuf *sb, char c)
{
    return vrm_strbuf_add(sb, &c, 1);
}

int vrm_strbuf_addf(vrm_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (sb->failed)
        return -ENOMEM;
    va_start(ap, fmt);
    n = vsnprintf(sb->len + 1 < sb->alloc ? sb->buf + sb->len : NULL,
                  sb->len + 1 < sb->alloc ? sb->alloc - sb->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = 1;
        return -ENOMEM;
    }
    if ((size_t)n >= (sb->alloc > sb->len ? sb->alloc - sb->len : 0)) {
        if (vrm_strbuf_grow(sb, (size_t)n) != 0)
            return -ENOMEM;
        va_start(ap, fmt);
        vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
        va_end(ap);
    }
    sb->len += (size_t)n;
    return 0;
}

void vrm_strbuf_setlen(vrm_strbuf *sb, size_t len)
{
    if (len >= sb->alloc)             /* also the shared empty string */
        return;
    sb->len = len;
    sb->buf[len] = '\0';
}

char *vrm_strbuf_detach(vrm_strbuf *sb, size_t *len)
{
    char *out;

    if (sb->failed) {
        vrm_strbuf_release(sb);
        return NULL;
    }
    if (sb->alloc == 0) {
        out = malloc(1);
        if (out != NULL)
            out[0] = '\0';
    } else {
        out = sb->buf;
    }
    if (out != NULL && len != NULL)
        *len = sb->len;
    vrm_strbuf_init(sb);
    return out;
}

void vrm_strbuf_release(vrm_strbuf *sb)
{
    if (sb->alloc)
        free(sb->buf);
    vrm_strbuf_init(sb);
}

int vrm_array_grow(void *arrayp, size_t *cap, size_t n, size_t size)
{
    void *array, *more;
    size_t want;

    if (n < *cap)
        return 0;
    if (*cap > SIZE_MAX / 2 / (size ? size : 1))
        return -ENOMEM;
    want = *cap ? 2 * *cap : 16;
    /* The pointer is copied, not accessed as a void *, so that a pointer to
     * any element type can be passed. */
    memcpy(&array, arrayp, sizeof array);
    if ((more = realloc(array, want * size)) == NULL)
        return -ENOMEM;
    memcpy(arrayp, &more, sizeof more);
    *cap = want;
    return 0;
}
