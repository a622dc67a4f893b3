#include "train/checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "train/ckpt_io.h"
#include "util/io.h"

#define CKPT_MAGIC "LMCK"
#define CKPT_VERSION 1u

/* The header is a fixed list of fields (train/ckpt_io.h). */
#define N_FIELDS 40

static int header_fields(lm_ckpt_field *f, lm_train_opts *o, lm_llama_config *c, lm_ckpt_state *st, uint64_t *n_params) {
    int k = 0;
#define F4(x) f[k++] = (lm_ckpt_field){&(x), 4}
#define F8(x) f[k++] = (lm_ckpt_field){&(x), 8}
    F4(c->vocab); F4(c->dim); F4(c->layers); F4(c->heads); F4(c->kv_heads); F4(c->ffn_dim); F4(c->context);
    F4(c->tied); F4(c->norm_eps); F4(c->rope_theta);
    F4(o->val_frac); F4(o->batch); F4(o->grad_accum); F8(o->steps); F4(o->lr); F4(o->min_lr); F8(o->warmup);
    F4(o->weight_decay); F4(o->beta1); F4(o->beta2); F4(o->eps); F4(o->clip); F8(o->seed);
    F4(o->tokenizer); F4(o->vocab_size); F4(o->bpe_gpt2_pattern);
    F8(o->eval_every); F4(o->eval_iters); F8(o->save_every); F8(o->log_every); F4(o->threads);
    F8(st->step); F8(st->data_rng.s[0]); F8(st->data_rng.s[1]); F8(st->data_rng.s[2]); F8(st->data_rng.s[3]);
    F8(st->tokens_seen); F8(st->elapsed_s); F8(*n_params);
    f[k++] = (lm_ckpt_field){NULL, 0}; /* terminator */
#undef F4
#undef F8
    return k - 1;
}

static size_t header_size(void) {
    lm_train_opts o;
    lm_llama_config c;
    lm_ckpt_state st;
    uint64_t n;
    lm_ckpt_field f[N_FIELDS + 1];
    int k = header_fields(f, &o, &c, &st, &n);
    return lm_ckpt_fields_size(f, k);
}

loom_status lm_ckpt_save(const char *path, const lm_train_opts *o, const lm_llama *m, const float *adam_m,
                         const float *adam_v, const lm_ckpt_state *st, lm_error *err) {
    lm_train_opts oc = *o;
    lm_llama_config cc = m->cfg;
    lm_ckpt_state sc = *st;
    uint64_t n = m->n_params;
    lm_ckpt_field f[N_FIELDS + 1];
    int k = header_fields(f, &oc, &cc, &sc, &n);
    lm_ckpt_writer w;
    loom_status s = lm_ckpt_write_open(&w, path, CKPT_MAGIC, CKPT_VERSION, err);
    if (s) return s;
    lm_ckpt_write_fields(&w, f, k);
    lm_ckpt_write(&w, m->params, n * sizeof(float));
    lm_ckpt_write(&w, adam_m, n * sizeof(float));
    lm_ckpt_write(&w, adam_v, n * sizeof(float));
    return lm_ckpt_write_commit(&w, err);
}

/* Checks a whole checkpoint held in buf: magic, version, size and CRC. */
static loom_status verify(const uint8_t *buf, size_t len, const char *path, lm_error *err) {
    const char *hint = "(start again without --resume, or use another --out folder)";
    if (len < 8 || memcmp(buf, CKPT_MAGIC, 4) != 0)
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is not a loom checkpoint %s", path, hint);
    uint32_t ver;
    memcpy(&ver, buf + 4, 4);
    if (ver != CKPT_VERSION)
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' has version %u; this loom reads version %u %s", path,
                       ver, CKPT_VERSION, hint);
    size_t hs = 8 + header_size();
    if (len < hs + 4)
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' is truncated (%zu bytes) %s", path, len, hint);
    uint64_t n;
    memcpy(&n, buf + hs - 8, 8); /* n_params is the last header field */
    if (n > ((uint64_t)1 << 40) || len != hs + 3 * n * sizeof(float) + 4)
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' is truncated or corrupted (size %zu does not match) %s",
                       path, len, hint);
    if (!lm_ckpt_crc_ok(buf, len))
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' is corrupted (checksum mismatch) %s", path, hint);
    return LOOM_OK;
}

static loom_status read_whole(const char *path, uint8_t **buf, size_t *len, lm_error *err) {
    loom_status s = lm_read_file(path, 0, buf, len, err);
    return s ? lm_fail(err, s, "cannot read checkpoint: %s", err->msg) : LOOM_OK;
}

static void parse_header(const uint8_t *buf, lm_train_opts *o, lm_llama_config *c, lm_ckpt_state *st,
                         uint64_t *n) {
    lm_ckpt_field f[N_FIELDS + 1];
    int k = header_fields(f, o, c, st, n);
    lm_ckpt_fields_read(f, k, buf + 8);
}

loom_status lm_ckpt_peek_mem(const uint8_t *buf, size_t len, const char *name, lm_train_opts *o,
                             lm_llama_config *cfg, lm_ckpt_state *st, lm_error *err) {
    loom_status s = verify(buf, len, name, err);
    if (s) return s;
    uint64_t n;
    parse_header(buf, o, cfg, st, &n);
    if (lm_llama_check_config(cfg, err))
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' holds an invalid model: %s", name, err->msg);
    /* the caller allocates the model cfg describes: it must be the one whose arrays the file holds */
    if (n != lm_llama_n_params(cfg))
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "checkpoint '%s' is corrupted (its model has %zu parameters but it holds %llu) (start again "
                       "without --resume, or use another --out folder)",
                       name, lm_llama_n_params(cfg), (unsigned long long)n);
    return LOOM_OK;
}

loom_status lm_ckpt_peek(const char *path, lm_train_opts *o, lm_llama_config *cfg, lm_ckpt_state *st,
                         lm_error *err) {
    uint8_t *buf;
    size_t len;
    loom_status s = read_whole(path, &buf, &len, err);
    if (s) return s;
    s = lm_ckpt_peek_mem(buf, len, path, o, cfg, st, err);
    free(buf);
    return s;
}

loom_status lm_ckpt_load_mem(const uint8_t *buf, size_t len, const char *name, lm_llama *m, float *adam_m,
                             float *adam_v, lm_ckpt_state *st, lm_error *err) {
    loom_status s = verify(buf, len, name, err);
    if (s) return s;
    lm_train_opts o;
    lm_llama_config c;
    uint64_t n;
    parse_header(buf, &o, &c, st, &n);
    if (n != m->n_params || memcmp(&c, &m->cfg, sizeof c) != 0)
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' holds a different model than the one requested", name);
    const uint8_t *p = buf + 8 + header_size();
    memcpy(m->params, p, n * sizeof(float));
    memcpy(adam_m, p + n * sizeof(float), n * sizeof(float));
    memcpy(adam_v, p + 2 * n * sizeof(float), n * sizeof(float));
    return LOOM_OK;
}

loom_status lm_ckpt_load(const char *path, lm_llama *m, float *adam_m, float *adam_v, lm_ckpt_state *st,
                         lm_error *err) {
    uint8_t *buf;
    size_t len;
    loom_status s = read_whole(path, &buf, &len, err);
    if (s) return s;
    s = lm_ckpt_load_mem(buf, len, path, m, adam_m, adam_v, st, err);
    free(buf);
    return s;
}
