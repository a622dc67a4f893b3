#include "formats/classifier_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/params_gguf.h"

#define ARCH "loom-classifier"

loom_status lm_classifier_save_gguf(const char *path, const lm_classifier *m, char *const *label_names,
                                    const lm_classifier_info *info, lm_error *err) {
    const lm_classifier_config *c = &m->cfg;
    lm_gguf_writer *w = lm_gguf_writer_create();
    lm_gguf_set_general(w, ARCH);
    lm_gguf_set_u32(w, ARCH ".channels", (uint32_t)c->channels);
    lm_gguf_set_u32(w, ARCH ".image_size", (uint32_t)c->size);
    int32_t widths[3] = {c->widths[0], c->widths[1], c->widths[2]};
    lm_gguf_set_arr_i32(w, ARCH ".widths", widths, 3);
    lm_gguf_set_u32(w, ARCH ".hidden", (uint32_t)c->hidden);
    lm_gguf_set_u32(w, ARCH ".groups", (uint32_t)c->groups);
    lm_gguf_set_u32(w, ARCH ".label_count", (uint32_t)c->n_labels);
    lm_gguf_set_labels(w, ARCH ".labels", label_names, c->n_labels); /* names given: allocates nothing */
    if (info && info->data) lm_gguf_set_str(w, ARCH ".data", info->data);
    if (info && info->epochs > 0) lm_gguf_set_u32(w, ARCH ".epochs", (uint32_t)info->epochs);
    if (info && info->test_accuracy >= 0) lm_gguf_set_f64(w, ARCH ".test_accuracy", info->test_accuracy);
    if (info && info->train_seconds >= 0) lm_gguf_set_f64(w, ARCH ".train_seconds", info->train_seconds);
    lm_gguf_add_views(w, m->views, m->n_views, m->params);
    loom_status s = lm_gguf_write(w, path, err); /* reports an allocation failure of the writer too */
    lm_gguf_writer_free(w);
    return s;
}

void lm_classifier_labels_free(char **names) { lm_gguf_labels_free(names); }

/* A float value (lm_gguf_get_f32 reads float64 too), or -1 when absent. */
static double get_real(const lm_gguf *g, const char *key) {
    float f;
    return lm_gguf_get_f32(g, key, &f) ? -1 : (double)f;
}

loom_status lm_classifier_load_gguf(const char *path, lm_classifier *m, char ***label_names, lm_classifier_info *info,
                                    lm_error *err) {
    memset(m, 0, sizeof *m);
    *label_names = NULL;
    if (info) memset(info, 0, sizeof *info);
    lm_gguf *g = NULL;
    loom_status s = lm_gguf_open(path, &g, err);
    if (s) return s;
    s = lm_classifier_from_gguf(g, m, label_names, info, err);
    lm_gguf_close(g);
    return s;
}

loom_status lm_classifier_from_gguf(const lm_gguf *g, lm_classifier *m, char ***label_names, lm_classifier_info *info,
                                    lm_error *err) {
    memset(m, 0, sizeof *m);
    *label_names = NULL;
    if (info) memset(info, 0, sizeof *info);
    const char *path = lm_gguf_name(g);
    loom_status s = LOOM_OK;
    const char *arch = lm_gguf_get_str(g, "general.architecture");
    if (!arch || strcmp(arch, ARCH)) {
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s' is %s%s%s model, not a loom image classifier (leave out --classifier, or use "
                    "--retrain-classifier to write a new one there)",
                    path, arch ? "a '" : "an unnamed", arch ? arch : "", arch ? "'" : "");
        goto done;
    }
    lm_classifier_config c;
    memset(&c, 0, sizeof c);
    if (lm_gguf_get_int(g, ARCH ".channels", &c.channels) || lm_gguf_get_int(g, ARCH ".image_size", &c.size) ||
        lm_gguf_get_int(g, ARCH ".hidden", &c.hidden) || lm_gguf_get_int(g, ARCH ".groups", &c.groups) ||
        lm_gguf_get_int(g, ARCH ".label_count", &c.n_labels) || lm_gguf_arr_len(g, ARCH ".widths") != 3 ||
        lm_gguf_arr_type(g, ARCH ".widths") != LM_GGUF_TYPE_INT32 ||
        lm_gguf_arr_len(g, ARCH ".labels") != c.n_labels ||
        lm_gguf_arr_type(g, ARCH ".labels") != LM_GGUF_TYPE_STRING) {
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s' lacks loom-classifier settings (channels, image_size, widths, labels, ...); retrain it "
                    "with --retrain-classifier",
                    path);
        goto done;
    }
    const int32_t *wd = lm_gguf_arr_data(g, ARCH ".widths");
    for (int i = 0; i < 3; i++) c.widths[i] = wd[i];
    lm_error inner = {0};
    /* settings that describe more parameters than the file holds are damaged: refused before
     * anything that size is allocated */
    if (!lm_classifier_check_config(&c, NULL) && lm_classifier_n_params(&c) > (size_t)lm_gguf_n_elements(g)) {
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s': its settings describe %zu parameters but its tensors hold %lld values (retrain the "
                    "classifier with --retrain-classifier)", path, lm_classifier_n_params(&c),
                    (long long)lm_gguf_n_elements(g));
        goto done;
    }
    if ((s = lm_classifier_create(m, &c, 0, &inner))) {
        s = lm_fail(err, s == LOOM_ERR_NOMEM ? s : LOOM_ERR_FORMAT, "'%s' holds an unusable classifier: %s", path,
                    inner.msg);
        goto done;
    }
    const lm_gguf_tensor *t;
    int64_t ne[4];
    int bad;
    lm_view_read why = lm_gguf_read_views(g, m->views, m->n_views, m->params, &bad, &t, ne);
    if (why != LM_VIEW_OK) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s': tensor '%s' is %s (retrain the classifier with --retrain-classifier)",
                    path, m->views[bad].name,
                    why == LM_VIEW_MISSING   ? "missing"
                    : why == LM_VIEW_NOT_F32 ? "not F32"
                                             : "of the wrong shape for its settings");
        goto done;
    }
    /* the names were checked above: every one is the file's */
    char **names = lm_gguf_read_labels(g, ARCH ".labels", c.n_labels);
    if (!names) {
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }
    *label_names = names;
    if (info) {
        const char *d = lm_gguf_get_str(g, ARCH ".data");
        uint32_t ep = 0;
        info->data = d ? strdup(d) : NULL;
        info->epochs = lm_gguf_get_u32(g, ARCH ".epochs", &ep) ? 0 : (int)ep;
        info->test_accuracy = get_real(g, ARCH ".test_accuracy");
        info->train_seconds = get_real(g, ARCH ".train_seconds");
    }
done:
    if (s) lm_classifier_free(m);
    return s;
}
