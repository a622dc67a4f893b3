#include "data/fim.h"

#include <string.h>

loom_status lm_fim_find_ids(const lm_tokenizer *tok, lm_fim_ids *ids, lm_error *err) {
    static const char *const names[3] = {LM_FIM_PREFIX, LM_FIM_SUFFIX, LM_FIM_MIDDLE};
    int32_t found[3] = {-1, -1, -1};
    /* a scan of the piece table works for every tokenizer kind (loom's BPE, an imported one,
     * a GGUF vocabulary): the sentinels are control tokens spelled like this */
    for (int i = 0; i < tok->n_vocab; i++) {
        if (!tok->type || tok->type[i] != LM_TOKTYPE_CONTROL) continue;
        for (int k = 0; k < 3; k++)
            if (found[k] < 0 && tok->piece_len[i] == (int)strlen(names[k]) &&
                memcmp(tok->piece[i], names[k], strlen(names[k])) == 0)
                found[k] = i;
    }
    for (int k = 0; k < 3; k++)
        if (found[k] < 0)
            return lm_fail(err, LOOM_ERR_ARG,
                           "fill-in-the-middle needs the tokens %s, %s and %s, which %s has not got "
                           "(use --tokenizer bpe, which trains them, or --fim-rate 0)",
                           LM_FIM_PREFIX, LM_FIM_SUFFIX, LM_FIM_MIDDLE,
                           tok->kind == LM_TOK_BYTE ? "the byte tokenizer" : "this tokenizer");
    ids->prefix = found[0];
    ids->suffix = found[1];
    ids->middle = found[2];
    return LOOM_OK;
}

/* Length of the character at s (n > 0 bytes left): a structurally valid UTF-8 sequence, or 1
 * for a byte that does not start one (so that any bytes, invalid UTF-8 included, can be cut). */
static size_t char_len(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
    if (len > n) return 1;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 1;
    return len;
}

/* Byte offset of the k-th character boundary (k = 0 is the start). */
static size_t char_offset(const uint8_t *s, size_t n, uint64_t k) {
    size_t i = 0;
    for (; k > 0 && i < n; k--) i += char_len(s + i, n - i);
    return i;
}

void lm_fim_draw(const uint8_t *s, size_t n, double rate, double spm_rate, lm_rng *rng, lm_fim_split *sp) {
    sp->mode = LM_FIM_NONE;
    sp->begin = sp->end = 0;
    if (!(lm_rng_uniform(rng) < rate)) return; /* rate 0 never, rate 1 always: uniform is in [0, 1) */
    uint64_t chars = 0;
    for (size_t i = 0; i < n; chars++) i += char_len(s + i, n - i);
    /* two boundaries uniform over the chars + 1 positions, in order: either part may be empty */
    uint64_t a = lm_rng_below(rng, chars + 1), b = lm_rng_below(rng, chars + 1);
    if (a > b) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    sp->mode = lm_rng_uniform(rng) < spm_rate ? LM_FIM_SPM : LM_FIM_PSM;
    sp->begin = char_offset(s, n, a);
    sp->end = sp->begin + char_offset(s + sp->begin, n - sp->begin, b - a);
}

size_t lm_fim_max_tokens(const lm_tokenizer *tok, size_t n) {
    /* the parts are encoded apart; every tokenizer loom encodes with writes at most one id per
     * byte, so the parts together stay within the bound for n, plus the three sentinels */
    return lm_tokenizer_max_tokens(tok, n) + 3;
}

size_t lm_fim_layout(const lm_tokenizer *tok, const lm_fim_ids *ids, const uint8_t *doc, size_t n, size_t keep,
                     const lm_fim_split *sp, int32_t *out) {
    if (keep > n) keep = n;
    if (sp->mode == LM_FIM_NONE) return lm_tokenizer_encode(tok, doc, n, out);
    const uint8_t *s = doc + keep;
    size_t m = n - keep;
    size_t b = sp->begin < m ? sp->begin : m, e = sp->end < b ? b : sp->end < m ? sp->end : m;
    size_t k = lm_tokenizer_encode(tok, doc, keep, out);
    out[k++] = ids->prefix;
    if (sp->mode == LM_FIM_PSM) {
        k += lm_tokenizer_encode(tok, s, b, out + k);
        out[k++] = ids->suffix;
        k += lm_tokenizer_encode(tok, s + e, m - e, out + k);
        out[k++] = ids->middle;
    } else {
        out[k++] = ids->suffix;
        k += lm_tokenizer_encode(tok, s + e, m - e, out + k);
        out[k++] = ids->middle;
        k += lm_tokenizer_encode(tok, s, b, out + k);
    }
    k += lm_tokenizer_encode(tok, s + b, e - b, out + k);
    return k;
}

size_t lm_fim_encode(const lm_tokenizer *tok, const lm_fim_ids *ids, const uint8_t *doc, size_t n, size_t keep,
                     double rate, double spm_rate, lm_rng *rng, int32_t *out) {
    if (keep > n) keep = n;
    lm_fim_split sp;
    lm_fim_draw(doc + keep, n - keep, rate, spm_rate, rng, &sp);
    return lm_fim_layout(tok, ids, doc, n, keep, &sp, out);
}

void lm_fim_doc_rng(lm_rng *r, uint64_t seed, int64_t d) {
    /* "FIM" in the top bytes keeps these streams apart from the weights' and the sampler's */
    uint64_t x = seed ^ 0x46494d0000000000ULL;
    x += (uint64_t)d * 0xd1342543de82ef95ULL;
    lm_rng_seed(r, lm_splitmix64(&x));
}
