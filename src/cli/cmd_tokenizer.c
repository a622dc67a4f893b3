/* loom tokenizer train|encode|decode|stats: BPE tokenizers for inspection and scripting. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "data/bpe.h"
#include "data/bpe_import.h"
#include "data/corpus.h"
#include "formats/llama_gguf.h"
#include "util/progress.h"

typedef struct tok_opts {
    const char *data, *out, *tokenizer;
    int vocab_size, pattern, threads, pieces, special, quiet;
} tok_opts;

#define O(f) offsetof(tok_opts, f)
static const lm_opt TRAIN_OPTS[] = {
    {"data", 0, OPT_STR, O(data), 0, 0, 0, 0, NULL, "PATH   text file or folder of text files (required)"},
    {"vocab-size", 0, OPT_INT, O(vocab_size), 0, 260, 1048576, 0, NULL, "N  tokens, 4 special tokens included (260..1048576) [4096]"},
    {"out", 'o', OPT_STR, O(out), 0, 0, 0, 0, NULL, "FILE     where the tokenizer goes (required)"},
    {"pattern", 0, OPT_CHOICE, O(pattern), 0, 0, 0, 0, "gpt4|gpt2", "PAT   pre-split regex: GPT-4's (cl100k) or GPT-2's [gpt4]"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N     threads [all cores]"},
    {"quiet", 'q', OPT_FLAG, O(quiet), 0, 0, 0, 1, NULL, "         no progress lines"},
};
static const lm_opt USE_OPTS[] = {
    {"tokenizer", 'k', OPT_STR, O(tokenizer), 0, 0, 0, 0, NULL, "T   a loom tokenizer file, gpt2, cl100k_base, a tokenizer.json or a MODEL.gguf (required)"},
    {"pieces", 0, OPT_FLAG, O(pieces), 0, 0, 0, 1, NULL, "       encode: show each token's text beside its id"},
    {"special", 0, OPT_FLAG, O(special), 0, 0, 0, 1, NULL, "      encode: recognise special-token text such as <|endoftext|>"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N     threads for encode and stats [1]"},
};
#undef O
#define N(a) (sizeof a / sizeof *a)

static void usage(FILE *f) {
    fprintf(f, "usage: loom tokenizer train --data PATH --vocab-size N --out FILE [flags]\n"
               "       loom tokenizer encode|decode|stats --tokenizer T [INPUT] [flags]\n\n"
               "train learns a byte-level BPE tokenizer (special tokens <|endoftext|>, <|fim_prefix|>,\n"
               "<|fim_middle|>, <|fim_suffix|>). encode reads bytes from INPUT or standard input and\n"
               "writes ids separated by spaces; decode reads such ids and writes the exact bytes; stats\n"
               "prints tokens per byte and the longest pieces.\n\ntrain flags:\n");
    lm_args a = {.opts = TRAIN_OPTS, .n_opts = N(TRAIN_OPTS)};
    lm_args_print(&a, f);
    fprintf(f, "\nencode/decode/stats flags:\n");
    lm_args b = {.opts = USE_OPTS, .n_opts = N(USE_OPTS)};
    lm_args_print(&b, f);
    fprintf(f, "\nexamples:\n  loom tokenizer train --data corpus/ --vocab-size 8192 --out corpus.tok\n"
               "  echo 'Hello world' | loom tokenizer encode --tokenizer cl100k_base --pieces\n"
               "  loom tokenizer encode -k corpus.tok notes.txt | loom tokenizer decode -k corpus.tok\n");
}

static int cmd_train(int argc, char **argv) {
    tok_opts o = {.vocab_size = 4096};
    lm_args a = {.cmd = "tokenizer train", .opts = TRAIN_OPTS, .n_opts = N(TRAIN_OPTS), .base = &o};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.data || !o.out) {
        fprintf(stderr, "loom tokenizer train: %s is required (example: loom tokenizer train --data corpus.txt "
                        "--vocab-size 8192 --out corpus.tok)\n", !o.data ? "--data PATH" : "--out FILE");
        return 2;
    }
    lm_error err = {0};
    lm_corpus c;
    if (lm_corpus_read(&c, o.data, NULL, NULL, &err)) {
        rc = lm_cli_report("tokenizer train", &err);
        return rc;
    }
    static const char *const specials[] = {"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"};
    lm_bpe_train_opts bo = {.vocab_size = o.vocab_size, .pattern = o.pattern ? LM_BPE_PATTERN_GPT2 : LM_BPE_PATTERN_GPT4,
                            .n_special = 4, .special = specials,
                            .threads = o.threads > 0 ? o.threads : lm_default_threads(),
                            .verbose = !o.quiet};
    lm_set_threads(bo.threads);
    lm_bpe *b = NULL;
    double t0 = lm_now();
    rc = 1;
    if (lm_bpe_train(&b, c.text, (size_t)c.n_bytes, &bo, &err) || lm_bpe_save(b, o.out, &err)) {
        rc = lm_cli_report("tokenizer train", &err);
    } else {
        if (!o.quiet)
            fprintf(stderr, "loom: %d tokens learned from %lld bytes in %.1fs, written to %s\n", lm_bpe_vocab_size(b),
                    (long long)c.n_bytes, lm_now() - t0, o.out);
        rc = 0;
    }
    if (b) lm_bpe_free(b);
    lm_corpus_free(&c);
    return rc;
}

/* A tokenizer from a file or name; for a .gguf, the model's own tokenizer. */
static loom_status load_tokenizer(const char *spec, lm_tokenizer *tok, lm_error *err) {
    size_t n = strlen(spec);
    if (n > 5 && !strcmp(spec + n - 5, ".gguf")) return lm_gguf_load_tokenizer(spec, tok, err);
    lm_bpe *b;
    loom_status s = lm_bpe_load_any(spec, &b, err);
    return s ? s : lm_tokenizer_from_bpe(tok, b, err);
}

static void put_piece(FILE *f, const char *p, int n) {
    fputc('\'', f);
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\'' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 32 || c == 127) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('\'', f);
}

static int cmd_use(const char *what, int argc, char **argv) {
    tok_opts o = {.threads = 1};
    char name[32];
    snprintf(name, sizeof name, "tokenizer %s", what);
    lm_args a = {.cmd = name, .opts = USE_OPTS, .n_opts = N(USE_OPTS), .base = &o, .max_positional = 1};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.tokenizer) {
        fprintf(stderr, "loom %s: --tokenizer is required (a file, gpt2, cl100k_base or a model.gguf)\n", name);
        return 2;
    }
    lm_error err = {0};
    lm_tokenizer tok;
    if (load_tokenizer(o.tokenizer, &tok, &err)) {
        rc = lm_cli_report(name, &err);
        return rc;
    }
    char *text = NULL;
    size_t len = 0;
    rc = 1;
    if (a.n_positional || !isatty(STDIN_FILENO)) {
        if (lm_read_prompt(NULL, a.n_positional ? a.positional[0] : NULL, &text, &len, &err)) {
            /* an empty input is fine here: it encodes to nothing */
            if (!strstr(err.msg, "empty")) goto fail;
            len = 0;
        }
    } else {
        lm_fail(&err, LOOM_ERR_ARG, "no input: give a file or pipe data into standard input");
        goto fail;
    }
    if (!strcmp(what, "decode")) {
        /* the whole input, NUL bytes included: ids separated by white space, nothing else; checked
         * in a first pass, so that bad input prints nothing */
        for (int pass = 0; pass < 2; pass++) {
            const char *p = text ? text : "", *lim = p + len;
            while (p < lim) {
                if (isspace((unsigned char)*p)) {
                    p++;
                    continue;
                }
                const char *q = p;
                long v = 0;
                while (q < lim && isdigit((unsigned char)*q) && v < tok.n_vocab) v = v * 10 + (*q++ - '0');
                if (q == p || v >= tok.n_vocab || (q < lim && !isspace((unsigned char)*q))) {
                    int w = 0;
                    while (p + w < lim && !isspace((unsigned char)p[w]) && w < 20) w++;
                    char shown[96];
                    size_t k = 0;
                    for (int i = 0; i < w; i++) /* the bad word as it is, bytes that do not print as \xNN */
                        k += (size_t)snprintf(shown + k, sizeof shown - k, isprint((unsigned char)p[i]) ? "%c" : "\\x%02x",
                                              (unsigned char)p[i]);
                    lm_fail(&err, LOOM_ERR_DATA, "'%s' at byte %td is not a token id of this tokenizer (0..%d; give ids "
                            "separated by spaces)", shown, p - text, tok.n_vocab - 1);
                    goto fail;
                }
                if (pass) fwrite(tok.piece[v], 1, (size_t)tok.piece_len[v], stdout);
                p = q;
            }
        }
        rc = 0;
        goto done;
    }
    if (tok.kind != LM_TOK_BPE && tok.kind != LM_TOK_BYTE) {
        lm_fail(&err, LOOM_ERR_FORMAT, "this vocabulary cannot encode text");
        goto fail;
    }
    int32_t *ids = NULL;
    size_t cap = 0;
    int64_t n;
    double t0 = lm_now();
    if (tok.kind == LM_TOK_BPE) {
        n = o.threads > 1 ? lm_bpe_encode_parallel(tok.bpe, (const uint8_t *)text, len, o.special, &ids, &cap, o.threads)
                          : lm_bpe_encode(tok.bpe, (const uint8_t *)text, len, o.special, &ids, &cap);
    } else {
        ids = malloc((len ? len : 1) * sizeof(int32_t));
        n = ids ? (int64_t)lm_tokenizer_encode(&tok, (const uint8_t *)text, len, ids) : -1;
    }
    double secs = lm_now() - t0;
    if (n < 0) {
        lm_fail(&err, LOOM_ERR_NOMEM, "out of memory encoding %zu bytes", len);
        free(ids);
        goto fail;
    }
    if (!strcmp(what, "encode")) {
        for (int64_t i = 0; i < n; i++) {
            if (o.pieces) {
                printf("%d ", ids[i]);
                put_piece(stdout, tok.piece[ids[i]], tok.piece_len[ids[i]]);
                printf("\n");
            } else {
                printf(i ? " %d" : "%d", ids[i]);
            }
        }
        if (!o.pieces && n) printf("\n");
    } else { /* stats */
        printf("tokenizer:        %s (%d tokens)\n", o.tokenizer, tok.n_vocab);
        printf("input:            %zu bytes -> %lld tokens\n", len, (long long)n);
        printf("tokens per byte:  %.4f (%.2f bytes per token)\n", len ? (double)n / (double)len : 0.0,
               n ? (double)len / (double)n : 0.0);
        printf("encode speed:     %.1f MB/s (%d thread%s)\n", secs > 0 ? (double)len / secs / 1e6 : 0.0, o.threads,
               o.threads > 1 ? "s" : "");
        /* the ten longest pieces of the vocabulary */
        int best[10], nb = 0;
        for (int i = 0; i < tok.n_vocab; i++) {
            if (tok.type[i] != LM_TOKTYPE_NORMAL) continue;
            if (nb == 10 && tok.piece_len[i] <= tok.piece_len[best[9]]) continue; /* not among the ten */
            int k = nb < 10 ? nb++ : 9;
            best[k] = i;
            while (k > 0 && tok.piece_len[best[k]] > tok.piece_len[best[k - 1]]) {
                int t = best[k];
                best[k] = best[k - 1];
                best[k - 1] = t;
                k--;
            }
        }
        printf("longest pieces:\n");
        for (int i = 0; i < nb; i++) {
            printf("  %6d  %3d bytes  ", best[i], tok.piece_len[best[i]]);
            put_piece(stdout, tok.piece[best[i]], tok.piece_len[best[i]]);
            printf("\n");
        }
    }
    free(ids);
    rc = 0;
    goto done;
fail:
    rc = lm_cli_report(name, &err);
done:
    free(text);
    lm_tokenizer_free(&tok);
    lm_args_free(&a);
    return rc;
}

int lm_cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "encode") || !strcmp(argv[1], "decode") || !strcmp(argv[1], "stats"))
        return cmd_use(argv[1], argc - 1, argv + 1);
    fprintf(stderr, "loom tokenizer: unknown subcommand '%s' (train, encode, decode or stats)\n", argv[1]);
    return 2;
}
