/* libFuzzer target: the GGUF reader (lm_gguf_open_mem) and, on every file it accepts, what loom
 * builds from one: the llama model and its vocabulary (lm_llama_from_gguf, lm_tokenizer_from_gguf),
 * the image diffusion model (lm_unet_from_gguf) and the image classifier (lm_classifier_from_gguf).
 * Every getter is called on every key and tensor. A model that loads must be usable: a small
 * llama model runs a forward pass over a few tokens of its own tokenizer, a small classifier
 * classifies an image; then everything is freed (leaks are findings). */
#include "files.h"

#include "data/bpe.h"
#include "formats/classifier_gguf.h"
#include "formats/gguf.h"
#include "formats/llama_gguf.h"
#include "formats/unet_gguf.h"
#include "generate/infer.h"

#define SMALL_MODEL 200000 /* parameters: larger accepted models are loaded and freed only */

static void getters(const lm_gguf *g) {
    (void)lm_gguf_version(g);
    check(lm_gguf_alignment(g) > 0, "alignment 0");
    (void)lm_gguf_data_offset(g);
    for (int64_t i = -1; i <= lm_gguf_n_kv(g); i++) {
        const char *k = lm_gguf_key_at(g, i);
        (void)lm_gguf_key_type(g, i);
        if (!k) continue;
        check(lm_gguf_find_key(g, k) == i, "a key not found under its own name");
        uint32_t u32;
        uint64_t u64;
        int64_t i64;
        float f;
        int b;
        size_t len;
        (void)lm_gguf_get_u32(g, k, &u32);
        (void)lm_gguf_get_u64(g, k, &u64);
        (void)lm_gguf_get_i64(g, k, &i64);
        (void)lm_gguf_get_f32(g, k, &f);
        (void)lm_gguf_get_bool(g, k, &b);
        const char *s = lm_gguf_get_strn(g, k, &len);
        if (s) check(s[len] == 0, "a string value without its NUL");
        int64_t n = lm_gguf_arr_len(g, k);
        int t = lm_gguf_arr_type(g, k);
        if (t == 8 /* string */) {
            for (int64_t j = 0; j < n; j++) {
                const char *e = lm_gguf_arr_str(g, k, j, &len);
                check(e && e[len] == 0, "a string array element missing or without its NUL");
            }
            check(!lm_gguf_arr_str(g, k, n, &len), "a string array element past the end");
        } else if (n > 0) {
            const uint8_t *d = lm_gguf_arr_data(g, k);
            check(d != NULL, "a numeric array without data");
            volatile uint8_t x = d[0];
            x = d[n - 1];
            (void)x;
        }
    }
    for (int64_t i = -1; i <= lm_gguf_n_tensors(g); i++) {
        const lm_gguf_tensor *t = lm_gguf_tensor_at(g, i);
        if (!t) continue;
        check(lm_gguf_find_tensor(g, t->name) == t, "a tensor not found under its own name");
        check(t->nbytes == (size_t)lm_gguf_nbytes(t->type, t->n_dims, t->ne), "a tensor's size disagrees");
        if (t->nbytes) {
            /* the data lies inside the file: touch both ends (ASan checks the copy's bounds) */
            volatile uint8_t x = ((const uint8_t *)t->data)[0];
            x = ((const uint8_t *)t->data)[t->nbytes - 1];
            (void)x;
        }
    }
    check(lm_gguf_find_key(g, "no such key") < 0 && !lm_gguf_find_tensor(g, "no such tensor"), "a phantom");
}

static void use_llama(lm_llama *m, const lm_tokenizer *tok) {
    check(m->n_params == lm_llama_n_params(&m->cfg), "lm_llama_n_params disagrees with the model");
    check(tok->n_vocab == m->cfg.vocab, "the vocabulary and the embedding disagree");
    for (int i = 0; i < tok->n_vocab; i++) check(tok->piece[i] != NULL, "a token without a piece");
    int32_t *ids = NULL;
    int n = 0;
    lm_error e = {0};
    static const char text[] = "Hello, world! 12 \xc3\xa9t\xc3\xa9";
    if (lm_encode_text(tok, text, sizeof text - 1, &ids, &n, &e) != LOOM_OK) {
        check_err(&e); /* a vocabulary loom decodes but cannot encode */
        ids = malloc(sizeof *ids);
        ids[0] = 0;
        n = 1;
    }
    for (int i = 0; i < n; i++) check(ids[i] >= 0 && ids[i] < tok->n_vocab, "an encoded id outside the vocabulary");
    if (m->n_params <= SMALL_MODEL) {
        lm_infer s;
        int T = n < 4 ? n : 4;
        if (lm_infer_create(&s, m, T, &e) == LOOM_OK) {
            float *logits = malloc((size_t)m->cfg.vocab * sizeof *logits);
            if (logits && lm_infer_eval(&s, ids, T, logits, 0, &e) != LOOM_OK) check_err(&e);
            free(logits);
            lm_infer_free(&s);
        } else {
            check_err(&e);
        }
    }
    free(ids);
}

static void use_classifier(lm_classifier *m, char **labels) {
    check(m->n_params == lm_classifier_n_params(&m->cfg), "lm_classifier_n_params disagrees with the model");
    for (int i = 0; i < m->cfg.n_labels; i++) check(labels[i] != NULL, "a label name missing");
    check(labels[m->cfg.n_labels] == NULL, "the label names not NULL-terminated");
    if (m->n_params > SMALL_MODEL || (int64_t)m->cfg.size * m->cfg.size * m->cfg.channels > 4096) return;
    size_t n = (size_t)m->cfg.channels * (size_t)m->cfg.size * (size_t)m->cfg.size;
    float *x = calloc(n, sizeof *x);
    int32_t pred = -1;
    lm_error e = {0};
    if (x && lm_classifier_predict(m, x, 1, 1, &pred, NULL, &e) == LOOM_OK)
        check(pred >= 0 && pred < m->cfg.n_labels, "a predicted label out of range");
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_gguf *g = NULL;
    lm_error err = {0};
    if (lm_gguf_open_mem(data, size, "fuzz.gguf", &g, &err) != LOOM_OK) {
        check(g == NULL, "a failed open returned a handle");
        check_err(&err);
        return 0;
    }
    getters(g);

    lm_tokenizer tok;
    if (lm_tokenizer_from_gguf(g, &tok, &err) == LOOM_OK) lm_tokenizer_free(&tok);
    else check_err(&err);

    lm_llama m;
    if (lm_llama_from_gguf(g, &m, &tok, &err) == LOOM_OK) {
        use_llama(&m, &tok);
        lm_llama_free(&m);
        lm_tokenizer_free(&tok);
    } else {
        check_err(&err);
        check(m.params == NULL && tok.piece == NULL, "a failed load left a model or a vocabulary");
    }

    lm_unet u;
    lm_diffusion d;
    char **labels = NULL;
    if (lm_unet_from_gguf(g, &u, &d, &labels, &err) == LOOM_OK) {
        check(labels != NULL && d.steps > 0, "a diffusion model without labels or steps");
        check(u.n_params == lm_unet_n_params(&u.cfg), "lm_unet_n_params disagrees with the model");
        for (int i = 0; i < u.cfg.n_labels; i++) check(labels[i] != NULL, "a label name missing");
        lm_unet_labels_free(labels);
        lm_unet_free(&u);
        lm_diffusion_free(&d);
    } else {
        check_err(&err);
        check(u.params == NULL && labels == NULL, "a failed load left a model");
    }

    lm_classifier c;
    lm_classifier_info info;
    if (lm_classifier_from_gguf(g, &c, &labels, &info, &err) == LOOM_OK) {
        use_classifier(&c, labels);
        lm_classifier_labels_free(labels);
        free(info.data);
        lm_classifier_free(&c);
    } else {
        check_err(&err);
        check(c.params == NULL && labels == NULL, "a failed load left a model");
    }
    lm_gguf_close(g);
    return 0;
}
