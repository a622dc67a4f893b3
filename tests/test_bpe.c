/* The byte-level BPE tokenizer: hand-made vocabularies with known encodings in both modes, the
 * two built-in pre-split patterns on tricky text (and their ASCII fast path against plain
 * PCRE2), exact round trips on random bytes, special tokens, training, the file format against
 * truncation and corruption, and parallel encoding against one thread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/bpe.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A vocabulary builder: the 256 bytes (in the order given by byte_of_id), then extra tokens. */
typedef struct vb {
    uint8_t bytes[256];
    const uint8_t *tok[1024];
    size_t len[1024];
    int n;
} vb;

static void vb_init(vb *v, int reversed) {
    for (int i = 0; i < 256; i++) {
        v->bytes[i] = (uint8_t)(reversed ? 255 - i : i);
        v->tok[i] = &v->bytes[i];
        v->len[i] = 1;
    }
    v->n = 256;
}

static int vb_add(vb *v, const char *s) {
    v->tok[v->n] = (const uint8_t *)s;
    v->len[v->n] = strlen(s);
    return v->n++;
}

static lm_bpe *make(const lm_bpe_vocab *v) {
    lm_bpe *b = NULL;
    lm_error err = {0};
    loom_status st = lm_bpe_create(&b, v, &err);
    if (st) fprintf(stderr, "create: %s\n", err.msg);
    assert_int_equal(st, LOOM_OK);
    return b;
}

/* Decodes ids by concatenating their bytes; returns the length. */
static size_t decode(const lm_bpe *b, const int32_t *ids, int64_t n, uint8_t *out) {
    size_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *t = lm_bpe_token(b, ids[i], &len);
        assert_non_null(t);
        memcpy(out + at, t, len);
        at += len;
    }
    return at;
}

static void assert_round_trip(const lm_bpe *b, const uint8_t *s, size_t n, int allow_special) {
    int32_t *ids = NULL;
    size_t cap = 0;
    int64_t k = lm_bpe_encode(b, s, n, allow_special, &ids, &cap);
    assert_true(k >= 0);
    uint8_t *back = malloc(n + 1);
    size_t m = decode(b, ids, k, back);
    assert_int_equal(m, n);
    assert_memory_equal(back, s, n);
    free(back);
    free(ids);
}

/* Checks the pre-split of text against the expected chunks. */
static void check_split(const lm_bpe *b, const char *text, const char *const *expect, int n_expect) {
    size_t *ends = NULL, cap = 0;
    int64_t k = lm_bpe_split(b, (const uint8_t *)text, strlen(text), &ends, &cap);
    int ok = k == n_expect;
    size_t st = 0;
    for (int64_t i = 0; ok && i < k; i++) {
        size_t len = ends[i] - st;
        ok = len == strlen(expect[i]) && memcmp(text + st, expect[i], len) == 0;
        st = ends[i];
    }
    if (!ok) {
        fprintf(stderr, "split of \"%s\":", text);
        st = 0;
        for (int64_t i = 0; i < k; i++) {
            fprintf(stderr, " [%.*s]", (int)(ends[i] - st), text + st);
            st = ends[i];
        }
        fprintf(stderr, "\n");
    }
    free(ends);
    assert_true(ok);
}

/* Mixed text of every kind the patterns care about: prose, code with indentation, numbers,
 * CRLF lines, runs of spaces and blank lines, non-ASCII letters, CJK, emoji, special texts. */
static uint8_t *synth_text(size_t n, uint64_t seed, size_t *len) {
    static const char *const words[] = {
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "be", "at",
        "by", "this", "had", "not", "are", "but", "from", "or", "have", "an", "they", "which", "one", "you",
        "were", "her", "all", "she", "there", "would", "their", "we", "him", "been", "has", "when", "who",
        "will", "more", "if", "no", "out", "so", "said", "what", "up", "its", "about", "into", "than",
        "them", "can", "only", "other", "new", "some", "could", "time", "these", "two", "may", "then",
        "do", "first", "any", "my", "now", "such", "like", "our", "over", "man", "me", "even", "most",
        "made", "after", "also", "did", "many", "before", "must", "through", "back", "years", "where",
        "much", "your", "way", "well", "down", "should", "because", "each", "just", "those", "people",
        "Mr", "how", "too", "little", "state", "good", "very", "make", "world", "still", "own", "see",
        "men", "work", "long", "get", "here", "between", "both", "life", "being", "under", "never",
        "day", "same", "another", "know", "while", "last", "might", "us", "great", "old", "year", "off",
        "come", "since", "against", "go", "came", "right", "used", "take", "three", "café", "naïve",
        "Straße", "déjà", "vu", "日本語", "中文", "текст", "слово", "ελληνικά", "I'm", "don't", "they'LL",
        "we've", "he'd", "it's", "O'Brien", "x86_64", "foo_bar", "HTTP", "JSON"};
    static const char *const seps[] = {" ",  " ",   " ",      " ",    " ",     ", ",     ". ",  "\n",
                                       "\n\n", "  ",  "\t",     " - ",  "!\n",   "?\r\n",  ";\n", "   \n",
                                       " \n ", ":\n    ", "\n\t", " 😀 ", " 👋🏽 ", "\u3000", "\u00a0", " <|endoftext|>\n",
                                       "<|endoftext|>", "\n<|fim|>"};
    uint8_t *s = malloc(n + 64);
    size_t at = 0;
    uint64_t r = seed;
    while (at < n) {
        uint64_t x = rng_next(&r);
        const char *p;
        char num[32];
        if (x % 13 == 0) {
            snprintf(num, sizeof num, "%llu", (unsigned long long)(rng_next(&r) % 10000000));
            p = num;
        } else if (x % 17 == 0) {
            p = "    if (x == 1) {\n        return y;\n    }\n";
        } else
            p = words[(x >> 8) % (sizeof words / sizeof *words)];
        size_t k = strlen(p);
        if (at + k > n) break;
        memcpy(s + at, p, k);
        at += k;
        const char *q = seps[(x >> 24) % (sizeof seps / sizeof *seps)];
        k = strlen(q);
        if (at + k > n) break;
        memcpy(s + at, q, k);
        at += k;
    }
    *len = at;
    return s;
}

static lm_bpe *train(const uint8_t *text, size_t n, int vocab, const char *pattern, int threads) {
    static const char *const specials[] = {"<|endoftext|>", "<|fim|>"};
    lm_bpe_train_opts o = {.vocab_size = vocab, .pattern = pattern, .n_special = 2, .special = specials,
                           .threads = threads};
    lm_bpe *b = NULL;
    lm_error err = {0};
    loom_status st = lm_bpe_train(&b, text, n, &o, &err);
    if (st) fprintf(stderr, "train: %s\n", err.msg);
    assert_int_equal(st, LOOM_OK);
    return b;
}

/* ------------------------------------------------------------------------ */
/* Hand-made vocabularies                                                    */
/* ------------------------------------------------------------------------ */

/* The classic example: aaabdaaabac with Z = aa, Y = ab, X = ZY gives XdXac. */
static void test_classic_merges(void **state) {
    (void)state;
    vb v;
    vb_init(&v, 0);
    int aa = vb_add(&v, "aa"), ab = vb_add(&v, "ab"), aaab = vb_add(&v, "aaab");
    int32_t ml[] = {'a', 'a', aa}, mr[] = {'a', 'b', ab};
    lm_bpe_vocab voc = {.n_tokens = v.n, .tok = v.tok, .len = v.len, .mode = LM_BPE_MERGES, .n_merges = 3,
                        .merge_left = ml, .merge_right = mr, .pattern = "(?s).+"};
    lm_bpe *b = make(&voc);
    int32_t *ids = NULL;
    size_t cap = 0;
    const char *s = "aaabdaaabac";
    int64_t k = lm_bpe_encode(b, (const uint8_t *)s, strlen(s), 0, &ids, &cap);
    int32_t want[] = {aaab, 'd', aaab, 'a', 'c'};
    assert_int_equal(k, 5);
    assert_memory_equal(ids, want, sizeof want);
    /* "aaa": the leftmost of two equal pairs merges first */
    k = lm_bpe_encode(b, (const uint8_t *)"aaa", 3, 0, &ids, &cap);
    assert_int_equal(k, 2);
    assert_int_equal(ids[0], aa);
    assert_int_equal(ids[1], 'a');
    assert_int_equal(lm_bpe_merges(b, NULL, NULL), 3);
    assert_int_equal(lm_bpe_get_mode(b), LM_BPE_MERGES);
    assert_int_equal(lm_bpe_vocab_size(b), 259);
    free(ids);
    lm_bpe_free(b);
}

/* The same in rank mode with the single bytes in reverse order (id != byte), tiktoken style. */
static void test_classic_ranks(void **state) {
    (void)state;
    vb v;
    vb_init(&v, 1);
    int aa = vb_add(&v, "aa"), ab = vb_add(&v, "ab"), aaab = vb_add(&v, "aaab");
    lm_bpe_vocab voc = {.n_tokens = v.n, .tok = v.tok, .len = v.len, .mode = LM_BPE_RANKS,
                        .pattern = LM_BPE_PATTERN_GPT4};
    lm_bpe *b = make(&voc);
    int32_t *ids = NULL;
    size_t cap = 0;
    const char *s = "aaabdaaabac aaab";
    int64_t k = lm_bpe_encode(b, (const uint8_t *)s, strlen(s), 0, &ids, &cap);
    /* GPT-4 pre-split: "aaabdaaabac" " aaab" */
    int32_t want[] = {aaab, 255 - 'd', aaab, 255 - 'a', 255 - 'c', 255 - ' ', aaab};
    assert_int_equal(k, 7);
    assert_memory_equal(ids, want, sizeof want);
    /* derived merges: each token's canonical split below its rank */
    int32_t l[8], r[8];
    assert_int_equal(lm_bpe_merges(b, l, r), 3);
    assert_int_equal(l[0], 255 - 'a');
    assert_int_equal(r[0], 255 - 'a');
    assert_int_equal(l[1], 255 - 'a');
    assert_int_equal(r[1], 255 - 'b');
    assert_int_equal(l[2], aa);
    assert_int_equal(r[2], ab);
    free(ids);
    lm_bpe_free(b);
}

/* tiktoken takes a chunk that is a token as that token even when merging could not reach it;
 * lm_bpe_merges skips such a token (it has no two-part split). */
static void test_rank_whole_chunk(void **state) {
    (void)state;
    vb v;
    vb_init(&v, 0);
    int abc = vb_add(&v, "abc");
    lm_bpe_vocab voc = {.n_tokens = v.n, .tok = v.tok, .len = v.len, .mode = LM_BPE_RANKS,
                        .pattern = LM_BPE_PATTERN_GPT2};
    lm_bpe *b = make(&voc);
    int32_t *ids = NULL;
    size_t cap = 0;
    int64_t k = lm_bpe_encode(b, (const uint8_t *)"abc abcd", 8, 0, &ids, &cap);
    int32_t want[] = {abc, ' ', 'a', 'b', 'c', 'd'};
    assert_int_equal(k, 6);
    assert_memory_equal(ids, want, sizeof want);
    assert_int_equal(lm_bpe_merges(b, NULL, NULL), 0);
    free(ids);
    lm_bpe_free(b);
}

static void test_create_errors(void **state) {
    (void)state;
    vb v;
    vb_init(&v, 0);
    lm_bpe *b = NULL;
    lm_error err = {0};
    /* a missing byte */
    lm_bpe_vocab voc = {.n_tokens = 255, .tok = v.tok, .len = v.len, .mode = LM_BPE_RANKS, .pattern = "."};
    assert_int_equal(lm_bpe_create(&b, &voc, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "0xff"));
    assert_null(b);
    /* duplicate bytes */
    vb_add(&v, "ab");
    vb_add(&v, "ab");
    voc.n_tokens = v.n;
    assert_int_equal(lm_bpe_create(&b, &voc, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "same bytes"));
    /* a bad pattern */
    voc.n_tokens = 257;
    voc.pattern = "(unclosed";
    assert_int_equal(lm_bpe_create(&b, &voc, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "pattern"));
    /* a merge whose concatenation is no token */
    int32_t ml[] = {'x'}, mr[] = {'y'};
    voc.pattern = ".";
    voc.mode = LM_BPE_MERGES;
    voc.n_merges = 1;
    voc.merge_left = ml;
    voc.merge_right = mr;
    assert_int_equal(lm_bpe_create(&b, &voc, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "merge 0"));
    /* a special token on an ordinary token's id, and two on one id */
    const char *sp[] = {"<a>", "<b>"};
    int32_t sid[] = {10, 300};
    voc.n_merges = 0;
    voc.n_special = 1;
    voc.special = sp;
    voc.special_id = sid;
    assert_int_equal(lm_bpe_create(&b, &voc, &err), LOOM_ERR_ARG);
    sid[0] = 300;
    voc.n_special = 2;
    assert_int_equal(lm_bpe_create(&b, &voc, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "both have id 300"));
    /* a free id in the ordinary range holds a special token */
    v.tok[256] = NULL;
    sid[0] = 256;
    sid[1] = 301;
    b = make(&voc);
    assert_int_equal(lm_bpe_vocab_size(b), 302);
    assert_true(lm_bpe_is_special(b, 256));
    assert_null(lm_bpe_token(b, 299, NULL));
    size_t len;
    assert_memory_equal(lm_bpe_token(b, 301, &len), "<b>", 3);
    assert_int_equal(len, 3);
    assert_int_equal(lm_bpe_special_id(b, "<a>"), 256);
    assert_int_equal(lm_bpe_special_id(b, "<c>"), -1);
    lm_bpe_free(b);
}

/* ------------------------------------------------------------------------ */
/* Pre-split                                                                 */
/* ------------------------------------------------------------------------ */

static lm_bpe *bytes_only(const char *pattern) {
    static vb v;
    vb_init(&v, 0);
    lm_bpe_vocab voc = {.n_tokens = 256, .tok = v.tok, .len = v.len, .mode = LM_BPE_MERGES, .pattern = pattern};
    return make(&voc);
}

#define SPLIT(b, text, ...)                                                                           \
    do {                                                                                              \
        const char *const e_[] = {__VA_ARGS__};                                                       \
        check_split(b, text, e_, (int)(sizeof e_ / sizeof *e_));                                      \
    } while (0)

static void test_split_gpt4(void **state) {
    (void)state;
    lm_bpe *b = bytes_only(LM_BPE_PATTERN_GPT4);
    SPLIT(b, "I'm here, they'LL go", "I", "'m", " here", ",", " they", "'LL", " go");
    SPLIT(b, "'store 'Re", "'s", "tore", " '", "Re");
    SPLIT(b, "12345 1234567", "123", "45", " ", "123", "456", "7");
    SPLIT(b, "hello   world", "hello", "  ", " world");
    SPLIT(b, "a\n\nb", "a", "\n\n", "b");
    SPLIT(b, "  \n  x", "  \n", " ", " x");
    SPLIT(b, "x  ", "x", "  ");
    SPLIT(b, "\tfoo(bar);\r\n", "\tfoo", "(bar", ");\r\n");
    SPLIT(b, "don't!!! ...", "don", "'t", "!!!", " ...");
    SPLIT(b, "你好世界 日本", "你好世界", " 日本");
    SPLIT(b, "hi 👋🏽! ok", "hi", " 👋🏽!", " ok");
    SPLIT(b, "café\u00a0x", "café", "\u00a0x");
    SPLIT(b, "a \u3000b", "a", " ", "\u3000b");
    SPLIT(b, "١٢٣٤", "١٢٣", "٤");
    SPLIT(b, "x'ſ", "x", "'ſ");
    /* U+180E is not White_Space (tiktoken), though PCRE2's own \s takes it */
    SPLIT(b, "a\u180e'll \u180e", "a", "\u180e'", "ll", " \u180e");
    SPLIT(b, "a\xc2\x85\u2028b", "a", "\xc2\x85", "\u2028b");
    lm_bpe_free(b);
}

static void test_split_gpt2(void **state) {
    (void)state;
    lm_bpe *b = bytes_only(LM_BPE_PATTERN_GPT2);
    SPLIT(b, "I'm here, they'LL go", "I", "'m", " here", ",", " they", "'", "LL", " go");
    SPLIT(b, "12345 1234567", "12345", " 1234567");
    SPLIT(b, "hello   world", "hello", "  ", " world");
    SPLIT(b, "a\n\nb", "a", "\n", "\n", "b");
    SPLIT(b, "a  \n b", "a", "  \n", " b");
    SPLIT(b, "x  ", "x", "  ");
    SPLIT(b, "\tfoo(bar);\r\n", "\t", "foo", "(", "bar", ");", "\r\n");
    SPLIT(b, "你好世界 日本", "你好世界", " 日本");
    SPLIT(b, "hi 👋🏽! ok", "hi", " 👋🏽!", " ok");
    lm_bpe_free(b);
}

/* Invalid UTF-8 bytes are chunks of their own; the valid text around them splits as usual. */
static void test_split_invalid_utf8(void **state) {
    (void)state;
    lm_bpe *b = bytes_only(LM_BPE_PATTERN_GPT4);
    SPLIT(b, "ab\xff" "cd \xe2\x82 x", "ab", "\xff", "cd", " ", "\xe2", "\x82", " x");
    SPLIT(b, "\xed\xa0\x80z", "\xed", "\xa0", "\x80", "z"); /* a surrogate */
    SPLIT(b, "\xc0\xaf", "\xc0", "\xaf");                   /* an overlong '/' */
    lm_bpe_free(b);
}

/* The ASCII fast path of both patterns against PCRE2 alone (the same pattern in a group has no
 * fast path), on random strings of the characters that decide the splits. */
static void test_split_fast_path(void **state) {
    (void)state;
    static const char *const alphabet[] = {
        "a", "Z", "s", "S", "t", "l", "L", "r", "R", "e", "E", "v", "m", "d", "D", "'", "'", "0", "7", " ", " ", " ", "\n", "\r", "\t", "\v", "\f",
        "!", ".", "_", "(", "\x01", "é", "ſ", "你", "١", "²", "\u00a0", "\u3000", "\xc2\x85", "\u180e", "\u2028", "😀", "\xcc\x81", "\xff"};
    const char *pats[] = {LM_BPE_PATTERN_GPT4, LM_BPE_PATTERN_GPT2};
    uint64_t r = 42;
    for (int p = 0; p < 2; p++) {
        char wrapped[512];
        snprintf(wrapped, sizeof wrapped, "(?:%s)", pats[p]);
        lm_bpe *fast = bytes_only(pats[p]), *slow = bytes_only(wrapped);
        size_t *e1 = NULL, *e2 = NULL, c1 = 0, c2 = 0;
        char s[256];
        for (int it = 0; it < 3000; it++) {
            size_t n = 0;
            int len = (int)(rng_next(&r) % 24);
            for (int k = 0; k < len; k++) {
                const char *a = alphabet[rng_next(&r) % (sizeof alphabet / sizeof *alphabet)];
                memcpy(s + n, a, strlen(a));
                n += strlen(a);
            }
            int64_t k1 = lm_bpe_split(fast, (uint8_t *)s, n, &e1, &c1);
            int64_t k2 = lm_bpe_split(slow, (uint8_t *)s, n, &e2, &c2);
            if (k1 != k2 || memcmp(e1, e2, (size_t)k1 * sizeof *e1) != 0) {
                fprintf(stderr, "pattern %d differs on \"%.*s\"\n", p, (int)n, s);
                fail();
            }
        }
        free(e1);
        free(e2);
        lm_bpe_free(fast);
        lm_bpe_free(slow);
    }
}

/* The cut rule: at every cut lm_bpe_cuts offers (asked for as many parts as there are bytes,
 * so that it offers all it finds), the split of the whole is the split of the two parts, and
 * with special tokens allowed (two of them span a newline) so is the encoding. */
static void test_cut_rule(void **state) {
    (void)state;
    static const char *const alphabet[] = {"a", "b", "1", " ", " ", "\n", "\n", "\r", "\t", "!", "'", "s", "é",
                                           "\u3000", "x", ";", "<"};
    const char *pats[] = {LM_BPE_PATTERN_GPT4, LM_BPE_PATTERN_GPT2};
    const char *sp[] = {";\nx", "\n<"};
    int32_t sid[] = {256, 257};
    uint64_t r = 7;
    for (int p = 0; p < 2; p++) {
        vb v;
        vb_init(&v, 0);
        lm_bpe_vocab voc = {.n_tokens = 256, .tok = v.tok, .len = v.len, .mode = LM_BPE_MERGES, .pattern = pats[p],
                            .n_special = 2, .special = sp, .special_id = sid};
        lm_bpe *b = make(&voc);
        size_t *e = NULL, *e1 = NULL, *e2 = NULL, c = 0, c1 = 0, c2 = 0, cuts[256];
        int32_t *i0 = NULL, *i1 = NULL, *i2 = NULL;
        size_t d0 = 0, d1 = 0, d2 = 0;
        char s[256];
        int checked = 0;
        for (int it = 0; it < 4000; it++) {
            size_t n = 0;
            int len = (int)(rng_next(&r) % 40);
            for (int k = 0; k < len; k++) {
                const char *a = alphabet[rng_next(&r) % (sizeof alphabet / sizeof *alphabet)];
                memcpy(s + n, a, strlen(a));
                n += strlen(a);
            }
            int allow = it & 1;
            int nc = lm_bpe_cuts(b, (uint8_t *)s, n, allow, (int)n, cuts);
            int64_t k = lm_bpe_split(b, (uint8_t *)s, n, &e, &c);
            int64_t m = lm_bpe_encode(b, (uint8_t *)s, n, allow, &i0, &d0);
            for (int ci = 0; ci < nc; ci++) {
                size_t q = cuts[ci];
                assert_true(q > 0 && q < n && (ci == 0 || q > cuts[ci - 1]));
                int ok = 1;
                if (!allow) {
                    int64_t k1 = lm_bpe_split(b, (uint8_t *)s, q, &e1, &c1);
                    int64_t k2 = lm_bpe_split(b, (uint8_t *)s + q, n - q, &e2, &c2);
                    ok = k == k1 + k2 && memcmp(e, e1, (size_t)k1 * sizeof *e) == 0;
                    for (int64_t i = 0; ok && i < k2; i++) ok = e[k1 + i] == e2[i] + q;
                } else {
                    int64_t m1 = lm_bpe_encode(b, (uint8_t *)s, q, 1, &i1, &d1);
                    int64_t m2 = lm_bpe_encode(b, (uint8_t *)s + q, n - q, 1, &i2, &d2);
                    ok = m == m1 + m2 && memcmp(i0, i1, (size_t)m1 * 4) == 0 &&
                         memcmp(i0 + m1, i2, (size_t)m2 * 4) == 0;
                }
                if (!ok) {
                    fprintf(stderr, "pattern %d: cut at %zu changes \"%.*s\"\n", p, q, (int)n, s);
                    fail();
                }
                checked++;
            }
        }
        assert_true(checked > 200);
        free(e);
        free(e1);
        free(e2);
        free(i0);
        free(i1);
        free(i2);
        lm_bpe_free(b);
    }
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */
/* ------------------------------------------------------------------------ */

/* Random bytes (mostly invalid UTF-8) and random text round-trip exactly, in both modes. */
static void test_round_trip(void **state) {
    (void)state;
    size_t tn;
    uint8_t *text = synth_text(200000, 1, &tn);
    lm_bpe *m = train(text, tn, 600, LM_BPE_PATTERN_GPT4, 1);
    /* the same tokens as a rank vocabulary */
    int nt = lm_bpe_vocab_size(m) - 2;
    const uint8_t **tp = malloc((size_t)nt * sizeof *tp);
    size_t *tl = malloc((size_t)nt * sizeof *tl);
    for (int i = 0; i < nt; i++) tp[i] = lm_bpe_token(m, i, &tl[i]);
    lm_bpe_vocab voc = {.n_tokens = nt, .tok = tp, .len = tl, .mode = LM_BPE_RANKS, .pattern = LM_BPE_PATTERN_GPT2};
    lm_bpe *rk = make(&voc);
    uint64_t r = 3;
    uint8_t buf[4096];
    for (int it = 0; it < 300; it++) {
        size_t n = (size_t)(rng_next(&r) % sizeof buf);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rng_next(&r);
        assert_round_trip(m, buf, n, 0);
        assert_round_trip(rk, buf, n, 1);
        /* text with a few stray bytes */
        size_t at = (size_t)(rng_next(&r) % (tn - sizeof buf));
        memcpy(buf, text + at, n);
        if (n) buf[rng_next(&r) % n] = (uint8_t)rng_next(&r);
        assert_round_trip(m, buf, n, 1);
        assert_round_trip(rk, buf, n, 0);
    }
    assert_round_trip(m, text, tn, 1);
    assert_round_trip(m, (const uint8_t *)"", 0, 1);
    free(tp);
    free(tl);
    free(text);
    lm_bpe_free(rk);
    lm_bpe_free(m);
}

/* Long chunks take the heap path; both paths must give what the plain algorithm gives: merge
 * the leftmost pair of lowest rank until none is left. */
static void test_long_chunks(void **state) {
    (void)state;
    /* letters only, so that runs of them are single chunks */
    static const char ab[] = "abcab a ba";
    uint8_t *run = malloc(3000);
    uint64_t r = 9;
    for (int mode = 0; mode < 2; mode++) {
        lm_bpe *m = train((const uint8_t *)"ab abc abca bcab abcabc cab cabcab ba bab abab aab aaab bca\n", 60, 300,
                          LM_BPE_PATTERN_GPT4, 1);
        lm_bpe *b = m;
        int nt = lm_bpe_vocab_size(m) - 2;
        const uint8_t **tp = malloc((size_t)nt * sizeof *tp);
        size_t *tl = malloc((size_t)nt * sizeof *tl);
        for (int i = 0; i < nt; i++) tp[i] = lm_bpe_token(m, i, &tl[i]);
        if (mode == 1) {
            lm_bpe_vocab voc = {.n_tokens = nt, .tok = tp, .len = tl, .mode = LM_BPE_RANKS,
                                .pattern = LM_BPE_PATTERN_GPT4};
            b = make(&voc);
        }
        /* pair table: rank and result for every pair of tokens */
        int32_t *prank = malloc((size_t)nt * nt * sizeof *prank), *pres = malloc((size_t)nt * nt * sizeof *pres);
        for (int i = 0; i < nt * nt; i++) prank[i] = INT32_MAX;
        int nm = lm_bpe_merges(b, NULL, NULL);
        int32_t *ml = malloc((size_t)nm * sizeof *ml), *mr = malloc((size_t)nm * sizeof *mr);
        lm_bpe_merges(b, ml, mr);
        for (int k = 0; k < nm; k++) {
            uint8_t cat[64];
            memcpy(cat, tp[ml[k]], tl[ml[k]]);
            memcpy(cat + tl[ml[k]], tp[mr[k]], tl[mr[k]]);
            int res = -1;
            for (int t = 0; t < nt; t++)
                if (tl[t] == tl[ml[k]] + tl[mr[k]] && memcmp(tp[t], cat, tl[t]) == 0) res = t;
            assert_true(res >= 0);
            if (mode == 0) {
                prank[ml[k] * nt + mr[k]] = k;
                pres[ml[k] * nt + mr[k]] = res;
            }
        }
        if (mode == 1) /* ranks: every split of a token into two tokens */
            for (int t = 256; t < nt; t++)
                for (size_t s = 1; s < tl[t]; s++) {
                    int l = -1, rr = -1;
                    for (int u = 0; u < nt; u++) {
                        if (tl[u] == s && memcmp(tp[u], tp[t], s) == 0) l = u;
                        if (tl[u] == tl[t] - s && memcmp(tp[u], tp[t] + s, tl[t] - s) == 0) rr = u;
                    }
                    if (l >= 0 && rr >= 0) {
                        prank[l * nt + rr] = t;
                        pres[l * nt + rr] = t;
                    }
                }
        int32_t *ids = NULL, *ref = malloc(3000 * sizeof *ref);
        size_t cap = 0;
        for (int it = 0; it < 40; it++) {
            size_t n = 1 + (size_t)(rng_next(&r) % (it < 20 ? 64 : 3000));
            for (size_t i = 0; i < n; i++) run[i] = (uint8_t)ab[rng_next(&r) % 3];
            int64_t k = lm_bpe_encode(b, run, n, 0, &ids, &cap);
            /* the reference */
            size_t m2 = n;
            for (size_t i = 0; i < n; i++) ref[i] = run[i];
            int whole = -1;
            if (mode == 1)
                for (int t = 0; t < nt; t++)
                    if (tl[t] == n && memcmp(tp[t], run, n) == 0) whole = t;
            if (whole >= 0) {
                ref[0] = whole;
                m2 = 1;
            }
            for (;;) {
                int32_t best = INT32_MAX;
                size_t bi = 0;
                for (size_t i = 0; i + 1 < m2; i++)
                    if (prank[ref[i] * nt + ref[i + 1]] < best) {
                        best = prank[ref[i] * nt + ref[i + 1]];
                        bi = i;
                    }
                if (best == INT32_MAX) break;
                ref[bi] = pres[ref[bi] * nt + ref[bi + 1]];
                memmove(ref + bi + 1, ref + bi + 2, (m2 - bi - 2) * sizeof *ref);
                m2--;
            }
            assert_int_equal(k, (int64_t)m2);
            assert_memory_equal(ids, ref, m2 * sizeof *ref);
        }
        free(ids);
        free(ref);
        free(ml);
        free(mr);
        free(prank);
        free(pres);
        free(tp);
        free(tl);
        if (b != m) lm_bpe_free(b);
        lm_bpe_free(m);
    }
    free(run);
}

static void test_special_tokens(void **state) {
    (void)state;
    vb v;
    vb_init(&v, 0);
    const char *sp[] = {"<|x|>", "<|x|>y", "<|eot|>"};
    int32_t sid[] = {300, 301, 256};
    lm_bpe_vocab voc = {.n_tokens = 256, .tok = v.tok, .len = v.len, .mode = LM_BPE_MERGES,
                        .pattern = LM_BPE_PATTERN_GPT4, .n_special = 3, .special = sp, .special_id = sid};
    lm_bpe *b = make(&voc);
    const char *s = "a<|x|>yb<|x|><|eot|><|eo";
    int32_t *ids = NULL;
    size_t cap = 0;
    int64_t k = lm_bpe_encode(b, (const uint8_t *)s, strlen(s), 1, &ids, &cap);
    int32_t want[] = {'a', 301, 'b', 300, 256, '<', '|', 'e', 'o'};
    assert_int_equal(k, 9);
    assert_memory_equal(ids, want, sizeof want);
    /* not allowed: the text is ordinary text */
    k = lm_bpe_encode(b, (const uint8_t *)s, strlen(s), 0, &ids, &cap);
    assert_int_equal(k, (int64_t)strlen(s));
    for (int64_t i = 0; i < k; i++) assert_false(lm_bpe_is_special(b, ids[i]));
    size_t len;
    int32_t id;
    assert_int_equal(lm_bpe_find_special(b, (const uint8_t *)s, strlen(s), &len, &id), 1);
    assert_int_equal(len, 6);
    assert_int_equal(id, 301);
    assert_round_trip(b, (const uint8_t *)s, strlen(s), 1);
    free(ids);
    lm_bpe_free(b);
}

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

static void assert_same_tokenizer(const lm_bpe *a, const lm_bpe *b) {
    assert_int_equal(lm_bpe_vocab_size(a), lm_bpe_vocab_size(b));
    for (int i = 0; i < lm_bpe_vocab_size(a); i++) {
        size_t la, lb;
        const uint8_t *ta = lm_bpe_token(a, i, &la), *tb = lm_bpe_token(b, i, &lb);
        assert_int_equal(la, lb);
        if (la) assert_memory_equal(ta, tb, la);
        assert_int_equal(lm_bpe_is_special(a, i), lm_bpe_is_special(b, i));
    }
    int n = lm_bpe_merges(a, NULL, NULL);
    assert_int_equal(n, lm_bpe_merges(b, NULL, NULL));
    int32_t *l1 = malloc(((size_t)n + 1) * 4), *r1 = malloc(((size_t)n + 1) * 4);
    int32_t *l2 = malloc(((size_t)n + 1) * 4), *r2 = malloc(((size_t)n + 1) * 4);
    lm_bpe_merges(a, l1, r1);
    lm_bpe_merges(b, l2, r2);
    assert_memory_equal(l1, l2, (size_t)n * 4);
    assert_memory_equal(r1, r2, (size_t)n * 4);
    free(l1);
    free(r1);
    free(l2);
    free(r2);
    assert_string_equal(lm_bpe_pattern(a), lm_bpe_pattern(b));
    assert_int_equal(lm_bpe_get_mode(a), lm_bpe_get_mode(b));
}

static void test_train(void **state) {
    (void)state;
    size_t tn;
    uint8_t *text = synth_text(300000, 5, &tn);
    lm_bpe *a = train(text, tn, 700, LM_BPE_PATTERN_GPT4, 1);
    lm_bpe *b = train(text, tn, 700, LM_BPE_PATTERN_GPT4, 2);
    assert_same_tokenizer(a, b); /* deterministic, whatever the threads */
    assert_int_equal(lm_bpe_vocab_size(a), 700);
    assert_int_equal(lm_bpe_get_mode(a), LM_BPE_MERGES);
    assert_true(lm_bpe_is_special(a, 698));
    assert_int_equal(lm_bpe_special_id(a, "<|fim|>"), 699);
    for (int i = 0; i < 256; i++) {
        size_t len;
        const uint8_t *t = lm_bpe_token(a, i, &len);
        assert_int_equal(len, 1);
        assert_int_equal(t[0], i);
    }
    /* every learned token is the concatenation of its merge */
    int nm = lm_bpe_merges(a, NULL, NULL);
    assert_true(nm >= 698 - 256);
    int32_t *ml = malloc((size_t)nm * 4), *mr = malloc((size_t)nm * 4);
    lm_bpe_merges(a, ml, mr);
    size_t l0, l1, l2;
    const uint8_t *t0 = lm_bpe_token(a, 256, &l0), *x = lm_bpe_token(a, ml[0], &l1), *y = lm_bpe_token(a, mr[0], &l2);
    assert_int_equal(l0, l1 + l2);
    assert_memory_equal(t0, x, l1);
    assert_memory_equal(t0 + l1, y, l2);
    free(ml);
    free(mr);
    /* round trip and compression */
    int32_t *ids = NULL;
    size_t cap = 0;
    int64_t k = lm_bpe_encode(a, text, tn, 1, &ids, &cap);
    assert_true(k > 0 && (size_t)k * 2 < tn);
    assert_round_trip(a, text, tn, 1);
    free(ids);
    /* a text with no repeated pair stops early with just the bytes */
    lm_bpe *c = train((const uint8_t *)"abcdefg", 7, 1000, NULL, 1);
    assert_int_equal(lm_bpe_vocab_size(c), 258);
    lm_bpe_free(c);
    lm_bpe_free(a);
    lm_bpe_free(b);
    free(text);
}

static void test_train_errors(void **state) {
    (void)state;
    const char *sp[] = {"<|endoftext|>"};
    lm_bpe_train_opts o = {.vocab_size = 256, .n_special = 1, .special = sp};
    lm_bpe *b = NULL;
    lm_error err = {0};
    const uint8_t *t = (const uint8_t *)"hello hello";
    assert_int_equal(lm_bpe_train(&b, t, 11, &o, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "too small"));
    assert_non_null(strstr(err.msg, "257"));
    o.vocab_size = 255;
    o.n_special = 0;
    assert_int_equal(lm_bpe_train(&b, t, 11, &o, &err), LOOM_ERR_ARG);
    o.vocab_size = (1 << 20) + 1;
    assert_int_equal(lm_bpe_train(&b, t, 11, &o, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "limit"));
    o.vocab_size = 1000;
    assert_int_equal(lm_bpe_train(&b, t, 0, &o, &err), LOOM_ERR_DATA);
    assert_non_null(strstr(err.msg, "empty"));
    assert_null(b);
}

/* ------------------------------------------------------------------------ */
/* The file                                                                  */
/* ------------------------------------------------------------------------ */

static void temp_path(char *p, size_t n) { snprintf(p, n, "/tmp/test_bpe_%ld.tok", (long)getpid()); }

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*n);
    assert_int_equal(fread(buf, 1, *n, f), *n);
    fclose(f);
    return buf;
}

static void test_save_load(void **state) {
    (void)state;
    size_t tn;
    uint8_t *text = synth_text(100000, 11, &tn);
    lm_bpe *a = train(text, tn, 400, LM_BPE_PATTERN_GPT2, 1);
    char path[64];
    temp_path(path, sizeof path);
    lm_error err = {0};
    assert_int_equal(lm_bpe_save(a, path, &err), LOOM_OK);
    lm_bpe *b = NULL;
    assert_int_equal(lm_bpe_load(path, &b, &err), LOOM_OK);
    assert_same_tokenizer(a, b);
    int32_t *i1 = NULL, *i2 = NULL;
    size_t c1 = 0, c2 = 0;
    int64_t k1 = lm_bpe_encode(a, text, tn, 1, &i1, &c1), k2 = lm_bpe_encode(b, text, tn, 1, &i2, &c2);
    assert_int_equal(k1, k2);
    assert_memory_equal(i1, i2, (size_t)k1 * sizeof *i1);
    free(i1);
    free(i2);
    lm_bpe_free(b);

    /* a rank vocabulary with a free id, and specials beyond the ordinary ids */
    vb v;
    vb_init(&v, 1);
    vb_add(&v, "ab");
    vb_add(&v, "abc");
    v.tok[v.n++] = NULL;
    const char *sp[] = {"<|endoftext|>"};
    int32_t sid[] = {1000};
    lm_bpe_vocab voc = {.n_tokens = v.n, .tok = v.tok, .len = v.len, .mode = LM_BPE_RANKS, .pattern = "(?s).",
                        .n_special = 1, .special = sp, .special_id = sid};
    lm_bpe *r = make(&voc);
    assert_int_equal(lm_bpe_save(r, path, &err), LOOM_OK);
    assert_int_equal(lm_bpe_load(path, &b, &err), LOOM_OK);
    assert_same_tokenizer(r, b);
    lm_bpe_free(b);
    lm_bpe_free(r);

    /* errors */
    assert_int_equal(lm_bpe_load("/nonexistent/x.tok", &b, &err), LOOM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/x.tok"));
    assert_int_equal(lm_bpe_load_mem((const uint8_t *)"GGUF\3\0\0\0", 8, "m.gguf", &b, &err), LOOM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "'m.gguf' is not a loom tokenizer file"));
    uint8_t v2[16] = {'L', 'M', 'T', 'K', 2};
    assert_int_equal(lm_bpe_load_mem(v2, 16, "new.tok", &b, &err), LOOM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "version 2"));
    unlink(path);
    lm_bpe_free(a);
    free(text);
}

/* Every truncation and random byte flips of a small file give an error, never a crash. */
static void test_corrupted_files(void **state) {
    (void)state;
    const char *text = "low lower lowest newer newest wider widest\nlow lower newest\n";
    lm_bpe *a = train((const uint8_t *)text, strlen(text), 290, LM_BPE_PATTERN_GPT4, 1);
    char path[64];
    temp_path(path, sizeof path);
    lm_error err = {0};
    assert_int_equal(lm_bpe_save(a, path, &err), LOOM_OK);
    size_t n;
    uint8_t *buf = slurp(path, &n);
    unlink(path);
    lm_bpe *b = NULL;
    assert_int_equal(lm_bpe_load_mem(buf, n, "t.tok", &b, &err), LOOM_OK);
    lm_bpe_free(b);
    int truncated = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1); /* an exact-size copy, so that ASan sees any overread */
        memcpy(cut, buf, k);
        err.msg[0] = 0;
        b = NULL;
        assert_int_equal(lm_bpe_load_mem(cut, k, "t.tok", &b, &err), LOOM_ERR_FORMAT);
        assert_null(b);
        assert_non_null(strstr(err.msg, "'t.tok'"));
        truncated += strstr(err.msg, "truncated") != NULL;
        free(cut);
    }
    assert_true(truncated > (int)n - 10);
    uint64_t r = 5;
    uint8_t *bad = malloc(n);
    for (int it = 0; it < 3000; it++) {
        memcpy(bad, buf, n);
        int flips = 1 + (int)(rng_next(&r) % 3);
        for (int f = 0; f < flips; f++) bad[rng_next(&r) % n] ^= (uint8_t)(1 + rng_next(&r) % 255);
        b = NULL;
        loom_status st = lm_bpe_load_mem(bad, n, "t.tok", &b, &err);
        if (memcmp(bad, buf, n) == 0) { /* the flips cancelled out */
            lm_bpe_free(b);
            continue;
        }
        assert_int_equal(st, LOOM_ERR_FORMAT);
        assert_null(b);
    }
    /* a huge count is refused before anything is allocated for it */
    memcpy(bad, buf, n);
    size_t at = 12 + 4 + strlen(LM_BPE_PATTERN_GPT4);
    bad[at] = bad[at + 1] = bad[at + 2] = 0xff;
    bad[at + 3] = 0x7f;
    assert_int_equal(lm_bpe_load_mem(bad, n, "t.tok", &b, &err), LOOM_ERR_FORMAT);
    free(bad);
    free(buf);
    lm_bpe_free(a);
}

/* ------------------------------------------------------------------------ */
/* Parallel encoding                                                         */
/* ------------------------------------------------------------------------ */

static void test_parallel(void **state) {
    (void)state;
    size_t tn;
    uint8_t *text = synth_text(1500000, 21, &tn);
    const char *pats[] = {LM_BPE_PATTERN_GPT4, LM_BPE_PATTERN_GPT2};
    for (int p = 0; p < 2; p++) {
        lm_bpe *b = train(text, 200000, 800, pats[p], 2);
        for (int allow = 0; allow < 2; allow++) {
            int32_t *i1 = NULL, *i2 = NULL;
            size_t c1 = 0, c2 = 0;
            int64_t k1 = lm_bpe_encode(b, text, tn, allow, &i1, &c1);
            for (int threads = 2; threads <= 7; threads += 5) {
                int64_t k2 = lm_bpe_encode_parallel(b, text, tn, allow, &i2, &c2, threads);
                assert_int_equal(k1, k2);
                assert_memory_equal(i1, i2, (size_t)k1 * sizeof *i1);
            }
            size_t cuts[7];
            assert_int_equal(lm_bpe_cuts(b, text, tn, allow, 7, cuts), 6);
            free(i1);
            free(i2);
        }
        lm_bpe_free(b);
    }
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic_merges),  cmocka_unit_test(test_classic_ranks),
        cmocka_unit_test(test_rank_whole_chunk), cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_split_gpt4),       cmocka_unit_test(test_split_gpt2),
        cmocka_unit_test(test_split_invalid_utf8), cmocka_unit_test(test_split_fast_path),
        cmocka_unit_test(test_cut_rule),        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_long_chunks),     cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_train),           cmocka_unit_test(test_train_errors),
        cmocka_unit_test(test_save_load),       cmocka_unit_test(test_corrupted_files),
        cmocka_unit_test(test_parallel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
