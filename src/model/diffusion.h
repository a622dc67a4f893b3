/* The forward (noising) process of a denoising diffusion model (Ho et al. 2020, DDPM): a fixed
 * schedule of noise levels beta_t for t = 0..steps-1 and the signal fractions
 * alpha_bar_t = prod_{s<=t} (1 - beta_s). Index t is the one the U-Net sees (lm_unet_time_embed)
 * and alpha_bar[t] is the signal left after t+1 noising steps; "t = -1" (alpha_bar = 1) is the
 * clean image, which the samplers in generate/imagine.h step to last. */
#ifndef LM_DIFFUSION_H
#define LM_DIFFUSION_H

#include <stdint.h>

#include "util/error.h"

typedef enum lm_noise_schedule { LM_SCHEDULE_COSINE = 0, LM_SCHEDULE_LINEAR = 1 } lm_noise_schedule;

typedef struct lm_diffusion {
    int steps;
    lm_noise_schedule schedule;
    double *beta, *alpha_bar; /* (steps) */
} lm_diffusion;

/* cosine: Nichol & Dhariwal 2021: alpha_bar(t) = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2),
 *         s = 0.008, beta_t = min(1 - alpha_bar(t+1)/alpha_bar(t), 0.999).
 * linear: DDPM's beta from 1e-4 to 0.02 in `steps` equal increments, both ends scaled by
 *         1000/steps as improved-diffusion does, so that any step count ends near pure noise
 *         (identical to DDPM at 1000 steps); beta is clipped at 0.999.
 * steps: 2..100000. */
loom_status lm_diffusion_create(lm_diffusion *d, lm_noise_schedule s, int steps, lm_error *err);
void lm_diffusion_free(lm_diffusion *d);

/* x_t = sqrt(ab_t) x0 + sqrt(1-ab_t) eps, per image t: xt, x0, eps (B, per_image), t (B). */
void lm_diffusion_noise(const lm_diffusion *d, float *xt, const float *x0, const float *eps, const int32_t *t, int B,
                        int64_t per_image);

/* "cosine" / "linear"; and back: 0 and *out set, or -1 for an unknown name. */
const char *lm_schedule_name(lm_noise_schedule s);
int lm_schedule_parse(const char *name, lm_noise_schedule *out);

#endif
