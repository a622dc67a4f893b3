/* loom score: how well a model predicts a text: loss, perplexity, bits per byte, and where it
 * was surprised. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "formats/llama_gguf.h"
#include "generate/infer.h"
#include "generate/sampler.h"

typedef struct score_opts {
    const char *model;
    int show_confidence, color, threads, ctx_size, n_surprises;
} score_opts;

#define O(f) offsetof(score_opts, f)
static const lm_opt OPTS[] = {
    {"model", 'm', OPT_STR, O(model), 0, 0, 0, 0, NULL, "FILE    a GGUF model (required)"},
    {"show-confidence", 0, OPT_FLAG, O(show_confidence), 0, 0, 0, 1, NULL, "  print the text coloured by the probability the model gave each token, and the surprises"},
    {"color", 0, OPT_CHOICE, O(color), 0, 0, 0, 0, "auto|always|never", "WHEN    colours [auto: on a terminal]"},
    {"surprises", 0, OPT_INT, O(n_surprises), 0, 0, 1000, 0, NULL, "N   how many of the most surprising tokens to list [10]"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N     threads [all cores]"},
    {"ctx-size", 'c', OPT_INT, O(ctx_size), 0, 2, 1 << 20, 0, NULL, "N    window length [the model's context]"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f, "usage: loom score --model FILE TEXTFILE [flags]\n\n"
               "Prints the model's loss on the text (nats per token), its perplexity, and bits per byte.\n"
               "Windows of the context length are scored one after another.\n\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS};
    lm_args_print(&a, f);
    fprintf(f, "\nexample:\n  loom score --model runs/demo/model.gguf notes.txt --show-confidence\n");
}

typedef struct scored {
    int64_t pos;  /* token index */
    float p;      /* probability of the actual token */
    int32_t best; /* the model's first choice */
} scored;

static int by_prob(const void *a, const void *b) {
    float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return x < y ? -1 : x > y;
}

static void print_escaped(FILE *f, const char *s, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 32) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
}

int lm_cmd_score(int argc, char **argv) {
    score_opts so = {.n_surprises = 10};
    lm_args a = {.cmd = "score", .opts = OPTS, .n_opts = N_OPTS, .base = &so, .max_positional = 1};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!so.model || a.n_positional != 1) {
        fprintf(stderr, "loom score: %s (example: loom score --model model.gguf text.txt)\n",
                !so.model ? "--model FILE is required" : "give the text file to score");
        return 2;
    }
    lm_set_threads(so.threads);
    lm_error err = {0};
    lm_llama m;
    lm_tokenizer tok;
    if (lm_llama_load_gguf(so.model, &m, &tok, &err)) {
        rc = lm_cli_report("score", &err);
        return rc;
    }
    rc = 1;
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    float *logits = NULL, *probs = NULL;
    scored *sc = NULL;
    lm_infer inf = {0};
    int n = 0;
    if (lm_read_prompt(NULL, a.positional[0], &text, &len, &err) || lm_encode_text(&tok, text, len, &ids, &n, &err) ||
        lm_infer_create(&inf, &m, so.ctx_size, &err))
        goto fail;
    if (n < 2) {
        lm_fail(&err, LOOM_ERR_ARG, "'%s' is too short to score (at least 2 tokens)", a.positional[0]);
        goto fail;
    }
    int V = m.cfg.vocab, W = inf.n_ctx;
    logits = malloc((size_t)W * (size_t)V * sizeof(float));
    probs = malloc((size_t)V * sizeof(float));
    sc = malloc((size_t)n * sizeof(scored));
    if (!logits || !probs || !sc) {
        lm_fail(&err, LOOM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    double nats = 0;
    int64_t counted = 0, bytes = 0;
    /* windows overlap by one token, so that every token after the first is predicted once */
    for (int64_t s = 0; s + 1 < n; s += W - 1) {
        int w = (int)(n - s < W ? n - s : W);
        lm_infer_reset(&inf);
        if (lm_infer_eval(&inf, ids + s, w, logits, 1, &err)) goto fail;
        for (int t = 0; t + 1 < w; t++) {
            const float *z = logits + (size_t)t * V;
            lm_softmax(z, probs, V);
            int32_t y = ids[s + t + 1], best = 0;
            for (int v = 1; v < V; v++)
                if (z[v] > z[best]) best = v;
            double p = probs[y] > 1e-30f ? probs[y] : 1e-30;
            nats -= log(p);
            sc[counted] = (scored){s + t + 1, (float)p, best};
            counted++;
            bytes += tok.piece_len[y];
        }
    }
    double loss = nats / (double)counted;
    int color = so.color == 1 || (so.color == 0 && isatty(fileno(stdout)));
    if (so.show_confidence) {
        fwrite(tok.piece[ids[0]], 1, (size_t)tok.piece_len[ids[0]], stdout);
        for (int64_t i = 0; i < counted; i++) {
            int32_t y = ids[sc[i].pos];
            lm_print_confident(stdout, tok.piece[y], (size_t)tok.piece_len[y], sc[i].p, color);
        }
        printf("\n");
        lm_print_confidence_legend(stdout, color);
        scored *sorted = malloc((size_t)counted * sizeof(scored));
        if (sorted) {
            memcpy(sorted, sc, (size_t)counted * sizeof(scored));
            qsort(sorted, (size_t)counted, sizeof(scored), by_prob);
            int k = so.n_surprises < counted ? so.n_surprises : (int)counted;
            printf("\nthe %d most surprising tokens (probability the model gave them, and its own guess):\n", k);
            for (int i = 0; i < k; i++) {
                int64_t pos = sorted[i].pos;
                printf("  p=%.5f  ...", sorted[i].p);
                for (int64_t j = pos - 12 < 0 ? 0 : pos - 12; j < pos; j++)
                    print_escaped(stdout, tok.piece[ids[j]], tok.piece_len[ids[j]]);
                printf("[");
                print_escaped(stdout, tok.piece[ids[pos]], tok.piece_len[ids[pos]]);
                printf("]   expected [");
                print_escaped(stdout, tok.piece[sorted[i].best], tok.piece_len[sorted[i].best]);
                printf("]\n");
            }
            free(sorted);
        }
        printf("\n");
    }
    printf("tokens scored:   %lld (of %d; windows of %d)\n", (long long)counted, n, W);
    printf("loss:            %.4f nats/token\n", loss);
    printf("perplexity:      %.3f\n", exp(loss));
    printf("bits per byte:   %.4f\n", nats / log(2.0) / (double)(bytes ? bytes : 1));
    rc = 0;
    goto done;
fail:
    rc = lm_cli_report("score", &err);
done:
    lm_infer_free(&inf);
    free(sc);
    free(probs);
    free(logits);
    free(ids);
    free(text);
    lm_llama_free(&m);
    lm_tokenizer_free(&tok);
    lm_args_free(&a);
    return rc;
}
