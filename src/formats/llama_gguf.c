#include "formats/llama_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"

static int utf8_put(char *out, int cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

loom_status lm_llama_save_gguf(const char *path, const lm_llama *m, const lm_tokenizer *tok, const char *name,
                               lm_error *err) {
    const lm_llama_config *c = &m->cfg;
    if (tok->n_vocab != c->vocab)
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer has %d tokens but the model %d", tok->n_vocab, c->vocab);
    lm_gguf_writer *w = lm_gguf_writer_create();
    char **text = calloc((size_t)tok->n_vocab, sizeof(char *));
    if (!w || !text) {
        lm_gguf_writer_free(w);
        free(text);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    lm_gguf_set_str(w, "general.architecture", "llama");
    lm_gguf_set_str(w, "general.name", name ? name : "loom");
    lm_gguf_set_u32(w, "general.file_type", 0); /* all F32 */
    lm_gguf_set_u32(w, "general.alignment", 32);
    lm_gguf_set_u32(w, "llama.context_length", (uint32_t)c->context);
    lm_gguf_set_u32(w, "llama.embedding_length", (uint32_t)c->dim);
    lm_gguf_set_u32(w, "llama.block_count", (uint32_t)c->layers);
    lm_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)c->ffn_dim);
    lm_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)c->heads);
    lm_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->kv_heads);
    lm_gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)(c->dim / c->heads));
    lm_gguf_set_f32(w, "llama.rope.freq_base", c->rope_theta);
    lm_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    lm_gguf_set_u32(w, "llama.vocab_size", (uint32_t)c->vocab);

    /* Tokenizer. Byte tokens are spelled through GPT-2's table; special tokens as themselves. */
    int32_t *types = malloc((size_t)tok->n_vocab * sizeof(int32_t));
    int ok = types != NULL;
    for (int i = 0; ok && i < tok->n_vocab; i++) {
        types[i] = tok->type[i];
        if (tok->type[i] == LM_TOKTYPE_CONTROL) {
            text[i] = strdup(tok->piece[i]);
        } else {
            text[i] = malloc((size_t)tok->piece_len[i] * 3 + 1);
            if (text[i]) {
                int k = 0;
                for (int j = 0; j < tok->piece_len[i]; j++)
                    k += utf8_put(text[i] + k, lm_gpt2_byte_to_cp((uint8_t)tok->piece[i][j]));
                text[i][k] = 0;
            }
        }
        ok = text[i] != NULL;
    }
    loom_status s = LOOM_OK;
    if (!ok) {
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    lm_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    lm_gguf_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    lm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)text, (size_t)tok->n_vocab);
    lm_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, (size_t)tok->n_vocab);
    /* llama.cpp requires a non-empty merge list for "gpt2"; a byte-level vocabulary has no
     * merges, so one that can never fire ("ab" and "cd" are not tokens) stands in. */
    const char *merges[1] = {"ab cd"};
    lm_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, 1);
    lm_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)tok->eot);
    lm_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)tok->eot);
    lm_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 0);
    lm_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", 0);
    lm_gguf_set_str(w, "loom.tokenizer.kind", "byte");

    for (int i = 0; i < m->n_views; i++) {
        const lm_param_view *v = &m->views[i];
        int64_t ne[2] = {v->ndim == 2 ? v->shape[1] : v->shape[0], v->shape[0]}; /* GGUF: innermost first */
        lm_gguf_add_tensor(w, v->name, v->ndim, ne, LM_GGUF_F32, m->params + v->offset);
    }
    s = lm_gguf_write(w, path, err);
done:
    for (int i = 0; i < tok->n_vocab; i++) free(text[i]);
    free(text);
    free(types);
    lm_gguf_writer_free(w);
    return s;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Copies a tensor into dst as F32, checking its shape against the view's (out, in). */
static loom_status read_tensor(const char *path, const lm_gguf *g, const lm_param_view *v, float *dst, lm_error *err) {
    const lm_gguf_tensor *t = lm_gguf_find_tensor(g, v->name);
    if (!t) return lm_fail(err, LOOM_ERR_FORMAT, "'%s' has no tensor '%s' (is it a complete llama model?)", path, v->name);
    int64_t want0 = v->ndim == 2 ? v->shape[1] : v->shape[0], want1 = v->ndim == 2 ? v->shape[0] : 1;
    if (t->ne[0] != want0 || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "'%s': tensor '%s' has shape [%lld, %lld], expected [%lld, %lld] from the model's metadata", path,
                       v->name, (long long)t->ne[0], (long long)t->ne[1], (long long)want0, (long long)want1);
    size_t n = v->n;
    if (t->type == LM_GGUF_F32) {
        memcpy(dst, t->data, n * sizeof(float));
    } else if (t->type == LM_GGUF_F16) {
        const uint8_t *p = t->data;
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = half_to_float(h);
        }
    } else if (t->type == LM_GGUF_BF16) {
        const uint8_t *p = t->data;
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
        }
    } else {
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "'%s': tensor '%s' is %s; loom reads F32, F16 and BF16 models (convert it with llama.cpp's "
                       "llama-quantize ... F16)",
                       path, v->name, lm_gguf_type_name(t->type));
    }
    return LOOM_OK;
}

static int get_u32_or(const lm_gguf *g, const char *key, uint32_t dflt, uint32_t *out) {
    if (lm_gguf_find_key(g, key) < 0) return *out = dflt, 0;
    return lm_gguf_get_u32(g, key, out);
}

loom_status lm_llama_load_gguf(const char *path, lm_llama *m, lm_tokenizer *tok, lm_error *err) {
    memset(m, 0, sizeof *m);
    memset(tok, 0, sizeof *tok);
    lm_gguf *g = NULL;
    loom_status s = lm_gguf_open(path, &g, err);
    if (s) return s;
    const char *arch = lm_gguf_get_str(g, "general.architecture");
    if (!arch || strcmp(arch, "llama")) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' is a%s '%s' model; loom runs 'llama' models", path,
                    arch && strchr("aeiou", arch[0]) ? "n" : "", arch ? arch : "(unnamed)");
        goto done;
    }
    uint32_t ctx, dim, layers, ffn, heads, kvh, rot;
    float eps = 1e-5f, theta = 10000.0f;
    if (lm_gguf_get_u32(g, "llama.context_length", &ctx) || lm_gguf_get_u32(g, "llama.embedding_length", &dim) ||
        lm_gguf_get_u32(g, "llama.block_count", &layers) || lm_gguf_get_u32(g, "llama.feed_forward_length", &ffn) ||
        lm_gguf_get_u32(g, "llama.attention.head_count", &heads) ||
        get_u32_or(g, "llama.attention.head_count_kv", heads, &kvh) ||
        (lm_gguf_find_key(g, "llama.attention.layer_norm_rms_epsilon") >= 0 &&
         lm_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps)) ||
        (lm_gguf_find_key(g, "llama.rope.freq_base") >= 0 && lm_gguf_get_f32(g, "llama.rope.freq_base", &theta))) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' lacks llama hyperparameters (llama.embedding_length, ...)", path);
        goto done;
    }
    if (heads == 0 || heads > 65536 || dim % heads) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': head count %u does not divide width %u", path, heads, dim);
        goto done;
    }
    if (get_u32_or(g, "llama.rope.dimension_count", dim / heads, &rot) || rot != dim / heads) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': partial rotary embeddings (%u of %u) are not supported", path, rot,
                    dim / heads);
        goto done;
    }
    const lm_gguf_tensor *emb = lm_gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' has no 2-D tensor 'token_embd.weight'", path);
        goto done;
    }
    lm_llama_config c = {.vocab = (int)emb->ne[1], .dim = (int)dim, .layers = (int)layers, .heads = (int)heads,
                         .kv_heads = (int)kvh, .ffn_dim = (int)ffn, .context = (int)ctx,
                         .tied = lm_gguf_find_tensor(g, "output.weight") == NULL, .norm_eps = eps,
                         .rope_theta = theta};
    if (emb->ne[1] > (1 << 24) || emb->ne[0] != dim) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': token_embd.weight has shape [%lld, %lld], width %u expected", path,
                    (long long)emb->ne[0], (long long)emb->ne[1], dim);
        goto done;
    }
    if ((s = lm_llama_check_config(&c, err))) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' holds an unusable model: %s", path, err->msg);
        goto done;
    }
    if ((s = lm_llama_create(m, &c, 0, err))) goto done;
    for (int i = 0; i < m->n_views && !s; i++) s = read_tensor(path, g, &m->views[i], m->params + m->views[i].offset, err);
    if (s) goto done;

    /* the vocabulary */
    const char *tmodel = lm_gguf_get_str(g, "tokenizer.ggml.model");
    int64_t nt = lm_gguf_arr_len(g, "tokenizer.ggml.tokens");
    if (!tmodel || nt != c.vocab || lm_gguf_arr_type(g, "tokenizer.ggml.tokens") != LM_GGUF_TYPE_STRING) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' has no vocabulary of %d tokens (tokenizer.ggml.tokens)", path, c.vocab);
        goto done;
    }
    const char **text = malloc((size_t)nt * sizeof(char *));
    size_t *len = malloc((size_t)nt * sizeof(size_t));
    const int32_t *types = lm_gguf_arr_len(g, "tokenizer.ggml.token_type") == nt &&
                                   lm_gguf_arr_type(g, "tokenizer.ggml.token_type") == LM_GGUF_TYPE_INT32
                               ? lm_gguf_arr_data(g, "tokenizer.ggml.token_type")
                               : NULL;
    if (!text || !len) {
        free(text);
        free(len);
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < nt; i++) text[i] = lm_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &len[i]);
    uint32_t eos = UINT32_MAX;
    get_u32_or(g, "tokenizer.ggml.eos_token_id", UINT32_MAX, &eos);
    int eot = -1;
    for (int64_t i = 0; i < nt; i++)
        if (len[i] == 13 && !memcmp(text[i], "<|endoftext|>", 13)) eot = (int)i;
    if (eot < 0 && eos < (uint32_t)nt) eot = (int)eos;
    s = lm_tokenizer_from_vocab(tok, tmodel, text, len, types, (int)nt, eot, err);
    free(text);
    free(len);
done:
    if (s) {
        lm_llama_free(m);
        lm_tokenizer_free(tok);
    }
    lm_gguf_close(g);
    return s;
}
