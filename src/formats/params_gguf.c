#include "formats/params_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lm_gguf_set_general(lm_gguf_writer *w, const char *arch) {
    lm_gguf_set_str(w, "general.architecture", arch);
    lm_gguf_set_str(w, "general.name", arch);
    lm_gguf_set_u32(w, "general.file_type", 0); /* all F32 */
    lm_gguf_set_u32(w, "general.alignment", 32);
}

void lm_gguf_view_ne(const lm_param_view *v, int64_t ne[4]) {
    for (int i = 0; i < v->ndim; i++) ne[i] = v->shape[v->ndim - 1 - i];
    for (int i = v->ndim; i < 4; i++) ne[i] = 1;
}

void lm_gguf_add_views(lm_gguf_writer *w, const lm_param_view *views, int n_views, const float *params) {
    for (int i = 0; i < n_views; i++) {
        const lm_param_view *v = &views[i];
        int64_t ne[4];
        lm_gguf_view_ne(v, ne);
        lm_gguf_add_tensor(w, v->name, v->ndim, ne, LM_GGUF_F32, params + v->offset);
    }
}

lm_view_read lm_gguf_read_views(const lm_gguf *g, const lm_param_view *views, int n_views, float *params, int *bad,
                                const lm_gguf_tensor **t, int64_t ne[4]) {
    *bad = -1;
    *t = NULL;
    for (int i = 0; i < n_views; i++) {
        const lm_param_view *v = &views[i];
        *bad = i;
        *t = lm_gguf_find_tensor(g, v->name);
        lm_gguf_view_ne(v, ne);
        if (!*t) return LM_VIEW_MISSING;
        if ((*t)->type != LM_GGUF_F32) return LM_VIEW_NOT_F32;
        if (memcmp((*t)->ne, ne, 4 * sizeof *ne)) return LM_VIEW_SHAPE;
        memcpy(params + v->offset, (*t)->data, v->n * sizeof(float));
    }
    return LM_VIEW_OK;
}

int lm_gguf_get_int(const lm_gguf *g, const char *key, int *out) {
    uint32_t v;
    if (lm_gguf_get_u32(g, key, &v) || v > (1u << 30)) return -1;
    *out = (int)v;
    return 0;
}

int lm_gguf_set_labels(lm_gguf_writer *w, const char *key, char *const *names, int n) {
    if (names) {
        lm_gguf_set_arr_str(w, key, (const char *const *)names, (size_t)n);
        return 0;
    }
    const char **p = calloc((size_t)(n ? n : 1), sizeof *p);
    char (*num)[16] = calloc((size_t)(n ? n : 1), sizeof *num);
    int ok = p && num;
    for (int i = 0; ok && i < n; i++) {
        snprintf(num[i], sizeof num[i], "%d", i);
        p[i] = num[i];
    }
    if (ok) lm_gguf_set_arr_str(w, key, p, (size_t)n);
    free(p);
    free(num);
    return ok ? 0 : -1;
}

char **lm_gguf_read_labels(const lm_gguf *g, const char *key, int n) {
    char **names = calloc((size_t)n + 1, sizeof(char *));
    if (!names) return NULL;
    int have = lm_gguf_arr_len(g, key) == n && lm_gguf_arr_type(g, key) == LM_GGUF_TYPE_STRING;
    for (int i = 0; i < n; i++) {
        const char *s = have ? lm_gguf_arr_str(g, key, i, NULL) : NULL;
        char num[16];
        if (!s) snprintf(num, sizeof num, "%d", i), s = num;
        names[i] = strdup(s);
        if (!names[i]) {
            lm_gguf_labels_free(names);
            return NULL;
        }
    }
    return names;
}

void lm_gguf_labels_free(char **names) {
    if (!names) return;
    for (char **p = names; *p; p++) free(*p);
    free(names);
}
