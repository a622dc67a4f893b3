#include "train/ckpt_image.h"

#include <stdlib.h>
#include <string.h>

#include "train/ckpt_io.h"
#include "util/io.h"

#define CKPT_MAGIC "LMCI"
#define CKPT_VERSION 1u
#define MAX_PATH_BYTES 4096u

/* The header is a fixed list of fields (train/ckpt_io.h). */
#define N_FIELDS (10 + LM_UNET_MAX_LEVELS + 20 + 10)

static int header_fields(lm_ckpt_field *f, lm_train_image_opts *o, lm_unet_config *c, lm_ckpt_image_state *st,
                         uint64_t *n_params) {
    int k = 0;
#define F4(x) f[k++] = (lm_ckpt_field){&(x), 4}
#define F8(x) f[k++] = (lm_ckpt_field){&(x), 8}
    F4(c->channels); F4(c->size); F4(c->levels);
    for (int i = 0; i < LM_UNET_MAX_LEVELS; i++) F4(c->widths[i]);
    F4(c->n_labels); F4(c->groups); F4(c->head_dim);
    F4(o->schedule); F4(o->diffusion_steps); F4(o->batch); F8(o->steps); F4(o->lr); F8(o->warmup);
    F4(o->weight_decay); F4(o->beta1); F4(o->beta2); F4(o->eps); F4(o->clip); F4(o->ema); F4(o->label_drop);
    F8(o->seed); F4(o->threads);
    F8(o->sample_every); F8(o->save_every); F8(o->eval_every); F8(o->log_every);
    F8(st->step); F8(st->data_rng.s[0]); F8(st->data_rng.s[1]); F8(st->data_rng.s[2]); F8(st->data_rng.s[3]);
    F8(st->images_seen); F8(st->elapsed_s); F8(st->n_train);
    F8(*n_params); /* last: the reader finds it at a fixed place */
    f[k].p = NULL;
    f[k].size = 0;
#undef F4
#undef F8
    return k;
}

static size_t header_size(void) {
    lm_train_image_opts o;
    lm_unet_config c;
    lm_ckpt_image_state st;
    uint64_t n;
    lm_ckpt_field f[N_FIELDS + 1];
    int k = header_fields(f, &o, &c, &st, &n);
    return lm_ckpt_fields_size(f, k);
}

loom_status lm_ckpt_image_save(const char *path, const lm_train_image_opts *o, const char *data_path,
                               const lm_unet *m, const float *adam_m, const float *adam_v, const float *ema,
                               const lm_ckpt_image_state *st, lm_error *err) {
    lm_train_image_opts oc = *o;
    lm_unet_config cc = m->cfg;
    lm_ckpt_image_state sc = *st;
    uint64_t n = m->n_params;
    lm_ckpt_field f[N_FIELDS + 1];
    int k = header_fields(f, &oc, &cc, &sc, &n);
    size_t pl = data_path ? strlen(data_path) : 0;
    if (pl > MAX_PATH_BYTES) pl = 0; /* only a convenience for --resume; the flag can give it again */
    uint32_t pl32 = (uint32_t)pl;
    lm_ckpt_writer w;
    loom_status s = lm_ckpt_write_open(&w, path, CKPT_MAGIC, CKPT_VERSION, err);
    if (s) return s;
    lm_ckpt_write_fields(&w, f, k);
    lm_ckpt_write(&w, &pl32, 4);
    if (pl) lm_ckpt_write(&w, data_path, pl);
    lm_ckpt_write(&w, m->params, n * sizeof(float));
    lm_ckpt_write(&w, adam_m, n * sizeof(float));
    lm_ckpt_write(&w, adam_v, n * sizeof(float));
    lm_ckpt_write(&w, ema, n * sizeof(float));
    return lm_ckpt_write_commit(&w, err);
}

/* Checks a whole checkpoint held in buf (magic, version, sizes, CRC); *arrays gets the offset of
 * the first f32 array. */
static loom_status verify(const uint8_t *buf, size_t len, const char *path, size_t *arrays, lm_error *err) {
    const char *hint = "(start again without --resume, or use another --out folder)";
    const char *why = NULL;
    uint32_t ver = 0;
    size_t hs = 8 + header_size();
    if (len < 8 || memcmp(buf, CKPT_MAGIC, 4) != 0) {
        why = len >= 8 && memcmp(buf, "LMCK", 4) == 0 ? "is a text model's checkpoint (loom train), not an image one"
                                                      : "is not a loom image checkpoint";
    } else if (memcpy(&ver, buf + 4, 4), ver != CKPT_VERSION) {
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' has version %u; this loom reads version %u %s", path,
                       ver, CKPT_VERSION, hint);
    } else if (len < hs + 4 + 4) {
        why = "is truncated";
    }
    uint64_t n = 0;
    uint32_t pl = 0;
    if (!why) {
        memcpy(&n, buf + hs - 8, 8); /* n_params is the last header field */
        memcpy(&pl, buf + hs, 4);
        if (pl > MAX_PATH_BYTES || n > ((uint64_t)1 << 36) || len != hs + 4 + pl + 4 * n * sizeof(float) + 4)
            why = "is truncated or corrupted (its size does not match its header)";
    }
    if (!why && !lm_ckpt_crc_ok(buf, len)) why = "is corrupted (checksum mismatch)";
    if (why) return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' %s %s", path, why, hint);
    *arrays = hs + 4 + pl;
    return LOOM_OK;
}

static loom_status read_whole(const char *path, uint8_t **buf, size_t *len, lm_error *err) {
    loom_status s = lm_read_file(path, 0, buf, len, err);
    return s ? lm_fail(err, s, "cannot read checkpoint: %s", err ? err->msg : "") : LOOM_OK;
}

static void parse_header(const uint8_t *buf, lm_train_image_opts *o, lm_unet_config *c, lm_ckpt_image_state *st,
                         uint64_t *n) {
    lm_ckpt_field f[N_FIELDS + 1];
    int k = header_fields(f, o, c, st, n);
    lm_ckpt_fields_read(f, k, buf + 8);
}

loom_status lm_ckpt_image_peek_mem(const uint8_t *buf, size_t len, const char *name, lm_train_image_opts *o,
                                   lm_unet_config *cfg, lm_ckpt_image_state *st, char **data_path, lm_error *err) {
    if (data_path) *data_path = NULL;
    size_t arrays;
    loom_status s = verify(buf, len, name, &arrays, err);
    if (s) return s;
    uint64_t n;
    memset(cfg, 0, sizeof *cfg);
    parse_header(buf, o, cfg, st, &n);
    /* the configuration first: a failed peek hands out no data path (the caller would leak it) */
    if (lm_unet_check_config(cfg, err) != LOOM_OK)
        return lm_fail(err, LOOM_ERR_FORMAT, "checkpoint '%s' holds an invalid model (%s); start again without --resume",
                       name, err ? err->msg : "");
    /* the caller allocates the model cfg describes: it must be the one whose arrays the file holds */
    if (n != lm_unet_n_params(cfg))
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "checkpoint '%s' is corrupted (its model has %zu parameters but it holds %llu); start again "
                       "without --resume",
                       name, lm_unet_n_params(cfg), (unsigned long long)n);
    if (data_path) {
        size_t hs = 8 + header_size();
        uint32_t pl;
        memcpy(&pl, buf + hs, 4);
        if (pl) {
            *data_path = malloc(pl + 1);
            if (!*data_path) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
            memcpy(*data_path, buf + hs + 4, pl);
            (*data_path)[pl] = 0;
        }
    }
    return LOOM_OK;
}

loom_status lm_ckpt_image_peek(const char *path, lm_train_image_opts *o, lm_unet_config *cfg,
                               lm_ckpt_image_state *st, char **data_path, lm_error *err) {
    uint8_t *buf;
    size_t len;
    loom_status s = read_whole(path, &buf, &len, err);
    if (s) return s;
    s = lm_ckpt_image_peek_mem(buf, len, path, o, cfg, st, data_path, err);
    free(buf);
    return s;
}

loom_status lm_ckpt_image_load_mem(const uint8_t *buf, size_t len, const char *name, lm_unet *m, float *adam_m,
                                   float *adam_v, float *ema, lm_ckpt_image_state *st, lm_error *err) {
    size_t arrays;
    loom_status s = verify(buf, len, name, &arrays, err);
    if (s) return s;
    lm_train_image_opts o;
    lm_unet_config c;
    memset(&c, 0, sizeof c);
    uint64_t n;
    parse_header(buf, &o, &c, st, &n);
    if (n != m->n_params || memcmp(&c, &m->cfg, sizeof c) != 0)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "checkpoint '%s' holds a different model than the one requested (start again without --resume)",
                       name);
    const uint8_t *p = buf + arrays;
    size_t bytes = (size_t)n * sizeof(float);
    memcpy(m->params, p, bytes);
    memcpy(adam_m, p + bytes, bytes);
    memcpy(adam_v, p + 2 * bytes, bytes);
    memcpy(ema, p + 3 * bytes, bytes);
    return LOOM_OK;
}

loom_status lm_ckpt_image_load(const char *path, lm_unet *m, float *adam_m, float *adam_v, float *ema,
                               lm_ckpt_image_state *st, lm_error *err) {
    uint8_t *buf;
    size_t len;
    loom_status s = read_whole(path, &buf, &len, err);
    if (s) return s;
    s = lm_ckpt_image_load_mem(buf, len, path, m, adam_m, adam_v, ema, st, err);
    free(buf);
    return s;
}
