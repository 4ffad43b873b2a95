/*
 * receipt_int.h: what other libvrm modules call of receipt inside their
 * own transactions (vault mutex held).  Not installed.
 */
#ifndef VRM_RECEIPT_INT_H
#define VRM_RECEIPT_INT_H

#include "base/json.h"
#include "consent/receipt.h"
#include "store/vault_int.h"

/* With the vault locked and inside a transaction (vault_int.h): write
 * vendor's next receipt for `event` given `vendor_body` (vendor.json as a
 * cJSON object; NULL reads as {}: the display name is then the vendor name)
 * and `in_force` (a cJSON array of the grant objects in force after the
 * change; NULL reads as []).  `now_s`: the consent time, seconds since the
 * epoch (the row's `created` is the clock's time).  0 and *n (the receipt's
 * number, if n is not NULL), or -EINVAL (unknown event, invalid vendor
 * name, a grant without "fields" (array of strings) and "purpose" (string),
 * or an "until" that is not a string), or another negative errno. */
int vrm_receipt_append_locked(vrm_vault *v, const char *vendor, const cJSON *vendor_body,
                              const cJSON *in_force, const char *event, int64_t now_s,
                              int64_t *n)
    __attribute__((warn_unused_result));

#endif
