/*
 * vendors.h: the vendors a person deals with.
 *
 * A vendor is a name (the folder under vendors/ and views/, the same rule as
 * collection names: [a-z0-9_-], 1-64 bytes; "all" is reserved for the
 * broadcast outbox) and vendor.json, a JSON object with exactly these keys:
 *
 *   name             display name, a non-empty string (required)
 *   keys             {"ed25519": B64URL, "x25519": B64URL}: the vendor's
 *                    public keys, 32 bytes each, unpadded base64url; either
 *                    may be left out until known
 *   endpoint         where messages go: "dir:PATH" (absolute), "http://...",
 *                    "https://..." or "exec:COMMAND"
 *   terms            the person's terms for it: free text or a terms id
 *   note             the person's trust note
 *   accepts_intents  true or false
 *
 * Anything else (another key, a wrong type, a null) is refused, naming the
 * key.  A new vendor's vendor.json is {"name": NAME}.
 */
#ifndef VRM_VENDORS_H
#define VRM_VENDORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/names.h"
#include "base/naming.h"
#include "store/vault.h"

/* Check a vendor.json text without storing it: 0 or -EINVAL with a message
 * naming what is wrong. */
int vrm_vendor_json_check(const char *json, size_t len) __attribute__((warn_unused_result));

/* Register `name` with vendor.json {"name": NAME}.  -EEXIST, -EINVAL. */
int vrm_vendor_create(vrm_vault *v, const char *name) __attribute__((warn_unused_result));

/* 1 if `name` is registered, 0 if not, or a negative errno. */
int vrm_vendor_exists(vrm_vault *v, const char *name) __attribute__((warn_unused_result));

/* Call fn for each vendor name, in order; stops at a non-zero return. */
int vrm_vendor_list(vrm_vault *v, vrm_name_fn fn, void *ctx) __attribute__((warn_unused_result));

/* vendor.json pretty with a final newline: *json (free()), *len, and its
 * times (ns) if the pointers are not NULL.  -ENOENT. */
int vrm_vendor_get(vrm_vault *v, const char *name, char **json, size_t *len,
                   int64_t *created_ns, int64_t *updated_ns) __attribute__((warn_unused_result));

/* Replace vendor.json of a registered vendor after vrm_vendor_json_check.
 * -ENOENT, -EINVAL (nothing changed). */
int vrm_vendor_put(vrm_vault *v, const char *name, const char *json, size_t len)
    __attribute__((warn_unused_result));

/* Revoke every grant of `name` (one "revoke" receipt if any was in force),
 * then remove it.  Its receipts and access log stay in the vault.
 * -ENOENT. */
int vrm_vendor_delete(vrm_vault *v, const char *name) __attribute__((warn_unused_result));

#endif
