/*
 * import.h: turning a CSV or JSON-lines file into records of a collection.
 *
 * CSV (RFC 4180): a header row names the fields; fields may be quoted with
 * '"' (a doubled '"' inside is one), quoted fields may hold commas and line
 * breaks; lines end in LF or CRLF; a UTF-8 byte order mark at the start is
 * skipped.  Each later row becomes a record: a cell that is a JSON number
 * (-?digits[.digits][e[+-]digits], no leading zeros but "0") becomes a
 * number, "true"/"false" stay strings, an empty cell leaves the field out,
 * anything else is a string (ISO dates stay strings).  A quoted cell is
 * typed the same way.  A number a double would not hold as written (more
 * than 15 significant digits, or out of range: account or card numbers)
 * stays a string.  A row with fewer cells than the header leaves the rest
 * out; one with more, not valid UTF-8, or with broken quoting (text after
 * a closing quote, a quote never closed) is refused, its line given as the
 * line where the row starts (a quoted cell may span lines).  Blank lines
 * and rows of empty cells only are skipped and not counted.  A '"' inside
 * an unquoted cell is taken as it is.
 *
 * JSON lines: one JSON object per line (blank lines skipped); a line that
 * is not an object (or not one json.h accepts: duplicate keys, bad UTF-8)
 * is refused.
 *
 * Which one: a first line (after the BOM and any blank lines) that parses
 * as a JSON object means JSON lines; else CSV if the header has at least
 * one field and no empty or duplicate names, and is UTF-8 text without
 * control characters.  A file that is neither (binary: a NUL byte in its
 * first 8 KiB; empty; a CSV header with empty names) is refused whole:
 * -EINVAL, nothing changed.
 *
 * Record names are stable, so importing the same file twice adds nothing:
 * the value of a column (or key) named "id", when present, made a valid
 * record name (characters outside [A-Za-z0-9._-] become '_', and so does
 * a leading '.'; an id of JSON lines may be a string or a number; an id
 * making more than 200 characters, or empty, refuses the row); else "r"
 * and the first 16 hex digits of the BLAKE2b-256 (crypto_generichash) of
 * the record's compact JSON.  A row whose name is taken by an identical
 * record is counted as unchanged; by a different one, it replaces it (the
 * id says it is the same record).
 *
 * Everything goes in one transaction: refused lines do not stop the rest;
 * the report says what happened.  The report (kept in the vault, shown as
 * import/<collection>/NAME.report.json) is
 *   {"file": NAME, "format": "csv" | "jsonl", "rows": N, "imported": N,
 *    "unchanged": N, "refused": [{"line": L, "reason": TEXT}, ...],
 *    "collection": COLL, "finished": RFC 3339}
 * where imported counts records created or replaced, and rows =
 * imported + unchanged + the refused lines.  "refused" lists the first
 * 1000 refused lines only (a file of garbage would make a huge report);
 * rows - imported - unchanged counts them all.
 *
 * The vault's mutex is held for the whole import (one transaction on the
 * vault's one connection): other writers wait, files/ reads do not.
 */
#ifndef VRM_IMPORT_H
#define VRM_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "data/records.h"

/* ---- the names of import/<collection>/ -----------------------------------------
 * A file copied in as FILE is imported under NAME, FILE less its last
 * extension ("bank.csv" is "bank", "a.b.csv" "a.b"; a name whose last dot
 * is its first character, ".csv", stays whole), and its report is then
 * shown as NAME.report.json.  A report's name and a hidden name (an editor's or a
 * tool's temporary file) are not taken in: no file is imported under
 * them. */

#define VRM_IMPORT_REPORT_SUFFIX ".report.json"

/* 0 if a new file `file` in import/<collection>/ is one to import, or
 * -EACCES with a message if it is a report's name or hidden. */
int vrm_import_file_valid(const char *file) __attribute__((warn_unused_result));

/* The NAME a file `file` is imported under into out[0..size): 0, or
 * -ENAMETOOLONG if it does not fit.  (vrm_import judges it.) */
int vrm_import_file_name(const char *file, char *out, size_t size)
    __attribute__((warn_unused_result));

/* The NAME of a report's file name "NAME.report.json" (NAME not empty)
 * into out[0..size): 0, or -ENOENT if `file` is no such name or NAME does
 * not fit. */
int vrm_import_report_name(const char *file, char *out, size_t size)
    __attribute__((warn_unused_result));

/* The file name "NAME.report.json" of report `name` into out[0..size): 0,
 * or -ENAMETOOLONG if it does not fit. */
int vrm_import_report_file(const char *name, char *out, size_t size)
    __attribute__((warn_unused_result));

/* ---- importing ------------------------------------------------------------------ */

/* Progress: bytes of the file handled so far, of `total`; called every 1%
 * of the file or 64 KiB, whichever is more, and once with done == total at
 * the end of a successful import.  Called with the vault's mutex held: it
 * must not call libvrm on the same vault. */
typedef void (*vrm_import_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Import data[0..len) named `name` (a file name: the report's NAME, which
 * must be a valid record name) into `coll` (made if missing).  0 and
 * *report (pretty JSON, free()) with *rlen; -EINVAL (not CSV or JSON
 * lines, or an invalid collection or report name: nothing changed, no
 * report); -ENOSPC and the like from the vault (everything rolled back).
 * `progress` may be NULL. */
int vrm_import(vrm_vault *v, const char *coll, const char *name, const char *data, size_t len,
               vrm_import_progress_fn progress, void *ctx, char **report, size_t *rlen)
    __attribute__((warn_unused_result));

/* The reports of `coll`: names (NAME, without .report.json), oldest first
 * (a report replaced by a new import of the same name counts as new).
 * None is not an error, even without such a collection.  As with
 * vrm_record_list, `fn` runs with the mutex held. */
int vrm_import_reports(vrm_vault *v, const char *coll, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* A report, pretty.  -ENOENT. */
int vrm_import_report_get(vrm_vault *v, const char *coll, const char *name, char **out,
                          size_t *len, int64_t *created_ns) __attribute__((warn_unused_result));

/* Forget a report (rm in the mount).  -ENOENT. */
int vrm_import_report_delete(vrm_vault *v, const char *coll, const char *name)
    __attribute__((warn_unused_result));

#endif
