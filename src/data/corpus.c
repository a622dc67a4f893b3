#include "data/corpus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/fim.h"
#include "util/io.h"

/* Text, in any encoding we care about, has no NUL bytes and few C0 controls besides
 * tab/newline/CR/form feed/escape/backspace (overstriking in old text files). Only the
 * head of the file is sampled: enough to tell a text file from an executable or image. */
int lm_looks_binary(const uint8_t *s, size_t n) {
    size_t m = n < 8192 ? n : 8192, ctrl = 0;
    for (size_t i = 0; i < m; i++) {
        uint8_t c = s[i];
        if (c == 0) return 1;
        if (c < 32 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 27 && c != 8 && c != 11) ctrl++;
    }
    return m && ctrl * 10 > m; /* more than 10% stray control bytes */
}

typedef struct walk {
    char **files;
    size_t n, cap;
    dev_t *dev;
    ino_t *ino; /* seen files, so that links to the same file count once */
} walk;

static int seen(walk *w, const struct stat *st) {
    for (size_t i = 0; i < w->n; i++)
        if (w->dev[i] == st->st_dev && w->ino[i] == st->st_ino) return 1;
    return 0;
}

static int push(walk *w, const char *path, const struct stat *st) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        char **f = realloc(w->files, cap * sizeof *f);
        dev_t *d = f ? realloc(w->dev, cap * sizeof *d) : NULL;
        ino_t *i = d ? realloc(w->ino, cap * sizeof *i) : NULL;
        if (f) w->files = f;
        if (d) w->dev = d;
        if (!i) return -1;
        w->ino = i;
        w->cap = cap;
    }
    w->files[w->n] = strdup(path);
    if (!w->files[w->n]) return -1;
    w->dev[w->n] = st->st_dev;
    w->ino[w->n] = st->st_ino;
    w->n++;
    return 0;
}

static loom_status walk_dir(walk *w, const char *dir, int depth, lm_error *err) {
    if (depth > 64) return LOOM_OK;
    char **names;
    size_t n;
    loom_status s = lm_list_dir(dir, &names, &n, err);
    if (s) return s;
    for (size_t i = 0; i < n && !s; i++) {
        if (names[i][0] == '.') continue; /* hidden files such as .git */
        char *p = lm_path_join(dir, names[i]);
        struct stat st;
        if (p && stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                s = walk_dir(w, p, depth + 1, err);
            else if (S_ISREG(st.st_mode) && !seen(w, &st) && push(w, p, &st))
                s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory listing '%s'", dir);
        }
        free(p);
    }
    lm_list_free(names, n);
    return s;
}

static void free_walk(walk *w) {
    for (size_t i = 0; i < w->n; i++) free(w->files[i]);
    free(w->files);
    free(w->dev);
    free(w->ino);
}

loom_status lm_corpus_read(lm_corpus *c, const char *path, lm_warn_fn warn, void *ud, lm_error *err) {
    memset(c, 0, sizeof *c);
    struct stat st;
    if (stat(path, &st) != 0)
        return lm_fail(err, LOOM_ERR_DATA, "training data '%s' not found: %s (give a text file or a folder with --data)",
                       path, strerror(errno));
    int is_dir = S_ISDIR(st.st_mode);
    walk w = {0};
    loom_status s = LOOM_OK;
    if (is_dir) {
        s = walk_dir(&w, path, 0, err);
    } else if (push(&w, path, &st)) {
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    if (s) {
        free_walk(&w);
        return s;
    }
    if (is_dir && w.n == 0) {
        free_walk(&w);
        return lm_fail(err, LOOM_ERR_DATA, "folder '%s' has no files (put text files in it)", path);
    }

    size_t cap = 0, dcap = 0;
    char skipped[400] = "";
    size_t skipped_len = 0;
    for (size_t i = 0; i < w.n && !s; i++) {
        uint8_t *buf;
        size_t len;
        s = lm_read_file(w.files[i], 0, &buf, &len, err);
        if (s) break;
        if (len == 0) {
            free(buf);
            continue;
        }
        if (lm_looks_binary(buf, len)) {
            free(buf);
            if (!is_dir) {
                s = lm_fail(err, LOOM_ERR_DATA,
                            "'%s' looks like binary data, not text (give a text file or a folder of text files)", path);
                break;
            }
            c->n_skipped++;
            if (skipped_len < 300)
                skipped_len += (size_t)snprintf(skipped + skipped_len, sizeof skipped - skipped_len, "%s%s",
                                                c->n_skipped > 1 ? ", " : "", w.files[i]);
            continue;
        }
        /* keep the raw text: a tokenizer may first have to be trained on it */
        if ((size_t)c->n_bytes + len > cap) {
            size_t ncap = cap ? cap : 1 << 20;
            while (ncap < (size_t)c->n_bytes + len) ncap *= 2;
            uint8_t *nt = realloc(c->text, ncap);
            if (!nt) {
                free(buf);
                s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory loading the corpus (%zu bytes)", ncap);
                break;
            }
            c->text = nt;
            cap = ncap;
        }
        if ((size_t)c->n_docs + 2 > dcap) {
            dcap = dcap ? dcap * 2 : 64;
            int64_t *nd = realloc(c->doc_start, dcap * sizeof(int64_t));
            if (!nd) {
                free(buf);
                s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
                break;
            }
            c->doc_start = nd;
        }
        memcpy(c->text + c->n_bytes, buf, len);
        c->doc_start[c->n_docs++] = c->n_bytes;
        c->n_bytes += (int64_t)len;
        c->doc_start[c->n_docs] = c->n_bytes;
        free(buf);
    }
    char msg[600] = "";
    if (!s && c->n_skipped)
        snprintf(msg, sizeof msg, "skipped %d binary file%s: %s%s", c->n_skipped, c->n_skipped > 1 ? "s" : "", skipped,
                 skipped_len >= 300 ? ", ..." : "");
    /* with nothing left to train on, the skipped files go into the one error line instead */
    if (!s && c->n_skipped && c->n_bytes > 0 && warn) warn(ud, msg);
    free_walk(&w);
    if (!s && c->n_bytes == 0)
        s = is_dir ? lm_fail(err, LOOM_ERR_DATA, "folder '%s' has no text files to train on (%s; add .txt or other text files)",
                             path, c->n_skipped ? msg : "only empty files")
                   : lm_fail(err, LOOM_ERR_DATA, "training data '%s' is empty (give a file with text in it)", path);
    if (s) lm_corpus_free(c);
    return s;
}

loom_status lm_corpus_tokenize(lm_corpus *c, const lm_tokenizer *tok, lm_error *err) {
    free(c->tokens);
    c->tokens = NULL;
    c->n_tokens = 0;
    size_t cap = (size_t)c->n_docs;
    for (int d = 0; d < c->n_docs; d++)
        cap += lm_tokenizer_max_tokens(tok, (size_t)(c->doc_start[d + 1] - c->doc_start[d]));
    c->tokens = malloc((cap ? cap : 1) * sizeof(int32_t));
    if (!c->tokens) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory tokenizing the corpus (%zu tokens)", cap);
    for (int d = 0; d < c->n_docs; d++) {
        if (d > 0 && tok->eot >= 0) c->tokens[c->n_tokens++] = tok->eot; /* document boundary */
        c->n_tokens += (int64_t)lm_tokenizer_encode(tok, c->text + c->doc_start[d],
                                                    (size_t)(c->doc_start[d + 1] - c->doc_start[d]),
                                                    c->tokens + c->n_tokens);
    }
    return LOOM_OK;
}

loom_status lm_corpus_tokenize_fim(lm_corpus *c, const lm_tokenizer *tok, const lm_corpus_fim *fim, int64_t *n_train,
                                   int *n_fim, lm_error *err) {
    lm_fim_ids ids;
    loom_status s = lm_fim_find_ids(tok, &ids, err);
    if (s) return s;
    free(c->tokens);
    c->tokens = NULL;
    c->n_tokens = 0;
    size_t cap = (size_t)c->n_docs, maxhead = 0;
    for (int d = 0; d < c->n_docs; d++) {
        size_t len = (size_t)(c->doc_start[d + 1] - c->doc_start[d]), keep = c->doc_head ? (size_t)c->doc_head[d] : 0;
        cap += lm_fim_max_tokens(tok, len);
        if (fim->piece_bytes) /* each piece repeats the head and adds an <|endoftext|> */
            cap += (len / fim->piece_bytes + 2) * (lm_fim_max_tokens(tok, keep) + 2);
        if (keep > maxhead) maxhead = keep;
    }
    c->tokens = malloc((cap ? cap : 1) * sizeof(int32_t));
    uint8_t *piece = fim->piece_bytes ? malloc(maxhead + 2 * fim->piece_bytes + 8) : NULL;
    if (!c->tokens || (fim->piece_bytes && !piece)) {
        free(piece);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory tokenizing the corpus (%zu tokens)", cap);
    }
    int64_t split = -1;
    int rearranged = 0;
    for (int d = 0; d < c->n_docs; d++) {
        int64_t a = c->doc_start[d], b = c->doc_start[d + 1];
        if (d > 0 && tok->eot >= 0) c->tokens[c->n_tokens++] = tok->eot; /* ends the middle, as <EOT> in the paper */
        int32_t *out = c->tokens + c->n_tokens;
        if (b <= fim->train_bytes) {
            lm_rng r;
            lm_fim_doc_rng(&r, fim->seed, d);
            size_t keep = c->doc_head ? (size_t)c->doc_head[d] : 0;
            lm_fim_split sp;
            size_t body = (size_t)(b - a) - keep;
            if (!fim->piece_bytes || body <= fim->piece_bytes) {
                lm_fim_draw(c->text + a + keep, body, fim->rate, fim->spm_rate, &r, &sp);
                rearranged += sp.mode != LM_FIM_NONE;
                c->n_tokens += (int64_t)lm_fim_layout(tok, &ids, c->text + a, (size_t)(b - a), keep, &sp, out);
                continue;
            }
            /* pieces of the body, each cut after the last line end within piece_bytes (or, in a
             * line longer than that, before a UTF-8 lead byte), each behind the head again */
            const uint8_t *p = c->text + a + keep, *end = c->text + b;
            memcpy(piece, c->text + a, keep);
            int first = 1;
            while (p < end) {
                size_t n = (size_t)(end - p) <= fim->piece_bytes ? (size_t)(end - p) : fim->piece_bytes;
                if (p + n < end) {
                    size_t q = n;
                    while (q > 0 && p[q - 1] != '\n') q--;
                    if (q == 0) {
                        q = n;
                        while (q > 1 && (p[q] & 0xC0) == 0x80) q--;
                    }
                    n = q;
                }
                if (!first && tok->eot >= 0) c->tokens[c->n_tokens++] = tok->eot;
                first = 0;
                memcpy(piece + keep, p, n);
                lm_fim_draw(piece + keep, n, fim->rate, fim->spm_rate, &r, &sp);
                rearranged += sp.mode != LM_FIM_NONE;
                c->n_tokens += (int64_t)lm_fim_layout(tok, &ids, piece, keep + n, keep, &sp, c->tokens + c->n_tokens);
                p += n;
            }
            continue;
        }
        size_t k = lm_tokenizer_encode(tok, c->text + a, (size_t)(b - a), out);
        if (split < 0) {
            /* left to right, the pieces spell the document's bytes in order: the first token
             * that starts at or after train_bytes is the first held-out one */
            int64_t pos = a;
            size_t i = 0;
            while (i < k && pos < fim->train_bytes) pos += tok->piece_len[out[i++]];
            split = c->n_tokens + (int64_t)i;
        }
        c->n_tokens += (int64_t)k;
    }
    free(piece);
    *n_train = split < 0 ? c->n_tokens : split;
    if (n_fim) *n_fim = rearranged;
    return LOOM_OK;
}

loom_status lm_corpus_load(lm_corpus *c, const char *path, const lm_tokenizer *tok, lm_warn_fn warn, void *ud,
                           lm_error *err) {
    loom_status s = lm_corpus_read(c, path, warn, ud, err);
    if (!s) s = lm_corpus_tokenize(c, tok, err);
    if (s) lm_corpus_free(c);
    return s;
}

void lm_corpus_free(lm_corpus *c) {
    free(c->tokens);
    free(c->text);
    free(c->doc_start);
    free(c->doc_head);
    memset(c, 0, sizeof *c);
}
