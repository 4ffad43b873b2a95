/*
 * vrm.h: libvrm, a person's encrypted vault.  Include this for everything.
 */
#ifndef VRM_H
#define VRM_H

#include "accesslog.h"
#include "analytics.h"
#include "envelope.h"
#include "error.h"
#include "export.h"
#include "facts.h"
#include "files.h"
#include "grants.h"
#include "identity.h"
#include "import.h"
#include "inbox.h"
#include "json.h"
#include "outbox.h"
#include "receipt.h"
#include "records.h"
#include "scratch.h"
#include "transport.h"
#include "vault.h"
#include "vendors.h"
#include "view.h"

#endif
