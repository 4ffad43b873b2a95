/*
 * fileio.c: reading and writing whole files (see fileio.h).
 */
#define _GNU_SOURCE
#include "base/fileio.h"
#include "base/strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vrm_fd_read_all(int fd, size_t max, char **out, size_t *len)
{
    vrm_strbuf sb = VRM_STRBUF_INIT;
    struct stat st;

    *out = NULL;
    *len = 0;
    /* a regular file: room for it at once, and a little for growth */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= max && vrm_strbuf_grow(&sb, (size_t)st.st_size + 1) != 0)
        return -ENOMEM;
    for (;;) {
        ssize_t n;

        if (sb.alloc - sb.len < 2 && vrm_strbuf_grow(&sb, sb.alloc < 4096 ? 4096 : sb.alloc) != 0)
            return -ENOMEM;
        n = read(fd, sb.buf + sb.len, sb.alloc - sb.len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;

            vrm_strbuf_release(&sb);
            return -err;
        }
        if (n == 0)
            break;
        if ((size_t)n > max - sb.len) {
            vrm_strbuf_release(&sb);
            return -EFBIG;
        }
        vrm_strbuf_setlen(&sb, sb.len + (size_t)n);
    }
    *out = vrm_strbuf_detach(&sb, len);
    return *out != NULL ? 0 : -ENOMEM;
}

int vrm_file_read(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;

    *out = NULL;
    *len = 0;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = -EINVAL;
    else if ((uint64_t)st.st_size > max)
        rc = -EFBIG;
    else
        rc = vrm_fd_read_all(fd, max, out, len);
    close(fd);
    return rc;
}

int vrm_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        /* Linux writes at most 0x7ffff000 bytes at once. */
        ssize_t n = write(fd, p, len < (1u << 30) ? len : (1u << 30));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int vrm_file_write_new(int dirfd, const char *name, mode_t mode, const void *buf, size_t len)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    int rc;

    if (fd < 0)
        return -errno;
    rc = vrm_write_all(fd, buf, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)     /* NFS reports a full disk here */
        rc = -errno;
    if (rc != 0)
        unlinkat(dirfd, name, 0);
    return rc;
}

int vrm_file_replace(const char *dir, const char *name, mode_t mode, const void *buf,
                     size_t len)
{
    char *tmp = NULL;
    int dfd, fd, rc;

    if (asprintf(&tmp, "%s.new", name) < 0)
        return -ENOMEM;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = -errno;
        free(tmp);
        return rc;
    }
    /* O_TRUNC, not O_EXCL: a .new file left by a crash is ours to replace. */
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    rc = vrm_write_all(fd, buf, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && renameat(dfd, tmp, dfd, name) != 0)
        rc = -errno;
    if (rc != 0)
        unlinkat(dfd, tmp, 0);
    else if (fsync(dfd) != 0)
        rc = -errno;
out:
    close(dfd);
    free(tmp);
    return rc;
}

int vrm_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

int vrm_dir_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;

    if (d == NULL)
        return -errno;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

char *vrm_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);

    if (p == NULL)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}
