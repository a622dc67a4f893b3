/* loom complete: a completion at a point in a source file, left to right or filled in the
 * middle, ending at the end of the block; with -n K, K candidates ranked by the model. */
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "formats/llama_gguf.h"
#include "generate/complete.h"
#include "util/progress.h"
#include "util/json.h"

typedef struct complete_opts {
    const char *model, *prefix, *suffix, *lang;
    int n, max_tokens;
    float temperature, top_p, min_p, repeat_penalty;
    int top_k, repeat_last_n;
    int64_t seed;
    int format, threads, ctx_size, no_fim, no_header, verbose;
} complete_opts;

enum { FMT_TEXT, FMT_JSONL };
enum { SET_TEMPERATURE = 1 };

#define O(f) offsetof(complete_opts, f)
static const lm_opt OPTS[] = {
    {"model", 'm', OPT_STR, O(model), 0, 0, 0, 0, NULL, "FILE    a GGUF model (required)"},
    {"prefix", 0, OPT_STR, O(prefix), 0, 0, 0, 0, NULL, "FILE   the code before the cursor (instead of SRC:LINE)"},
    {"suffix", 0, OPT_STR, O(suffix), 0, 0, 0, 0, NULL, "FILE   the code after the cursor (with --prefix)"},
    {"lang", 0, OPT_STR, O(lang), 0, 0, 0, 0, NULL, "NAME     python, c, cpp, java, js, ts, go, rust, cs or text [from the extension]"},
    {"candidates", 'n', OPT_INT, O(n), 0, 1, 100, 0, NULL, "K  candidates, best first by mean log-probability [1]"},
    {"max-tokens", 0, OPT_INT, O(max_tokens), 0, 1, 100000, 0, NULL, "N  tokens per candidate at most [256]"},
    {"temperature", 0, OPT_F32, O(temperature), SET_TEMPERATURE, 0, 100, 0, NULL, "F sampling temperature [0 (greedy) for one candidate, 0.6 for more]"},
    {"top-k", 0, OPT_INT, O(top_k), 0, 0, 1 << 30, 0, NULL, "N       keep the N most likely tokens; 0 = off [40]"},
    {"top-p", 0, OPT_F32, O(top_p), 0, 0, 1, 0, NULL, "F       keep the smallest set with probability >= F; 1 = off [0.95]"},
    {"min-p", 0, OPT_F32, O(min_p), 0, 0, 1, 0, NULL, "F       drop tokens below F x the top probability; 0 = off [0.05]"},
    {"repeat-penalty", 0, OPT_F32, O(repeat_penalty), 0, 1e-3, 100, 0, NULL, "F penalise recently seen tokens; 1 = off [1.15]"},
    {"repeat-last-n", 0, OPT_INT, O(repeat_last_n), 0, -1, 1 << 30, 0, NULL, "N how many recent tokens the penalty sees; -1 = all [64]"},
    {"seed", 's', OPT_I64, O(seed), 0, -1, 9.2e18, 0, NULL, "N        random seed (candidate k uses N + k); -1 = from the clock [-1]"},
    {"format", 0, OPT_CHOICE, O(format), 0, 0, 0, 0, "text|jsonl", "FMT    text, or jsonl: one JSON record per candidate with its score [text]"},
    {"no-fim", 0, OPT_FLAG, O(no_fim), 0, 0, 0, 1, NULL, "        complete left to right even when code follows the cursor"},
    {"no-path-header", 0, OPT_FLAG, O(no_header), 0, 0, 0, 1, NULL, "leave out the \"# path: FILE\" line put in front (as loom train --code does)"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N     threads [all cores]"},
    {"ctx-size", 'c', OPT_INT, O(ctx_size), 0, 8, 1 << 20, 0, NULL, "N    context length [the model's]"},
    {"verbose", 'v', OPT_FLAG, O(verbose), 0, 0, 0, 1, NULL, "         print the prompt's layout, scores and timings on standard error"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f, "usage: loom complete --model FILE SRC[:LINE[:COL]] [flags]\n"
               "       loom complete --model FILE --prefix FILE [--suffix FILE] [flags]\n"
               "       loom complete --model FILE --lang LANG < prefix\n\n"
               "Writes a completion at the cursor: the end of line LINE (or before column COL, counted in\n"
               "bytes from 1; without LINE, the end of the file). When code follows the cursor it is filled\n"
               "in the middle (<|fim_prefix|> before <|fim_suffix|> after <|fim_middle|>), else continued left\n"
               "to right. It ends at a natural boundary: for Python the end of the statement or block by\n"
               "indentation, for C-like languages when the braces it opened are closed (or the enclosing\n"
               "block ends), for every language the end token.\n\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS};
    lm_args_print(&a, f);
    fprintf(f, "\nexamples:\n"
               "  loom complete -m runs/code/model.gguf src/util.py:42\n"
               "  loom complete -m model.gguf main.c:10:5 -n 3 --format jsonl\n"
               "  printf 'def add(a, b):\\n' | loom complete -m model.gguf --lang python\n");
}

/* Splits "SRC:LINE[:COL]" from the right (paths may hold ':'); line and col are -1 when absent. */
static void split_spec(char *spec, int *line, int *col) {
    *line = *col = -1;
    long v[2];
    int nv = 0;
    for (int k = 0; k < 2; k++) {
        char *c = strrchr(spec, ':');
        if (!c || !c[1] || c == spec) break;
        char *end;
        long x = strtol(c + 1, &end, 10);
        if (*end || c[1] < '0' || c[1] > '9') break;
        v[nv++] = x < 0 ? 0 : x > (1L << 30) ? (1L << 30) : x;
        *c = 0;
    }
    if (nv == 1) *line = (int)v[0];
    if (nv == 2) *line = (int)v[1], *col = (int)v[0];
}

/* The cursor's byte offset for line (1-based) and col (1-based, -1 = end of the line). */
static int cursor_offset(const char *path, const char *t, size_t n, int line, int col, size_t *off) {
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += t[i] == '\n';
    if (n && t[n - 1] != '\n') lines++;
    /* after a final newline an editor shows one more (empty) line, where the cursor can be */
    int last = lines + (n == 0 || t[n - 1] == '\n');
    if (line < 1 || line > last) {
        fprintf(stderr, "loom complete: %s has %d line%s; line %d is %s\n", path, lines, lines == 1 ? "" : "s", line,
                line < 1 ? "not a line number (lines count from 1)" : "past the end");
        return 2;
    }
    size_t s = 0;
    for (int l = 1; l < line; l++) s = (size_t)((const char *)memchr(t + s, '\n', n - s) - t) + 1;
    const char *nl = memchr(t + s, '\n', n - s);
    size_t e = nl ? (size_t)(nl - t) : n;
    if (col < 0) {
        *off = e;
    } else if (col == 0) {
        fprintf(stderr, "loom complete: column 0 is not a column (columns count from 1)\n");
        return 2;
    } else if ((size_t)col - 1 > e - s) {
        fprintf(stderr, "loom complete: line %d of %s has %zu bytes; column %d is past its end\n", line, path, e - s,
                col);
        return 2;
    } else {
        *off = s + (size_t)col - 1;
    }
    return 0;
}

static char *read_stdin(size_t *len) {
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t got = fread(b + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0) break;
        if (n + 1 == cap) {
            if (cap >= (64u << 20)) break;
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (b) b[n] = 0;
    *len = n;
    return b;
}

static void print_text(const lm_candidate *c) {
    fwrite(c->text, 1, c->len, stdout);
    if (!c->len || c->text[c->len - 1] != '\n') fputc('\n', stdout);
}

int lm_cmd_complete(int argc, char **argv) {
    complete_opts g = {.n = 1, .max_tokens = 256, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                       .repeat_penalty = LM_CODE_REPEAT_PENALTY, .repeat_last_n = 64, .seed = -1};
    lm_args a = {.cmd = "complete", .opts = OPTS, .n_opts = N_OPTS, .base = &g, .max_positional = 1};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!g.model) {
        fprintf(stderr, "loom complete: --model FILE is required (example: loom complete -m model.gguf file.py:10)\n");
        return 2;
    }
    if (a.n_positional && (g.prefix || g.suffix)) {
        fprintf(stderr, "loom complete: give SRC:LINE or --prefix/--suffix, not both\n");
        return 2;
    }
    if (g.suffix && !g.prefix) {
        fprintf(stderr, "loom complete: --suffix needs --prefix FILE (the code before the cursor)\n");
        return 2;
    }
    lm_lang lang = LM_LANG_TEXT;
    if (g.lang && lm_lang_from_name(g.lang, &lang)) {
        fprintf(stderr, "loom complete: unknown --lang '%s' (python, c, cpp, java, js, ts, go, rust, cs, text)\n", g.lang);
        return 2;
    }
    if (!a.n_positional && !g.prefix && isatty(STDIN_FILENO)) {
        fprintf(stderr, "loom complete: nothing to complete: give SRC:LINE, --prefix FILE, or pipe code into standard input\n");
        return 2;
    }

    lm_error err = {0};
    char *text = NULL, *suf_text = NULL, *spec = NULL;
    size_t len = 0, suf_len = 0;
    const char *prefix, *suffix = "";
    size_t npre, nsuf = 0;
    lm_llama m;
    lm_tokenizer tok;
    int loaded = 0;
    lm_infer inf = {0};
    lm_complete_result res = {0};
    rc = 1;
    if (a.n_positional) {
        spec = strdup(a.positional[0]);
        if (!spec) goto oom;
        int line, col;
        split_spec(spec, &line, &col);
        if (lm_read_source(spec, &text, &len, &err)) goto fail;
        size_t off = len;
        if (line >= 0 && (rc = cursor_offset(spec, text, len, line, col, &off))) goto done;
        rc = 1;
        prefix = text, npre = off, suffix = text + off, nsuf = len - off;
        if (!g.lang) lang = lm_lang_from_path(spec);
    } else if (g.prefix) {
        if (lm_read_source(g.prefix, &text, &len, &err)) goto fail;
        if (g.suffix && lm_read_source(g.suffix, &suf_text, &suf_len, &err)) goto fail;
        prefix = text, npre = len;
        if (suf_text) suffix = suf_text, nsuf = suf_len;
        if (!g.lang) lang = lm_lang_from_path(g.prefix);
    } else {
        text = read_stdin(&len);
        if (!text) goto oom;
        prefix = text, npre = len;
    }

    lm_set_threads(g.threads);
    if (lm_llama_load_gguf(g.model, &m, &tok, &err)) goto fail;
    loaded = 1;
    if (lm_infer_create(&inf, &m, g.ctx_size, &err)) goto fail;
    lm_complete_model cm;
    lm_complete_model_infer(&cm, &inf);
    /* the path line a code corpus puts before each file; from standard input, a name that
     * says the language */
    char header[512] = "", stdin_name[32];
    const char *name = a.n_positional ? spec : g.prefix;
    if (!name && lm_lang_ext(lang)) {
        snprintf(stdin_name, sizeof stdin_name, "stdin.%s", lm_lang_ext(lang));
        name = stdin_name;
    }
    if (name && !g.no_header) lm_path_header(name, header, sizeof header);
    lm_complete_opts co = {.lang = lang, .n_candidates = g.n, .max_tokens = g.max_tokens, .use_fim = !g.no_fim,
                           .header = header};
    lm_sampler_defaults(&co.sampling);
    co.sampling.temperature = (a.set & SET_TEMPERATURE) ? g.temperature : g.n > 1 ? 0.6f : 0.0f;
    co.sampling.top_k = g.top_k;
    co.sampling.top_p = g.top_p;
    co.sampling.min_p = g.min_p;
    co.sampling.repeat_penalty = g.repeat_penalty;
    co.sampling.repeat_last_n = g.repeat_last_n;
    co.sampling.seed = lm_cli_seed(g.seed);
    double t0 = lm_now();
    if (lm_complete(&cm, &tok, prefix, npre, suffix, nsuf, &co, &res, &err)) goto fail;
    double secs = lm_now() - t0;
    if (res.fim_missing)
        fprintf(stderr, "loom complete: note: this model's vocabulary has no fill-in-the-middle tokens; "
                        "completing left to right from the code before the cursor\n");
    if (g.verbose)
        fprintf(stderr, "loom complete: %s, %s, prompt %d tokens%s, %d candidate%s in %.2fs, seed %llu\n",
                lm_lang_name(lang), res.fim ? "fill-in-the-middle" : "left to right", res.n_prompt,
                res.dropped_prefix || res.dropped_suffix ? " (cut to fit the context)" : "", res.n,
                res.n == 1 ? "" : "s", secs, (unsigned long long)co.sampling.seed);
    for (int i = 0; i < res.n; i++) {
        const lm_candidate *c = &res.cand[i];
        if (g.format == FMT_JSONL) {
            json_object *j = json_object_new_object();
            json_object_object_add(j, "rank", json_object_new_int(i + 1));
            lm_json_add_piece(j, "text", c->text, c->len);
            /* -inf (no token of its own: the context filled up) is not JSON */
            json_object_object_add(j, "mean_logprob",
                                   isfinite(c->mean_logprob) ? lm_json_double(c->mean_logprob) : NULL);
            json_object_object_add(j, "tokens", json_object_new_int(c->n_tokens));
            json_object_object_add(j, "stop", json_object_new_string(lm_complete_stop_name(c->stop)));
            json_object_object_add(j, "fim", json_object_new_boolean(res.fim));
            printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
            json_object_put(j);
        } else {
            if (res.n > 1) {
                int same = -1;
                for (int k = 0; k < i && same < 0; k++)
                    if (res.cand[k].len == c->len && !memcmp(res.cand[k].text, c->text, c->len)) same = k;
                printf("=== candidate %d of %d: mean log-prob %.4f, %d tokens, stop: %s", i + 1, res.n,
                       c->mean_logprob, c->n_tokens, lm_complete_stop_name(c->stop));
                if (same >= 0) printf(" (same text as candidate %d)", same + 1);
                printf(" ===\n");
            } else if (g.verbose) {
                fprintf(stderr, "loom complete: mean log-prob %.4f over %d tokens, stop: %s\n", c->mean_logprob,
                        c->n_tokens, lm_complete_stop_name(c->stop));
            }
            print_text(c);
        }
    }
    fflush(stdout);
    rc = 0;
    goto done;
oom:
    lm_fail(&err, LOOM_ERR_NOMEM, "out of memory");
fail:
    rc = lm_cli_report("complete", &err);
done:
    lm_complete_result_free(&res);
    lm_infer_free(&inf);
    if (loaded) {
        lm_llama_free(&m);
        lm_tokenizer_free(&tok);
    }
    free(text);
    free(suf_text);
    free(spec);
    lm_args_free(&a);
    return rc;
}
