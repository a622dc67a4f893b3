#include "formats/classifier_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"

#define ARCH "loom-classifier"

/* A view's shape in GGUF order (innermost first). */
static void gguf_ne(const lm_param_view *v, int64_t *ne) {
    for (int i = 0; i < v->ndim; i++) ne[i] = v->shape[v->ndim - 1 - i];
    for (int i = v->ndim; i < 4; i++) ne[i] = 1;
}

loom_status lm_classifier_save_gguf(const char *path, const lm_classifier *m, char *const *label_names,
                                    const lm_classifier_info *info, lm_error *err) {
    const lm_classifier_config *c = &m->cfg;
    lm_gguf_writer *w = lm_gguf_writer_create();
    lm_gguf_set_str(w, "general.architecture", ARCH);
    lm_gguf_set_str(w, "general.name", ARCH);
    lm_gguf_set_u32(w, "general.file_type", 0); /* all F32 */
    lm_gguf_set_u32(w, "general.alignment", 32);
    lm_gguf_set_u32(w, ARCH ".channels", (uint32_t)c->channels);
    lm_gguf_set_u32(w, ARCH ".image_size", (uint32_t)c->size);
    int32_t widths[3] = {c->widths[0], c->widths[1], c->widths[2]};
    lm_gguf_set_arr_i32(w, ARCH ".widths", widths, 3);
    lm_gguf_set_u32(w, ARCH ".hidden", (uint32_t)c->hidden);
    lm_gguf_set_u32(w, ARCH ".groups", (uint32_t)c->groups);
    lm_gguf_set_u32(w, ARCH ".label_count", (uint32_t)c->n_labels);
    lm_gguf_set_arr_str(w, ARCH ".labels", (const char *const *)label_names, (size_t)c->n_labels);
    if (info && info->data) lm_gguf_set_str(w, ARCH ".data", info->data);
    if (info && info->epochs > 0) lm_gguf_set_u32(w, ARCH ".epochs", (uint32_t)info->epochs);
    if (info && info->test_accuracy >= 0) lm_gguf_set_f64(w, ARCH ".test_accuracy", info->test_accuracy);
    if (info && info->train_seconds >= 0) lm_gguf_set_f64(w, ARCH ".train_seconds", info->train_seconds);
    for (int i = 0; i < m->n_views; i++) {
        const lm_param_view *v = &m->views[i];
        int64_t ne[4];
        gguf_ne(v, ne);
        lm_gguf_add_tensor(w, v->name, v->ndim, ne, LM_GGUF_F32, m->params + v->offset);
    }
    loom_status s = lm_gguf_write(w, path, err); /* reports an allocation failure of the writer too */
    lm_gguf_writer_free(w);
    return s;
}

void lm_classifier_labels_free(char **names) {
    if (!names) return;
    for (char **p = names; *p; p++) free(*p);
    free(names);
}

static int get_int(const lm_gguf *g, const char *key, int *out) {
    uint32_t v;
    if (lm_gguf_get_u32(g, key, &v) || v > (1u << 30)) return -1;
    *out = (int)v;
    return 0;
}

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
    if (get_int(g, ARCH ".channels", &c.channels) || get_int(g, ARCH ".image_size", &c.size) ||
        get_int(g, ARCH ".hidden", &c.hidden) || get_int(g, ARCH ".groups", &c.groups) ||
        get_int(g, ARCH ".label_count", &c.n_labels) || lm_gguf_arr_len(g, ARCH ".widths") != 3 ||
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
    if ((s = lm_classifier_create(m, &c, 0, &inner))) {
        s = lm_fail(err, s == LOOM_ERR_NOMEM ? s : LOOM_ERR_FORMAT, "'%s' holds an unusable classifier: %s", path,
                    inner.msg);
        goto done;
    }
    for (int i = 0; i < m->n_views; i++) {
        const lm_param_view *v = &m->views[i];
        const lm_gguf_tensor *t = lm_gguf_find_tensor(g, v->name);
        int64_t ne[4];
        gguf_ne(v, ne);
        if (!t || t->type != LM_GGUF_F32 || memcmp(t->ne, ne, sizeof ne)) {
            s = lm_fail(err, LOOM_ERR_FORMAT,
                        "'%s': tensor '%s' is %s (retrain the classifier with --retrain-classifier)", path, v->name,
                        !t ? "missing" : t->type != LM_GGUF_F32 ? "not F32" : "of the wrong shape for its settings");
            goto done;
        }
        memcpy(m->params + v->offset, t->data, v->n * sizeof(float));
    }
    char **names = calloc((size_t)c.n_labels + 1, sizeof(char *));
    for (int i = 0; names && i < c.n_labels; i++) {
        const char *nm = lm_gguf_arr_str(g, ARCH ".labels", i, NULL);
        if (!(names[i] = strdup(nm ? nm : ""))) {
            lm_classifier_labels_free(names);
            names = NULL;
        }
    }
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
    lm_gguf_close(g);
    return s;
}
