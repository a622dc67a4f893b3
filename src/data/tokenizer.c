#include "data/tokenizer.h"

#include <stdlib.h>
#include <string.h>

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
    if (t->piece)
        for (int i = 0; i < t->n_vocab; i++) free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->type);
    memset(t, 0, sizeof *t);
}

size_t lm_tokenizer_max_tokens(const lm_tokenizer *t, size_t n) { return n; }

size_t lm_tokenizer_encode(const lm_tokenizer *t, const uint8_t *s, size_t n, int32_t *out) {
    for (size_t i = 0; i < n; i++) out[i] = s[i];
    return n;
}
