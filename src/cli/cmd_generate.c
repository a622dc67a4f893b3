/* loom generate: continue a prompt with a model, streaming tokens as they are sampled. */
#include <json-c/json.h>
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
#include "generate/generate.h"
#include "util/json.h"

typedef struct gen_opts {
    const char *model, *prompt, *file;
    int n_predict;
    float temperature, top_p, min_p, repeat_penalty;
    int top_k, repeat_last_n;
    int64_t seed;
    lm_strlist stops;
    int show_confidence, format, color, threads, ctx_size, n_top, verbose;
} gen_opts;

enum { FMT_TEXT, FMT_JSONL };
enum { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

#define O(f) offsetof(gen_opts, f)
static const lm_opt OPTS[] = {
    {"model", 'm', OPT_STR, O(model), 0, 0, 0, 0, NULL, "FILE    a GGUF model (llama architecture; F32/F16/BF16) (required)"},
    {"prompt", 'p', OPT_STR, O(prompt), 0, 0, 0, 0, NULL, "TEXT   the prompt (or -f FILE, or standard input)"},
    {"file", 'f', OPT_STR, O(file), 0, 0, 0, 0, NULL, "FILE     read the prompt from a file"},
    {"n-predict", 'n', OPT_INT, O(n_predict), 0, 0, 1000000, 0, NULL, "N   tokens to generate; past the context the window slides [200]"},
    {"temperature", 0, OPT_F32, O(temperature), 0, 0, 100, 0, NULL, "F sampling temperature; 0 = greedy [0.8]"},
    {"top-k", 0, OPT_INT, O(top_k), 0, 0, 1 << 30, 0, NULL, "N       keep the N most likely tokens; 0 = off [40]"},
    {"top-p", 0, OPT_F32, O(top_p), 0, 0, 1, 0, NULL, "F       keep the smallest set with probability >= F; 1 = off [0.95]"},
    {"min-p", 0, OPT_F32, O(min_p), 0, 0, 1, 0, NULL, "F       drop tokens below F x the top probability; 0 = off [0.05]"},
    {"repeat-penalty", 0, OPT_F32, O(repeat_penalty), 0, 1e-3, 100, 0, NULL, "F penalise recently seen tokens; 1 = off [1.0]"},
    {"repeat-last-n", 0, OPT_INT, O(repeat_last_n), 0, -1, 1 << 30, 0, NULL, "N how many recent tokens the penalty sees; -1 = all [64]"},
    {"seed", 's', OPT_I64, O(seed), 0, -1, 9.2e18, 0, NULL, "N        random seed; -1 = from the clock [-1]"},
    {"stop", 0, OPT_LIST, O(stops), 0, 0, 0, 0, NULL, "TEXT     stop when TEXT is generated (not printed); repeatable"},
    {"show-confidence", 0, OPT_FLAG, O(show_confidence), 0, 0, 0, 1, NULL, "  colour each token by the model's probability for it"},
    {"format", 0, OPT_CHOICE, O(format), 0, 0, 0, 0, "text|jsonl", "FMT    text, or jsonl: one JSON record per token with its alternatives [text]"},
    {"color", 0, OPT_CHOICE, O(color), 0, 0, 0, 0, "auto|always|never", "WHEN    colours for --show-confidence [auto: on a terminal]"},
    {"top", 0, OPT_INT, O(n_top), 0, 0, 16, 0, NULL, "N         alternatives per token in jsonl [5]"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N     threads [all cores]"},
    {"ctx-size", 'c', OPT_INT, O(ctx_size), 0, 1, 1 << 20, 0, NULL, "N    context length [the model's]"},
    {"verbose", 'v', OPT_FLAG, O(verbose), 0, 0, 0, 1, NULL, "         print timings at the end"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f, "usage: loom generate --model FILE [-p TEXT | -f FILE | < stdin] [flags]\n\n"
               "Continues the prompt, printing tokens as they are sampled. Flags follow llama.cpp's names.\n\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS};
    lm_args_print(&a, f);
    fprintf(f, "\nexamples:\n"
               "  loom generate --model runs/demo/model.gguf -p \"A fortune: \" -n 120\n"
               "  loom generate -m model.gguf -p \"Once\" --temperature 0 --show-confidence\n"
               "  echo \"Q:\" | loom generate -m model.gguf --format jsonl -n 20\n");
}

typedef struct out_state {
    const char *prompt; /* echoed before the first token (so that errors come first) */
    size_t prompt_len;
    const lm_tokenizer *tok;
    int jsonl, confidence, color;
    int n_top;
} out_state;

static void echo_prompt(out_state *o) {
    if (o->prompt && !o->jsonl) fwrite(o->prompt, 1, o->prompt_len, stdout);
    o->prompt = NULL;
}

static int on_token(void *ud, const lm_gen_event *ev) {
    out_state *o = ud;
    echo_prompt(o);
    if (o->jsonl) {
        if (ev->id < 0) return 0;
        json_object *j = json_object_new_object();
        lm_json_add_piece(j, "text", ev->piece, (size_t)ev->piece_len);
        json_object_object_add(j, "id", json_object_new_int(ev->id));
        json_object_object_add(j, "prob", lm_json_double(ev->info->prob));
        json_object *top = json_object_new_array();
        for (int i = 0; i < ev->info->n_top && i < o->n_top; i++) {
            const lm_token_prob *tp = &ev->info->top[i];
            json_object *a = json_object_new_object();
            lm_json_add_piece(a, "text", o->tok->piece[tp->id], (size_t)o->tok->piece_len[tp->id]);
            json_object_object_add(a, "id", json_object_new_int(tp->id));
            json_object_object_add(a, "prob", lm_json_double(tp->prob));
            json_object_array_add(top, a);
        }
        json_object_object_add(j, "top", top);
        printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        fflush(stdout);
        return 0;
    }
    if (o->confidence && ev->text_len)
        lm_print_confident(stdout, ev->text, ev->text_len, ev->info ? ev->info->prob : 1.0f, o->color);
    else
        fwrite(ev->text, 1, ev->text_len, stdout);
    fflush(stdout);
    return 0;
}

int lm_cmd_generate(int argc, char **argv) {
    gen_opts g = {.n_predict = 200, .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                  .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = -1, .n_top = 5};
    lm_args a = {.cmd = "generate", .opts = OPTS, .n_opts = N_OPTS, .base = &g};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!g.model) {
        fprintf(stderr, "loom generate: --model FILE is required (example: loom generate -m runs/demo/model.gguf -p Hi)\n");
        return 2;
    }
    if (g.prompt && g.file) {
        fprintf(stderr, "loom generate: give the prompt with -p or -f, not both\n");
        return 2;
    }
    lm_error err = {0};
    lm_llama m;
    lm_tokenizer tok;
    lm_infer inf = {0};
    char *text = NULL;
    size_t text_len = 0;
    int32_t *ids = NULL;
    rc = 1;
    lm_set_threads(g.threads);
    if (lm_llama_load_gguf(g.model, &m, &tok, &err)) {
        rc = lm_cli_report("generate", &err);
        return rc;
    }
    if (lm_read_prompt(g.prompt, g.file, &text, &text_len, &err)) {
        rc = lm_cli_report("generate", &err);
        goto done;
    }
    int n_ids;
    if (lm_encode_text(&tok, text, text_len, &ids, &n_ids, &err)) {
        rc = lm_cli_report("generate", &err);
        goto done;
    }
    if (lm_infer_create(&inf, &m, g.ctx_size, &err)) {
        rc = lm_cli_report("generate", &err);
        goto done;
    }
    const char *stops[LM_STRLIST_MAX];
    for (int i = 0; i < g.stops.n; i++) stops[i] = g.stops.v[i];
    lm_gen_opts go = {.n_predict = g.n_predict, .stops = stops, .n_stops = g.stops.n, .want_top = g.format == FMT_JSONL ? g.n_top : 0};
    lm_sampler_defaults(&go.sampling);
    go.sampling.temperature = g.temperature;
    go.sampling.top_k = g.top_k;
    go.sampling.top_p = g.top_p;
    go.sampling.min_p = g.min_p;
    go.sampling.repeat_penalty = g.repeat_penalty;
    go.sampling.repeat_last_n = g.repeat_last_n;
    go.sampling.seed = lm_cli_seed(g.seed);
    int color = g.color == COLOR_ALWAYS || (g.color == COLOR_AUTO && isatty(fileno(stdout)));
    out_state os = {text, text_len, &tok, g.format == FMT_JSONL, g.show_confidence, color, g.n_top};
    lm_gen_stats st;
    if (lm_generate(&inf, &tok, ids, n_ids, &go, on_token, &os, &st, &err)) {
        if (!os.prompt && !os.jsonl) printf("\n");
        rc = lm_cli_report("generate", &err);
        goto done;
    }
    echo_prompt(&os);
    if (!os.jsonl) printf("\n");
    if (g.show_confidence && !os.jsonl) lm_print_confidence_legend(stderr, color);
    if (g.verbose)
        fprintf(stderr, "loom: prompt %d tokens in %.3fs (%.1f tok/s), generated %d tokens in %.3fs (%.1f tok/s), seed %llu\n",
                st.n_prompt, st.prompt_s, st.prompt_s > 0 ? st.n_prompt / st.prompt_s : 0, st.n_generated, st.gen_s,
                st.gen_s > 0 ? st.n_generated / st.gen_s : 0, (unsigned long long)go.sampling.seed);
    rc = 0;
done:
    lm_infer_free(&inf);
    free(ids);
    free(text);
    lm_llama_free(&m);
    lm_tokenizer_free(&tok);
    lm_args_free(&a);
    return rc;
}
