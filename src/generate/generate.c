#include "generate/generate.h"

#include <stdlib.h>
#include <string.h>

#include "generate/textstream.h"
#include "util/clock.h"

loom_status lm_generate(lm_infer *s, const lm_tokenizer *tok, const int32_t *prompt, int n_prompt,
                        const lm_gen_opts *o, lm_gen_cb cb, void *ud, lm_gen_stats *stats, lm_error *err) {
    memset(stats, 0, sizeof *stats);
    if (n_prompt < 1) return lm_fail(err, LOOM_ERR_ARG, "the prompt is empty (give some text with -p, -f or stdin)");
    if (o->n_predict < 0) return lm_fail(err, LOOM_ERR_ARG, "-n must be 0 or more, not %d", o->n_predict);
    if ((int64_t)n_prompt > s->n_ctx)
        return lm_fail(err, LOOM_ERR_ARG, "the prompt is %d tokens, longer than the context of %d (shorten it)",
                       n_prompt, s->n_ctx);
    if (o->n_predict > LM_MAX_PREDICT)
        return lm_fail(err, LOOM_ERR_ARG, "-n %d is too large (at most %d)", o->n_predict, LM_MAX_PREDICT);
    loom_status st = lm_sampler_check(&o->sampling, err);
    if (st) return st;
    int V = s->m->cfg.vocab;
    float *logits = malloc((size_t)V * sizeof(float));
    /* every token so far, for re-filling the cache when the window slides */
    int32_t *hist = malloc(((size_t)n_prompt + (size_t)o->n_predict + 1) * sizeof(int32_t));
    int64_t n_hist = n_prompt;
    lm_sampler *smp = NULL;
    lm_textstream *ts = NULL;
    if (!logits || !hist) {
        free(logits);
        free(hist);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    memcpy(hist, prompt, (size_t)n_prompt * sizeof(int32_t));
    if ((st = lm_sampler_create(&smp, &o->sampling, V, err))) goto done;
    if ((st = lm_textstream_create(&ts, o->stops, o->n_stops, err))) goto done;
    for (int i = 0; i < n_prompt; i++) lm_sampler_accept(smp, prompt[i]);

    lm_infer_reset(s);
    double t0 = lm_now();
    if ((st = lm_infer_eval(s, prompt, n_prompt, logits, 0, err))) goto done;
    stats->n_prompt = n_prompt;
    stats->prompt_s = lm_now() - t0;
    stats->stop = LM_STOP_LENGTH;
    t0 = lm_now();
    lm_sample_info info;
    for (int k = 0; k < o->n_predict; k++) {
        int32_t id = lm_sampler_sample(smp, logits, &info, o->want_top);
        stats->n_generated++;
        if (id == tok->eot) {
            stats->stop = LM_STOP_EOT;
            break;
        }
        lm_sampler_accept(smp, id);
        const char *out;
        size_t out_len;
        int stop = lm_textstream_push(ts, (const uint8_t *)tok->piece[id], (size_t)tok->piece_len[id], &out, &out_len);
        lm_gen_event ev = {id, tok->piece[id], tok->piece_len[id], out, out_len, &info};
        if (cb && cb(ud, &ev)) {
            stats->stop = LM_STOP_CALLER;
            break;
        }
        if (stop) {
            stats->stop = LM_STOP_STRING;
            break;
        }
        hist[n_hist++] = id;
        if (k + 1 == o->n_predict) break;
        if (s->n_past == s->n_ctx) {
            /* The window is full: keep its second half and go on from there. Positions stay
             * within the context the model was trained on (no extrapolation). */
            int keep = s->n_ctx / 2 > 0 ? s->n_ctx / 2 : 1;
            lm_infer_reset(s);
            if ((st = lm_infer_eval(s, hist + n_hist - keep, keep, logits, 0, err))) goto done;
            stats->n_slides++;
        } else if ((st = lm_infer_eval(s, &id, 1, logits, 0, err))) {
            goto done;
        }
    }
    stats->gen_s = lm_now() - t0;
    if (stats->stop != LM_STOP_STRING) {
        const char *out;
        size_t out_len;
        lm_textstream_flush(ts, &out, &out_len);
        lm_gen_event ev = {-1, "", 0, out, out_len, NULL};
        if (cb && out_len) cb(ud, &ev);
    }
done:
    lm_textstream_free(ts);
    lm_sampler_free(smp);
    free(logits);
    free(hist);
    return st;
}
