/* The public C API (include/loom.h): thin handles over the internal layers. */
#include <stdlib.h>
#include <string.h>

#include "formats/llama_gguf.h"
#include "generate/generate.h"
#include "loom.h"
#include "train/train.h"
#include "kernels/kernels.h"

struct loom_model {
    lm_llama llama;
    lm_tokenizer tok;
    lm_infer infer;
};

void loom_set_threads(int n) { lm_set_threads(n); }

loom_status loom_model_load(const char *path, loom_model **out, loom_error *err) {
    *out = NULL;
    if (!path) return lm_fail(err, LOOM_ERR_ARG, "loom_model_load: path is NULL");
    loom_model *m = calloc(1, sizeof *m);
    if (!m) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    loom_status s = lm_llama_load_gguf(path, &m->llama, &m->tok, err);
    if (!s) s = lm_infer_create(&m->infer, &m->llama, 0, err);
    if (s) {
        loom_model_free(m);
        return s;
    }
    *out = m;
    return LOOM_OK;
}

void loom_model_free(loom_model *m) {
    if (!m) return;
    lm_infer_free(&m->infer);
    lm_llama_free(&m->llama);
    lm_tokenizer_free(&m->tok);
    free(m);
}

int loom_model_vocab_size(const loom_model *m) { return m->llama.cfg.vocab; }
int loom_model_context(const loom_model *m) { return m->llama.cfg.context; }

void loom_sampling_default(loom_sampling *s) {
    lm_sampler_params p;
    lm_sampler_defaults(&p);
    *s = (loom_sampling){p.temperature, p.top_k, p.top_p, p.min_p, p.repeat_penalty, p.repeat_last_n, p.seed};
}

void loom_generate_params_default(loom_generate_params *p) {
    memset(p, 0, sizeof *p);
    p->n_predict = 200;
    loom_sampling_default(&p->sampling);
}

typedef struct api_cb {
    loom_token_fn fn;
    void *user;
} api_cb;

static int forward_token(void *ud, const lm_gen_event *ev) {
    api_cb *c = ud;
    if (!c->fn) return 0;
    loom_token t = {ev->id, ev->text, ev->text_len, ev->info ? ev->info->prob : 1.0f};
    return c->fn(&t, c->user);
}

loom_status loom_generate(loom_model *m, const loom_generate_params *p, loom_token_fn fn, void *user, loom_error *err) {
    if (!m || !p || !p->prompt) return lm_fail(err, LOOM_ERR_ARG, "loom_generate: model, params and prompt are required");
    int32_t *ids = NULL;
    int n = 0;
    loom_status s = lm_encode_text(&m->tok, p->prompt, strlen(p->prompt), &ids, &n, err);
    if (s) return s;
    lm_gen_opts o = {.n_predict = p->n_predict, .stops = p->stop, .n_stops = p->n_stop};
    const loom_sampling *q = &p->sampling;
    o.sampling = (lm_sampler_params){q->temperature, q->top_k, q->top_p, q->min_p, q->repeat_penalty, q->repeat_last_n, q->seed};
    api_cb cb = {fn, user};
    lm_gen_stats st;
    s = lm_generate(&m->infer, &m->tok, ids, n, &o, forward_token, &cb, &st, err);
    free(ids);
    return s;
}

void loom_train_params_default(loom_train_params *p) {
    memset(p, 0, sizeof *p);
    p->lr = 1e-3f;
    p->seed = 1337;
}

loom_status loom_train(const loom_train_params *p, loom_error *err) {
    if (!p || !p->data || !p->out_dir)
        return lm_fail(err, LOOM_ERR_ARG, "loom_train: data and out_dir are required");
    lm_train_opts o;
    lm_train_defaults(&o);
    unsigned set = 0;
    o.data = p->data;
    o.out = p->out_dir;
#define TAKE(field, dst, bit) \
    if (p->field > 0) {       \
        dst = p->field;       \
        set |= bit;           \
    }
    TAKE(layers, o.model.layers, LM_SET_LAYERS);
    TAKE(heads, o.model.heads, LM_SET_HEADS);
    TAKE(kv_heads, o.model.kv_heads, LM_SET_KV_HEADS);
    TAKE(dim, o.model.dim, LM_SET_DIM);
    TAKE(ffn_dim, o.model.ffn_dim, LM_SET_FFN);
    TAKE(context, o.model.context, LM_SET_CONTEXT);
    TAKE(batch, o.batch, LM_SET_BATCH);
    TAKE(steps, o.steps, LM_SET_STEPS);
    TAKE(threads, o.threads, LM_SET_THREADS);
    TAKE(lr, o.lr, LM_SET_LR);
#undef TAKE
    if ((set & LM_SET_HEADS) && !(set & LM_SET_KV_HEADS)) o.model.kv_heads = o.model.heads;
    o.seed = p->seed;
    o.resume = p->resume;
    o.overwrite = p->overwrite;
    o.quiet = p->quiet;
    lm_train_result r;
    return lm_train(&o, set, &r, err);
}
