#include "train/checkpoint.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/io.h"

#define CKPT_MAGIC "LMCK"
#define CKPT_VERSION 1u

/* The header is a fixed list of fields; the writer and reader walk the same list, so the
 * two can never disagree on the layout. */
typedef struct field {
    void *p;
    int size; /* 4 or 8 bytes */
} field;

#define N_FIELDS 40

static int header_fields(field *f, lm_train_opts *o, lm_llama_config *c, lm_ckpt_state *st, uint64_t *n_params) {
    int k = 0;
#define F4(x) f[k++] = (field){&(x), 4}
#define F8(x) f[k++] = (field){&(x), 8}
    F4(c->vocab); F4(c->dim); F4(c->layers); F4(c->heads); F4(c->kv_heads); F4(c->ffn_dim); F4(c->context);
    F4(c->tied); F4(c->norm_eps); F4(c->rope_theta);
    F4(o->val_frac); F4(o->batch); F4(o->grad_accum); F8(o->steps); F4(o->lr); F4(o->min_lr); F8(o->warmup);
    F4(o->weight_decay); F4(o->beta1); F4(o->beta2); F4(o->eps); F4(o->clip); F8(o->seed);
    F4(o->tokenizer); F4(o->vocab_size); F4(o->bpe_gpt2_pattern);
    F8(o->eval_every); F4(o->eval_iters); F8(o->save_every); F8(o->log_every); F4(o->threads);
    F8(st->step); F8(st->data_rng.s[0]); F8(st->data_rng.s[1]); F8(st->data_rng.s[2]); F8(st->data_rng.s[3]);
    F8(st->tokens_seen); F8(st->elapsed_s); F8(*n_params);
    f[k++] = (field){NULL, 0}; /* terminator */
#undef F4
#undef F8
    return k - 1;
}

static size_t header_size(void) {
    lm_train_opts o;
    lm_llama_config c;
    lm_ckpt_state st;
    uint64_t n;
    field f[N_FIELDS + 1];
    int k = header_fields(f, &o, &c, &st, &n);
    size_t s = 0;
    for (int i = 0; i < k; i++) s += (size_t)f[i].size;
    return s;
}

static void write_crc(lm_afile *af, uLong *crc, const void *p, size_t n) {
    lm_afile_write(af, p, n);
    /* zlib's crc32 takes a uInt length: feed large arrays in slices */
    const Bytef *b = p;
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        *crc = crc32(*crc, b, chunk);
        b += chunk;
        n -= chunk;
    }
}

loom_status lm_ckpt_save(const char *path, const lm_train_opts *o, const lm_llama *m, const float *adam_m,
                         const float *adam_v, const lm_ckpt_state *st, lm_error *err) {
    lm_train_opts oc = *o;
    lm_llama_config cc = m->cfg;
    lm_ckpt_state sc = *st;
    uint64_t n = m->n_params;
    field f[N_FIELDS + 1];
    int k = header_fields(f, &oc, &cc, &sc, &n);
    lm_afile af;
    loom_status s = lm_afile_open(&af, path, err);
    if (s) return s;
    uLong crc = crc32(0L, Z_NULL, 0);
    uint32_t ver = CKPT_VERSION;
    write_crc(&af, &crc, CKPT_MAGIC, 4);
    write_crc(&af, &crc, &ver, 4);
    for (int i = 0; i < k; i++) write_crc(&af, &crc, f[i].p, (size_t)f[i].size);
    write_crc(&af, &crc, m->params, n * sizeof(float));
    write_crc(&af, &crc, adam_m, n * sizeof(float));
    write_crc(&af, &crc, adam_v, n * sizeof(float));
    uint32_t c32 = (uint32_t)crc;
    lm_afile_write(&af, &c32, 4);
    return lm_afile_commit(&af, err);
}

/* Reads and verifies the whole file; on success *buf holds it. */
static loom_status read_verified(const char *path, uint8_t **buf, size_t *len, lm_error *err) {
    loom_status s = lm_read_file(path, 0, buf, len, err);
    if (s) return lm_fail(err, s, "cannot read checkpoint: %s", err->msg);
    const char *hint = "(start again without --resume, or use another --out folder)";
    if (*len < 8 || memcmp(*buf, CKPT_MAGIC, 4) != 0) {
        free(*buf);
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is not a loom checkpoint %s", path, hint);
    }
    uint32_t ver;
    memcpy(&ver, *buf + 4, 4);
    if (ver != CKPT_VERSION) {
        free(*buf);
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' has version %u; this loom reads version %u %s", path,
                       ver, CKPT_VERSION, hint);
    }
    size_t hs = 8 + header_size();
    if (*len < hs + 4) {
        free(*buf);
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' is truncated (%zu bytes) %s", path, *len, hint);
    }
    uint64_t n;
    memcpy(&n, *buf + hs - 8, 8); /* n_params is the last header field */
    if (n > ((uint64_t)1 << 40) || *len != hs + 3 * n * sizeof(float) + 4) {
        free(*buf);
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' is truncated or corrupted (size %zu does not match) %s",
                       path, *len, hint);
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    const uint8_t *p = *buf;
    size_t left = *len - 4;
    while (left) {
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        crc = crc32(crc, p, chunk);
        p += chunk;
        left -= chunk;
    }
    uint32_t stored;
    memcpy(&stored, *buf + *len - 4, 4);
    if (stored != (uint32_t)crc) {
        free(*buf);
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' is corrupted (checksum mismatch) %s", path, hint);
    }
    return LOOM_OK;
}

static void parse_header(const uint8_t *buf, lm_train_opts *o, lm_llama_config *c, lm_ckpt_state *st,
                         uint64_t *n) {
    field f[N_FIELDS + 1];
    int k = header_fields(f, o, c, st, n);
    size_t off = 8;
    for (int i = 0; i < k; i++) {
        memcpy(f[i].p, buf + off, (size_t)f[i].size);
        off += (size_t)f[i].size;
    }
}

loom_status lm_ckpt_peek(const char *path, lm_train_opts *o, lm_llama_config *cfg, lm_error *err) {
    uint8_t *buf;
    size_t len;
    loom_status s = read_verified(path, &buf, &len, err);
    if (s) return s;
    lm_ckpt_state st;
    uint64_t n;
    parse_header(buf, o, cfg, &st, &n);
    free(buf);
    return lm_llama_check_config(cfg, err) ? lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' holds an invalid model: %s",
                                                     path, err->msg)
                                           : LOOM_OK;
}

loom_status lm_ckpt_load(const char *path, lm_llama *m, float *adam_m, float *adam_v, lm_ckpt_state *st,
                         lm_error *err) {
    uint8_t *buf;
    size_t len;
    loom_status s = read_verified(path, &buf, &len, err);
    if (s) return s;
    lm_train_opts o;
    lm_llama_config c;
    uint64_t n;
    parse_header(buf, &o, &c, st, &n);
    if (n != m->n_params || memcmp(&c, &m->cfg, sizeof c) != 0) {
        free(buf);
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' holds a different model than the one requested", path);
    }
    const uint8_t *p = buf + 8 + header_size();
    memcpy(m->params, p, n * sizeof(float));
    memcpy(adam_m, p + n * sizeof(float), n * sizeof(float));
    memcpy(adam_v, p + 2 * n * sizeof(float), n * sizeof(float));
    free(buf);
    return LOOM_OK;
}
