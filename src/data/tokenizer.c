#include "data/tokenizer.h"

#include "data/bpe.h"
#include "data/bpe_import.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util/utf8.h"

static const char *const BYTE_SPECIALS[] = {"<|endoftext|>"};

loom_status lm_tokenizer_byte(lm_tokenizer *t, lm_error *err) {
    memset(t, 0, sizeof *t);
    int nspec = (int)(sizeof BYTE_SPECIALS / sizeof *BYTE_SPECIALS);
    int n = 256 + nspec;
    t->kind = LM_TOK_BYTE;
    t->n_vocab = n;
    t->eot = 256;
    t->piece = calloc((size_t)n, sizeof(char *));
    t->piece_len = calloc((size_t)n, sizeof(int));
    t->type = calloc((size_t)n, sizeof(int));
    if (!t->piece || !t->piece_len || !t->type) goto oom;
    for (int i = 0; i < n; i++) {
        const char *s = i < 256 ? NULL : BYTE_SPECIALS[i - 256];
        int len = s ? (int)strlen(s) : 1;
        t->piece[i] = malloc((size_t)len + 1);
        if (!t->piece[i]) goto oom;
        if (s)
            memcpy(t->piece[i], s, (size_t)len + 1);
        else {
            t->piece[i][0] = (char)i;
            t->piece[i][1] = 0;
        }
        t->piece_len[i] = len;
        t->type[i] = s ? LM_TOKTYPE_CONTROL : LM_TOKTYPE_NORMAL;
    }
    return LOOM_OK;
oom:
    lm_tokenizer_free(t);
    return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
}

void lm_tokenizer_free(lm_tokenizer *t) {
    if (t->bpe) lm_bpe_free(t->bpe);
    if (t->piece)
        for (int i = 0; i < t->n_vocab; i++) free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->type);
    memset(t, 0, sizeof *t);
}

size_t lm_tokenizer_max_tokens(const lm_tokenizer *t, size_t n) { return n; }

size_t lm_tokenizer_encode(const lm_tokenizer *t, const uint8_t *s, size_t n, int32_t *out) {
    if (t->kind == LM_TOK_BPE) {
        /* BPE never yields more ids than bytes, so out (sized by lm_tokenizer_max_tokens) is enough */
        size_t cap = n ? n : 1;
        int64_t k = lm_bpe_encode(t->bpe, s, n, 0, &out, &cap);
        return k < 0 ? 0 : (size_t)k;
    }
    for (size_t i = 0; i < n; i++) out[i] = s[i];
    return n;
}

loom_status lm_tokenizer_from_bpe(lm_tokenizer *t, struct lm_bpe *bpe, lm_error *err) {
    memset(t, 0, sizeof *t);
    int n = lm_bpe_vocab_size(bpe);
    t->kind = LM_TOK_BPE;
    t->n_vocab = n;
    t->eot = lm_bpe_special_id(bpe, "<|endoftext|>");
    t->piece = calloc((size_t)n, sizeof(char *));
    t->piece_len = calloc((size_t)n, sizeof(int));
    t->type = calloc((size_t)n, sizeof(int));
    if (!t->piece || !t->piece_len || !t->type) goto oom;
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        const uint8_t *b = lm_bpe_token(bpe, i, &len);
        t->piece[i] = malloc(len + 1);
        if (!t->piece[i]) goto oom;
        if (b) memcpy(t->piece[i], b, len);
        t->piece[i][len] = 0;
        t->piece_len[i] = (int)len;
        /* ids with no token (gaps before the special ids) are unused */
        t->type[i] = !b ? 5 /* unused */ : lm_bpe_is_special(bpe, i) ? LM_TOKTYPE_CONTROL : LM_TOKTYPE_NORMAL;
    }
    t->bpe = bpe;
    return LOOM_OK;
oom:
    lm_tokenizer_free(t);
    lm_bpe_free(bpe);
    return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
}


/* The bytes a vocabulary entry stands for. */
static int vocab_piece(const char *model, const uint8_t *txt, size_t n, int type, const int *cp2byte, char *out) {
    int k = 0;
    if (type == LM_TOKTYPE_CONTROL || type == 4 /* user-defined */) {
        memcpy(out, txt, n);
        return (int)n;
    }
    if (!strcmp(model, "llama")) {
        unsigned v;
        if (n == 6 && sscanf((const char *)txt, "<0x%2X>", &v) == 1) return out[0] = (char)v, 1;
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && txt[i] == 0xE2 && txt[i + 1] == 0x96 && txt[i + 2] == 0x81) { /* U+2581 */
                out[k++] = ' ';
                i += 3;
            } else {
                out[k++] = (char)txt[i++];
            }
        }
        return k;
    }
    for (size_t i = 0; i < n;) { /* gpt2: every code point is one byte of the table */
        uint32_t cp;
        int l = lm_utf8_decode(txt + i, n - i, &cp);
        if (!l || cp >= 512 || cp2byte[cp] < 0) { /* not a table character: keep the raw bytes */
            memcpy(out + k, txt + i, l ? (size_t)l : 1);
            k += l ? l : 1;
            i += l ? (size_t)l : 1;
            continue;
        }
        out[k++] = (char)cp2byte[cp];
        i += (size_t)l;
    }
    return k;
}

loom_status lm_tokenizer_from_vocab(lm_tokenizer *t, const char *model, const char *const *text,
                                    const size_t *len, const int32_t *types, int n, int eot, lm_error *err) {
    memset(t, 0, sizeof *t);
    if (n < 1) return lm_fail(err, LOOM_ERR_FORMAT, "the model's vocabulary is empty");
    int cp2byte[512];
    for (int i = 0; i < 512; i++) cp2byte[i] = lm_bpe_cp_to_byte((uint32_t)i);
    t->n_vocab = n;
    t->eot = eot >= 0 && eot < n ? eot : -1;
    t->piece = calloc((size_t)n, sizeof(char *));
    t->piece_len = calloc((size_t)n, sizeof(int));
    t->type = calloc((size_t)n, sizeof(int));
    if (!t->piece || !t->piece_len || !t->type) goto oom;
    int bytes_in_order = n >= 256;
    for (int i = 0; i < n; i++) {
        t->type[i] = types ? types[i] : LM_TOKTYPE_NORMAL;
        t->piece[i] = malloc(len[i] + 1);
        if (!t->piece[i]) goto oom;
        t->piece_len[i] = vocab_piece(model, (const uint8_t *)text[i], len[i], t->type[i], cp2byte, t->piece[i]);
        t->piece[i][t->piece_len[i]] = 0;
        if (i < 256)
            bytes_in_order &= t->piece_len[i] == 1 && (uint8_t)t->piece[i][0] == i && t->type[i] != LM_TOKTYPE_CONTROL;
        else
            bytes_in_order &= t->type[i] == LM_TOKTYPE_CONTROL || t->type[i] == 4;
    }
    t->kind = bytes_in_order ? LM_TOK_BYTE : LM_TOK_OTHER;
    return LOOM_OK;
oom:
    lm_tokenizer_free(t);
    return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
}

loom_status lm_encode_text(const lm_tokenizer *tok, const char *text, size_t len, int32_t **ids, int *n, lm_error *err) {
    if (tok->kind != LM_TOK_BYTE && tok->kind != LM_TOK_BPE)
        return lm_fail(err, LOOM_ERR_ARG,
                       "this model's vocabulary (%d tokens, SentencePiece) cannot encode prompts yet; loom encodes "
                       "byte-level and BPE vocabularies",
                       tok->n_vocab);
    if (len > (size_t)1 << 30) return lm_fail(err, LOOM_ERR_ARG, "the text is too long (%zu bytes)", len);
    *ids = malloc((lm_tokenizer_max_tokens(tok, len) + 1) * sizeof(int32_t));
    if (!*ids) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    *n = (int)lm_tokenizer_encode(tok, (const uint8_t *)text, len, *ids);
    return LOOM_OK;
}

