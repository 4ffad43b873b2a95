/*
 * view.c: a vendor's view of the records, from the grants in force (see
 * view.h).
 */
#include "consent/view.h"
#include "data/facts.h"
#include "base/clock.h"
#include "consent/accesslog.h"
#include "data/analytics.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "consent/fieldpath.h"
#include "consent/grants.h"
#include "consent/identity.h"
#include "base/json.h"
#include "base/names.h"
#include "consent/jws.h"
#include "data/records_int.h"
#include "store/vault_int.h"
#include "consent/vendors.h"
#include "consent/accesslog_int.h"
#include "consent/grants_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct vgrant {
    int64_t idx;                      /* the grant's index in grants.json */
    int64_t max_reads;                /* 0: no limit */
    size_t first, n;                  /* its paths: view->paths[first..first+n) */
    char **analytics;                 /* its analytics results ("spending.by-month") */
    size_t nanalytics;
} vgrant;

typedef struct vcoll {
    const char *name;                 /* a collection (a path's root) */
    vrm_fieldpath **paths;            /* the paths of it, in grant order */
    size_t n;
    int whole;                        /* one is COLL.*: every record whole */
} vcoll;

struct vrm_view {
    const vrm_vault *v;               /* made of, and never outliving, this vault */
    char vendor[VRM_VENDOR_MAX + 1];
    vgrant *grants;                   /* in force when the view was made */
    size_t ngrants;
    vrm_fieldpath **paths;            /* record paths of all of them */
    size_t npaths;
    vcoll *colls;                     /* the paths by collection, by name */
    size_t ncolls;
    char **analytics;                 /* the analytics results of all of them */
    size_t nanalytics;
    uint64_t gen;                     /* vrm_grants_generation(v) then */
    int64_t expires_ns;               /* the first until in force, or 0 */
    _Atomic int refs;                 /* vrm_view_ref / vrm_view_unref */
};

void vrm_view_unref(vrm_view *view)
{
    size_t i;

    if (view == NULL || --view->refs > 0)
        return;
    for (i = 0; i < view->npaths; i++)
        vrm_fieldpath_free(view->paths[i]);
    for (i = 0; i < view->ncolls; i++)
        free(view->colls[i].paths);
    for (i = 0; i < view->ngrants; i++) {
        size_t j;

        for (j = 0; j < view->grants[i].nanalytics; j++)
            free(view->grants[i].analytics[j]);
        free(view->grants[i].analytics);
    }
    free(view->analytics);   /* its strings are the grants' */
    free(view->colls);
    free(view->paths);
    free(view->grants);
    free(view);
}

vrm_view *vrm_view_ref(vrm_view *view)
{
    view->refs++;
    return view;
}

int vrm_view_current(const vrm_view *view)
{
    struct timespec ts;

    if (view->gen != vrm_grants_generation(view->v))
        return 0;
    if (view->expires_ns == 0)
        return 1;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec < view->expires_ns;
}

static int vcoll_cmp(const void *a, const void *b)
{
    return strcmp(((const vcoll *)a)->name, ((const vcoll *)b)->name);
}

/* The paths of `coll`, or NULL. */
static const vcoll *coll_paths(const vrm_view *view, const char *coll)
{
    vcoll key = {coll, NULL, 0, 0};

    if (view->ncolls == 0)
        return NULL;
    return bsearch(&key, view->colls, view->ncolls, sizeof key, vcoll_cmp);
}

/* Index the paths by collection. */
static int index_paths(vrm_view *view)
{
    size_t i, j;

    for (i = 0; i < view->npaths; i++) {
        const char *root = vrm_fieldpath_root(view->paths[i]);
        vcoll *c = NULL;
        vrm_fieldpath **ps;

        for (j = 0; j < view->ncolls && c == NULL; j++)
            if (strcmp(view->colls[j].name, root) == 0)
                c = &view->colls[j];
        if (c == NULL) {
            c = realloc(view->colls, (view->ncolls + 1) * sizeof *c);
            if (c == NULL)
                return -ENOMEM;
            view->colls = c;
            c = &view->colls[view->ncolls++];
            c->name = root;
            c->paths = NULL;
            c->n = 0;
            c->whole = 0;
        }
        {
            const char *text = vrm_fieldpath_text(view->paths[i]);
            size_t rl = strlen(root);

            if (strncmp(text, root, rl) == 0 && strcmp(text + rl, ".*") == 0)
                c->whole = 1;
        }
        ps = realloc(c->paths, (c->n + 1) * sizeof *ps);
        if (ps == NULL)
            return -ENOMEM;
        c->paths = ps;
        ps[c->n++] = view->paths[i];
    }
    if (view->ncolls > 1)
        qsort(view->colls, view->ncolls, sizeof *view->colls, vcoll_cmp);
    return 0;
}

/* Add the record paths of grant `g` (an in-force grant object with "_idx"). */
static int add_grant(vrm_view *view, const cJSON *g)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(g, "fields"), *f;
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(g, "max_reads");
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(g, "until");
    vgrant *vg;
    int64_t t;
    int rc;

    if (cJSON_IsString(until) && vrm_rfc3339_parse(until->valuestring, &t) == 0 &&
        (view->expires_ns == 0 || t < view->expires_ns))
        view->expires_ns = t;
    vg = realloc(view->grants, (view->ngrants + 1) * sizeof *vg);
    if (vg == NULL)
        return -ENOMEM;
    view->grants = vg;
    vg = &view->grants[view->ngrants++];
    vg->idx = (int64_t)cJSON_GetObjectItemCaseSensitive(g, "_idx")->valuedouble;
    vg->max_reads = cJSON_IsNumber(max) ? (int64_t)max->valuedouble : 0;
    vg->first = view->npaths;
    vg->n = 0;
    vg->analytics = NULL;
    vg->nanalytics = 0;
    cJSON_ArrayForEach(f, fields) {
        vrm_fieldpath *p, **ps;

        if (!cJSON_IsString(f))
            continue;
        rc = vrm_fieldpath_parse(f->valuestring, &p);
        if (rc != 0)
            return vrm_error(EUCLEAN, "vendor %s: a stored grant holds a bad field path",
                             view->vendor);
        if (vrm_fieldpath_is_analytics(p)) {
            char **ga = realloc(vg->analytics, (vg->nanalytics + 1) * sizeof *ga);
            char **va = realloc(view->analytics, (view->nanalytics + 1) * sizeof *va);

            if (ga != NULL)
                vg->analytics = ga;
            if (va != NULL)
                view->analytics = va;
            if (ga == NULL || va == NULL ||
                (ga[vg->nanalytics] = strdup(vrm_fieldpath_rest(p))) == NULL) {
                vrm_fieldpath_free(p);
                return -ENOMEM;
            }
            va[view->nanalytics++] = ga[vg->nanalytics++];
            vrm_fieldpath_free(p);
            continue;
        }
        ps = realloc(view->paths, (view->npaths + 1) * sizeof *ps);
        if (ps == NULL) {
            vrm_fieldpath_free(p);
            return -ENOMEM;
        }
        view->paths = ps;
        ps[view->npaths++] = p;
        vg->n++;
    }
    return 0;
}

static int vendor_known_locked(vrm_vault *v, const char *vendor)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT 1 FROM vendors WHERE name = ?1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? vrm_error(ENOENT, "no vendor %s", vendor)
                             : vrm_vault_sqlerr(v, "database");
}

static int view_make_locked(vrm_vault *v, const char *vendor, int64_t now, vrm_view **out)
{
    vrm_view *view;
    cJSON *force = NULL, *g;
    int rc;

    *out = NULL;
    if (strlen(vendor) > VRM_VENDOR_MAX)
        return vrm_error(ENOENT, "no vendor %.64s", vendor);
    rc = vendor_known_locked(v, vendor);
    if (rc != 0)
        return rc;
    view = calloc(1, sizeof *view);
    if (view == NULL)
        return -ENOMEM;
    view->refs = 1;
    view->v = v;
    view->gen = vrm_grants_generation(v);
    strcpy(view->vendor, vendor);
    rc = vrm_grants_in_force_locked(v, vendor, now, &force);
    cJSON_ArrayForEach(g, force) {
        if (rc != 0)
            break;
        rc = add_grant(view, g);
    }
    cJSON_Delete(force);
    if (rc == 0)
        rc = index_paths(view);
    if (rc != 0) {
        vrm_view_unref(view);
        return rc;
    }
    *out = view;
    return 0;
}

int vrm_view_make(vrm_vault *v, const char *vendor, vrm_view **out)
{
    int rc;

    vrm_vault_lock(v);
    rc = view_make_locked(v, vendor, vrm_now_ns(), out);
    vrm_vault_unlock(v);
    return rc;
}

/* ---- the cache of views ------------------------------------------------ */

#define VIEW_CACHE 8                  /* views kept, reused round robin */

/* The views of the vendors read lately, in the vault's VRM_SLOT_VIEWS. */
typedef struct view_cache {
    pthread_mutex_t mu;               /* guards the fields below; a leaf lock */
    struct {
        char vendor[VRM_VENDOR_MAX + 1];
        vrm_view *view;               /* a reference, or NULL */
    } e[VIEW_CACHE];
    unsigned next;                    /* the slot to reuse next */
} view_cache;

static void *view_cache_make(void)
{
    view_cache *c = calloc(1, sizeof *c);

    if (c != NULL && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

static void view_cache_release(void *p)
{
    view_cache *c = p;
    size_t i;

    for (i = 0; i < VIEW_CACHE; i++)
        vrm_view_unref(c->e[i].view);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int vrm_view_get(vrm_vault *v, const char *vendor, vrm_view **out)
{
    view_cache *c = vrm_vault_slot(v, VRM_SLOT_VIEWS, view_cache_make, view_cache_release);
    vrm_view *view = NULL;
    unsigned i;
    int rc;

    *out = NULL;
    if (c != NULL) {
        pthread_mutex_lock(&c->mu);
        for (i = 0; i < VIEW_CACHE && view == NULL; i++)
            if (c->e[i].view != NULL && strcmp(c->e[i].vendor, vendor) == 0 &&
                vrm_view_current(c->e[i].view))
                view = vrm_view_ref(c->e[i].view);
        pthread_mutex_unlock(&c->mu);
        if (view != NULL) {
            *out = view;
            return 0;
        }
    }
    rc = vrm_view_make(v, vendor, &view);
    if (rc != 0 || c == NULL) {
        *out = view;
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < VIEW_CACHE; i++)
        if (c->e[i].view != NULL && strcmp(c->e[i].vendor, vendor) == 0)
            break;
    if (i == VIEW_CACHE)
        i = c->next++ % VIEW_CACHE;
    vrm_view_unref(c->e[i].view);
    snprintf(c->e[i].vendor, sizeof c->e[i].vendor, "%s", vendor);
    c->e[i].view = vrm_view_ref(view);
    pthread_mutex_unlock(&c->mu);
    *out = view;
    return 0;
}

static int names_collection(const vrm_view *view, const char *coll)
{
    return coll_paths(view, coll) != NULL;
}

int vrm_view_has_collection(vrm_vault *v, const vrm_view *view, const char *coll)
{
    if (!names_collection(view, coll))
        return 0;
    return vrm_collection_exists(v, coll);
}

typedef struct coll_filter {
    const vrm_view *view;
    vrm_name_fn fn;
    void *ctx;
} coll_filter;

static int coll_filter_fn(void *ctx, const char *name)
{
    coll_filter *cf = ctx;

    return names_collection(cf->view, name) ? cf->fn(cf->ctx, name) : 0;
}

int vrm_view_collections(vrm_vault *v, const vrm_view *view, vrm_name_fn fn, void *ctx)
{
    coll_filter cf = {view, fn, ctx};

    if (view->npaths == 0)
        return 0;
    return vrm_collection_list(v, coll_filter_fn, &cf);
}

/* Project the stored body of a record onto paths[0..n): *out or NULL. */
static int project(const char *coll, const char *body, size_t blen,
                   vrm_fieldpath *const *paths, size_t n, cJSON **out)
{
    cJSON *rec = cJSON_ParseWithLength(body, blen);
    int rc;

    *out = NULL;
    if (rec == NULL)
        return vrm_error(EUCLEAN, "a record of %s holds unreadable JSON", coll);
    rc = vrm_fieldpath_project((const vrm_fieldpath *const *)paths, n, coll, rec, out);
    cJSON_Delete(rec);
    return rc;
}

int vrm_view_records(vrm_vault *v, const vrm_view *view, const char *coll, vrm_name_fn fn,
                     void *ctx)
{
    const vcoll *c = coll_paths(view, coll);
    sqlite3_stmt *st;
    int rc, step = SQLITE_DONE;

    if (c == NULL)
        return 0;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT name, body FROM records WHERE collection = ?1 "
                           "ORDER BY name", &st);
    if (rc != 0)
        goto out;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *p = NULL;

        if (c->whole)   /* every record whole: nothing to project */
            rc = fn(ctx, (const char *)sqlite3_column_text(st, 0));
        else
            rc = project(coll, (const char *)sqlite3_column_text(st, 1),
                         (size_t)sqlite3_column_bytes(st, 1), c->paths, c->n, &p);
        if (!c->whole && rc == 0 && p != NULL)
            rc = fn(ctx, (const char *)sqlite3_column_text(st, 0));   /* non-zero: stop */
        cJSON_Delete(p);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = vrm_vault_sqlerr(v, "database");
    sqlite3_reset(st);
out:
    vrm_vault_unlock(v);
    return rc;
}

/* The record's projection onto paths[0..n): *out (NULL: nothing granted),
 * and its times.  -ENOENT without the record. */
static int record_projection_locked(vrm_vault *v, const char *coll, const char *name,
                                    vrm_fieldpath *const *paths, size_t n, cJSON **out,
                                    vrm_record_info *info)
{
    sqlite3_stmt *st;
    int rc = vrm_find_named_locked(v, "SELECT body, created, updated FROM records "
                                      "WHERE collection = ?1 AND name = ?2",
                                   coll, name, "record", &st);

    *out = NULL;
    if (rc != 0)
        return rc;
    if (info != NULL) {
        info->created_ns = sqlite3_column_int64(st, 1);
        info->updated_ns = sqlite3_column_int64(st, 2);
    }
    rc = project(coll, (const char *)sqlite3_column_text(st, 0),
                 (size_t)sqlite3_column_bytes(st, 0), paths, n, out);
    sqlite3_reset(st);
    return rc;
}

/* Render a projection; -ENOENT for none. */
static int render(cJSON *p, const char *coll, const char *name, char **json, size_t *len,
                  vrm_record_info *info)
{
    int rc;

    if (p == NULL)
        return vrm_error(ENOENT, "record %s/%s is not in the view", coll, name);
    rc = vrm_json_pretty(p, json, len);
    if (rc == 0 && info != NULL)
        info->size = *len;
    return rc;
}

/* The view's text of coll/name through `c` (its collection's paths): a
 * record granted whole is its own pretty text, anything else is projected.
 * Locked. */
static int view_text_locked(vrm_vault *v, const vcoll *c, const char *coll, const char *name,
                            char **json, size_t *len, vrm_record_info *info)
{
    cJSON *p = NULL;
    int rc;

    *json = NULL;
    *len = 0;
    if (c == NULL)
        return vrm_error(ENOENT, "record %s/%s is not in the view", coll, name);
    if (c->whole)
        return vrm_record_get_locked(v, coll, name, json, len, info);
    rc = record_projection_locked(v, coll, name, c->paths, c->n, &p, info);
    if (rc == 0)
        rc = render(p, coll, name, json, len, info);
    cJSON_Delete(p);
    return rc;
}

int vrm_view_record(vrm_vault *v, const vrm_view *view, const char *coll, const char *name,
                    char **json, size_t *len, vrm_record_info *info)
{
    int rc;

    vrm_vault_lock(v);
    rc = view_text_locked(v, coll_paths(view, coll), coll, name, json, len, info);
    vrm_vault_unlock(v);
    return rc;
}

int vrm_view_stat(vrm_vault *v, const vrm_view *view, const char *coll, const char *name,
                  vrm_record_info *info)
{
    const vcoll *c = coll_paths(view, coll);
    char *text = NULL;
    size_t len;
    int rc;

    if (c != NULL && c->whole)
        return vrm_record_stat(v, coll, name, info);
    rc = vrm_view_record(v, view, coll, name, &text, &len, info);
    free(text);
    return rc;
}

/* Count the open of coll/name against each limited grant that contributes
 * to it.  Locked, in a transaction. */
static int count_reads(vrm_vault *v, const vrm_view *view, const char *coll, const char *name,
                       int64_t now, int *lapsed)
{
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < view->ngrants; i++) {
        const vgrant *g = &view->grants[i];
        cJSON *p = NULL;
        int l = 0;

        if (g->max_reads == 0 || g->n == 0)
            continue;
        rc = record_projection_locked(v, coll, name, view->paths + g->first, g->n, &p, NULL);
        /* (projection keeps only the paths of `coll` itself) */
        if (rc == 0 && p != NULL)
            rc = vrm_grants_count_read_locked(v, view->vendor, g->idx, now, &l);
        cJSON_Delete(p);
        *lapsed |= l;
    }
    return rc;
}

int vrm_view_open_file(vrm_vault *v, const vrm_view *cached, const char *vendor,
                       const char *coll, const char *name, pid_t pid, uid_t uid,
                       const char *comm, char **json, size_t *len, vrm_record_info *info,
                       int *lapsed)
{
    vrm_view *view = NULL;
    const vrm_view *use;
    const vcoll *c;
    char path[16 + VRM_COLLECTION_MAX + VRM_RECORD_NAME_MAX];
    int64_t now = vrm_now_ns();
    int rc, n;

    *json = NULL;
    *len = 0;
    *lapsed = 0;
    n = snprintf(path, sizeof path, "/records/%s/%s.json", coll, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return vrm_error(ENOENT, "record %.64s/%.64s is not in the view", coll, name);
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto unlock;
    /* the caller's view if it is still what is in force (checked under the
     * lock, which every change of grants holds) */
    if (cached != NULL && strcmp(cached->vendor, vendor) == 0 && vrm_view_current(cached)) {
        use = cached;
    } else {
        rc = view_make_locked(v, vendor, now, &view);
        use = view;
    }
    if (rc == 0) {
        c = coll_paths(use, coll);
        rc = view_text_locked(v, c, coll, name, json, len, info);
    }
    if (rc == 0)
        rc = vrm_accesslog_append_locked(v, vendor, path, pid, uid, comm);
    if (rc == 0)
        rc = count_reads(v, use, coll, name, now, lapsed);
    rc = vrm_tx_finish(v, rc);
unlock:
    vrm_vault_unlock(v);
    if (rc == -ENOENT)
        vrm_error(ENOENT, "record %s/%s is not in the view of %s", coll, name, vendor);
    if (rc != 0) {
        *lapsed = 0;
        free(*json);
        *json = NULL;
        *len = 0;
    }
    vrm_view_unref(view);
    return rc;
}

/* What the text of view file coll/name depends on, now. */
static void stamp_of(const vrm_vault *v, const char *coll, vrm_view_stamp *stamp)
{
    stamp->grants = vrm_grants_generation(v);
    stamp->data = vrm_facts_generation(v, coll);
}

int vrm_view_file_open(vrm_vault *v, const char *vendor, const char *coll, const char *name,
                       pid_t pid, uid_t uid, const char *comm, char **json, size_t *len,
                       vrm_view_stamp *stamp, int *lapsed)
{
    vrm_view *view = NULL;
    int rc;

    if (vrm_view_get(v, vendor, &view) != 0)
        view = NULL;   /* vrm_view_open_file reads the grants itself */
    rc = vrm_view_open_file(v, view, vendor, coll, name, pid, uid, comm, json, len, NULL,
                            lapsed);
    vrm_view_unref(view);
    /* after the open's own count: a lapse it caused leaves its text as it is */
    if (rc == 0)
        stamp_of(v, coll, stamp);
    return rc;
}

int vrm_view_file_reread(vrm_vault *v, const char *vendor, const char *coll, const char *name,
                         vrm_view_stamp *stamp, char **json, size_t *len)
{
    vrm_view_stamp now;
    vrm_view *view = NULL;
    int rc;

    *json = NULL;
    *len = 0;
    stamp_of(v, coll, &now);
    if (now.grants == stamp->grants && now.data == stamp->data)
        return 0;
    rc = vrm_view_get(v, vendor, &view);
    if (rc == 0)
        rc = vrm_view_record(v, view, coll, name, json, len, NULL);
    vrm_view_unref(view);
    if (rc == 0)
        *stamp = now;
    return rc;
}

int vrm_view_visible_to(vrm_vault *v, const char *coll, const char *name, char **out,
                        size_t *len)
{
    vrm_names vendors = VRM_NAMES_INIT;
    vrm_strbuf seen = VRM_STRBUF_INIT;
    int64_t now = vrm_now_ns();
    size_t i;
    int rc;

    *out = NULL;
    *len = 0;
    rc = vrm_vendor_list(v, vrm_names_add, &vendors);
    if (rc == 0)
        rc = vrm_record_stat(v, coll, name, NULL);
    for (i = 0; rc == 0 && i < vendors.n; i++) {
        vrm_view *view = NULL;
        cJSON *p = NULL;

        vrm_vault_lock(v);
        rc = view_make_locked(v, vendors.names[i], now, &view);
        if (rc == 0 && names_collection(view, coll)) {
            const vcoll *c = coll_paths(view, coll);

            rc = record_projection_locked(v, coll, name, c->paths, c->n, &p, NULL);
        }
        vrm_vault_unlock(v);
        if (rc == -ENOENT)
            rc = 0;   /* removed meanwhile */
        if (rc == 0 && p != NULL &&
            ((seen.len > 0 && vrm_strbuf_addch(&seen, ',') != 0) ||
             vrm_strbuf_adds(&seen, vendors.names[i]) != 0))
            rc = -ENOMEM;
        cJSON_Delete(p);
        vrm_view_unref(view);
    }
    if (rc == 0 && (*out = vrm_strbuf_detach(&seen, len)) == NULL)
        rc = -ENOMEM;
    vrm_names_release(&vendors);
    vrm_strbuf_release(&seen);
    return rc;
}

/* ---- analytics results in a view ------------------------------------------ */

/* The result file of a granted analytics name ("spending.by-category"):
 * "spending/by-category.json", or the .csv when it has no .json.  NULL if
 * there is none. */
static const char *analytics_file(const char *granted, char *buf, size_t size)
{
    const char *dot = strchr(granted, '.');
    const char *csv = NULL;
    size_t i, tlen;

    if (dot == NULL)
        return NULL;
    tlen = (size_t)(dot - granted);
    for (i = 0; vrm_analytics_files[i] != NULL; i++) {
        const char *f = vrm_analytics_files[i], *slash = strchr(f, '/'), *ext;
        size_t blen;

        if (slash == NULL || (size_t)(slash - f) != tlen || strncmp(f, granted, tlen) != 0)
            continue;
        ext = strrchr(slash, '.');
        blen = ext != NULL ? (size_t)(ext - slash - 1) : 0;
        if (ext == NULL || blen != strlen(dot + 1) || strncmp(slash + 1, dot + 1, blen) != 0)
            continue;
        if (strcmp(ext, ".json") == 0) {
            snprintf(buf, size, "%s", f);
            return buf;
        }
        if (strcmp(ext, ".csv") == 0)
            csv = f;
    }
    if (csv == NULL)
        return NULL;
    snprintf(buf, size, "%s", csv);
    return buf;
}

int vrm_view_analytics(const vrm_view *view, vrm_name_fn fn, void *ctx)
{
    char buf[128];
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < view->nanalytics; i++) {
        const char *f = analytics_file(view->analytics[i], buf, sizeof buf);

        if (f != NULL)
            rc = fn(ctx, f);
    }
    return rc;
}

/* Is "topic/file" (a result file, or its .jws) granted in `view`?  *result:
 * the result file it names. */
static int analytics_granted(const vrm_view *view, const char *path, char *result,
                             size_t size, int *jws)
{
    char buf[128];
    size_t i, n = strlen(path);

    *jws = n > 4 && strcmp(path + n - 4, ".jws") == 0;
    for (i = 0; i < view->nanalytics; i++) {
        const char *f = analytics_file(view->analytics[i], buf, sizeof buf);
        const char *ext = f != NULL ? strrchr(f, '.') : NULL;

        if (f == NULL)
            continue;
        if ((!*jws && strcmp(f, path) == 0) ||
            (*jws && ext != NULL && (size_t)(ext - f) == n - 4 && strncmp(f, path, n - 4) == 0)) {
            snprintf(result, size, "%s", f);
            return 1;
        }
    }
    return 0;
}

int vrm_view_has_analytics(const vrm_view *view, const char *topic)
{
    char buf[128];
    size_t i, tlen = strlen(topic);

    for (i = 0; i < view->nanalytics; i++) {
        const char *f = analytics_file(view->analytics[i], buf, sizeof buf);

        if (f != NULL && (topic[0] == '\0' || (strncmp(f, topic, tlen) == 0 && f[tlen] == '/')))
            return 1;
    }
    return 0;
}

/* The signed form of a result: {"result", "computed", "content"} as a JWS
 * by the person's pairwise key for the vendor. */
static int sign_result(vrm_vault *v, const char *vendor, const char *result, const char *text,
                       size_t len, int64_t computed_ns, char **out, size_t *olen)
{
    vrm_identity *id = NULL;
    cJSON *p = cJSON_CreateObject(), *content = NULL;
    char when[VRM_RFC3339_LEN], *payload = NULL, *jws = NULL;
    size_t plen;
    int rc;

    vrm_rfc3339_format(computed_ns, when);
    if (strlen(result) > 5 && strcmp(result + strlen(result) - 5, ".json") == 0)
        content = cJSON_ParseWithLength(text, len);
    if (content == NULL)
        content = cJSON_CreateString(text);
    rc = p == NULL || content == NULL ||
                 cJSON_AddStringToObject(p, "result", result) == NULL ||
                 cJSON_AddStringToObject(p, "computed", when) == NULL ||
                 !cJSON_AddItemToObject(p, "content", content)
             ? -ENOMEM : 0;
    if (rc != 0 && content != NULL && (p == NULL || cJSON_GetObjectItem(p, "content") == NULL))
        cJSON_Delete(content);
    if (rc == 0)
        rc = vrm_json_compact(p, &payload, &plen);
    if (rc == 0)
        rc = vrm_identity_derive(v, vendor, &id);
    if (rc == 0)
        rc = vrm_jws_sign(id, "JWT", payload, plen, &jws);
    if (rc == 0) {
        size_t n = strlen(jws);
        char *withnl = realloc(jws, n + 2);

        if (withnl == NULL) {
            rc = -ENOMEM;
        } else {
            jws = withnl;
            jws[n] = '\n';
            jws[n + 1] = '\0';
            *out = jws;
            *olen = n + 1;
            jws = NULL;
        }
    }
    free(jws);
    free(payload);
    vrm_identity_free(id);
    cJSON_Delete(p);
    return rc;
}

int vrm_view_analytics_get(vrm_vault *v, const vrm_view *view, const char *path, char **out,
                           size_t *len, int64_t *computed_ns)
{
    char result[128], *text = NULL;
    size_t tlen;
    int64_t t = 0;
    int jws, rc;

    *out = NULL;
    *len = 0;
    if (!analytics_granted(view, path, result, sizeof result, &jws))
        return vrm_error(ENOENT, "analytics/%.100s is not in the view", path);
    rc = vrm_analytics_get(v, result, &text, &tlen, &t);
    if (rc == 0 && computed_ns != NULL)
        *computed_ns = t;
    if (rc == 0 && !jws) {
        *out = text;
        *len = tlen;
        return 0;
    }
    if (rc == 0)
        rc = sign_result(v, view->vendor, result, text, tlen, t, out, len);
    free(text);
    return rc;
}

int vrm_view_analytics_open(vrm_vault *v, const vrm_view *view, const char *path, pid_t pid,
                            uid_t uid, const char *comm, char **out, size_t *len, int *lapsed)
{
    char result[128], logpath[160];
    int64_t now = vrm_now_ns();
    size_t i, j;
    int jws, rc;

    *lapsed = 0;
    rc = vrm_view_analytics_get(v, view, path, out, len, NULL);
    if (rc != 0)
        return rc;
    analytics_granted(view, path, result, sizeof result, &jws);
    snprintf(logpath, sizeof logpath, "/analytics/%s", path);
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc == 0)
        rc = vrm_accesslog_append_locked(v, view->vendor, logpath, pid, uid, comm);
    /* a read counts against each limited grant that names the result */
    for (i = 0; rc == 0 && i < view->ngrants; i++) {
        const vgrant *g = &view->grants[i];
        int l = 0;

        if (g->max_reads == 0)
            continue;
        for (j = 0; j < g->nanalytics; j++) {
            char buf[128];
            const char *f = analytics_file(g->analytics[j], buf, sizeof buf);

            if (f != NULL && strcmp(f, result) == 0) {
                rc = vrm_grants_count_read_locked(v, view->vendor, g->idx, now, &l);
                *lapsed |= l;
                break;
            }
        }
    }
    rc = vrm_tx_finish(v, rc);
    vrm_vault_unlock(v);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *len = 0;
        *lapsed = 0;
    }
    return rc;
}
