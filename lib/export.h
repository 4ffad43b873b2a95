/*
 * export.h: a whole vault as plain files, and back.
 *
 * vrm_export writes everything the person keeps into a directory, in clear,
 * for use elsewhere; vrm_import_all brings such a directory into a new
 * vault, losing nothing that matters.  The layout (format "vrmfs-export",
 * version 1):
 *
 *   README.txt             what this is, and a warning
 *   export.json            the manifest, written last: format, version,
 *                          created, vault (id, hex), schema, pairwise_root
 *                          (base64url: the key the pairwise identities
 *                          derive from, so that vendors keep knowing the
 *                          person), counts, and "indexes": each index file
 *                          below with its sha256 and rows
 *   records.jsonl          one line per record: collection, name, created,
 *                          updated, sha256 (of its file)
 *   records/COLL/NAME.json each record, pretty, as the mount shows it
 *   files.jsonl            one line per name in files/, parents first:
 *                          path ("/" is the root), type (dir, file,
 *                          symlink), mode (octal string), uid, gid, atime,
 *                          mtime, ctime; files: size, sha256; symlinks:
 *                          target; further names of a hard-linked file:
 *                          link (its first path); xattrs {name: base64}
 *   files/...              the document tree, with modes, times (and
 *                          owners, as root) applied
 *   tables/TABLE.jsonl     the other tables, one line per row, keyed by
 *                          column: collections, vendors, grants,
 *                          grant_docs, receipts, access_log, messages,
 *                          inbox, inbox_rejected, import_reports,
 *                          custom_queries.  Texts are kept byte for byte
 *                          (stored JSON stays a string), blobs are base64,
 *                          times are RFC 3339 UTC with nanoseconds.
 *   vendors/V/vendor.json, vendors/V/grants.json, receipts/V/N.jws,
 *   access/V.log, messages/V/pending|sent/ID.json, inbox/V/ID.json,
 *   analytics/custom/NAME.sql
 *                          readable copies of the same rows, for the person;
 *                          vrm_import_all reads the indexes and tables
 *
 * Times are RFC 3339 UTC with nine fraction digits; a time before 1970 is
 * a decimal string of nanoseconds.  Not kept: files' ctime (set to the time
 * of the import), the derived facts (rebuilt), cached analytics, tools'
 * scratch files, drafts.
 */
#ifndef VRM_EXPORT_H
#define VRM_EXPORT_H

#include <stdint.h>

#include "store/vault.h"

#define VRM_EXPORT_FORMAT "vrmfs-export"
#define VRM_EXPORT_VERSION 1

/* Write the open vault `v` into `dir`, made with mode 0700 (an existing
 * directory must be empty).  Files hold plaintext: mode 0600 unless files/
 * says otherwise.  `progress` (may be NULL) gets items done out of total.
 * 0; -EEXIST if `dir` is not empty; -ENOSPC; on failure everything written
 * is removed again. */
int vrm_export(vrm_vault *v, const char *dir, vrm_progress_fn progress, void *ctx)
    __attribute__((warn_unused_result));

/* Bring the export in `dir` into `v`, a vault just created and still empty.
 * Checks every index and file against the manifest's and the indexes'
 * sha256, every row's keys and types, and afterwards the receipts' and
 * access logs' chains.  0, or -EINVAL/-EBADMSG with a message naming the
 * file and line; `v` is then half-filled: discard it (vrm_vault_discard). */
int vrm_import_all(vrm_vault *v, const char *dir, vrm_progress_fn progress, void *ctx)
    __attribute__((warn_unused_result));

#endif
