/* summary.c - gh_summary_parse and gh_summary_read (summary.h), over
 * jansson: the JSON is parsed, never searched for substrings. */
#include "summary.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* section.key (section NULL: a key of the top object) as an unsigned
 * count; false when absent or not one. */
static bool count(json_t *root, const char *section, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(section ? json_object_get(root, section) : root, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

bool gh_summary_parse(const char *text, size_t len, struct gh_summary *out)
{
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(root)) {
        json_decref(root);
        return false;
    }
    bool ok = count(root, "heap", "peak_heap_bytes", &out->peak_heap_bytes) &&
              count(root, "heap", "peak_requested", &out->peak_requested) &&
              count(root, "os", "brk_calls", &out->brk_calls) &&
              count(root, "os", "mmap_calls", &out->mmap_calls);
    if (ok) {
        if (!count(root, "large", "peak_bytes", &out->peak_large_bytes))
            out->peak_large_bytes = 0;
        const char *pol = json_string_value(json_object_get(root, "policy"));
        if (pol)
            snprintf(out->policy, sizeof out->policy, "%s", pol);
        out->have_free = count(root, "heap", "free_bytes", &out->free_bytes) &&
                         count(root, "heap", "largest_free", &out->largest_free);
        out->have_calls = count(root, "calls", "malloc", &out->malloc_calls) &&
                          count(root, "calls", "free", &out->free_calls);
        uint64_t dynamic = 0;
        out->have_threshold = count(root, NULL, "mmap_threshold", &out->mmap_threshold) &&
                              count(root, NULL, "mmap_threshold_dynamic", &dynamic) &&
                              count(root, NULL, "mmap_threshold_rises", &out->threshold_rises);
        out->threshold_dynamic = dynamic != 0;
        out->have_cache = count(root, "large", "cached_bytes", &out->cached_bytes) &&
                          count(root, "large", "reused", &out->reused);
    }
    json_decref(root);
    if (!ok)
        memset(out, 0, sizeof *out);
    return ok;
}

bool gh_summary_read(const char *path, struct gh_summary *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char *buf = malloc(GH_SUMMARY_MAX);
    size_t len = 0;
    ssize_t n;
    while (buf && len < GH_SUMMARY_MAX && (n = read(fd, buf + len, GH_SUMMARY_MAX - len)) > 0)
        len += (size_t)n;
    close(fd);
    bool ok = buf && gh_summary_parse(buf, len, out);
    free(buf);
    return ok;
}
