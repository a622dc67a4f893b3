#include "formats/llama_gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/bpe.h"
#include "data/bpe_import.h"
#include "formats/gguf.h"
#include "formats/params_gguf.h"
#include "util/utf8.h"

/* "left right" merge strings in the vocabulary's GGUF spelling. */
static void lm_gguf_merges_fill(const struct lm_bpe *b, int32_t *l, int32_t *r, int nm, const char *const *text, char **ms) {
    lm_bpe_merges(b, l, r);
    for (int i = 0; i < nm; i++) {
        size_t a = strlen(text[l[i]]), c = strlen(text[r[i]]);
        ms[i] = malloc(a + c + 2);
        if (!ms[i]) return;
        memcpy(ms[i], text[l[i]], a);
        ms[i][a] = ' ';
        memcpy(ms[i] + a + 1, text[r[i]], c + 1);
    }
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
                    k += lm_utf8_encode((uint32_t)lm_bpe_byte_to_cp((uint8_t)tok->piece[i][j]), text[i] + k);
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
    lm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)text, (size_t)tok->n_vocab);
    lm_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, (size_t)tok->n_vocab);
    if (tok->kind == LM_TOK_BPE) {
        /* llama.cpp applies the pre-split regex it knows by name: "gpt-2" for GPT-2's pattern,
         * "llama-bpe" for the GPT-4 (cl100k) one that loom uses by default */
        const char *pat = lm_bpe_pattern(tok->bpe), *pre = NULL;
        if (!strcmp(pat, LM_BPE_PATTERN_GPT2)) pre = "gpt-2";
        else if (!strcmp(pat, LM_BPE_PATTERN_GPT4)) pre = "llama-bpe";
        if (!pre) {
            s = lm_fail(err, LOOM_ERR_ARG, "the tokenizer's pre-split pattern has no llama.cpp name (use the GPT-4 or GPT-2 pattern)");
            goto done;
        }
        lm_gguf_set_str(w, "tokenizer.ggml.pre", pre);
        int nm = lm_bpe_merges(tok->bpe, NULL, NULL);
        int32_t *l = malloc((size_t)(nm ? nm : 1) * sizeof(int32_t)), *r = malloc((size_t)(nm ? nm : 1) * sizeof(int32_t));
        char **ms = calloc((size_t)(nm ? nm : 1), sizeof(char *));
        int okm = l && r && ms;
        if (okm) lm_gguf_merges_fill(tok->bpe, l, r, nm, (const char *const *)text, ms);
        for (int i = 0; okm && i < nm; i++) okm = ms[i] != NULL;
        if (okm) lm_gguf_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)ms, (size_t)nm);
        for (int i = 0; ms && i < nm; i++) free(ms[i]);
        free(ms);
        free(l);
        free(r);
        if (!okm) {
            s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
            goto done;
        }
        lm_gguf_set_str(w, "loom.tokenizer.kind", "bpe");
    } else {
        lm_gguf_set_str(w, "tokenizer.ggml.pre", "gpt-2");
        /* llama.cpp requires a non-empty merge list for "gpt2"; a byte-level vocabulary has no
         * merges, so one that can never fire ("ab" and "cd" are not tokens) stands in. */
        const char *merges[1] = {"ab cd"};
        lm_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, 1);
        lm_gguf_set_str(w, "loom.tokenizer.kind", "byte");
    }
    lm_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)tok->eot);
    lm_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)tok->eot);
    lm_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 0);
    lm_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", 0);

    lm_gguf_add_views(w, m->views, m->n_views, m->params);
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
    /* A NaN or infinity in a weight makes every logit NaN, and sampling from NaNs picks a token
     * "with confidence": refuse the file here, naming the tensor, rather than generate nonsense.
     * One pass over weights just read, far cheaper than the first token. */
    const uint32_t *bits = (const uint32_t *)dst;
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) bad |= (bits[i] & 0x7f800000u) == 0x7f800000u; /* exponent all ones */
    if (bad) {
        size_t i = 0;
        while (i < n && isfinite(dst[i])) i++;
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "'%s': tensor '%s' holds a non-finite value (%g at element %zu): the file is damaged or was "
                       "saved from a run that diverged", path, v->name, (double)dst[i < n ? i : 0], i);
    }
    return LOOM_OK;
}

static int get_u32_or(const lm_gguf *g, const char *key, uint32_t dflt, uint32_t *out) {
    if (lm_gguf_find_key(g, key) < 0) return *out = dflt, 0;
    return lm_gguf_get_u32(g, key, out);
}

typedef struct text_id {
    const char *s;
    size_t n;
    int32_t id;
} text_id;

static int cmp_text(const void *a, const void *b) {
    const text_id *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* A "gpt2" vocabulary with real merges becomes a BPE encoder (llama.cpp's semantics: pair merges
 * by rank, after the pre-split that tokenizer.ggml.pre names). */
static loom_status attach_bpe(const char *path, const lm_gguf *g, lm_tokenizer *tok, const char **text, const size_t *len,
                              lm_error *err) {
    const char *pre = lm_gguf_get_str(g, "tokenizer.ggml.pre");
    const char *pattern = NULL;
    if (!pre || !strcmp(pre, "gpt-2") || !strcmp(pre, "default")) pattern = LM_BPE_PATTERN_GPT2;
    else if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "dbrx") || !strcmp(pre, "smaug-bpe"))
        pattern = LM_BPE_PATTERN_GPT4;
    else
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s': tokenizer pre-split '%s' is not supported (loom knows gpt-2 and llama-bpe)",
                       path, pre);
    int n = tok->n_vocab;
    int64_t nm = lm_gguf_arr_len(g, "tokenizer.ggml.merges");
    if (nm < 1 || lm_gguf_arr_type(g, "tokenizer.ggml.merges") != LM_GGUF_TYPE_STRING) return LOOM_OK; /* decode only */
    text_id *sorted = malloc((size_t)n * sizeof *sorted);
    int32_t *ml = malloc((size_t)nm * sizeof(int32_t)), *mr = malloc((size_t)nm * sizeof(int32_t));
    const uint8_t **tb = malloc((size_t)n * sizeof *tb);
    size_t *tl = malloc((size_t)n * sizeof *tl);
    const char **sp = malloc((size_t)n * sizeof *sp);
    int32_t *sid = malloc((size_t)n * sizeof *sid);
    int nsp = 0, nord = 0;
    loom_status s = LOOM_OK;
    if (!sorted || !ml || !mr || !tb || !tl || !sp || !sid) {
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) sorted[i] = (text_id){text[i], len[i], i};
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_text);
    int64_t kept = 0;
    for (int64_t k = 0; k < nm; k++) {
        size_t ln;
        const char *m = lm_gguf_arr_str(g, "tokenizer.ggml.merges", k, &ln);
        const char *sp1 = m ? memchr(m, ' ', ln) : NULL;
        if (!sp1) {
            s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': merge %lld is not two tokens separated by a space", path, (long long)k);
            goto out;
        }
        text_id a = {m, (size_t)(sp1 - m), 0}, b = {sp1 + 1, ln - (size_t)(sp1 - m) - 1, 0};
        text_id *fa = bsearch(&a, sorted, (size_t)n, sizeof *sorted, cmp_text);
        text_id *fb = bsearch(&b, sorted, (size_t)n, sizeof *sorted, cmp_text);
        if (!fa || !fb) continue; /* refers to no token (e.g. loom's stand-in "ab cd"): never fires */
        ml[kept] = fa->id;
        mr[kept] = fb->id;
        kept++;
    }
    if (!kept) goto out; /* no usable merges: decode only */
    /* ordinary tokens keep their ids; control tokens become specials */
    for (int i = 0; i < n; i++) {
        if (tok->type[i] == LM_TOKTYPE_CONTROL || tok->type[i] == 4) {
            sp[nsp] = tok->piece[i];
            sid[nsp++] = i;
            tb[i] = NULL;
            tl[i] = 0;
        } else {
            tb[i] = (const uint8_t *)tok->piece[i];
            tl[i] = (size_t)tok->piece_len[i];
            nord = i + 1;
        }
    }
    lm_bpe_vocab v = {.n_tokens = nord, .tok = tb, .len = tl, .mode = LM_BPE_MERGES, .n_merges = (int)kept,
                      .merge_left = ml, .merge_right = mr, .pattern = pattern, .n_special = nsp, .special = sp,
                      .special_id = sid};
    lm_bpe *b;
    if ((s = lm_bpe_create(&b, &v, err))) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': its BPE vocabulary is unusable: %s", path, err->msg);
        goto out;
    }
    lm_tokenizer t2;
    if ((s = lm_tokenizer_from_bpe(&t2, b, err))) goto out;
    t2.eot = tok->eot;
    lm_tokenizer_free(tok);
    *tok = t2;
out:
    free(sorted);
    free(ml);
    free(mr);
    free(tb);
    free(tl);
    free(sp);
    free(sid);
    return s;
}

/* The vocabulary of an open GGUF file (n_vocab tokens, or any number when n_vocab < 0). */
static loom_status read_vocab(const char *path, const lm_gguf *g, int n_vocab, lm_tokenizer *tok, lm_error *err) {
    const char *tmodel = lm_gguf_get_str(g, "tokenizer.ggml.model");
    int64_t nt = lm_gguf_arr_len(g, "tokenizer.ggml.tokens");
    if (!tmodel || nt < 1 || (n_vocab >= 0 && nt != n_vocab) || nt > (1 << 24) ||
        lm_gguf_arr_type(g, "tokenizer.ggml.tokens") != LM_GGUF_TYPE_STRING)
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' has no vocabulary%s (tokenizer.ggml.tokens)", path,
                       n_vocab >= 0 ? " matching token_embd.weight" : "");
    const char **text = malloc((size_t)nt * sizeof(char *));
    size_t *len = malloc((size_t)nt * sizeof(size_t));
    const int32_t *types = lm_gguf_arr_len(g, "tokenizer.ggml.token_type") == nt &&
                                   lm_gguf_arr_type(g, "tokenizer.ggml.token_type") == LM_GGUF_TYPE_INT32
                               ? lm_gguf_arr_data(g, "tokenizer.ggml.token_type")
                               : NULL;
    if (!text || !len) {
        free(text);
        free(len);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < nt; i++) text[i] = lm_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &len[i]);
    uint32_t eos = UINT32_MAX;
    get_u32_or(g, "tokenizer.ggml.eos_token_id", UINT32_MAX, &eos);
    int eot = -1;
    for (int64_t i = 0; i < nt; i++)
        if (len[i] == 13 && !memcmp(text[i], "<|endoftext|>", 13)) eot = (int)i;
    if (eot < 0 && eos < (uint32_t)nt) eot = (int)eos;
    loom_status s = lm_tokenizer_from_vocab(tok, tmodel, text, len, types, (int)nt, eot, err);
    if (!s && tok->kind == LM_TOK_OTHER && !strcmp(tmodel, "gpt2")) s = attach_bpe(path, g, tok, text, len, err);
    free(text);
    free(len);
    return s;
}

loom_status lm_tokenizer_from_gguf(const lm_gguf *g, lm_tokenizer *tok, lm_error *err) {
    memset(tok, 0, sizeof *tok);
    loom_status s = read_vocab(lm_gguf_name(g), g, -1, tok, err);
    if (s) lm_tokenizer_free(tok);
    return s;
}

loom_status lm_gguf_load_tokenizer(const char *path, lm_tokenizer *tok, lm_error *err) {
    memset(tok, 0, sizeof *tok);
    lm_gguf *g = NULL;
    loom_status s = lm_gguf_open(path, &g, err);
    if (s) return s;
    s = lm_tokenizer_from_gguf(g, tok, err);
    lm_gguf_close(g);
    return s;
}

loom_status lm_llama_load_gguf(const char *path, lm_llama *m, lm_tokenizer *tok, lm_error *err) {
    memset(m, 0, sizeof *m);
    memset(tok, 0, sizeof *tok);
    lm_gguf *g = NULL;
    loom_status s = lm_gguf_open(path, &g, err);
    if (s) return s;
    s = lm_llama_from_gguf(g, m, tok, err);
    lm_gguf_close(g);
    return s;
}

loom_status lm_llama_from_gguf(const lm_gguf *g, lm_llama *m, lm_tokenizer *tok, lm_error *err) {
    memset(m, 0, sizeof *m);
    memset(tok, 0, sizeof *tok);
    const char *path = lm_gguf_name(g);
    loom_status s = LOOM_OK;
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
    const struct { const char *key; uint32_t v; } need[] = {
        {"llama.context_length", ctx}, {"llama.embedding_length", dim}, {"llama.block_count", layers},
        {"llama.feed_forward_length", ffn}, {"llama.attention.head_count", heads},
        {"llama.attention.head_count_kv", kvh}};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (need[i].v == 0 || need[i].v > (1u << 24)) {
            s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': %s is %u, outside 1..%u (the file's metadata is damaged)", path,
                        need[i].key, need[i].v, 1u << 24);
            goto done;
        }
    if (!(eps > 0 && eps < 1) || !(theta > 0 && theta < 1e30f)) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': %s is %g, outside %s (the file's metadata is damaged)", path,
                    !(eps > 0 && eps < 1) ? "llama.attention.layer_norm_rms_epsilon" : "llama.rope.freq_base",
                    !(eps > 0 && eps < 1) ? (double)eps : (double)theta, !(eps > 0 && eps < 1) ? "(0, 1)" : "(0, 1e30)");
        goto done;
    }
    if (heads > 65536 || dim % heads) {
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
    /* damaged metadata (a block count of 1024) must not allocate gigabytes before the first
     * missing tensor is noticed, nor be blamed on memory */
    if (lm_llama_n_params(&c) > (size_t)lm_gguf_n_elements(g)) {
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s': its metadata describes %zu parameters but its tensors hold %lld values (the file's "
                    "metadata is damaged)", path, lm_llama_n_params(&c), (long long)lm_gguf_n_elements(g));
        goto done;
    }
    if ((s = lm_llama_create(m, &c, 0, err))) goto done;
    for (int i = 0; i < m->n_views && !s; i++) s = read_tensor(path, g, &m->views[i], m->params + m->views[i].offset, err);
    if (s) goto done;

    s = read_vocab(path, g, c.vocab, tok, err);
done:
    if (s) {
        lm_llama_free(m);
        lm_tokenizer_free(tok);
    }
    return s;
}
