#include "train/train_classifier.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/optim.h"
#include "util/clock.h"
#include "util/rng.h"

void lm_classifier_train_defaults(lm_classifier_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 3;
    o->batch = 64;
    o->lr = 2e-3f;
    o->warmup = 50;
    o->weight_decay = 0.01f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->clip = 1.0f;
    o->seed = 1;
    o->eval_batch = 250;
}

float lm_classifier_lr_at(const lm_classifier_train_opts *o, int64_t step, int64_t total) {
    int64_t w = o->warmup < total ? o->warmup : 0;
    if (step < w) return o->lr * (float)(step + 1) / (float)w;
    double span = (double)(total - w), t = span > 0 ? (double)(step - w) / span : 0.0;
    return (float)(o->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * t)));
}

static void say(const lm_classifier_train_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const lm_classifier_train_opts *o, const char *fmt, ...) {
    if (!o->log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->log(o->ud, line);
}

/* "1m05s", "42s" */
static void fmt_secs(char *out, size_t cap, double s) {
    if (!(s >= 0) || s > 1e7) s = 0;
    int t = (int)(s + 0.5);
    if (t >= 60) snprintf(out, cap, "%dm%02ds", t / 60, t % 60);
    else snprintf(out, cap, "%ds", t);
}

/* Flips image x (C,S,S) left-right when flip, and moves it by (dy, dx) pixels, repeating the
 * edge pixels into the space uncovered; tmp holds one image. */
static void augment(float *x, float *tmp, int C, int S, int flip, int dy, int dx) {
    int64_t plane = (int64_t)S * S;
    memcpy(tmp, x, (size_t)(C * plane) * sizeof(float));
    for (int c = 0; c < C; c++)
        for (int i = 0; i < S; i++) {
            int si = i - dy;
            si = si < 0 ? 0 : si >= S ? S - 1 : si;
            for (int j = 0; j < S; j++) {
                int sj = j - dx;
                sj = sj < 0 ? 0 : sj >= S ? S - 1 : sj;
                if (flip) sj = S - 1 - sj;
                x[c * plane + (int64_t)i * S + j] = tmp[c * plane + (int64_t)si * S + sj];
            }
        }
}

loom_status lm_classifier_predict_images(lm_classifier *m, const lm_images *im, const int64_t *idx, int64_t n, int B,
                                         int32_t *pred, float *features, lm_error *err) {
    const lm_classifier_config *c = &m->cfg;
    if (im->C != c->channels || im->H != c->size || im->W != c->size)
        return lm_fail(err, LOOM_ERR_ARG, "the classifier takes %dx%d images of %d channel(s), not %dx%d of %d",
                       c->size, c->size, c->channels, im->H, im->W, im->C);
    if (n < 1) return LOOM_OK;
    if (B < 1) B = 1;
    if (B > n) B = (int)n;
    int64_t per = (int64_t)c->channels * c->size * c->size;
    float *x = malloc((size_t)(B * per) * sizeof(float));
    int64_t *seq = idx ? NULL : malloc((size_t)B * sizeof(int64_t));
    if (!x || (!idx && !seq)) {
        free(x);
        free(seq);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    lm_classifier_graph cg;
    loom_status s = lm_classifier_build(&cg, m, B, 0, err);
    for (int64_t i0 = 0; !s && i0 < n; i0 += B) {
        int cnt = (int)(n - i0 < B ? n - i0 : B);
        if (!idx)
            for (int j = 0; j < cnt; j++) seq[j] = i0 + j;
        s = lm_images_batch(im, idx ? idx + i0 : seq, cnt, x, NULL, err);
        if (!s)
            lm_classifier_forward(&cg, m, x, cnt, pred ? pred + i0 : NULL, features ? features + i0 * c->hidden : NULL);
    }
    if (cg.g) lm_classifier_graph_free(&cg);
    free(x);
    free(seq);
    return s;
}

loom_status lm_classifier_accuracy(lm_classifier *m, const lm_images *im, int B, int64_t *correct, lm_error *err) {
    *correct = 0;
    int32_t *pred = malloc((size_t)(im->n ? im->n : 1) * sizeof(int32_t));
    if (!pred) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    loom_status s = lm_classifier_predict_images(m, im, NULL, im->n, B, pred, NULL, err);
    for (int64_t i = 0; !s && i < im->n; i++) *correct += pred[i] == im->labels[i];
    free(pred);
    return s;
}

loom_status lm_classifier_train(lm_classifier *m, const lm_images *train, const lm_classifier_train_opts *o,
                                lm_classifier_train_result *res, lm_error *err) {
    memset(res, 0, sizeof *res);
    res->val_accuracy = -1;
    memset(m, 0, sizeof *m);
    if (train->n < 1) return lm_fail(err, LOOM_ERR_ARG, "no training images to train the classifier on");
    if (o->epochs < 1) return lm_fail(err, LOOM_ERR_ARG, "the classifier needs at least one epoch of training");
    lm_classifier_config cfg;
    lm_classifier_defaults(&cfg, train->C, train->H, train->n_labels);
    if (train->H != train->W)
        return lm_fail(err, LOOM_ERR_ARG, "the classifier takes square images, not %dx%d (resize them)", train->W,
                       train->H);
    loom_status s = lm_classifier_create(m, &cfg, 1, err);
    if (s) return s;
    lm_classifier_init(m, o->seed);

    int B = o->batch < 1 ? 1 : o->batch;
    if (B > train->n) B = (int)train->n;
    int64_t per_epoch = train->n / B, total = per_epoch * o->epochs;
    int64_t per = (int64_t)train->C * train->H * train->W;
    int nl = cfg.n_labels;
    int64_t *order = malloc((size_t)train->n * sizeof(int64_t));
    float *am = calloc(m->n_params, sizeof(float)), *av = calloc(m->n_params, sizeof(float));
    float *tmp = malloc((size_t)per * sizeof(float));
    lm_classifier_graph cg = {0};
    if (!order || !am || !av || !tmp) s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory for the classifier's training");
    if (!s) s = lm_classifier_build(&cg, m, B, 1, err);
    lm_rng rng;
    lm_rng_seed(&rng, o->seed ^ 0x0c1a55f1e5ULL);
    for (int64_t i = 0; order && i < train->n; i++) order[i] = i;

    /* a progress line every quarter of an epoch (the last quarter ends with the epoch) */
    int64_t log_every = (per_epoch + 3) / 4;
    double t0 = lm_now(), loss_sum = 0;
    int64_t log_steps = 0, log_right = 0, log_seen = 0, step = 0;
    for (int ep = 0; !s && ep < o->epochs; ep++) {
        for (int64_t i = train->n - 1; i > 0; i--) { /* Fisher-Yates */
            int64_t j = (int64_t)lm_rng_below(&rng, (uint64_t)(i + 1)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int64_t k = 0; !s && k < per_epoch; k++, step++) {
            float *x = lm_data(cg.g, cg.x);
            int32_t *lab = lm_idata(cg.g, cg.labels);
            s = lm_images_batch(train, order + k * B, B, x, lab, err);
            if (s) break;
            if (o->flip || o->shift > 0)
                for (int b = 0; b < B; b++) {
                    int flip = o->flip && (lm_rng_u64(&rng) & 1);
                    int dy = o->shift > 0 ? (int)lm_rng_below(&rng, (uint64_t)(2 * o->shift + 1)) - o->shift : 0;
                    int dx = o->shift > 0 ? (int)lm_rng_below(&rng, (uint64_t)(2 * o->shift + 1)) - o->shift : 0;
                    if (flip || dy || dx) augment(x + b * per, tmp, train->C, train->H, flip, dy, dx);
                }
            memset(m->grads, 0, m->n_params * sizeof(float));
            lm_graph_forward(cg.g);
            lm_graph_backward(cg.g);
            float lr = lm_classifier_lr_at(o, step, total);
            lm_adamw_views(m->params, m->grads, m->n_params, m->views, m->n_views, am, av, step + 1, lr, o->beta1,
                           o->beta2, o->eps, o->weight_decay, o->clip);

            float loss = lm_value(cg.g, cg.loss);
            if (!isfinite(loss)) {
                s = lm_fail(err, LOOM_ERR_ARG, "the classifier's loss became %g at step %lld (a lower --lr may help)",
                            loss, (long long)step + 1);
                break;
            }
            const float *lg = lm_data(cg.g, cg.logits);
            for (int b = 0; b < B; b++) {
                const float *r = lg + (int64_t)b * nl;
                int best = 0;
                for (int q = 1; q < nl; q++)
                    if (r[q] > r[best]) best = q;
                log_right += best == lab[b];
            }
            log_seen += B;
            loss_sum += loss;
            log_steps++;
            if ((k + 1) % log_every == 0 || k == per_epoch - 1) {
                double el = lm_now() - t0, ips = (double)(step + 1) * B / (el > 0 ? el : 1e-9);
                char a[16], b[16];
                fmt_secs(a, sizeof a, el);
                fmt_secs(b, sizeof b, (double)(total - step - 1) * B / (ips > 0 ? ips : 1));
                res->final_loss = (float)(loss_sum / (double)log_steps);
                say(o, "epoch %d/%d  step %lld/%lld  loss %.4f  train accuracy %.1f%%  lr %.2e  %.0f img/s  %s, ETA %s",
                      ep + 1, o->epochs, (long long)step + 1, (long long)total, res->final_loss,
                      100.0 * (double)log_right / (double)log_seen, lr, ips, a, b);
                loss_sum = 0;
                log_steps = log_right = log_seen = 0;
            }
        }
        if (!s && o->val && o->val->n > 0) {
            int64_t right = 0;
            s = lm_classifier_accuracy(m, o->val, o->eval_batch, &right, err);
            if (!s) {
                res->val_accuracy = (double)right / (double)o->val->n;
                say(o, "epoch %d/%d  test accuracy %.2f%% (%lld/%lld)", ep + 1, o->epochs, 100.0 * res->val_accuracy,
                      (long long)right, (long long)o->val->n);
            }
        }
    }
    res->steps = step;
    res->seconds = lm_now() - t0;
    res->images_per_s = res->seconds > 0 ? (double)step * B / res->seconds : 0;
    if (cg.g) lm_classifier_graph_free(&cg);
    free(order);
    free(am);
    free(av);
    free(tmp);
    if (s) lm_classifier_free(m);
    return s;
}
