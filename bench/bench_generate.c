/* Generation speed of loom on a GGUF model, measured the way tests/llamacpp/llama.mjs bench
 * measures llama.cpp: prompt tokens/s (one batched pass of P tokens) and decode tokens/s (N
 * single-token steps), optionally after filling the cache to depth D. Prints one JSON line.
 *
 *   bench_generate MODEL.gguf PROMPT_TOKENS GEN_TOKENS DEPTH REPS THREADS
 */
#include <stdio.h>
#include <stdlib.h>

#include "formats/llama_gguf.h"
#include "generate/infer.h"
#include "kernels/kernels.h"
#include "util/clock.h"

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s MODEL.gguf PROMPT_TOKENS GEN_TOKENS DEPTH REPS THREADS\n", argv[0]);
        return 2;
    }
    int P = atoi(argv[2]), N = atoi(argv[3]), D = atoi(argv[4]), R = atoi(argv[5]);
    lm_set_threads(atoi(argv[6]));
    lm_error err;
    lm_llama m;
    lm_tokenizer tok;
    if (lm_llama_load_gguf(argv[1], &m, &tok, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int ctx = D + (P > N ? P : N) + 1;
    lm_infer s;
    if (lm_infer_create(&s, &m, ctx, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int V = m.cfg.vocab, total = D + P + N;
    int32_t *ids = malloc((size_t)total * sizeof(int32_t));
    float *logits = malloc((size_t)V * sizeof(float));
    for (int i = 0; i < total; i++) ids[i] = (i * 7919 + 13) % 256; /* byte tokens */
    double best_p = 0, best_d = 0, sum_p = 0, sum_d = 0;
    for (int r = 0; r <= R; r++) { /* r = 0 is an untimed warm-up */
        double tp = 0, td = 0;
        if (P > 0) {
            lm_infer_reset(&s);
            if (D && lm_infer_eval(&s, ids, D, logits, 0, &err)) goto fail;
            double t0 = lm_now();
            if (lm_infer_eval(&s, ids + D, P, logits, 0, &err)) goto fail;
            tp = P / (lm_now() - t0);
        }
        lm_infer_reset(&s);
        if (D && lm_infer_eval(&s, ids, D, logits, 0, &err)) goto fail;
        double t0 = lm_now();
        for (int i = 0; i < N; i++) {
            int32_t next = 0; /* greedy pick, as llama.mjs does */
            for (int v = 1; v < V; v++)
                if (logits[v] > logits[next]) next = v;
            (void)next;
            if (lm_infer_eval(&s, ids + D + i, 1, logits, 0, &err)) goto fail;
        }
        td = N / (lm_now() - t0);
        if (r == 0) continue;
        sum_p += tp;
        sum_d += td;
        if (tp > best_p) best_p = tp;
        if (td > best_d) best_d = td;
    }
    printf("{\"prompt_tokens_per_s\": %.1f, \"decode_tokens_per_s\": %.1f, \"prompt_best\": %.1f, \"decode_best\": %.1f, "
           "\"depth\": %d, \"params\": %zu}\n",
           sum_p / R, sum_d / R, best_p, best_d, D, m.n_params);
    return 0;
fail:
    fprintf(stderr, "%s\n", err.msg);
    return 1;
}
