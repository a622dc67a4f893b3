/* loom eval-code: a code model's figures on held-out Python and C files (function bodies that
 * parse, single-line fill-in-the-middle exact match, bits per byte, repairs that parse), each
 * next to the same figure for an untrained model of the same shape and tokenizer. */
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "formats/llama_gguf.h"
#include "generate/complete.h"
#include "generate/evalcode.h"
#include "util/json.h"

typedef struct evalc_opts {
    const char *model, *data, *samples;
    float temperature, repeat_penalty;
    int body_candidates;
    int baseline, max_functions, max_lines, max_fix, max_files, fix_samples, max_tokens, threads, format, quiet,
        ctx_size;
    int64_t seed;
} evalc_opts;

#define O(f) offsetof(evalc_opts, f)
static const lm_opt OPTS[] = {
    {"model", 'm', OPT_STR, O(model), 0, 0, 0, 0, NULL, "FILE    a GGUF code model (required)"},
    {"data", 'd', OPT_STR, O(data), 0, 0, 0, 0, NULL, "DIR      held-out source files: the .py, .c and .h files under DIR (required)"},
    {"baseline", 0, OPT_CHOICE, O(baseline), 0, 0, 0, 0, "untrained|none", "KIND  compare with an untrained model of the same shape and tokenizer, or nothing [untrained]"},
    {"max-functions", 0, OPT_INT, O(max_functions), 0, 0, 1 << 20, 0, NULL, "N  Python functions whose bodies are generated; 0 = skip [50]"},
    {"max-lines", 0, OPT_INT, O(max_lines), 0, 0, 1 << 20, 0, NULL, "N  lines filled in the middle; 0 = skip [50]"},
    {"max-fix", 0, OPT_INT, O(max_fix), 0, 0, 1 << 20, 0, NULL, "N    corrupted files to repair; 0 = skip [20]"},
    {"max-files", 0, OPT_INT, O(max_files), 0, 0, 1 << 20, 0, NULL, "N  read at most N files, in name order; 0 = all [0]"},
    {"fix-samples", 0, OPT_INT, O(fix_samples), 0, 1, 64, 0, NULL, "K infills per region for each repair, as fix -n [4]"},
    {"max-tokens", 0, OPT_INT, O(max_tokens), 0, 1, 100000, 0, NULL, "N  tokens per generated body at most [128]"},
    {"seed", 's', OPT_I64, O(seed), 0, 0, 9.2e18, 0, NULL, "N        chooses functions, lines, damage and the baseline's weights [1234]"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N     threads [all cores]"},
    {"ctx-size", 'c', OPT_INT, O(ctx_size), 0, 8, 1 << 20, 0, NULL, "N    context length [the model's]"},
    {"format", 0, OPT_CHOICE, O(format), 0, 0, 0, 0, "text|json", "FMT     a table, or one JSON object [text]"},
    {"body-candidates", 0, OPT_INT, O(body_candidates), 0, 1, 64, 0, NULL, "K bodies per function: the first greedy, the rest sampled; the likeliest (mean log-probability) is kept [1]"},
    {"temperature", 0, OPT_F32, O(temperature), 0, 0, 10, 0, NULL, "F  sampling temperature of the extra bodies [0.6]"},
    {"repeat-penalty", 0, OPT_F32, O(repeat_penalty), 0, 0.01, 100, 0, NULL, "F penalise tokens seen in the last 64 while writing bodies; 1 = off [1.15]"},
    {"samples", 0, OPT_STR, O(samples), 0, 0, 0, 0, NULL, "FILE    write every case (what was generated, what the file had) as JSON lines [none]"},
    {"quiet", 'q', OPT_FLAG, O(quiet), 0, 0, 0, 1, NULL, "         no progress lines on standard error"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f, "usage: loom eval-code --model FILE --data DIR [flags]\n\n"
               "Evaluates a code model on held-out Python and C files, next to an untrained model of the same\n"
               "shape and tokenizer:\n"
               "  function bodies parse  Python functions: from the signature (and docstring), a body generated\n"
               "                         greedily (repetition penalty 1.15: small models loop otherwise) to the\n"
               "                         end of the block, or cut to whole statements at --max-tokens; the share\n"
               "                         with which the file parses (an empty body counts as a failure)\n"
               "  line FIM exact match   random non-blank lines masked and filled in the middle (greedy); the\n"
               "                         share that match exactly (trailing whitespace ignored)\n"
               "  bits per byte          over the files, in windows of the context (as loom score)\n"
               "  repairs that parse     files with one random line deleted or damaged, repaired as loom fix\n"
               "                         does; the share that parse again\n"
               "Choices are drawn from --seed, so both models see the same cases. Code is parsed, never run.\n\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS};
    lm_args_print(&a, f);
    fprintf(f, "\nexample:\n  loom eval-code --model runs/code/model.gguf --data heldout/ --max-functions 20\n");
}

static int g_quiet;
static void progress(const char *msg) {
    if (!g_quiet) fprintf(stderr, "loom eval-code: %s\n", msg);
}

/* --samples: one JSON line per case, for reading what the model wrote */
typedef struct sample_sink {
    FILE *f;
    const char *who; /* "model" or "baseline" */
} sample_sink;

static void write_case(void *ud, const char *kind, const char *path, const char *gen, size_t n_gen, const char *orig,
                       size_t n_orig, int ok) {
    sample_sink *s = ud;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(s->who));
    json_object_object_add(o, "kind", json_object_new_string(kind));
    json_object_object_add(o, "file", json_object_new_string(path));
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    json_object_object_add(o, "generated", json_object_new_string_len(gen, (int)n_gen));
    if (orig) json_object_object_add(o, "original", json_object_new_string_len(orig, (int)n_orig));
    fprintf(s->f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static double share(int a, int n) { return n ? (double)a / n : 0.0; }
static double bpb(const lm_evalcode_result *r) { return r->bytes ? r->nats / log(2.0) / (double)r->bytes : 0.0; }

static void cell(char *out, size_t cap, int have, int a, int n) {
    if (!have) snprintf(out, cap, "-");
    else if (!n) snprintf(out, cap, "n/a");
    else snprintf(out, cap, "%.1f%% (%d/%d)", 100.0 * a / n, a, n);
}

static json_object *figures_json(const lm_evalcode_result *r) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "functions", json_object_new_int(r->fn_total));
    json_object_object_add(o, "functions_parse", json_object_new_int(r->fn_parse));
    json_object_object_add(o, "functions_parse_share", lm_json_double(share(r->fn_parse, r->fn_total)));
    json_object_object_add(o, "lines", json_object_new_int(r->line_total));
    json_object_object_add(o, "lines_exact", json_object_new_int(r->line_exact));
    json_object_object_add(o, "lines_exact_share", lm_json_double(share(r->line_exact, r->line_total)));
    json_object_object_add(o, "bits_per_byte", lm_json_double(bpb(r)));
    json_object_object_add(o, "tokens_scored", json_object_new_int64(r->tokens));
    json_object_object_add(o, "bytes_scored", json_object_new_int64(r->bytes));
    json_object_object_add(o, "repairs", json_object_new_int(r->fix_total));
    json_object_object_add(o, "repairs_parse", json_object_new_int(r->fix_ok));
    json_object_object_add(o, "repairs_parse_share", lm_json_double(share(r->fix_ok, r->fix_total)));
    json_object_object_add(o, "seconds", lm_json_double(r->seconds));
    return o;
}

int lm_cmd_eval_code(int argc, char **argv) {
    evalc_opts g = {.max_functions = 50, .max_lines = 50, .max_fix = 20, .fix_samples = 4, .max_tokens = 128,
                    .body_candidates = 1, .temperature = 0.6f, .repeat_penalty = LM_CODE_REPEAT_PENALTY,
                    .seed = 1234};
    lm_args a = {.cmd = "eval-code", .opts = OPTS, .n_opts = N_OPTS, .base = &g, .max_positional = 0};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!g.model || !g.data) {
        fprintf(stderr, "loom eval-code: %s is required (example: loom eval-code --model model.gguf --data heldout/)\n",
                !g.model ? "--model FILE" : "--data DIR");
        lm_args_free(&a);
        return 2;
    }
    g_quiet = g.quiet || g.format == 1;
    lm_set_threads(g.threads);
    lm_error err = {0};
    lm_evalcode_set set = {0};
    lm_llama m, base;
    lm_tokenizer tok;
    int loaded = 0, have_base = 0;
    lm_evalcode_result rm = {0}, rb = {0};
    sample_sink sink = {.who = "model"};
    rc = 1;
    if (lm_evalcode_load(g.data, g.max_files, &set, &err)) goto fail;
    if (lm_evalcode_check_parsers(&set, &err)) goto fail;
    if (lm_llama_load_gguf(g.model, &m, &tok, &err)) goto fail;
    loaded = 1;
    lm_evalcode_opts eo;
    lm_evalcode_defaults(&eo);
    eo.max_functions = g.max_functions;
    eo.max_lines = g.max_lines;
    eo.max_fix = g.max_fix;
    eo.fix_samples = g.fix_samples;
    eo.body_tokens = g.max_tokens;
    eo.body_candidates = g.body_candidates;
    eo.temperature = g.temperature;
    eo.repeat_penalty = g.repeat_penalty;
    eo.seed = (uint64_t)g.seed;
    eo.ctx_size = g.ctx_size;
    if (!g_quiet)
        fprintf(stderr, "loom eval-code: %d files (%d Python, %d C); evaluating %s\n", set.n, set.n_python, set.n_c,
                g.model);
    if (g.samples) {
        if (!(sink.f = fopen(g.samples, "w"))) {
            lm_fail(&err, LOOM_ERR_IO, "cannot write --samples file '%s' (check the folder exists and is writable)",
                    g.samples);
            goto fail;
        }
        eo.on_case = write_case;
        eo.ud = &sink;
    }
    if (lm_evalcode_run(&m, &tok, &set, &eo, &rm, progress, &err)) goto fail;
    if (g.baseline == 0) {
        if (lm_llama_create(&base, &m.cfg, 0, &err)) goto fail;
        have_base = 1;
        lm_llama_init(&base, (uint64_t)g.seed);
        if (!g_quiet) fprintf(stderr, "loom eval-code: evaluating the baseline (untrained, same shape and tokenizer)\n");
        sink.who = "baseline";
        if (lm_evalcode_run(&base, &tok, &set, &eo, &rb, progress, &err)) goto fail;
    }
    if (g.format == 1) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "model", json_object_new_string(g.model));
        json_object_object_add(o, "data", json_object_new_string(g.data));
        json_object_object_add(o, "files", json_object_new_int(set.n));
        json_object_object_add(o, "python_files", json_object_new_int(set.n_python));
        json_object_object_add(o, "c_files", json_object_new_int(set.n_c));
        json_object_object_add(o, "seed", json_object_new_int64(g.seed));
        json_object_object_add(o, "fim_missing", json_object_new_boolean(rm.fim_missing));
        json_object_object_add(o, "trained", figures_json(&rm));
        json_object_object_add(o, "baseline", have_base ? figures_json(&rb) : NULL);
        json_object_object_add(o, "baseline_kind", json_object_new_string(have_base ? "untrained" : "none"));
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        char c1[64], c2[64];
        printf("%d held-out files (%d Python, %d C), seed %lld\n\n", set.n, set.n_python, set.n_c, (long long)g.seed);
        printf("%-26s %-22s %s\n", "figure", "model", "baseline (untrained)");
        cell(c1, sizeof c1, 1, rm.fn_parse, rm.fn_total);
        cell(c2, sizeof c2, have_base, rb.fn_parse, rb.fn_total);
        printf("%-26s %-22s %s\n", "function bodies parse", c1, c2);
        cell(c1, sizeof c1, 1, rm.line_exact, rm.line_total);
        cell(c2, sizeof c2, have_base, rb.line_exact, rb.line_total);
        printf("%-26s %-22s %s\n", "line FIM exact match", c1, c2);
        snprintf(c1, sizeof c1, "%.4f", bpb(&rm));
        if (have_base) snprintf(c2, sizeof c2, "%.4f", bpb(&rb));
        else snprintf(c2, sizeof c2, "-");
        printf("%-26s %-22s %s\n", "bits per byte", c1, c2);
        cell(c1, sizeof c1, 1, rm.fix_ok, rm.fix_total);
        cell(c2, sizeof c2, have_base, rb.fix_ok, rb.fix_total);
        printf("%-26s %-22s %s\n", "repairs that parse", c1, c2);
        if (rm.fim_missing)
            printf("\nnote: this model's vocabulary has no fill-in-the-middle tokens; infills saw only the prefix\n");
    }
    rc = 0;
    goto done;
fail:
    rc = lm_cli_report("eval-code", &err);
done:
    if (sink.f && fclose(sink.f) && !rc) {
        fprintf(stderr, "loom eval-code: could not finish writing '%s' (disk full?)\n", g.samples);
        rc = 1;
    }
    if (have_base) lm_llama_free(&base);
    if (loaded) {
        lm_llama_free(&m);
        lm_tokenizer_free(&tok);
    }
    lm_evalcode_set_free(&set);
    lm_args_free(&a);
    return rc;
}
