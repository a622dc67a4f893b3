/* Shared by the fuzz targets: once a tokenizer loads, encode a few texts and check the exact
 * round trip (the concatenated token bytes are the input), so that a vocabulary the reader
 * accepts is one the encoder can use. Any disagreement aborts (a finding). */
#ifndef LM_FUZZ_COMMON_H
#define LM_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/bpe.h"

static void fuzz_roundtrip(const lm_bpe *b, const uint8_t *s, size_t n, int allow_special) {
    int32_t *ids = NULL;
    size_t cap = 0;
    int64_t k = lm_bpe_encode(b, s, n, allow_special, &ids, &cap);
    if (k < 0) {
        free(ids);
        return; /* out of memory */
    }
    size_t off = 0;
    for (int64_t i = 0; i < k; i++) {
        size_t l = 0;
        const uint8_t *t = lm_bpe_token(b, ids[i], &l);
        if (!t || off + l > n || memcmp(s + off, t, l) != 0) {
            fprintf(stderr, "fuzz: token %lld (id %d) does not match the input at byte %zu\n", (long long)i,
                    (int)ids[i], off);
            abort();
        }
        if (!allow_special && lm_bpe_is_special(b, ids[i])) {
            fprintf(stderr, "fuzz: special token %d produced with allow_special=0\n", (int)ids[i]);
            abort();
        }
        off += l;
    }
    if (off != n) {
        fprintf(stderr, "fuzz: the tokens cover %zu of %zu bytes\n", off, n);
        abort();
    }
    free(ids);
}

static void fuzz_exercise(const lm_bpe *b, const uint8_t *data, size_t size) {
    static const char sample[] = "Hello, world! It's 2024: 12345 tokens.\r\n\t  <|endoftext|> \xc3\xa9t\xc3\xa9 "
                                 "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd \xff\xfe";
    fuzz_roundtrip(b, (const uint8_t *)sample, sizeof sample - 1, 0);
    fuzz_roundtrip(b, (const uint8_t *)sample, sizeof sample - 1, 1);
    /* the tail of the input as text too (bounded, to keep each run fast) */
    size_t n = size < 256 ? size : 256;
    fuzz_roundtrip(b, data + size - n, n, 0);
    int vs = lm_bpe_vocab_size(b);
    for (int32_t id = -1; id <= vs; id++) {
        size_t l = 0;
        (void)lm_bpe_token(b, id, &l);
        (void)lm_bpe_is_special(b, id);
    }
    (void)lm_bpe_pattern(b);
    int nm = lm_bpe_merges(b, NULL, NULL);
    if (nm > 0 && nm < 1000000) {
        int32_t *l = malloc((size_t)nm * sizeof *l), *r = malloc((size_t)nm * sizeof *r);
        if (l && r) lm_bpe_merges(b, l, r);
        free(l);
        free(r);
    }
}

#endif
