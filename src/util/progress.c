#include "util/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

void lm_format_duration(char *buf, size_t n, double s) {
    if (s < 0) s = 0;
    if (s < 60)
        snprintf(buf, n, "%.1fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void lm_progress_init(lm_progress *p, FILE *out, int mode, int64_t start, int64_t total) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->bar = mode < 0 ? isatty(fileno(out)) : mode;
    p->total = total;
    p->start = start;
    p->t0 = lm_now();
}

void lm_progress_update(lm_progress *p, int64_t step, const char *status, int force) {
    double now = lm_now(), el = now - p->t0;
    if (!p->bar && !force && p->last_line > 0 && now - p->last_line < 10.0) return;
    p->last_line = now;
    int64_t done = step - p->start;
    double eta = done > 0 ? el / (double)done * (double)(p->total - step) : 0;
    char e[32], t[32];
    lm_format_duration(e, sizeof e, eta);
    lm_format_duration(t, sizeof t, el);
    if (p->bar) {
        enum { W = 24 };
        char bar[W + 1];
        int fill = p->total ? (int)(W * step / p->total) : W;
        for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '-';
        bar[W] = 0;
        fprintf(p->out, "\r\033[K%lld/%lld [%s] %s | ETA %s", (long long)step, (long long)p->total, bar, status, e);
        p->drawn = 1;
    } else {
        fprintf(p->out, "step %lld/%lld  %s  elapsed %s  ETA %s\n", (long long)step, (long long)p->total, status, t,
                e);
    }
    fflush(p->out);
}

void lm_progress_note(lm_progress *p, const char *msg) {
    if (p->bar && p->drawn) fprintf(p->out, "\r\033[K");
    fprintf(p->out, "%s\n", msg);
    p->drawn = 0;
    fflush(p->out);
}

void lm_progress_done(lm_progress *p) {
    if (p->bar && p->drawn) fprintf(p->out, "\n");
    p->drawn = 0;
    fflush(p->out);
}
