/*
 * vrm.h: libvrm, a person's encrypted vault.  Include this for everything.
 */
#ifndef VRM_H
#define VRM_H

#include "base/error.h"
#include "base/json.h"
#include "store/vault.h"
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

#endif
