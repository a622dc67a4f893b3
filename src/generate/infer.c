#include "generate/infer.h"

#include <stdlib.h>
#include <string.h>

loom_status lm_infer_create(lm_infer *s, lm_llama *m, int n_ctx, lm_error *err) {
    memset(s, 0, sizeof *s);
    s->m = m;
    s->n_ctx = n_ctx > 0 ? n_ctx : m->cfg.context;
    if (s->n_ctx > (1 << 20)) return lm_fail(err, LOOM_ERR_ARG, "context %d is too large (at most 1048576)", s->n_ctx);
    size_t per = (size_t)m->cfg.layers * (size_t)s->n_ctx * (size_t)(m->cfg.kv_heads * (m->cfg.dim / m->cfg.heads));
    s->kcache = calloc(per, sizeof(float));
    s->vcache = calloc(per, sizeof(float));
    if (!s->kcache || !s->vcache) {
        lm_infer_free(s);
        return lm_fail(err, LOOM_ERR_NOMEM, "cannot allocate the KV cache (%zu MiB); use a smaller context",
                       per * 8 >> 20);
    }
    loom_status st = lm_llama_build_cached(&s->step, m, 1, s->kcache, s->vcache, s->n_ctx, 1, err);
    if (st) lm_infer_free(s);
    return st;
}

void lm_infer_free(lm_infer *s) {
    lm_llama_graph_free(&s->step);
    free(s->kcache);
    free(s->vcache);
    memset(s, 0, sizeof *s);
}

void lm_infer_reset(lm_infer *s) { s->n_past = 0; }

int lm_infer_truncate(lm_infer *s, int64_t n) {
    if (n < 0 || n > s->n_past) return -1;
    s->n_past = n;
    return 0;
}

loom_status lm_infer_eval(lm_infer *s, const int32_t *ids, int n, float *logits, int all, lm_error *err) {
    if (n <= 0) return lm_fail(err, LOOM_ERR_ARG, "nothing to evaluate");
    if (s->n_past + n > s->n_ctx)
        return lm_fail(err, LOOM_ERR_ARG, "the context is full (%d tokens); start again or use a larger context",
                       s->n_ctx);
    int V = s->m->cfg.vocab;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return lm_fail(err, LOOM_ERR_ARG, "token id %d is outside the vocabulary (0..%d)", ids[i], V - 1);
    lm_llama_graph tmp, *lg = &s->step;
    if (n > 1 || all) {
        /* a prompt: one graph over all its tokens (built per call; building is cheap next to running) */
        loom_status st = lm_llama_build_cached(&tmp, s->m, n, s->kcache, s->vcache, s->n_ctx, !all, err);
        if (st) return st;
        lg = &tmp;
    }
    memcpy(lm_idata(lg->g, lg->tokens), ids, (size_t)n * sizeof(int32_t));
    lm_graph_set_pos(lg->g, s->n_past);
    lm_graph_forward(lg->g);
    size_t nl = (size_t)(all ? n : 1) * (size_t)V;
    memcpy(logits, lm_data(lg->g, lg->logits), nl * sizeof(float));
    s->n_past += n;
    if (lg != &s->step) lm_llama_graph_free(&tmp);
    /* Non-finite logits would be sampled as if the model were sure of something: an error instead.
     * The weights were checked at load, so this is an overflow inside the model. */
    const uint32_t *bits = (const uint32_t *)logits;
    uint32_t bad = 0;
    for (size_t i = 0; i < nl; i++) bad |= (bits[i] & 0x7f800000u) == 0x7f800000u;
    if (bad)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "the model computed non-finite logits at position %d: its weights overflow (suspect "
                       "token_embd.weight and the norms' weights; was it saved from a run that diverged?)",
                       (int)(s->n_past - 1));
    return LOOM_OK;
}
