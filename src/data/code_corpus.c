#include "data/code_corpus.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/io.h"

/* ---- .gitignore patterns ---- */

typedef struct pattern {
    char *pat;          /* leading '/' and trailing '/' removed; escapes kept for the matcher */
    unsigned char negate, dir_only, anchored;
} pattern;

struct lm_ignore {
    pattern *p;
    size_t n;
};

lm_ignore *lm_ignore_parse(const char *text, size_t n) {
    lm_ignore *ig = calloc(1, sizeof *ig);
    if (!ig) return NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n;) {
        size_t a = i, b = i;
        while (b < n && text[b] != '\n') b++;
        i = b + 1;
        if (b > a && text[b - 1] == '\r') b--; /* CRLF files */
        /* trailing spaces are dropped unless escaped with a backslash */
        while (b > a && text[b - 1] == ' ' && !(b - 1 > a && text[b - 2] == '\\')) b--;
        if (b == a || text[a] == '#') continue;
        pattern p = {0};
        if (text[a] == '!') {
            p.negate = 1;
            a++;
        }
        if (b > a && text[b - 1] == '/') {
            p.dir_only = 1;
            b--;
        }
        /* a slash at the start or in the middle ties the pattern to the .gitignore's folder */
        p.anchored = b > a && memchr(text + a, '/', b - a) != NULL;
        if (b > a && text[a] == '/') a++;
        if (b == a) continue;
        if (ig->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            pattern *np = realloc(ig->p, nc * sizeof *np);
            if (!np) goto oom;
            ig->p = np;
            cap = nc;
        }
        p.pat = strndup(text + a, b - a);
        if (!p.pat) goto oom;
        ig->p[ig->n++] = p;
    }
    return ig;
oom:
    lm_ignore_free(ig);
    return NULL;
}

void lm_ignore_free(lm_ignore *ig) {
    if (!ig) return;
    for (size_t i = 0; i < ig->n; i++) free(ig->p[i].pat);
    free(ig->p);
    free(ig);
}

/* A bracket expression at *pp ("[a-z]", "[!0-9]"): 1 if ch is in it, 0 if not, and *pp moves
 * past it; -1 when there is no closing ']' (the '[' is then an ordinary character). */
static int class_match(const char **pp, unsigned char ch) {
    const char *p = *pp + 1;
    int neg = 0, hit = 0;
    if (*p == '!' || *p == '^') {
        neg = 1;
        p++;
    }
    for (int first = 1; *p && (*p != ']' || first); p++, first = 0) {
        unsigned char lo = (unsigned char)*p, hi;
        if (lo == '\\' && p[1]) lo = (unsigned char)*++p;
        hi = lo;
        if (p[1] == '-' && p[2] && p[2] != ']') {
            p += 2;
            hi = (unsigned char)*p;
            if (hi == '\\' && p[1]) hi = (unsigned char)*++p;
        }
        if (ch >= lo && ch <= hi) hit = 1;
    }
    if (*p != ']') return -1;
    *pp = p + 1;
    return hit != neg;
}

/* Whether pattern p (which starts at p0) matches all of s. '*' and '?' never match '/';
 * "**" as a whole path component matches any number of folders. The recursion only branches
 * at stars, and patterns and paths are short. */
static int glob(const char *p0, const char *p, const char *s) {
    for (;;) {
        char c = *p;
        if (!c) return !*s;
        if (c == '*') {
            const char *q = p;
            while (*q == '*') q++;
            if (q - p >= 2 && (p == p0 || p[-1] == '/') && (*q == '/' || !*q)) {
                if (!*q) return 1; /* a trailing "**": everything below */
                for (const char *t = s;;) { /* "**" + "/": zero or more whole folders */
                    if (glob(p0, q + 1, t)) return 1;
                    t = strchr(t, '/');
                    if (!t) return 0;
                    t++;
                }
            }
            for (const char *t = s;; t++) {
                if (glob(p0, q, t)) return 1;
                if (!*t || *t == '/') return 0;
            }
        }
        if (!*s) return 0;
        if (c == '?') {
            if (*s == '/') return 0;
            p++, s++;
            continue;
        }
        if (c == '[') {
            const char *q = p;
            int r = class_match(&q, (unsigned char)*s);
            if (r >= 0) {
                if (!r || *s == '/') return 0;
                p = q, s++;
                continue;
            }
        }
        if (c == '\\' && p[1]) c = *++p;
        if (c != *s) return 0;
        p++, s++;
    }
}

/* The last pattern of ig that matches path itself decides (ancestors are not looked at). */
static int match_one(const lm_ignore *ig, const char *path, int is_dir) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t k = ig->n; k-- > 0;) {
        const pattern *p = &ig->p[k];
        if (p->dir_only && !is_dir) continue;
        if (glob(p->pat, p->pat, p->anchored ? path : base)) return p->negate ? 0 : 1;
    }
    return -1;
}

int lm_ignore_match(const lm_ignore *ig, const char *path, int is_dir) {
    char *buf = strdup(path);
    if (buf) {
        /* an excluded folder takes everything in it along, whatever later patterns say */
        for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
            *s = 0;
            int r = match_one(ig, buf, 1);
            *s = '/';
            if (r == 1) {
                free(buf);
                return 1;
            }
        }
        free(buf);
    }
    return match_one(ig, path, is_dir);
}

/* ---- the walk ---- */

size_t lm_code_header(const char *rel, char *out, size_t cap) {
    size_t k = strlen(LM_CODE_HEADER_PREFIX), n = strlen(rel), total = k + n + 1;
    if (!cap) return total;
    size_t w = 0;
    for (size_t i = 0; i < k && w + 1 < cap; i++) out[w++] = LM_CODE_HEADER_PREFIX[i];
    for (size_t i = 0; i < n && w + 1 < cap; i++) out[w++] = (unsigned char)rel[i] < 32 || rel[i] == 127 ? '?' : rel[i];
    if (w + 1 < cap) out[w++] = '\n';
    out[w] = 0;
    return total;
}

enum { MAX_DEPTH = 64 };

typedef struct level {
    lm_ignore *ig;
    size_t base_len; /* length of the folder's path relative to the root ("" for the root) */
} level;

/* A file or folder as the file system knows it, whatever the path that led to it. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    int used;
} file_id;

typedef struct cwalk {
    lm_corpus *c;
    lm_code_stats *st;
    char **ext;
    int n_ext;
    int64_t max_bytes;
    level lv[MAX_DEPTH + 2];
    int n_lv;
    size_t text_cap, doc_cap;
    /* kept files and walked folders, so that links count once and loops end: an open-addressing
     * hash set, since a large tree has tens of thousands of files */
    file_id *seen;
    size_t n_seen, seen_cap; /* seen_cap: a power of two, or 0 */
    lm_error *err;
} cwalk;

/* Splits the comma list into w->ext (leading dots and spaces dropped). */
static loom_status parse_extensions(cwalk *w, const char *list, lm_error *err) {
    int n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    w->ext = calloc((size_t)n, sizeof *w->ext);
    if (!w->ext) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        if (!e) e = p + strlen(p);
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '.')) a++;
        while (b > a && b[-1] == ' ') b--;
        if (b > a && !(w->ext[w->n_ext++] = strndup(a, (size_t)(b - a))))
            return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        p = *e ? e + 1 : e;
    }
    if (!w->n_ext)
        return lm_fail(err, LOOM_ERR_ARG, "--extensions '%s' names no extension (example: --extensions py,c,h)", list);
    return LOOM_OK;
}

/* A name is kept when it ends in "." + an entry, or is an entry (Makefile). */
static int wanted_name(const cwalk *w, const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i < w->n_ext; i++) {
        size_t k = strlen(w->ext[i]);
        if (strcasecmp(name, w->ext[i]) == 0) return 1;
        if (n > k + 1 && name[n - k - 1] == '.' && strcasecmp(name + n - k, w->ext[i]) == 0) return 1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* Files written by programs: protocol buffer and other generator outputs by name, minified
 * web files, a marker in the first lines, or lines far longer than people write. Such text
 * teaches the model the generator's habits (or one line of 100 KB), not programming. */
static int looks_generated(const char *name, const uint8_t *s, size_t n) {
    static const char *const names[] = {"_pb2.py", "_pb2_grpc.py", "_pb2.pyi", ".pb.go", ".pb.cc", ".pb.h", ".pb.c",
                                        "_pb.js", ".min.js", ".min.mjs", ".min.css", ".designer.cs", ".g.cs",
                                        "_generated.go", ".generated.ts"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (ends_with(name, names[i])) return 1;
    char head[1025];
    size_t k = 0;
    for (int lines = 0; k < n && k < sizeof head - 1 && lines < 5; k++) {
        head[k] = (char)tolower(s[k]);
        if (s[k] == '\n') lines++;
    }
    head[k] = 0;
    static const char *const marks[] = {"do not edit", "@generated", "auto-generated", "autogenerated",
                                        "automatically generated", "code generated", "file is generated",
                                        "file was generated"};
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
        if (strstr(head, marks[i])) return 1;
    /* "generated by" / "generated from" also describe what a program handles ("tables generated
     * by pgen"): they count when the line goes on to name a file or a version ("with
     * gencodec.py", "Django 4.2", "MAPPINGS/CP1252.TXT") */
    static const char *const verbs[] = {"generated by", "generated from"};
    for (size_t i = 0; i < 2; i++)
        for (const char *m = strstr(head, verbs[i]); m; m = strstr(m + 1, verbs[i]))
            for (const char *q = m + strlen(verbs[i]); *q && *q != '\n'; q++)
                if (*q == '/' || (*q == '.' && isalnum((unsigned char)q[-1]) && isalnum((unsigned char)q[1])))
                    return 1;
    size_t lines = 1;
    for (size_t i = 0; i < n; i++) lines += s[i] == '\n';
    return n > 4096 && n / lines > 300; /* minified or data dumped on a few lines */
}

static size_t id_hash(dev_t dev, ino_t ino) {
    uint64_t x = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;
    return (size_t)(x ^ (x >> 29));
}

static int seen_before(const cwalk *w, const struct stat *st) {
    if (!w->seen_cap) return 0;
    for (size_t i = id_hash(st->st_dev, st->st_ino) & (w->seen_cap - 1);; i = (i + 1) & (w->seen_cap - 1)) {
        if (!w->seen[i].used) return 0;
        if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino) return 1;
    }
}

static void insert_id(file_id *t, size_t cap, dev_t dev, ino_t ino) {
    size_t i = id_hash(dev, ino) & (cap - 1);
    while (t[i].used) i = (i + 1) & (cap - 1);
    t[i] = (file_id){dev, ino, 1};
}

static loom_status remember(cwalk *w, const struct stat *st) {
    if (2 * (w->n_seen + 1) > w->seen_cap) { /* at most half full */
        size_t cap = w->seen_cap ? w->seen_cap * 2 : 1024;
        file_id *t = calloc(cap, sizeof *t);
        if (!t) return lm_fail(w->err, LOOM_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < w->seen_cap; i++)
            if (w->seen[i].used) insert_id(t, cap, w->seen[i].dev, w->seen[i].ino);
        free(w->seen);
        w->seen = t;
        w->seen_cap = cap;
    }
    insert_id(w->seen, w->seen_cap, st->st_dev, st->st_ino);
    w->n_seen++;
    return LOOM_OK;
}

/* Appends one document: the path line, then the file's bytes. */
static loom_status add_doc(cwalk *w, const char *rel, const uint8_t *body, size_t n) {
    lm_corpus *c = w->c;
    char small[512];
    size_t hn = lm_code_header(rel, small, sizeof small);
    char *head = small;
    if (hn >= sizeof small) {
        head = malloc(hn + 1);
        if (!head) return lm_fail(w->err, LOOM_ERR_NOMEM, "out of memory");
        lm_code_header(rel, head, hn + 1);
    }
    size_t need = (size_t)c->n_bytes + hn + n;
    if (need > w->text_cap) {
        size_t cap = w->text_cap ? w->text_cap : 1 << 20;
        while (cap < need) cap *= 2;
        uint8_t *t = realloc(c->text, cap);
        if (!t) {
            if (head != small) free(head);
            return lm_fail(w->err, LOOM_ERR_NOMEM, "out of memory loading the corpus (%zu bytes)", cap);
        }
        c->text = t;
        w->text_cap = cap;
    }
    if ((size_t)c->n_docs + 2 > w->doc_cap) {
        size_t cap = w->doc_cap ? w->doc_cap * 2 : 256;
        int64_t *d = realloc(c->doc_start, cap * sizeof *d);
        if (d) c->doc_start = d;
        int32_t *h = d ? realloc(c->doc_head, cap * sizeof *h) : NULL;
        if (!h) {
            if (head != small) free(head);
            return lm_fail(w->err, LOOM_ERR_NOMEM, "out of memory");
        }
        c->doc_head = h;
        w->doc_cap = cap;
    }
    c->doc_start[c->n_docs] = c->n_bytes;
    c->doc_head[c->n_docs] = (int32_t)hn;
    memcpy(c->text + c->n_bytes, head, hn);
    memcpy(c->text + c->n_bytes + hn, body, n);
    c->n_bytes += (int64_t)(hn + n);
    c->n_docs++;
    c->doc_start[c->n_docs] = c->n_bytes;
    if (head != small) free(head);
    return LOOM_OK;
}

/* 1 if a .gitignore in the tree excludes rel: the deepest file that has a matching pattern
 * decides, as in git. */
static int ignored(const cwalk *w, const char *rel, int is_dir) {
    for (int i = w->n_lv; i-- > 0;) {
        const level *l = &w->lv[i];
        const char *sub = rel + l->base_len + (l->base_len ? 1 : 0);
        int r = match_one(l->ig, sub, is_dir);
        if (r >= 0) return r;
    }
    return 0;
}

/* Reads a file and keeps it, or counts why not. */
static loom_status take_file(cwalk *w, const char *abs, const char *rel, const char *name, const struct stat *st) {
    lm_code_stats *s = w->st;
    if ((int64_t)st->st_size > w->max_bytes) {
        s->huge++;
        return LOOM_OK;
    }
    if (seen_before(w, st)) return LOOM_OK; /* a link to a file already kept: not a reason worth a count */
    uint8_t *buf;
    size_t len;
    if (lm_read_file(abs, 0, &buf, &len, NULL) != LOOM_OK) { /* permissions: one file is no reason to stop */
        s->unreadable++;
        return LOOM_OK;
    }
    loom_status r = LOOM_OK;
    if (len == 0)
        s->empty++;
    else if ((int64_t)len > w->max_bytes) /* it grew since stat */
        s->huge++;
    else if (lm_looks_binary(buf, len))
        s->binary++;
    else if (looks_generated(name, buf, len))
        s->generated++;
    else if (!(r = add_doc(w, rel, buf, len)) && !(r = remember(w, st))) {
        s->kept++;
        s->kept_bytes += (int64_t)len;
    }
    free(buf);
    return r;
}

/* Walks dir (abs path; rel is its path from the root, "" for the root) in name order. */
static loom_status walk(cwalk *w, const char *abs, const char *rel, int depth) {
    if (depth > MAX_DEPTH) return LOOM_OK;
    char **names;
    size_t n;
    loom_status s = lm_list_dir(abs, &names, &n, w->err);
    if (s) {
        if (depth == 0 || s == LOOM_ERR_NOMEM) return s;
        w->st->unreadable++;
        return LOOM_OK;
    }
    int has_ignore = 0;
    for (size_t i = 0; i < n; i++) has_ignore |= !strcmp(names[i], ".gitignore");
    int pushed = 0;
    if (!s && has_ignore) {
        char *p = lm_path_join(abs, ".gitignore");
        uint8_t *txt = NULL;
        size_t len = 0;
        /* an unreadable .gitignore (a folder, a broken link) is no reason to stop */
        if (p && lm_read_file(p, 1 << 20, &txt, &len, NULL) == LOOM_OK) {
            lm_ignore *ig = lm_ignore_parse((const char *)txt, len);
            if (!ig) s = lm_fail(w->err, LOOM_ERR_NOMEM, "out of memory");
            else {
                w->lv[w->n_lv++] = (level){ig, strlen(rel)};
                pushed = 1;
            }
        }
        free(txt);
        free(p);
    }
    for (size_t i = 0; i < n && !s; i++) {
        if (!strcmp(names[i], ".gitignore")) continue; /* read above */
        if (names[i][0] == '.') { /* hidden: .git, .venv, .cache, editor files */
            w->st->hidden++;
            continue;
        }
        char *ap = lm_path_join(abs, names[i]);
        char *rp = *rel ? lm_path_join(rel, names[i]) : strdup(names[i]);
        struct stat st;
        if (!ap || !rp) {
            s = lm_fail(w->err, LOOM_ERR_NOMEM, "out of memory");
        } else if (stat(ap, &st) != 0) {
            /* a broken link: nothing to read */
        } else if (S_ISDIR(st.st_mode)) {
            if (ignored(w, rp, 1))
                w->st->ignored++;
            else if (!seen_before(w, &st) && !(s = remember(w, &st))) /* a link back up would loop */
                s = walk(w, ap, rp, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (ignored(w, rp, 0))
                w->st->ignored++;
            else if (!wanted_name(w, names[i]))
                w->st->other_ext++;
            else
                s = take_file(w, ap, rp, names[i], &st);
        }
        free(ap);
        free(rp);
    }
    if (pushed) lm_ignore_free(w->lv[--w->n_lv].ig);
    lm_list_free(names, n);
    return s;
}

/* snprintf at out + *k that never runs past cap and keeps *k at the end of what fits. */
static void appendf(char *out, size_t cap, size_t *k, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void appendf(char *out, size_t cap, size_t *k, const char *fmt, ...) {
    if (*k + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(out + *k, cap - *k, fmt, ap);
    va_end(ap);
    if (m > 0) *k = *k + (size_t)m < cap ? *k + (size_t)m : cap - 1;
}

void lm_code_stats_format(const lm_code_stats *st, char *out, size_t cap) {
    if (!cap) return;
    size_t k = 0;
    out[0] = 0;
    appendf(out, cap, &k, "kept %d file%s (%.1f KiB)", st->kept, st->kept == 1 ? "" : "s",
            (double)st->kept_bytes / 1024.0);
    struct { int n; const char *what; } r[] = {
        {st->other_ext, "with other extensions"}, {st->binary, "binary"}, {st->generated, "generated"},
        {st->huge, NULL}, {st->ignored, "excluded by .gitignore"}, {st->hidden, "hidden"}, {st->empty, "empty"},
        {st->unreadable, "unreadable"},
    };
    int first = 1;
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
        if (!r[i].n) continue;
        appendf(out, cap, &k, "%s%d ", first ? "; skipped " : ", ", r[i].n);
        if (r[i].what)
            appendf(out, cap, &k, "%s", r[i].what);
        else
            appendf(out, cap, &k, "over %lld KiB", (long long)(st->max_file_bytes / 1024));
        first = 0;
    }
}

loom_status lm_code_corpus_read(lm_corpus *c, const char *path, const lm_code_opts *o, lm_code_stats *st_out,
                                lm_error *err) {
    memset(c, 0, sizeof *c);
    lm_code_stats stats = {0};
    cwalk w = {.c = c, .st = &stats, .err = err};
    w.max_bytes = o && o->max_file_bytes > 0 ? o->max_file_bytes : 1 << 20;
    stats.max_file_bytes = w.max_bytes;
    struct stat st;
    loom_status s = LOOM_OK;
    if (stat(path, &st) != 0) {
        s = lm_fail(err, LOOM_ERR_DATA, "source tree '%s' not found: %s (give a folder with --data)", path,
                    strerror(errno));
    } else if (!(s = parse_extensions(&w, o && o->extensions ? o->extensions : LM_CODE_DEFAULT_EXTENSIONS, err))) {
        if (S_ISDIR(st.st_mode)) {
            s = remember(&w, &st);
            if (!s) s = walk(&w, path, "", 0);
            while (w.n_lv > 0) lm_ignore_free(w.lv[--w.n_lv].ig); /* after an error part-way */
            if (!s && stats.kept == 0) {
                char why[400];
                lm_code_stats_format(&stats, why, sizeof why);
                /* "kept 0 files (0.0 KiB); " says nothing: only the reasons go into the message */
                const char *r = strstr(why, "skipped ");
                s = lm_fail(err, LOOM_ERR_DATA, "folder '%s' has no source files to train on (%s; %s)", path,
                            r ? r : "it has no files", r && stats.other_ext ? "give their extensions with --extensions"
                                                                             : "point --data at a source tree");
            }
        } else {
            /* one file is taken as the user's choice: no extension or size rules, still text only */
            const char *base = strrchr(path, '/');
            base = base && base[1] ? base + 1 : path;
            uint8_t *buf;
            size_t len;
            s = lm_read_file(path, 0, &buf, &len, err);
            if (!s) {
                if (len == 0)
                    s = lm_fail(err, LOOM_ERR_DATA, "training data '%s' is empty (give a file with code in it)", path);
                else if (lm_looks_binary(buf, len))
                    s = lm_fail(err, LOOM_ERR_DATA, "'%s' looks like binary data, not source code (give a source tree)",
                                path);
                else if (!(s = add_doc(&w, base, buf, len))) {
                    stats.kept = 1;
                    stats.kept_bytes = (int64_t)len;
                }
                free(buf);
            }
        }
    }
    for (int i = 0; i < w.n_ext; i++) free(w.ext[i]);
    free(w.ext);
    free(w.seen);
    if (s) lm_corpus_free(c);
    if (st_out) *st_out = stats;
    return s;
}
