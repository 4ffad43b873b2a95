/*
 * vrm.h: libvrm, a person's encrypted vault.  Include this for everything.
 */
#ifndef VRM_H
#define VRM_H

#include "accesslog.h"
#include "error.h"
#include "files.h"
#include "grants.h"
#include "identity.h"
#include "json.h"
#include "receipt.h"
#include "records.h"
#include "scratch.h"
#include "vault.h"
#include "vendors.h"
#include "view.h"

#endif
