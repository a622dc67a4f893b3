#include "formats/unet_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/params_gguf.h"

#define ARCH "loom-unet"

loom_status lm_unet_save_gguf(const char *path, const lm_unet *m, const float *weights, const lm_diffusion *d,
                              char *const *label_names, lm_error *err) {
    const lm_unet_config *c = &m->cfg;
    int nl = c->n_labels;
    lm_gguf_writer *w = lm_gguf_writer_create();
    if (!w) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    if (!weights) weights = m->params;
    lm_gguf_set_general(w, ARCH);
    lm_gguf_set_u32(w, ARCH ".channels", (uint32_t)c->channels);
    lm_gguf_set_u32(w, ARCH ".image_size", (uint32_t)c->size);
    lm_gguf_set_u32(w, ARCH ".levels", (uint32_t)c->levels);
    int32_t widths[LM_UNET_MAX_LEVELS];
    for (int l = 0; l < c->levels; l++) widths[l] = c->widths[l];
    lm_gguf_set_arr_i32(w, ARCH ".widths", widths, (size_t)c->levels);
    lm_gguf_set_u32(w, ARCH ".label_count", (uint32_t)nl);
    lm_gguf_set_u32(w, ARCH ".groups", (uint32_t)c->groups);
    lm_gguf_set_u32(w, ARCH ".head_dim", (uint32_t)c->head_dim);
    lm_gguf_set_str(w, ARCH ".schedule", lm_schedule_name(d->schedule));
    lm_gguf_set_u32(w, ARCH ".diffusion_steps", (uint32_t)d->steps);
    if (lm_gguf_set_labels(w, ARCH ".labels", label_names, nl)) {
        lm_gguf_writer_free(w);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    lm_gguf_add_views(w, m->views, m->n_views, weights);
    loom_status s = lm_gguf_write(w, path, err);
    lm_gguf_writer_free(w);
    return s;
}

void lm_unet_labels_free(char **names) { lm_gguf_labels_free(names); }

loom_status lm_unet_load_gguf(const char *path, lm_unet *m, lm_diffusion *d, char ***label_names, lm_error *err) {
    memset(m, 0, sizeof *m);
    memset(d, 0, sizeof *d);
    *label_names = NULL;
    lm_gguf *g = NULL;
    loom_status s = lm_gguf_open(path, &g, err);
    if (s) return s;
    s = lm_unet_from_gguf(g, m, d, label_names, err);
    lm_gguf_close(g);
    return s;
}

loom_status lm_unet_from_gguf(const lm_gguf *g, lm_unet *m, lm_diffusion *d, char ***label_names, lm_error *err) {
    memset(m, 0, sizeof *m);
    memset(d, 0, sizeof *d);
    *label_names = NULL;
    const char *path = lm_gguf_name(g);
    loom_status s = LOOM_OK;
    const char *arch = lm_gguf_get_str(g, "general.architecture");
    if (!arch || strcmp(arch, ARCH)) {
        if (arch && lm_gguf_find_key(g, "tokenizer.ggml.model") >= 0)
            s = lm_fail(err, LOOM_ERR_FORMAT,
                        "'%s' is a text model (architecture '%s'); imagine needs an image model written by "
                        "`loom train-image`",
                        path, arch);
        else
            s = lm_fail(err, LOOM_ERR_FORMAT,
                        "'%s' is %s%s%s model, not a loom image model; imagine needs a model written by "
                        "`loom train-image`",
                        path, arch ? "a '" : "an unnamed", arch ? arch : "", arch ? "'" : "");
        goto done;
    }
    lm_unet_config c;
    memset(&c, 0, sizeof c);
    const char *sched = lm_gguf_get_str(g, ARCH ".schedule");
    int steps = 0;
    if (lm_gguf_get_int(g, ARCH ".channels", &c.channels) || lm_gguf_get_int(g, ARCH ".image_size", &c.size) ||
        lm_gguf_get_int(g, ARCH ".levels", &c.levels) || lm_gguf_get_int(g, ARCH ".label_count", &c.n_labels) ||
        lm_gguf_get_int(g, ARCH ".groups", &c.groups) || lm_gguf_get_int(g, ARCH ".head_dim", &c.head_dim) ||
        lm_gguf_get_int(g, ARCH ".diffusion_steps", &steps) || !sched) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' lacks loom-unet settings (loom-unet.channels, ...); rewrite it with `loom train-image`",
                    path);
        goto done;
    }
    if (c.levels < 1 || c.levels > LM_UNET_MAX_LEVELS || lm_gguf_arr_len(g, ARCH ".widths") != c.levels ||
        lm_gguf_arr_type(g, ARCH ".widths") != LM_GGUF_TYPE_INT32) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': loom-unet.widths must hold one int32 per level (1..%d levels)", path,
                    LM_UNET_MAX_LEVELS);
        goto done;
    }
    const int32_t *wd = lm_gguf_arr_data(g, ARCH ".widths");
    for (int l = 0; l < c.levels; l++) c.widths[l] = wd[l];
    lm_noise_schedule ns;
    if (lm_schedule_parse(sched, &ns)) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': unknown noise schedule '%s' (loom knows cosine and linear)", path, sched);
        goto done;
    }
    lm_error inner = {0};
    /* settings that describe more parameters than the file holds are damaged: refused before
     * anything that size is allocated */
    if (!lm_unet_check_config(&c, NULL) && lm_unet_n_params(&c) > (size_t)lm_gguf_n_elements(g)) {
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s': its settings describe %zu parameters but its tensors hold %lld values (the file is "
                    "damaged; rewrite it with `loom train-image`)", path, lm_unet_n_params(&c),
                    (long long)lm_gguf_n_elements(g));
        goto done;
    }
    if ((s = lm_unet_create(m, &c, 0, &inner)) || (s = lm_diffusion_create(d, ns, steps, &inner))) {
        s = lm_fail(err, s == LOOM_ERR_NOMEM ? s : LOOM_ERR_FORMAT, "'%s' holds an unusable model: %s", path, inner.msg);
        goto done;
    }
    const lm_gguf_tensor *t;
    int64_t ne[4];
    int bad;
    lm_view_read why = lm_gguf_read_views(g, m->views, m->n_views, m->params, &bad, &t, ne);
    const char *name = why != LM_VIEW_OK ? m->views[bad].name : NULL;
    if (why == LM_VIEW_MISSING) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' has no tensor '%s' (is it a complete model?)", path, name);
        goto done;
    }
    if (why == LM_VIEW_NOT_F32) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': tensor '%s' is %s; image models are read as F32", path, name,
                    lm_gguf_type_name(t->type));
        goto done;
    }
    if (why == LM_VIEW_SHAPE) {
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s': tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld, %lld] "
                    "from the model's settings",
                    path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                    (long long)ne[0], (long long)ne[1], (long long)ne[2], (long long)ne[3]);
        goto done;
    }
    if (!(*label_names = lm_gguf_read_labels(g, ARCH ".labels", c.n_labels)))
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
done:
    if (s) {
        lm_unet_free(m);
        lm_diffusion_free(d);
    }
    return s;
}
