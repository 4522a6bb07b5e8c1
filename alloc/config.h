/* config.h - the configuration in force, parsed once from the environment.
 *
 * Every option is declared in options.def.  A bad value gives one line on
 * stderr naming the variable, the value and the accepted values, and the
 * default is used.  Parsing never allocates (it runs before the heap).
 */
#ifndef GH_CONFIG_H
#define GH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define GH_PATH_MAX 1024
/* A warning line is at most this many bytes, its newline included. */
#define GH_CONFIG_WARN_MAX 511

enum gh_stats_mode { GH_STATS_OFF = 0, GH_STATS_TEXT = 1, GH_STATS_JSON = 2 };

struct gh_config {
    char policy[8];              /* one of include/glassheap/policies.h */
    size_t mmap_threshold;
    bool mmap_threshold_set;     /* GLASSHEAP_MMAP_THRESHOLD was given (and valid):
                                  * the threshold stays where it says (front.h's
                                  * dynamic threshold off, as mallopt turns it off) */
    bool shm;
    enum gh_stats_mode stats;
    char stats_file[GH_PATH_MAX]; /* "" when unset */
    char trace[GH_PATH_MAX];
    bool harden;                 /* GLASSHEAP_HARDEN=1: harden.h */
    bool cache;                  /* GLASSHEAP_CACHE: tcache.h */
    unsigned arenas;             /* GLASSHEAP_ARENAS: 0 = auto (arena.h) */
};

/* Fill *c from the environment (secure_getenv), warning on stderr about
 * each bad value.  Returns the number of bad values. */
int gh_config_load(struct gh_config *c);

/* The value of variable name, or NULL when it is unset. */
typedef const char *(*gh_config_lookup)(const char *name, void *arg);

/* gh_config_load with the variables read through lookup(name, arg). */
int gh_config_parse(struct gh_config *c, gh_config_lookup lookup, void *arg);

/* Parse a size with an optional K/M/G suffix; false when malformed. */
bool gh_config_parse_size(const char *s, size_t *out);

/* Expand %p in pattern with pid into out (size outlen); false if too long. */
bool gh_config_expand_path(const char *pattern, long pid, char *out, size_t outlen);

#endif
