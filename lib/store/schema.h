/*
 * schema.h: the tables of vault.db, and the migrations that bring an older
 * vault to them, one step per PRAGMA user_version.  Not installed.
 */
#ifndef VRM_SCHEMA_H
#define VRM_SCHEMA_H

#include <sqlite3.h>

/* Bring the database to the current schema, one transaction per step: 0,
 * -EPROTONOSUPPORT if it is newer than this build knows, or another
 * negative errno with a message. */
int vrm_schema_migrate(sqlite3 *db) __attribute__((warn_unused_result));

/* The newest schema this build knows. */
int vrm_schema_version(void) __attribute__((warn_unused_result));

#endif
