/* Tests of the tokenizer importers (data/bpe_import.h).
 *
 *   test_bpe_import
 *       Self-contained checks: a hand-made Hugging Face tokenizer.json (encodings worked out by
 *       hand, merges as strings and as pairs, Split and ByteLevel pre-tokenizers), small tiktoken
 *       files in both formats, and malformed variants of each (every one must fail with one
 *       clear message, never crash).
 *   test_bpe_import compare TOKENIZER EXPECTED.jsonl [--resave] [--threads N]
 *       Encodes each case of EXPECTED.jsonl (written by tests/tiktoken/tiktoken_ref.cjs) and
 *       compares with the reference ids; reports the first difference of a case with the tokens
 *       around it. TOKENIZER: hf:PATH (tokenizer.json), tiktoken:NAME_OR_PATH, or anything
 *       lm_bpe_load_any reads. --resave: save in loom's format and compare the reloaded copy.
 *       --threads N: also check lm_bpe_encode_parallel with N threads (default 2).
 *   test_bpe_import encode TOKENIZER [--special] TEXT...
 *       Prints the ids of each TEXT.
 * Output is TAP-like ("ok - ..." / "not ok - ..."), then "N passed, M failed"; the exit status
 * is 0 only if nothing failed. */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/bpe.h"
#include "data/bpe_import.h"

static int n_pass, n_fail;

static void ok(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("ok - ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    n_pass++;
}

static void not_ok(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("not ok - ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    n_fail++;
}

static int finish(void) {
    printf("%d passed, %d failed\n", n_pass, n_fail);
    fflush(stdout);
    return n_fail ? 1 : 0;
}

/* ------------------------------------------------------------------ helpers */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *s, size_t n) {
    char *o = malloc(n / 3 * 4 + 8);
    size_t k = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        o[k++] = B64[v >> 18], o[k++] = B64[(v >> 12) & 63], o[k++] = B64[(v >> 6) & 63], o[k++] = B64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        o[k++] = B64[v >> 18], o[k++] = B64[(v >> 12) & 63];
        o[k++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        o[k++] = '=';
    }
    o[k] = 0;
    return o;
}

static uint8_t *b64_decode(const char *s, size_t *n) {
    size_t l = strlen(s);
    uint8_t *o = malloc(l / 4 * 3 + 4);
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < l && s[i] != '='; i++) {
        const char *p = strchr(B64, s[i]);
        if (!p || !s[i]) {
            free(o);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)(p - B64);
        bits += 6;
        if (bits >= 8) bits -= 8, o[k++] = (uint8_t)(acc >> bits);
    }
    *n = k;
    return o;
}

/* UTF-8 of a code point */
static size_t put_cp(char *o, uint32_t c) {
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2;
    if (c < 0x10000)
        return o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | ((c >> 6) & 63)), o[2] = (char)(0x80 | (c & 63)), 3;
    o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | ((c >> 12) & 63)), o[2] = (char)(0x80 | ((c >> 6) & 63)),
    o[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* byte-level spelling of a byte string */
static char *spell(const char *s, size_t n) {
    char *o = malloc(n * 4 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += put_cp(o + k, (uint32_t)lm_bpe_byte_to_cp((unsigned char)s[i]));
    o[k] = 0;
    return o;
}

/* 1 if s[0..n) is whole UTF-8 characters */
static int whole_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int l = s[i] < 0x80 ? 1 : (s[i] & 0xE0) == 0xC0 ? 2 : (s[i] & 0xF0) == 0xE0 ? 3 : (s[i] & 0xF8) == 0xF0 ? 4 : 0;
        if (!l || i + (size_t)l > n) return 0;
        for (int k = 1; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += (size_t)l;
    }
    return 1;
}

/* a printable rendering of bytes (pieces of characters as \xNN) */
static void show(FILE *f, const uint8_t *s, size_t n, size_t max) {
    int utf8 = whole_utf8(s, n < max ? n : max);
    fputc('"', f);
    for (size_t i = 0; i < n && i < max; i++) {
        uint8_t c = s[i];
        if (c >= 0x80 && !utf8) {
            fprintf(f, "\\x%02x", c);
            continue;
        }
        if (c == '\n') fputs("\\n", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    if (n > max) fputs("...", f);
    fputc('"', f);
}

/* Encodes text, returns the count (ids in *ids, realloc'ed). */
static int64_t enc(const lm_bpe *b, const char *text, size_t n, int allow, int32_t **ids, size_t *cap) {
    return lm_bpe_encode(b, (const uint8_t *)text, n, allow, ids, cap);
}

static void expect_ids(const lm_bpe *b, const char *what, const char *text, int allow, const int32_t *want,
                       int n_want) {
    int32_t *ids = NULL;
    size_t cap = 0;
    int64_t n = enc(b, text, strlen(text), allow, &ids, &cap);
    int same = n == n_want && (n == 0 || memcmp(ids, want, (size_t)n * sizeof *ids) == 0);
    if (same) {
        ok("%s", what);
    } else {
        not_ok("%s", what);
        printf("#   text ");
        show(stdout, (const uint8_t *)text, strlen(text), 80);
        printf("\n#   want [");
        for (int i = 0; i < n_want; i++) printf("%s%d", i ? ", " : "", want[i]);
        printf("]\n#   got  [");
        for (int64_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
        printf("]%s\n", n < 0 ? " (encode failed)" : "");
    }
    free(ids);
}

/* ------------------------------------------------------------------ the hand-made tokenizer.json */

/* ids 0..255: the bytes (id = byte); then these merges, each making the next id */
static const char *const MERGES[][2] = {
    {"h", "e"},       /* 256 he */
    {"l", "l"},       /* 257 ll */
    {"he", "ll"},     /* 258 hell */
    {"hell", "o"},    /* 259 hello */
    {"\xc4\xa0", "w"}, /* 260 Ġw */
    {"o", "r"},       /* 261 or */
    {"\xc4\xa0w", "or"},   /* 262 Ġwor */
    {"\xc4\xa0wor", "l"},  /* 263 Ġworl */
    {"\xc4\xa0worl", "d"}, /* 264 Ġworld */
    {"b", "c"},       /* 265 bc */
    {"a", "b"},       /* 266 ab */
    {"d", "\xc4\xa0"}, /* 267 dĠ */
};
#define N_MERGES ((int)(sizeof MERGES / sizeof MERGES[0]))
#define EOT_ID 268

typedef enum { MERGES_STRINGS, MERGES_PAIRS } merge_style;

static json_object *make_hf(merge_style style) {
    json_object *root = json_object_new_object(), *model = json_object_new_object();
    json_object *vocab = json_object_new_object(), *merges = json_object_new_array();
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        char *s = spell(&c, 1);
        json_object_object_add(vocab, s, json_object_new_int(b));
        free(s);
    }
    for (int r = 0; r < N_MERGES; r++) {
        char both[64];
        snprintf(both, sizeof both, "%s%s", MERGES[r][0], MERGES[r][1]);
        json_object_object_add(vocab, both, json_object_new_int(256 + r));
        if (style == MERGES_STRINGS) {
            char m[64];
            snprintf(m, sizeof m, "%s %s", MERGES[r][0], MERGES[r][1]);
            json_object_array_add(merges, json_object_new_string(m));
        } else {
            json_object *p = json_object_new_array();
            json_object_array_add(p, json_object_new_string(MERGES[r][0]));
            json_object_array_add(p, json_object_new_string(MERGES[r][1]));
            json_object_array_add(merges, p);
        }
    }
    json_object_object_add(vocab, "<|endoftext|>", json_object_new_int(EOT_ID));
    json_object_object_add(model, "type", json_object_new_string("BPE"));
    json_object_object_add(model, "dropout", NULL);
    json_object_object_add(model, "unk_token", NULL);
    json_object_object_add(model, "continuing_subword_prefix", json_object_new_string(""));
    json_object_object_add(model, "end_of_word_suffix", json_object_new_string(""));
    json_object_object_add(model, "fuse_unk", json_object_new_boolean(0));
    json_object_object_add(model, "byte_fallback", json_object_new_boolean(0));
    json_object_object_add(model, "vocab", vocab);
    json_object_object_add(model, "merges", merges);
    json_object *added = json_object_new_array(), *eot = json_object_new_object();
    json_object_object_add(eot, "id", json_object_new_int(EOT_ID));
    json_object_object_add(eot, "content", json_object_new_string("<|endoftext|>"));
    json_object_object_add(eot, "special", json_object_new_boolean(1));
    json_object_array_add(added, eot);
    json_object *pre = json_object_new_object();
    json_object_object_add(pre, "type", json_object_new_string("ByteLevel"));
    json_object_object_add(pre, "add_prefix_space", json_object_new_boolean(0));
    json_object_object_add(pre, "trim_offsets", json_object_new_boolean(1));
    json_object_object_add(pre, "use_regex", json_object_new_boolean(1));
    json_object *dec = json_object_new_object();
    json_object_object_add(dec, "type", json_object_new_string("ByteLevel"));
    json_object_object_add(root, "version", json_object_new_string("1.0"));
    json_object_object_add(root, "truncation", NULL);
    json_object_object_add(root, "padding", NULL);
    json_object_object_add(root, "added_tokens", added);
    json_object_object_add(root, "normalizer", NULL);
    json_object_object_add(root, "pre_tokenizer", pre);
    json_object_object_add(root, "post_processor", NULL);
    json_object_object_add(root, "decoder", dec);
    json_object_object_add(root, "model", model);
    return root;
}

static loom_status load_hf_obj(json_object *root, lm_bpe **b, lm_error *err) {
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    return lm_bpe_load_hf_json_mem((const uint8_t *)s, strlen(s), "test tokenizer.json", b, err);
}

static json_object *get(json_object *o, const char *key) {
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}
#define MODEL(r) get(r, "model")
#define VOCAB(r) get(get(r, "model"), "vocab")

static void set_split(json_object *r, const char *regex, const char *behavior, int use_regex) {
    json_object *seq = json_object_new_object(), *list = json_object_new_array();
    json_object *split = json_object_new_object(), *pat = json_object_new_object(), *bl = json_object_new_object();
    json_object_object_add(pat, "Regex", json_object_new_string(regex));
    json_object_object_add(split, "type", json_object_new_string("Split"));
    json_object_object_add(split, "pattern", pat);
    json_object_object_add(split, "behavior", json_object_new_string(behavior));
    json_object_object_add(split, "invert", json_object_new_boolean(0));
    json_object_object_add(bl, "type", json_object_new_string("ByteLevel"));
    json_object_object_add(bl, "add_prefix_space", json_object_new_boolean(0));
    json_object_object_add(bl, "use_regex", json_object_new_boolean(use_regex));
    json_object_array_add(list, split);
    json_object_array_add(list, bl);
    json_object_object_add(seq, "type", json_object_new_string("Sequence"));
    json_object_object_add(seq, "pretokenizers", list);
    json_object_object_add(r, "pre_tokenizer", seq);
}

/* the malformed variants */
static void m_type(json_object *r) { json_object_object_add(MODEL(r), "type", json_object_new_string("WordPiece")); }
static void m_type_int(json_object *r) { json_object_object_add(MODEL(r), "type", json_object_new_int(3)); }
static void m_no_model(json_object *r) { json_object_object_del(r, "model"); }
static void m_model_array(json_object *r) { json_object_object_add(r, "model", json_object_new_array()); }
static void m_no_vocab(json_object *r) { json_object_object_del(MODEL(r), "vocab"); }
static void m_vocab_array(json_object *r) { json_object_object_add(MODEL(r), "vocab", json_object_new_array()); }
static void m_vocab_empty(json_object *r) { json_object_object_add(MODEL(r), "vocab", json_object_new_object()); }
static void m_no_merges(json_object *r) { json_object_object_del(MODEL(r), "merges"); }
static void m_merges_obj(json_object *r) { json_object_object_add(MODEL(r), "merges", json_object_new_object()); }
static void m_id_neg(json_object *r) { json_object_object_add(VOCAB(r), "he", json_object_new_int(-1)); }
static void m_id_str(json_object *r) { json_object_object_add(VOCAB(r), "he", json_object_new_string("256")); }
static void m_id_float(json_object *r) { json_object_object_add(VOCAB(r), "he", json_object_new_double(256.5)); }
static void m_id_huge(json_object *r) { json_object_object_add(VOCAB(r), "he", json_object_new_int64(1LL << 40)); }
static void m_id_hole(json_object *r) { json_object_object_add(VOCAB(r), "he", json_object_new_int(100000)); }
static void m_id_dup(json_object *r) { json_object_object_add(VOCAB(r), "he", json_object_new_int(257)); }
static void m_not_bytelevel(json_object *r) { json_object_object_add(VOCAB(r), "\xe2\x82\xac", json_object_new_int(269)); }
static void m_missing_byte(json_object *r) {
    json_object_object_del(VOCAB(r), "z"); /* byte 'z' has no token now; give its id to another token */
    json_object_object_add(VOCAB(r), "zz", json_object_new_int('z'));
}
static void m_merge_nospace(json_object *r) {
    json_object_array_put_idx(get(MODEL(r), "merges"), 0, json_object_new_string("he"));
}
static void m_merge_2spaces(json_object *r) {
    json_object_array_put_idx(get(MODEL(r), "merges"), 0, json_object_new_string("h e l"));
}
static void m_merge_unknown(json_object *r) {
    json_object_array_put_idx(get(MODEL(r), "merges"), 0, json_object_new_string("h \xe2\x82\xac"));
}
static void m_merge_result(json_object *r) {
    json_object_array_add(get(MODEL(r), "merges"), json_object_new_string("x y"));
}
static void m_merge_triple(json_object *r) {
    json_object *p = json_object_new_array();
    for (int i = 0; i < 3; i++) json_object_array_add(p, json_object_new_string("h"));
    json_object_array_put_idx(get(MODEL(r), "merges"), 0, p);
}
static void m_merge_int(json_object *r) { json_object_array_put_idx(get(MODEL(r), "merges"), 0, json_object_new_int(5)); }
static void m_added_nocontent(json_object *r) {
    json_object_object_del(json_object_array_get_idx(get(r, "added_tokens"), 0), "content");
}
static void m_added_badid(json_object *r) {
    json_object_object_add(json_object_array_get_idx(get(r, "added_tokens"), 0), "id", json_object_new_string("x"));
}
static void m_added_dupid(json_object *r) {
    json_object *a = json_object_new_object();
    json_object_object_add(a, "id", json_object_new_int(EOT_ID));
    json_object_object_add(a, "content", json_object_new_string("<|other|>"));
    json_object_array_add(get(r, "added_tokens"), a);
}
static void m_added_notlist(json_object *r) { json_object_object_add(r, "added_tokens", json_object_new_int(1)); }
static void m_normalizer(json_object *r) {
    json_object *n = json_object_new_object();
    json_object_object_add(n, "type", json_object_new_string("NFC"));
    json_object_object_add(r, "normalizer", n);
}
static void m_no_pre(json_object *r) { json_object_object_del(r, "pre_tokenizer"); }
static void m_pre_whitespace(json_object *r) {
    json_object_object_add(get(r, "pre_tokenizer"), "type", json_object_new_string("Whitespace"));
}
static void m_prefix_space(json_object *r) {
    json_object_object_add(get(r, "pre_tokenizer"), "add_prefix_space", json_object_new_boolean(1));
}
static void m_split_removed(json_object *r) { set_split(r, "\\s+", "Removed", 0); }
static void m_split_regex_too(json_object *r) { set_split(r, "\\s+", "Isolated", 1); }
static void m_split_bad_regex(json_object *r) { set_split(r, "(unclosed", "Isolated", 0); }
static void m_dropout(json_object *r) { json_object_object_add(MODEL(r), "dropout", json_object_new_double(0.1)); }
static void m_byte_fallback(json_object *r) {
    json_object_object_add(MODEL(r), "byte_fallback", json_object_new_boolean(1));
}
static void m_prefix(json_object *r) {
    json_object_object_add(MODEL(r), "continuing_subword_prefix", json_object_new_string("##"));
}

typedef struct bad_case {
    const char *name;
    void (*mutate)(json_object *);
    const char *keyword; /* the message must contain it */
} bad_case;

static const bad_case BAD[] = {
    {"model type WordPiece", m_type, "WordPiece"},
    {"model type not a string", m_type_int, "type"},
    {"no model", m_no_model, "model"},
    {"model is an array", m_model_array, "model"},
    {"no vocab", m_no_vocab, "vocab"},
    {"vocab is an array", m_vocab_array, "vocab"},
    {"vocab is empty", m_vocab_empty, "vocab"},
    {"no merges", m_no_merges, "merges"},
    {"merges is an object", m_merges_obj, "merges"},
    {"negative id", m_id_neg, "id"},
    {"id is a string", m_id_str, "id"},
    {"id is fractional", m_id_float, "id"},
    {"id beyond int32", m_id_huge, "id"},
    {"ids with a hole", m_id_hole, "contiguous"},
    {"two tokens with one id", m_id_dup, "257"},
    {"token not byte-level", m_not_bytelevel, "byte-level"},
    {"a byte without a token", m_missing_byte, ""},
    {"merge without a space", m_merge_nospace, "merge 0"},
    {"merge of three parts", m_merge_2spaces, "merge 0"},
    {"merge of an unknown token", m_merge_unknown, "not in the vocab"},
    {"merge whose result is unknown", m_merge_result, "merged token"},
    {"merge pair of three", m_merge_triple, "merge 0"},
    {"merge is a number", m_merge_int, "merge 0"},
    {"added token without content", m_added_nocontent, "content"},
    {"added token id not a number", m_added_badid, "id"},
    {"two added tokens with one id", m_added_dupid, "share"},
    {"added_tokens not a list", m_added_notlist, "added_tokens"},
    {"a normalizer", m_normalizer, "NFC"},
    {"no pre-tokenizer", m_no_pre, "pre_tokenizer"},
    {"Whitespace pre-tokenizer", m_pre_whitespace, "Whitespace"},
    {"add_prefix_space", m_prefix_space, "add_prefix_space"},
    {"Split behavior Removed", m_split_removed, "Removed"},
    {"Split and ByteLevel's regex", m_split_regex_too, "use_regex"},
    {"Split regex that does not compile", m_split_bad_regex, ""},
    {"dropout", m_dropout, "dropout"},
    {"byte_fallback", m_byte_fallback, "byte_fallback"},
    {"continuing_subword_prefix", m_prefix, "continuing_subword_prefix"},
};

static void check_fails(const char *what, loom_status st, lm_bpe *b, const lm_error *e, const char *keyword) {
    if (st == LOOM_OK || b) {
        not_ok("%s: accepted", what);
    } else if (!e->msg[0] || strchr(e->msg, '\n')) {
        not_ok("%s: the message is empty or not one line: '%s'", what, e->msg);
    } else if (keyword && *keyword && !strstr(e->msg, keyword)) {
        not_ok("%s: message does not mention '%s': %s", what, keyword, e->msg);
    } else {
        ok("%s: refused (%s)", what, e->msg);
    }
    lm_bpe_free(b);
}

static void test_hf(void) {
    int32_t eot = EOT_ID;
    for (int style = 0; style < 2; style++) {
        const char *sn = style == MERGES_STRINGS ? "merges as strings" : "merges as pairs";
        json_object *r = make_hf((merge_style)style);
        lm_bpe *b = NULL;
        lm_error e = {0};
        if (load_hf_obj(r, &b, &e) != LOOM_OK) {
            not_ok("hand-made tokenizer.json (%s) loads: %s", sn, e.msg);
            json_object_put(r);
            continue;
        }
        ok("hand-made tokenizer.json (%s) loads", sn);
        if (lm_bpe_get_mode(b) == LM_BPE_MERGES && lm_bpe_vocab_size(b) == EOT_ID + 1 &&
            lm_bpe_special_id(b, "<|endoftext|>") == EOT_ID && lm_bpe_is_special(b, EOT_ID) &&
            lm_bpe_merges(b, NULL, NULL) == N_MERGES && strcmp(lm_bpe_pattern(b), LM_BPE_PATTERN_GPT2) == 0)
            ok("%s: mode, size, special token, merges, GPT-2 pattern", sn);
        else
            not_ok("%s: mode %d size %d eot %d merges %d pattern %s", sn, lm_bpe_get_mode(b), lm_bpe_vocab_size(b),
                   lm_bpe_special_id(b, "<|endoftext|>"), lm_bpe_merges(b, NULL, NULL), lm_bpe_pattern(b));
        size_t tl;
        const uint8_t *t = lm_bpe_token(b, 264, &tl);
        if (t && tl == 6 && memcmp(t, " world", 6) == 0) ok("%s: token 264 is ' world' (Ġ spelled a space)", sn);
        else not_ok("%s: token 264 is not ' world'", sn);
        t = lm_bpe_token(b, 0x0a, &tl);
        if (t && tl == 1 && t[0] == '\n') ok("%s: token 10 is a newline", sn);
        else not_ok("%s: token 10 is not a newline", sn);
        expect_ids(b, "'hello world'", "hello world", 0, (int32_t[]){259, 264}, 2);
        expect_ids(b, "merge order: 'abc' is a + bc (b c is merged first)", "abc", 0, (int32_t[]){'a', 265}, 2);
        expect_ids(b, "the pre-split keeps 'd' from ' x'", "d x", 0, (int32_t[]){'d', ' ', 'x'}, 3);
        expect_ids(b, "special token allowed", "hello<|endoftext|>", 1, (int32_t[]){259, eot}, 2);
        expect_ids(b, "special token as text", "hello<|endoftext|>", 0,
                   (int32_t[]){259, '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>'}, 14);
        expect_ids(b, "bytes that are not UTF-8", "\xff\xfe", 0, (int32_t[]){0xff, 0xfe}, 2);
        lm_bpe_free(b);

        /* ByteLevel without its regex: the whole text is one piece */
        json_object_object_add(get(r, "pre_tokenizer"), "use_regex", json_object_new_boolean(0));
        b = NULL;
        if (load_hf_obj(r, &b, &e) == LOOM_OK) {
            expect_ids(b, "ByteLevel use_regex=false: 'd x' is one piece", "d x", 0, (int32_t[]){267, 'x'}, 2);
            lm_bpe_free(b);
        } else {
            not_ok("ByteLevel use_regex=false loads: %s", e.msg);
        }
        json_object_put(r);
    }

    /* a Split pre-tokenizer: its regex is the pattern */
    json_object *r = make_hf(MERGES_PAIRS);
    set_split(r, LM_BPE_PATTERN_GPT4, "Isolated", 0);
    lm_bpe *b = NULL;
    lm_error e = {0};
    if (load_hf_obj(r, &b, &e) == LOOM_OK) {
        if (strcmp(lm_bpe_pattern(b), LM_BPE_PATTERN_GPT4) == 0) ok("Split + ByteLevel: the Split regex is the pattern");
        else not_ok("Split + ByteLevel: pattern is %s", lm_bpe_pattern(b));
        /* GPT-4's pattern keeps digits in threes */
        expect_ids(b, "Split pattern in use (digits in threes)", "12345", 0, (int32_t[]){'1', '2', '3', '4', '5'}, 5);
        lm_bpe_free(b);
    } else {
        not_ok("Split + ByteLevel loads: %s", e.msg);
    }
    json_object_put(r);

    /* from a file, and through lm_bpe_load_any */
    r = make_hf(MERGES_STRINGS);
    char path[] = "/tmp/loom_test_bpe_import_XXXXXX";
    int fd = mkstemp(path);
    const char *s = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY);
    if (fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s)) {
        close(fd);
        b = NULL;
        if (lm_bpe_load_hf_json(path, &b, &e) == LOOM_OK) ok("lm_bpe_load_hf_json reads the file");
        else not_ok("lm_bpe_load_hf_json: %s", e.msg);
        lm_bpe_free(b);
        b = NULL;
        if (lm_bpe_load_any(path, &b, &e) == LOOM_OK && lm_bpe_get_mode(b) == LM_BPE_MERGES)
            ok("lm_bpe_load_any recognises a tokenizer.json");
        else
            not_ok("lm_bpe_load_any on a tokenizer.json: %s", e.msg);
        /* loom's own file, written from it */
        lm_bpe *b2 = NULL;
        if (b && lm_bpe_save(b, path, &e) == LOOM_OK && lm_bpe_load_any(path, &b2, &e) == LOOM_OK &&
            lm_bpe_get_mode(b2) == LM_BPE_MERGES && lm_bpe_vocab_size(b2) == EOT_ID + 1)
            ok("lm_bpe_load_any recognises loom's own tokenizer file");
        else
            not_ok("lm_bpe_load_any on loom's own file: %s", e.msg);
        lm_bpe_free(b2);
        lm_bpe_free(b);
        unlink(path);
    } else {
        not_ok("could not write %s", path);
    }
    json_object_put(r);
    b = NULL;
    check_fails("tokenizer.json that does not exist", lm_bpe_load_hf_json("/nonexistent/tokenizer.json", &b, &e), b,
                &e, "/nonexistent/tokenizer.json");

    /* the malformed variants */
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        r = make_hf(MERGES_STRINGS);
        BAD[i].mutate(r);
        b = NULL;
        memset(&e, 0, sizeof e);
        loom_status st = load_hf_obj(r, &b, &e);
        char what[128];
        snprintf(what, sizeof what, "tokenizer.json with %s", BAD[i].name);
        check_fails(what, st, b, &e, BAD[i].keyword);
        json_object_put(r);
    }
    /* broken JSON text */
    static const char *const texts[] = {"", "{", "[1, 2]", "null", "{\"model\": {\"type\": \"BPE\", \"vocab\": {",
                                        "{\"a\": 1} trailing", "{\"a\": \"\xff\"}", "{\"a\": 1,}"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        b = NULL;
        memset(&e, 0, sizeof e);
        loom_status st = lm_bpe_load_hf_json_mem((const uint8_t *)texts[i], strlen(texts[i]), "bad.json", &b, &e);
        char what[128];
        snprintf(what, sizeof what, "broken JSON #%zu", i);
        check_fails(what, st, b, &e, "bad.json");
    }
    /* deep nesting */
    char deep[4096];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    b = NULL;
    check_fails("JSON nested 4095 deep", lm_bpe_load_hf_json_mem((const uint8_t *)deep, strlen(deep), "deep.json", &b, &e),
                b, &e, "deep.json");
}

/* ------------------------------------------------------------------ tiktoken files */

/* a plain rank table: 256 bytes then "he" 256, "ll" 257, "hell" 258 (+ extra lines) */
static char *plain_table(const char *extra) {
    size_t cap = 256 * 16 + 256 + (extra ? strlen(extra) : 0);
    char *o = malloc(cap);
    size_t k = 0;
    for (int i = 0; i < 256; i++) {
        uint8_t c = (uint8_t)i;
        char *t = b64_encode(&c, 1);
        k += (size_t)snprintf(o + k, cap - k, "%s %d\n", t, i);
        free(t);
    }
    k += (size_t)snprintf(o + k, cap - k, "aGU= 256\nbGw= 257\naGVsbA== 258\n%s", extra ? extra : "");
    return o;
}

static void test_tiktoken(void) {
    static const char *const sp[] = {"<|endoftext|>", "<|x|>"};
    static const int32_t sp_id[] = {259, 260};
    char *t = plain_table(NULL);
    lm_bpe *b = NULL;
    lm_error e = {0};
    if (lm_bpe_from_tiktoken_ranks((const uint8_t *)t, strlen(t), "tiny.tiktoken", NULL, 2, sp, sp_id, &b, &e) ==
        LOOM_OK) {
        ok("a plain .tiktoken table loads");
        if (lm_bpe_get_mode(b) == LM_BPE_RANKS && lm_bpe_vocab_size(b) == 261 &&
            lm_bpe_special_id(b, "<|x|>") == 260)
            ok("ranks mode, 261 ids, special tokens");
        else
            not_ok("mode %d size %d", lm_bpe_get_mode(b), lm_bpe_vocab_size(b));
        expect_ids(b, "ranks: 'hello' is hell + o", "hello", 0, (int32_t[]){258, 'o'}, 2);
        expect_ids(b, "ranks: special tokens allowed", "he<|x|><|endoftext|>", 1, (int32_t[]){256, 260, 259}, 3);
        lm_bpe_free(b);
    } else {
        not_ok("a plain .tiktoken table loads: %s", e.msg);
    }
    /* CRLF line ends and a missing final newline */
    size_t n = strlen(t);
    char *crlf = malloc(2 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '\n') crlf[k++] = '\r';
        crlf[k++] = t[i];
    }
    k -= 2; /* drop the last "\r\n" */
    b = NULL;
    if (lm_bpe_from_tiktoken_ranks((const uint8_t *)crlf, k, "crlf.tiktoken", NULL, 0, NULL, NULL, &b, &e) == LOOM_OK)
        ok("CRLF lines, no final newline");
    else
        not_ok("CRLF lines: %s", e.msg);
    lm_bpe_free(b);
    free(crlf);
    free(t);

    /* malformed tables */
    static const struct {
        const char *name, *extra, *keyword;
    } bad[] = {
        {"bad base64", "a$== 259\n", "base64"},
        {"no rank", "aGVsbG8=\n", "line 260"},
        {"rank not a number", "aGVsbG8= x1\n", "rank"},
        {"negative rank", "aGVsbG8= -1\n", "rank"},
        {"huge rank", "aGVsbG8= 99999999999999999999\n", "rank"},
        {"a hole in the ranks", "aGVsbG8= 300\n", "contiguous"},
        {"two tokens with one rank", "aGVsbG8= 258\n", "258"},
        {"one token twice", "aGU= 259\n", ""},
        {"empty token", " 259\n", "line 260"},
        {"rank of a special token", "aGVsbG8= 259\nb2s= 260\n", "259"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = plain_table(bad[i].extra);
        b = NULL;
        memset(&e, 0, sizeof e);
        char what[128];
        snprintf(what, sizeof what, ".tiktoken with %s", bad[i].name);
        int ns = strcmp(bad[i].name, "rank of a special token") == 0 ? 1 : 0;
        check_fails(what,
                    lm_bpe_from_tiktoken_ranks((const uint8_t *)t, strlen(t), "bad.tiktoken", NULL, ns, sp, sp_id, &b, &e),
                    b, &e, bad[i].keyword);
        free(t);
    }
    b = NULL;
    check_fails("empty .tiktoken", lm_bpe_from_tiktoken_ranks((const uint8_t *)"", 0, "e.tiktoken", NULL, 0, NULL, NULL, &b, &e),
                b, &e, "e.tiktoken");
    b = NULL;
    t = plain_table(NULL);
    check_fails("plain file of an unknown encoding",
                lm_bpe_load_tiktoken_mem((const uint8_t *)t, strlen(t), "/x/mystery.tiktoken", &b, &e), b, &e,
                "mystery");
    b = NULL;
    check_fails("gpt2.tiktoken with the wrong number of tokens",
                lm_bpe_load_tiktoken_mem((const uint8_t *)t, strlen(t), "gpt2.tiktoken", &b, &e), b, &e, "50257");
    free(t);

    /* the npm packages' compact JSON, bare and as a JS module */
    size_t cap = 256 * 8 + 1024;
    char *ranks = malloc(cap);
    k = (size_t)snprintf(ranks, cap, "! 0");
    for (int i = 0; i < 256; i++) {
        uint8_t c = (uint8_t)i;
        char *x = b64_encode(&c, 1);
        k += (size_t)snprintf(ranks + k, cap - k, " %s", x);
        free(x);
    }
    k += (size_t)snprintf(ranks + k, cap - k, " aGU=\\n! 258 bGw= aGVsbA==");
    char *js = malloc(cap + 512);
    snprintf(js, cap + 512,
             "{\"explicit_n_vocab\":260,\"pat_str\":\"%s\",\"special_tokens\":{\"<|endoftext|>\":257},"
             "\"bpe_ranks\":\"%s\"}",
             "'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+", ranks);
    b = NULL;
    if (lm_bpe_load_tiktoken_mem((const uint8_t *)js, strlen(js), "tiny.json", &b, &e) == LOOM_OK) {
        ok("compact JSON (two rank runs around a special token) loads");
        if (strcmp(lm_bpe_pattern(b), LM_BPE_PATTERN_GPT2) == 0) ok("compact JSON: pat_str is the pattern");
        else not_ok("compact JSON: pattern %s", lm_bpe_pattern(b));
        expect_ids(b, "compact JSON: encodes with ranks and the special token", "hello<|endoftext|>", 1,
                   (int32_t[]){259, 'o', 257}, 3);
        lm_bpe_free(b);
    } else {
        not_ok("compact JSON loads: %s", e.msg);
    }
    char *mod = malloc(strlen(js) + 64);
    sprintf(mod, "export default %s;\n", js);
    b = NULL;
    if (lm_bpe_load_tiktoken_mem((const uint8_t *)mod, strlen(mod), "tiny.js", &b, &e) == LOOM_OK)
        ok("js-tiktoken's 'export default {...}' module loads");
    else
        not_ok("JS module: %s", e.msg);
    lm_bpe_free(b);
    /* malformed: each replaces one piece of the good text */
    static const struct {
        const char *name, *from, *to, *keyword;
    } bad_js[] = {
        {"explicit_n_vocab wrong", "\"explicit_n_vocab\":260", "\"explicit_n_vocab\":262", "explicit_n_vocab"},
        {"no pat_str", "\"pat_str\"", "\"pattern\"", "pat_str"},
        {"bpe_ranks not a string", "\"bpe_ranks\":\"", "\"bpe_ranks\":[\"", ""},
        {"special id a string", "\"<|endoftext|>\":257", "\"<|endoftext|>\":\"257\"", "<|endoftext|>"},
        {"special id clashes", "\"<|endoftext|>\":257", "\"<|endoftext|>\":258", "258"},
        {"rank run without a rank", "\\n! 258 ", "\\n! x ", "bpe_ranks line 2"},
        {"bad base64 in bpe_ranks", " aGVsbA==", " aGVsbA=*", "base64"},
        {"bad pattern", "'s|'t", "(?<'s|'t", ""},
        {"trailing garbage", "==\"}", "==\"}}", "after the JSON"},
    };
    for (size_t i = 0; i < sizeof bad_js / sizeof bad_js[0]; i++) {
        const char *at = strstr(js, bad_js[i].from);
        if (!at) {
            not_ok("test bug: '%s' not in the JSON", bad_js[i].from);
            continue;
        }
        char *m = malloc(strlen(js) + strlen(bad_js[i].to) + 1);
        size_t pre = (size_t)(at - js);
        memcpy(m, js, pre);
        strcpy(m + pre, bad_js[i].to);
        strcat(m, at + strlen(bad_js[i].from));
        b = NULL;
        memset(&e, 0, sizeof e);
        char what[128];
        snprintf(what, sizeof what, "tiktoken JSON with %s", bad_js[i].name);
        check_fails(what, lm_bpe_load_tiktoken_mem((const uint8_t *)m, strlen(m), "bad.json", &b, &e), b, &e,
                    bad_js[i].keyword);
        free(m);
    }
    free(mod);
    free(js);
    free(ranks);

    /* names */
    b = NULL;
    check_fails("unknown encoding name", lm_bpe_load_tiktoken("p99k_base", &b, &e), b, &e, "p99k_base");
    const char *saved = getenv(LM_TIKTOKEN_DIR_ENV);
    char *saved_copy = saved ? strdup(saved) : NULL;
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && chdir("/") == 0) {
        setenv(LM_TIKTOKEN_DIR_ENV, "/nonexistent", 1);
        b = NULL;
        check_fails("encoding name with no files installed", lm_bpe_load_tiktoken("cl100k_base", &b, &e), b, &e,
                    "npm ci");
        if (chdir(cwd) != 0) not_ok("chdir back to %s", cwd);
    }
    if (saved_copy) setenv(LM_TIKTOKEN_DIR_ENV, saved_copy, 1);
    else unsetenv(LM_TIKTOKEN_DIR_ENV);
    free(saved_copy);

    /* the spelling table */
    if (lm_bpe_byte_to_cp(' ') == 0x120 && lm_bpe_byte_to_cp('\n') == 0x10A && lm_bpe_byte_to_cp(0) == 0x100 &&
        lm_bpe_byte_to_cp(0x7f) == 0x121 && lm_bpe_byte_to_cp(0xad) == 0x143 && lm_bpe_byte_to_cp('A') == 'A' &&
        lm_bpe_cp_to_byte(0x120) == ' ' && lm_bpe_cp_to_byte(0x144) == -1 && lm_bpe_cp_to_byte(0x7f) == -1)
        ok("GPT-2's byte spelling: space=U+0120, newline=U+010A, 0x00=U+0100, 0x7F=U+0121, 0xAD=U+0143");
    else
        not_ok("GPT-2's byte spelling table is wrong");
    int bij = 1;
    for (int i = 0; i < 256; i++) bij &= lm_bpe_cp_to_byte((uint32_t)lm_bpe_byte_to_cp(i)) == i;
    if (bij) ok("the byte spelling is a bijection");
    else not_ok("the byte spelling is not a bijection");

    /* the real encodings, when the npm package is installed */
    static const char *const names[] = {"gpt2", "cl100k_base"};
    static const int sizes[] = {50257, 100277};
    for (int i = 0; i < 2; i++) {
        char *p = lm_bpe_tiktoken_find(names[i], &e);
        if (!p) {
            printf("# skipped: %s is not installed (%s)\n", names[i], e.msg);
            continue;
        }
        b = NULL;
        if (lm_bpe_load_tiktoken(names[i], &b, &e) == LOOM_OK && lm_bpe_vocab_size(b) == sizes[i])
            ok("%s loads from %s (%d ids)", names[i], p, sizes[i]);
        else
            not_ok("%s from %s: %s", names[i], p, b ? "wrong size" : e.msg);
        lm_bpe_free(b);
        free(p);
    }
}

/* ------------------------------------------------------------------ compare with reference ids */

static loom_status load_spec(const char *spec, lm_bpe **b, lm_error *e) {
    if (strncmp(spec, "hf:", 3) == 0) return lm_bpe_load_hf_json(spec + 3, b, e);
    if (strncmp(spec, "tiktoken:", 9) == 0) return lm_bpe_load_tiktoken(spec + 9, b, e);
    return lm_bpe_load_any(spec, b, e);
}

static void show_tokens(const lm_bpe *b, const char *label, const int32_t *ids, int64_t n, int64_t from, int64_t to) {
    printf("#   %-9s", label);
    for (int64_t i = from < 0 ? 0 : from; i < to && i < n; i++) {
        size_t l = 0;
        const uint8_t *t = lm_bpe_token(b, ids[i], &l);
        printf(" %s%d:", i == from + 3 ? ">" : "", ids[i]);
        if (t) show(stdout, t, l, 24);
        else printf("?");
    }
    printf("\n");
}

static int cmd_compare(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_bpe_import compare TOKENIZER EXPECTED.jsonl [--resave] [--threads N]\n");
        return 2;
    }
    const char *spec = argv[2], *file = argv[3];
    int resave = 0, threads = 2;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--resave") == 0) resave = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    }
    lm_bpe *b = NULL;
    lm_error e = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (load_spec(spec, &b, &e) != LOOM_OK) {
        not_ok("load %s: %s", spec, e.msg);
        return finish();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ok("load %s (%d ids, %s mode, %.2f s)", spec, lm_bpe_vocab_size(b),
       lm_bpe_get_mode(b) == LM_BPE_RANKS ? "ranks" : "merges",
       (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    if (resave) {
        char path[] = "/tmp/loom_test_bpe_resave_XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) close(fd);
        lm_bpe *b2 = NULL;
        if (fd < 0 || lm_bpe_save(b, path, &e) != LOOM_OK || lm_bpe_load(path, &b2, &e) != LOOM_OK) {
            not_ok("save and reload in loom's format: %s", e.msg);
            unlink(path);
            lm_bpe_free(b);
            return finish();
        }
        unlink(path);
        ok("saved in loom's format and reloaded; comparing the reloaded copy");
        lm_bpe_free(b);
        b = b2;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        not_ok("cannot open %s", file);
        lm_bpe_free(b);
        return finish();
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    long n_cases = 0, n_bad = 0, n_tokens = 0, n_par_bad = 0, n_rt_bad = 0;
    double bytes = 0, secs = 0;
    int32_t *ids = NULL, *pids = NULL;
    size_t cap = 0, pcap = 0;
    while ((ll = getline(&line, &lcap, f)) > 0) {
        json_object *o = json_tokener_parse(line), *jn, *jb, *js, *ji;
        if (!o || !json_object_object_get_ex(o, "name", &jn) || !json_object_object_get_ex(o, "b64", &jb) ||
            !json_object_object_get_ex(o, "special", &js) || !json_object_object_get_ex(o, "ids", &ji)) {
            not_ok("%s: malformed line %ld", file, n_cases + 1);
            json_object_put(o);
            break;
        }
        n_cases++;
        size_t n = 0;
        uint8_t *text = b64_decode(json_object_get_string(jb), &n);
        if (!text) {
            not_ok("%s: case %s: bad base64", file, json_object_get_string(jn));
            json_object_put(o);
            break;
        }
        int allow = json_object_get_int(js);
        size_t nw = json_object_array_length(ji);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int64_t ng = lm_bpe_encode(b, text, n, allow, &ids, &cap);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        bytes += (double)n;
        n_tokens += (long)nw;
        int64_t first = -1;
        for (int64_t i = 0; i < ng || i < (int64_t)nw; i++) {
            if (i >= ng || i >= (int64_t)nw || ids[i] != json_object_get_int(json_object_array_get_idx(ji, (size_t)i))) {
                first = i;
                break;
            }
        }
        if (ng < 0) first = 0;
        if (first >= 0) {
            n_bad++;
            if (n_bad <= 10) {
                int32_t *want = malloc((nw ? nw : 1) * sizeof *want);
                for (size_t i = 0; i < nw; i++) want[i] = json_object_get_int(json_object_array_get_idx(ji, i));
                size_t off = 0;
                for (int64_t i = 0; i < first; i++) {
                    size_t l = 0;
                    lm_bpe_token(b, want[i], &l);
                    off += l;
                }
                not_ok("%s: case %s: first difference at token %lld (byte %zu of %zu): %lld tokens, tiktoken %zu",
                       file, json_object_get_string(jn), (long long)first, off, n, (long long)ng, nw);
                printf("#   text    ");
                size_t c0 = off > 40 ? off - 40 : 0;
                show(stdout, text + c0, n - c0, 100);
                printf(" (from byte %zu)\n", c0);
                show_tokens(b, "tiktoken", want, (int64_t)nw, first - 3, first + 5);
                show_tokens(b, "loom", ids, ng, first - 3, first + 5);
                free(want);
            }
        } else {
            /* the ids decode back to the text */
            size_t off = 0;
            int rt = 1;
            for (int64_t i = 0; i < ng && rt; i++) {
                size_t l = 0;
                const uint8_t *t = lm_bpe_token(b, ids[i], &l);
                if (!t || off + l > n || memcmp(text + off, t, l) != 0) rt = 0;
                off += l;
            }
            if (!rt || off != n) {
                if (++n_rt_bad <= 5) not_ok("case %s: the ids do not decode to the text", json_object_get_string(jn));
            }
        }
        if (threads > 1 && n > 256) {
            int64_t np = lm_bpe_encode_parallel(b, text, n, allow, &pids, &pcap, threads);
            if (np != ng || (ng > 0 && memcmp(pids, ids, (size_t)ng * sizeof *ids) != 0)) {
                if (++n_par_bad <= 5)
                    not_ok("case %s: lm_bpe_encode_parallel (%d threads) gives other ids than lm_bpe_encode",
                           json_object_get_string(jn), threads);
            }
        }
        free(text);
        json_object_put(o);
    }
    free(line);
    free(ids);
    free(pids);
    fclose(f);
    if (n_cases == 0) not_ok("%s holds no cases", file);
    else if (n_bad == 0)
        ok("%s: all %ld cases (%.0f bytes, %ld tokens) encode to tiktoken's ids (loom %.1f MB/s)", file, n_cases,
           bytes, n_tokens, secs > 0 ? bytes / secs / 1e6 : 0.0);
    else
        not_ok("%s: %ld of %ld cases differ from tiktoken", file, n_bad, n_cases);
    if (n_cases && threads > 1 && n_par_bad == 0) ok("lm_bpe_encode_parallel (%d threads) agrees on every case over 256 bytes", threads);
    if (n_cases && n_rt_bad == 0) ok("every case's ids decode back to its bytes");
    lm_bpe_free(b);
    return finish();
}

static int cmd_encode(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_bpe_import encode TOKENIZER [--special] TEXT...\n");
        return 2;
    }
    lm_bpe *b = NULL;
    lm_error e = {0};
    if (load_spec(argv[2], &b, &e) != LOOM_OK) {
        fprintf(stderr, "test_bpe_import: %s\n", e.msg);
        return 1;
    }
    int allow = 0;
    int32_t *ids = NULL;
    size_t cap = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--special") == 0) {
            allow = 1;
            continue;
        }
        int64_t n = enc(b, argv[i], strlen(argv[i]), allow, &ids, &cap);
        printf("[");
        for (int64_t k = 0; k < n; k++) printf("%s%d", k ? "," : "", ids[k]);
        printf("]\n");
    }
    free(ids);
    lm_bpe_free(b);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "compare") == 0) return cmd_compare(argc, argv);
    if (argc > 1 && strcmp(argv[1], "encode") == 0) return cmd_encode(argc, argv);
    if (argc > 1) {
        fprintf(stderr, "usage: test_bpe_import [compare TOKENIZER EXPECTED.jsonl [--resave] | encode TOKENIZER TEXT...]\n");
        return 2;
    }
    test_hf();
    test_tiktoken();
    return finish();
}
