/* loom fix: find the first syntax error with the language's own parser, let the model fill in
 * the lines around it, keep the infills with which the file parses, and print the best as a
 * unified diff (or apply it with --write). The code is parsed, never run. */
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "formats/llama_gguf.h"
#include "generate/repair.h"
#include "util/progress.h"
#include "util/io.h"

typedef struct fix_opts {
    const char *model, *lang;
    int n, max_tokens;
    float temperature, top_p, min_p;
    int top_k;
    int64_t seed;
    int write, threads, ctx_size, quiet, no_header, verbose;
} fix_opts;

#define O(f) offsetof(fix_opts, f)
static const lm_opt OPTS[] = {
    {"model", 'm', OPT_STR, O(model), 0, 0, 0, 0, NULL, "FILE    a GGUF model, best one trained with fill-in-the-middle (required)"},
    {"lang", 0, OPT_STR, O(lang), 0, 0, 0, 0, NULL, "NAME     python or c [from the extension]"},
    {"candidates", 'n', OPT_INT, O(n), 0, 1, 64, 0, NULL, "K  infills per region around the error (4 to 6 regions) [4]"},
    {"max-tokens", 0, OPT_INT, O(max_tokens), 0, 1, 10000, 0, NULL, "N  tokens per infill at most (the rest of the context holds the code around it) [64]"},
    {"temperature", 0, OPT_F32, O(temperature), 0, 0, 100, 0, NULL, "F sampling temperature (each region's first infill is greedy) [0.8]"},
    {"top-k", 0, OPT_INT, O(top_k), 0, 0, 1 << 30, 0, NULL, "N       keep the N most likely tokens; 0 = off [40]"},
    {"top-p", 0, OPT_F32, O(top_p), 0, 0, 1, 0, NULL, "F       keep the smallest set with probability >= F; 1 = off [0.95]"},
    {"min-p", 0, OPT_F32, O(min_p), 0, 0, 1, 0, NULL, "F       drop tokens below F x the top probability; 0 = off [0.05]"},
    {"seed", 's', OPT_I64, O(seed), 0, -1, 9.2e18, 0, NULL, "N        random seed; -1 = from the clock [-1]"},
    {"no-path-header", 0, OPT_FLAG, O(no_header), 0, 0, 0, 1, NULL, "leave out the \"# path: FILE\" line put in front (as loom train --code does)"},
    {"write", 'w', OPT_FLAG, O(write), 0, 0, 0, 1, NULL, "         apply the fix to SRC (atomically: all or nothing)"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N     threads [all cores]"},
    {"ctx-size", 'c', OPT_INT, O(ctx_size), 0, 8, 1 << 20, 0, NULL, "N    context length [the model's]"},
    {"quiet", 'q', OPT_FLAG, O(quiet), 0, 0, 0, 1, NULL, "         errors only on standard error"},
    {"verbose", 'v', OPT_FLAG, O(verbose), 0, 0, 0, 1, NULL, "       list every distinct infill, its score and whether the file parses with it"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f, "usage: loom fix --model FILE SRC [flags]\n\n"
               "Checks SRC with its language's parser (Python: python3's ast.parse; C: gcc -fsyntax-only; both\n"
               "looked up on PATH). If it does not parse, the model rewrites the lines around the first error\n"
               "(line L replaced; lines inserted before L; lines L-1..L; lines L..L+1; lines added at the end\n"
               "when L is the last line; for Python's \"never closed\" brackets, lines inserted where the\n"
               "bracket's statement should end), K infills each, and the most likely infill with which the\n"
               "whole file parses is printed as a unified diff. The code is only parsed, never run.\n"
               "Exit status: 0 fixed (or nothing to fix), 1 no infill parsed or an error.\n\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS};
    lm_args_print(&a, f);
    fprintf(f, "\nexamples:\n"
               "  loom fix -m runs/code/model.gguf broken.py\n"
               "  loom fix -m model.gguf main.c -n 8 --write\n"
               "  loom fix -m model.gguf broken.py | patch -p1\n");
}

/* Replaces path's contents with text, keeping its permissions; a link is followed, not replaced. */
static int write_back(const char *path, const char *text, size_t len, lm_error *err) {
    char real[PATH_MAX];
    if (!realpath(path, real)) return lm_fail(err, LOOM_ERR_IO, "cannot resolve '%s'", path);
    struct stat st;
    int have = stat(real, &st) == 0;
    if (lm_write_file_atomic(real, text, len, err)) return 1;
    if (have) chmod(real, st.st_mode & 07777);
    return 0;
}

/* One line per distinct infill on standard error: verdict, region, score, the text. */
static void list_infills(const lm_repair_result *r) {
    for (int i = 0; i < r->n_cands; i++) {
        const lm_repair_cand *c = &r->cands[i];
        char where[48];
        if (c->n_lines == 0)
            snprintf(where, sizeof where, "before line %d", c->first_line);
        else
            snprintf(where, sizeof where, "lines %d-%d", c->first_line, c->first_line + c->n_lines - 1);
        fprintf(stderr, "loom fix:   %-6s %-18s %8.3f  \"", c->parses ? "parses" : "no", where, c->mean_logprob);
        for (size_t k = 0; k < c->infill_len && k < 100; k++) {
            unsigned char ch = (unsigned char)c->infill[k];
            if (ch == '\n') fputs("\\n", stderr);
            else if (ch == '\t') fputs("\\t", stderr);
            else if (ch == '"' || ch == '\\') fprintf(stderr, "\\%c", ch);
            else if (ch < 32 || ch == 127) fprintf(stderr, "\\x%02x", ch);
            else fputc(ch, stderr);
        }
        fprintf(stderr, "\"%s\n", c->infill_len > 100 ? "..." : "");
    }
}

int lm_cmd_fix(int argc, char **argv) {
    fix_opts g = {.n = 4, .max_tokens = 64, .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .seed = -1};
    lm_args a = {.cmd = "fix", .opts = OPTS, .n_opts = N_OPTS, .base = &g, .max_positional = 1};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!g.model || a.n_positional != 1) {
        fprintf(stderr, "loom fix: %s (example: loom fix --model model.gguf broken.py)\n",
                !g.model ? "--model FILE is required" : "give the source file to fix");
        lm_args_free(&a);
        return 2;
    }
    const char *path = a.positional[0];
    lm_lang lang = LM_LANG_TEXT;
    if (g.lang ? lm_lang_from_name(g.lang, &lang) != 0 : (lang = lm_lang_from_path(path), 0)) {
        fprintf(stderr, "loom fix: unknown --lang '%s' (fix checks python and c)\n", g.lang);
        lm_args_free(&a);
        return 2;
    }
    if (!lm_repair_supported(lang)) {
        fprintf(stderr, "loom fix: fix checks Python (.py) and C (.c, .h) files; '%s' is %s (give --lang python or --lang c if it is one)\n",
                path, lm_lang_name(lang));
        lm_args_free(&a);
        return 2;
    }

    lm_error err = {0};
    char *text = NULL, *dir = NULL, *diff = NULL;
    size_t len = 0;
    lm_llama m;
    lm_tokenizer tok;
    int loaded = 0;
    lm_infer inf = {0};
    lm_repair_result res = {0};
    rc = 1;
    if (lm_read_source(path, &text, &len, &err)) goto fail;
    char *tmp = strdup(path);
    if (!tmp) goto oom;
    dir = strdup(dirname(tmp)); /* "quoted" #includes are found beside the file */
    free(tmp);
    if (!dir) goto oom;
    lm_parse_result pr;
    if (lm_parse_text(lang, text, len, dir, &pr, &err)) goto fail;
    if (pr.ok) {
        if (!g.quiet) fprintf(stderr, "loom fix: %s parses (%s); nothing to fix\n", path, lm_parser_name(lang));
        rc = 0;
        goto done;
    }
    if (pr.fatal) {
        fprintf(stderr, "loom fix: %s:%d: gcc cannot check this file: %s (fix repairs syntax errors only)\n", path,
                pr.line, pr.msg);
        goto done;
    }
    lm_set_threads(g.threads);
    if (lm_llama_load_gguf(g.model, &m, &tok, &err)) goto fail; /* first: an unusable model is the one line */
    loaded = 1;
    if (!g.quiet) fprintf(stderr, "loom fix: %s:%d: %s (%s)\n", path, pr.line, pr.msg, lm_parser_name(lang));
    if (lm_infer_create(&inf, &m, g.ctx_size, &err)) goto fail;
    lm_complete_model cm;
    lm_complete_model_infer(&cm, &inf);
    char header[512] = "";
    if (!g.no_header) lm_path_header(path, header, sizeof header);
    lm_repair_opts ro = {.lang = lang, .n_samples = g.n, .max_tokens = g.max_tokens, .include_dir = dir,
                         .header = header};
    lm_sampler_defaults(&ro.sampling);
    ro.sampling.temperature = g.temperature;
    ro.sampling.top_k = g.top_k;
    ro.sampling.top_p = g.top_p;
    ro.sampling.min_p = g.min_p;
    ro.sampling.seed = lm_cli_seed(g.seed);
    double t0 = lm_now();
    if (lm_repair(&cm, &tok, text, len, &pr, &ro, &res, &err)) goto fail;
    if (res.fim_missing && !g.quiet)
        fprintf(stderr, "loom fix: note: this model's vocabulary has no fill-in-the-middle tokens; the infills see "
                        "only the code before the error\n");
    if (g.verbose) list_infills(&res);
    if (!res.fixed) {
        fprintf(stderr, "loom fix: no infill made %s parse (%d tried around line %d, %d distinct); the file is unchanged\n",
                path, res.n_tried, pr.line, res.n_distinct);
        goto done;
    }
    char name_a[PATH_MAX + 8], name_b[PATH_MAX + 8];
    int abs = path[0] == '/';
    snprintf(name_a, sizeof name_a, "%s%s", abs ? "" : "a/", path);
    snprintf(name_b, sizeof name_b, "%s%s", abs ? "" : "b/", path);
    diff = lm_unified_diff(text, len, res.text, res.len, name_a, name_b, 3);
    if (!diff) goto oom;
    if (!g.write) fputs(diff, stdout);
    fflush(stdout);
    if (!g.quiet) {
        char where[64];
        if (res.n_lines == 0)
            snprintf(where, sizeof where, "lines inserted before line %d", res.first_line);
        else if (res.n_lines == 1)
            snprintf(where, sizeof where, "line %d rewritten", res.first_line);
        else
            snprintf(where, sizeof where, "lines %d-%d rewritten", res.first_line, res.first_line + res.n_lines - 1);
        fprintf(stderr, "loom fix: %s; %d of %d distinct infills parse (%d sampled, %.1fs); best mean log-prob %.3f\n",
                where, res.n_parsed, res.n_distinct, res.n_tried, lm_now() - t0, res.mean_logprob);
    }
    if (g.write) {
        if (write_back(path, res.text, res.len, &err)) goto fail;
        if (!g.quiet) fprintf(stderr, "loom fix: wrote %s\n", path);
    }
    rc = 0;
    goto done;
oom:
    lm_fail(&err, LOOM_ERR_NOMEM, "out of memory");
fail:
    rc = lm_cli_report("fix", &err);
done:
    lm_repair_result_free(&res);
    lm_infer_free(&inf);
    if (loaded) {
        lm_llama_free(&m);
        lm_tokenizer_free(&tok);
    }
    free(diff);
    free(text);
    free(dir);
    lm_args_free(&a);
    return rc;
}
