/* Loading tiktoken and Hugging Face tokenizers into loom's BPE. See bpe_import.h. */
#include "data/bpe_import.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/io.h"
#include "util/utf8.h"

#define MAX_FILE_BYTES ((size_t)1 << 30) /* 1 GiB: far above any real vocabulary */
#define MAX_TOKEN_ID 0x3fffffff

/* ---------------------------------------------------------------- GPT-2's byte spelling */

/* Bytes 33..126, 161..172 and 174..255 spell themselves; the other 68 (0..32, 127..160, 173)
 * take U+0100.. in order. Computed, not tabled, so that there is no shared state to set up. */
static int spells_itself(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

int lm_bpe_byte_to_cp(int b) {
    if (b < 0 || b > 255) return -1;
    if (spells_itself(b)) return b;
    if (b <= 32) return 256 + b;          /* U+0100..U+0120 */
    if (b <= 160) return 256 + 33 + (b - 127); /* U+0121..U+0142 */
    return 256 + 67;                       /* 0xAD: U+0143 */
}

int lm_bpe_cp_to_byte(uint32_t cp) {
    if (cp < 256) return spells_itself((int)cp) ? (int)cp : -1;
    if (cp <= 256 + 32) return (int)cp - 256;
    if (cp <= 256 + 66) return (int)cp - 256 - 33 + 127;
    if (cp == 256 + 67) return 0xAD;
    return -1;
}


/* Decodes a byte-level spelled token into out (room for n bytes); returns the byte count, or -1
 * (with *bad the offending code point, or 0xFFFFFFFF for invalid UTF-8). */
static long spelled_to_bytes(const char *s, size_t n, uint8_t *out, uint32_t *bad) {
    size_t i = 0;
    long k = 0;
    while (i < n) {
        uint32_t cp;
        int l = lm_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (l == 0) {
            *bad = 0xFFFFFFFFu;
            return -1;
        }
        int b = lm_bpe_cp_to_byte(cp);
        if (b < 0) {
            *bad = cp;
            return -1;
        }
        out[k++] = (uint8_t)b;
        i += (size_t)l;
    }
    return k;
}

/* A short, printable rendering of s for error messages. */
static const char *show(const char *s, size_t n, char *buf, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\') {
            buf[k++] = (char)c;
        } else {
            k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", c);
        }
        if (i + 1 < n && k + 5 >= cap) {
            k = k + 4 <= cap ? k : cap - 4;
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
    }
    buf[k < cap ? k : cap - 1] = 0;
    return buf;
}

/* ---------------------------------------------------------------- base64 */

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 (padding optional); returns the decoded length or -1. out has room for
 * n * 3 / 4 + 3 bytes. */
static long b64_decode(const char *s, size_t n, uint8_t *out) {
    while (n > 0 && s[n - 1] == '=') n--;
    if (n % 4 == 1) return -1;
    long k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return -1; /* non-canonical trailing bits */
    return k;
}

/* ---------------------------------------------------------------- building */

/* A vocabulary being assembled: ordinary tokens by id (holes NULL), specials, merges. */
typedef struct vocab_build {
    int n_tokens;      /* ordinary ids 0..n_tokens-1 */
    int cap_tokens;
    uint8_t **tok;     /* pointers into arena (holes NULL) */
    size_t *len;
    uint8_t *arena;    /* token bytes */
    size_t arena_used, arena_cap;
    int n_special, cap_special;
    char **special;    /* malloc'ed, NUL-terminated */
    int32_t *special_id;
    int n_merges, cap_merges;
    int32_t *ml, *mr;
    char *pattern;     /* malloc'ed */
} vocab_build;

static void vb_free(vocab_build *v) {
    free(v->tok);
    free(v->len);
    free(v->arena);
    for (int i = 0; i < v->n_special; i++) free(v->special[i]);
    free(v->special);
    free(v->special_id);
    free(v->ml);
    free(v->mr);
    free(v->pattern);
    memset(v, 0, sizeof *v);
}

static int vb_add_special(vocab_build *v, const char *text, size_t n, int32_t id) {
    if (v->n_special == v->cap_special) {
        int cap = v->cap_special ? v->cap_special * 2 : 16;
        char **s = realloc(v->special, (size_t)cap * sizeof *s);
        if (!s) return 0;
        v->special = s;
        int32_t *d = realloc(v->special_id, (size_t)cap * sizeof *d);
        if (!d) return 0;
        v->special_id = d;
        v->cap_special = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return 0;
    memcpy(c, text, n);
    c[n] = 0;
    v->special[v->n_special] = c;
    v->special_id[v->n_special++] = id;
    return 1;
}

static int vb_find_special_id(const vocab_build *v, int32_t id) {
    for (int i = 0; i < v->n_special; i++)
        if (v->special_id[i] == id) return i;
    return -1;
}

/* Checks the specials against each other and the ordinary ids, then creates the tokenizer. */
static loom_status vb_create(vocab_build *v, lm_bpe_mode mode, const char *name, lm_bpe **out, lm_error *err) {
    for (int i = 0; i < v->n_special; i++) {
        int32_t id = v->special_id[i];
        if (v->special[i][0] == 0)
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: special token with id %d has empty text", name, (int)id);
        /* specials may leave gaps after the ordinary ids (cl100k_base does), within reason: this
         * bounds the tables by the file's size */
        long long limit = 2 * ((long long)v->n_tokens + v->n_special) + 1024;
        if (id < 0 || id >= limit)
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: special token '%s' has id %lld, far beyond the %d tokens", name,
                           v->special[i], (long long)id, v->n_tokens);
        if (id < v->n_tokens && v->tok[id])
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: special token '%s' has id %d, which is also an ordinary token",
                           name, v->special[i], (int)id);
        for (int j = 0; j < i; j++) {
            if (v->special_id[j] == id)
                return lm_fail(err, LOOM_ERR_FORMAT, "%s: special tokens '%s' and '%s' share id %d", name,
                               v->special[j], v->special[i], (int)id);
            if (strcmp(v->special[j], v->special[i]) == 0)
                return lm_fail(err, LOOM_ERR_FORMAT, "%s: special token '%s' appears twice", name, v->special[i]);
        }
    }
    /* every hole in the ordinary ids must be a special token's */
    for (int i = 0; i < v->n_tokens; i++)
        if (!v->tok[i] && vb_find_special_id(v, i) < 0)
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: no token has id %d (ids must be contiguous)", name, i);
    lm_bpe_vocab bv;
    memset(&bv, 0, sizeof bv);
    bv.n_tokens = v->n_tokens;
    bv.tok = (const uint8_t *const *)v->tok;
    bv.len = v->len;
    bv.mode = mode;
    bv.n_merges = v->n_merges;
    bv.merge_left = v->ml;
    bv.merge_right = v->mr;
    bv.pattern = v->pattern;
    bv.n_special = v->n_special;
    bv.special = (const char *const *)v->special;
    bv.special_id = v->special_id;
    lm_bpe *b = NULL;
    lm_error e2 = {0};
    loom_status st = lm_bpe_create(&b, &bv, &e2);
    /* the core calls a bad vocabulary a bad argument; here it came from a file */
    if (st != LOOM_OK) return lm_fail(err, st == LOOM_ERR_NOMEM ? st : LOOM_ERR_FORMAT, "%s: %s", name, e2.msg);
    *out = b;
    return LOOM_OK;
}

/* ---------------------------------------------------------------- tiktoken */

typedef struct known_encoding {
    const char *name;
    const char *file; /* the name its files have */
    const char *pattern;
    int n_special;
    const char *special[5];
    int32_t special_id[5];
    int explicit_n_vocab; /* 0: not fixed */
} known_encoding;

static const known_encoding KNOWN[] = {
    {"gpt2", "r50k_base", LM_BPE_PATTERN_GPT2, 1, {"<|endoftext|>"}, {50256}, 50257},
    {"r50k_base", "r50k_base", LM_BPE_PATTERN_GPT2, 1, {"<|endoftext|>"}, {50256}, 50257},
    {"p50k_base", "p50k_base", LM_BPE_PATTERN_GPT2, 1, {"<|endoftext|>"}, {50256}, 50281},
    {"p50k_edit", "p50k_base", LM_BPE_PATTERN_GPT2, 4,
     {"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"}, {50256, 50281, 50282, 50283}, 0},
    {"cl100k_base", "cl100k_base", LM_BPE_PATTERN_GPT4, 5,
     {"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>"},
     {100257, 100258, 100259, 100260, 100276}, 0},
    {"o200k_base", "o200k_base", LM_BPE_PATTERN_O200K, 2, {"<|endoftext|>", "<|endofprompt|>"}, {199999, 200018},
     0},
};
#define N_KNOWN ((int)(sizeof KNOWN / sizeof KNOWN[0]))

static const known_encoding *known_by_name(const char *s, size_t n) {
    for (int i = 0; i < N_KNOWN; i++)
        if (strlen(KNOWN[i].name) == n && memcmp(KNOWN[i].name, s, n) == 0) return &KNOWN[i];
    return NULL;
}

/* The base name of a path without directory and extension. */
static void stem(const char *path, const char **s, size_t *n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strchr(b, '.');
    *s = b;
    *n = dot ? (size_t)(dot - b) : strlen(b);
}

/* One rank table entry while parsing. */
typedef struct rank_entry {
    long long rank;
    size_t off, len; /* token bytes in the arena */
} rank_entry;

/* Places parsed (rank, bytes) entries by rank. */
static loom_status place_ranks(vocab_build *v, const rank_entry *e, size_t n, int n_special, const char *name,
                               lm_error *err) {
    long long max_rank = -1;
    for (size_t i = 0; i < n; i++)
        if (e[i].rank > max_rank) max_rank = e[i].rank;
    /* every id below the largest is a token or a special token: this bounds the table by the file */
    if (max_rank >= (long long)n + n_special)
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: rank %lld but only %zu tokens (ranks must be contiguous from 0)",
                       name, max_rank, n);
    int n_tokens = (int)(max_rank + 1);
    v->tok = calloc((size_t)(n_tokens ? n_tokens : 1), sizeof *v->tok);
    v->len = calloc((size_t)(n_tokens ? n_tokens : 1), sizeof *v->len);
    if (!v->tok || !v->len) return lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory for %d tokens", name, n_tokens);
    v->n_tokens = v->cap_tokens = n_tokens;
    for (size_t i = 0; i < n; i++) {
        int r = (int)e[i].rank;
        if (v->tok[r]) return lm_fail(err, LOOM_ERR_FORMAT, "%s: rank %d is given to two tokens", name, r);
        v->tok[r] = v->arena + e[i].off;
        v->len[r] = e[i].len;
    }
    return LOOM_OK;
}

/* Parses "BASE64 RANK" lines. */
static loom_status parse_plain_ranks(vocab_build *v, const uint8_t *buf, size_t n, int n_special, const char *name,
                                     lm_error *err) {
    size_t n_lines = 1;
    for (size_t i = 0; i < n; i++) n_lines += buf[i] == '\n';
    rank_entry *e = malloc(n_lines * sizeof *e);
    v->arena = malloc(n / 4 * 3 + 4);
    v->arena_cap = n / 4 * 3 + 4;
    if (!e || !v->arena) {
        free(e);
        return lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory reading the rank table", name);
    }
    size_t ne = 0, line = 0, i = 0;
    loom_status st = LOOM_OK;
    while (i < n) {
        line++;
        size_t j = i;
        while (j < n && buf[j] != '\n') j++;
        size_t end = j;
        if (end > i && buf[end - 1] == '\r') end--;
        if (end > i) {
            size_t sp = i;
            while (sp < end && buf[sp] != ' ') sp++;
            if (sp == end || sp == i) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: line %zu: want 'BASE64TOKEN RANK'", name, line);
                break;
            }
            long dl = b64_decode((const char *)buf + i, sp - i, v->arena + v->arena_used);
            if (dl <= 0) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: line %zu: '%.*s' is not a base64 token", name, line,
                             (int)(sp - i > 40 ? 40 : sp - i), (const char *)buf + i);
                break;
            }
            size_t k = sp + 1;
            long long r = 0;
            if (k == end) r = -1;
            for (; k < end; k++) {
                if (buf[k] < '0' || buf[k] > '9' || r > MAX_TOKEN_ID) {
                    r = -1;
                    break;
                }
                r = r * 10 + (buf[k] - '0');
            }
            if (r < 0 || r > MAX_TOKEN_ID) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: line %zu: the rank is not a number in 0..%d", name, line,
                             MAX_TOKEN_ID);
                break;
            }
            e[ne].rank = r;
            e[ne].off = v->arena_used;
            e[ne].len = (size_t)dl;
            v->arena_used += (size_t)dl;
            ne++;
        }
        i = j + 1;
    }
    if (st == LOOM_OK && ne == 0) st = lm_fail(err, LOOM_ERR_FORMAT, "%s: no tokens in the rank table", name);
    if (st == LOOM_OK) st = place_ranks(v, e, ne, n_special, name, err);
    free(e);
    return st;
}

/* Parses the npm packages' compact "bpe_ranks": lines "! FIRST_RANK TOKEN TOKEN ...". */
static loom_status parse_compact_ranks(vocab_build *v, const char *s, size_t n, int n_special, const char *name,
                                       lm_error *err) {
    size_t n_words = 1;
    for (size_t i = 0; i < n; i++) n_words += s[i] == ' ' || s[i] == '\n';
    rank_entry *e = malloc(n_words * sizeof *e);
    v->arena = malloc(n / 4 * 3 + 4);
    v->arena_cap = n / 4 * 3 + 4;
    if (!e || !v->arena) {
        free(e);
        return lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory reading bpe_ranks", name);
    }
    size_t ne = 0, line = 0, i = 0;
    loom_status st = LOOM_OK;
    while (i < n && st == LOOM_OK) {
        line++;
        size_t j = i;
        while (j < n && s[j] != '\n') j++;
        if (j > i) {
            /* words of the line */
            size_t w = i, word = 0;
            long long next_rank = -1;
            while (w <= j && st == LOOM_OK) {
                size_t we = w;
                while (we < j && s[we] != ' ') we++;
                if (word == 0) {
                    /* a marker the package's own reader ignores */
                } else if (word == 1) {
                    long long r = 0;
                    if (we == w) r = -1;
                    for (size_t k = w; k < we; k++) {
                        if (s[k] < '0' || s[k] > '9' || r > MAX_TOKEN_ID) {
                            r = -1;
                            break;
                        }
                        r = r * 10 + (s[k] - '0');
                    }
                    if (r < 0 || r > MAX_TOKEN_ID)
                        st = lm_fail(err, LOOM_ERR_FORMAT, "%s: bpe_ranks line %zu: the first rank is not a number",
                                     name, line);
                    next_rank = r;
                } else {
                    long dl = b64_decode(s + w, we - w, v->arena + v->arena_used);
                    if (dl <= 0) {
                        st = lm_fail(err, LOOM_ERR_FORMAT, "%s: bpe_ranks line %zu: '%.*s' is not a base64 token",
                                     name, line, (int)(we - w > 40 ? 40 : we - w), s + w);
                        break;
                    }
                    if (next_rank > MAX_TOKEN_ID) {
                        st = lm_fail(err, LOOM_ERR_FORMAT, "%s: bpe_ranks line %zu: rank out of range", name, line);
                        break;
                    }
                    e[ne].rank = next_rank++;
                    e[ne].off = v->arena_used;
                    e[ne].len = (size_t)dl;
                    v->arena_used += (size_t)dl;
                    ne++;
                }
                word++;
                w = we + 1;
            }
            if (st == LOOM_OK && word < 2)
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: bpe_ranks line %zu: want '! FIRST_RANK TOKEN...'", name,
                             line);
        }
        i = j + 1;
    }
    if (st == LOOM_OK && ne == 0) st = lm_fail(err, LOOM_ERR_FORMAT, "%s: bpe_ranks holds no tokens", name);
    if (st == LOOM_OK) st = place_ranks(v, e, ne, n_special, name, err);
    free(e);
    return st;
}

/* A plain rank table with the given pattern and specials; explicit_n_vocab > 0: the number of
 * tokens and special tokens it must hold. */
static loom_status tiktoken_plain(const uint8_t *buf, size_t n, const char *name, const char *pattern, int n_special,
                                  const char *const *special, const int32_t *special_id, int explicit_n_vocab,
                                  lm_bpe **out, lm_error *err) {
    if (!out) return lm_fail(err, LOOM_ERR_ARG, "lm_bpe_from_tiktoken_ranks: out is NULL");
    *out = NULL;
    if (!name) name = "tiktoken ranks";
    if (!buf && n) return lm_fail(err, LOOM_ERR_ARG, "%s: no data", name);
    if (n_special < 0 || (n_special > 0 && (!special || !special_id)))
        return lm_fail(err, LOOM_ERR_ARG, "%s: bad special-token list", name);
    vocab_build v;
    memset(&v, 0, sizeof v);
    loom_status st = LOOM_OK;
    for (int i = 0; i < n_special && st == LOOM_OK; i++)
        if (!special[i] || !vb_add_special(&v, special[i], strlen(special[i]), special_id[i]))
            st = lm_fail(err, special[i] ? LOOM_ERR_NOMEM : LOOM_ERR_ARG, "%s: bad special token %d", name, i);
    if (st == LOOM_OK) st = parse_plain_ranks(&v, buf, n, n_special, name, err);
    if (st == LOOM_OK && explicit_n_vocab > 0) {
        int have = 0;
        for (int i = 0; i < v.n_tokens; i++) have += v.tok[i] != NULL;
        if (have + v.n_special != explicit_n_vocab)
            st = lm_fail(err, LOOM_ERR_FORMAT, "%s: %d tokens and %d special tokens, but the encoding has %d", name,
                         have, v.n_special, explicit_n_vocab);
    }
    if (st == LOOM_OK && !(v.pattern = strdup(pattern ? pattern : LM_BPE_PATTERN_GPT2)))
        st = lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
    if (st == LOOM_OK) st = vb_create(&v, LM_BPE_RANKS, name, out, err);
    vb_free(&v);
    return st;
}

loom_status lm_bpe_from_tiktoken_ranks(const uint8_t *buf, size_t n, const char *name, const char *pattern,
                                       int n_special, const char *const *special, const int32_t *special_id,
                                       lm_bpe **out, lm_error *err) {
    return tiktoken_plain(buf, n, name, pattern, n_special, special, special_id, 0, out, err);
}

/* Parses JSON text (copied so that it is NUL-terminated, as json-c wants) strictly; the value
 * must fill [0, n) except for trailing whitespace and semicolons. */
static loom_status parse_json(const char *s, size_t n, const char *name, json_object **out, lm_error *err) {
    *out = NULL;
    if (n >= (size_t)INT_MAX) return lm_fail(err, LOOM_ERR_FORMAT, "%s: JSON text too large", name);
    char *c = malloc(n + 1);
    if (!c) return lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
    memcpy(c, s, n);
    c[n] = 0;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        free(c);
        return lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, c, (int)n + 1);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    loom_status st = LOOM_OK;
    if (!o && je == json_tokener_success) {
        st = lm_fail(err, LOOM_ERR_FORMAT, "%s: the JSON value is null (want an object)", name);
    } else if (!o || je != json_tokener_success) {
        /* report the line of the error */
        size_t at = end < n ? end : n, line = 1;
        for (size_t i = 0; i < at; i++) line += c[i] == '\n';
        st = lm_fail(err, LOOM_ERR_FORMAT, "%s: invalid JSON at line %zu: %s", name, line,
                     je == json_tokener_continue ? "unexpected end of file" : json_tokener_error_desc(je));
    } else {
        for (size_t i = end; i < n; i++) {
            if (!isspace((unsigned char)c[i]) && c[i] != ';') {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: unexpected data after the JSON value (byte %zu)", name, i);
                break;
            }
        }
    }
    json_tokener_free(tok);
    free(c);
    if (st != LOOM_OK) {
        json_object_put(o);
        return st;
    }
    *out = o;
    return LOOM_OK;
}

static int get_int_id(json_object *o, int32_t *id) {
    if (!o || !json_object_is_type(o, json_type_int)) return 0;
    errno = 0;
    int64_t v = json_object_get_int64(o);
    if (v < 0 || v > MAX_TOKEN_ID) return 0;
    *id = (int32_t)v;
    return 1;
}

/* The npm packages' JSON: {"pat_str", "special_tokens", "bpe_ranks", "explicit_n_vocab"?}. */
static loom_status tiktoken_from_json(json_object *root, const char *name, lm_bpe **out, lm_error *err) {
    json_object *pat, *sp = NULL, *ranks, *nv;
    if (!json_object_is_type(root, json_type_object))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: not a tiktoken encoding (want a JSON object)", name);
    if (!json_object_object_get_ex(root, "pat_str", &pat) || !json_object_is_type(pat, json_type_string) ||
        json_object_get_string_len(pat) == 0)
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: \"pat_str\" (the pre-split pattern) is missing or not a string",
                       name);
    if (strlen(json_object_get_string(pat)) != (size_t)json_object_get_string_len(pat))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: \"pat_str\" contains a NUL character", name);
    if (!json_object_object_get_ex(root, "bpe_ranks", &ranks) || !json_object_is_type(ranks, json_type_string))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: \"bpe_ranks\" is missing or not a string", name);
    if (json_object_object_get_ex(root, "special_tokens", &sp) && !json_object_is_type(sp, json_type_object) &&
        !json_object_is_type(sp, json_type_null))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: \"special_tokens\" is not an object", name);
    vocab_build v;
    memset(&v, 0, sizeof v);
    loom_status st = LOOM_OK;
    int n_special = 0;
    if (sp && json_object_is_type(sp, json_type_object)) {
        json_object_object_foreach(sp, key, val) {
            int32_t id;
            if (!get_int_id(val, &id)) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: special token '%s': the id is not an integer in 0..%d", name,
                             key, MAX_TOKEN_ID);
                break;
            }
            if (!vb_add_special(&v, key, strlen(key), id)) {
                st = lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
                break;
            }
            n_special++;
        }
    }
    if (st == LOOM_OK)
        st = parse_compact_ranks(&v, json_object_get_string(ranks), (size_t)json_object_get_string_len(ranks),
                                 n_special, name, err);
    if (st == LOOM_OK && !(v.pattern = strdup(json_object_get_string(pat))))
        st = lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
    if (st == LOOM_OK && json_object_object_get_ex(root, "explicit_n_vocab", &nv) &&
        !json_object_is_type(nv, json_type_null)) {
        int32_t want;
        if (!get_int_id(nv, &want)) {
            st = lm_fail(err, LOOM_ERR_FORMAT, "%s: \"explicit_n_vocab\" is not a count", name);
        } else {
            int have = 0;
            for (int i = 0; i < v.n_tokens; i++) have += v.tok[i] != NULL;
            if (have + v.n_special != want)
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: %d tokens and %d special tokens, but explicit_n_vocab is %d",
                             name, have, v.n_special, (int)want);
        }
    }
    if (st == LOOM_OK) st = vb_create(&v, LM_BPE_RANKS, name, out, err);
    vb_free(&v);
    return st;
}

/* Where the JSON value of a JS module ("export default {...}" or "module.exports = {...}") or
 * a JSON file starts; n if it does not look like one. */
static size_t json_start(const uint8_t *buf, size_t n) {
    size_t i = 0;
    while (i < n && isspace(buf[i])) i++;
    if (i < n && buf[i] == '{') return i;
    static const char *const prefixes[] = {"export default", "module.exports", "exports.default"};
    for (int p = 0; p < 3; p++) {
        size_t l = strlen(prefixes[p]);
        if (n - i >= l && memcmp(buf + i, prefixes[p], l) == 0) {
            size_t j = i + l;
            while (j < n && (isspace(buf[j]) || buf[j] == '=')) j++;
            if (j < n && buf[j] == '{') return j;
        }
    }
    return n;
}

/* Whether the first line has the shape of a .tiktoken rank list: base64, one space, a rank. */
static int looks_tiktoken(const uint8_t *buf, size_t n) {
    size_t i = 0;
    while (i < n && (isalnum(buf[i]) || buf[i] == '+' || buf[i] == '/' || buf[i] == '=')) i++;
    if (i == 0 || i == n || buf[i++] != ' ') return 0;
    size_t d = i;
    while (i < n && isdigit(buf[i])) i++;
    if (i == d) return 0;
    if (i < n && buf[i] == '\r') i++;
    return i == n || buf[i] == '\n';
}

loom_status lm_bpe_load_tiktoken_mem(const uint8_t *buf, size_t n, const char *name, lm_bpe **out, lm_error *err) {
    if (!out) return lm_fail(err, LOOM_ERR_ARG, "lm_bpe_load_tiktoken_mem: out is NULL");
    *out = NULL;
    if (!name) name = "tiktoken";
    if (!buf || n == 0) return lm_fail(err, LOOM_ERR_FORMAT, "%s: empty file", name);
    size_t js = json_start(buf, n);
    if (js < n) {
        json_object *root;
        loom_status st = parse_json((const char *)buf + js, n - js, name, &root, err);
        if (st != LOOM_OK) return st;
        st = tiktoken_from_json(root, name, out, err);
        json_object_put(root);
        return st;
    }
    if (!looks_tiktoken(buf, n))
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "%s: not a .tiktoken rank list (its first line is not 'BASE64 RANK') nor its JSON form", name);
    const char *s;
    size_t sn;
    stem(name, &s, &sn);
    const known_encoding *k = known_by_name(s, sn);
    if (!k)
        return lm_fail(err, LOOM_ERR_ARG,
                       "%s: a plain .tiktoken file holds no pre-split pattern or special tokens, and '%.*s' is not a "
                       "known encoding (gpt2, r50k_base, p50k_base, p50k_edit, cl100k_base, o200k_base): name the file "
                       "after its encoding, or use the npm package's JSON file",
                       name, (int)sn, s);
    return tiktoken_plain(buf, n, name, k->pattern, k->n_special, k->special, k->special_id, k->explicit_n_vocab, out,
                          err);
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

char *lm_bpe_tiktoken_find(const char *name, lm_error *err) {
    const known_encoding *k = name ? known_by_name(name, strlen(name)) : NULL;
    if (!k) {
        lm_fail(err, LOOM_ERR_ARG,
                "unknown tiktoken encoding '%s' (known: gpt2, r50k_base, p50k_base, p50k_edit, cl100k_base, "
                "o200k_base; or give a file's path)",
                name ? name : "(null)");
        return NULL;
    }
    static const char *const forms[] = {
        "%s/%s.tiktoken",
        "%s/%s.json",
        "%s/encoders/%s.json",
        "%s/tiktoken/encoders/%s.json",
        "%s/node_modules/tiktoken/encoders/%s.json",
        "%s/node_modules/js-tiktoken/dist/ranks/%s.js",
    };
    const char *dirs[2];
    int nd = 0;
    const char *env = getenv(LM_TIKTOKEN_DIR_ENV);
    if (env && *env) dirs[nd++] = env;
    dirs[nd++] = "tests/tiktoken";
    /* the npm files are named after the encoding itself (gpt2.json exists), .tiktoken files after
     * the rank table they hold (gpt2 uses r50k_base.tiktoken) */
    const char *names[2] = {k->name, k->file};
    for (int d = 0; d < nd; d++) {
        for (int f = 0; f < (int)(sizeof forms / sizeof forms[0]); f++) {
            for (int m = 0; m < 2; m++) {
                if (m == 1 && strcmp(names[0], names[1]) == 0) continue;
                /* a p50k_base.tiktoken has no fim tokens: p50k_edit only matches its own JSON */
                if (m == 1 && strcmp(k->name, "p50k_edit") == 0) continue;
                size_t len = strlen(dirs[d]) + strlen(forms[f]) + strlen(names[m]) + 1;
                char *p = malloc(len);
                if (!p) {
                    lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
                    return NULL;
                }
                snprintf(p, len, forms[f], dirs[d], names[m]);
                if (is_file(p)) return p;
                free(p);
            }
        }
    }
    lm_fail(err, LOOM_ERR_IO,
            "tiktoken encoding '%s' not found in %s%s%s ./tests/tiktoken (looked for %s.tiktoken, %s.json, "
            "node_modules/tiktoken/encoders/%s.json): run `npm ci` in tests/tiktoken, or set %s to a folder holding "
            "the files, or give the file's path",
            name, env && *env ? "$" LM_TIKTOKEN_DIR_ENV "=" : "", env && *env ? env : "", env && *env ? " and" : "",
            k->file, name, name, LM_TIKTOKEN_DIR_ENV);
    return NULL;
}

static int looks_like_path(const char *s) {
    return strchr(s, '/') || strchr(s, '.') || is_file(s);
}

loom_status lm_bpe_load_tiktoken(const char *name_or_path, lm_bpe **out, lm_error *err) {
    if (!out) return lm_fail(err, LOOM_ERR_ARG, "lm_bpe_load_tiktoken: out is NULL");
    *out = NULL;
    if (!name_or_path || !*name_or_path) return lm_fail(err, LOOM_ERR_ARG, "no tiktoken encoding given");
    char *path = NULL;
    const known_encoding *k = NULL;
    if (looks_like_path(name_or_path)) {
        path = strdup(name_or_path);
        if (!path) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    } else {
        path = lm_bpe_tiktoken_find(name_or_path, err);
        if (!path) return err ? err->code : LOOM_ERR_IO;
        k = known_by_name(name_or_path, strlen(name_or_path));
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    loom_status st = lm_read_file(path, MAX_FILE_BYTES, &buf, &n, err);
    if (st == LOOM_OK) {
        /* a plain file found for a name: the name says which encoding it is (gpt2 reads r50k_base) */
        char *label = path;
        char tmp[64];
        if (k && json_start(buf, n) == n) {
            snprintf(tmp, sizeof tmp, "%s.tiktoken", k->name);
            label = tmp;
        }
        st = lm_bpe_load_tiktoken_mem(buf, n, label, out, err);
        if (st != LOOM_OK && label != path && err) {
            char m[sizeof err->msg + 8];
            int w = snprintf(m, sizeof m, "%s (%.200s)", err->msg, path);
            if (w > 0 && (size_t)w < sizeof err->msg) memcpy(err->msg, m, (size_t)w + 1);
        }
    }
    free(buf);
    free(path);
    return st;
}

/* ---------------------------------------------------------------- Hugging Face tokenizer.json */

static const char *type_of(json_object *o) {
    json_object *t;
    if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "type", &t) &&
        json_object_is_type(t, json_type_string))
        return json_object_get_string(t);
    return NULL;
}

static int get_bool(json_object *o, const char *key, int dflt, int *val) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        *val = dflt;
        return 1;
    }
    if (!json_object_is_type(v, json_type_boolean)) return 0;
    *val = json_object_get_boolean(v);
    return 1;
}

/* Quotes a literal for PCRE2 (UTF-8 passes through; ASCII punctuation gets a backslash). */
static char *quote_literal(const char *s, size_t n) {
    char *q = malloc(6 * n + 1);
    if (!q) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            k += (size_t)sprintf(q + k, "\\x{%02x}", c);
            continue;
        }
        if (c < 0x80 && !isalnum(c) && c != '_') q[k++] = '\\';
        q[k++] = (char)c;
    }
    q[k] = 0;
    return q;
}

/* The pre-tokenizer: sets *pattern (malloc'ed). */
static loom_status hf_pre_tokenizer(json_object *pre, const char *name, char **pattern, lm_error *err) {
    *pattern = NULL;
    if (!pre || json_object_is_type(pre, json_type_null))
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "%s: no pre_tokenizer; loom reads byte-level BPE tokenizers (a ByteLevel pre-tokenizer)", name);
    const char *t = type_of(pre);
    if (!t) return lm_fail(err, LOOM_ERR_FORMAT, "%s: pre_tokenizer has no \"type\"", name);
    json_object *steps[16];
    int n_steps = 0;
    if (strcmp(t, "Sequence") == 0) {
        json_object *arr;
        if (!json_object_object_get_ex(pre, "pretokenizers", &arr) || !json_object_is_type(arr, json_type_array))
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: pre_tokenizer Sequence has no \"pretokenizers\" list", name);
        size_t na = json_object_array_length(arr);
        if (na > 16) return lm_fail(err, LOOM_ERR_FORMAT, "%s: pre_tokenizer Sequence of %zu steps", name, na);
        for (size_t i = 0; i < na; i++) steps[n_steps++] = json_object_array_get_idx(arr, i);
    } else {
        steps[n_steps++] = pre;
    }
    json_object *split = NULL, *bytelevel = NULL;
    for (int i = 0; i < n_steps; i++) {
        const char *st = type_of(steps[i]);
        if (!st) return lm_fail(err, LOOM_ERR_FORMAT, "%s: pre_tokenizer step %d has no \"type\"", name, i);
        if (strcmp(st, "ByteLevel") == 0) {
            if (bytelevel) return lm_fail(err, LOOM_ERR_FORMAT, "%s: two ByteLevel pre-tokenizers", name);
            bytelevel = steps[i];
        } else if (strcmp(st, "Split") == 0) {
            if (split)
                return lm_fail(err, LOOM_ERR_FORMAT,
                               "%s: several Split pre-tokenizers (loom applies one pre-split pattern)", name);
            if (bytelevel)
                return lm_fail(err, LOOM_ERR_FORMAT, "%s: a Split pre-tokenizer after ByteLevel is not supported",
                               name);
            split = steps[i];
        } else {
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: pre-tokenizer '%s' is not supported (loom reads Split and ByteLevel)",
                           name, st);
        }
    }
    if (!bytelevel)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "%s: no ByteLevel pre-tokenizer; loom reads byte-level BPE tokenizers only", name);
    int prefix, use_regex;
    if (!get_bool(bytelevel, "add_prefix_space", 0, &prefix) || !get_bool(bytelevel, "use_regex", 1, &use_regex))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: ByteLevel's add_prefix_space/use_regex are not booleans", name);
    if (prefix)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "%s: ByteLevel add_prefix_space=true is not supported (it changes the first word)", name);
    if (split) {
        if (use_regex)
            return lm_fail(err, LOOM_ERR_FORMAT,
                           "%s: a Split pre-tokenizer followed by ByteLevel with use_regex=true (two pre-splits) is "
                           "not supported",
                           name);
        json_object *pat, *beh, *x;
        int invert;
        if (!json_object_object_get_ex(split, "behavior", &beh) || !json_object_is_type(beh, json_type_string) ||
            strcmp(json_object_get_string(beh), "Isolated") != 0)
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: Split behavior '%s' is not supported (only \"Isolated\")", name,
                           beh && json_object_is_type(beh, json_type_string) ? json_object_get_string(beh) : "?");
        if (!get_bool(split, "invert", 0, &invert) || invert)
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: Split with invert=true is not supported", name);
        if (!json_object_object_get_ex(split, "pattern", &pat) || !json_object_is_type(pat, json_type_object))
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: Split has no \"pattern\" object", name);
        int is_regex = json_object_object_get_ex(pat, "Regex", &x) && json_object_is_type(x, json_type_string);
        if (!is_regex && !(json_object_object_get_ex(pat, "String", &x) && json_object_is_type(x, json_type_string)))
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: Split pattern is neither {\"Regex\": ...} nor {\"String\": ...}",
                           name);
        const char *ps = json_object_get_string(x);
        size_t pl = (size_t)json_object_get_string_len(x);
        if (pl == 0) return lm_fail(err, LOOM_ERR_FORMAT, "%s: Split pattern is empty", name);
        if (strlen(ps) != pl) return lm_fail(err, LOOM_ERR_FORMAT, "%s: Split pattern contains a NUL character", name);
        *pattern = is_regex ? strdup(ps) : quote_literal(ps, pl);
    } else {
        /* without a regex ByteLevel leaves the text whole */
        *pattern = strdup(use_regex ? LM_BPE_PATTERN_GPT2 : "[\\s\\S]+");
    }
    if (!*pattern) return lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
    return LOOM_OK;
}

static loom_status hf_from_json(json_object *root, const char *name, lm_bpe **out, lm_error *err) {
    if (!json_object_is_type(root, json_type_object))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: not a tokenizer.json (want a JSON object)", name);
    json_object *model, *vocab, *merges, *x;
    if (!json_object_object_get_ex(root, "model", &model) || !json_object_is_type(model, json_type_object))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: no \"model\" object (not a Hugging Face tokenizer.json?)", name);
    const char *mt = type_of(model);
    if (json_object_object_get_ex(model, "type", &x) && !mt)
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: model \"type\" is not a string", name);
    if (mt && strcmp(mt, "BPE") != 0)
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: model type '%s' is not supported (loom reads \"BPE\")", name, mt);
    if (!json_object_object_get_ex(model, "vocab", &vocab) || !json_object_is_type(vocab, json_type_object))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: model has no \"vocab\" object", name);
    if (!json_object_object_get_ex(model, "merges", &merges) || !json_object_is_type(merges, json_type_array))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: model has no \"merges\" list", name);
    /* settings that change the encoding in ways loom does not reproduce */
    if (json_object_object_get_ex(model, "dropout", &x) && !json_object_is_type(x, json_type_null) &&
        !((json_object_is_type(x, json_type_double) || json_object_is_type(x, json_type_int)) &&
          json_object_get_double(x) == 0.0))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: BPE dropout is not supported", name);
    int flag;
    if (!get_bool(model, "byte_fallback", 0, &flag))
        return lm_fail(err, LOOM_ERR_FORMAT, "%s: model \"byte_fallback\" is not a boolean", name);
    if (flag)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "%s: byte_fallback=true (a SentencePiece-style vocabulary) is not supported; loom reads "
                       "byte-level BPE",
                       name);
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        if (json_object_object_get_ex(model, affixes[i], &x) && !json_object_is_type(x, json_type_null) &&
            !(json_object_is_type(x, json_type_string) && json_object_get_string_len(x) == 0))
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: model \"%s\" is not supported", name, affixes[i]);
    }
    if (json_object_object_get_ex(root, "normalizer", &x) && !json_object_is_type(x, json_type_null)) {
        const char *nt = type_of(x);
        json_object *list;
        int empty_seq = nt && strcmp(nt, "Sequence") == 0 && json_object_object_get_ex(x, "normalizers", &list) &&
                        json_object_is_type(list, json_type_array) && json_object_array_length(list) == 0;
        if (!empty_seq)
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: normalizer '%s' is not supported", name, nt ? nt : "?");
    }
    json_object *pre = NULL;
    json_object_object_get_ex(root, "pre_tokenizer", &pre);

    vocab_build v;
    memset(&v, 0, sizeof v);
    loom_status st = hf_pre_tokenizer(pre, name, &v.pattern, err);
    if (st != LOOM_OK) return st;

    /* added tokens: loom's special tokens */
    json_object *added = NULL;
    if (json_object_object_get_ex(root, "added_tokens", &added) && !json_object_is_type(added, json_type_null)) {
        if (!json_object_is_type(added, json_type_array)) {
            vb_free(&v);
            return lm_fail(err, LOOM_ERR_FORMAT, "%s: \"added_tokens\" is not a list", name);
        }
        size_t na = json_object_array_length(added);
        for (size_t i = 0; i < na; i++) {
            json_object *a = json_object_array_get_idx(added, i), *c, *id;
            int32_t idv;
            if (!json_object_is_type(a, json_type_object) || !json_object_object_get_ex(a, "content", &c) ||
                !json_object_is_type(c, json_type_string) || json_object_get_string_len(c) == 0) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: added token %zu has no \"content\" text", name, i);
                break;
            }
            if (!json_object_object_get_ex(a, "id", &id) || !get_int_id(id, &idv)) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: added token %zu has no integer \"id\" in 0..%d", name, i,
                             MAX_TOKEN_ID);
                break;
            }
            size_t cl = (size_t)json_object_get_string_len(c);
            if (strlen(json_object_get_string(c)) != cl) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: added token %zu contains a NUL character", name, i);
                break;
            }
            if (!vb_add_special(&v, json_object_get_string(c), cl, idv)) {
                st = lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
                break;
            }
        }
    }
    /* vocab: ids must be dense over vocab and added tokens together, which bounds the tables */
    int nv = st == LOOM_OK ? json_object_object_length(vocab) : 0;
    if (st == LOOM_OK && nv == 0) st = lm_fail(err, LOOM_ERR_FORMAT, "%s: the vocab is empty", name);
    long long bound = (long long)nv + v.n_special;
    int max_id = -1;
    size_t total = 0;
    /* which ids are added tokens' (their ids may leave a gap after the vocab, as tiktoken's do) */
    long long limit = 2 * bound + 1024;
    uint8_t *is_added = st == LOOM_OK ? calloc((size_t)limit, 1) : NULL;
    if (st == LOOM_OK && !is_added) st = lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
    for (int i = 0; i < v.n_special && st == LOOM_OK; i++) {
        if (v.special_id[i] >= limit)
            st = lm_fail(err, LOOM_ERR_FORMAT, "%s: added token '%s' has id %d, far beyond the %d vocab entries", name,
                         v.special[i], (int)v.special_id[i], nv);
        else
            is_added[v.special_id[i]] = 1;
    }
    if (st == LOOM_OK) {
        json_object_object_foreach(vocab, key, val) {
            int32_t id;
            char sh[64];
            if (!get_int_id(val, &id)) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: vocab entry \"%s\": the id is not an integer in 0..%d", name,
                             show(key, strlen(key), sh, sizeof sh), MAX_TOKEN_ID);
                break;
            }
            if (id < limit && is_added[id]) continue; /* an added token's entry: the special token */
            if (id >= bound) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: vocab id %d but only %lld tokens (ids must be contiguous)",
                             name, (int)id, bound);
                break;
            }
            if (id > max_id) max_id = id;
            total += strlen(key);
        }
    }
    if (st == LOOM_OK) {
        int n_tokens = max_id + 1;
        v.tok = calloc((size_t)(n_tokens ? n_tokens : 1), sizeof *v.tok);
        v.len = calloc((size_t)(n_tokens ? n_tokens : 1), sizeof *v.len);
        v.arena = malloc(total + 1);
        v.n_tokens = v.cap_tokens = n_tokens;
        if (!v.tok || !v.len || !v.arena) st = lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory for the vocab", name);
    }
    if (st == LOOM_OK) {
        json_object_object_foreach(vocab, key, val) {
            int32_t id = json_object_get_int(val);
            if (is_added[id]) continue; /* the added token is the special token */
            char sh[64];
            size_t kl = strlen(key);
            uint32_t bad;
            long bl = spelled_to_bytes(key, kl, v.arena + v.arena_used, &bad);
            if (bl < 0) {
                if (bad == 0xFFFFFFFFu)
                    st = lm_fail(err, LOOM_ERR_FORMAT, "%s: vocab entry \"%s\" is not valid UTF-8", name,
                                 show(key, kl, sh, sizeof sh));
                else
                    st = lm_fail(err, LOOM_ERR_FORMAT,
                                 "%s: vocab entry \"%s\" (id %d) is not byte-level: U+%04X spells no byte (is it an "
                                 "added token missing from added_tokens?)",
                                 name, show(key, kl, sh, sizeof sh), (int)id, (unsigned)bad);
                break;
            }
            if (bl == 0) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: vocab entry with id %d is empty", name, (int)id);
                break;
            }
            if (v.tok[id]) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: vocab id %d is given to two tokens", name, (int)id);
                break;
            }
            v.tok[id] = v.arena + v.arena_used;
            v.len[id] = (size_t)bl;
            v.arena_used += (size_t)bl;
        }
    }
    /* merges */
    size_t nm = st == LOOM_OK ? json_object_array_length(merges) : 0;
    if (st == LOOM_OK && nm > (size_t)MAX_TOKEN_ID) st = lm_fail(err, LOOM_ERR_FORMAT, "%s: too many merges", name);
    if (st == LOOM_OK) {
        v.ml = malloc((nm ? nm : 1) * sizeof *v.ml);
        v.mr = malloc((nm ? nm : 1) * sizeof *v.mr);
        if (!v.ml || !v.mr) st = lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory for %zu merges", name, nm);
    }
    char *cat = NULL;
    size_t cat_cap = 0;
    for (size_t r = 0; r < nm && st == LOOM_OK; r++) {
        json_object *m = json_object_array_get_idx(merges, r);
        const char *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        char sh[64];
        if (json_object_is_type(m, json_type_string)) {
            const char *s = json_object_get_string(m);
            size_t sl = (size_t)json_object_get_string_len(m);
            const char *sp = memchr(s, ' ', sl);
            if (!sp || sp == s || sp + 1 == s + sl || memchr(sp + 1, ' ', (size_t)(s + sl - sp - 1))) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: merge %zu \"%s\" is not two tokens separated by one space", name,
                             r, show(s, sl, sh, sizeof sh));
                break;
            }
            a = s, al = (size_t)(sp - s), b = sp + 1, bl = (size_t)(s + sl - sp - 1);
        } else if (json_object_is_type(m, json_type_array) && json_object_array_length(m) == 2 &&
                   json_object_is_type(json_object_array_get_idx(m, 0), json_type_string) &&
                   json_object_is_type(json_object_array_get_idx(m, 1), json_type_string)) {
            json_object *ma = json_object_array_get_idx(m, 0), *mb = json_object_array_get_idx(m, 1);
            a = json_object_get_string(ma), al = (size_t)json_object_get_string_len(ma);
            b = json_object_get_string(mb), bl = (size_t)json_object_get_string_len(mb);
        } else {
            st = lm_fail(err, LOOM_ERR_FORMAT, "%s: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", name, r);
            break;
        }
        if (al + bl + 1 > cat_cap) {
            cat_cap = 2 * (al + bl + 1);
            char *c2 = realloc(cat, cat_cap);
            if (!c2) {
                st = lm_fail(err, LOOM_ERR_NOMEM, "%s: out of memory", name);
                break;
            }
            cat = c2;
        }
        int32_t ids[3];
        const char *parts[3];
        size_t plen[3];
        memcpy(cat, a, al);
        cat[al] = 0;
        ids[0] = -1;
        json_object *idv;
        /* look up a, b and a+b as vocab keys */
        for (int p = 0; p < 3 && st == LOOM_OK; p++) {
            if (p == 1) {
                memcpy(cat, b, bl);
                cat[bl] = 0;
            } else if (p == 2) {
                memcpy(cat, a, al);
                memcpy(cat + al, b, bl);
                cat[al + bl] = 0;
            }
            parts[p] = p == 0 ? a : p == 1 ? b : cat;
            plen[p] = p == 0 ? al : p == 1 ? bl : al + bl;
            if (strlen(cat) != plen[p] || !json_object_object_get_ex(vocab, cat, &idv)) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: merge %zu: %s \"%s\" is not in the vocab", name, r,
                             p == 2 ? "the merged token" : "token", show(parts[p], plen[p], sh, sizeof sh));
                break;
            }
            ids[p] = json_object_get_int(idv);
            if (is_added[ids[p]]) {
                st = lm_fail(err, LOOM_ERR_FORMAT, "%s: merge %zu uses the added token \"%s\"", name, r,
                             show(parts[p], plen[p], sh, sizeof sh));
                break;
            }
        }
        if (st != LOOM_OK) break;
        v.ml[r] = ids[0];
        v.mr[r] = ids[1];
        v.n_merges = (int)r + 1;
    }
    free(cat);
    free(is_added);
    if (st == LOOM_OK) st = vb_create(&v, LM_BPE_MERGES, name, out, err);
    vb_free(&v);
    return st;
}

loom_status lm_bpe_load_hf_json_mem(const uint8_t *buf, size_t n, const char *name, lm_bpe **out, lm_error *err) {
    if (!out) return lm_fail(err, LOOM_ERR_ARG, "lm_bpe_load_hf_json_mem: out is NULL");
    *out = NULL;
    if (!name) name = "tokenizer.json";
    if (!buf || n == 0) return lm_fail(err, LOOM_ERR_FORMAT, "%s: empty file", name);
    json_object *root;
    loom_status st = parse_json((const char *)buf, n, name, &root, err);
    if (st != LOOM_OK) return st;
    st = hf_from_json(root, name, out, err);
    json_object_put(root);
    return st;
}

loom_status lm_bpe_load_hf_json(const char *path, lm_bpe **out, lm_error *err) {
    if (!out) return lm_fail(err, LOOM_ERR_ARG, "lm_bpe_load_hf_json: out is NULL");
    *out = NULL;
    if (!path) return lm_fail(err, LOOM_ERR_ARG, "no tokenizer.json path given");
    uint8_t *buf = NULL;
    size_t n = 0;
    loom_status st = lm_read_file(path, MAX_FILE_BYTES, &buf, &n, err);
    if (st != LOOM_OK) return st;
    st = lm_bpe_load_hf_json_mem(buf, n, path, out, err);
    free(buf);
    return st;
}

/* ---------------------------------------------------------------- any */

loom_status lm_bpe_load_any(const char *name_or_path, lm_bpe **out, lm_error *err) {
    if (!out) return lm_fail(err, LOOM_ERR_ARG, "lm_bpe_load_any: out is NULL");
    *out = NULL;
    if (!name_or_path || !*name_or_path) return lm_fail(err, LOOM_ERR_ARG, "no tokenizer given");
    if (!is_file(name_or_path)) {
        if (known_by_name(name_or_path, strlen(name_or_path))) return lm_bpe_load_tiktoken(name_or_path, out, err);
        return lm_fail(err, LOOM_ERR_IO,
                       "tokenizer '%s': no such file, and not a tiktoken encoding name (gpt2, r50k_base, p50k_base, "
                       "p50k_edit, cl100k_base, o200k_base)",
                       name_or_path);
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    loom_status st = lm_read_file(name_or_path, MAX_FILE_BYTES, &buf, &n, err);
    if (st != LOOM_OK) return st;
    size_t js = json_start(buf, n);
    if (n >= 4 && memcmp(buf, "LMTK", 4) == 0) {
        st = lm_bpe_load_mem(buf, n, name_or_path, out, err);
    } else if (js < n) {
        json_object *root;
        st = parse_json((const char *)buf + js, n - js, name_or_path, &root, err);
        if (st == LOOM_OK) {
            json_object *x;
            if (json_object_is_type(root, json_type_object) && json_object_object_get_ex(root, "bpe_ranks", &x))
                st = tiktoken_from_json(root, name_or_path, out, err);
            else
                st = hf_from_json(root, name_or_path, out, err);
            json_object_put(root);
        }
    } else if (looks_tiktoken(buf, n)) {
        st = lm_bpe_load_tiktoken_mem(buf, n, name_or_path, out, err);
    } else {
        st = lm_fail(err, LOOM_ERR_FORMAT,
                     "'%s' is not a tokenizer file loom reads (not loom's LMTK, not a tokenizer.json, not a "
                     ".tiktoken rank list of 'BASE64 RANK' lines)", name_or_path);
    }
    free(buf);
    return st;
}
