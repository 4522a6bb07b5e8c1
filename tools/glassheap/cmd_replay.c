/* cmd_replay.c - glassheap replay: run a trace through the library's own
 * front end and heap.
 *
 *   glassheap replay FILE [--policy P|all] [--model glassheap|exact] [--cache] [--json]
 *                         [--svg FILE] [--mmap-threshold N]
 *   glassheap replay FILE --step [--policy P|all] [--model M] [--html FILE]
 *
 * Owns: the options and the order of the work: the growth model
 * (replay_model.c), one simulated process per policy (replay_sim.c, over
 * alloc/front.c as the preloaded library runs it), then the report
 * (replay_output.c) or the steps (replay_step.c).
 * replay.h tells how the parts fit and why the figures match a preloaded
 * run's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "outfile.h"
#include "replay.h"
#include "trace_args.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap replay FILE [--policy P|all] [--model M] [--cache] [--json] [--svg OUT.svg]\n"
            "                        [--mmap-threshold N]\n"
            "       glassheap replay FILE --step [--policy P|all] [--model M] [--html OUT.html]\n\n"
            "Replays an allocation trace (binary from GLASSHEAP_TRACE / glassheap record, or\n"
            "malloc-lab .rep text) through glassheap's own heap, one private arena per policy\n"
            "(first, next, best, worst, buddy; P may be a comma-separated list; default all),\n"
            "and reports peak heap, peak live bytes, Johnstone & Wilson's fragmentation #1-#4,\n"
            "internal and external fragmentation at peak live, and operations per second.\n"
            "  --model M        how the heap grows: glassheap (default: the library's own pad,\n"
            "                   trim and mmap thresholds, in pages; replay equals the preloaded run)\n"
            "                   or exact (the malloc-lab driver's: grows by exactly what a request\n"
            "                   lacks, never shrinks, nothing mapped apart)\n"
            "  --cache          the library's per-thread cache in front of every policy (the\n"
            "                   trace is one thread's); default: the pure policy, every block\n"
            "                   placed by it (docs/cache-and-arenas.md)\n"
            "  --json           one JSON object on stdout\n"
            "  --svg FILE       draw heap size and live bytes over time, every policy, one chart\n"
            "  --mmap-threshold requests this large are mapped apart (default: the trace's, or 128K)\n"
            "  --step           print the heap after each operation (traces of at most %u operations)\n"
            "  --html FILE      with --step: one page with a slider over the steps\n",
            REPLAY_STEP_MAX_OPS);
}

static bool parse_policies(const char *arg, const char **out, size_t *n)
{
    *n = 0;
    if (!strcmp(arg, "all")) {
        for (size_t i = 0; i < CLI_NPOLICIES; i++)
            out[(*n)++] = cli_policies[i];
        return true;
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t k = 0;
        while (k < CLI_NPOLICIES && strcmp(tok, cli_policies[k]))
            k++;
        if (k == CLI_NPOLICIES || *n == CLI_NPOLICIES)
            return false;
        out[(*n)++] = cli_policies[k];
    }
    return *n > 0;
}

struct replay_opts {
    const char *policies[CLI_NPOLICIES];
    size_t npol;
    const char *svg, *html;
    bool step, cache;
    enum replay_model_kind model;
};

enum { OPT_SVG = 0x200, OPT_STEP, OPT_HTML, OPT_MODEL, OPT_CACHE };

static int replay_option(void *ctx, int val, const char *arg)
{
    struct replay_opts *o = ctx;
    switch (val) {
    case 'p':
        if (!parse_policies(arg, o->policies, &o->npol)) {
            cli_error("replay: '%s' is not a policy (first, next, best, worst, buddy, or all)", arg);
            return GH_EXIT_USAGE;
        }
        return -1;
    case OPT_SVG:
        o->svg = arg;
        return -1;
    case OPT_STEP:
        o->step = true;
        return -1;
    case OPT_HTML:
        o->html = arg;
        return -1;
    case OPT_CACHE:
        o->cache = true;
        return -1;
    case OPT_MODEL:
        if (!replay_model_parse(arg, &o->model)) {
            cli_error("replay: '%s' is not a growth model (glassheap or exact)", arg);
            return GH_EXIT_USAGE;
        }
        return -1;
    default:
        help(stderr);
        return GH_EXIT_USAGE;
    }
}

/* Replay every policy asked for into res (--step output as it goes);
 * how many were done, *status GH_EXIT_FAIL when one had no arena. */
static size_t replay_all(const struct tf_trace *t, const struct replay_opts *o, const struct replay_model *m,
                         FILE *hf, struct result *res, int *status)
{
    size_t done = 0;
    for (size_t i = 0; i < o->npol; i++) {
        struct html_page page = { 0 };
        if (hf) {
            page.out = hf;
            page.span = html_span(t, m, o->policies[i]);
            fprintf(hf, "<svg xmlns='http://www.w3.org/2000/svg' width='800' height='90' font-size='12'>\n");
        }
        if (!replay_policy(t, m, o->policies[i], o->step && !hf ? stdout : NULL, hf ? &page : NULL,
                           &res[i])) {
            cli_error("replay: no memory for the %s heap's arena", o->policies[i]);
            *status = GH_EXIT_FAIL;
            break;
        }
        if (hf)
            fprintf(hf, "</svg>\n");
        done++;
    }
    return done;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option more_opts[] = {
        { "policy", required_argument, NULL, 'p' },
        { "svg", required_argument, NULL, OPT_SVG },
        { "step", no_argument, NULL, OPT_STEP },
        { "html", required_argument, NULL, OPT_HTML },
        { "model", required_argument, NULL, OPT_MODEL },
        { "cache", no_argument, NULL, OPT_CACHE },
        { NULL, 0, NULL, 0 },
    };
    struct replay_opts o = { .npol = 0 };
    parse_policies("all", o.policies, &o.npol);
    struct trace_args_more more = { more_opts, "p:h", replay_option, &o };
    struct trace_args a;
    int rc = trace_args_parse(argc, argv, "replay", &more, help, &a);
    if (rc >= 0)
        return rc;
    if (o.html && !o.step) {
        cli_error("replay: --html goes with --step");
        return GH_EXIT_USAGE;
    }
    if (o.model == MODEL_EXACT && a.threshold) {
        cli_error("replay: --mmap-threshold goes with --model glassheap (the exact model maps nothing apart)");
        return GH_EXIT_USAGE;
    }
    if (o.step && (a.json || o.svg)) {
        cli_error("replay: --step prints the heap after each operation; it does not mix with --json or --svg");
        return GH_EXIT_USAGE;
    }
    bool threshold_given = a.threshold != 0; /* before the trace's fills it */
    struct tf_trace t;
    if ((rc = trace_args_load(&a, &t)) >= 0)
        return rc;
    const char *path = a.path;
    if (o.step && t.n > REPLAY_STEP_MAX_OPS) {
        cli_error("replay: --step is for small traces: %s has %zu operations (at most %u)", path, t.n,
                  REPLAY_STEP_MAX_OPS);
        tf_free(&t);
        return GH_EXIT_USAGE;
    }
    if (t.n == 0) {
        cli_error("replay: %s holds no operations", path);
        tf_free(&t);
        return GH_EXIT_FAIL;
    }
    struct replay_model model;
    replay_model_init(&model, o.model, a.threshold, threshold_given, &t);
    model.cache = o.cache;
    struct result res[CLI_NPOLICIES];
    memset(res, 0, sizeof res);
    int status = GH_EXIT_OK;
    FILE *hf = NULL;
    if (o.html) {
        int refused = 0;
        hf = gh_outfile_fopen(o.html, &refused);
        if (!hf) {
            cli_error("replay: cannot write %s: %s", o.html, gh_outfile_strerror(refused));
            tf_free(&t);
            return GH_EXIT_FAIL;
        }
        html_begin(hf, path, t.n, &model);
    }
    if (o.step && !hf)
        replay_model_describe(stdout, &model, 0);
    size_t done = replay_all(&t, &o, &model, hf, res, &status);
    if (hf) {
        html_end(hf);
        if (fclose(hf) != 0) {
            cli_error("replay: cannot write %s", o.html);
            status = GH_EXIT_FAIL;
        }
    }
    if (status == GH_EXIT_OK && !o.step) {
        if (a.json)
            replay_print_json(&t, path, &model, res, done);
        else
            replay_print_table(&t, path, &model, res, done);
        int refused = 0;
        if (o.svg && !replay_write_svg(o.svg, &t, path, &model, res, done, &refused)) {
            cli_error("replay: cannot write %s: %s", o.svg, gh_outfile_strerror(refused));
            status = GH_EXIT_FAIL;
        }
    }
    for (size_t i = 0; i < done; i++)
        result_free(&res[i]);
    tf_free(&t);
    return status;
}
