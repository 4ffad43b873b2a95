/*
 * fuzz_grants.c: vendors/VENDOR/grants.json written through the mount
 * (vrm_grants_put), in a vault with the collections profile and purchases
 * and the vendor acme.
 *
 * Checks: 0 or -EINVAL with a message (and no receipt); accepted grants
 * read back (vrm_grants_get) as the same value, and writing that text again
 * changes nothing (no receipt).  Every 1000 accepted writes the vault is
 * made anew, so that its receipts do not pile up.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RESET_EVERY 1000

static vrm_vault *v;
static unsigned writes;

/* A new vault, in place of the old one if any. */
static void make_vault(void)
{
    fuzz_vault_renew(&v, "vault");
    if (vrm_collection_create(v, "profile") != 0 || vrm_collection_create(v, "purchases") != 0 ||
        vrm_vendor_create(v, "acme") != 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_fixed_random();
    make_vault();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *in = NULL, *back = NULL;
    char *json = NULL;
    size_t len = 0;
    int64_t receipt = -1;
    int rc;

    rc = vrm_grants_put(v, "acme", (const char *)data, size, &receipt);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc != 0) {
        FUZZ_CHECK(vrm_error_message()[0] != '\0');
        FUZZ_CHECK(receipt == 0);
        return 0;
    }
    fuzz_accept();
    FUZZ_CHECK(vrm_json_parse_object((const char *)data, size, &in) == 0);
    FUZZ_CHECK(vrm_grants_get(v, "acme", &json, &len, NULL) == 0);
    FUZZ_CHECK(vrm_json_parse_object(json, len, &back) == 0);
    FUZZ_CHECK(cJSON_Compare(in, back, 1));
    FUZZ_CHECK(vrm_grants_put(v, "acme", json, len, &receipt) == 0);
    FUZZ_CHECK(receipt == 0);
    free(json);
    cJSON_Delete(back);
    cJSON_Delete(in);
    if (++writes % RESET_EVERY == 0)
        make_vault();
    return 0;
}
