/*
 * fileio.h: the file I/O libvrm does outside its database, in one place:
 * reading a whole small file that came from outside (a reply in the inbox
 * spool, the files of an export), and writing files so that a crash or a
 * full disk never leaves half of one where a whole one is expected.
 *
 * Nothing here follows a final symbolic link, and nothing sets a message
 * (vrm_error): the caller knows what the file is and says so.  Every
 * function returns 0 (or a count) or a negative errno.
 */
#ifndef VRM_FILEIO_H
#define VRM_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Read the regular file `name` (relative to dirfd, or AT_FDCWD), not
 * following a final symbolic link, of at most `max` bytes: 0 with *out
 * (malloc'd, NUL-terminated past *len bytes; free()) and *len, which is
 * short if the file shrank while being read.  -errno of open or read,
 * -EINVAL if it is not a regular file, -EFBIG if it is larger than `max`,
 * -ENOMEM. */
int vrm_file_read(int dirfd, const char *name, size_t max, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* Read fd to its end (a pipe, a terminal, a file that may grow), at most
 * `max` bytes: 0 with *out (malloc'd, NUL-terminated past *len bytes;
 * free()) and *len; -EFBIG if more than `max` bytes come, -ENOMEM, or
 * -errno of read.  The descriptor stays open. */
int vrm_fd_read_all(int fd, size_t max, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* Write all of buf[0..len) to fd, going on after short writes and EINTR:
 * 0, -errno of write, or -EIO if it wrote nothing. */
int vrm_write_all(int fd, const void *buf, size_t len) __attribute__((warn_unused_result));

/* Create `name` in dirfd (O_EXCL, O_NOFOLLOW, `mode`), write buf[0..len)
 * and fsync it: 0, or -EEXIST if anything has that name (left alone), or
 * another -errno with nothing of the new file left.  The directory is not
 * synced: do that (vrm_fsync_dir) once its files are written. */
int vrm_file_write_new(int dirfd, const char *name, mode_t mode, const void *buf, size_t len)
    __attribute__((warn_unused_result));

/* Replace dir/name with buf[0..len) (mode `mode` if new): write
 * dir/name.new, fsync it, rename it over dir/name and fsync dir, so that a
 * crash or a full disk leaves the old file or the new one, never a mix.
 * On failure the .new file is removed and dir/name is as it was. */
int vrm_file_replace(const char *dir, const char *name, mode_t mode, const void *buf,
                     size_t len) __attribute__((warn_unused_result));

/* fsync the directory `path` (its entries: files made, renamed or removed
 * in it).  0 or -errno. */
int vrm_fsync_dir(const char *path) __attribute__((warn_unused_result));

/* 1 if the directory `path` holds nothing but "." and "..", 0 if it holds
 * more, or -errno of opening it. */
int vrm_dir_empty(const char *path) __attribute__((warn_unused_result));

/* dir + "/" + name, malloc'd, or NULL when out of memory. */
char *vrm_path_join(const char *dir, const char *name);

#endif
