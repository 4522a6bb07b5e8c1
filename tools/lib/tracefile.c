/* tracefile.c - loading traces (binary and malloc-lab text) into one list
 * of operations (writing it back in either format: tracefile_write.c); the
 * formats and the invariant of a loaded trace are tracefile.h's banner.
 * Every failure is a status and a message for the caller; the one line it
 * prints (stderr) warns of bytes after the last whole record.
 */
#include "tracefile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- growing arrays --------------------------------------------------- */

bool tf_push(struct tf_trace *t, const struct tf_op *op)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        struct tf_op *ops = realloc(t->ops, cap * sizeof *ops);
        if (!ops)
            return false;
        t->ops = ops;
        t->cap = cap;
    }
    t->ops[t->n++] = *op;
    return true;
}

void tf_free(struct tf_trace *t)
{
    free(t->ops);
    free(t->file_ids);
    memset(t, 0, sizeof *t);
}

/* ---- address -> id (open addressing, backward-shift deletion) -------- */

struct tf_addrmap {
    uint64_t *keys;  /* 0: empty (no block lives at address 0) */
    uint32_t *vals;
    size_t cap, n;   /* cap a power of two */
};

static size_t tf_hash(uint64_t k, size_t mask)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

static bool tf_map_grow(struct tf_addrmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint32_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = tf_hash(m->keys[i], cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return true;
}

/* The slot of key k, or of the empty slot where it would go. */
static size_t tf_map_slot(const struct tf_addrmap *m, uint64_t k)
{
    size_t j = tf_hash(k, m->cap - 1);
    while (m->keys[j] && m->keys[j] != k)
        j = (j + 1) & (m->cap - 1);
    return j;
}

static bool tf_map_get(const struct tf_addrmap *m, uint64_t k, uint32_t *v)
{
    if (!m->cap)
        return false;
    size_t j = tf_map_slot(m, k);
    if (!m->keys[j])
        return false;
    *v = m->vals[j];
    return true;
}

/* k must not be present. */
static bool tf_map_put(struct tf_addrmap *m, uint64_t k, uint32_t v)
{
    if ((m->n + 1) * 2 > m->cap && !tf_map_grow(m))
        return false;
    size_t j = tf_map_slot(m, k);
    m->keys[j] = k;
    m->vals[j] = v;
    m->n++;
    return true;
}

static void tf_map_del(struct tf_addrmap *m, uint64_t k)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1, i = tf_map_slot(m, k);
    if (!m->keys[i])
        return;
    m->keys[i] = 0;
    m->n--;
    /* Pull back every later entry of the run that its home slot lets move. */
    for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = tf_hash(m->keys[j], mask);
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            i = j;
        }
    }
}

static void tf_map_free(struct tf_addrmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- ids: the most recently freed first -------------------------------- */

struct tf_ids {
    uint32_t *free_ids;
    size_t nfree, cap;
    uint32_t next;
};

static bool tf_id_take(struct tf_ids *ids, uint32_t *id)
{
    if (ids->nfree) {
        *id = ids->free_ids[--ids->nfree];
        return true;
    }
    if ((uint64_t)ids->next >= TF_MAX_IDS)
        return false;
    *id = ids->next++;
    return true;
}

static bool tf_id_give(struct tf_ids *ids, uint32_t id)
{
    if (ids->nfree == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 1024;
        uint32_t *f = realloc(ids->free_ids, cap * sizeof *f);
        if (!f)
            return false;
        ids->free_ids = f;
        ids->cap = cap;
    }
    ids->free_ids[ids->nfree++] = id;
    return true;
}

/* ---- the binary format ------------------------------------------------ */

static void tf_copy_str(char *dst, size_t cap, const char *src, size_t srclen)
{
    size_t l = strnlen(src, srclen);
    if (l > cap - 1)
        l = cap - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

#define TF_ERR(...) (snprintf(err, errcap, __VA_ARGS__), TF_BAD)

static int tf_load_binary(FILE *f, const char *path, struct tf_trace *t, char *err, size_t errcap)
{
    struct gh_trace_header h;
    if (fread(&h, sizeof h, 1, f) != 1)
        return TF_ERR("%s: file ends inside the trace header", path);
    if (h.magic != GH_TRACE_MAGIC)
        return TF_ERR("%s: not a glassheap trace (bad magic)", path);
    if (h.version != GH_TRACE_VERSION)
        return TF_ERR("%s: trace format version %" PRIu32 ", this glassheap reads version %u", path, h.version,
                      GH_TRACE_VERSION);
    if (h.header_size < sizeof h || h.header_size > (1u << 20) || h.record_size < sizeof(struct gh_trace_record)
        || h.record_size > 4096)
        return TF_ERR("%s: bad trace header (header_size %" PRIu32 ", record_size %" PRIu32 ")", path,
                      h.header_size, h.record_size);
    if (h.header_size > sizeof h && fseek(f, (long)h.header_size, SEEK_SET) != 0)
        return TF_ERR("%s: file ends inside the trace header", path);
    t->format = TF_BINARY;
    t->pid = h.pid;
    t->start_ns = h.start_ns;
    t->mmap_threshold = h.mmap_threshold;
    tf_copy_str(t->policy, sizeof t->policy, h.policy, sizeof h.policy);
    tf_copy_str(t->cmdline, sizeof t->cmdline, h.cmdline, sizeof h.cmdline);

    struct tf_addrmap live = { 0 };
    struct tf_ids ids = { 0 };
    int rc = TF_OK;
    char rec[4096];
    uint64_t index = 0;
    size_t got;
    while ((got = fread(rec, 1, h.record_size, f)) == h.record_size) {
        struct gh_trace_record r;
        memcpy(&r, rec, sizeof r);
        index++;
        struct tf_op op = { .size = r.size, .time_ns = r.time_ns, .tid = r.tid, .call = r.op };
        uint32_t id;
        bool ok = true;
        switch (r.op) {
        case GH_TRACE_MALLOC:
        case GH_TRACE_CALLOC:
        case GH_TRACE_ALIGNED:
            if (!r.result) {
                t->failed++;
                continue;
            }
            if (r.op == GH_TRACE_ALIGNED && r.align && (r.align & (r.align - 1))) {
                rc = TF_ERR("%s: record %" PRIu64 ": alignment %" PRIu32 " is not a power of two", path, index,
                            r.align);
                goto out;
            }
            if (tf_map_get(&live, r.result, &id)) {
                rc = TF_ERR("%s: record %" PRIu64 ": allocation returned 0x%" PRIx64
                            ", which is still a live block: bad trace",
                            path, index, r.result);
                goto out;
            }
            op.kind = TF_ALLOC;
            op.align = r.align > 16 ? r.align : 0;
            if (!tf_id_take(&ids, &op.id)) {
                rc = TF_ERR("%s: record %" PRIu64 ": more than %" PRIu64 " blocks live at once: bad trace", path,
                            index, TF_MAX_IDS);
                goto out;
            }
            ok = tf_map_put(&live, r.result, op.id);
            break;
        case GH_TRACE_REALLOC:
            if (!r.ptr) { /* realloc(NULL, n): a malloc (the library records it so) */
                if (!r.result) {
                    t->failed++;
                    continue;
                }
                if (tf_map_get(&live, r.result, &id)) {
                    rc = TF_ERR("%s: record %" PRIu64 ": realloc returned 0x%" PRIx64
                                ", which is still a live block: bad trace",
                                path, index, r.result);
                    goto out;
                }
                op.kind = TF_ALLOC;
                if (!tf_id_take(&ids, &op.id)) {
                    rc = TF_ERR("%s: record %" PRIu64 ": more than %" PRIu64 " blocks live at once: bad trace", path,
                                index, TF_MAX_IDS);
                    goto out;
                }
                ok = tf_map_put(&live, r.result, op.id);
                break;
            }
            if (!tf_map_get(&live, r.ptr, &id)) {
                rc = TF_ERR("%s: record %" PRIu64 ": realloc of 0x%" PRIx64
                            ", which is not a live block (freed or never allocated): bad trace",
                            path, index, r.ptr);
                goto out;
            }
            op.id = id;
            if (!r.result) {
                if (r.size != 0) { /* failed: the block stays as it was */
                    t->failed++;
                    continue;
                }
                op.kind = TF_FREE; /* realloc(p, 0) */
                tf_map_del(&live, r.ptr);
                ok = tf_id_give(&ids, id);
                break;
            }
            op.kind = TF_REALLOC;
            if (r.result != r.ptr) {
                uint32_t other;
                if (tf_map_get(&live, r.result, &other)) {
                    rc = TF_ERR("%s: record %" PRIu64 ": realloc moved to 0x%" PRIx64
                                ", which is still a live block: bad trace",
                                path, index, r.result);
                    goto out;
                }
                tf_map_del(&live, r.ptr);
                ok = tf_map_put(&live, r.result, id);
            }
            break;
        case GH_TRACE_FREE:
            if (!r.ptr)
                continue; /* free(NULL) */
            if (!tf_map_get(&live, r.ptr, &id)) {
                rc = TF_ERR("%s: record %" PRIu64 ": free of 0x%" PRIx64
                            ", which is not a live block (double free or unknown address): bad trace",
                            path, index, r.ptr);
                goto out;
            }
            op.kind = TF_FREE;
            op.id = id;
            op.size = 0;
            tf_map_del(&live, r.ptr);
            ok = tf_id_give(&ids, id);
            break;
        default:
            rc = TF_ERR("%s: record %" PRIu64 ": unknown operation %u", path, index, (unsigned)r.op);
            goto out;
        }
        if (op.kind != TF_FREE && op.size > TF_MAX_SIZE) {
            rc = TF_ERR("%s: record %" PRIu64 ": size %" PRIu64 " is not a plausible size: bad trace", path, index,
                        op.size);
            goto out;
        }
        if (!ok || !tf_push(t, &op)) {
            rc = TF_ERR("%s: out of memory at record %" PRIu64, path, index);
            goto out;
        }
    }
    if (ferror(f))
        rc = TF_ERR("%s: read error: %s", path, strerror(errno));
    else if (got)
        fprintf(stderr, "glassheap: %s: ignoring %zu bytes after record %" PRIu64 " (a record cut short)\n", path,
                got, index);
out:
    t->nids = ids.next;
    tf_map_free(&live);
    free(ids.free_ids);
    return rc;
}

/* ---- the malloc-lab text format --------------------------------------- */

/* Parse an unsigned decimal number at *s (leading blanks skipped); false
 * when there is none or it overflows. */
bool tf_parse_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        return false;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return false;
        p++;
    }
    *s = p;
    *out = v;
    return true;
}

static bool tf_blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == '\0';
}

/* A rep trace whose ids are about as many as it uses (the largest below
 * TF_DENSE_FACTOR times the ids used + TF_DENSE_SLACK) goes back to the
 * file's own ids, so that every tool shows the ids the file has; only a
 * sparser one keeps the dense ids (and t->file_ids). */
static void keep_file_ids(struct tf_trace *t)
{
    uint64_t top = 0;
    for (uint32_t i = 0; i < t->nids; i++)
        if (t->file_ids[i] > top)
            top = t->file_ids[i];
    if (t->nids == 0 || top + 1 > TF_DENSE_FACTOR * (uint64_t)t->nids + TF_DENSE_SLACK)
        return;
    for (size_t i = 0; i < t->n; i++)
        t->ops[i].id = t->file_ids[t->ops[i].id];
    t->nids = (uint32_t)(top + 1);
    free(t->file_ids);
    t->file_ids = NULL;
}

static int tf_load_rep(FILE *f, const char *path, struct tf_trace *t, char *err, size_t errcap)
{
    static const char *const names[4] = { "suggested heap size", "number of ids", "number of operations", "weight" };
    uint64_t hdr[4] = { 0 };
    int nhdr = 0;
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    int rc = TF_OK;
    /* The file's ids become dense ones in order of first appearance, so
     * that memory follows the ids the file uses, not the ids its header
     * claims or the largest id it names (t->file_ids maps them back). */
    struct tf_addrmap dense = { 0 };  /* file id + 1 -> dense id */
    uint8_t *live = NULL;             /* by dense id */
    size_t file_ids_cap = 0;
    uint64_t declared_ids = 0;
    t->format = TF_REP;
    t->mmap_threshold = TF_DEFAULT_MMAP_THRESHOLD;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        if (tf_blank(line))
            continue;
        const char *p = line;
        if (nhdr < 4) {
            /* The header: four numbers, one a line (several on a line are
             * accepted, as the lab's driver reads them with scanf). */
            while (nhdr < 4 && !tf_blank(p)) {
                if (!tf_parse_u64(&p, &hdr[nhdr]) || (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')) {
                    rc = TF_ERR("%s:%lu: expected the header's %s (a number)", path, lineno, names[nhdr]);
                    goto out;
                }
                nhdr++;
            }
            if (!tf_blank(p)) {
                rc = TF_ERR("%s:%lu: unexpected text after the header", path, lineno);
                goto out;
            }
            if (nhdr == 4) {
                if (hdr[1] > TF_MAX_IDS) {
                    rc = TF_ERR("%s:%lu: %" PRIu64 " ids is more than this reader takes", path, lineno, hdr[1]);
                    goto out;
                }
                t->rep_heap = hdr[0];
                declared_ids = hdr[1];
                t->rep_ids = (uint32_t)hdr[1];
                t->rep_weight = hdr[3];
            }
            continue;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        char c = *p++;
        struct tf_op op = { .time_ns = 0 };
        uint64_t id = 0, size = 0;
        const char *what;
        switch (c) {
        case 'a':
            op.kind = TF_ALLOC;
            what = "a ID SIZE";
            break;
        case 'r':
            op.kind = TF_REALLOC;
            what = "r ID SIZE";
            break;
        case 'f':
            op.kind = TF_FREE;
            what = "f ID";
            break;
        default:
            rc = TF_ERR("%s:%lu: expected an operation 'a ID SIZE', 'r ID SIZE' or 'f ID'", path, lineno);
            goto out;
        }
        if ((*p != ' ' && *p != '\t') || !tf_parse_u64(&p, &id)
            || (op.kind != TF_FREE && (!tf_parse_u64(&p, &size) || size > TF_MAX_SIZE)) || !tf_blank(p)) {
            rc = TF_ERR("%s:%lu: malformed operation (expected '%s')", path, lineno, what);
            goto out;
        }
        if (t->n >= hdr[2]) {
            rc = TF_ERR("%s:%lu: more operations than the header's %" PRIu64, path, lineno, hdr[2]);
            goto out;
        }
        if (id >= declared_ids) {
            rc = TF_ERR("%s:%lu: id %" PRIu64 " is out of range (the header says %" PRIu64 " ids: 0 to %" PRIu64 ")",
                        path, lineno, id, declared_ids, declared_ids - 1);
            goto out;
        }
        uint32_t d;
        if (!tf_map_get(&dense, id + 1, &d)) {
            d = t->nids;
            if (d == file_ids_cap) {
                size_t ncap = file_ids_cap ? 2 * file_ids_cap : 1024;
                uint32_t *f2 = realloc(t->file_ids, ncap * sizeof *f2);
                uint8_t *l = f2 ? realloc(live, ncap) : NULL;
                if (f2)
                    t->file_ids = f2;
                if (!l) {
                    rc = TF_ERR("%s:%lu: out of memory for %" PRIu32 " ids", path, lineno, d + 1);
                    goto out;
                }
                memset(l + file_ids_cap, 0, ncap - file_ids_cap);
                live = l;
                file_ids_cap = ncap;
            }
            if (!tf_map_put(&dense, id + 1, d)) {
                rc = TF_ERR("%s:%lu: out of memory for %" PRIu32 " ids", path, lineno, d + 1);
                goto out;
            }
            t->file_ids[d] = (uint32_t)id;
            t->nids = d + 1;
        }
        if (op.kind == TF_ALLOC && live[d]) {
            rc = TF_ERR("%s:%lu: allocates id %" PRIu64 ", which is still live: bad trace", path, lineno, id);
            goto out;
        }
        if (op.kind != TF_ALLOC && !live[d]) {
            rc = TF_ERR("%s:%lu: %s id %" PRIu64 ", which is not live (freed or never allocated): bad trace", path,
                        lineno, op.kind == TF_FREE ? "frees" : "reallocates", id);
            goto out;
        }
        if (op.kind == TF_REALLOC && size == 0)
            op.kind = TF_FREE; /* realloc(p, 0) frees p */
        live[d] = op.kind != TF_FREE;
        op.id = d;
        op.size = size;
        if (!tf_push(t, &op)) {
            rc = TF_ERR("%s:%lu: out of memory", path, lineno);
            goto out;
        }
    }
    if (ferror(f))
        rc = TF_ERR("%s: read error: %s", path, strerror(errno));
    else if (nhdr == 0)
        rc = TF_ERR("%s: empty file (a malloc-lab trace starts with four header numbers)", path);
    else if (nhdr < 4)
        rc = TF_ERR("%s:%lu: file ends inside the header (expected the %s)", path, lineno, names[nhdr]);
    else if (t->n != hdr[2])
        rc = TF_ERR("%s:%lu: the header says %" PRIu64 " operations, the file has %zu", path, lineno, hdr[2], t->n);
    else
        keep_file_ids(t);
out:
    free(line);
    free(live);
    tf_map_free(&dense);
    return rc;
}

#undef TF_ERR

/* Load FILE (binary or rep, told apart by the binary magic) into t.
 * TF_OK; TF_NOFILE (cannot open) or TF_BAD (not a good trace), with a
 * message in err naming the line or record. */
int tf_load(const char *path, struct tf_trace *t, char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return TF_NOFILE;
    }
    unsigned char head[64];
    size_t got = fread(head, 1, sizeof head, f);
    uint64_t magic = 0;
    if (got >= sizeof magic)
        memcpy(&magic, head, sizeof magic);
    /* Not the magic, and bytes no text file has: say so rather than parse. */
    bool binary = false;
    for (size_t i = 0; i < got; i++)
        binary |= head[i] < 0x20 && head[i] != '\t' && head[i] != '\n' && head[i] != '\r';
    rewind(f);
    int rc;
    if (got >= sizeof magic && magic == GH_TRACE_MAGIC)
        rc = tf_load_binary(f, path, t, err, errcap);
    else if (binary)
        rc = (snprintf(err, errcap, "%s: not a glassheap trace (bad magic) and not malloc-lab text", path), TF_BAD);
    else
        rc = tf_load_rep(f, path, t, err, errcap);
    fclose(f);
    if (rc != TF_OK)
        tf_free(t);
    return rc;
}

/* The format's name as the tools print it: "binary" or "rep". */
const char *tf_format_name(const struct tf_trace *t)
{
    return t->format == TF_BINARY ? "binary" : "rep";
}

/* Parse a byte count with an optional K/M/G suffix (powers of 1024). */
bool tf_parse_bytes(const char *s, uint64_t *out)
{
    const char *p = s;
    uint64_t v;
    if (!tf_parse_u64(&p, &v))
        return false;
    unsigned shift = 0;
    if (*p == 'k' || *p == 'K')
        shift = 10, p++;
    else if (*p == 'm' || *p == 'M')
        shift = 20, p++;
    else if (*p == 'g' || *p == 'G')
        shift = 30, p++;
    if (*p || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = v << shift;
    return true;
}
