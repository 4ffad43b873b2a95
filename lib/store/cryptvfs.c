/*
 * cryptvfs.c: the page-encrypting VFS shim (see cryptvfs.h for the contract).
 *
 * File layouts the shim knows (P = VRM_PAGE_SIZE):
 *   database  page k (0-based) at offset k*P
 *   WAL       32-byte file header, then frames of (24-byte header + P bytes);
 *             the page of frame k lies at 32 + k*(24+P) + 24
 * Headers stay in the clear; SQLite needs them to find and check frames.
 *
 * Reads may cover part of a page (SQLite reads 100 bytes of page 1, or 16 at
 * offset 24) or a whole WAL frame (recovery).  Every read is widened to whole
 * pages (and, in the WAL, to whole frames, because the frame header is part of
 * the associated data), decrypted, and the requested slice copied out.
 * Writes always cover whole pages: SQLite writes the database a page at a
 * time, and a WAL frame as its header followed by its page.  A write that
 * would cut a page is refused rather than guessed at.
 *
 * Threading: a sqlite3_file is used by one connection at a time (SQLite holds
 * the connection's mutex), so the per-file scratch buffer, the cached frame
 * header and the WAL write-behind need no lock.  The vrm_cryptvfs itself is
 * read-only after creation, but for its WAL cache, which has a mutex.
 */
#include "store/cryptvfs.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#define P VRM_PAGE_SIZE
#define PDATA (VRM_PAGE_SIZE - VRM_PAGE_RESERVE)          /* sealed bytes */
#define NONCE_OFF PDATA
#define TAG_OFF (PDATA + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define WAL_HDR 32
#define FRAME_HDR 24
#define FRAME (FRAME_HDR + P)
#define AD_FHDR 8                  /* frame header bytes bound: page, commit size */
#define AD_LEN (VRM_VAULT_IDBYTES + 1 + 8 + AD_FHDR)

_Static_assert(VRM_PAGE_RESERVE == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                                       crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "reserve holds exactly a nonce and a tag");

enum { KIND_DB = 1, KIND_WAL = 2 };

struct vrm_cryptvfs {
    sqlite3_vfs base;               /* registered; base.pAppData == this */
    sqlite3_vfs *root;              /* the VFS underneath */
    uint8_t *key;                   /* page key, sodium_malloc'd */
    uint8_t id[VRM_VAULT_IDBYTES];  /* vault id, bound into every page */
    char name[48];                  /* unique registered name */
    /* The plaintext of the last WAL frames written through any connection
     * of this vault, so that a checkpoint copying them into the database
     * (often on another connection) need not decrypt them again.  Slot =
     * frame index % WAL_CACHE; an entry is used only while the frame's
     * header on disk is byte for byte the one it was written with. */
    pthread_mutex_t wc_mu;          /* guards the three arrays */
    uint8_t *wc_page;               /* WAL_CACHE pages, or NULL */
    uint8_t (*wc_hdr)[FRAME_HDR];   /* frame header of each slot */
    sqlite3_int64 *wc_off;          /* page offset of each slot, -1 = empty */
};

#define NONCE_POOL 4096             /* random bytes fetched at a time */
#define WAL_CACHE 2048              /* frames remembered in plaintext */
#define WB_BYTES (31 * FRAME)       /* WAL write-behind: 31 frames */

/* The unix VFS writes at most 128 KiB per call (seekAndWriteFd() masks the
 * length to 17 bits), so the write-behind stays below that. */
_Static_assert(WB_BYTES < (1 << 17), "write-behind fits one unix VFS write");

typedef struct cv_file {
    sqlite3_file base;              /* must be first */
    vrm_cryptvfs *cv;               /* owning instance */
    sqlite3_file *real;             /* root VFS's file, right after this */
    int kind;                       /* KIND_DB or KIND_WAL */
    uint8_t *buf;                   /* scratch for widened I/O */
    size_t bufsz;                   /* bytes allocated in buf */
    sqlite3_int64 hdr_off;          /* WAL: offset of cached frame header */
    uint8_t hdr[FRAME_HDR];         /* WAL: last frame header written */
    /* Nonces come from a pool of random bytes, refilled NONCE_POOL bytes at
     * a time (one getrandom() per ~170 pages instead of one per page), and
     * refilled at once in a child after fork() so no nonce is used twice. */
    uint8_t *pool;                  /* NONCE_POOL random bytes */
    size_t pool_used;               /* bytes of pool already handed out */
    unsigned pool_gen;              /* fork generation of the pool */
    /* WAL only: frames appended back to back are gathered here (ciphertext)
     * and written to the file in one call, instead of two calls per frame
     * (SQLite writes a frame's header, then its page).  Only appends are
     * gathered (a write from wal_end on), never a frame rewritten in place
     * or the headers SQLite rewrites at commit after a spill, which go to
     * the file at once, after what waits.  Written out before any other
     * operation on the file, when a write does not continue it, when it is
     * full, and with the frame that commits a transaction, so that no other
     * connection is told of a frame not yet in the file, a commit is in the
     * file (as without the shim) when it returns, and every error reaches
     * the call that caused it. */
    uint8_t *wb;                    /* WB_BYTES, allocated at the first write */
    sqlite3_int64 wb_off;           /* file offset of wb[0] */
    size_t wb_len;                  /* bytes waiting in wb */
    sqlite3_int64 wal_end;          /* end of the furthest write of this WAL
                                     * generation: frames appended start here */
} cv_file;

#define CV_FILE_SIZE ((sizeof(cv_file) + 7) & ~(size_t)7)

static volatile unsigned fork_gen;       /* bumped in every forked child */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    fork_gen++;
}

static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static const char *kind_name(int kind)
{
    return kind == KIND_DB ? "vault.db" : "vault.db-wal";
}

/* ---- page sealing ---------------------------------------------------- */

/* Associated data: vault id, file kind, byte offset (big-endian) and, for a
 * WAL frame, the first 8 bytes of its header (page number, commit size);
 * zeros for the database.  The salts and checksums that follow are not
 * bound: SQLite writes them as zeros while a transaction that overwrote a
 * frame in place is under way, and fills them in at commit. */
static void make_ad(uint8_t ad[AD_LEN], const vrm_cryptvfs *cv, int kind,
                    sqlite3_int64 off, const uint8_t *fhdr)
{
    int i;

    memcpy(ad, cv->id, VRM_VAULT_IDBYTES);
    ad[VRM_VAULT_IDBYTES] = (uint8_t)kind;
    for (i = 0; i < 8; i++)
        ad[VRM_VAULT_IDBYTES + 1 + i] = (uint8_t)((uint64_t)off >> (56 - 8 * i));
    if (fhdr != NULL)
        memcpy(ad + VRM_VAULT_IDBYTES + 9, fhdr, AD_FHDR);
    else
        memset(ad + VRM_VAULT_IDBYTES + 9, 0, AD_FHDR);
}

/* Encrypt the page `in` into `out` (which may be `in`), filling out's
 * reserved bytes with `nonce` (24 random bytes) and the tag; in's reserved
 * bytes are ignored. */
static void page_seal(const vrm_cryptvfs *cv, uint8_t *out, const uint8_t *in, int kind,
                      sqlite3_int64 off, const uint8_t *fhdr, const uint8_t *nonce)
{
    uint8_t ad[AD_LEN];

    make_ad(ad, cv, kind, off, fhdr);
    memcpy(out + NONCE_OFF, nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
        out, out + TAG_OFF, NULL, in, PDATA, ad, sizeof ad, NULL,
        out + NONCE_OFF, cv->key);
}

/* Decrypt one page in place and zero its reserved bytes.  Returns 0, or -1
 * (page untouched) if it fails to authenticate. */
static int page_open(const vrm_cryptvfs *cv, uint8_t *page, int kind,
                     sqlite3_int64 off, const uint8_t *fhdr)
{
    uint8_t ad[AD_LEN];

    make_ad(ad, cv, kind, off, fhdr);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            page, NULL, page, PDATA, page + TAG_OFF, ad, sizeof ad,
            page + NONCE_OFF, cv->key) != 0)
        return -1;
    memset(page + PDATA, 0, VRM_PAGE_RESERVE);
    return 0;
}

/* ---- geometry -------------------------------------------------------- */

static sqlite3_int64 region_start(int kind, sqlite3_int64 k)
{
    return kind == KIND_DB ? k * P : WAL_HDR + k * FRAME + FRAME_HDR;
}

/* The page regions that intersect [off, end): *first..*last.  Returns 0 if
 * none does (a read or write of headers only). */
static int regions(int kind, sqlite3_int64 off, sqlite3_int64 end,
                   sqlite3_int64 *first, sqlite3_int64 *last)
{
    if (end <= off)
        return 0;
    if (kind == KIND_DB) {
        *first = off / P;
        *last = (end - 1) / P;
        return 1;
    }
    if (end <= WAL_HDR + FRAME_HDR)
        return 0;
    *first = off < WAL_HDR ? 0 : (off - WAL_HDR) / FRAME;
    *last = (end - WAL_HDR - FRAME_HDR - 1) / FRAME;
    return *first <= *last;
}

static int grow(cv_file *p, size_t n)
{
    uint8_t *b;

    if (n <= p->bufsz)
        return 0;
    b = sqlite3_realloc64(p->buf, n);
    if (b == NULL)
        return -1;
    p->buf = b;
    p->bufsz = n;
    return 0;
}

static int fail_auth(const cv_file *p, sqlite3_int64 k)
{
    vrm_error(EBADMSG, "%s %s %lld fails authentication (damaged or tampered)",
              kind_name(p->kind), p->kind == KIND_DB ? "page" : "frame",
              (long long)k + 1);
    sqlite3_log(SQLITE_IOERR_DATA, "%s", vrm_error_message());
    return SQLITE_IOERR_DATA;
}

static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Is frame k (header `fhdr`), which failed to authenticate, an incomplete
 * write that SQLite will discard anyway?  True if it belongs to an older WAL
 * generation, or if no later frame of the current generation commits a
 * transaction (so nothing committed can depend on it).  `rd` reads the WAL. */
typedef int (*read_fn)(void *h, void *buf, int n, sqlite3_int64 off);

static int wal_tail_ok(read_fn rd, void *h, sqlite3_int64 k, const uint8_t *fhdr)
{
    uint8_t wh[WAL_HDR], fh[FRAME_HDR];
    sqlite3_int64 j;

    if (rd(h, wh, WAL_HDR, 0) != 0)
        return 0;
    if (memcmp(fhdr + 8, wh + 16, 8) != 0)
        return 1;
    for (j = k + 1;; j++) {
        if (rd(h, fh, FRAME_HDR, WAL_HDR + j * FRAME) != 0)
            return 1;
        if (memcmp(fh + 8, wh + 16, 8) == 0 && get32(fh + 4) != 0)
            return 0;
    }
}

static int real_read_full(void *h, void *buf, int n, sqlite3_int64 off)
{
    sqlite3_file *real = h;

    return real->pMethods->xRead(real, buf, n, off) == SQLITE_OK ? 0 : -1;
}

/* The next fresh nonce of this file's pool, or NULL if out of memory. */
static const uint8_t *next_nonce(cv_file *p)
{
    const size_t n = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    const uint8_t *nonce;

    if (p->pool == NULL) {
        p->pool = sqlite3_malloc(NONCE_POOL);
        if (p->pool == NULL)
            return NULL;
        p->pool_used = NONCE_POOL;
    }
    if (p->pool_used + n > NONCE_POOL || p->pool_gen != fork_gen) {
        randombytes_buf(p->pool, NONCE_POOL);
        p->pool_used = 0;
        p->pool_gen = fork_gen;
    }
    nonce = p->pool + p->pool_used;
    p->pool_used += n;
    return nonce;
}

static void wal_cache_clear(vrm_cryptvfs *cv)
{
    size_t i;

    pthread_mutex_lock(&cv->wc_mu);
    if (cv->wc_off != NULL)
        for (i = 0; i < WAL_CACHE; i++)
            cv->wc_off[i] = -1;
    pthread_mutex_unlock(&cv->wc_mu);
}

/* Remember the plaintext of the WAL page at offset s (frame k). */
static void wal_cache_put(vrm_cryptvfs *cv, sqlite3_int64 k, sqlite3_int64 s,
                          const uint8_t *page, const uint8_t *fhdr)
{
    size_t slot = (size_t)(k % WAL_CACHE), i;

    pthread_mutex_lock(&cv->wc_mu);
    if (cv->wc_off == NULL) {
        cv->wc_page = sqlite3_malloc64((sqlite3_uint64)WAL_CACHE * P);
        cv->wc_hdr = sqlite3_malloc64((sqlite3_uint64)WAL_CACHE * FRAME_HDR);
        cv->wc_off = sqlite3_malloc64((sqlite3_uint64)WAL_CACHE * sizeof *cv->wc_off);
        if (cv->wc_page == NULL || cv->wc_hdr == NULL || cv->wc_off == NULL) {
            sqlite3_free(cv->wc_page);
            sqlite3_free(cv->wc_hdr);
            sqlite3_free(cv->wc_off);
            cv->wc_page = NULL;
            cv->wc_hdr = NULL;
            cv->wc_off = NULL;
            pthread_mutex_unlock(&cv->wc_mu);
            return;  /* no cache: every read decrypts */
        }
        for (i = 0; i < WAL_CACHE; i++)
            cv->wc_off[i] = -1;
    }
    memcpy(cv->wc_page + slot * P, page, PDATA);
    memset(cv->wc_page + slot * P + PDATA, 0, VRM_PAGE_RESERVE);
    memcpy(cv->wc_hdr[slot], fhdr, FRAME_HDR);
    cv->wc_off[slot] = s;
    pthread_mutex_unlock(&cv->wc_mu);
}

/* Copy the remembered plaintext of the page at offset s (frame k, whose
 * header on disk is `fhdr`) into page.  Returns 1 if it was remembered. */
static int wal_cache_get(vrm_cryptvfs *cv, sqlite3_int64 k, sqlite3_int64 s, uint8_t *page,
                         const uint8_t *fhdr)
{
    size_t slot = (size_t)(k % WAL_CACHE);
    int hit;

    pthread_mutex_lock(&cv->wc_mu);
    hit = cv->wc_off != NULL && cv->wc_off[slot] == s &&
          memcmp(cv->wc_hdr[slot], fhdr, FRAME_HDR) == 0;
    if (hit)
        memcpy(page, cv->wc_page + slot * P, P);
    pthread_mutex_unlock(&cv->wc_mu);
    return hit;
}

/* ---- WAL write-behind ------------------------------------------------ */

/* Write out what waits in p->wb. */
static int wb_flush(cv_file *p)
{
    int rc;

    if (p->wb_len == 0)
        return SQLITE_OK;
    rc = p->real->pMethods->xWrite(p->real, p->wb, (int)p->wb_len, p->wb_off);
    p->wb_len = 0;
    return rc;
}

/* Write data[0..n) at `off` of the WAL: into p->wb if it is an append
 * (continuing what waits there, or from wal_end on), else after writing
 * out what waits. */
static int wb_write(cv_file *p, const void *data, int n, sqlite3_int64 off)
{
    int append = p->wb_len > 0 ? off == p->wb_off + (sqlite3_int64)p->wb_len
                               : off >= p->wal_end;
    int rc;

    if (off + n > p->wal_end)
        p->wal_end = off + n;
    if (p->wb_len > 0 && (!append || p->wb_len + (size_t)n > WB_BYTES)) {
        rc = wb_flush(p);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (p->wb == NULL && append && (size_t)n <= WB_BYTES)
        p->wb = sqlite3_malloc(WB_BYTES);
    if (p->wb == NULL || !append || (size_t)n > WB_BYTES)
        return p->real->pMethods->xWrite(p->real, data, n, off);
    if (p->wb_len == 0)
        p->wb_off = off;
    memcpy(p->wb + p->wb_len, data, (size_t)n);
    p->wb_len += (size_t)n;
    return SQLITE_OK;
}

/* ---- io methods ------------------------------------------------------ */

static int cv_close(sqlite3_file *f)
{
    cv_file *p = (cv_file *)f;
    int frc = wb_flush(p);
    int rc = p->real->pMethods->xClose(p->real);

    if (rc == SQLITE_OK)
        rc = frc;
    sqlite3_free(p->wb);
    p->wb = NULL;
    sqlite3_free(p->buf);
    if (p->pool != NULL)
        sodium_memzero(p->pool, NONCE_POOL);
    sqlite3_free(p->pool);
    p->buf = NULL;
    p->bufsz = 0;
    return rc;
}

static int cv_read(sqlite3_file *f, void *out, int n, sqlite3_int64 off)
{
    cv_file *p = (cv_file *)f;
    sqlite3_file *real = p->real;
    sqlite3_int64 first, last, a, b, avail, k, end = off + n;
    int hdr = p->kind == KIND_WAL ? FRAME_HDR : 0;
    int rc = wb_flush(p), is_short = 0;

    if (rc != SQLITE_OK)
        return rc;
    if (!regions(p->kind, off, end, &first, &last))
        return real->pMethods->xRead(real, out, n, off);

    /* The common case, one whole database page: decrypt in place. */
    if (p->kind == KIND_DB && n == P && off % P == 0) {
        rc = real->pMethods->xRead(real, out, n, off);
        if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
            return rc;
        if (rc == SQLITE_OK) {
            if (page_open(p->cv, out, KIND_DB, off, NULL) != 0)
                return fail_auth(p, off / P);
            return SQLITE_OK;
        }
        /* short: fall through to the general path */
    }

    /* The other common case, one whole WAL page (a checkpoint copying it,
     * or a reader): its header first, then the remembered plaintext if the
     * header matches, else the page itself, decrypted in place.  A hit reads
     * 24 bytes from the file instead of a frame and copies once, not twice. */
    if (p->kind == KIND_WAL && n == P && first == last && off == region_start(KIND_WAL, first)) {
        uint8_t h[FRAME_HDR];

        rc = real->pMethods->xRead(real, h, FRAME_HDR, off - FRAME_HDR);
        if (rc == SQLITE_OK && wal_cache_get(p->cv, first, off, out, h))
            return SQLITE_OK;
        if (rc == SQLITE_OK)
            rc = real->pMethods->xRead(real, out, n, off);
        if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
            return rc;
        if (rc == SQLITE_OK) {
            if (page_open(p->cv, out, KIND_WAL, off, h) != 0)
                return fail_auth(p, first);
            return SQLITE_OK;
        }
        /* short: fall through to the general path */
    }

    a = region_start(p->kind, first) - hdr;
    if (off < a)
        a = off;
    b = region_start(p->kind, last) + P;
    if (end > b)
        b = end;
    if (grow(p, (size_t)(b - a)) != 0)
        return SQLITE_IOERR_NOMEM;
    rc = real->pMethods->xRead(real, p->buf, (int)(b - a), a);
    avail = b - a;
    if (rc == SQLITE_IOERR_SHORT_READ) {
        sqlite3_int64 size = 0;

        rc = real->pMethods->xFileSize(real, &size);
        if (rc != SQLITE_OK)
            return rc;
        avail = size - a < 0 ? 0 : size - a;
        if (avail > b - a)
            avail = b - a;
        memset(p->buf + avail, 0, (size_t)(b - a - avail));
        is_short = 1;
    } else if (rc != SQLITE_OK) {
        return rc;
    }

    for (k = first; k <= last; k++) {
        sqlite3_int64 s = region_start(p->kind, k);
        uint8_t *page = p->buf + (s - a);
        const uint8_t *fhdr = hdr ? page - FRAME_HDR : NULL;

        if (s + P > a + avail) {
            /* Not (wholly) in the file: SQLite sees zeros, as it would. */
            memset(page, 0, P);
            is_short = 1;
            continue;
        }
        if (fhdr != NULL && wal_cache_get(p->cv, k, s, page, fhdr))
            continue;
        if (page_open(p->cv, page, p->kind, s, fhdr) == 0)
            continue;
        /* WAL recovery reads whole frames; an incomplete tail is discarded
         * by SQLite's own checksum once the page reads as zeros. */
        if (p->kind == KIND_WAL && off == s - FRAME_HDR && n == FRAME &&
            wal_tail_ok(real_read_full, real, k, fhdr)) {
            sqlite3_log(SQLITE_NOTICE, "vault.db-wal frame %lld: incomplete "
                        "write at the end of the log, ignored", (long long)k + 1);
            memset(page, 0, P);
            continue;
        }
        return fail_auth(p, k);
    }
    memcpy(out, p->buf + (off - a), (size_t)n);
    return is_short ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}

static int cv_write(sqlite3_file *f, const void *in, int n, sqlite3_int64 off)
{
    cv_file *p = (cv_file *)f;
    sqlite3_file *real = p->real;
    const uint8_t *src = in;
    sqlite3_int64 first, last, k, done, end = off + n;
    int rc, commit = 0;

    if (!regions(p->kind, off, end, &first, &last)) {
        if (p->kind == KIND_WAL) {
            if (off == 0) {
                p->hdr_off = -1;          /* a new WAL generation */
                p->wal_end = 0;
                wal_cache_clear(p->cv);
            } else if (n == FRAME_HDR && (off - WAL_HDR) % FRAME == 0) {
                memcpy(p->hdr, in, FRAME_HDR);
                p->hdr_off = off;
            }
            return wb_write(p, in, n, off);
        }
        return real->pMethods->xWrite(real, in, n, off);
    }
    if (region_start(p->kind, first) < off || region_start(p->kind, last) + P > end) {
        sqlite3_log(SQLITE_IOERR_WRITE, "%s: refusing a write of %d bytes at %lld "
                    "that cuts a page", kind_name(p->kind), n, (long long)off);
        return SQLITE_IOERR_WRITE;
    }
    if (grow(p, (size_t)n) != 0)
        return SQLITE_IOERR_NOMEM;
    /* Pages are sealed from `in` straight into the buffer; only the bytes
     * between them (WAL frame headers, when a write spans frames) are
     * copied as they are. */
    done = off;
    for (k = first; k <= last; k++) {
        sqlite3_int64 s = region_start(p->kind, k);
        const uint8_t *fhdr = NULL, *nonce;
        uint8_t h[FRAME_HDR];

        if (s > done)
            memcpy(p->buf + (done - off), src + (done - off), (size_t)(s - done));
        done = s + P;
        if (p->kind == KIND_WAL) {
            if (s - FRAME_HDR >= off) {
                fhdr = src + (s - FRAME_HDR - off);
            } else if (p->hdr_off == s - FRAME_HDR) {
                fhdr = p->hdr;
            } else {
                if ((rc = wb_flush(p)) != SQLITE_OK)
                    return rc;
                rc = real->pMethods->xRead(real, h, FRAME_HDR, s - FRAME_HDR);
                if (rc != SQLITE_OK)
                    return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_IOERR_WRITE : rc;
                fhdr = h;
            }
            commit = get32(fhdr + 4) != 0;  /* of the last page written */
        }
        nonce = next_nonce(p);
        if (nonce == NULL)
            return SQLITE_IOERR_NOMEM;
        if (fhdr != NULL)
            wal_cache_put(p->cv, k, s, src + (s - off), fhdr);
        page_seal(p->cv, p->buf + (s - off), src + (s - off), p->kind, s, fhdr, nonce);
    }
    if (end > done)
        memcpy(p->buf + (done - off), src + (done - off), (size_t)(end - done));
    if (p->kind != KIND_WAL)
        return real->pMethods->xWrite(real, p->buf, n, off);
    rc = wb_write(p, p->buf, n, off);
    return rc == SQLITE_OK && commit ? wb_flush(p) : rc;
}

static int cv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    cv_file *p = (cv_file *)f;
    int rc = wb_flush(p);

    if (rc != SQLITE_OK)
        return rc;
    if (p->hdr_off >= size)
        p->hdr_off = -1;
    if (p->wal_end > size)
        p->wal_end = size;
    wal_cache_clear(p->cv);
    return p->real->pMethods->xTruncate(p->real, size);
}

static int cv_sync(sqlite3_file *f, int flags)
{
    cv_file *p = (cv_file *)f;
    int rc = wb_flush(p);

    return rc != SQLITE_OK ? rc : p->real->pMethods->xSync(p->real, flags);
}

static int cv_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    cv_file *p = (cv_file *)f;
    int rc = wb_flush(p);

    return rc != SQLITE_OK ? rc : p->real->pMethods->xFileSize(p->real, size);
}

static int cv_lock(sqlite3_file *f, int lock)
{
    cv_file *p = (cv_file *)f;
    int rc = wb_flush(p);

    return rc != SQLITE_OK ? rc : p->real->pMethods->xLock(p->real, lock);
}

static int cv_unlock(sqlite3_file *f, int lock)
{
    cv_file *p = (cv_file *)f;
    int rc = wb_flush(p);

    return rc != SQLITE_OK ? rc : p->real->pMethods->xUnlock(p->real, lock);
}

static int cv_check_reserved(sqlite3_file *f, int *out)
{
    cv_file *p = (cv_file *)f;
    return p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int cv_file_control(sqlite3_file *f, int op, void *arg)
{
    cv_file *p = (cv_file *)f;
    int rc = wb_flush(p);

    if (rc != SQLITE_OK)
        return rc;
    if (op == SQLITE_FCNTL_VFSNAME) {
        *(char **)arg = sqlite3_mprintf("%s", p->cv->name);
        return SQLITE_OK;
    }
    return p->real->pMethods->xFileControl(p->real, op, arg);
}

static int cv_sector_size(sqlite3_file *f)
{
    cv_file *p = (cv_file *)f;
    return p->real->pMethods->xSectorSize(p->real);
}

/* Power-safe overwrite is claimed so that SQLite never pads a WAL commit to a
 * sector boundary, which could split a page write in two; the unix VFS claims
 * it by default as well. */
static int cv_device_characteristics(sqlite3_file *f)
{
    cv_file *p = (cv_file *)f;
    int dc = p->real->pMethods->xDeviceCharacteristics(p->real);

    return (dc | SQLITE_IOCAP_POWERSAFE_OVERWRITE) & ~SQLITE_IOCAP_BATCH_ATOMIC;
}

static int cv_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    cv_file *p = (cv_file *)f;
    return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, pp);
}

static int cv_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    cv_file *p = (cv_file *)f;
    return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}

static void cv_shm_barrier(sqlite3_file *f)
{
    cv_file *p = (cv_file *)f;
    p->real->pMethods->xShmBarrier(p->real);
}

static int cv_shm_unmap(sqlite3_file *f, int del)
{
    cv_file *p = (cv_file *)f;
    return p->real->pMethods->xShmUnmap(p->real, del);
}

/* Version 2: shared memory for the WAL index, but no xFetch, so SQLite never
 * memory-maps the (ciphertext) database. */
static const sqlite3_io_methods cv_io_methods = {
    .iVersion = 2,
    .xClose = cv_close,
    .xRead = cv_read,
    .xWrite = cv_write,
    .xTruncate = cv_truncate,
    .xSync = cv_sync,
    .xFileSize = cv_file_size,
    .xLock = cv_lock,
    .xUnlock = cv_unlock,
    .xCheckReservedLock = cv_check_reserved,
    .xFileControl = cv_file_control,
    .xSectorSize = cv_sector_size,
    .xDeviceCharacteristics = cv_device_characteristics,
    .xShmMap = cv_shm_map,
    .xShmLock = cv_shm_lock,
    .xShmBarrier = cv_shm_barrier,
    .xShmUnmap = cv_shm_unmap,
};

/* ---- vfs methods ----------------------------------------------------- */

#define ROOT(vfs) (((vrm_cryptvfs *)(vfs)->pAppData)->root)

static int cv_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f,
                   int flags, int *out_flags)
{
    vrm_cryptvfs *cv = vfs->pAppData;
    cv_file *p = (cv_file *)f;
    int rc;

    memset(p, 0, sizeof *p);
    if (flags & SQLITE_OPEN_MAIN_DB) {
        p->kind = KIND_DB;
    } else if (flags & SQLITE_OPEN_WAL) {
        p->kind = KIND_WAL;
    } else {
        sqlite3_log(SQLITE_CANTOPEN, "vrm: refusing to open %s (flags 0x%x): "
                    "only the database and its WAL are encrypted",
                    name ? name : "a temporary file", flags);
        return SQLITE_CANTOPEN;
    }
    p->cv = cv;
    p->hdr_off = -1;
    p->real = (sqlite3_file *)((char *)p + CV_FILE_SIZE);
    rc = cv->root->xOpen(cv->root, name, p->real, flags, out_flags);
    if (rc == SQLITE_OK && p->real->pMethods != NULL)
        p->base.pMethods = &cv_io_methods;
    return rc;
}

static int cv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return ROOT(vfs)->xDelete(ROOT(vfs), name, sync_dir);
}

static int cv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return ROOT(vfs)->xAccess(ROOT(vfs), name, flags, out);
}

static int cv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return ROOT(vfs)->xFullPathname(ROOT(vfs), name, n, out);
}

static void *cv_dlopen(sqlite3_vfs *vfs, const char *path)
{
    return ROOT(vfs)->xDlOpen(ROOT(vfs), path);
}

static void cv_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    ROOT(vfs)->xDlError(ROOT(vfs), n, msg);
}

static void (*cv_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return ROOT(vfs)->xDlSym(ROOT(vfs), h, sym);
}

static void cv_dlclose(sqlite3_vfs *vfs, void *h)
{
    ROOT(vfs)->xDlClose(ROOT(vfs), h);
}

static int cv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    randombytes_buf(out, (size_t)n);
    return n;
}

static int cv_sleep(sqlite3_vfs *vfs, int us)
{
    return ROOT(vfs)->xSleep(ROOT(vfs), us);
}

static int cv_current_time(sqlite3_vfs *vfs, double *out)
{
    return ROOT(vfs)->xCurrentTime(ROOT(vfs), out);
}

static int cv_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return ROOT(vfs)->xGetLastError(ROOT(vfs), n, out);
}

static int cv_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return ROOT(vfs)->xCurrentTimeInt64(ROOT(vfs), out);
}

/* ---- public ---------------------------------------------------------- */

int vrm_cryptvfs_create(vrm_cryptvfs **out, const uint8_t key[VRM_PAGE_KEYBYTES],
                        const uint8_t vault_id[VRM_VAULT_IDBYTES])
{
    vrm_cryptvfs *cv;
    sqlite3_vfs *root;
    uint8_t rnd[16];
    char hex[33];
    int rc;

    *out = NULL;
    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    root = sqlite3_vfs_find(NULL);
    if (root == NULL || root->iVersion < 2)
        return vrm_error(ENOSYS, "no usable default SQLite VFS");
    cv = calloc(1, sizeof *cv);
    if (cv == NULL)
        return -ENOMEM;
    cv->key = sodium_malloc(VRM_PAGE_KEYBYTES);
    if (cv->key == NULL) {
        free(cv);
        return -ENOMEM;
    }
    memcpy(cv->key, key, VRM_PAGE_KEYBYTES);
    sodium_mprotect_readonly(cv->key);
    memcpy(cv->id, vault_id, VRM_VAULT_IDBYTES);
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(cv->name, sizeof cv->name, "vrm-%s", hex);

    pthread_once(&fork_once, register_fork_handler);
    pthread_mutex_init(&cv->wc_mu, NULL);
    cv->root = root;
    cv->base.iVersion = root->iVersion < 3 ? root->iVersion : 3;
    cv->base.szOsFile = (int)(CV_FILE_SIZE + (size_t)root->szOsFile);
    cv->base.mxPathname = root->mxPathname;
    cv->base.zName = cv->name;
    cv->base.pAppData = cv;
    cv->base.xOpen = cv_open;
    cv->base.xDelete = cv_delete;
    cv->base.xAccess = cv_access;
    cv->base.xFullPathname = cv_full_pathname;
    cv->base.xDlOpen = cv_dlopen;
    cv->base.xDlError = cv_dlerror;
    cv->base.xDlSym = cv_dlsym;
    cv->base.xDlClose = cv_dlclose;
    cv->base.xRandomness = cv_randomness;
    cv->base.xSleep = cv_sleep;
    cv->base.xCurrentTime = cv_current_time;
    cv->base.xGetLastError = cv_get_last_error;
    cv->base.xCurrentTimeInt64 = cv_current_time64;
    /* xSetSystemCall & co. stay NULL: they are for testing the unix VFS. */

    rc = sqlite3_vfs_register(&cv->base, 0);
    if (rc != SQLITE_OK) {
        sodium_free(cv->key);
        free(cv);
        return vrm_errno_from_sqlite(rc);
    }
    *out = cv;
    return 0;
}

const char *vrm_cryptvfs_name(const vrm_cryptvfs *cv)
{
    return cv->name;
}

void vrm_cryptvfs_destroy(vrm_cryptvfs *cv)
{
    if (cv == NULL)
        return;
    sqlite3_vfs_unregister(&cv->base);
    if (cv->wc_page != NULL)
        sodium_memzero(cv->wc_page, (size_t)WAL_CACHE * P);
    sqlite3_free(cv->wc_page);
    sqlite3_free(cv->wc_hdr);
    sqlite3_free(cv->wc_off);
    pthread_mutex_destroy(&cv->wc_mu);
    sodium_free(cv->key);
    sodium_memzero(cv, sizeof *cv);
    free(cv);
}

/* ---- verification without SQLite ------------------------------------- */

static int fd_read_full(void *h, void *buf, int n, sqlite3_int64 off)
{
    int fd = *(int *)h;
    ssize_t got = pread(fd, buf, (size_t)n, off);

    return got == n ? 0 : -1;
}

static void progress(const vrm_verify_report *r, uint64_t done, uint64_t total)
{
    if (r != NULL && r->progress != NULL)
        r->progress(r->ctx, done, total);
}

static void report(const vrm_verify_report *r, int bad, const char *file,
                   uint64_t index, const char *why)
{
    if (r == NULL)
        return;
    if (bad && r->bad != NULL)
        r->bad(r->ctx, file, index, why);
    else if (!bad && r->note != NULL)
        r->note(r->ctx, file, index, why);
}

int vrm_cryptvfs_verify(const vrm_cryptvfs *cv, const char *db_path,
                        const vrm_verify_report *r)
{
    uint8_t *page = NULL, wh[WAL_HDR];
    char *wal_path = NULL;
    int fd = -1, wfd = -1, nbad = 0, rc = 0;
    struct stat st, wst;
    uint64_t npages, nframes = 0, done = 0, k;

    page = malloc(FRAME);
    wal_path = sqlite3_mprintf("%s-wal", db_path);
    if (page == NULL || wal_path == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    fd = open(db_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = vrm_error(errno, "%s: %s", db_path, strerror(errno));
        goto out;
    }
    npages = (uint64_t)st.st_size / P;
    wfd = open(wal_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (wfd < 0 && errno != ENOENT) {
        rc = vrm_error(errno, "%s: %s", wal_path, strerror(errno));
        goto out;
    }
    if (wfd >= 0) {
        if (fstat(wfd, &wst) != 0) {
            rc = vrm_error(errno, "%s: %s", wal_path, strerror(errno));
            goto out;
        }
        if (wst.st_size >= WAL_HDR)
            nframes = (uint64_t)(wst.st_size - WAL_HDR) / FRAME;
    }

    if (st.st_size % P != 0) {
        report(r, 1, "vault.db", npages + 1, "the file ends inside a page (truncated)");
        nbad++;
    }
    for (k = 0; k < npages; k++) {
        if (pread(fd, page, P, (off_t)(k * P)) != P) {
            rc = vrm_error(errno ? errno : EIO, "vault.db: read error at page %llu",
                           (unsigned long long)k + 1);
            goto out;
        }
        if (page_open(cv, page, KIND_DB, (sqlite3_int64)(k * P), NULL) != 0) {
            report(r, 1, "vault.db", k + 1, "fails authentication (damaged or tampered)");
            nbad++;
        }
        if (++done % 256 == 0)
            progress(r, done, npages + nframes);
    }

    if (wfd >= 0 && wst.st_size > 0) {
        if (wst.st_size < WAL_HDR || pread(wfd, wh, WAL_HDR, 0) != WAL_HDR) {
            report(r, 0, "vault.db-wal", 0, "header incomplete; the log is empty to SQLite");
            nframes = 0;
        }
        for (k = 0; k < nframes; k++) {
            sqlite3_int64 off = WAL_HDR + (sqlite3_int64)k * FRAME;

            if (pread(wfd, page, FRAME, off) != FRAME) {
                rc = vrm_error(errno ? errno : EIO, "vault.db-wal: read error at frame %llu",
                               (unsigned long long)k + 1);
                goto out;
            }
            if (++done % 256 == 0)
                progress(r, done, npages + nframes);
            if (memcmp(page + 8, wh + 16, 8) != 0)
                continue;  /* left over from an earlier generation */
            if (page_open(cv, page + FRAME_HDR, KIND_WAL, off + FRAME_HDR, page) == 0)
                continue;
            if (wal_tail_ok(fd_read_full, &wfd, (sqlite3_int64)k, page)) {
                report(r, 0, "vault.db-wal", k + 1, "incomplete write at the end of "
                       "the log (from a crash), ignored as SQLite ignores it");
            } else {
                report(r, 1, "vault.db-wal", k + 1, "fails authentication (damaged or tampered)");
                nbad++;
            }
        }
        if (wst.st_size > WAL_HDR && (wst.st_size - WAL_HDR) % FRAME != 0)
            report(r, 0, "vault.db-wal", nframes + 1, "partial frame at the end of the log, ignored");
    }
    progress(r, npages + nframes, npages + nframes);
    rc = nbad;
out:
    if (fd >= 0)
        close(fd);
    if (wfd >= 0)
        close(wfd);
    if (page != NULL) {
        sodium_memzero(page, FRAME);
        free(page);
    }
    sqlite3_free(wal_path);
    return rc;
}
