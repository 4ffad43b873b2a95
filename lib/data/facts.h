/*
 * facts.h: the typed fields the analytics read, kept beside the records.
 *
 * For a record of a conventional collection, the table `facts` holds:
 *
 *   finance     day, month (from "date"), amount, currency, merchant, category
 *   diet        day, month (from "date"), kcal
 *   purchases   day, month (from "date"), merchant, amount, miles_earned,
 *               miles_used, program
 *   activity    day, month (from "time"), kind, duration (from
 *               "duration_min")
 *
 * A field that is missing or of the wrong type is NULL (a string that is a
 * number, as CSV imports give, counts as the number); "date" or "time" must
 * begin with YYYY-MM-DD for day and month.  records.c calls
 * vrm_facts_record_changed_locked in the transaction of every change, so
 * facts and records never disagree; other collections have no facts.
 */
#ifndef VRM_FACTS_H
#define VRM_FACTS_H

#include "store/vault.h"

/* 1 if `coll` is a conventional collection with facts. */
int vrm_facts_collection(const char *coll) __attribute__((warn_unused_result));

/* A number that changes whenever the records of `coll` change in the open
 * vault (cached results made under another are stale).  Thread-safe. */
uint64_t vrm_facts_generation(const vrm_vault *v, const char *coll);

#endif
