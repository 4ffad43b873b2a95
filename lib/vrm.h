/*
 * vrm.h: libvrm, a person's encrypted vault.  Include this for everything.
 *
 * libvrm is built in layers (lib/meson.build lists them), each using only
 * those below it:
 *
 *   base/     errors, JSON, base64url, clock, file I/O, names and their rules
 *   store/    the encrypted database: key file, vault, pages, schema
 *   data/     the person's data: records, scratch files, files/, facts,
 *             analytics, imports
 *   consent/  vendors, pairwise identities, JWS, field paths, grants,
 *             receipts, access logs, views
 *   msg/      messages: envelopes, transports, outbox, inbox
 *
 * and this front door above them, which opens a vault and wires the layers
 * together: where a lower layer must tell a higher one of something (a
 * record changed, so an update to a vendor may be due), it calls a hook
 * registered here at open.
 *
 *     vrm_vault *v;
 *     rc = vrm_vault_open(&v, dir, pass, passlen, 0);  ...  vrm_vault_close(v);
 */
#ifndef VRM_H
#define VRM_H

#include "base/error.h"
#include "base/fileio.h"
#include "base/strbuf.h"
#include "store/vault.h"
#include "store/maint.h"
#include "data/records.h"
#include "data/scratch.h"
#include "data/files.h"
#include "data/facts.h"
#include "data/analytics.h"
#include "data/import.h"
#include "consent/vendors.h"
#include "consent/identity.h"
#include "consent/grants.h"
#include "consent/receipt.h"
#include "consent/accesslog.h"
#include "consent/view.h"
#include "msg/envelope.h"
#include "msg/transport.h"
#include "msg/outbox.h"
#include "msg/inbox.h"
#include "export.h"

/* Open the vault in `dir` with its passphrase, with every layer wired: a
 * change of a record queues the updates due to vendors (outbox.h), and
 * (unless VRM_OPEN_READONLY) files of files/ that were unlinked while open
 * when the last process died are deleted now (files.h).  Returns 0 and
 * sets *out, or -ENOENT (no vault there), -EKEYREJECTED (wrong passphrase),
 * -EPROTONOSUPPORT (made by a newer vrmfs), -EBADMSG (vault.json or a page
 * fails authentication), -EBUSY (locked by another process; with
 * VRM_OPEN_WAIT only if it left a note, see vrm_vault_note, or held the lock
 * for 15 s), ... */
int vrm_vault_open(vrm_vault **out, const char *dir, const char *pass,
                   size_t passlen, unsigned flags)
    __attribute__((warn_unused_result));

#endif
