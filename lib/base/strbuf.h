/*
 * strbuf.h: a growable buffer of bytes, in the manner of git's strbuf.
 *
 * Invariants: `buf` is never NULL and always NUL-terminated at `len` (so a
 * text can be used as a C string at any time; the bytes before may hold
 * NULs too); `alloc` is 0 while `buf` is the shared empty string, which is
 * never written.  When an allocation fails the buffer remembers it
 * (`failed`): every later add does nothing and returns -ENOMEM, and detach
 * gives NULL, so a long run of adds can be checked once at the end.
 *
 *     vrm_strbuf sb = VRM_STRBUF_INIT;
 *     vrm_strbuf_adds(&sb, "total: "); vrm_strbuf_addf(&sb, "%d\n", n);
 *     text = vrm_strbuf_detach(&sb, &len);      (NULL: out of memory)
 *
 * Life cycle: init (or VRM_STRBUF_INIT); add...; then detach (the caller
 * owns the bytes, the buffer is empty and usable again) or release (the
 * bytes are freed, the buffer is empty and usable again).
 */
#ifndef VRM_STRBUF_H
#define VRM_STRBUF_H

#include <stddef.h>

typedef struct vrm_strbuf {
    char *buf;                        /* len bytes and a NUL; never NULL */
    size_t len;                       /* bytes held */
    size_t alloc;                     /* bytes allocated, 0: buf is vrm_strbuf_empty */
    int failed;                       /* an allocation failed (see above) */
} vrm_strbuf;

extern char vrm_strbuf_empty[];

#define VRM_STRBUF_INIT {vrm_strbuf_empty, 0, 0, 0}

void vrm_strbuf_init(vrm_strbuf *sb);

/* Room for `extra` more bytes (and the NUL) without another allocation.
 * 0, or -ENOMEM (also when the size would overflow). */
int vrm_strbuf_grow(vrm_strbuf *sb, size_t extra);

/* Append: bytes, a C string, one byte, printf-style text.  0 or -ENOMEM. */
int vrm_strbuf_add(vrm_strbuf *sb, const void *data, size_t len);
int vrm_strbuf_adds(vrm_strbuf *sb, const char *s);
int vrm_strbuf_addch(vrm_strbuf *sb, char c);
int vrm_strbuf_addf(vrm_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set the length to `len` and terminate there: fewer bytes than held, or
 * more, after writing them into the room vrm_strbuf_grow made (as read()
 * does).  len must be below sb->alloc; otherwise nothing changes. */
void vrm_strbuf_setlen(vrm_strbuf *sb, size_t len);

/* The bytes, malloc'd and NUL-terminated (an empty buffer gives ""), and
 * their number in *len if len is not NULL; the caller frees them.  NULL if
 * an allocation failed, now or earlier (then the bytes are freed).  Either
 * way the buffer is empty and usable again. */
char *vrm_strbuf_detach(vrm_strbuf *sb, size_t *len);

/* Free the bytes; the buffer is empty and usable again. */
void vrm_strbuf_release(vrm_strbuf *sb);

/* Growing arrays: room for one more element in the array at *arrayp (the
 * address of the array's pointer, of any element type) of n elements of
 * `size` bytes with room for *cap, doubled when full (16 at first).  0 or
 * -ENOMEM (also on overflow); the array is unchanged on failure. */
int vrm_array_grow(void *arrayp, size_t *cap, size_t n, size_t size)
    __attribute__((warn_unused_result));

#endif
