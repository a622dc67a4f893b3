#include "generate/complete.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/code_corpus.h"
#include "data/corpus.h"
#include "util/io.h"

/* ---- languages ---- */

static const struct {
    const char *name;
    lm_lang lang;
} LANGS[] = {
    {"python", LM_LANG_PYTHON}, {"py", LM_LANG_PYTHON},   {"pyi", LM_LANG_PYTHON},  {"pyw", LM_LANG_PYTHON},
    {"c", LM_LANG_C},           {"h", LM_LANG_C},         {"cpp", LM_LANG_CPP},     {"c++", LM_LANG_CPP},
    {"cc", LM_LANG_CPP},        {"cxx", LM_LANG_CPP},     {"hpp", LM_LANG_CPP},     {"hh", LM_LANG_CPP},
    {"hxx", LM_LANG_CPP},       {"cu", LM_LANG_CPP},      {"cuh", LM_LANG_CPP},     {"ino", LM_LANG_CPP},
    {"m", LM_LANG_C},           {"mm", LM_LANG_CPP},      {"java", LM_LANG_JAVA},   {"js", LM_LANG_JS},
    {"javascript", LM_LANG_JS}, {"jsx", LM_LANG_JS},      {"mjs", LM_LANG_JS},      {"cjs", LM_LANG_JS},
    {"ts", LM_LANG_JS},         {"typescript", LM_LANG_JS}, {"tsx", LM_LANG_JS},    {"mts", LM_LANG_JS},
    {"go", LM_LANG_GO},         {"rs", LM_LANG_RUST},     {"rust", LM_LANG_RUST},   {"cs", LM_LANG_CSHARP},
    {"csharp", LM_LANG_CSHARP}, {"kt", LM_LANG_BRACES},   {"kts", LM_LANG_BRACES},  {"scala", LM_LANG_BRACES},
    {"swift", LM_LANG_BRACES},  {"dart", LM_LANG_BRACES}, {"php", LM_LANG_BRACES},  {"groovy", LM_LANG_BRACES},
    {"css", LM_LANG_BRACES},    {"braces", LM_LANG_BRACES}, {"text", LM_LANG_TEXT}, {"txt", LM_LANG_TEXT},
};

int lm_lang_from_name(const char *name, lm_lang *out) {
    for (size_t i = 0; i < sizeof LANGS / sizeof *LANGS; i++)
        if (!strcasecmp(name, LANGS[i].name)) {
            *out = LANGS[i].lang;
            return 0;
        }
    return -1;
}

lm_lang lm_lang_from_path(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    lm_lang l = LM_LANG_TEXT;
    if (dot && dot != base && dot[1] && lm_lang_from_name(dot + 1, &l) == 0) return l;
    return LM_LANG_TEXT;
}

const char *lm_lang_name(lm_lang l) {
    switch (l) {
    case LM_LANG_PYTHON: return "python";
    case LM_LANG_C: return "c";
    case LM_LANG_CPP: return "cpp";
    case LM_LANG_JAVA: return "java";
    case LM_LANG_JS: return "js";
    case LM_LANG_GO: return "go";
    case LM_LANG_RUST: return "rust";
    case LM_LANG_CSHARP: return "cs";
    case LM_LANG_BRACES: return "braces";
    default: return "text";
    }
}

const char *lm_lang_ext(lm_lang l) {
    switch (l) {
    case LM_LANG_PYTHON: return "py";
    case LM_LANG_C: return "c";
    case LM_LANG_CPP: return "cpp";
    case LM_LANG_JAVA: return "java";
    case LM_LANG_JS: return "js";
    case LM_LANG_GO: return "go";
    case LM_LANG_RUST: return "rs";
    case LM_LANG_CSHARP: return "cs";
    default: return NULL;
    }
}

int lm_lang_braces(lm_lang l) { return l >= LM_LANG_C && l <= LM_LANG_BRACES; }

/* ---- the Python lexer: just enough to find logical lines and their indentation ---- */

enum { PY_NL = 1, PY_CODE_LINE = 2, PY_COMMENT_LINE = 4, PY_CONT_LINE = 8, PY_LOGICAL_END = 16 };

static void py_lex_init(lm_py_lex *x) {
    memset(x, 0, sizeof *x);
    x->line_start = 1;
    x->logical = 1;
}

/* A newline outside strings: ends the logical line unless brackets are open or a backslash
 * continues it. */
static int py_newline(lm_py_lex *x) {
    int cont = x->depth > 0 || x->bslash;
    int ev = PY_NL;
    if (!cont && x->kind == 2) ev |= PY_LOGICAL_END;
    x->bslash = 0;
    x->comment = 0;
    x->line_start = 1;
    x->indent = 0;
    x->logical = !cont;
    if (!cont) x->kind = 0;
    return ev;
}

/* Feeds one byte; returns PY_* events. PY_CODE_LINE, PY_COMMENT_LINE and PY_CONT_LINE come
 * with a physical line's first non-blank byte (PY_CONT_LINE: the line continues a logical line
 * or a string), PY_NL with the newline that ends any physical line. */
static int py_step(lm_py_lex *x, unsigned char c) {
    int ev = 0;
    if (x->line_start) {
        if (c == ' ') {
            x->indent++;
            return 0;
        }
        if (c == '\t') {
            x->indent = x->indent / 8 * 8 + 8;
            return 0;
        }
        if (c == '\r' || c == '\f' || c == '\v') return 0;
        x->line_start = 0;
        if (x->quote || !x->logical) {
            ev = PY_CONT_LINE;
        } else if (c == '\n') {
            return py_newline(x); /* a blank line */
        } else if (c == '#') {
            x->kind = 1;
            x->line_indent = x->indent;
            x->comment = 1;
            return PY_COMMENT_LINE;
        } else {
            x->kind = 2;
            x->line_indent = x->indent;
            x->first = (char)c;
            x->last_sig = 0;
            ev = PY_CODE_LINE;
        }
    }
    if (x->comment) return c == '\n' ? ev | py_newline(x) : ev;
    if (x->quote && x->opening) {
        /* after an opening quote: "" may be an empty string or the start of """ */
        if (c == (unsigned char)x->quote) {
            if (++x->qrun == 3) {
                x->triple = 1;
                x->opening = 0;
                x->qrun = 0;
            }
            return ev;
        }
        x->opening = 0;
        if (x->qrun == 2) { /* an empty string, closed: c is code */
            x->quote = 0;
            x->qrun = 0;
            goto code;
        }
        x->qrun = 0;
    }
    if (x->quote) {
        if (c == '\n') {
            if (!x->triple && !x->esc) { /* an unterminated string ends with its line */
                x->quote = 0;
                return ev | py_newline(x);
            }
            x->esc = 0;
            x->qrun = 0;
            x->line_start = 1;
            x->indent = 0;
            x->logical = 0;
            return ev | PY_NL;
        }
        if (x->esc) {
            x->esc = 0;
            x->qrun = 0;
            return ev;
        }
        if (c == '\\') {
            x->esc = 1;
            x->qrun = 0;
            return ev;
        }
        if (c == (unsigned char)x->quote) {
            if (!x->triple || ++x->qrun == 3) {
                x->quote = 0;
                x->triple = 0;
                x->qrun = 0;
                x->last_sig = (char)c;
            }
            return ev;
        }
        x->qrun = 0;
        return ev;
    }
code:
    if (c == '\n') return ev | py_newline(x);
    if (c == '\r') return ev; /* CRLF: the backslash before it still continues the line */
    if (c == '#') {
        x->comment = 1;
        x->bslash = 0;
        return ev;
    }
    x->bslash = c == '\\';
    if (c == '\\' || c == ' ' || c == '\t' || c == '\f' || c == '\v') return ev;
    x->last_sig = (char)c;
    if (c == '"' || c == '\'') {
        x->quote = (char)c;
        x->triple = 0;
        x->opening = 1;
        x->qrun = 1;
    } else if (c == '(' || c == '[' || c == '{') {
        x->depth++;
    } else if ((c == ')' || c == ']' || c == '}') && x->depth > 0) {
        x->depth--;
    }
    return ev;
}

/* Whether s starts with a clause that continues a compound statement at its own indentation
 * (else, elif, except, finally). *undecided: s ends before the word does. */
static int py_clause(const char *s, size_t n, int *undecided) {
    static const char *const W[] = {"else", "elif", "except", "finally"};
    size_t k = 0;
    while (k < n && (s[k] == '_' || (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
                     (s[k] >= '0' && s[k] <= '9')))
        k++;
    *undecided = k == n;
    if (*undecided) return 0;
    for (size_t i = 0; i < sizeof W / sizeof *W; i++)
        if (strlen(W[i]) == k && !memcmp(s, W[i], k)) return 1;
    return 0;
}

static void py_init(lm_boundary *b, const char *p, size_t n) {
    lm_py_lex x;
    py_lex_init(&x);
    /* indentations of the open block headers, innermost last (deeper nesting is dropped:
     * only the innermost levels matter at the cursor) */
    int stack[64], sp = 0;
    int last_indent = -1, last_header = 0, last_decorator = 0;
    for (size_t i = 0; i < n; i++) {
        int ev = py_step(&x, (unsigned char)p[i]);
        if (ev & PY_CODE_LINE)
            while (sp > 0 && stack[sp - 1] >= x.line_indent) sp--;
        if (ev & PY_LOGICAL_END) {
            last_indent = x.line_indent;
            last_header = x.last_sig == ':';
            last_decorator = x.first == '@';
            if (last_header) {
                if (sp == 64) {
                    memmove(stack, stack + 1, 63 * sizeof *stack);
                    sp--;
                }
                stack[sp++] = x.line_indent;
            }
        }
    }
    b->py = x;
    if (x.kind == 2) {
        /* inside a statement: the unit is that statement (and its body) */
        b->py_started = 1;
        b->py_base = x.line_indent;
        b->py_decorated = x.first == '@';
        /* if the completion only ends that statement's line, the unit becomes the rest of the
         * enclosing block (a header keeps its unit: its body, and its else or except) */
        b->py_next_base = x.last_sig == ':' ? -1 : sp > 0 ? stack[sp - 1] : 0;
    } else {
        /* at the start of a line: the body of the header just above, else the rest of the
         * enclosing block, else (top level) the next statement */
        b->py_started = 0;
        b->py_base = last_indent >= 0 && last_header ? last_indent : sp > 0 ? stack[sp - 1] : 0;
        b->py_decorated = last_decorator;
    }
}

static int64_t py_find(const lm_boundary *b, const char *t, size_t n) {
    lm_py_lex x = b->py;
    int started = b->py_started, decorated = b->py_decorated, base = b->py_base;
    int at_base = started; /* the unit's first line is at the base indentation (a statement, not a body) */
    /* the line at the cursor is kept if it is the unit's statement, or a comment inside it */
    int cur_keep = started || (x.kind == 1 && x.line_indent > base);
    int on_cursor_line = started && b->py_next_base >= 0, added = 0; /* code written on the cursor's line */
    int64_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        int ev = py_step(&x, c);
        if (on_cursor_line) {
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\\' && !x.comment) added = 1;
            if (ev & PY_LOGICAL_END) {
                on_cursor_line = 0;
                if (!added) { /* the statement was complete: go on with what follows it */
                    started = 0;
                    base = b->py_next_base;
                }
            }
        }
        if (ev & PY_CODE_LINE) {
            if (started && x.line_indent <= base && !decorated) {
                int undecided = 0;
                int clause = at_base && x.line_indent == base && py_clause(t + i, n - i, &undecided);
                if (undecided) return -1;
                if (!clause) return keep;
            }
            if (!started) at_base = x.line_indent <= base;
            started = 1;
            decorated = x.first == '@';
            cur_keep = 1;
        }
        if (ev & PY_COMMENT_LINE) cur_keep = x.line_indent > base;
        if (ev & PY_CONT_LINE) cur_keep = 1;
        if (ev & PY_NL) {
            if (cur_keep) keep = (int64_t)i + 1;
            cur_keep = 0;
        }
    }
    return -1;
}

/* ---- the brace-language lexer ---- */

enum { C_CODE, C_LINE_COMMENT, C_BLOCK_COMMENT, C_QUOTED, C_MULTILINE };
enum { C_OPEN = 1, C_CLOSE, C_SEMI, C_NL };

static void c_lex_init(lm_c_lex *x) {
    memset(x, 0, sizeof *x);
    x->line_start = 1;
}

static int c_newline(lm_c_lex *x) {
    x->state = C_CODE;
    x->line_start = 1;
    x->line_code = 0;
    x->last = 0;
    x->slash = 0;
    return C_NL;
}

/* Feeds one byte; returns C_OPEN/C_CLOSE for braces in code, C_SEMI for ';' outside
 * parentheses, C_NL for the end of a line that is not inside a comment or a multi-line string. */
static int c_step(lm_c_lex *x, lm_lang lang, unsigned char c) {
    switch (x->state) {
    case C_LINE_COMMENT:
        return c == '\n' ? c_newline(x) : 0;
    case C_BLOCK_COMMENT:
        if (x->star && c == '/') x->state = C_CODE;
        x->star = c == '*';
        if (c == '\n') x->line_start = 1, x->line_code = 0;
        return 0;
    case C_QUOTED:
        if (c == '\n') return c_newline(x); /* unterminated: ends with the line */
        if (x->esc) x->esc = 0;
        else if (c == '\\') x->esc = 1;
        else if (c == (unsigned char)x->quote) x->state = C_CODE;
        /* a character literal is short; a quote that runs on is a Rust lifetime or a typo */
        else if (x->quote == '\'' && lang != LM_LANG_JS && ++x->lit_len > 8) x->state = C_CODE;
        return 0;
    case C_MULTILINE:
        if (x->esc) x->esc = 0;
        else if (c == '\\' && lang == LM_LANG_JS) x->esc = 1;
        else if (c == '`') x->state = C_CODE;
        if (c == '\n') x->line_start = 1, x->line_code = 0;
        return 0;
    default:
        break;
    }
    if (x->slash) {
        x->slash = 0;
        if (c == '/') {
            x->state = C_LINE_COMMENT;
            return 0;
        }
        if (c == '*') {
            x->state = C_BLOCK_COMMENT;
            x->star = 0;
            return 0;
        }
        x->line_code = 1; /* the '/' was division */
        x->last = '/';
    }
    if (c == '\n') return c_newline(x);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') return 0;
    int first = x->line_start;
    x->line_start = 0;
    if (first && c == '#' && (lang == LM_LANG_C || lang == LM_LANG_CPP || lang == LM_LANG_CSHARP)) {
        x->state = C_LINE_COMMENT; /* a preprocessor line */
        return 0;
    }
    if (c == '/') {
        x->slash = 1;
        return 0;
    }
    x->line_code = 1;
    x->last = (char)c;
    switch (c) {
    case '"':
    case '\'':
        x->state = C_QUOTED;
        x->quote = (char)c;
        x->esc = 0;
        x->lit_len = 0;
        return 0;
    case '`':
        if (lang == LM_LANG_JS || lang == LM_LANG_GO) {
            x->state = C_MULTILINE;
            x->esc = 0;
        }
        return 0;
    case '(': x->paren++; return 0;
    case ')': if (x->paren > 0) x->paren--; return 0;
    case '{': x->paren = 0; return C_OPEN;
    case '}': x->paren = 0; return C_CLOSE;
    case ';': return x->paren == 0 ? C_SEMI : 0;
    default: return 0;
    }
}

/* Where a completion that ends just before the brace at t[pos] is cut: before the blanks that
 * lead up to it, and after the newline when the brace starts its line. */
static int64_t cut_before(const char *t, int64_t pos) {
    int64_t k = pos;
    while (k > 0 && (t[k - 1] == ' ' || t[k - 1] == '\t')) k--;
    return k;
}

static int64_t c_find(const lm_boundary *b, const char *t, size_t n) {
    lm_c_lex x = b->c;
    int depth = 0, opened = 0, last_close = 0, stmt_end = 0;
    int64_t neg_pos = -1; /* the '}' that last closed a brace opened before the cursor */
    for (size_t i = 0; i < n; i++) {
        int ev = c_step(&x, b->lang, (unsigned char)t[i]);
        if (ev == C_OPEN) {
            depth++;
            opened++;
            last_close = 0;
        } else if (ev == C_CLOSE) {
            if (depth-- == 0) neg_pos = (int64_t)i;
            last_close = 1;
        } else if (ev == C_SEMI) {
            if (depth == 0) stmt_end = 1;
        } else if (ev == C_NL) {
            if (depth < 0) return b->fim ? cut_before(t, neg_pos) : (int64_t)i + 1;
            if (depth == 0 && opened && last_close) return (int64_t)i + 1;
            if (b->c_midline && !opened && stmt_end && depth == 0) return (int64_t)i + 1;
            last_close = 0;
            stmt_end = 0;
        }
    }
    return -1;
}

/* ---- boundaries ---- */

void lm_boundary_init(lm_boundary *b, lm_lang lang, const char *prefix, size_t n, int fim) {
    memset(b, 0, sizeof *b);
    b->lang = lang;
    b->fim = fim;
    if (lang == LM_LANG_PYTHON) {
        py_init(b, prefix, n);
    } else if (lm_lang_braces(lang)) {
        c_lex_init(&b->c);
        for (size_t i = 0; i < n; i++) c_step(&b->c, lang, (unsigned char)prefix[i]);
        char l = b->c.last;
        b->c_midline = b->c.line_code && l != ';' && l != '{' && l != '}';
    }
}

int64_t lm_boundary_find(const lm_boundary *b, const char *text, size_t n) {
    if (b->lang == LM_LANG_PYTHON) return py_find(b, text, n);
    if (lm_lang_braces(b->lang)) return c_find(b, text, n);
    return -1;
}

size_t lm_boundary_whole(const lm_boundary *b, const char *text, size_t n) {
    if (b->fim || b->lang != LM_LANG_PYTHON) return lm_boundary_final(b, text, n);
    /* the ends of the completed logical lines, and whether each opens a block */
    size_t ends[256];
    unsigned char header[256];
    int ne = 0;
    lm_py_lex x = b->py;
    for (size_t i = 0; i < n; i++) {
        if (!(py_step(&x, (unsigned char)text[i]) & PY_LOGICAL_END)) continue;
        if (ne == 256) { /* only the last lines matter: keep the newer half */
            memmove(ends, ends + 128, 128 * sizeof *ends);
            memmove(header, header + 128, 128);
            ne = 128;
        }
        ends[ne] = i + 1;
        header[ne++] = x.last_sig == ':' || x.first == '@';
    }
    /* a block header whose body never came would not parse, nor a decorator without its
     * definition: they go too */
    while (ne > 0 && header[ne - 1]) ne--;
    return ne ? ends[ne - 1] : 0;
}

size_t lm_boundary_final(const lm_boundary *b, const char *text, size_t n) {
    if (b->fim) return n; /* the middle meets the suffix exactly where the model ended it */
    size_t last = n;
    while (last > 0 && (text[last - 1] == ' ' || text[last - 1] == '\t' || text[last - 1] == '\r' ||
                        text[last - 1] == '\n'))
        last--;
    if (last == 0) return 0;
    const char *nl = memchr(text + last, '\n', n - last);
    return nl ? (size_t)(nl - text) + 1 : n;
}

void lm_path_header(const char *path, char *out, size_t cap) {
    while (path[0] == '.' && path[1] == '/') path += 2;
    int climbs = path[0] == '/' || !strncmp(path, "../", 3) || strstr(path, "/../") != NULL;
    if (climbs) {
        const char *base = strrchr(path, '/');
        path = base ? base + 1 : path;
    }
    lm_code_header(path, out, cap);
}

/* ---- fill in the middle ---- */

static int32_t find_special(const lm_tokenizer *tok, const char *a, const char *b) {
    for (int i = 0; i < tok->n_vocab; i++) {
        if (tok->type[i] != LM_TOKTYPE_CONTROL && tok->type[i] != 4 /* user-defined */) continue;
        if (!strcmp(tok->piece[i], a) || (b && !strcmp(tok->piece[i], b))) return i;
    }
    return -1;
}

int lm_fim_find(const lm_tokenizer *tok, lm_fim_ids *f) {
    f->prefix = find_special(tok, "<|fim_prefix|>", "<fim_prefix>");
    f->suffix = find_special(tok, "<|fim_suffix|>", "<fim_suffix>");
    f->middle = find_special(tok, "<|fim_middle|>", "<fim_middle>");
    return f->prefix >= 0 && f->suffix >= 0 && f->middle >= 0;
}

static size_t pieces_len(const lm_tokenizer *tok, const int32_t *ids, int n) {
    size_t s = 0;
    for (int i = 0; i < n; i++) s += (size_t)tok->piece_len[ids[i]];
    return s;
}

loom_status lm_complete_prompt(const lm_tokenizer *tok, const lm_fim_ids *f, const char *header, const char *prefix,
                               size_t npre, const char *suffix, size_t nsuf, int budget, int32_t **ids, int *n,
                               size_t *dropped_prefix, size_t *dropped_suffix, lm_error *err) {
    *ids = NULL;
    *n = 0;
    *dropped_prefix = *dropped_suffix = 0;
    int32_t *h = NULL;
    int nh = 0;
    if (header && *header) {
        loom_status st = lm_encode_text(tok, header, strlen(header), &h, &nh, err);
        if (st) return st;
        if (nh > budget / 4) nh = 0; /* a path too long to be worth its room */
    }
    int fixed = (f ? 3 : 0) + nh;
    if (budget - fixed < 1) {
        free(h);
        return lm_fail(err, LOOM_ERR_ARG, "the context (%d tokens for the prompt) is too small to complete in", budget);
    }
    /* Only the prefix's end and the suffix's start can be used, and a token holds at least one
     * byte: no need to encode more than that of a large file. */
    size_t cap = (size_t)budget * 64;
    size_t pre_skip = npre > cap ? npre - cap : 0, suf_take = nsuf > cap ? cap : nsuf;
    if (!f) suf_take = 0;
    int32_t *p = NULL, *s = NULL;
    int np = 0, ns = 0;
    loom_status st = lm_encode_text(tok, prefix + pre_skip, npre - pre_skip, &p, &np, err);
    if (!st && f) st = lm_encode_text(tok, suffix, suf_take, &s, &ns, err);
    if (st) {
        free(h);
        free(p);
        free(s);
        return st;
    }
    int avail = budget - fixed;
    int keep_s = 0;
    if (f) {
        /* the suffix gets up to half, or whatever the prefix leaves */
        int half = avail / 2, room = avail - np;
        keep_s = ns < (half > room ? half : room) ? ns : (half > room ? half : room);
    }
    int keep_p = np < avail - keep_s ? np : avail - keep_s;
    *dropped_prefix = pre_skip + pieces_len(tok, p, np - keep_p);
    *dropped_suffix = f ? (nsuf - suf_take) + pieces_len(tok, s + keep_s, ns - keep_s) : 0;
    /* a leading <|endoftext|> says "a file starts here", true only when the whole prefix is in */
    int lead = tok->eot >= 0 && *dropped_prefix == 0 && fixed + keep_p + keep_s + 1 <= budget;
    int total = lead + fixed + keep_p + keep_s;
    if (total == 0) {
        free(h);
        free(p);
        free(s);
        return lm_fail(err, LOOM_ERR_ARG, "nothing to complete from: the text before the cursor is empty");
    }
    int32_t *out = malloc((size_t)total * sizeof *out);
    if (!out) {
        free(h);
        free(p);
        free(s);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    int k = 0;
    if (lead) out[k++] = tok->eot;
    if (nh) memcpy(out + k, h, (size_t)nh * sizeof *out);
    k += nh;
    if (f) out[k++] = f->prefix;
    memcpy(out + k, p + (np - keep_p), (size_t)keep_p * sizeof *out);
    k += keep_p;
    if (f) {
        out[k++] = f->suffix;
        memcpy(out + k, s, (size_t)keep_s * sizeof *out);
        k += keep_s;
        out[k++] = f->middle;
    }
    free(h);
    free(p);
    free(s);
    *ids = out;
    *n = k;
    return LOOM_OK;
}

/* ---- candidates ---- */

static loom_status infer_eval(void *ud, int n_keep, const int32_t *ids, int n, float *logits, lm_error *err) {
    lm_infer *s = ud;
    if (lm_infer_truncate(s, n_keep))
        return lm_fail(err, LOOM_ERR_ARG, "cannot keep %d positions of %lld", n_keep, (long long)s->n_past);
    return lm_infer_eval(s, ids, n, logits, 0, err);
}

void lm_complete_model_infer(lm_complete_model *m, lm_infer *s) {
    m->ud = s;
    m->n_vocab = s->m->cfg.vocab;
    m->n_ctx = s->n_ctx;
    m->eval = infer_eval;
}

const char *lm_complete_stop_name(lm_complete_stop s) {
    switch (s) {
    case LM_CSTOP_BOUNDARY: return "boundary";
    case LM_CSTOP_END: return "end";
    case LM_CSTOP_LINES: return "lines";
    case LM_CSTOP_LENGTH: return "length";
    default: return "context";
    }
}

static int by_score(const void *a, const void *b) {
    const lm_candidate *x = a, *y = b;
    if (x->mean_logprob != y->mean_logprob) return x->mean_logprob > y->mean_logprob ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void lm_candidates_rank(lm_candidate *c, int n) {
    if (n > 1) qsort(c, (size_t)n, sizeof *c, by_score);
}

void lm_complete_result_free(lm_complete_result *r) {
    for (int i = 0; i < r->n; i++) free(r->cand[i].text);
    free(r->cand);
    memset(r, 0, sizeof *r);
}

/* log softmax(logits)[id] at temperature 1, in double (NaN counts as impossible). */
static double log_prob(const float *logits, int n, int32_t id) {
    double mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    if (!isfinite(mx)) return -log((double)n);
    double s = 0;
    for (int i = 0; i < n; i++)
        if (logits[i] == logits[i]) s += exp((double)logits[i] - mx);
    double l = logits[id];
    return l == l ? l - mx - log(s) : -INFINITY;
}

/* Length of text[0..n) without a trailing UTF-8 sequence that was cut short. */
static size_t utf8_whole(const char *t, size_t n) {
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)t[n - back];
        if ((c & 0xC0) == 0x80) continue; /* a continuation byte: look further back */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

static int suffix_has_code(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 1;
    return 0;
}

typedef struct gen_buf {
    char *p;
    size_t n, cap;
} gen_buf;

static int buf_add(gen_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* Token healing: a prompt that ends inside what training text held as one token (a cursor
 * before a line's newline leaves ")" ":" where the model saw "):\n") puts the model somewhere
 * it has never been. So the prompt's last few tokens are taken back, and the first tokens
 * sampled must spell them out again (in whatever tokens the model likes); those bytes are
 * not part of the completion, and the tokens that lie wholly inside them are not scored. */
#define HEAL_TOKENS 3
#define HEAL_BYTES 64

typedef struct heal {
    char text[HEAL_BYTES];
    size_t len; /* 0: no healing */
} heal;

/* Masks the tokens that cannot continue the healed text from byte `done` on: a token must
 * either lie within what is left of it or start with all of it. */
static void heal_mask(const lm_tokenizer *tok, const heal *h, size_t done, float *logits, int n_vocab) {
    const char *rest = h->text + done;
    size_t left = h->len - done;
    for (int i = 0; i < n_vocab; i++) {
        size_t pl = (size_t)tok->piece_len[i];
        int ok = tok->type[i] != LM_TOKTYPE_CONTROL && pl > 0 && !memcmp(tok->piece[i], rest, pl < left ? pl : left);
        if (!ok) logits[i] = -INFINITY;
    }
}

/* One candidate: sample from logits (the prompt's, copied), step the model, stop at a boundary. */
static loom_status one_candidate(const lm_complete_model *m, const lm_tokenizer *tok, const lm_boundary *bd,
                                 const int32_t *prompt, int n_prompt, const heal *h, const float *logits0,
                                 float *logits, const lm_complete_opts *o, int k, lm_candidate *c, lm_error *err) {
    lm_sampler_params sp = o->sampling;
    if (o->greedy_first && k == 0) sp.temperature = 0;
    sp.seed = o->sampling.seed + (uint64_t)k;
    lm_sampler *smp = NULL;
    loom_status st = lm_sampler_create(&smp, &sp, m->n_vocab, err);
    if (st) return st;
    for (int i = 0; i < n_prompt; i++) lm_sampler_accept(smp, prompt[i]);
    memcpy(logits, logits0, (size_t)m->n_vocab * sizeof *logits);
    gen_buf b = {0};
    size_t skip = h->len; /* the healed bytes at the start of b */
    double sum = 0;
    int n_past = n_prompt, lines = 0;
    size_t keep = 0;
    c->stop = LM_CSTOP_LENGTH;
    for (;;) {
        if (b.n < skip) heal_mask(tok, h, b.n, logits, m->n_vocab);
        int32_t id = lm_sampler_sample(smp, logits, NULL, 0);
        double lp = log_prob(logits, m->n_vocab, id);
        if (id < 0 || id >= tok->n_vocab || id == tok->eot || tok->type[id] == LM_TOKTYPE_CONTROL) {
            sum += lp;
            c->n_tokens++;
            c->stop = LM_CSTOP_END; /* <|endoftext|>, a FIM token (the middle is over), any control token */
            break;
        }
        size_t before = b.n > skip ? b.n : skip;
        if (buf_add(&b, tok->piece[id], (size_t)tok->piece_len[id])) {
            st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
            goto done;
        }
        if (b.n > skip) { /* a token of the completion (not only the healed prompt) */
            sum += lp;
            c->n_tokens++;
        }
        int64_t cut = b.n > skip ? lm_boundary_find(bd, b.p + skip, b.n - skip) : -1;
        if (cut >= 0) {
            keep = (size_t)cut;
            c->stop = LM_CSTOP_BOUNDARY;
            goto cut_done;
        }
        if (o->max_lines > 0) {
            for (size_t i = before; i < b.n; i++)
                if (b.p[i] == '\n' && ++lines == o->max_lines) {
                    keep = i + 1 - skip;
                    c->stop = LM_CSTOP_LINES;
                    goto cut_done;
                }
        }
        if (c->n_tokens == o->max_tokens) break;
        if (n_past >= m->n_ctx) {
            c->stop = LM_CSTOP_CONTEXT;
            break;
        }
        lm_sampler_accept(smp, id);
        if ((st = m->eval(m->ud, n_past, &id, 1, logits, err))) goto done;
        n_past++;
    }
    if (b.n <= skip) keep = 0;
    else if (c->stop == LM_CSTOP_END) keep = lm_boundary_final(bd, b.p + skip, b.n - skip);
    else keep = lm_boundary_whole(bd, b.p + skip, b.n - skip); /* cut short: whole statements only */
cut_done:
    keep = keep ? utf8_whole(b.p + skip, keep) : 0;
    c->text = malloc(keep + 1);
    if (!c->text) {
        st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (keep) memcpy(c->text, b.p + skip, keep);
    c->text[keep] = 0;
    c->len = keep;
    c->mean_logprob = c->n_tokens ? sum / c->n_tokens : -INFINITY;
    c->index = k;
done:
    free(b.p);
    lm_sampler_free(smp);
    return st;
}

loom_status lm_complete(const lm_complete_model *m, const lm_tokenizer *tok, const char *prefix, size_t npre,
                        const char *suffix, size_t nsuf, const lm_complete_opts *o, lm_complete_result *r,
                        lm_error *err) {
    memset(r, 0, sizeof *r);
    if (o->n_candidates < 1 || o->n_candidates > 1000)
        return lm_fail(err, LOOM_ERR_ARG, "-n must be from 1 to 1000, not %d", o->n_candidates);
    if (o->max_tokens < 1) return lm_fail(err, LOOM_ERR_ARG, "--max-tokens must be 1 or more, not %d", o->max_tokens);
    if (tok->n_vocab != m->n_vocab)
        return lm_fail(err, LOOM_ERR_FORMAT, "the tokenizer has %d tokens but the model %d", tok->n_vocab, m->n_vocab);
    loom_status st = lm_sampler_check(&o->sampling, err);
    if (st) return st;
    lm_fim_ids f;
    int have_fim = lm_fim_find(tok, &f);
    int code_after = suffix && suffix_has_code(suffix, nsuf);
    r->fim = o->use_fim && code_after && have_fim;
    r->fim_missing = o->use_fim && code_after && !have_fim;
    /* room to generate: up to max_tokens, but the prompt keeps at least half the context */
    int reserve = o->max_tokens < m->n_ctx / 2 ? o->max_tokens : m->n_ctx / 2;
    int32_t *prompt = NULL;
    int n_prompt = 0;
    if ((st = lm_complete_prompt(tok, r->fim ? &f : NULL, o->header, prefix, npre, suffix, nsuf, m->n_ctx - reserve,
                                 &prompt, &n_prompt, &r->dropped_prefix, &r->dropped_suffix, err)))
        return st;
    r->n_prompt = n_prompt;
    lm_boundary bd;
    lm_boundary_init(&bd, o->lang, prefix, npre, r->fim);
    float *logits0 = malloc((size_t)m->n_vocab * sizeof(float));
    float *logits = malloc((size_t)m->n_vocab * sizeof(float));
    r->cand = calloc((size_t)o->n_candidates, sizeof *r->cand);
    if (!logits0 || !logits || !r->cand) {
        st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* Left to right, heal the prompt's last tokens (with fill in the middle, training split
     * prefixes at any byte, so a prefix that ends inside a token is familiar). */
    heal h = {.len = 0};
    if (!r->fim) {
        int taken = 0;
        while (taken < HEAL_TOKENS && n_prompt > 1) {
            int32_t id = prompt[n_prompt - 1];
            if (id < 0 || id >= tok->n_vocab || tok->type[id] == LM_TOKTYPE_CONTROL || tok->piece_len[id] < 1 ||
                h.len + (size_t)tok->piece_len[id] > HEAL_BYTES)
                break;
            memmove(h.text + tok->piece_len[id], h.text, h.len);
            memcpy(h.text, tok->piece[id], (size_t)tok->piece_len[id]);
            h.len += (size_t)tok->piece_len[id];
            n_prompt--;
            taken++;
        }
        r->n_prompt = n_prompt;
    }
    /* the prompt is evaluated once; every candidate goes on from its end */
    if ((st = m->eval(m->ud, 0, prompt, n_prompt, logits0, err))) goto done;
    for (int k = 0; k < o->n_candidates; k++) {
        if ((st = one_candidate(m, tok, &bd, prompt, n_prompt, &h, logits0, logits, o, k, &r->cand[k], err))) goto done;
        r->n++;
        lm_candidate *c = &r->cand[k];
        /* a middle that runs on into a copy of the suffix: the copy goes */
        if (r->fim && c->stop != LM_CSTOP_END)
            for (size_t p = 0; p < c->len; p++) {
                int line_start = p == 0 || c->text[p - 1] == '\n' || (c->text[p] == '\n' && suffix[0] == '\n');
                size_t rest = c->len - p;
                if (line_start && rest <= nsuf && !memcmp(c->text + p, suffix, rest) &&
                    suffix_has_code(c->text + p, rest)) {
                    c->text[c->len = p] = 0;
                    break;
                }
            }
        /* mid-line fill-in: the suffix already starts with the line's newline */
        if (r->fim && c->len && c->text[c->len - 1] == '\n' && nsuf && suffix[0] == '\n' && npre &&
            prefix[npre - 1] != '\n')
            c->text[--c->len] = 0;
    }
    lm_candidates_rank(r->cand, r->n);
done:
    if (st) lm_complete_result_free(r);
    free(prompt);
    free(logits0);
    free(logits);
    return st;
}

loom_status lm_read_source(const char *path, char **text, size_t *len, lm_error *err) {
    uint8_t *b;
    loom_status st = lm_read_file(path, 64u << 20, &b, len, err);
    if (st) return st;
    if (lm_looks_binary(b, *len)) {
        free(b);
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' looks like binary data, not source code (give a text file)", path);
    }
    *text = (char *)b;
    return LOOM_OK;
}
