/*
 * fileio.h: reading a whole small file that came from outside (a reply in
 * the inbox spool, the files of an export).
 */
#ifndef VRM_FILEIO_H
#define VRM_FILEIO_H

#include <stddef.h>

/* Read the regular file `name` (relative to dirfd, or AT_FDCWD), not
 * following a final symbolic link, of at most `max` bytes: 0 with *out
 * (malloc'd, NUL-terminated past *len bytes; free()) and *len, which is
 * short if the file shrank while being read.  -errno of open or read,
 * -EINVAL if it is not a regular file, -EFBIG if it is larger than `max`,
 * -ENOMEM.  Sets no message. */
int vrm_file_read(int dirfd, const char *name, size_t max, char **out, size_t *len);

#endif
