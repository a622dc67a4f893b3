/* loom eval-code's four figures (see evalcode.h). */
#include "generate/evalcode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/code_corpus.h"
#include "generate/infer.h"
#include "generate/repair.h"
#include "generate/sampler.h"
#include "util/progress.h"
#include "util/rng.h"
#include "util/str.h"

void lm_evalcode_defaults(lm_evalcode_opts *o) {
    *o = (lm_evalcode_opts){.max_functions = 50, .max_lines = 50, .max_fix = 20, .body_tokens = 128, .body_candidates = 1,
                            .temperature = 0.6f, .repeat_penalty = LM_CODE_REPEAT_PENALTY,
                            .line_tokens = 48, .fix_samples = 4, .fix_tokens = 64, .seed = 1234};
}

/* ---- loading ---- */

void lm_evalcode_set_free(lm_evalcode_set *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->f[i].path);
        free(s->f[i].header);
        free(s->f[i].text);
    }
    free(s->f);
    memset(s, 0, sizeof *s);
}

loom_status lm_evalcode_load(const char *dir, int max_files, lm_evalcode_set *s, lm_error *err) {
    memset(s, 0, sizeof *s);
    lm_corpus c = {0};
    lm_code_opts co = {.extensions = "py,c,h"};
    lm_code_stats st;
    if (lm_code_corpus_read(&c, dir, &co, &st, err)) {
        lm_corpus_free(&c);
        if (strstr(err->msg, "has no source files"))
            return lm_fail(err, LOOM_ERR_DATA, "no Python or C files (.py, .c, .h) under '%s' (give held-out source files with --data)", dir);
        return err->code ? err->code : LOOM_ERR_IO;
    }
    int n = c.n_docs;
    if (max_files > 0 && n > max_files) n = max_files;
    s->f = calloc((size_t)(n ? n : 1), sizeof *s->f);
    if (!s->f) goto oom;
    size_t dlen = strlen(dir);
    for (int i = 0; i < n; i++) {
        const char *doc = (const char *)c.text + c.doc_start[i];
        size_t dn = (size_t)(c.doc_start[i + 1] - c.doc_start[i]);
        size_t hn = c.doc_head ? (size_t)c.doc_head[i] : 0;
        if (hn > dn) hn = dn;
        lm_evalcode_file *f = &s->f[s->n];
        f->header = lm_strndup(doc, hn);
        f->text = lm_strndup(doc + hn, dn - hn);
        if (!f->header || !f->text) {
            free(f->header);
            free(f->text);
            goto oom;
        }
        f->len = dn - hn;
        /* the relative path from the header line, less its newline */
        size_t pl = strlen(LM_CODE_HEADER_PREFIX);
        const char *rel = hn > pl ? doc + pl : "";
        size_t rn = hn > pl ? hn - pl : 0;
        while (rn && (rel[rn - 1] == '\n' || rel[rn - 1] == '\r')) rn--;
        f->path = malloc(dlen + rn + 2);
        if (!f->path) {
            free(f->header);
            free(f->text);
            goto oom;
        }
        /* a single file given as dir: its path is dir itself */
        if (c.n_docs == 1 && rn && dlen >= rn && !strncmp(dir + dlen - rn, rel, rn))
            snprintf(f->path, dlen + rn + 2, "%s", dir);
        else
            snprintf(f->path, dlen + rn + 2, "%s/%.*s", dir, (int)rn, rel);
        char relz[1024];
        snprintf(relz, sizeof relz, "%.*s", (int)rn, rel);
        f->lang = lm_lang_from_path(relz);
        if (f->lang != LM_LANG_PYTHON && f->lang != LM_LANG_C) {
            free(f->path);
            free(f->header);
            free(f->text);
            continue;
        }
        if (f->lang == LM_LANG_PYTHON) s->n_python++;
        else s->n_c++;
        s->n++;
    }
    lm_corpus_free(&c);
    if (!s->n) {
        lm_evalcode_set_free(s);
        return lm_fail(err, LOOM_ERR_ARG, "no Python or C files (.py, .c, .h) under '%s'", dir);
    }
    return LOOM_OK;
oom:
    lm_corpus_free(&c);
    lm_evalcode_set_free(s);
    return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
}

loom_status lm_evalcode_check_parsers(const lm_evalcode_set *s, lm_error *err) {
    lm_parse_result pr;
    if (s->n_python && lm_parse_text(LM_LANG_PYTHON, "x = 1\n", 6, NULL, &pr, err)) return err->code;
    if (s->n_c && lm_parse_text(LM_LANG_C, "int x;\n", 7, NULL, &pr, err)) return err->code;
    return LOOM_OK;
}

/* ---- helpers ---- */

/* The folder of a path, for "quoted" includes (out receives "." when it has none). */
static void dir_of(const char *path, char *out, size_t cap) {
    const char *sl = strrchr(path, '/');
    if (!sl) snprintf(out, cap, ".");
    else if (sl == path) snprintf(out, cap, "/");
    else snprintf(out, cap, "%.*s", (int)(sl - path), path);
}

static size_t line_end(const char *t, size_t n, size_t i) { /* index of the '\n' ending i's line, or n */
    while (i < n && t[i] != '\n') i++;
    return i;
}

static int blank_line(const char *t, size_t a, size_t b) {
    for (size_t i = a; i < b; i++)
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r' && t[i] != '\f') return 0;
    return 1;
}

static int indent_of(const char *t, size_t a, size_t b) {
    int ind = 0;
    for (size_t i = a; i < b; i++) {
        if (t[i] == ' ') ind++;
        else if (t[i] == '\t') ind = (ind / 8 + 1) * 8;
        else break;
    }
    return ind;
}

static size_t rstrip_len(const char *s, size_t n) {
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
    return n;
}

static void shuffle(size_t *v, size_t n, lm_rng *r) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(lm_rng_u64(r) % i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* ---- (a) Python functions ---- */

typedef struct py_fn {
    int file;
    size_t prompt_end; /* the prompt is text[0..prompt_end) (ends at a line start) */
    size_t body_end;   /* the real body is text[prompt_end..body_end) */
} py_fn;

/* Skips a string starting at t[i] (a quote); returns the index after it. */
static size_t skip_string(const char *t, size_t n, size_t i) {
    char q = t[i];
    int triple = i + 2 < n && t[i + 1] == q && t[i + 2] == q;
    i += triple ? 3 : 1;
    while (i < n) {
        if (t[i] == '\\') {
            i += 2;
            continue;
        }
        if (!triple && t[i] == '\n') return i;
        if (t[i] == q) {
            if (!triple) return i + 1;
            if (i + 2 < n && t[i + 1] == q && t[i + 2] == q) return i + 3;
        }
        i++;
    }
    return n;
}

/* Finds the functions of a Python file: appends to *v. A function qualifies when its signature
 * ends a line with ':' (no body on the same line) and some body follows the prompt. */
static int find_functions(const lm_evalcode_file *f, int fi, py_fn **v, size_t *nv, size_t *cap) {
    const char *t = f->text;
    size_t n = f->len;
    /* which bytes are inside strings (a line starting inside one is no statement) */
    unsigned char *in_str = calloc(n + 1, 1);
    if (!in_str) return -1;
    for (size_t i = 0; i < n;) {
        if (t[i] == '#') {
            i = line_end(t, n, i);
        } else if (t[i] == '"' || t[i] == '\'') {
            size_t j = skip_string(t, n, i);
            for (size_t x = i + 1; x < j && x < n; x++) in_str[x] = 1;
            i = j > i ? j : i + 1;
        } else {
            i++;
        }
    }
    for (size_t ls = 0; ls < n; ls = line_end(t, n, ls) + 1) {
        if (in_str[ls]) continue;
        size_t le = line_end(t, n, ls);
        int ind = indent_of(t, ls, le);
        size_t p = ls;
        while (p < le && (t[p] == ' ' || t[p] == '\t')) p++;
        if (le - p >= 6 && !strncmp(t + p, "async ", 6)) {
            p += 6;
            while (p < le && t[p] == ' ') p++;
        }
        if (le - p < 4 || strncmp(t + p, "def ", 4)) continue;
        /* the signature: to the ':' at bracket depth 0, then the end of its line */
        int depth = 0;
        size_t i = p + 4, colon = 0;
        while (i < n) {
            char ch = t[i];
            if (ch == '"' || ch == '\'') {
                i = skip_string(t, n, i);
                continue;
            }
            if (ch == '#') {
                i = line_end(t, n, i);
                continue;
            }
            if (ch == '(' || ch == '[' || ch == '{') depth++;
            else if (ch == ')' || ch == ']' || ch == '}') depth--;
            else if (ch == ':' && depth <= 0) {
                colon = i;
                break;
            } else if (ch == '\n' && depth <= 0 && (i == 0 || t[i - 1] != '\\')) break;
            i++;
        }
        if (!colon) continue;
        size_t se = line_end(t, n, colon);
        /* a body on the signature's line: not a candidate */
        size_t q = colon + 1;
        while (q < se && (t[q] == ' ' || t[q] == '\t' || t[q] == '\r')) q++;
        if (q < se && t[q] != '#') continue;
        if (se >= n) continue;
        size_t prompt_end = se + 1;
        /* a docstring: the first non-blank line of the body, starting with a string */
        size_t bl = prompt_end;
        while (bl < n && blank_line(t, bl, line_end(t, n, bl))) bl = line_end(t, n, bl) + 1;
        if (bl >= n) continue;
        size_t ble = line_end(t, n, bl);
        if (indent_of(t, bl, ble) <= ind) continue;
        size_t d = bl;
        while (d < ble && (t[d] == ' ' || t[d] == '\t')) d++;
        size_t d0 = d;
        while (d < ble && d < d0 + 2 && t[d] && strchr("rRuUbB", t[d])) d++;
        if (d < ble && (t[d] == '"' || t[d] == '\'')) {
            size_t e = skip_string(t, n, d);
            size_t ee = line_end(t, n, e > 0 ? e - 1 : e);
            /* only a docstring alone on its line(s) */
            if (blank_line(t, e, ee) && ee < n) prompt_end = ee + 1;
        }
        /* the body: to the last non-blank line indented deeper than the def */
        size_t body_end = prompt_end, k = prompt_end;
        while (k < n) {
            size_t ke = line_end(t, n, k);
            if (!blank_line(t, k, ke)) {
                /* a line that starts inside a string continues the body; comments at or
                   below the def's indentation do not end it either */
                size_t fc = k;
                while (fc < ke && (t[fc] == ' ' || t[fc] == '\t')) fc++;
                if (!in_str[k] && t[fc] != '#' && indent_of(t, k, ke) <= ind) break;
                if (t[fc] != '#' || in_str[k]) body_end = ke < n ? ke + 1 : n;
            }
            k = ke + 1;
        }
        if (body_end <= prompt_end) continue;
        if (*nv == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            py_fn *nvp = realloc(*v, nc * sizeof **v);
            if (!nvp) {
                free(in_str);
                return -1;
            }
            *v = nvp;
            *cap = nc;
        }
        (*v)[(*nv)++] = (py_fn){fi, prompt_end, body_end};
    }
    free(in_str);
    return 0;
}

/* ---- the run ---- */

typedef struct ctx {
    lm_complete_model cm;
    lm_infer inf;
    const lm_tokenizer *tok;
    const lm_evalcode_opts *o;
    lm_evalcode_result *r;
    void (*progress)(const char *);
} ctx;

static void note(ctx *c, const char *fmt, int a, int b) {
    if (!c->progress) return;
    char msg[160];
    snprintf(msg, sizeof msg, fmt, a, b);
    c->progress(msg);
}

static loom_status run_functions(ctx *c, const lm_evalcode_set *s, lm_error *err) {
    py_fn *v = NULL;
    size_t nv = 0, cap = 0;
    for (int i = 0; i < s->n; i++)
        if (s->f[i].lang == LM_LANG_PYTHON && find_functions(&s->f[i], i, &v, &nv, &cap)) {
            free(v);
            return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        }
    size_t *order = malloc((nv ? nv : 1) * sizeof *order);
    if (!order) {
        free(v);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nv; i++) order[i] = i;
    lm_rng rng;
    lm_rng_seed(&rng, c->o->seed ^ 0xa11ULL);
    shuffle(order, nv, &rng);
    size_t take = nv < (size_t)c->o->max_functions ? nv : (size_t)c->o->max_functions;
    loom_status st = LOOM_OK;
    for (size_t k = 0; k < take; k++) {
        const py_fn *fn = &v[order[k]];
        const lm_evalcode_file *f = &s->f[fn->file];
        lm_complete_opts co = {.lang = LM_LANG_PYTHON, .n_candidates = c->o->body_candidates,
                               .max_tokens = c->o->body_tokens, .use_fim = 0, .header = f->header,
                               .greedy_first = 1};
        lm_sampler_defaults(&co.sampling);
        co.sampling.temperature = c->o->body_candidates > 1 ? c->o->temperature : 0;
        co.sampling.repeat_penalty = c->o->repeat_penalty;
        co.sampling.repeat_last_n = 64;
        co.sampling.seed = c->o->seed;
        lm_complete_result res = {0};
        if ((st = lm_complete(&c->cm, c->tok, f->text, fn->prompt_end, NULL, 0, &co, &res, err))) break;
        const char *body = res.n ? res.cand[0].text : "";
        size_t bn = res.n ? res.cand[0].len : 0;
        size_t rest = f->len - fn->body_end;
        size_t tot = fn->prompt_end + bn + 1 + rest;
        char *nt = malloc(tot + 1);
        if (!nt) {
            lm_complete_result_free(&res);
            st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
            break;
        }
        size_t w = 0;
        memcpy(nt, f->text, fn->prompt_end);
        w = fn->prompt_end;
        memcpy(nt + w, body, bn);
        w += bn;
        if (bn && body[bn - 1] != '\n') nt[w++] = '\n';
        memcpy(nt + w, f->text + fn->body_end, rest);
        w += rest;
        nt[w] = 0;
        lm_parse_result pr;
        st = lm_parse_text(LM_LANG_PYTHON, nt, w, NULL, &pr, err);
        free(nt);
        if (st) {
            lm_complete_result_free(&res);
            break;
        }
        /* nothing generated is no body, even where a docstring alone parses */
        int ok = pr.ok && rstrip_len(body, bn) > 0;
        c->r->fn_total++;
        c->r->fn_parse += ok;
        if (c->o->on_case)
            c->o->on_case(c->o->ud, "body", f->path, body, bn, f->text + fn->prompt_end, fn->body_end - fn->prompt_end, ok);
        lm_complete_result_free(&res);
        if ((k + 1) % 10 == 0) note(c, "function bodies: %d of %d", (int)k + 1, (int)take);
    }
    free(order);
    free(v);
    return st;
}

static loom_status run_lines(ctx *c, const lm_evalcode_set *s, lm_error *err) {
    /* every non-blank line, as (file, start) */
    size_t nv = 0, cap = 256;
    size_t *fi = malloc(cap * sizeof *fi), *ls = malloc(cap * sizeof *ls);
    loom_status st = LOOM_OK;
    if (!fi || !ls) goto oom;
    for (int i = 0; i < s->n; i++) {
        const char *t = s->f[i].text;
        size_t n = s->f[i].len;
        for (size_t a = 0; a < n; a = line_end(t, n, a) + 1) {
            if (blank_line(t, a, line_end(t, n, a))) continue;
            if (nv == cap) {
                cap *= 2;
                size_t *x = realloc(fi, cap * sizeof *fi);
                if (!x) goto oom;
                fi = x;
                x = realloc(ls, cap * sizeof *ls);
                if (!x) goto oom;
                ls = x;
            }
            fi[nv] = (size_t)i;
            ls[nv++] = a;
        }
    }
    size_t *order = malloc((nv ? nv : 1) * sizeof *order);
    if (!order) goto oom;
    for (size_t i = 0; i < nv; i++) order[i] = i;
    lm_rng rng;
    lm_rng_seed(&rng, c->o->seed ^ 0xb22ULL);
    shuffle(order, nv, &rng);
    size_t take = nv < (size_t)c->o->max_lines ? nv : (size_t)c->o->max_lines;
    for (size_t k = 0; k < take; k++) {
        const lm_evalcode_file *f = &s->f[fi[order[k]]];
        size_t a = ls[order[k]], e = line_end(f->text, f->len, a);
        size_t sufs = e < f->len ? e + 1 : f->len;
        lm_complete_opts co = {.lang = f->lang, .n_candidates = 1, .max_tokens = c->o->line_tokens, .max_lines = 1,
                               .use_fim = 1, .header = f->header};
        lm_sampler_defaults(&co.sampling);
        co.sampling.temperature = 0;
        co.sampling.seed = c->o->seed;
        lm_complete_result res = {0};
        if ((st = lm_complete(&c->cm, c->tok, f->text, a, f->text + sufs, f->len - sufs, &co, &res, err))) break;
        if (res.fim_missing) c->r->fim_missing = 1;
        const char *g = res.n ? res.cand[0].text : "";
        size_t gn = res.n ? res.cand[0].len : 0;
        const char *nl = memchr(g, '\n', gn);
        if (nl) gn = (size_t)(nl - g);
        gn = rstrip_len(g, gn);
        size_t want = rstrip_len(f->text + a, e - a);
        c->r->line_total++;
        int ok = gn == want && !memcmp(g, f->text + a, gn);
        c->r->line_exact += ok;
        if (c->o->on_case) c->o->on_case(c->o->ud, "line", f->path, g, gn, f->text + a, want, ok);
        lm_complete_result_free(&res);
        if ((k + 1) % 10 == 0) note(c, "lines filled in: %d of %d", (int)k + 1, (int)take);
    }
    free(order);
    free(fi);
    free(ls);
    return st;
oom:
    free(fi);
    free(ls);
    return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
}

static loom_status run_bpb(ctx *c, lm_llama *m, const lm_evalcode_set *s, lm_error *err) {
    int V = m->cfg.vocab, W = c->inf.n_ctx;
    float *logits = malloc((size_t)W * (size_t)V * sizeof(float)), *probs = malloc((size_t)V * sizeof(float));
    loom_status st = LOOM_OK;
    if (!logits || !probs) {
        st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < s->n; i++) {
        const lm_evalcode_file *f = &s->f[i];
        size_t hn = strlen(f->header);
        char *doc = malloc(hn + f->len + 1);
        if (!doc) {
            st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(doc, f->header, hn);
        memcpy(doc + hn, f->text, f->len);
        int32_t *raw = NULL;
        int nr = 0;
        st = lm_encode_text(c->tok, doc, hn + f->len, &raw, &nr, err);
        free(doc);
        if (st) break;
        /* a leading <|endoftext|>, as between files in training, so the first token is predicted too */
        int32_t *ids = malloc(((size_t)nr + 1) * sizeof *ids);
        if (!ids) {
            free(raw);
            st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
            break;
        }
        int n = 0;
        if (c->tok->eot >= 0) ids[n++] = c->tok->eot;
        memcpy(ids + n, raw, (size_t)nr * sizeof *ids);
        n += nr;
        free(raw);
        for (int64_t s0 = 0; s0 + 1 < n && !st; s0 += W - 1) {
            int w = (int)(n - s0 < W ? n - s0 : W);
            lm_infer_reset(&c->inf);
            if ((st = lm_infer_eval(&c->inf, ids + s0, w, logits, 1, err))) break;
            for (int t = 0; t + 1 < w; t++) {
                lm_softmax(logits + (size_t)t * (size_t)V, probs, V);
                int32_t y = ids[s0 + t + 1];
                double p = probs[y] > 1e-30f ? probs[y] : 1e-30;
                c->r->nats -= log(p);
                c->r->tokens++;
                c->r->bytes += c->tok->piece_len[y];
            }
        }
        free(ids);
        if (st) break;
    }
done:
    free(logits);
    free(probs);
    return st;
}

/* Damages text (n bytes) by one random line: deleted, or one of its non-blank bytes removed.
 * Returns a malloc'ed copy (*out_n bytes), NULL when out of memory or no line qualifies. */
static char *corrupt(const char *t, size_t n, lm_rng *r, size_t *out_n) {
    size_t nl = 0;
    for (size_t a = 0; a < n; a = line_end(t, n, a) + 1)
        if (!blank_line(t, a, line_end(t, n, a))) nl++;
    if (!nl) return NULL;
    size_t pick = (size_t)(lm_rng_u64(r) % nl), a = 0;
    for (a = 0; a < n; a = line_end(t, n, a) + 1)
        if (!blank_line(t, a, line_end(t, n, a)) && pick-- == 0) break;
    size_t e = line_end(t, n, a), after = e < n ? e + 1 : n;
    char *o = malloc(n + 1);
    if (!o) return NULL;
    if (lm_rng_u64(r) & 1) { /* delete the line */
        memcpy(o, t, a);
        memcpy(o + a, t + after, n - after);
        *out_n = n - (after - a);
    } else { /* remove one non-blank byte of it */
        size_t nb = 0;
        for (size_t i = a; i < e; i++) nb += t[i] != ' ' && t[i] != '\t';
        size_t which = (size_t)(lm_rng_u64(r) % (nb ? nb : 1)), at = a;
        for (size_t i = a; i < e; i++)
            if (t[i] != ' ' && t[i] != '\t' && which-- == 0) {
                at = i;
                break;
            }
        memcpy(o, t, at);
        memcpy(o + at, t + at + 1, n - at - 1);
        *out_n = n - 1;
    }
    o[*out_n] = 0;
    return o;
}

static loom_status run_fix(ctx *c, const lm_evalcode_set *s, lm_error *err) {
    size_t *order = malloc((size_t)s->n * sizeof *order);
    if (!order) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < s->n; i++) order[i] = (size_t)i;
    lm_rng rng;
    lm_rng_seed(&rng, c->o->seed ^ 0xc33ULL);
    shuffle(order, (size_t)s->n, &rng);
    loom_status st = LOOM_OK;
    for (int k = 0; k < s->n && c->r->fix_total < c->o->max_fix && !st; k++) {
        const lm_evalcode_file *f = &s->f[order[k]];
        char dir[1024];
        dir_of(f->path, dir, sizeof dir);
        lm_parse_result pr;
        if ((st = lm_parse_text(f->lang, f->text, f->len, dir, &pr, err))) break;
        if (!pr.ok) continue;
        /* each file gets its own generator, so the damage does not depend on other files */
        lm_rng fr;
        lm_rng_seed(&fr, c->o->seed ^ (0x9e37ULL * (order[k] + 1)));
        char *bad = NULL;
        size_t bn = 0;
        for (int tries = 0; tries < 20; tries++) {
            bad = corrupt(f->text, f->len, &fr, &bn);
            if (!bad) break;
            if ((st = lm_parse_text(f->lang, bad, bn, dir, &pr, err))) break;
            if (!pr.ok && !pr.fatal) break;
            free(bad);
            bad = NULL;
        }
        if (st || !bad) {
            free(bad);
            continue;
        }
        lm_repair_opts ro = {.lang = f->lang, .n_samples = c->o->fix_samples, .max_tokens = c->o->fix_tokens,
                             .include_dir = dir, .header = f->header};
        lm_sampler_defaults(&ro.sampling);
        ro.sampling.temperature = 0.8f;
        ro.sampling.top_k = 40;
        ro.sampling.top_p = 0.95f;
        ro.sampling.min_p = 0.05f;
        ro.sampling.seed = c->o->seed + (uint64_t)order[k];
        lm_repair_result res = {0};
        st = lm_repair(&c->cm, c->tok, bad, bn, &pr, &ro, &res, err);
        free(bad);
        if (st) break;
        if (res.fim_missing) c->r->fim_missing = 1;
        c->r->fix_total++;
        c->r->fix_ok += res.fixed != 0;
        if (c->o->on_case) {
            const lm_repair_cand *best = res.n_cands > 0 ? &res.cands[0] : NULL;
            c->o->on_case(c->o->ud, "repair", f->path, best ? best->infill : "", best ? best->infill_len : 0, NULL, 0,
                          res.fixed != 0);
        }
        lm_repair_result_free(&res);
        note(c, "repairs: %d of %d", c->r->fix_total, c->o->max_fix);
    }
    free(order);
    return st;
}

loom_status lm_evalcode_run(lm_llama *m, const lm_tokenizer *tok, const lm_evalcode_set *s,
                            const lm_evalcode_opts *o, lm_evalcode_result *r, void (*progress)(const char *msg),
                            lm_error *err) {
    memset(r, 0, sizeof *r);
    ctx c = {.tok = tok, .o = o, .r = r, .progress = progress};
    double t0 = lm_now();
    if (lm_infer_create(&c.inf, m, o->ctx_size, err)) return err->code;
    lm_complete_model_infer(&c.cm, &c.inf);
    loom_status st = LOOM_OK;
    if (o->max_functions > 0 && s->n_python) st = run_functions(&c, s, err);
    if (!st && o->max_lines > 0) st = run_lines(&c, s, err);
    if (!st) st = run_bpb(&c, m, s, err);
    if (!st && o->max_fix > 0) st = run_fix(&c, s, err);
    lm_infer_free(&c.inf);
    r->seconds = lm_now() - t0;
    return st;
}
