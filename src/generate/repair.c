#define _GNU_SOURCE /* pipe2 */
#include "generate/repair.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PARSE_TIMEOUT_MS 60000 /* a parser that takes longer is stuck (or fed something absurd) */
#define OUT_MAX (1 << 16)      /* parser output kept; the rest is read and dropped */

/* One line per file: "ok", or "error LINE MESSAGE". ast.parse only builds the syntax tree:
 * nothing in the file runs. Bytes go in as they are, so a coding declaration is honoured. */
static const char PY_SCRIPT[] =
    "import ast, sys\n"
    "for p in sys.argv[1:]:\n"
    "    try:\n"
    "        with open(p, 'rb') as f:\n"
    "            ast.parse(f.read(), p)\n"
    "        print('ok', flush=True)\n"
    "    except SyntaxError as e:\n"
    "        print('error', e.lineno or 0, (e.msg or 'invalid syntax').replace('\\n', ' '), flush=True)\n"
    "    except Exception as e:\n"
    "        print('error', 0, type(e).__name__ + ': ' + str(e).replace('\\n', ' '), flush=True)\n";

int lm_repair_supported(lm_lang lang) { return lang == LM_LANG_PYTHON || lang == LM_LANG_C; }

const char *lm_parser_name(lm_lang lang) {
    return lang == LM_LANG_PYTHON ? "python3 ast.parse" : lang == LM_LANG_C ? "gcc -fsyntax-only" : "no parser";
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The environment with LC_ALL=C, so that gcc says "error:" in English whatever the locale. */
static char **c_locale_env(void) {
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **e = malloc((n + 2) * sizeof *e);
    if (!e) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LC_ALL=", 7) && strncmp(environ[i], "LANGUAGE=", 9)) e[k++] = environ[i];
    e[k++] = "LC_ALL=C";
    e[k] = NULL;
    return e;
}

/* Runs argv[0] (looked up on PATH) with standard input from /dev/null; *out receives its
 * standard output and error (NUL-terminated), *status its wait status. hint finishes the
 * message when the program is missing. */
static loom_status run_capture(char *const *argv, const char *hint, char **out, size_t *out_len, int *status,
                               lm_error *err) {
    *out = NULL;
    *out_len = 0;
    int fd[2];
    if (pipe2(fd, O_CLOEXEC)) return lm_fail(err, LOOM_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    char **env = c_locale_env();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
    pid_t pid;
    int rc = env ? posix_spawnp(&pid, argv[0], &fa, NULL, argv, env) : ENOMEM;
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(fd[1]);
    if (rc) {
        close(fd[0]);
        if (rc == ENOENT) return lm_fail(err, LOOM_ERR_IO, "%s was not found on PATH (%s)", argv[0], hint);
        return lm_fail(err, LOOM_ERR_IO, "cannot run %s: %s (%s)", argv[0], strerror(rc), hint);
    }
    char *buf = malloc(OUT_MAX + 1);
    size_t n = 0;
    int timed_out = 0;
    long long deadline = now_ms() + PARSE_TIMEOUT_MS;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd p = {fd[0], POLLIN, 0};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        char tmp[4096];
        ssize_t got = read(fd[0], tmp, sizeof tmp);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        size_t take = buf && n < OUT_MAX ? (size_t)got < OUT_MAX - n ? (size_t)got : OUT_MAX - n : 0;
        if (take) memcpy(buf + n, tmp, take);
        n += take;
    }
    close(fd[0]);
    if (timed_out) kill(pid, SIGKILL);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (!buf) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    buf[n] = 0;
    if (timed_out) {
        free(buf);
        return lm_fail(err, LOOM_ERR_IO, "%s took more than %d s; stopped it", argv[0], PARSE_TIMEOUT_MS / 1000);
    }
    *out = buf;
    *out_len = n;
    *status = ws;
    return LOOM_OK;
}

static void set_msg(lm_parse_result *r, const char *s, size_t n) {
    if (n >= sizeof r->msg) n = sizeof r->msg - 1;
    memcpy(r->msg, s, n);
    r->msg[n] = 0;
}

/* The last non-empty line of out, for an error message. */
static void last_line(const char *out, size_t n, char *dst, size_t cap) {
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) n--;
    size_t s = n;
    while (s > 0 && out[s - 1] != '\n') s--;
    size_t k = n - s < cap - 1 ? n - s : cap - 1;
    memcpy(dst, out + s, k);
    dst[k] = 0;
}

static const char PY_HINT[] = "fix checks Python files with python3's ast module: install python3 or put it on PATH";
static const char GCC_HINT[] = "fix checks C files with gcc -fsyntax-only: install gcc or put it on PATH";

static loom_status parse_python(const char *const *paths, int n, lm_parse_result *res, lm_error *err) {
    /* -I: isolated (no PYTHON* variables, no user site, the current folder not on the import
     * path, so a stray ast.py cannot be imported); -S: no site module (no .pth files run) */
    char **argv = malloc(((size_t)n + 6) * sizeof *argv);
    if (!argv) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    int k = 0;
    argv[k++] = "python3";
    argv[k++] = "-I";
    argv[k++] = "-S";
    argv[k++] = "-c";
    argv[k++] = (char *)PY_SCRIPT;
    for (int i = 0; i < n; i++) argv[k++] = (char *)paths[i];
    argv[k] = NULL;
    char *out;
    size_t len;
    int ws;
    loom_status st = run_capture(argv, PY_HINT, &out, &len, &ws, err);
    free(argv);
    if (st) return st;
    const char *p = out;
    int i = 0;
    for (; i < n && *p; i++) {
        const char *e = strchr(p, '\n');
        size_t ll = e ? (size_t)(e - p) : strlen(p);
        memset(&res[i], 0, sizeof res[i]);
        if (ll == 2 && !memcmp(p, "ok", 2)) {
            res[i].ok = 1;
        } else if (ll > 6 && !memcmp(p, "error ", 6)) {
            char *q;
            long line = strtol(p + 6, &q, 10);
            res[i].line = line > 0 && line < (1L << 30) ? (int)line : 0;
            while (q < p + ll && *q == ' ') q++;
            set_msg(&res[i], q, (size_t)(p + ll - q));
        } else {
            break;
        }
        p = e ? e + 1 : p + ll;
    }
    if (i < n || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        char last[200];
        last_line(out, len, last, sizeof last);
        free(out);
        return lm_fail(err, LOOM_ERR_IO, "python3 could not check the file%s%s (%s)", last[0] ? ": " : "", last,
                       PY_HINT);
    }
    free(out);
    return LOOM_OK;
}

/* gcc's first "PATH:LINE:COL: error: MSG" (or "fatal error:") about the file itself. */
static void gcc_first_error(const char *out, const char *path, lm_parse_result *r) {
    size_t pl = strlen(path);
    for (const char *p = out; *p;) {
        const char *e = strchr(p, '\n');
        size_t ll = e ? (size_t)(e - p) : strlen(p);
        const char *m = NULL;
        for (const char *q = p; q + 6 <= p + ll; q++)
            if (!memcmp(q, "error:", 6)) {
                m = q;
                break;
            }
        if (m) {
            r->fatal = m >= p + 6 && !memcmp(m - 6, "fatal ", 6);
            const char *msg = m + 6;
            while (*msg == ' ') msg++;
            set_msg(r, msg, (size_t)(p + ll - msg));
            if (ll > pl && !memcmp(p, path, pl) && p[pl] == ':') {
                long line = strtol(p + pl + 1, NULL, 10);
                r->line = line > 0 && line < (1L << 30) ? (int)line : 0;
            }
            return;
        }
        p = e ? e + 1 : p + ll;
    }
    last_line(out, strlen(out), r->msg, sizeof r->msg);
}

static loom_status parse_c(const char *path, const char *include_dir, lm_parse_result *res, lm_error *err) {
    char *argv[12];
    int k = 0;
    argv[k++] = "gcc";
    argv[k++] = "-fsyntax-only";
    argv[k++] = "-w"; /* warnings are not errors: say nothing of them */
    argv[k++] = "-fmax-errors=1";
    argv[k++] = "-x";
    argv[k++] = "c";
    if (include_dir) {
        argv[k++] = "-iquote";
        argv[k++] = (char *)include_dir;
    }
    argv[k++] = (char *)path;
    argv[k] = NULL;
    char *out;
    size_t len;
    int ws;
    loom_status st = run_capture(argv, GCC_HINT, &out, &len, &ws, err);
    if (st) return st;
    memset(res, 0, sizeof *res);
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
        res->ok = 1;
    } else if (WIFEXITED(ws) && WEXITSTATUS(ws) == 1) {
        gcc_first_error(out, path, res);
    } else {
        char last[200];
        last_line(out, len, last, sizeof last);
        free(out);
        return lm_fail(err, LOOM_ERR_IO, "gcc could not check the file%s%s (%s)", last[0] ? ": " : "", last, GCC_HINT);
    }
    free(out);
    return LOOM_OK;
}

static loom_status parse_files(lm_lang lang, const char *const *paths, int n, const char *include_dir,
                               lm_parse_result *res, lm_error *err) {
    if (lang == LM_LANG_PYTHON) return parse_python(paths, n, res, err);
    if (lang != LM_LANG_C) return lm_fail(err, LOOM_ERR_ARG, "fix checks Python and C files, not %s", lm_lang_name(lang));
    for (int i = 0; i < n; i++) {
        loom_status st = parse_c(paths[i], include_dir, &res[i], err);
        if (st) return st;
    }
    return LOOM_OK;
}

/* Writes text to a new temporary file with the language's extension. */
static loom_status write_temp(lm_lang lang, const char *text, size_t n, char **path, lm_error *err) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    const char *ext = lang == LM_LANG_PYTHON ? ".py" : ".c";
    size_t cap = strlen(dir) + 32;
    char *p = malloc(cap);
    if (!p) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    snprintf(p, cap, "%s/loom_fix_XXXXXX%s", dir, ext);
    int fd = mkstemps(p, (int)strlen(ext));
    if (fd < 0) {
        loom_status st = lm_fail(err, LOOM_ERR_IO, "cannot create a temporary file in %s: %s (set TMPDIR)", dir,
                                 strerror(errno));
        free(p);
        return st;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    if (close(fd) != 0 || done < n) {
        loom_status st = lm_fail(err, LOOM_ERR_IO, "cannot write the temporary file %s", p);
        unlink(p);
        free(p);
        return st;
    }
    *path = p;
    return LOOM_OK;
}

loom_status lm_parse_text(lm_lang lang, const char *text, size_t n, const char *include_dir, lm_parse_result *res,
                          lm_error *err) {
    if (!lm_repair_supported(lang))
        return lm_fail(err, LOOM_ERR_ARG, "fix checks Python and C files, not %s", lm_lang_name(lang));
    char *path;
    loom_status st = write_temp(lang, text, n, &path, err);
    if (st) return st;
    const char *paths[1] = {path};
    st = parse_files(lang, paths, 1, include_dir, res, err);
    unlink(path);
    free(path);
    return st;
}

/* ---- repair ---- */

static int has_code(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 1;
    return 0;
}

typedef struct fix_cand {
    char *text;
    size_t len;
    double score;
    int first, count; /* the region */
    int order;        /* found order: ties go to the earlier region */
    size_t mid, mid_len; /* the infill within text */
} fix_cand;

static int by_fix_score(const void *a, const void *b) {
    const fix_cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

void lm_repair_result_free(lm_repair_result *r) {
    for (int i = 0; i < r->n_cands; i++) free(r->cands[i].infill);
    free(r->cands);
    free(r->text);
    memset(r, 0, sizeof *r);
}

/* Leading blanks of the line at s (tabs to multiples of 8); -1 for a blank line. */
static int line_indent(const char *s, size_t n) {
    int w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') w++;
        else if (s[i] == '\t') w = w / 8 * 8 + 8;
        else return s[i] == '\n' || s[i] == '\r' ? -1 : w;
    }
    return -1;
}

/* The regions to rewrite, as {first line, lines} (0 lines: insert before first). */
static int choose_regions(const char *src, const size_t *off, int nl, const lm_parse_result *pr, lm_lang lang,
                          int regions[][2]) {
    int nr = 0;
    if (nl == 0) {
        regions[nr][0] = 1, regions[nr++][1] = 0;
        return nr;
    }
    int L = pr->line < 1 || pr->line > nl ? nl : pr->line;
    regions[nr][0] = L, regions[nr++][1] = 1;
    regions[nr][0] = L, regions[nr++][1] = 0;
    if (L > 1) regions[nr][0] = L - 1, regions[nr++][1] = 2;
    if (L < nl) regions[nr][0] = L, regions[nr++][1] = 2;
    /* the end of the file: what is missing may belong after the last line (a closing brace) */
    if (L == nl) regions[nr][0] = nl + 1, regions[nr++][1] = 0;
    /* Python reports a bracket that is never closed on the line that opens it: the closing
     * bracket belongs before the next line that starts at or below that line's indentation */
    if (lang == LM_LANG_PYTHON && strstr(pr->msg, "never closed")) {
        int ind = line_indent(src + off[L - 1], off[L] - off[L - 1]);
        for (int j = L + 1; j <= nl && ind >= 0; j++) {
            int w = line_indent(src + off[j - 1], off[j] - off[j - 1]);
            if (w >= 0 && w <= ind) {
                regions[nr][0] = j, regions[nr++][1] = 0;
                break;
            }
        }
    }
    return nr;
}

loom_status lm_repair(const lm_complete_model *m, const lm_tokenizer *tok, const char *src, size_t n,
                      const lm_parse_result *pr, const lm_repair_opts *o, lm_repair_result *r, lm_error *err) {
    memset(r, 0, sizeof *r);
    if (!lm_repair_supported(o->lang))
        return lm_fail(err, LOOM_ERR_ARG, "fix checks Python and C files, not %s", lm_lang_name(o->lang));
    /* line i (0-based) spans off[i] .. off[i+1] */
    int nl = 0;
    for (size_t i = 0; i < n; i++) nl += src[i] == '\n';
    if (n && src[n - 1] != '\n') nl++;
    size_t *off = malloc(((size_t)nl + 1) * sizeof *off);
    if (!off) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    int k = 0;
    off[0] = 0;
    for (size_t i = 0; i < n; i++)
        if (src[i] == '\n') off[++k] = i + 1;
    off[nl] = n;
    int regions[8][2];
    int nr = choose_regions(src, off, nl, pr, o->lang, regions);
    fix_cand *fc = NULL;
    int nfc = 0;
    char **paths = NULL;
    lm_parse_result *res = NULL;
    loom_status st = LOOM_OK;
    fc = calloc((size_t)nr * (size_t)o->n_samples + 1, sizeof *fc);
    if (!fc) {
        st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int ri = 0; ri < nr; ri++) {
        int first = regions[ri][0], count = regions[ri][1];
        size_t start = off[first - 1], end = off[first - 1 + count]; /* first may be nl + 1 (count 0) */
        lm_complete_opts co = {
            .lang = LM_LANG_TEXT, /* no block boundaries: the suffix says where the infill ends */
            .n_candidates = o->n_samples,
            .max_tokens = o->max_tokens,
            .max_lines = count + 2,
            .greedy_first = 1,
            .use_fim = 1,
            .header = o->header,
            .sampling = o->sampling,
        };
        lm_complete_result cr;
        if ((st = lm_complete(m, tok, src, start, src + end, n - end, &co, &cr, err))) goto done;
        r->fim |= cr.fim;
        r->fim_missing |= cr.fim_missing;
        /* the region is whole lines: the infill must end with a newline before more text */
        int need_nl = (end > start && src[end - 1] == '\n') || end < n;
        for (int i = 0; i < cr.n; i++) {
            lm_candidate *c = &cr.cand[i];
            r->n_tried++;
            int add_nl = c->len && need_nl && c->text[c->len - 1] != '\n';
            size_t mlen = c->len + (size_t)add_nl;
            if (mlen == end - start && !memcmp(c->text, src + start, c->len) && (!add_nl || src[end - 1] == '\n'))
                continue; /* the region as it was */
            if (!has_code(c->text, c->len) && (count != 1 || mlen == 0))
                continue; /* deleting code is not repairing it (a line may become blank) */
            size_t len = start + mlen + (n - end);
            char *t = malloc(len + 1);
            if (!t) {
                lm_complete_result_free(&cr);
                st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
                goto done;
            }
            memcpy(t, src, start);
            memcpy(t + start, c->text, c->len);
            if (add_nl) t[start + c->len] = '\n';
            memcpy(t + start + mlen, src + end, n - end);
            t[len] = 0;
            int dup = -1;
            for (int j = 0; j < nfc && dup < 0; j++)
                if (fc[j].len == len && !memcmp(fc[j].text, t, len)) dup = j;
            if (dup >= 0) {
                /* the same file from another region: keep the likelier infill's score */
                if (c->mean_logprob > fc[dup].score)
                    fc[dup].score = c->mean_logprob, fc[dup].first = first, fc[dup].count = count,
                    fc[dup].mid = start, fc[dup].mid_len = mlen;
                free(t);
                continue;
            }
            fc[nfc] = (fix_cand){t, len, c->mean_logprob, first, count, nfc, start, mlen};
            nfc++;
        }
        lm_complete_result_free(&cr);
    }
    r->n_distinct = nfc;
    if (nfc == 0) goto done;
    qsort(fc, (size_t)nfc, sizeof *fc, by_fix_score);
    paths = calloc((size_t)nfc, sizeof *paths);
    res = calloc((size_t)nfc, sizeof *res);
    if (!paths || !res) {
        st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nfc; i++)
        if ((st = write_temp(o->lang, fc[i].text, fc[i].len, &paths[i], err))) goto done;
    if ((st = parse_files(o->lang, (const char *const *)paths, nfc, o->include_dir, res, err))) goto done;
    r->cands = calloc((size_t)nfc, sizeof *r->cands);
    if (!r->cands) {
        st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nfc; i++) {
        lm_repair_cand *rc = &r->cands[r->n_cands];
        rc->infill = malloc(fc[i].mid_len + 1);
        if (!rc->infill) {
            st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(rc->infill, fc[i].text + fc[i].mid, fc[i].mid_len);
        rc->infill[fc[i].mid_len] = 0;
        rc->infill_len = fc[i].mid_len;
        rc->first_line = fc[i].first;
        rc->n_lines = fc[i].count;
        rc->mean_logprob = fc[i].score;
        rc->parses = res[i].ok;
        r->n_cands++;
    }
    for (int i = 0; i < nfc; i++) {
        if (!res[i].ok) continue;
        r->n_parsed++;
        if (r->fixed) continue;
        r->fixed = 1;
        r->text = fc[i].text;
        r->len = fc[i].len;
        fc[i].text = NULL;
        r->first_line = fc[i].first;
        r->n_lines = fc[i].count;
        r->mean_logprob = fc[i].score;
    }
done:
    if (paths)
        for (int i = 0; i < nfc; i++)
            if (paths[i]) {
                unlink(paths[i]);
                free(paths[i]);
            }
    free(paths);
    free(res);
    if (fc)
        for (int i = 0; i < nfc; i++) free(fc[i].text);
    free(fc);
    free(off);
    if (st) lm_repair_result_free(r);
    return st;
}

/* ---- unified diff ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    sb_add(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

typedef struct span {
    const char *p;
    size_t n; /* with its newline, if it has one */
} span;

static span *split_lines(const char *s, size_t n, int *count) {
    int c = 0;
    for (size_t i = 0; i < n; i++) c += s[i] == '\n';
    if (n && s[n - 1] != '\n') c++;
    span *v = malloc(((size_t)c + 1) * sizeof *v);
    if (!v) return NULL;
    int k = 0;
    size_t st = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n') {
            v[k++] = (span){s + st, i + 1 - st};
            st = i + 1;
        }
    if (st < n) v[k++] = (span){s + st, n - st};
    *count = c;
    return v;
}

static int same(span a, span b) { return a.n == b.n && !memcmp(a.p, b.p, a.n); }

static void diff_line(sbuf *b, char mark, span l) {
    sb_add(b, &mark, 1);
    sb_add(b, l.p, l.n);
    if (!l.n || l.p[l.n - 1] != '\n') sb_add(b, "\n\\ No newline at end of file\n", 29);
}

char *lm_unified_diff(const char *a, size_t na, const char *b, size_t nb, const char *name_a, const char *name_b,
                      int context) {
    int la = 0, lb = 0;
    span *A = split_lines(a, na, &la), *B = split_lines(b, nb, &lb);
    sbuf out = {0};
    sb_add(&out, "", 0);
    if (!A || !B) out.oom = 1;
    if (out.oom) goto done;
    int pre = 0, suf = 0;
    while (pre < la && pre < lb && same(A[pre], B[pre])) pre++;
    if (pre == la && pre == lb) goto done; /* equal */
    while (suf < la - pre && suf < lb - pre && same(A[la - 1 - suf], B[lb - 1 - suf])) suf++;
    if (context < 0) context = 0;
    int h0 = pre > context ? pre - context : 0;
    int after = suf < context ? suf : context;
    int len_a = la - suf + after - h0, len_b = lb - suf + after - h0;
    sb_printf(&out, "--- %s\n+++ %s\n", name_a, name_b);
    /* an empty range is numbered by the line before it, as diff -u does */
    sb_printf(&out, "@@ -%d,%d +%d,%d @@\n", len_a ? h0 + 1 : h0, len_a, len_b ? h0 + 1 : h0, len_b);
    for (int i = h0; i < pre; i++) diff_line(&out, ' ', A[i]);
    for (int i = pre; i < la - suf; i++) diff_line(&out, '-', A[i]);
    for (int i = pre; i < lb - suf; i++) diff_line(&out, '+', B[i]);
    for (int i = la - suf; i < la - suf + after; i++) diff_line(&out, ' ', A[i]);
done:
    free(A);
    free(B);
    if (out.oom) {
        free(out.p);
        return NULL;
    }
    return out.p;
}
