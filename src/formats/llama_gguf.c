#include "formats/llama_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"

/* GPT-2's byte-to-unicode table: printable bytes stand for themselves, the rest are moved to
 * U+0100 and up. llama.cpp's "gpt2" tokenizer maps text bytes through this table before it
 * looks tokens up, so a byte-level vocabulary must be spelled this way to round-trip. */
static int byte_to_codepoint(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int k = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255))) k++;
    return 256 + k;
}

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
                    k += utf8_put(text[i] + k, byte_to_codepoint((uint8_t)tok->piece[i][j]));
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
