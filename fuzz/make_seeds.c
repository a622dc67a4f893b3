/* Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/): small valid inputs of every
 * form each reader accepts. Run by fuzz/run.sh --seeds (then commit the files).
 *   make_seeds OUT_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/bpe.h"
#include "data/bpe_import.h"

static const char *out_dir;

static void put(const char *target, const char *name, const void *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static size_t put_cp(char *o, unsigned c) {
    if (c < 0x80) return o[0] = (char)c, 1;
    return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2; /* spellings are below U+0800 */
}

/* JSON string body of the byte-level spelling of s */
static void spell_json(char *o, const char *s) {
    size_t k = 0;
    for (; *s; s++) {
        unsigned c = (unsigned)lm_bpe_byte_to_cp((unsigned char)*s);
        if (c == '"' || c == '\\') o[k++] = '\\';
        k += put_cp(o + k, c);
    }
    o[k] = 0;
}

static const char *const MERGES[][2] = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}, {"o", "r"},
                                        {" w", "or"}, {" wor", "l"}, {" worl", "d"}, {"1", "2"}, {"12", "3"}};
#define NM ((int)(sizeof MERGES / sizeof MERGES[0]))

static char *hf_json(int pairs, int split) {
    size_t cap = 1 << 16, k = 0;
    char *o = malloc(cap);
    char a[64], b[64], ab[128];
    k += (size_t)snprintf(o + k, cap - k, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":%d,\"content\":\"<|endoftext|>\","
                          "\"special\":true}],\"normalizer\":null,\"pre_tokenizer\":", 256 + NM);
    if (split)
        k += (size_t)snprintf(o + k, cap - k, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                              "{\"Regex\":\"\\\\p{N}{1,3}| ?\\\\p{L}+|\\\\s+(?!\\\\S)|\\\\s+|[^\\\\s\\\\p{L}\\\\p{N}]+\"},"
                              "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                              "\"use_regex\":false}]}");
    else
        k += (size_t)snprintf(o + k, cap - k, "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                              "\"use_regex\":true}");
    k += (size_t)snprintf(o + k, cap - k, ",\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"dropout\":null,"
                          "\"byte_fallback\":false,\"vocab\":{");
    for (int i = 0; i < 256; i++) {
        char s[2] = {(char)i, 0};
        if (i == 0) { /* NUL: spell by hand (strings here are NUL-terminated) */
            k += (size_t)snprintf(o + k, cap - k, "\"\xc4\x80\":0");
            continue;
        }
        spell_json(a, s);
        k += (size_t)snprintf(o + k, cap - k, ",\"%s\":%d", a, i);
    }
    for (int r = 0; r < NM; r++) {
        snprintf(ab, sizeof ab, "%s%s", MERGES[r][0], MERGES[r][1]);
        spell_json(a, ab);
        k += (size_t)snprintf(o + k, cap - k, ",\"%s\":%d", a, 256 + r);
    }
    k += (size_t)snprintf(o + k, cap - k, ",\"<|endoftext|>\":%d},\"merges\":[", 256 + NM);
    for (int r = 0; r < NM; r++) {
        spell_json(a, MERGES[r][0]);
        spell_json(b, MERGES[r][1]);
        if (pairs) k += (size_t)snprintf(o + k, cap - k, "%s[\"%s\",\"%s\"]", r ? "," : "", a, b);
        else k += (size_t)snprintf(o + k, cap - k, "%s\"%s %s\"", r ? "," : "", a, b);
    }
    snprintf(o + k, cap - k, "]}}\n");
    return o;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static size_t b64(char *o, const char *s, size_t n) {
    size_t k = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8 | (unsigned char)s[i + 2];
        o[k++] = B64[v >> 18], o[k++] = B64[(v >> 12) & 63], o[k++] = B64[(v >> 6) & 63], o[k++] = B64[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned char)s[i] << 16 | (i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0);
        o[k++] = B64[v >> 18], o[k++] = B64[(v >> 12) & 63];
        o[k++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        o[k++] = '=';
    }
    o[k] = 0;
    return k;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0777);
    lm_error e = {0};
    /* hf_json */
    for (int v = 0; v < 3; v++) {
        char *j = hf_json(v == 1, v == 2);
        static const char *const names[] = {"bytelevel_strings.json", "bytelevel_pairs.json", "split_pairs.json"};
        put("hf_json", names[v], j, strlen(j));
        lm_bpe *b = NULL;
        if (lm_bpe_load_hf_json_mem((const uint8_t *)j, strlen(j), names[v], &b, &e) != LOOM_OK) {
            fprintf(stderr, "make_seeds: own seed %s does not load: %s\n", names[v], e.msg);
            return 1;
        }
        /* bpe_load: the same tokenizer in loom's format */
        if (v != 1) {
            char path[1024];
            snprintf(path, sizeof path, "%s/tmp.lmtk", out_dir);
            if (lm_bpe_save(b, path, &e) != LOOM_OK) {
                fprintf(stderr, "make_seeds: %s\n", e.msg);
                return 1;
            }
            char to[1024];
            snprintf(to, sizeof to, "%s/bpe_load", out_dir);
            mkdir(to, 0777);
            snprintf(to, sizeof to, "%s/bpe_load/merges_%d.lmtk", out_dir, v);
            rename(path, to);
        }
        lm_bpe_free(b);
        free(j);
    }
    /* tiktoken: first byte picks the name (see fuzz_tiktoken.c): 1 = a plain table with two
     * specials at 259, 260; 0 = compact JSON */
    size_t cap = 1 << 16, k = 0;
    char *t = malloc(cap), *js = malloc(cap);
    char tok[16];
    t[k++] = 1;
    for (int i = 0; i < 256; i++) {
        char c = (char)i;
        b64(tok, &c, 1);
        k += (size_t)snprintf(t + k, cap - k, "%s %d\n", tok, i);
    }
    k += (size_t)snprintf(t + k, cap - k, "aGU= 256\nbGw= 257\naGVsbA== 258\n");
    put("tiktoken", "plain.tiktoken", t, k);
    lm_bpe *b = NULL;
    static const char *const sp[] = {"<|endoftext|>", "<|x|>"};
    static const int32_t sp_id[] = {259, 260};
    if (lm_bpe_from_tiktoken_ranks((const uint8_t *)t + 1, k - 1, "plain", NULL, 2, sp, sp_id, &b, &e) != LOOM_OK) {
        fprintf(stderr, "make_seeds: own plain seed does not load: %s\n", e.msg);
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/bpe_load/ranks.lmtk", out_dir);
    if (lm_bpe_save(b, path, &e) != LOOM_OK) {
        fprintf(stderr, "make_seeds: %s\n", e.msg);
        return 1;
    }
    lm_bpe_free(b);
    k = 0;
    js[k++] = 0;
    k += (size_t)snprintf(js + k, cap - k,
                          "{\"explicit_n_vocab\":261,\"pat_str\":\"(?i:'s|'t)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|"
                          "\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\","
                          "\"special_tokens\":{\"<|endoftext|>\":257,\"<|fim_prefix|>\":260},\"bpe_ranks\":\"! 0");
    for (int i = 0; i < 256; i++) {
        char c = (char)i;
        b64(tok, &c, 1);
        k += (size_t)snprintf(js + k, cap - k, " %s", tok);
    }
    k += (size_t)snprintf(js + k, cap - k, " aGU=\\n! 258 bGw= aGVsbA==\"}\n");
    put("tiktoken", "compact.json", js, k);
    b = NULL;
    if (lm_bpe_load_tiktoken_mem((const uint8_t *)js + 1, k - 1, "compact.json", &b, &e) != LOOM_OK) {
        fprintf(stderr, "make_seeds: own compact seed does not load: %s\n", e.msg);
        return 1;
    }
    lm_bpe_free(b);
    free(t);
    free(js);
    printf("make_seeds: wrote %s/{hf_json,bpe_load,tiktoken}\n", out_dir);
    return 0;
}
