/*
 * files.h: the person's documents, a POSIX file tree kept in the vault's
 * encrypted database; vrmfs serves it under files/.
 *
 * The tree.  Inodes are numbered from VRM_FILES_ROOT (the root directory,
 * made by the schema migration, mode 040700, owner 0:0: whoever creates or
 * mounts the vault should vrm_files_chown() it to the person once).  An inode
 * is a regular file, a directory or a symbolic link; other types are not
 * made.  Inode numbers are never reused, so an inode number held across
 * calls (a FUSE file handle) names the same file or none (-ENOENT).  A
 * directory's nlink is 2 plus its subdirectories; a file's is its number of
 * names.  Names are 1..VRM_FILES_NAME_MAX bytes of anything but '/' and NUL,
 * other than "." and ".."; they are compared as bytes and listed in byte
 * order.  Times are ns since the epoch (times outside 1678..2262 are clamped).
 * atime changes only through vrm_files_utimens (as with the noatime mount
 * option: a read never writes).
 *
 * Paths.  The path functions take a path relative to the files root, such as
 * "/a/b" ("/" or "" is the root; a leading '/' is optional, repeated and
 * trailing slashes are ignored), of fewer than VRM_FILES_PATH_MAX bytes.  No
 * symbolic link is followed anywhere (the kernel resolves them before FUSE
 * sees a path).  A component that is missing gives -ENOENT; one that is not a
 * directory, -ENOTDIR; one too long, -ENAMETOOLONG; "." or "..", -EINVAL.
 *
 * Data.  A regular file's bytes are kept in chunks of VRM_FILES_CHUNK bytes,
 * one database row per chunk that holds data, so a file is streamed rather
 * than loaded whole, and a write touches only the chunks it covers.  A row
 * holds a chunk's bytes from its start, up to its last written byte or, when
 * small writes grow it, a zero-filled tail up to twice its old length; a
 * chunk without a row reads as zeros (sparse files).  Overwriting a part of
 * a row writes only the changed database pages (SQLite's incremental blob
 * I/O); a write covering whole chunks never reads them.  st_blksize is
 * VRM_FILES_CHUNK, so that stdio writes whole chunks.
 * Each write, truncate and every other change is one transaction: after a
 * crash a write is there whole or not at all.  A change is durable once
 * vrm_files_sync() returns (the vault commits with synchronous=NORMAL).
 * Files are at most VRM_FILES_SIZE_MAX bytes (-EFBIG).  Deleting or
 * truncating a file frees its pages without overwriting them (the vault
 * runs with secure_delete=FAST): they stay in vault.db as ciphertext under
 * the vault's key until SQLite reuses them, so that a delete costs a few
 * page reads (the pointer map of auto_vacuum=INCREMENTAL finds the pages of
 * each chunk; vaults made before it have none and read the chunks' pages),
 * not a rewrite of the whole file.
 * Reads run on one of the vault's read connections (vault_int.h), so they
 * see every write that has returned and never wait for one in progress.
 *
 * Storage (schema step 2): tables inodes, dentries (parent, name) -> ino,
 * xattrs, and chunks(id, data) where id = ino << 28 | chunk index.  Chunks
 * are a rowid table, not WITHOUT ROWID keyed by (ino, idx): a WITHOUT ROWID
 * table keeps up to ~1 KiB of every 64 KiB row in its interior pages (SQLite
 * advises against rows larger than 1/20 of a page there), and incremental
 * blob I/O, which lets a small overwrite change one page instead of the whole
 * chunk, needs a rowid.  Packing both numbers in the rowid keeps one b-tree
 * and no second index; it bounds files to 2^28 chunks (VRM_FILES_SIZE_MAX)
 * and inode numbers to 2^35 over the vault's life (then -ENOSPC).
 *
 * Open files.  vrm_files_open() and vrm_files_release() count the opens of
 * each inode.  Removing the last name of an inode (unlink, rmdir, rename over
 * it) that is open keeps the inode and its data, with nlink 0, until the last
 * release; then it is deleted.  The counts live only as long as the vault is
 * open; an inode left with nlink 0 by a crash (or a close with files still
 * open) is deleted by vrm_files_purge_orphans(), which vrm_vault_open
 * (vrm.h) calls.
 *
 * Extended attributes: names "user.*" only (others: -ENOTSUP), up to
 * VRM_FILES_XATTR_MAX bytes of value, on regular files and directories.
 *
 * Errors are the negative errno the corresponding system call would give,
 * plus -EROFS on a vault opened read-only, -ENOSPC when the disk is full and
 * the codes of error.h for a damaged vault.
 *
 * Threads: every function takes the vault's mutex.  vrm_files_readdir's
 * callback runs with the mutex held and must not call libvrm on the same
 * vault.
 *
 * For a FUSE high-level file system over this: use the inode number as the
 * file handle (open/create set fi->fh, read/write/release use it), and set
 * nullpath_ok and use_ino.  fuse_config.hard_remove may be set, since this
 * module keeps unlinked open files itself; vrmfs leaves it off, so that a
 * removed file still open is found by its .fuse_hidden* path too (fstat and
 * read by path, see op_init in fs/).
 * The kernel then holds each name of a hard-linked file as an inode of its
 * own: vrm_files_link, vrm_files_unlink_stat and vrm_files_rename_stat say
 * whether a file they touched has other names, and vrm_files_paths lists
 * them, so that their cached attributes can be dropped.
 */
#ifndef VRM_FILES_H
#define VRM_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>

#include "store/vault.h"

#define VRM_FILES_ROOT 1                          /* inode of the root directory */
#define VRM_FILES_CHUNK (64u << 10)               /* bytes per chunk row */
#define VRM_FILES_NAME_MAX 255                    /* bytes in a name */
#define VRM_FILES_PATH_MAX 4096                   /* a path is shorter than this */
#define VRM_FILES_SYMLINK_MAX 4095                /* bytes in a link's target */
#define VRM_FILES_LINK_MAX 65000                  /* names of one file (-EMLINK) */
#define VRM_FILES_XATTR_MAX (64u << 10)           /* bytes in an xattr value (-E2BIG) */
#define VRM_FILES_XATTR_LIST_MAX (64u << 10)      /* bytes in an inode's xattr name list */
#define VRM_FILES_SIZE_MAX ((uint64_t)1 << 44)    /* 16 TiB: 2^28 chunks */

/* vrm_files_rename flags: the values of Linux's RENAME_NOREPLACE and
 * RENAME_EXCHANGE, so that the flags FUSE hands over can be passed on. */
#define VRM_FILES_NOREPLACE (1u << 0)   /* fail with -EEXIST if `to` exists */
#define VRM_FILES_EXCHANGE (1u << 1)    /* swap `from` and `to`, which must both exist */

/* What getattr says about an inode. */
typedef struct vrm_stat {
    uint64_t ino;                     /* inode number, >= VRM_FILES_ROOT */
    uint32_t mode;                    /* type (S_IFREG, S_IFDIR, S_IFLNK) and 07777 bits */
    uint32_t nlink;                   /* names; 0 for a removed file still open */
    uint32_t uid;                     /* owner */
    uint32_t gid;                     /* group */
    uint64_t size;                    /* bytes; a link's target length; 0 for a directory */
    uint64_t blocks;                  /* 512-byte units: size rounded up (holes count) */
    int64_t atime_ns;                 /* last access set by utimens, ns since the epoch */
    int64_t mtime_ns;                 /* last change of the content */
    int64_t ctime_ns;                 /* last change of the content or the inode */
} vrm_stat;

/* Fill a struct stat (st_blksize VRM_FILES_CHUNK, st_dev 0) from a vrm_stat. */
void vrm_files_stat_posix(const vrm_stat *in, struct stat *out);

/* ---- names and the tree ---------------------------------------------- */

/* The inode at `path`.  -ENOENT, -ENOTDIR, -ENAMETOOLONG, -EINVAL. */
int vrm_files_resolve(vrm_vault *v, const char *path, vrm_stat *st)
    __attribute__((warn_unused_result));

/* The inode `ino`, linked or open.  -ENOENT. */
int vrm_files_getattr(vrm_vault *v, uint64_t ino, vrm_stat *st) __attribute__((warn_unused_result));

/* Make an empty regular file at `path` with permission bits mode & 07777,
 * owned by uid:gid (a directory with the set-group-ID bit passes its group
 * on, as in Linux).  Fills *out if not NULL.  -EEXIST if the name exists
 * (whatever it is); -ENOENT or -ENOTDIR for the parent. */
int vrm_files_create(vrm_vault *v, const char *path, uint32_t mode, uint32_t uid,
                     uint32_t gid, vrm_stat *out) __attribute__((warn_unused_result));

/* Make a directory; as vrm_files_create (a set-group-ID parent also passes
 * the bit on to the new directory). */
int vrm_files_mkdir(vrm_vault *v, const char *path, uint32_t mode, uint32_t uid,
                    uint32_t gid, vrm_stat *out) __attribute__((warn_unused_result));

/* Make a symbolic link at `path` holding `target` (1..VRM_FILES_SYMLINK_MAX
 * bytes, never interpreted), mode 0777.  -ENOENT for an empty target,
 * -ENAMETOOLONG for a longer one, else as vrm_files_create. */
int vrm_files_symlink(vrm_vault *v, const char *target, const char *path, uint32_t uid,
                      uint32_t gid, vrm_stat *out) __attribute__((warn_unused_result));

/* Copy the target of the link at `path` into buf, truncated to size - 1
 * bytes and NUL-terminated (as FUSE's readlink wants; nothing is written if
 * size is 0).  Returns the target's full length; -EINVAL if `path` is not a
 * symbolic link. */
int vrm_files_readlink(vrm_vault *v, const char *path, char *buf, size_t size)
    __attribute__((warn_unused_result));

/* Give the inode at `from` the further name `to` (a hard link).  Fills *out
 * with the inode's new attributes if not NULL.  -EPERM if `from` is a
 * directory, -EEXIST if `to` exists, -EMLINK past VRM_FILES_LINK_MAX. */
int vrm_files_link(vrm_vault *v, const char *from, const char *to, vrm_stat *out)
    __attribute__((warn_unused_result));

/* Remove the name `path` of a non-directory.  -EISDIR for a directory. */
int vrm_files_unlink(vrm_vault *v, const char *path) __attribute__((warn_unused_result));

/* As vrm_files_unlink; fills *after (if not NULL) with the inode that
 * `path` named as it is now: after->nlink is the number of names it has
 * left (0: it is gone, or kept only while open). */
int vrm_files_unlink_stat(vrm_vault *v, const char *path, vrm_stat *after)
    __attribute__((warn_unused_result));

/* Remove the empty directory `path`.  -ENOTDIR, -ENOTEMPTY, -EBUSY for the
 * root. */
int vrm_files_rmdir(vrm_vault *v, const char *path) __attribute__((warn_unused_result));

/* Move the name `from` to `to` in one transaction, as rename(2) and
 * renameat2(2) do with `flags` (VRM_FILES_NOREPLACE or VRM_FILES_EXCHANGE, not
 * both: -EINVAL).  An existing `to` is replaced atomically: a file by a
 * non-directory (else -EISDIR), an empty directory by a directory (else
 * -ENOTDIR; -ENOTEMPTY if not empty).  If both names are the same inode,
 * nothing happens.  -EINVAL if a directory would move into its own subtree;
 * -EBUSY for the root. */
int vrm_files_rename(vrm_vault *v, const char *from, const char *to, unsigned flags)
    __attribute__((warn_unused_result));

/* As vrm_files_rename; fills, if not NULL, *moved with the inode `from`
 * named and *replaced with the one `to` named, as they are now (replaced's
 * nlink: the names it has left; replaced->ino is 0 if `to` did not exist
 * or was the same file).  With VRM_FILES_EXCHANGE, *replaced is the inode
 * now at `from`. */
int vrm_files_rename_stat(vrm_vault *v, const char *from, const char *to, unsigned flags,
                          vrm_stat *moved, vrm_stat *replaced) __attribute__((warn_unused_result));

/* Called once per entry of a directory, in name order, without "." and "..";
 * a non-zero return stops the walk and is returned by vrm_files_readdir. */
typedef int (*vrm_files_dir_fn)(void *ctx, const char *name, const vrm_stat *st);

/* List the directory `ino`, from the first name after `after` (NULL: from
 * the first), so that a listing given in parts goes on where it stopped
 * whatever was added or removed in between.  -ENOENT, -ENOTDIR. */
int vrm_files_readdir(vrm_vault *v, uint64_t ino, const char *after, vrm_files_dir_fn fn,
                      void *ctx) __attribute__((warn_unused_result));

/* The paths of inode `ino`, one per name (a directory has one; the root's
 * is "/"): at most `max` of them (the others are left out), each
 * NUL-terminated, one after another in *paths, which the caller frees
 * (NULL if there are none); their number in *count.  A name without a path
 * the path functions take (below a removed directory still open) is left
 * out, as is every name of a removed file still open.  For a FUSE daemon
 * whose kernel keeps the attributes and pages of each name apart: after a
 * change of a file with several names it has the kernel forget them all.
 * -ENOENT if there is no inode `ino`. */
int vrm_files_paths(vrm_vault *v, uint64_t ino, size_t max, char **paths, size_t *count)
    __attribute__((warn_unused_result));

/* ---- open files ------------------------------------------------------- */

/* Count an open of `ino` (any type).  -ENOENT if it does not exist. */
int vrm_files_open(vrm_vault *v, uint64_t ino) __attribute__((warn_unused_result));

/* Undo one vrm_files_open; the last release of an inode without names
 * deletes it.  -EBADF if `ino` is not open. */
int vrm_files_release(vrm_vault *v, uint64_t ino) __attribute__((warn_unused_result));

/* Delete the inodes without names that no one has open: what a crash left.
 * For the vault's open path; does nothing on a read-only vault.  Returns
 * how many it deleted. */
int vrm_files_purge_orphans(vrm_vault *v) __attribute__((warn_unused_result));

/* ---- data ------------------------------------------------------------- */

/* Read up to `size` bytes at `off` of regular file `ino`.  Returns the count,
 * short only at the end of the file (0 at or past it); holes read as zeros.
 * -EISDIR for a directory, -EINVAL for another non-file or an offset past
 * INT64_MAX. */
ssize_t vrm_files_read(vrm_vault *v, uint64_t ino, void *buf, size_t size, uint64_t off)
    __attribute__((warn_unused_result));

/* Write `size` bytes at `off` of regular file `ino` (past the end leaves a
 * hole), growing it as needed and setting mtime and ctime.  Returns the
 * count: all of it, unless it reaches VRM_FILES_SIZE_MAX (then what fits;
 * -EFBIG if nothing does) or exceeds 0x7ffff000 bytes (as Linux).  -EISDIR,
 * -EINVAL as vrm_files_read. */
ssize_t vrm_files_write(vrm_vault *v, uint64_t ino, const void *buf, size_t size,
                        uint64_t off) __attribute__((warn_unused_result));

/* As vrm_files_write at the file's end, read in the same transaction (for
 * O_APPEND: concurrent appends never overlap). */
ssize_t vrm_files_append(vrm_vault *v, uint64_t ino, const void *buf, size_t size)
    __attribute__((warn_unused_result));

/* Set the size of regular file `ino`: bytes past it are dropped, growing it
 * makes a hole.  Sets mtime and ctime.  -EFBIG past VRM_FILES_SIZE_MAX,
 * -EISDIR, -EINVAL. */
int vrm_files_truncate(vrm_vault *v, uint64_t ino, uint64_t size)
    __attribute__((warn_unused_result));

/* ---- attributes ------------------------------------------------------- */

/* Set the permission bits (mode & 07777; the type stays) and ctime. */
int vrm_files_chmod(vrm_vault *v, uint64_t ino, uint32_t mode) __attribute__((warn_unused_result));

/* Set the owner and group; (uint32_t)-1 leaves one as it is.  Sets ctime.
 * Who may do it is the kernel's business (mount with default_permissions). */
int vrm_files_chown(vrm_vault *v, uint64_t ino, uint32_t uid, uint32_t gid)
    __attribute__((warn_unused_result));

/* Set atime (tv[0]) and mtime (tv[1]) as utimensat(2): tv NULL means both
 * now, tv_nsec UTIME_NOW now, UTIME_OMIT unchanged (both omitted changes
 * nothing); ctime becomes now.  -EINVAL for tv_nsec out of range. */
int vrm_files_utimens(vrm_vault *v, uint64_t ino, const struct timespec tv[2])
    __attribute__((warn_unused_result));

/* Set the extended attribute `name` to value[0..size).  flags: 0,
 * XATTR_CREATE (-EEXIST if set) or XATTR_REPLACE (-ENODATA if not).  -ENOTSUP
 * for a name outside "user.", -ERANGE for a name longer than 255 bytes,
 * -E2BIG for a value past VRM_FILES_XATTR_MAX, -ENOSPC if the name list would
 * pass VRM_FILES_XATTR_LIST_MAX, -EPERM on a symbolic link. */
int vrm_files_setxattr(vrm_vault *v, uint64_t ino, const char *name, const void *value,
                       size_t size, int flags) __attribute__((warn_unused_result));

/* Copy the value of `name` into value[0..size) and return its length; size 0
 * only returns the length.  -ENODATA if not set, -ERANGE if size is too
 * small. */
int vrm_files_getxattr(vrm_vault *v, uint64_t ino, const char *name, void *value,
                       size_t size) __attribute__((warn_unused_result));

/* The names set on `ino`, each NUL-terminated, in byte order, into
 * list[0..size); returns the total length.  Size protocol as getxattr. */
int vrm_files_listxattr(vrm_vault *v, uint64_t ino, char *list, size_t size)
    __attribute__((warn_unused_result));

/* Remove `name`.  -ENODATA if not set. */
int vrm_files_removexattr(vrm_vault *v, uint64_t ino, const char *name)
    __attribute__((warn_unused_result));

/* ---- the file system as a whole -------------------------------------- */

/* Sizes in 4096-byte blocks: total and free are those of the file system
 * holding the vault's directory (free also counts the database's free
 * pages); file counts are the inodes in use and how many more could be made.
 * f_namemax 255; ST_RDONLY on a read-only vault. */
int vrm_files_statfs(vrm_vault *v, struct statvfs *out) __attribute__((warn_unused_result));

/* Make everything committed so far durable: vrm_vault_sync() (a checkpoint
 * syncs the WAL, then the database file).  For fsync and fsyncdir. */
int vrm_files_sync(vrm_vault *v) __attribute__((warn_unused_result));

#endif
