/*
 * fieldpath.h: field paths, the language of grants, and projection of a
 * record onto a set of them.
 *
 * A field path names data in the vault:
 *
 *   COLL.*                    every field of every record of collection COLL
 *   COLL.KEY[.KEY...]         that field (and everything below it)
 *   COLL[KEY=VALUE].PATH      the same, for records whose field KEY (a dotted
 *                             path from the record's top, e.g. address.city)
 *                             equals VALUE: a string equal byte for byte, or a
 *                             number, true, false or null that prints as
 *                             VALUE (jq's compact form: 42, 4.5, true)
 *   analytics.TOPIC.NAME      an analytics result (root "analytics"; whether
 *                             TOPIC.NAME exists is the caller's to check)
 *
 * COLL follows vrm_collection_name_valid() ([a-z0-9_-], 1-64 bytes).  A KEY
 * is 1-128 bytes of UTF-8 without '.', '[', ']', '=', '*', '"', '\\' or
 * control characters (C0, DEL and C1, U+0080-U+009F).  A VALUE is 0-256
 * bytes of UTF-8 without ']' or control characters (it may hold '=', '.',
 * '[' or '*'; the KEY ends at the first '=', the VALUE at the first ']').
 * `*` may appear only as the whole last component.  A whole path is at most
 * 1024 bytes.  Anything else is -EINVAL with a message that quotes the path
 * and says what is wrong at which byte (counted from 1).  Further:
 *  - a bare collection (`profile`) names nothing: -EINVAL, name a field or *;
 *  - there is at most one filter, and only right after the collection;
 *  - an analytics path has at least one KEY after "analytics.", no filter
 *    and no `*` anywhere (analytics are granted one by one; `analytics.*` is
 *    -EINVAL).  So a collection named "analytics" cannot be granted by field
 *    paths: "analytics.x" always means an analytics result;
 *  - KEYs and VALUEs are compared byte for byte: no case folding or Unicode
 *    normalization.
 *
 * Projection (vrm_fieldpath_project) keeps of a record exactly the fields
 * that at least one of the given paths grants:
 *  - a path grants its named field whole (an object or array below it comes
 *    along entire, as does a null, {} or []); COLL.* grants the whole
 *    record, even an empty one ({}); P.* grants exactly what P does (the
 *    field whole, whatever its type);
 *  - a path whose KEYs step through an array applies to each element of it
 *    that is an object; elements that yield nothing are dropped, and an
 *    array or object that yields nothing is left out.  Other elements
 *    (scalars, nested arrays) are never stepped into, so a path with KEYs
 *    left drops them; a path that ends at the array grants it whole;
 *  - a path of another collection, or whose filter the record does not pass,
 *    grants nothing; a path naming a field the record does not have grants
 *    nothing (it is not an error); an analytics path grants no record;
 *  - keys keep the record's order, elements theirs.
 *
 * A filter's KEY is followed through objects only (not arrays); a field that
 * is an object or array, or is missing, never passes.  A number passes when
 * cJSON's compact text of it is VALUE: 42 (also for 42.0 in the record),
 * 4.5, 1000 (for 1e3), -0.25; so [total=42.0] passes no record.  The
 * field's type is not part of the test: [code=42] passes "42" and 42 alike.
 *
 * Parsed paths are immutable, and nothing here has global state: any number
 * of threads may parse, test and project at once, sharing paths.
 */
#ifndef VRM_FIELDPATH_H
#define VRM_FIELDPATH_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define VRM_FIELDPATH_MAX 1024

typedef struct vrm_fieldpath vrm_fieldpath;   /* opaque, immutable once parsed */

/* Parse `text` (NUL-terminated).  0 and *out (free with vrm_fieldpath_free),
 * or -EINVAL with a message, or -ENOMEM. */
int vrm_fieldpath_parse(const char *text, vrm_fieldpath **out)
    __attribute__((warn_unused_result));

/* Free a path; NULL is fine. */
void vrm_fieldpath_free(vrm_fieldpath *p);

/* The text it was parsed from. */
const char *vrm_fieldpath_text(const vrm_fieldpath *p);

/* Its root: the collection, or "analytics" for an analytics path. */
const char *vrm_fieldpath_root(const vrm_fieldpath *p);

/* 1 for an analytics path (root "analytics"), else 0.  For one, the rest
 * after "analytics." (e.g. "spending.by-category") is vrm_fieldpath_rest().
 * For a collection path, rest is the field part after "COLL." or
 * "COLL[KEY=VALUE]." (e.g. "address.city", "*"). */
int vrm_fieldpath_is_analytics(const vrm_fieldpath *p) __attribute__((warn_unused_result));
const char *vrm_fieldpath_rest(const vrm_fieldpath *p);

/* 1 if `p` is of collection `coll` and `record` (a JSON object) passes its
 * filter (always, without one), else 0 (also for an analytics path, a NULL
 * coll, or a record that is not an object while there is a filter). */
int vrm_fieldpath_applies(const vrm_fieldpath *p, const char *coll, const cJSON *record)
    __attribute__((warn_unused_result));

/* Project `record` (a JSON object of collection `coll`) onto paths[0..n)
 * (NULL entries are skipped).  0 and *out: a new object holding what the
 * paths grant (free with cJSON_Delete), or NULL when they grant nothing of
 * this record (or it is not an object).  -ENOMEM, and *out NULL. */
int vrm_fieldpath_project(const vrm_fieldpath *const *paths, size_t n, const char *coll,
                          const cJSON *record, cJSON **out)
    __attribute__((warn_unused_result));

#endif
