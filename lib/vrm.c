/*
 * vrm.c: the front door (see vrm.h): opening a vault with its layers wired.
 */
#include "vrm.h"
#include "store/vault_int.h"
#include "msg/outbox_int.h"

static int record_changed(void *ctx, vrm_vault *v, const char *coll, const char *name,
                          const char *old_body, const char *new_body)
{
    (void)ctx;
    return vrm_outbox_record_changed_locked(v, coll, name, old_body, new_body);
}

int vrm_vault_open(vrm_vault **out, const char *dir, const char *pass, size_t passlen,
                   unsigned flags)
{
    vrm_vault *v;
    int rc = vrm_vault_open_raw(&v, dir, pass, passlen, flags);

    *out = NULL;
    if (rc != 0)
        return rc;
    v->record_hook = record_changed;
    v->record_hook_ctx = NULL;
    if (!(flags & VRM_OPEN_READONLY)) {
        int purged = vrm_files_purge_orphans(v);

        if (purged < 0) {
            int closed = vrm_vault_close(v);

            (void)closed;   /* the purge's error is the one to report */
            return purged;
        }
    }
    *out = v;
    return 0;
}
