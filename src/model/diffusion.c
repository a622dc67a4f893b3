#include "model/diffusion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COSINE_S 0.008
#define MAX_BETA 0.999

static double cosine_f(double u) {
    double c = cos((u + COSINE_S) / (1.0 + COSINE_S) * M_PI / 2.0);
    return c * c;
}

loom_status lm_diffusion_create(lm_diffusion *d, lm_noise_schedule s, int steps, lm_error *err) {
    memset(d, 0, sizeof *d);
    if (steps < 2 || steps > 100000)
        return lm_fail(err, LOOM_ERR_ARG, "diffusion steps %d is out of range (2..100000; 1000 is usual)", steps);
    if (s != LM_SCHEDULE_COSINE && s != LM_SCHEDULE_LINEAR)
        return lm_fail(err, LOOM_ERR_ARG, "unknown noise schedule %d (use cosine or linear)", (int)s);
    d->beta = malloc((size_t)steps * sizeof(double));
    d->alpha_bar = malloc((size_t)steps * sizeof(double));
    if (!d->beta || !d->alpha_bar) {
        lm_diffusion_free(d);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    d->steps = steps;
    d->schedule = s;
    double T = steps, scale = 1000.0 / T;
    for (int t = 0; t < steps; t++) {
        double b;
        if (s == LM_SCHEDULE_COSINE) {
            b = 1.0 - cosine_f((t + 1) / T) / cosine_f(t / T);
        } else {
            double lo = scale * 1e-4, hi = scale * 0.02;
            b = lo + (hi - lo) * t / (T - 1);
        }
        d->beta[t] = b < MAX_BETA ? b : MAX_BETA;
    }
    /* alpha_bar as the running product of (1 - beta), as DDPM computes it, so the clipped betas
     * stay consistent with it */
    double ab = 1.0;
    for (int t = 0; t < steps; t++) d->alpha_bar[t] = ab *= 1.0 - d->beta[t];
    return LOOM_OK;
}

void lm_diffusion_free(lm_diffusion *d) {
    free(d->beta);
    free(d->alpha_bar);
    memset(d, 0, sizeof *d);
}

void lm_diffusion_noise(const lm_diffusion *d, float *xt, const float *x0, const float *eps, const int32_t *t, int B,
                        int64_t per_image) {
    for (int b = 0; b < B; b++) {
        int tb = t[b] < 0 ? 0 : t[b] >= d->steps ? d->steps - 1 : t[b];
        float a = (float)sqrt(d->alpha_bar[tb]), s = (float)sqrt(1.0 - d->alpha_bar[tb]);
        const float *x = x0 + (int64_t)b * per_image, *e = eps + (int64_t)b * per_image;
        float *o = xt + (int64_t)b * per_image;
        for (int64_t i = 0; i < per_image; i++) o[i] = a * x[i] + s * e[i];
    }
}

const char *lm_schedule_name(lm_noise_schedule s) { return s == LM_SCHEDULE_LINEAR ? "linear" : "cosine"; }

int lm_schedule_parse(const char *name, lm_noise_schedule *out) {
    if (!strcmp(name, "cosine")) return *out = LM_SCHEDULE_COSINE, 0;
    if (!strcmp(name, "linear")) return *out = LM_SCHEDULE_LINEAR, 0;
    return -1;
}
