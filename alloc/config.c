/* config.c - the environment, read once (see options.def).
 *
 * Runs inside the first allocator call, before the heap exists: it reads
 * the variables through secure_getenv (or the lookup a unit test passes to
 * gh_config_parse), never allocates, and writes warnings with write(2).
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "glassheap/policies.h"
#include "heap.h"

enum kind { POLICY, SIZE, BOOL, STATS, PATH, ARENAS };

/* One line: "glassheap: VAR='VALUE' is not valid (accepted: ...); using 'DEF'".
 * A line too long for the buffer is cut, and still ends in a newline. */
static void warn_bad(const char *var, const char *value, const char *accepted, const char *def)
{
    char line[GH_CONFIG_WARN_MAX + 1];
    size_t n = 0;
    const char *parts[] = { "glassheap: ", var, "='", value, "' is not valid (accepted: ", accepted,
                            "); using '", def, "'\n", NULL };
    for (int i = 0; parts[i]; i++) {
        size_t l = strlen(parts[i]);
        if (n + l > sizeof line - 2) {
            l = sizeof line - 2 - n;
        }
        memcpy(line + n, parts[i], l);
        n += l;
    }
    if (line[n - 1] != '\n')
        line[n++] = '\n';
    line[n] = '\0';
    gh_write_str(2, line);
}

bool gh_config_parse_size(const char *s, size_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return false;
        s++;
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; s++; break;
    case 'm': case 'M': shift = 20; s++; break;
    case 'g': case 'G': shift = 30; s++; break;
    default: break;
    }
    if (*s != '\0')
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    v <<= shift;
    if (v > (uint64_t)SIZE_MAX / 2)
        return false;
    *out = (size_t)v;
    return true;
}

static bool copy_str(char *dst, size_t cap, const char *src)
{
    size_t l = strlen(src);
    if (l >= cap)
        return false;
    memcpy(dst, src, l + 1);
    return true;
}

/* Parse one value into its field; false when it is not acceptable. */
static bool parse(struct gh_config *c, enum kind k, void *field, const char *v)
{
    switch (k) {
    case POLICY:
        if (!gh_heap_policy_exists(v))
            return false;
        return copy_str(c->policy, sizeof c->policy, v);
    case SIZE:
        return gh_config_parse_size(v, (size_t *)field);
    case BOOL:
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
            return false;
        *(bool *)field = v[0] == '1';
        return true;
    case STATS:
        if (!strcmp(v, "0") || !strcmp(v, "") || !strcmp(v, "off"))
            *(enum gh_stats_mode *)field = GH_STATS_OFF;
        else if (!strcmp(v, "1") || !strcmp(v, "text"))
            *(enum gh_stats_mode *)field = GH_STATS_TEXT;
        else if (!strcmp(v, "json"))
            *(enum gh_stats_mode *)field = GH_STATS_JSON;
        else
            return false;
        return true;
    case PATH:
        return copy_str((char *)field, GH_PATH_MAX, v);
    case ARENAS: {
        unsigned n = 0;
        if (!strcmp(v, "auto")) {
            *(unsigned *)field = 0;
            return true;
        }
        for (const char *d = v; *d; d++) {
            if (*d < '0' || *d > '9' || d - v >= 3)
                return false;
            n = n * 10 + (unsigned)(*d - '0');
        }
        if (n < 1 || n > 128)
            return false;
        *(unsigned *)field = n;
        return true;
    }
    }
    return false;
}

/* A variable given with a valid value: note the fields whose being set
 * changes a rule (not only a value). */
static void given(struct gh_config *c, const void *field)
{
    if (field == &c->mmap_threshold)
        c->mmap_threshold_set = true;
}

int gh_config_parse(struct gh_config *c, gh_config_lookup lookup, void *arg)
{
    int bad = 0;
    memset(c, 0, sizeof *c);
#define GH_OPTION(field, var, kind, def, accepted, help) \
    parse(c, kind, &c->field, def);
#include "options.def"
#undef GH_OPTION
#define GH_OPTION(field, var, kind, def, accepted, help)        \
    do {                                                        \
        const char *v = lookup(var, arg);                       \
        if (v && !parse(c, kind, &c->field, v)) {               \
            warn_bad(var, v, accepted, def);                    \
            parse(c, kind, &c->field, def);                     \
            bad++;                                              \
        } else if (v) {                                         \
            given(c, &c->field);                                \
        }                                                       \
    } while (0);
#include "options.def"
#undef GH_OPTION
    return bad;
}

static const char *env_lookup(const char *name, void *arg)
{
    (void)arg;
    return secure_getenv(name);
}

int gh_config_load(struct gh_config *c)
{
    return gh_config_parse(c, env_lookup, NULL);
}

bool gh_config_expand_path(const char *pattern, long pid, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = pattern; *p; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            char num[24];
            int l = gh_fmt_dec(num, (unsigned long)pid);
            if (n + (size_t)l >= outlen)
                return false;
            memcpy(out + n, num, (size_t)l);
            n += (size_t)l;
            p++;
        } else {
            if (n + 1 >= outlen)
                return false;
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return true;
}
