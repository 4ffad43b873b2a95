/*
 * naming.h: the rules for the names the vault keeps, in one place, since
 * names cross modules (a collection name is the root of a field path, a
 * vendor name a folder under vendors/, views/ and outbox/).
 *
 *   collection  1-64 characters of [a-z0-9_-], starting with a letter or
 *               digit: no dots, so that it can begin a field path such as
 *               profile.email
 *   record      1-200 bytes of UTF-8 without '/' or control characters,
 *               not starting with '.'
 *   vendor      as a collection, and not "all" (outbox/all broadcasts)
 *   scratch     1-255 bytes without '/', not "." or "..", not ending in
 *               ".json" (that would name a record)
 *
 * Each check returns 0, or -EINVAL with a message saying what is wrong.
 */
#ifndef VRM_NAMING_H
#define VRM_NAMING_H

#define VRM_COLLECTION_MAX 64
#define VRM_RECORD_NAME_MAX 200
#define VRM_VENDOR_MAX VRM_COLLECTION_MAX
#define VRM_SCRATCH_NAME_MAX 255

int vrm_collection_name_valid(const char *name) __attribute__((warn_unused_result));
int vrm_record_name_valid(const char *name) __attribute__((warn_unused_result));
int vrm_vendor_name_valid(const char *name) __attribute__((warn_unused_result));
int vrm_scratch_name_valid(const char *name) __attribute__((warn_unused_result));

#endif
