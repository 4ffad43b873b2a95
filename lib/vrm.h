/*
 * vrm.h: libvrm, a person's encrypted vault.  Include this for everything.
 */
#ifndef VRM_H
#define VRM_H

#include "error.h"
#include "files.h"
#include "json.h"
#include "records.h"
#include "scratch.h"
#include "vault.h"

#endif
