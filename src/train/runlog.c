#include "train/runlog.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/plot.h"
#include "util/io.h"

void lm_curve_push(lm_curve *c, double x, double y) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        double *nx = realloc(c->x, cap * sizeof(double));
        if (!nx) return;
        c->x = nx;
        double *ny = realloc(c->y, cap * sizeof(double));
        if (!ny) return;
        c->y = ny;
        c->cap = cap;
    }
    c->x[c->n] = x;
    c->y[c->n] = y;
    c->n++;
}

void lm_curve_free(lm_curve *c) {
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

loom_status lm_runlog_reload(const char *path, int64_t upto, lm_curve *train, lm_curve *val, lm_error *err) {
    uint8_t *buf;
    size_t len;
    if (lm_read_file(path, 0, &buf, &len, NULL) != LOOM_OK) return LOOM_OK; /* none yet */
    char *out;
    size_t on;
    loom_status s = lm_runlog_reload_mem((const char *)buf, len, upto, train, val, &out, &on, err);
    free(buf);
    if (s) return s;
    s = lm_write_file_atomic(path, out, on, err);
    free(out);
    return s;
}

loom_status lm_runlog_reload_mem(const char *text, size_t len, int64_t upto, lm_curve *train, lm_curve *val,
                                 char **kept, size_t *kept_len, lm_error *err) {
    *kept = NULL;
    *kept_len = 0;
    char *buf = malloc(len + 1), *out = malloc(len + 1); /* buf: a NUL-terminated copy for strtok_r */
    size_t on = 0;
    if (!buf || !out) {
        free(buf);
        free(out);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    if (len) memcpy(buf, text, len);
    buf[len] = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_object *o = json_tokener_parse(line), *v;
        if (!o) continue;
        int64_t step = json_object_object_get_ex(o, "step", &v) ? json_object_get_int64(v) : -1;
        if (step >= 0 && step <= upto) {
            size_t l = strlen(line);
            memcpy(out + on, line, l);
            out[on + l] = '\n';
            on += l + 1;
            if (json_object_object_get_ex(o, "loss", &v)) lm_curve_push(train, (double)step, json_object_get_double(v));
            if (json_object_object_get_ex(o, "val_loss", &v))
                lm_curve_push(val, (double)step, json_object_get_double(v));
        }
        json_object_put(o);
    }
    free(buf);
    *kept = out;
    *kept_len = on;
    return LOOM_OK;
}

loom_status lm_runlog_open(FILE **f, const char *path, int resume, lm_error *err) {
    *f = fopen(path, resume ? "a" : "w");
    if (!*f) return lm_fail(err, LOOM_ERR_IO, "cannot write '%s' (is the --out folder writable?)", path);
    return LOOM_OK;
}

lm_run_step lm_runlog_step(int64_t step, int64_t steps, double run_s, double time_limit_s, int have_val,
                           int64_t eval_every, int64_t log_every) {
    lm_run_step r;
    r.last = step == steps || (time_limit_s > 0 && run_s >= time_limit_s);
    r.eval = have_val && (r.last || (eval_every > 0 && step % eval_every == 0));
    r.log = r.eval || r.last || (log_every > 0 && step % log_every == 0);
    return r;
}

loom_status lm_runlog_check_loss(float loss, int64_t step, lm_progress *pr, lm_error *err) {
    if (isfinite(loss)) return LOOM_OK;
    lm_progress_done(pr);
    return lm_fail(err, LOOM_ERR_DATA, "training diverged at step %lld (loss is %g); try a lower --lr", (long long)step,
                   loss);
}

void lm_runlog_append(FILE *f, json_object *j) {
    fprintf(f, "%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
    fflush(f);
    json_object_put(j);
}

void lm_runlog_status(char *buf, size_t cap, float loss, float val, double rate, int decimals, const char *unit) {
    int k = snprintf(buf, cap, "loss %.4f", loss);
    if (!isnan(val)) k += snprintf(buf + k, cap - (size_t)k, " val %.4f", val);
    snprintf(buf + k, cap - (size_t)k, " | %.*f %s", decimals, rate, unit);
}

void lm_runlog_print_done(FILE *log, int stopped_early, int64_t steps, double secs, float loss) {
    char d[32];
    lm_format_duration(d, sizeof d, secs);
    fprintf(log, "loom: %s after %lld steps in %s: loss %.4f", stopped_early ? "stopped (time limit)" : "done",
            (long long)steps, d, loss);
}

loom_status lm_runlog_plot(const char *dir, const char *title, const char *ylabel, const lm_curve *train,
                           const lm_curve *val, lm_error *err) {
    char *p = lm_path_join(dir, "loss.png");
    if (!p) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    lm_series s[2] = {{"train loss", train->x, train->y, train->n, 0x1f77b4},
                      {"validation loss", val->x, val->y, val->n, 0xd62728}};
    loom_status st = lm_plot_lines(p, title, "step", ylabel, s, val->n ? 2 : 1, err);
    free(p);
    return st;
}

loom_status lm_runlog_summary(const char *dir, json_object *j, lm_error *err) {
    const char *txt = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
    char *p = lm_path_join(dir, "summary.json");
    loom_status s = p ? lm_write_file_atomic(p, txt, strlen(txt), err) : lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    free(p);
    json_object_put(j);
    return s;
}

int lm_runlog_finished(const char *dir, int64_t step) {
    char *p = lm_path_join(dir, "summary.json");
    uint8_t *buf = NULL;
    size_t len = 0;
    int done = 0;
    if (p && lm_read_file(p, 1 << 20, &buf, &len, NULL) == LOOM_OK) {
        json_object *j = json_tokener_parse((const char *)buf), *v;
        done = j && json_object_object_get_ex(j, "steps", &v) && json_object_get_int64(v) == step;
        if (j) json_object_put(j);
    }
    free(buf);
    free(p);
    return done;
}

double lm_curve_last(const lm_curve *c) { return c->n ? c->y[c->n - 1] : NAN; }

/* The PID in file name NAME.tmp.PID, NAME being `name` (or, when it is NULL, anything before the
 * first ".tmp."); 0 when the file is no such temporary. */
static long tmp_writer(const char *file, const char *name) {
    const char *digits;
    if (name) {
        size_t n = strlen(name);
        if (strncmp(file, name, n) != 0 || strncmp(file + n, ".tmp.", 5) != 0) return 0;
        digits = file + n + 5;
    } else {
        const char *t = strstr(file, ".tmp.");
        if (!t || t == file) return 0;
        digits = t + 5;
    }
    char *end;
    long pid = strtol(digits, &end, 10);
    return isdigit((unsigned char)*digits) && !*end && pid > 0 ? pid : 0;
}

void lm_runlog_remove_stale(const char *dir, const char *const *names, size_t n_names) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        for (size_t i = 0; i < (names ? n_names : 1); i++) {
            long pid = tmp_writer(e->d_name, names ? names[i] : NULL);
            if (pid <= 0 || pid == (long)getpid()) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its writer may be alive */
            char *p = lm_path_join(dir, e->d_name);
            if (p) unlink(p);
            free(p);
        }
    }
    closedir(d);
}

int lm_runlog_profile(lm_graph *g) {
    const char *v = getenv("LOOM_PROFILE");
    int on = v && *v && strcmp(v, "0");
    if (on) lm_graph_profile(g, 1);
    return on;
}
