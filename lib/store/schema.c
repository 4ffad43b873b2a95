/*
 * schema.c: the database schema as a list of migration steps.
 *
 * PRAGMA user_version holds how many steps a vault has had.  Opening a vault
 * applies the missing ones in order, each in its own transaction with the
 * user_version bump, so a crash leaves the vault at one step or the next.
 * Steps are append-only: a released step is never edited.
 */
#include "base/error.h"
#include "store/schema.h"

#include <errno.h>
#include <stdio.h>

static const char *const steps[] = {
    /* 1: collections, records and scratch files */
    "CREATE TABLE collections ("
    "  name    TEXT PRIMARY KEY,"            /* [a-z0-9_-], see records.c */
    "  created INTEGER NOT NULL"             /* ns since the epoch */
    ") WITHOUT ROWID;"
    "CREATE TABLE records ("
    "  id         INTEGER PRIMARY KEY,"
    "  collection TEXT NOT NULL REFERENCES collections(name),"
    "  name       TEXT NOT NULL,"
    "  body       TEXT NOT NULL,"            /* compact JSON object */
    "  size       INTEGER NOT NULL,"         /* bytes of the pretty form */
    "  created    INTEGER NOT NULL,"         /* ns since the epoch */
    "  updated    INTEGER NOT NULL,"
    "  UNIQUE (collection, name)"
    ");"
    "CREATE TABLE scratch ("                  /* tools' temporary files */
    "  collection TEXT NOT NULL REFERENCES collections(name),"
    "  name       TEXT NOT NULL,"
    "  data       BLOB NOT NULL,"
    "  updated    INTEGER NOT NULL,"
    "  PRIMARY KEY (collection, name)"
    ") WITHOUT ROWID;",

    /* 2: the file tree of files/ (see files.h) */
    "CREATE TABLE inodes ("
    "  ino    INTEGER PRIMARY KEY AUTOINCREMENT,"  /* never reused */
    "  mode   INTEGER NOT NULL,"            /* st_mode: type and permissions */
    "  nlink  INTEGER NOT NULL,"            /* names (dirs: 2 + subdirs); 0: removed, open */
    "  uid    INTEGER NOT NULL,"
    "  gid    INTEGER NOT NULL,"
    "  size   INTEGER NOT NULL,"            /* bytes; a link's target length */
    "  atime  INTEGER NOT NULL,"            /* ns since the epoch */
    "  mtime  INTEGER NOT NULL,"
    "  ctime  INTEGER NOT NULL,"
    "  target TEXT"                         /* a symbolic link's target, else NULL */
    ");"
    "CREATE INDEX inodes_orphans ON inodes(ino) WHERE nlink = 0;"
    "CREATE TABLE dentries ("
    "  parent INTEGER NOT NULL REFERENCES inodes(ino),"
    "  name   TEXT NOT NULL,"               /* 1-255 bytes, no '/', not . or .. */
    "  ino    INTEGER NOT NULL REFERENCES inodes(ino),"
    "  PRIMARY KEY (parent, name)"
    ") WITHOUT ROWID;"
    "CREATE INDEX dentries_ino ON dentries(ino);"
    "CREATE TABLE chunks ("
    "  id   INTEGER PRIMARY KEY,"           /* ino << 28 | chunk index */
    "  data BLOB NOT NULL"                  /* 1-65536 bytes from the chunk's start */
    ");"
    "CREATE TABLE xattrs ("
    "  ino   INTEGER NOT NULL REFERENCES inodes(ino),"
    "  name  TEXT NOT NULL,"                /* user.* */
    "  value BLOB NOT NULL,"
    "  PRIMARY KEY (ino, name)"
    ") WITHOUT ROWID;"
    "INSERT INTO inodes(ino, mode, nlink, uid, gid, size, atime, mtime, ctime) "
    "  SELECT 1, 16832, 2, 0, 0, 0, t, t, t"  /* the root, 040700 */
    "  FROM (SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000000000 AS t);",

    /* 3: vendors, their grants, consent receipts and access logs (see
     * vendors.h, grants.h, receipt.h, accesslog.h).  Receipts and access
     * logs outlive their vendor: they are the person's record of it. */
    "CREATE TABLE vendors ("
    "  name    TEXT PRIMARY KEY,"            /* the folder name, as collections */
    "  body    TEXT NOT NULL,"               /* vendor.json, compact */
    "  created INTEGER NOT NULL,"            /* ns since the epoch */
    "  updated INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE grants ("
    "  vendor TEXT NOT NULL REFERENCES vendors(name),"
    "  idx    INTEGER NOT NULL,"             /* position in grants.json */
    "  body   TEXT NOT NULL,"                /* the grant object, compact */
    "  reads  INTEGER NOT NULL DEFAULT 0,"   /* opens counted against max_reads */
    "  ended  INTEGER,"                      /* ns: expiry or lapse receipted */
    "  PRIMARY KEY (vendor, idx)"
    ") WITHOUT ROWID;"
    "CREATE TABLE grant_docs ("
    "  vendor  TEXT PRIMARY KEY REFERENCES vendors(name),"
    "  updated INTEGER NOT NULL"             /* ns: last write of grants.json */
    ") WITHOUT ROWID;"
    "CREATE TABLE receipts ("
    "  vendor  TEXT NOT NULL,"
    "  n       INTEGER NOT NULL,"            /* 1, 2, ... per vendor */
    "  jws     TEXT NOT NULL,"               /* compact JWS, EdDSA */
    "  payload TEXT NOT NULL,"               /* its payload, compact JSON */
    "  created INTEGER NOT NULL,"            /* ns since the epoch */
    "  PRIMARY KEY (vendor, n)"
    ") WITHOUT ROWID;"
    "CREATE TABLE access_log ("
    "  vendor TEXT NOT NULL,"
    "  n      INTEGER NOT NULL,"             /* 1, 2, ... per vendor */
    "  line   TEXT NOT NULL,"                /* one line, no newline, hash last */
    "  PRIMARY KEY (vendor, n)"
    ") WITHOUT ROWID;",

    /* 4: messages out and in (see outbox.h, inbox.h) */
    "CREATE TABLE messages ("
    "  id        TEXT PRIMARY KEY,"          /* 22 chars, unpadded base64url */
    "  vendor    TEXT NOT NULL,"
    "  kind      TEXT NOT NULL,"             /* disclose, update, intent, note */
    "  payload   TEXT NOT NULL,"             /* the signed payload, compact */
    "  wire      BLOB NOT NULL,"             /* signed and sealed: what is sent */
    "  created   INTEGER NOT NULL,"          /* ns since the epoch */
    "  state     INTEGER NOT NULL,"          /* 0 pending, 1 sent */
    "  attempts  INTEGER NOT NULL DEFAULT 0,"
    "  next_try  INTEGER NOT NULL,"          /* ns: not before */
    "  last_error TEXT,"
    "  sent      INTEGER,"                   /* ns: delivered */
    "  transport TEXT,"                      /* dir, http, https, exec */
    "  endpoint  TEXT NOT NULL"              /* where it goes, fixed when queued */
    ");"
    "CREATE INDEX messages_due ON messages(next_try) WHERE state = 0;"
    "CREATE INDEX messages_vendor ON messages(vendor, state);"
    "CREATE TABLE inbox ("
    "  vendor   TEXT NOT NULL,"
    "  id       TEXT NOT NULL,"              /* the reply's id */
    "  payload  TEXT NOT NULL,"              /* verified payload, compact */
    "  received INTEGER NOT NULL,"           /* ns since the epoch */
    "  PRIMARY KEY (vendor, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE inbox_rejected ("
    "  name     TEXT PRIMARY KEY,"           /* VENDOR.FILE, as shown */
    "  vendor   TEXT NOT NULL,"
    "  file     TEXT NOT NULL,"              /* its name in the spool */
    "  reason   TEXT NOT NULL,"
    "  size     INTEGER NOT NULL,"
    "  received INTEGER NOT NULL"
    ") WITHOUT ROWID;",

    /* 5: imports and analytics (see import.h, analytics.h).  facts holds,
     * for the records of the conventional collections, the fields the
     * analytics read, typed, kept in step with records by records.c. */
    "CREATE TABLE import_reports ("
    "  collection TEXT NOT NULL,"
    "  name       TEXT NOT NULL,"           /* NAME of NAME.report.json */
    "  body       TEXT NOT NULL,"           /* the report, compact JSON */
    "  created    INTEGER NOT NULL,"
    "  PRIMARY KEY (collection, name)"
    ") WITHOUT ROWID;"
    "CREATE TABLE facts ("
    "  collection TEXT NOT NULL,"
    "  name       TEXT NOT NULL,"
    "  day        TEXT,"                    /* YYYY-MM-DD from date or time */
    "  month      TEXT,"                    /* YYYY-MM */
    "  amount     REAL,"                    /* finance, purchases */
    "  currency   TEXT,"
    "  merchant   TEXT,"
    "  category   TEXT,"
    "  kcal       REAL,"                    /* diet */
    "  miles_earned REAL,"                  /* purchases */
    "  miles_used REAL,"
    "  program    TEXT,"
    "  kind       TEXT,"                    /* activity */
    "  duration   REAL,"                    /* activity: minutes */
    "  PRIMARY KEY (collection, name)"
    ") WITHOUT ROWID;"
    "CREATE INDEX facts_month ON facts(collection, month);"
    "CREATE TABLE custom_queries ("
    "  name    TEXT PRIMARY KEY,"             /* NAME of analytics/custom/NAME.sql */
    "  sql     TEXT NOT NULL,"
    "  updated INTEGER NOT NULL"
    ") WITHOUT ROWID;",

    /* 6: settings of the vault kept with its data.  "pairwise-root" (32
     * bytes), if present, is the key the pairwise identities derive from in
     * place of the master key's subkey: a vault brought back from an export
     * (export.h) keeps the identities its vendors know. */
    "CREATE TABLE settings ("
    "  key   TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL"
    ") WITHOUT ROWID;",
};

#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

int vrm_schema_version(void)
{
    return NSTEPS;
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0 : vrm_error_from_db(db, "database");
}

static int user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        int err = vrm_error_from_db(db, "database");

        sqlite3_finalize(st);
        return err;
    }
    sqlite3_finalize(st);
    return 0;
}

int vrm_schema_migrate(sqlite3 *db)
{
    char bump[64];
    int have = 0, rc, i;

    rc = user_version(db, &have);
    if (rc != 0)
        return rc;
    if (have > NSTEPS)
        return vrm_error(EPROTONOSUPPORT, "the vault's schema (version %d) is "
                         "newer than this vrmfs knows (%d); upgrade vrmfs",
                         have, NSTEPS);
    for (i = have; i < NSTEPS; i++) {
        rc = exec(db, "BEGIN IMMEDIATE");
        if (rc != 0)
            return rc;
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", i + 1);
        rc = exec(db, steps[i]);
        if (rc == 0)
            rc = exec(db, bump);
        if (rc == 0)
            rc = exec(db, "COMMIT");
        if (rc != 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return 0;
}
