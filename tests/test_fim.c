/* Fill-in-the-middle documents and code corpora: the exact token layouts of known splits (PSM
 * and SPM, with a path line kept in front), cuts only between UTF-8 characters, rate 0 and
 * rate 1, the same seed giving the same tokens, a corpus split into rearranged training text
 * and left-to-right held-out text; .gitignore patterns against a table of paths; and the
 * source-tree walk on a small generated tree (kept files, skip reasons, nested .gitignore). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/bpe.h"
#include "data/code_corpus.h"
#include "data/corpus.h"
#include "data/fim.h"
#include "data/tokenizer.h"
#include "util/io.h"

/* ---- helpers ---- */

static const char *const SPECIALS[] = {"<|endoftext|>", LM_FIM_PREFIX, LM_FIM_MIDDLE, LM_FIM_SUFFIX};

static const char CODE[] =
    "def add(a, b):\n    return a + b\n\n"
    "def mul(a, b):\n    # multiply two numbers\n    return a * b\n\n"
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n";

/* A small BPE tokenizer with loom's four special tokens, trained on CODE. */
static void bpe_tokenizer(lm_tokenizer *tok) {
    lm_bpe *b = NULL;
    lm_error err = {0};
    lm_bpe_train_opts o = {.vocab_size = 300, .n_special = 4, .special = SPECIALS, .threads = 1};
    assert_int_equal(lm_bpe_train(&b, (const uint8_t *)CODE, strlen(CODE), &o, &err), LOOM_OK);
    assert_int_equal(lm_tokenizer_from_bpe(tok, b, &err), LOOM_OK);
}

/* Appends the ids of s to v (at *n). */
static void enc(const lm_tokenizer *tok, const char *s, size_t len, int32_t *v, size_t *n) {
    *n += lm_tokenizer_encode(tok, (const uint8_t *)s, len, v + *n);
}

/* ---- layouts ---- */

/* Byte tokenizer with made-up sentinel ids: every id is visible in the expected arrays. */
static void test_layout_bytes(void **state) {
    (void)state;
    lm_tokenizer tok;
    lm_error err = {0};
    assert_int_equal(lm_tokenizer_byte(&tok, &err), LOOM_OK);
    lm_fim_ids ids = {.prefix = 1000, .suffix = 1001, .middle = 1002};
    const char *doc = "# p\nabcdefgh"; /* 4 bytes of path line, then the body */
    int32_t out[64];
    /* middle = body[2, 5) = "cde": prefix "ab", suffix "fgh" */
    lm_fim_split psm = {LM_FIM_PSM, 2, 5}, spm = {LM_FIM_SPM, 2, 5}, none = {LM_FIM_NONE, 0, 0};
    const int32_t want_psm[] = {'#', ' ', 'p', '\n', 1000, 'a', 'b', 1001, 'f', 'g', 'h', 1002, 'c', 'd', 'e'};
    const int32_t want_spm[] = {'#', ' ', 'p', '\n', 1000, 1001, 'f', 'g', 'h', 1002, 'a', 'b', 'c', 'd', 'e'};
    size_t n = lm_fim_layout(&tok, &ids, (const uint8_t *)doc, strlen(doc), 4, &psm, out);
    assert_int_equal(n, sizeof want_psm / sizeof *want_psm);
    assert_memory_equal(out, want_psm, sizeof want_psm);
    n = lm_fim_layout(&tok, &ids, (const uint8_t *)doc, strlen(doc), 4, &spm, out);
    assert_int_equal(n, sizeof want_spm / sizeof *want_spm);
    assert_memory_equal(out, want_spm, sizeof want_spm);
    n = lm_fim_layout(&tok, &ids, (const uint8_t *)doc, strlen(doc), 4, &none, out);
    assert_int_equal(n, strlen(doc));
    for (size_t i = 0; i < n; i++) assert_int_equal(out[i], (uint8_t)doc[i]);
    /* empty parts: the middle at the very start, and an empty middle at the end */
    lm_fim_split edge = {LM_FIM_PSM, 0, 8};
    const int32_t want_edge[] = {1000, 1001, 1002, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    n = lm_fim_layout(&tok, &ids, (const uint8_t *)doc + 4, 8, 0, &edge, out);
    assert_int_equal(n, 11);
    assert_memory_equal(out, want_edge, sizeof want_edge);
    lm_fim_split tail = {LM_FIM_SPM, 8, 8};
    const int32_t want_tail[] = {1000, 1001, 1002, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    n = lm_fim_layout(&tok, &ids, (const uint8_t *)doc + 4, 8, 0, &tail, out);
    assert_int_equal(n, 11);
    assert_memory_equal(out, want_tail, sizeof want_tail);
    lm_tokenizer_free(&tok);
}

/* A trained BPE tokenizer: the sentinels are its own special tokens and each part is encoded
 * on its own (the middle starts on a token boundary). */
static void test_layout_bpe(void **state) {
    (void)state;
    lm_tokenizer tok;
    bpe_tokenizer(&tok);
    lm_fim_ids ids;
    lm_error err = {0};
    assert_int_equal(lm_fim_find_ids(&tok, &ids, &err), LOOM_OK);
    assert_int_equal(ids.prefix, lm_bpe_special_id(tok.bpe, LM_FIM_PREFIX));
    assert_int_equal(ids.suffix, lm_bpe_special_id(tok.bpe, LM_FIM_SUFFIX));
    assert_int_equal(ids.middle, lm_bpe_special_id(tok.bpe, LM_FIM_MIDDLE));
    const char *head = "# path: m.py\n", *body = CODE;
    size_t hn = strlen(head), bn = strlen(body);
    char *doc = malloc(hn + bn);
    memcpy(doc, head, hn);
    memcpy(doc + hn, body, bn);
    size_t b = 20, e = 47; /* inside "return a + b" ... "# multiply" */
    int32_t *out = malloc(lm_fim_max_tokens(&tok, hn + bn) * sizeof(int32_t));
    int32_t *want = malloc((hn + bn + 3) * sizeof(int32_t));
    for (int mode = LM_FIM_PSM; mode <= LM_FIM_SPM; mode++) {
        lm_fim_split sp = {(lm_fim_mode)mode, b, e};
        size_t n = lm_fim_layout(&tok, &ids, (const uint8_t *)doc, hn + bn, hn, &sp, out), k = 0;
        enc(&tok, head, hn, want, &k);
        want[k++] = ids.prefix;
        if (mode == LM_FIM_PSM) {
            enc(&tok, body, b, want, &k);
            want[k++] = ids.suffix;
            enc(&tok, body + e, bn - e, want, &k);
            want[k++] = ids.middle;
        } else {
            want[k++] = ids.suffix;
            enc(&tok, body + e, bn - e, want, &k);
            want[k++] = ids.middle;
            enc(&tok, body, b, want, &k);
        }
        enc(&tok, body + b, e - b, want, &k);
        assert_int_equal(n, k);
        assert_memory_equal(out, want, k * sizeof(int32_t));
        assert_true(n <= lm_fim_max_tokens(&tok, hn + bn));
        /* the pieces spell the document, rearranged */
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            if (out[i] != ids.prefix && out[i] != ids.suffix && out[i] != ids.middle)
                bytes += (size_t)tok.piece_len[out[i]];
        assert_int_equal(bytes, hn + bn);
    }
    free(want);
    free(out);
    free(doc);
    lm_tokenizer_free(&tok);
}

static void test_byte_tokenizer_has_no_fim(void **state) {
    (void)state;
    lm_tokenizer tok;
    lm_error err = {0};
    assert_int_equal(lm_tokenizer_byte(&tok, &err), LOOM_OK);
    lm_fim_ids ids;
    assert_int_not_equal(lm_fim_find_ids(&tok, &ids, &err), LOOM_OK);
    assert_non_null(strstr(err.msg, "--tokenizer bpe"));
    assert_non_null(strstr(err.msg, LM_FIM_MIDDLE));
    lm_tokenizer_free(&tok);
}

/* ---- the draws ---- */

/* Cuts fall on character boundaries only, and every boundary can be drawn. */
static void test_utf8_cuts(void **state) {
    (void)state;
    /* 1-, 2-, 3- and 4-byte characters, and a byte that starts no character */
    const char *s = "a\xc3\xa9" "b\xe6\x9d\xb1\xe4\xba\xac" "c\xf0\x9f\x8e\x89\xff" "d\xc3\xa9";
    size_t n = strlen(s);
    int boundary[64] = {0}, hit[64] = {0};
    const size_t starts[] = {0, 1, 3, 4, 7, 10, 11, 15, 16, 17, 19};
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) boundary[starts[i]] = 1;
    assert_int_equal(n, 19);
    lm_rng r;
    lm_rng_seed(&r, 42);
    for (int t = 0; t < 4000; t++) {
        lm_fim_split sp;
        lm_fim_draw((const uint8_t *)s, n, 1.0, 0.5, &r, &sp);
        assert_int_not_equal(sp.mode, LM_FIM_NONE);
        assert_true(sp.begin <= sp.end && sp.end <= n);
        assert_true(boundary[sp.begin]);
        assert_true(boundary[sp.end]);
        hit[sp.begin] = hit[sp.end] = 1;
    }
    for (size_t i = 0; i <= n; i++) assert_int_equal(hit[i], boundary[i]);
}

static void test_rates(void **state) {
    (void)state;
    lm_tokenizer tok;
    bpe_tokenizer(&tok);
    lm_fim_ids ids;
    assert_int_equal(lm_fim_find_ids(&tok, &ids, NULL), LOOM_OK);
    size_t n = strlen(CODE);
    int32_t *a = malloc(lm_fim_max_tokens(&tok, n) * sizeof(int32_t));
    int32_t *plain = malloc(n * sizeof(int32_t));
    size_t np = lm_tokenizer_encode(&tok, (const uint8_t *)CODE, n, plain);
    int spm = 0;
    for (int d = 0; d < 200; d++) {
        lm_rng r;
        lm_fim_doc_rng(&r, 7, d);
        /* rate 0: exactly the left-to-right encoding */
        size_t k = lm_fim_encode(&tok, &ids, (const uint8_t *)CODE, n, 0, 0.0, 0.5, &r, a);
        assert_int_equal(k, np);
        assert_memory_equal(a, plain, np * sizeof(int32_t));
        /* rate 1: every document rearranged, each sentinel exactly once */
        lm_fim_doc_rng(&r, 7, d);
        lm_fim_split sp;
        lm_fim_draw((const uint8_t *)CODE, n, 1.0, 0.5, &r, &sp);
        assert_int_not_equal(sp.mode, LM_FIM_NONE);
        spm += sp.mode == LM_FIM_SPM;
        lm_fim_doc_rng(&r, 7, d);
        k = lm_fim_encode(&tok, &ids, (const uint8_t *)CODE, n, 0, 1.0, 0.5, &r, a);
        int c[3] = {0};
        for (size_t i = 0; i < k; i++) {
            c[0] += a[i] == ids.prefix;
            c[1] += a[i] == ids.suffix;
            c[2] += a[i] == ids.middle;
        }
        assert_true(c[0] == 1 && c[1] == 1 && c[2] == 1);
        /* SPM puts the two sentinels first; PSM the prefix sentinel alone */
        assert_int_equal(a[0], ids.prefix);
        if (sp.mode == LM_FIM_SPM) assert_int_equal(a[1], ids.suffix);
    }
    assert_true(spm > 60 && spm < 140); /* --fim-spm-rate 0.5 */
    /* spm rate 0 and 1 */
    for (int d = 0; d < 50; d++) {
        lm_rng r;
        lm_fim_split sp;
        lm_fim_doc_rng(&r, 7, d);
        lm_fim_draw((const uint8_t *)CODE, n, 1.0, 0.0, &r, &sp);
        assert_int_equal(sp.mode, LM_FIM_PSM);
        lm_fim_doc_rng(&r, 7, d);
        lm_fim_draw((const uint8_t *)CODE, n, 1.0, 1.0, &r, &sp);
        assert_int_equal(sp.mode, LM_FIM_SPM);
    }
    free(plain);
    free(a);
    lm_tokenizer_free(&tok);
}

/* The same seed and document give the same split; another seed other splits. */
static void test_same_seed(void **state) {
    (void)state;
    size_t n = strlen(CODE);
    int differ = 0;
    for (int d = 0; d < 100; d++) {
        lm_rng r1, r2, r3;
        lm_fim_doc_rng(&r1, 1337, d);
        lm_fim_doc_rng(&r2, 1337, d);
        lm_fim_doc_rng(&r3, 1338, d);
        lm_fim_split a, b, c;
        lm_fim_draw((const uint8_t *)CODE, n, 0.5, 0.5, &r1, &a);
        lm_fim_draw((const uint8_t *)CODE, n, 0.5, 0.5, &r2, &b);
        lm_fim_draw((const uint8_t *)CODE, n, 0.5, 0.5, &r3, &c);
        assert_int_equal(a.mode, b.mode);
        assert_int_equal(a.begin, b.begin);
        assert_int_equal(a.end, b.end);
        differ += a.mode != c.mode || a.begin != c.begin || a.end != c.end;
    }
    assert_true(differ > 50);
}

/* A corpus: documents before the byte boundary may be rearranged, the rest is encoded left to
 * right, and the split token is where the boundary falls; tokenizing twice gives the same ids. */
static void test_corpus_fim(void **state) {
    (void)state;
    lm_tokenizer tok;
    bpe_tokenizer(&tok);
    lm_corpus c = {0};
    int docs = 40;
    size_t n = strlen(CODE);
    c.text = malloc((size_t)docs * n);
    c.doc_start = malloc(((size_t)docs + 1) * sizeof(int64_t));
    c.doc_head = malloc((size_t)docs * sizeof(int32_t));
    for (int d = 0; d < docs; d++) {
        memcpy(c.text + (size_t)d * n, CODE, n);
        c.doc_start[d] = (int64_t)d * (int64_t)n;
        c.doc_head[d] = 16; /* "def add(a, b):\n " stands for a path line */
    }
    c.doc_start[docs] = c.n_bytes = (int64_t)docs * (int64_t)n;
    c.n_docs = docs;
    int64_t train_bytes = 30 * (int64_t)n + 50; /* inside document 30 */
    lm_corpus_fim f = {.rate = 1.0, .spm_rate = 0.5, .seed = 99, .train_bytes = train_bytes};
    int64_t n_train = 0;
    int n_fim = 0;
    lm_error err = {0};
    assert_int_equal(lm_corpus_tokenize_fim(&c, &tok, &f, &n_train, &n_fim, &err), LOOM_OK);
    assert_int_equal(n_fim, 30);
    int32_t *first = malloc((size_t)c.n_tokens * sizeof(int32_t));
    int64_t first_n = c.n_tokens;
    memcpy(first, c.tokens, (size_t)c.n_tokens * sizeof(int32_t));
    lm_fim_ids ids;
    assert_int_equal(lm_fim_find_ids(&tok, &ids, NULL), LOOM_OK);
    /* held-out tokens: no sentinel, and their pieces spell the text from the boundary on
     * (give or take the one token that straddles it) */
    int64_t bytes = 0;
    for (int64_t i = n_train; i < c.n_tokens; i++) {
        assert_true(first[i] != ids.prefix && first[i] != ids.suffix && first[i] != ids.middle);
        if (first[i] != tok.eot) bytes += tok.piece_len[first[i]];
    }
    assert_true(bytes <= c.n_bytes - train_bytes && bytes > c.n_bytes - train_bytes - 16);
    /* every training document has its three sentinels, and the kept head stays in front */
    int sentinels = 0;
    for (int64_t i = 0; i < n_train; i++) sentinels += first[i] == ids.middle;
    assert_int_equal(sentinels, 30);
    int32_t head[32];
    size_t hk = lm_tokenizer_encode(&tok, (const uint8_t *)CODE, 16, head);
    assert_memory_equal(first, head, hk * sizeof(int32_t));
    assert_int_equal(first[hk], ids.prefix);
    /* the same seed: the same stream */
    assert_int_equal(lm_corpus_tokenize_fim(&c, &tok, &f, &n_train, &n_fim, &err), LOOM_OK);
    assert_int_equal(c.n_tokens, first_n);
    assert_memory_equal(c.tokens, first, (size_t)first_n * sizeof(int32_t));
    /* rate 0: the plain stream, split where the boundary falls */
    f.rate = 0;
    assert_int_equal(lm_corpus_tokenize_fim(&c, &tok, &f, &n_train, &n_fim, &err), LOOM_OK);
    assert_int_equal(n_fim, 0);
    int32_t *fim0 = malloc((size_t)c.n_tokens * sizeof(int32_t));
    int64_t fim0_n = c.n_tokens;
    memcpy(fim0, c.tokens, (size_t)c.n_tokens * sizeof(int32_t));
    assert_int_equal(lm_corpus_tokenize(&c, &tok, &err), LOOM_OK);
    assert_int_equal(c.n_tokens, fim0_n);
    assert_memory_equal(c.tokens, fim0, (size_t)fim0_n * sizeof(int32_t));
    /* no held-out part: everything is training text */
    f.train_bytes = c.n_bytes;
    assert_int_equal(lm_corpus_tokenize_fim(&c, &tok, &f, &n_train, &n_fim, &err), LOOM_OK);
    assert_int_equal(n_train, c.n_tokens);
    /* pieces: each document's body cut at line ends into pieces of at most piece_bytes, every
     * piece rearranged behind the head and ended by <|endoftext|>; the pieces' middles, prefixes
     * and suffixes together spell the body exactly */
    f.rate = 1.0;
    f.piece_bytes = 24;
    assert_int_equal(lm_corpus_tokenize_fim(&c, &tok, &f, &n_train, &n_fim, &err), LOOM_OK);
    assert_true(n_fim > c.n_docs); /* more pieces than documents */
    int64_t seg = 0, body_bytes = 0;
    for (int64_t i = 0; i <= c.n_tokens; i++) {
        if (i < c.n_tokens && c.tokens[i] != tok.eot) continue;
        /* one piece: [seg, i) */
        assert_true(i - seg > (int64_t)hk);
        assert_memory_equal(c.tokens + seg, head, hk * sizeof(int32_t));
        int mids = 0;
        for (int64_t k = seg + (int64_t)hk; k < i; k++) {
            mids += c.tokens[k] == ids.middle;
            if (c.tokens[k] != ids.prefix && c.tokens[k] != ids.suffix && c.tokens[k] != ids.middle)
                body_bytes += tok.piece_len[c.tokens[k]];
        }
        assert_int_equal(mids, 1);
        seg = i + 1;
    }
    assert_int_equal(body_bytes, (int64_t)docs * (int64_t)(n - 16));
    free(fim0);
    free(first);
    lm_corpus_free(&c);
    lm_tokenizer_free(&tok);
}

/* ---- .gitignore ---- */

typedef struct ig_case {
    const char *patterns;
    const char *path;
    int is_dir;
    int want; /* 1 excluded, 0 re-included, -1 nothing said */
} ig_case;

static const ig_case IG_CASES[] = {
    {"*.o", "a.o", 0, 1},
    {"*.o", "src/deep/a.o", 0, 1},
    {"*.o", "a.c", 0, -1},
    {"*.o", "a.o.c", 0, -1},
    /* anchoring: a leading slash, or a slash in the middle */
    {"/build", "build", 1, 1},
    {"/build", "src/build", 1, -1},
    {"/*.c", "a.c", 0, 1},
    {"/*.c", "src/a.c", 0, -1},
    {"doc/frotz", "doc/frotz", 0, 1},
    {"doc/frotz", "a/doc/frotz", 0, -1},
    {"src/*.c", "src/a.c", 0, 1},
    {"src/*.c", "src/x/a.c", 0, -1},
    /* directory-only patterns */
    {"build/", "build", 1, 1},
    {"build/", "build", 0, -1},
    {"build/", "src/build", 1, 1},
    {"build/", "build/x.c", 0, 1},
    {"build/", "src/build/deep/x.c", 0, 1},
    /* ** */
    {"**/foo", "foo", 0, 1},
    {"**/foo", "a/b/foo", 0, 1},
    {"**/foo/bar", "x/foo/bar", 0, 1},
    {"**/foo/bar", "foo/bar", 0, 1},
    {"abc/**", "abc/x", 0, 1},
    {"abc/**", "abc/x/y", 0, 1},
    {"abc/**", "abc", 1, -1},
    {"a/**/b", "a/b", 0, 1},
    {"a/**/b", "a/x/b", 0, 1},
    {"a/**/b", "a/x/y/b", 0, 1},
    {"a/**/b", "a/xb", 0, -1},
    {"foo/**/", "foo/bar", 1, 1},
    {"foo/**/", "foo/bar", 0, -1},
    {"**", "any/thing", 0, 1},
    /* negation: the last matching pattern wins */
    {"*.log\n!keep.log", "x.log", 0, 1},
    {"*.log\n!keep.log", "keep.log", 0, 0},
    {"*.log\n!keep.log", "d/keep.log", 0, 0},
    {"!keep.log\n*.log", "keep.log", 0, 1},
    {"*.py\n!*.py", "a.py", 0, 0},
    {"*\n!*/\n!*.py", "a.py", 0, 0},
    {"*\n!*/\n!*.py", "dir/a.py", 0, 0},
    {"*\n!*/\n!*.py", "dir/a.txt", 0, 1},
    /* nothing inside an excluded folder can be re-included */
    {"logs/\n!logs/keep.log", "logs/keep.log", 0, 1},
    /* comments, escapes, blank lines, trailing spaces, CRLF */
    {"# a comment\n\n\\#hash", "#hash", 0, 1},
    {"# a comment", "# a comment", 0, -1},
    {"\\!bang", "!bang", 0, 1},
    {"trailing   ", "trailing", 0, 1},
    {"sp\\ ", "sp ", 0, 1},
    {"*.tmp\r\n", "x.tmp", 0, 1},
    /* ? and ranges */
    {"foo?.c", "foo1.c", 0, 1},
    {"foo?.c", "foo12.c", 0, -1},
    {"a?b", "a/b", 0, -1},
    {"[abc].py", "a.py", 0, 1},
    {"[abc].py", "d.py", 0, -1},
    {"[!abc].py", "d.py", 0, 1},
    {"[!abc].py", "a.py", 0, -1},
    {"v[0-9].c", "v5.c", 0, 1},
    {"v[0-9].c", "vx.c", 0, -1},
    {"[unclosed", "[unclosed", 0, 1},
    {"*", "x", 0, 1},
};

static void test_gitignore(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof IG_CASES / sizeof *IG_CASES; i++) {
        const ig_case *t = &IG_CASES[i];
        lm_ignore *ig = lm_ignore_parse(t->patterns, strlen(t->patterns));
        assert_non_null(ig);
        int got = lm_ignore_match(ig, t->path, t->is_dir);
        if (got != t->want)
            fail_msg("patterns \"%s\", path \"%s\"%s: got %d, want %d", t->patterns, t->path, t->is_dir ? "/" : "",
                     got, t->want);
        lm_ignore_free(ig);
    }
}

/* ---- the source-tree walk ---- */

static void put(const char *root, const char *rel, const void *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

#define PUTS(root, rel, text) put(root, rel, text, strlen(text))

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_code_walk(void **state) {
    (void)state;
    char root[] = "/tmp/loom_test_fim.XXXXXX";
    assert_non_null(mkdtemp(root));
    PUTS(root, ".gitignore", "# root rules\ngen_*.py\nbuild/\n/top_only.py\n");
    PUTS(root, "sub/.gitignore", "!gen_ok.py\nlocal.py\n");
    const char *kept[] = {"Makefile",        "local.py", "main.c", "sub/gen_ok.py",
                          "sub/top_only.py", "z/\xc3\xa9t\xc3\xa9.py"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        char body[128];
        /* "generated by" without a file or version after it is prose, not a generator's mark */
        snprintf(body, sizeof body, "# tables generated by pgen\nx = '%s'\n", kept[i]);
        PUTS(root, kept[i], body);
    }
    PUTS(root, "top_only.py", "ignored\n");
    PUTS(root, "gen_x.py", "ignored\n");
    PUTS(root, "sub/gen_y.py", "ignored\n");
    PUTS(root, "sub/local.py", "ignored\n");
    PUTS(root, "build/a.py", "ignored folder\n");
    PUTS(root, "sub/build/b.py", "ignored folder\n");
    PUTS(root, ".hidden/x.py", "hidden\n");
    PUTS(root, ".h.py", "hidden\n");
    PUTS(root, "README.md", "# prose\n");
    PUTS(root, "data.json", "{}\n");
    put(root, "empty.py", "", 0);
    put(root, "blob.c", "int x;\0\0\0\x01\x02", 11);
    PUTS(root, "msg_pb2.py", "x = 1\n");
    PUTS(root, "web/app.min.js", "var a=1;\n");
    PUTS(root, "api.go", "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage api\n");
    PUTS(root, "sub/0001_initial.py", "# Generated by Django 4.2 on 2024-01-01\nx = 1\n");
    char *big = malloc(3000);
    memset(big, 'x', 3000);
    for (int i = 0; i < 3000; i += 60) big[i] = '\n';
    put(root, "big.py", big, 3000);
    free(big);

    /* links: a loop back to the root, and a second name for a kept file; both end up once */
    char link[600];
    snprintf(link, sizeof link, "%s/z/loop", root);
    assert_int_equal(symlink("..", link), 0);
    snprintf(link, sizeof link, "%s/z/same.c", root);
    assert_int_equal(symlink("../main.c", link), 0);

    lm_corpus c;
    lm_code_stats st;
    lm_error err = {0};
    lm_code_opts o = {.extensions = NULL, .max_file_bytes = 2048};
    assert_int_equal(lm_code_corpus_read(&c, root, &o, &st, &err), LOOM_OK);
    assert_int_equal(st.kept, (int)(sizeof kept / sizeof *kept));
    assert_int_equal(c.n_docs, st.kept);
    assert_non_null(c.doc_head);
    /* documents in name order, each "# path: REL\n" + the file */
    for (int d = 0; d < c.n_docs; d++) {
        char want[256];
        int hn = snprintf(want, sizeof want, "# path: %s\n# tables generated by pgen\nx = '%s'\n", kept[d], kept[d]);
        assert_int_equal(c.doc_head[d], (int)strlen("# path: \n") + (int)strlen(kept[d]));
        assert_int_equal(c.doc_start[d + 1] - c.doc_start[d], hn);
        assert_memory_equal(c.text + c.doc_start[d], want, (size_t)hn);
    }
    assert_int_equal(st.ignored, 6); /* top_only.py, gen_x.py, sub/gen_y.py, sub/local.py, build/, sub/build/ */
    assert_int_equal(st.hidden, 2);
    assert_int_equal(st.other_ext, 2);
    assert_int_equal(st.empty, 1);
    assert_int_equal(st.binary, 1);
    assert_int_equal(st.generated, 4);
    assert_int_equal(st.huge, 1);
    char line[400];
    lm_code_stats_format(&st, line, sizeof line);
    assert_non_null(strstr(line, "kept 6 files"));
    assert_non_null(strstr(line, "1 over 2 KiB"));
    assert_non_null(strstr(line, "6 excluded by .gitignore"));
    lm_corpus_free(&c);

    /* --extensions: only C, leading dots and spaces allowed */
    o.extensions = " .c ,h";
    assert_int_equal(lm_code_corpus_read(&c, root, &o, &st, &err), LOOM_OK);
    assert_int_equal(st.kept, 1);
    assert_memory_equal(c.text, "# path: main.c\n", 15);
    lm_corpus_free(&c);
    o.extensions = " , ";
    assert_int_equal(lm_code_corpus_read(&c, root, &o, &st, &err), LOOM_ERR_ARG);
    /* nothing kept: one error naming the reasons */
    o.extensions = "rs";
    assert_int_equal(lm_code_corpus_read(&c, root, &o, &st, &err), LOOM_ERR_DATA);
    assert_non_null(strstr(err.msg, "no source files"));
    assert_non_null(strstr(err.msg, "--extensions"));
    assert_null(strchr(err.msg, '\n'));
    assert_null(c.text);
    rm_rf(root);

    /* an empty folder */
    strcpy(root, "/tmp/loom_test_fim.XXXXXX");
    assert_non_null(mkdtemp(root));
    assert_int_equal(lm_code_corpus_read(&c, root, NULL, &st, &err), LOOM_ERR_DATA);
    assert_non_null(strstr(err.msg, "no source files"));
    rm_rf(root);
    /* a missing one */
    assert_int_equal(lm_code_corpus_read(&c, "/nonexistent/loom/tree", NULL, &st, &err), LOOM_ERR_DATA);
    assert_non_null(strstr(err.msg, "not found"));
}

static void test_header(void **state) {
    (void)state;
    char buf[64];
    assert_int_equal(lm_code_header("a/b.py", buf, sizeof buf), 15);
    assert_string_equal(buf, "# path: a/b.py\n");
    lm_code_header("bad\nname\t.c", buf, sizeof buf);
    assert_string_equal(buf, "# path: bad?name?.c\n");
    size_t n = lm_code_header("a/very/long/path.py", buf, 10);
    assert_int_equal(n, 28);
    assert_int_equal(strlen(buf), 9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_bytes),   cmocka_unit_test(test_layout_bpe),
        cmocka_unit_test(test_byte_tokenizer_has_no_fim), cmocka_unit_test(test_utf8_cuts),
        cmocka_unit_test(test_rates),          cmocka_unit_test(test_same_seed),
        cmocka_unit_test(test_corpus_fim),     cmocka_unit_test(test_gitignore),
        cmocka_unit_test(test_code_walk),      cmocka_unit_test(test_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
