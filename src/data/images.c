#include "data/images.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <jpeglib.h> /* after stdio.h, which it needs */
#include <jerror.h>

#include "codec/png.h"
#include "util/io.h"
#include "util/str.h"

/* An IDX file may hold at most this much data (Fashion-MNIST's training images are 47 MB);
 * the bound only keeps a corrupt header from asking for an absurd allocation. */
#define IDX_MAX_BYTES ((uint64_t)1 << 36)
/* A single decoded image may hold at most this many pixels (16384 x 16384), and a JPEG file
 * at most this many bytes; beyond that a file is more likely corrupt than a training image. */
#define IMG_MAX_PIXELS ((int64_t)1 << 28)
#define JPEG_MAX_FILE ((size_t)1 << 29)
/* Bytes of a file's head read to identify it and parse a PNG's header chunks. */
#define PROBE_BYTES 65536
/* Folder nesting followed under a label folder (symbolic link loops end here). */
#define MAX_DEPTH 32

static const char *const FASHION_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Whether s contains word, ignoring ASCII case (strcasestr is a GNU extension). */
static int contains_nocase(const char *s, const char *word) {
    size_t n = strlen(word);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && lower((unsigned char)s[i]) == lower((unsigned char)word[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void lm_images_free(lm_images *im) {
    if (!im) return;
    free(im->pix);
    free(im->labels);
    if (im->label_names)
        for (int i = 0; i < im->n_labels; i++) free(im->label_names[i]);
    free(im->label_names);
    memset(im, 0, sizeof *im);
}

loom_status lm_images_batch(const lm_images *im, const int64_t *idx, int64_t n, float *out, int32_t *labels,
                            lm_error *err) {
    if (!im || (n > 0 && (!idx || !out)) || n < 0)
        return lm_fail(err, LOOM_ERR_ARG, "lm_images_batch: the image set, indices and output must not be NULL");
    for (int64_t b = 0; b < n; b++)
        if (idx[b] < 0 || idx[b] >= im->n)
            return lm_fail(err, LOOM_ERR_ARG, "lm_images_batch: index %lld is outside the set's 0..%lld",
                           (long long)idx[b], (long long)im->n - 1);
    size_t per = (size_t)im->C * (size_t)im->H * (size_t)im->W;
    /* p / 127.5 - 1 with a true division maps 255 to 1 exactly (multiplying by 1/127.5 gives
     * 1.0000001, outside the range the model is promised) */
    float tab[256];
    for (int v = 0; v < 256; v++) tab[v] = (float)v / 127.5f - 1.0f;
    for (int64_t b = 0; b < n; b++) {
        const uint8_t *p = lm_images_at(im, idx[b]);
        float *o = out + (size_t)b * per;
        for (size_t i = 0; i < per; i++) o[i] = tab[p[i]];
        if (labels) labels[b] = im->labels[idx[b]];
    }
    return LOOM_OK;
}

/* ------------------------------------------------------------------------ */
/* Resizing                                                                  */
/* ------------------------------------------------------------------------ */

/* How each output index along one axis mixes input indices: k weights from `start` on. */
typedef struct axis_plan {
    int k;        /* weights per output index */
    int *start;   /* (dn) */
    float *w;     /* (dn, k); unused trailing weights are 0 */
} axis_plan;

static void free_axis(axis_plan *a) {
    free(a->start);
    free(a->w);
}

/* Shrinking averages the input over the output pixel's footprint (each input pixel weighted by
 * how much of it the footprint covers), so no input pixel is dropped and thin strokes survive;
 * growing interpolates between the two nearest pixel centres. */
static int plan_axis(axis_plan *a, int sn, int dn) {
    double scale = (double)sn / dn;
    a->k = dn < sn ? (int)ceil(scale) + 1 : 2;
    a->start = malloc((size_t)dn * sizeof *a->start);
    a->w = calloc((size_t)dn * (size_t)a->k, sizeof *a->w);
    if (!a->start || !a->w) return -1;
    for (int j = 0; j < dn; j++) {
        float *w = a->w + (size_t)j * (size_t)a->k;
        if (dn == sn) {
            a->start[j] = j;
            w[0] = 1.0f;
        } else if (dn < sn) {
            double x0 = j * scale, x1 = (j + 1) * scale;
            int i0 = (int)floor(x0), i1 = (int)ceil(x1);
            if (i1 > sn) i1 = sn;
            a->start[j] = i0;
            for (int i = i0; i < i1 && i - i0 < a->k; i++) {
                double lo = i > x0 ? i : x0, hi = i + 1 < x1 ? i + 1 : x1;
                if (hi > lo) w[i - i0] = (float)((hi - lo) / scale);
            }
        } else {
            double x = (j + 0.5) * scale - 0.5;
            if (x < 0) x = 0;
            if (x > sn - 1) x = sn - 1;
            int i0 = (int)floor(x);
            double f = x - i0;
            if (i0 >= sn - 1) { /* the last pixel: nothing to the right */
                i0 = sn - 1;
                f = 0;
            }
            a->start[j] = i0;
            w[0] = (float)(1 - f);
            w[1] = (float)f;
        }
    }
    return 0;
}

static uint8_t to_u8(float v) {
    if (!(v > 0)) return 0; /* also NaN */
    if (v >= 255) return 255;
    return (uint8_t)(v + 0.5f);
}

loom_status lm_image_resize(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh, lm_error *err) {
    if (!src || !dst || c < 1 || c > 4 || sw < 1 || sh < 1 || dw < 1 || dh < 1 || sw > LM_IMAGES_MAX_DIM ||
        sh > LM_IMAGES_MAX_DIM || dw > LM_IMAGES_MAX_DIM || dh > LM_IMAGES_MAX_DIM)
        return lm_fail(err, LOOM_ERR_ARG, "lm_image_resize: sizes %dx%dx%d -> %dx%d are outside 1..%d (1..4 channels)",
                       sw, sh, c, dw, dh, LM_IMAGES_MAX_DIM);
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * (size_t)sh * (size_t)c);
        return LOOM_OK;
    }
    axis_plan ax = {0}, ay = {0};
    /* horizontal pass first, into (sh, dw, c) floats, then vertical into dst */
    float *tmp = malloc((size_t)dw * (size_t)sh * (size_t)c * sizeof *tmp);
    if (!tmp || plan_axis(&ax, sw, dw) || plan_axis(&ay, sh, dh)) {
        free(tmp);
        free_axis(&ax);
        free_axis(&ay);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory resizing a %dx%d image to %dx%d", sw, sh, dw, dh);
    }
    for (int y = 0; y < sh; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)sw * (size_t)c;
        float *o = tmp + (size_t)y * (size_t)dw * (size_t)c;
        for (int x = 0; x < dw; x++) {
            const float *w = ax.w + (size_t)x * (size_t)ax.k;
            int s0 = ax.start[x];
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int i = 0; i < ax.k && s0 + i < sw; i++) acc += w[i] * row[(size_t)(s0 + i) * (size_t)c + ch];
                o[(size_t)x * (size_t)c + ch] = acc;
            }
        }
    }
    size_t stride = (size_t)dw * (size_t)c;
    for (int y = 0; y < dh; y++) {
        const float *w = ay.w + (size_t)y * (size_t)ay.k;
        int s0 = ay.start[y];
        uint8_t *o = dst + (size_t)y * stride;
        for (size_t i = 0; i < stride; i++) {
            float acc = 0;
            for (int k = 0; k < ay.k && s0 + k < sh; k++) acc += w[k] * tmp[(size_t)(s0 + k) * stride + i];
            o[i] = to_u8(acc);
        }
    }
    free(tmp);
    free_axis(&ax);
    free_axis(&ay);
    return LOOM_OK;
}

/* Puts one decoded image (sh, sw, sc) interleaved, sc 1 or 3, into dst as (C, H, W) planar,
 * converting the channel count and resizing. Converting colour to grey before resizing and grey
 * to colour after it keeps the resize on the fewer channels. Grey is ITU-R BT.601 luma, the
 * weights JPEG's own YCbCr uses. */
static loom_status place_image(const uint8_t *src, int sw, int sh, int sc, uint8_t *dst, int C, int H, int W,
                               lm_error *err) {
    size_t sp = (size_t)sw * (size_t)sh;
    uint8_t *grey = NULL;
    if (sc == 3 && C == 1) {
        grey = malloc(sp);
        if (!grey) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory converting a %dx%d image to grey", sw, sh);
        for (size_t i = 0; i < sp; i++) {
            const uint8_t *p = src + 3 * i;
            grey[i] = (uint8_t)((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
        }
        src = grey;
        sc = 1;
    }
    size_t dp = (size_t)W * (size_t)H;
    uint8_t *rs = malloc(dp * (size_t)sc);
    loom_status s = rs ? lm_image_resize(src, sw, sh, sc, rs, W, H, err)
                       : lm_fail(err, LOOM_ERR_NOMEM, "out of memory resizing a %dx%d image", sw, sh);
    if (!s) {
        for (int ch = 0; ch < C; ch++) {
            int from = sc == 1 ? 0 : ch; /* grey to RGB repeats the one channel */
            uint8_t *plane = dst + (size_t)ch * dp;
            for (size_t i = 0; i < dp; i++) plane[i] = rs[i * (size_t)sc + (size_t)from];
        }
    }
    free(rs);
    free(grey);
    return s;
}

/* ------------------------------------------------------------------------ */
/* IDX files                                                                 */
/* ------------------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads exactly n bytes; returns how many arrived (fewer at the end of the data or on error). */
static size_t gz_read_all(gzFile f, uint8_t *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        if (want > ((size_t)1 << 26)) want = (size_t)1 << 26; /* gzread counts in unsigned int */
        int r = gzread(f, buf + got, (unsigned)want);
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

/* The zlib error text, when the stream failed (corrupt or cut short), else NULL; *cut tells
 * a stream that merely ends early (Z_BUF_ERROR) from corrupt data. zlib puts the path in
 * front of its message; the caller names the file already. */
static const char *gz_problem(gzFile f, const char *path, int *cut) {
    int code;
    const char *msg = gzerror(f, &code);
    *cut = code == Z_BUF_ERROR;
    if (code == Z_OK || code == Z_STREAM_END || !msg) return NULL;
    size_t n = strlen(path);
    if (!strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2)) msg += n + 2;
    return msg;
}

loom_status lm_idx_read(const char *path, int ndims, int64_t *dims, uint8_t **data, lm_error *err) {
    if (data) *data = NULL;
    if (!path || !dims || !data || ndims < 1 || ndims > 4)
        return lm_fail(err, LOOM_ERR_ARG, "lm_idx_read: path, dims and data must not be NULL, ndims 1..4");
    struct stat st;
    if (stat(path, &st) != 0)
        return lm_fail(err, LOOM_ERR_IO, "cannot open '%s': %s (check the path)", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return lm_fail(err, LOOM_ERR_IO, "'%s' is not a regular file (give an IDX file)", path);
    /* zlib reads a file that is not gzip'ed as it is ("transparent" mode), so one path serves both */
    gzFile f = gzopen(path, "rb");
    if (!f) return lm_fail(err, LOOM_ERR_IO, "cannot open '%s': %s (check the path)", path, strerror(errno));
    gzbuffer(f, 1 << 17);
    uint8_t hdr[4 + 4 * 4];
    size_t hlen = 4 + 4 * (size_t)ndims;
    size_t got = gz_read_all(f, hdr, 4);
    loom_status s = LOOM_OK;
    const char *zmsg = NULL;
    int cut;
    /* zlib may decompress (and check) the whole of a small file on the first read, so a corrupt
     * stream can show up at any read */
    if (got < 4 && (zmsg = gz_problem(f, path, &cut)) && !cut) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' is corrupt: %s (download it again)", path, zmsg);
    } else if (got < 4) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' is too short to be an IDX file (%s; download it again)", path,
                    zmsg ? zmsg : "it ends within the 4-byte magic number");
    } else if (hdr[0] || hdr[1]) {
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s' is not an IDX file (magic number %02x%02x%02x%02x; give the Fashion-MNIST folder, an IDX "
                    "images file, or a folder of images with one sub-folder per label)",
                    path, hdr[0], hdr[1], hdr[2], hdr[3]);
    } else if (hdr[2] != 0x08) {
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s' holds IDX elements of type 0x%02x; loom reads unsigned bytes (type 0x08) only", path, hdr[2]);
    } else if (hdr[3] != ndims) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' is an IDX file of %d dimension%s where %d were expected (%s)", path,
                    hdr[3], hdr[3] == 1 ? "" : "s", ndims,
                    ndims == 3 ? "give the images file, not the labels file" : "give the labels file, not the images file");
    } else if ((got = gz_read_all(f, hdr + 4, hlen - 4)) < hlen - 4) {
        zmsg = gz_problem(f, path, &cut);
        s = zmsg && !cut ? lm_fail(err, LOOM_ERR_FORMAT, "'%s' is corrupt: %s (download it again)", path, zmsg)
                         : lm_fail(err, LOOM_ERR_FORMAT, "'%s' is truncated within its IDX header (download it again)",
                                   path);
    }
    uint64_t total = 1;
    for (int d = 0; d < ndims && !s; d++) {
        uint32_t v = be32(hdr + 4 + 4 * d);
        dims[d] = v;
        if (v == 0 || (d > 0 && v > LM_IMAGES_MAX_DIM)) {
            s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' has an IDX dimension of %u (dimension %d; the file is corrupt)",
                        path, v, d);
            break;
        }
        total *= v; /* below 2^32 * 2^15 * 2^15 after three dimensions: no overflow */
        if (total > IDX_MAX_BYTES)
            s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' claims more than %llu bytes of data (the header is corrupt)", path,
                        (unsigned long long)IDX_MAX_BYTES);
    }
    char shape[80] = "";
    for (int d = 0, k = 0; d < ndims && !s && (size_t)k < sizeof shape; d++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, d ? "x%lld" : "%lld", (long long)dims[d]);
    /* Allocate no more than the file can hold, so that a corrupt header cannot ask for gigabytes:
     * a plain file holds its size less the header, a gzip'ed one at most 1032 bytes per byte
     * (deflate's largest ratio). */
    uint64_t fsize = (uint64_t)st.st_size;
    uint64_t room = gzdirect(f) ? (fsize > hlen ? fsize - hlen : 0) : fsize * 1032;
    if (!s && total > room)
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s' is truncated: its header promises %s bytes (%llu) but the %s holds at most %llu "
                    "(download it again)",
                    path, shape, (unsigned long long)total, gzdirect(f) ? "file" : "gzip'ed file",
                    (unsigned long long)room);
    uint8_t *buf = NULL;
    if (!s) {
        buf = malloc((size_t)total);
        if (!buf)
            s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory reading '%s' (%llu bytes)", path,
                        (unsigned long long)total);
    }
    if (!s) {
        got = gz_read_all(f, buf, (size_t)total);
        if (got < total && (zmsg = gz_problem(f, path, &cut)) && !cut) {
            s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' is corrupt: %s (download it again)", path, zmsg);
        } else if (got < total) {
            s = lm_fail(err, LOOM_ERR_FORMAT,
                        "'%s' is truncated: its header promises %s bytes (%llu) but the data ends after %zu%s%s "
                        "(download it again)",
                        path, shape, (unsigned long long)total, got, zmsg ? ": " : "", zmsg ? zmsg : "");
        } else {
            /* One more byte: there must be none, and reading it makes zlib check the gzip trailer's
             * CRC and length, which catches corruption inside the data. */
            uint8_t extra;
            int r = gzread(f, &extra, 1);
            zmsg = gz_problem(f, path, &cut);
            if (zmsg)
                s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' is corrupt: %s (download it again)", path, zmsg);
            else if (r > 0)
                s = lm_fail(err, LOOM_ERR_FORMAT,
                            "'%s' holds more data than its IDX header (%s bytes) says (the file is corrupt)", path,
                            shape);
        }
    }
    gzclose(f);
    if (s) {
        free(buf);
        return s;
    }
    *data = buf;
    return LOOM_OK;
}

/* The labels file that goes with an images file: "images" -> "labels", "idx3" -> "idx1" in the
 * file name, with or without ".gz" (the one given first). NULL if the name has no "images" or
 * no such file exists; *guess receives the first name tried (malloc'ed) for the message. */
static char *labels_beside(const char *images, char **guess) {
    *guess = NULL;
    const char *base = strrchr(images, '/');
    base = base ? base + 1 : images;
    const char *im = strstr(base, "images");
    if (!im) return NULL;
    size_t n = strlen(images);
    char *p = malloc(n + 4);
    if (!p) return NULL;
    memcpy(p, images, n + 1);
    memcpy(p + (im - images), "labels", 6);
    char *i3 = strstr(p + (base - images), "idx3");
    if (i3) i3[3] = '1';
    *guess = lm_strdup(p);
    if (is_file(p)) return p;
    if (n > 3 && !strcmp(p + n - 3, ".gz")) p[n - 3] = 0;
    else strcat(p, ".gz");
    if (is_file(p)) return p;
    free(p);
    return NULL;
}

/* The IDX images file of a split in dir, or NULL (malloc'ed). */
static char *idx_in_dir(const char *dir, int test) {
    static const char *const train_prefix[] = {"train"}, *const test_prefix[] = {"t10k", "test"};
    static const char *const middle[] = {"-images-idx3-ubyte", "-images.idx3-ubyte"};
    static const char *const suffix[] = {".gz", ""};
    const char *const *pre = test ? test_prefix : train_prefix;
    int npre = test ? 2 : 1;
    for (int a = 0; a < npre; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 2; c++) {
                char name[64];
                snprintf(name, sizeof name, "%s%s%s", pre[a], middle[b], suffix[c]);
                char *p = lm_path_join(dir, name);
                if (p && is_file(p)) return p;
                free(p);
            }
    return NULL;
}

static loom_status set_names(lm_images *im, int n_labels, int fashion, lm_error *err) {
    im->label_names = calloc((size_t)n_labels, sizeof *im->label_names);
    if (!im->label_names) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory for %d label names", n_labels);
    im->n_labels = n_labels;
    for (int i = 0; i < n_labels; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        im->label_names[i] = lm_strdup(fashion ? FASHION_NAMES[i] : num);
        if (!im->label_names[i]) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory for label names");
    }
    return LOOM_OK;
}

/* Converts n single-channel (sh, sw) images (IDX's layout) into im's (C, H, W) slots; 1 on
 * failure (out of memory). */
static int place_all(lm_images *im, const uint8_t *src, int64_t n, int sh, int sw) {
    size_t in = (size_t)sh * (size_t)sw, out = (size_t)im->C * (size_t)im->H * (size_t)im->W;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 256) reduction(| : failed)
    for (int64_t i = 0; i < n; i++) {
        lm_error e;
        if (!failed && place_image(src + (size_t)i * in, sw, sh, 1, im->pix + (size_t)i * out, im->C, im->H, im->W, &e))
            failed = 1;
    }
    return failed;
}

static loom_status load_idx(lm_images *im, const char *images, const char *labels, int C, int H, int W,
                            lm_error *err) {
    int64_t di[3], dl[1];
    uint8_t *px = NULL, *lab = NULL;
    loom_status s = lm_idx_read(images, 3, di, &px, err);
    if (!s) s = lm_idx_read(labels, 1, dl, &lab, err);
    if (!s && dl[0] != di[0])
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' has %lld labels but '%s' has %lld images (use files of the same split)",
                    labels, (long long)dl[0], images, (long long)di[0]);
    int fashion = contains_nocase(images, "fashion");
    int maxl = 0;
    for (int64_t i = 0; !s && i < dl[0]; i++)
        if (lab[i] > maxl) maxl = lab[i];
    if (!s && fashion && maxl > 9)
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' has label %d but Fashion-MNIST has labels 0..9 (the file is corrupt)",
                    labels, maxl);
    if (!s) s = set_names(im, maxl + 1 > 10 ? maxl + 1 : 10, fashion, err);
    if (!s) {
        im->labels = malloc((size_t)dl[0] * sizeof *im->labels);
        if (!im->labels) s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory for %lld labels", (long long)dl[0]);
        for (int64_t i = 0; !s && i < dl[0]; i++) im->labels[i] = lab[i];
    }
    if (!s) {
        im->n = di[0];
        im->C = C ? C : 1;
        im->H = H ? H : (int)di[1];
        im->W = W ? W : (int)di[2];
        if (im->C == 1 && im->H == di[1] && im->W == di[2]) {
            im->pix = px; /* already (n, 1, H, W) */
            px = NULL;
        } else {
            size_t per = (size_t)im->C * (size_t)im->H * (size_t)im->W;
            im->pix = (size_t)im->n <= SIZE_MAX / per ? malloc((size_t)im->n * per) : NULL;
            if (!im->pix || place_all(im, px, im->n, (int)di[1], (int)di[2]))
                s = lm_fail(err, LOOM_ERR_NOMEM,
                            "out of memory converting %lld images to %dx%dx%d (use a smaller resolution)",
                            (long long)im->n, im->C, im->H, im->W);
        }
    }
    free(px);
    free(lab);
    return s;
}

/* ------------------------------------------------------------------------ */
/* PNG and JPEG files                                                        */
/* ------------------------------------------------------------------------ */

enum { KIND_NONE = 0, KIND_PNG = 1, KIND_JPEG = 2 };

/* One image file of a folder, as its header describes it. */
typedef struct entry {
    char *path;
    int32_t label;
    int kind;
    int w, h;
    int c;      /* 1 grey or 3 colour, after alpha is composited */
    int alpha;  /* PNG with an alpha channel or tRNS transparency: composite over white */
    int test;   /* belongs to the test split */
} entry;

/* libjpeg reports errors by calling error_exit, which must not return: it jumps back to the
 * setjmp in the decoding function. The text is formatted first, while the object still lives. */
typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_jpeg_error(j_common_ptr c) {
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (level -1) are mostly harmless oddities of camera files, but a premature end of the
 * data means a truncated file that libjpeg would pad with grey: that is an error here. Trace
 * messages (level >= 0) are dropped instead of going to stderr. */
static void on_jpeg_message(j_common_ptr c, int level) {
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) on_jpeg_error(c);
}

/* What the JPEG functions hand back; it lives in the caller so that it survives a longjmp. */
typedef struct jpeg_job {
    FILE *f;                 /* probing: read the header from here */
    const uint8_t *buf;      /* decoding: the whole file */
    size_t len;
    int want_w, want_h;      /* decoding: the size the image goes to (for DCT scaling) */
    int w, h, c, cmyk;
    uint8_t *px;             /* decoded (h, w, c) */
} jpeg_job;

/* Reads the header (job->f) or decodes the image (job->buf). Like png.c's functions it writes
 * only through pointers after setjmp, so nothing is indeterminate after a jump. */
static int jpeg_run(struct jpeg_decompress_struct *ci, jpeg_err *je, jpeg_job *job) {
    if (setjmp(je->jb)) return -1;
    jpeg_create_decompress(ci);
    if (job->f) jpeg_stdio_src(ci, job->f);
    else jpeg_mem_src(ci, job->buf, (unsigned long)job->len);
    jpeg_read_header(ci, TRUE);
    job->w = (int)ci->image_width;
    job->h = (int)ci->image_height;
    job->c = ci->num_components;
    job->cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    if (job->f) return 0;
    if (job->cmyk || (job->c != 1 && job->c != 3) || job->w < 1 || job->h < 1 || job->w > LM_IMAGES_MAX_DIM ||
        job->h > LM_IMAGES_MAX_DIM || (int64_t)job->w * job->h > IMG_MAX_PIXELS)
        return -2;
    ci->out_color_space = job->c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    /* libjpeg can decode at 1/2, 1/4 or 1/8 size inside the inverse DCT, which is many times
     * faster for a large photo going to a small model; the area resize finishes the job. */
    int d = 8;
    while (d > 1 && ((job->w + d - 1) / d < job->want_w || (job->h + d - 1) / d < job->want_h)) d /= 2;
    ci->scale_num = 1;
    ci->scale_denom = (unsigned)d;
    jpeg_start_decompress(ci);
    job->w = (int)ci->output_width;
    job->h = (int)ci->output_height;
    if ((int)ci->output_components != job->c) return -2;
    job->px = malloc((size_t)job->w * (size_t)job->h * (size_t)job->c);
    if (!job->px) return -3;
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = job->px + (size_t)ci->output_scanline * (size_t)job->w * (size_t)job->c;
        jpeg_read_scanlines(ci, &row, 1);
    }
    jpeg_finish_decompress(ci);
    return 0;
}

/* jpeg_run with an error manager that returns to it instead of exiting, the decompressor
 * destroyed afterwards; msg gets libjpeg's message when it fails. */
static int jpeg_job_run(jpeg_job *job, char msg[JMSG_LENGTH_MAX]) {
    struct jpeg_decompress_struct ci;
    jpeg_err je;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = on_jpeg_error;
    je.pub.emit_message = on_jpeg_message;
    je.msg[0] = 0;
    int bad = jpeg_run(&ci, &je, job);
    jpeg_destroy_decompress(&ci);
    snprintf(msg, JMSG_LENGTH_MAX, "%s", je.msg);
    return bad;
}

/* Fills e's kind, size and channels from the file's head; 0 on success, else why[] says why
 * the file is passed over. */
static int probe_file(entry *e, char *why, size_t whylen) {
    FILE *f = fopen(e->path, "rb");
    if (!f) {
        snprintf(why, whylen, "cannot open '%s': %s", e->path, strerror(errno));
        return -1;
    }
    uint8_t *head = malloc(PROBE_BYTES);
    size_t n = head ? fread(head, 1, PROBE_BYTES, f) : 0;
    int rc = -1;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!head) {
        snprintf(why, whylen, "out of memory reading '%s'", e->path);
    } else if (n >= 8 && !memcmp(head, png_sig, 8)) {
        e->kind = KIND_PNG;
        if (n < 33 || memcmp(head + 12, "IHDR", 4)) {
            snprintf(why, whylen, "'%s' is a truncated or corrupt PNG (no IHDR header)", e->path);
        } else {
            uint32_t w = be32(head + 16), h = be32(head + 20);
            int ctype = head[25];
            if (w < 1 || h < 1 || w > LM_IMAGES_MAX_DIM || h > LM_IMAGES_MAX_DIM || (int64_t)w * h > IMG_MAX_PIXELS) {
                snprintf(why, whylen, "'%s' is a PNG of %ux%u pixels, outside what loom reads (1..%d a side, "
                         "%lld pixels at most)", e->path, w, h, LM_IMAGES_MAX_DIM, (long long)IMG_MAX_PIXELS);
            } else if (ctype != 0 && ctype != 2 && ctype != 3 && ctype != 4 && ctype != 6) {
                snprintf(why, whylen, "'%s' is a corrupt PNG (colour type %d)", e->path, ctype);
            } else {
                e->w = (int)w;
                e->h = (int)h;
                e->c = ctype == 0 || ctype == 4 ? 1 : 3;
                e->alpha = ctype == 4 || ctype == 6;
                /* A tRNS chunk (before the image data) makes a palette or colour key transparent. */
                for (size_t p = 8; !e->alpha && p + 8 <= n;) {
                    uint32_t len = be32(head + p);
                    if (!memcmp(head + p + 4, "tRNS", 4)) e->alpha = 1;
                    if (!memcmp(head + p + 4, "IDAT", 4) || len > n) break;
                    p += 12 + (size_t)len;
                }
                rc = 0;
            }
        }
    } else if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff) {
        e->kind = KIND_JPEG;
        rewind(f);
        jpeg_job job = {.f = f};
        char jmsg[JMSG_LENGTH_MAX];
        int bad = jpeg_job_run(&job, jmsg);
        if (bad) {
            snprintf(why, whylen, "cannot read JPEG '%s': %s (the file is corrupt or truncated)", e->path, jmsg);
        } else if (job.cmyk || (job.c != 1 && job.c != 3)) {
            snprintf(why, whylen, "'%s' is a %s JPEG; loom reads grey and RGB ones (save it as RGB)", e->path,
                     job.cmyk ? "CMYK" : "multi-channel");
        } else if (job.w < 1 || job.h < 1 || job.w > LM_IMAGES_MAX_DIM || job.h > LM_IMAGES_MAX_DIM ||
                   (int64_t)job.w * job.h > IMG_MAX_PIXELS) {
            snprintf(why, whylen, "'%s' is a JPEG of %dx%d pixels, outside what loom reads (1..%d a side, "
                     "%lld pixels at most)", e->path, job.w, job.h, LM_IMAGES_MAX_DIM, (long long)IMG_MAX_PIXELS);
        } else {
            e->w = job.w;
            e->h = job.h;
            e->c = job.c;
            rc = 0;
        }
    } else {
        snprintf(why, whylen, "'%s' is not a PNG or JPEG image", e->path);
    }
    free(head);
    fclose(f);
    return rc;
}

/* Decodes e into dst as (C, H, W). */
static loom_status decode_entry(const entry *e, uint8_t *dst, int C, int H, int W, lm_error *err) {
    uint8_t *px = NULL;
    int w = 0, h = 0, c = 0;
    loom_status s = LOOM_OK;
    if (e->kind == KIND_PNG) {
        c = e->alpha ? 4 : e->c;
        s = lm_png_read(e->path, c, &px, &w, &h, err);
        if (!s && c == 4) {
            /* composite over white, in place: RGBA -> RGB (a transparent background reads as paper) */
            size_t np = (size_t)w * (size_t)h;
            for (size_t i = 0; i < np; i++) {
                unsigned a = px[4 * i + 3];
                for (int k = 0; k < 3; k++)
                    px[3 * i + (size_t)k] = (uint8_t)((px[4 * i + (size_t)k] * a + 255u * (255u - a) + 127u) / 255u);
            }
            c = 3;
        }
    } else {
        uint8_t *buf;
        size_t len;
        s = lm_read_file(e->path, JPEG_MAX_FILE, &buf, &len, err);
        if (s) return s;
        jpeg_job job = {.buf = buf, .len = len, .want_w = W, .want_h = H};
        char jmsg[JMSG_LENGTH_MAX];
        int bad = jpeg_job_run(&job, jmsg);
        free(buf);
        px = job.px;
        w = job.w;
        h = job.h;
        c = job.c;
        if (bad == -3) s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory decoding '%s' (%dx%d)", e->path, w, h);
        else if (bad == -2) s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' is a JPEG loom cannot decode (%dx%d, %d channels)",
                                        e->path, w, h, c);
        else if (bad)
            s = lm_fail(err, LOOM_ERR_FORMAT, "cannot read JPEG '%s': %s (the file is corrupt or truncated)", e->path,
                        jmsg);
    }
    if (!s) s = place_image(px, w, h, c, dst, C, H, W, err);
    free(px);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Folders of images                                                         */
/* ------------------------------------------------------------------------ */

/* Skips hidden entries and the resource-fork folder macOS puts into zip files. */
static int ignored_name(const char *name) { return name[0] == '.' || !strcmp(name, "__MACOSX"); }

static void free_names(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

/* The sorted names in dir: its sub-folders (*dirs, *nd) and the number of other files (*nfiles).
 * dirs may be NULL to count only. */
static loom_status list_dir(const char *dir, char ***dirs, int *nd, int64_t *nfiles, lm_error *err) {
    if (dirs) *dirs = NULL;
    *nd = 0;
    *nfiles = 0;
    char **all;
    size_t n_all;
    loom_status s = lm_list_dir(dir, &all, &n_all, err);
    if (s) return s;
    char **names = NULL;
    int n = 0;
    if (dirs && !(names = malloc((n_all ? n_all : 1) * sizeof *names)))
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory listing '%s'", dir);
    for (size_t i = 0; i < n_all && !s; i++) {
        if (ignored_name(all[i])) continue;
        char *p = lm_path_join(dir, all[i]);
        struct stat st;
        int dirp = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        int filep = p && !dirp && stat(p, &st) == 0 && S_ISREG(st.st_mode);
        free(p);
        if (filep) (*nfiles)++;
        if (!dirp || !dirs) continue;
        if (n == LM_IMAGES_MAX_LABELS) {
            s = lm_fail(err, LOOM_ERR_DATA, "'%s' has more than %d sub-folders (labels)", dir, LM_IMAGES_MAX_LABELS);
            break;
        }
        names[n++] = all[i]; /* taken over from the listing */
        all[i] = NULL;
    }
    lm_list_free(all, n_all);
    if (s) {
        free_names(names, n);
        return s;
    }
    if (dirs) *dirs = names;
    *nd = n;
    return LOOM_OK;
}

/* The files of one split: image entries and the files passed over. */
typedef struct scan {
    entry *e;
    int64_t n, cap;
    int64_t n_files;      /* every file seen */
    int64_t n_skipped;    /* not images, or headers that do not parse */
    char first_skip[320]; /* why the first skipped file was skipped */
} scan;

static void free_scan(scan *s) {
    for (int64_t i = 0; i < s->n; i++) free(s->e[i].path);
    free(s->e);
    memset(s, 0, sizeof *s);
}

/* Adds every file under dir (recursively, in name order) as label's. */
static loom_status scan_dir(scan *sc, const char *dir, int32_t label, int depth, lm_error *err) {
    if (depth > MAX_DEPTH) return LOOM_OK;
    char **names;
    size_t n;
    loom_status s = lm_list_dir(dir, &names, &n, err);
    if (s) return s;
    for (size_t i = 0; i < n && !s; i++) {
        if (ignored_name(names[i])) continue;
        char *p = lm_path_join(dir, names[i]);
        struct stat st;
        if (!p) {
            s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory listing '%s'", dir);
        } else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            s = scan_dir(sc, p, label, depth + 1, err);
        } else if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            sc->n_files++;
            entry e = {.path = p, .label = label};
            char why[sizeof sc->first_skip];
            if (probe_file(&e, why, sizeof why)) {
                if (!sc->n_skipped++) memcpy(sc->first_skip, why, sizeof why);
            } else {
                if (sc->n == sc->cap) {
                    int64_t nc = sc->cap ? sc->cap * 2 : 256;
                    entry *ne = realloc(sc->e, (size_t)nc * sizeof *ne);
                    if (!ne) {
                        free(p);
                        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory listing '%s'", dir);
                        break;
                    }
                    sc->e = ne;
                    sc->cap = nc;
                }
                sc->e[sc->n++] = e;
                p = NULL; /* the entry owns it */
            }
        }
        free(p);
    }
    lm_list_free(names, n);
    return s;
}

/* Scans root/<label> for every label; labels whose folder is missing contribute nothing. */
static loom_status scan_labels(scan *sc, const char *root, char **labels, int nl, lm_error *err) {
    loom_status s = LOOM_OK;
    for (int l = 0; l < nl && !s; l++) {
        char *p = lm_path_join(root, labels[l]);
        if (!p) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        if (is_dir(p)) s = scan_dir(sc, p, l, 0, err);
        free(p);
    }
    return s;
}

/* Marks the test sample: the 10th, 20th, ... image of each label in path order. Entries of a
 * label are contiguous (labels are scanned one after another). */
static void mark_sample(scan *sc) {
    int64_t k = 0;
    for (int64_t i = 0; i < sc->n; i++) {
        if (i > 0 && sc->e[i].label != sc->e[i - 1].label) k = 0;
        sc->e[i].test = k++ % 10 == 9;
    }
}

typedef struct size_key {
    int w, h;
    int64_t first;
} size_key;

static int cmp_size(const void *a, const void *b) {
    const size_key *x = a, *y = b;
    if (x->w != y->w) return x->w < y->w ? -1 : 1;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* The defaults taken from the images of split `which` (0 train): 3 channels if any is in colour, and the most
 * common size (the first in path order on a tie). */
static loom_status default_shape(const scan *sc, int which, int *C, int *H, int *W, lm_error *err) {
    int64_t n = 0;
    size_key *k = malloc((size_t)(sc->n ? sc->n : 1) * sizeof *k);
    if (!k) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    int colour = 0;
    for (int64_t i = 0; i < sc->n; i++) {
        if (sc->e[i].test != which) continue;
        colour |= sc->e[i].c == 3;
        k[n++] = (size_key){sc->e[i].w, sc->e[i].h, i};
    }
    if (n == 0) {
        free(k);
        return LOOM_OK; /* the caller reports that there are no images */
    }
    qsort(k, (size_t)n, sizeof *k, cmp_size);
    int64_t best = -1, best_count = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && k[j].w == k[i].w && k[j].h == k[i].h) j++;
        if (j - i > best_count || (j - i == best_count && k[i].first < k[best].first)) {
            best = i;
            best_count = j - i;
        }
        i = j;
    }
    if (!*C) *C = colour ? 3 : 1;
    if (!*W) *W = k[best].w;
    if (!*H) *H = k[best].h;
    free(k);
    return LOOM_OK;
}

static int is_test_name(const char *s) {
    return !strcmp(s, "test") || !strcmp(s, "val") || !strcmp(s, "valid") || !strcmp(s, "validation");
}

/* Sorted union of the sub-folder names of two folders. */
static loom_status union_labels(const char *a, const char *b, char ***out, int *n, lm_error *err) {
    char **la, **lb;
    int na, nb;
    int64_t nf;
    loom_status s = list_dir(a, &la, &na, &nf, err);
    if (s) return s;
    s = list_dir(b, &lb, &nb, &nf, err);
    if (s) {
        free_names(la, na);
        return s;
    }
    char **u = malloc((size_t)(na + nb + 1) * sizeof *u);
    if (!u) {
        free_names(la, na);
        free_names(lb, nb);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    int i = 0, j = 0, k = 0;
    while (i < na || j < nb) { /* merge two sorted lists, taking each name once */
        int c = i == na ? 1 : j == nb ? -1 : strcmp(la[i], lb[j]);
        if (c <= 0) {
            u[k++] = la[i++];
            if (c == 0) free(lb[j++]);
        } else {
            u[k++] = lb[j++];
        }
    }
    free(la);
    free(lb);
    if (k > LM_IMAGES_MAX_LABELS) {
        free_names(u, k);
        return lm_fail(err, LOOM_ERR_DATA, "'%s' and '%s' have more than %d label sub-folders", a, b,
                       LM_IMAGES_MAX_LABELS);
    }
    *out = u;
    *n = k;
    return LOOM_OK;
}

static void warnf(lm_warn_fn warn, void *ud, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warnf(lm_warn_fn warn, void *ud, const char *fmt, ...) {
    if (!warn) return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(ud, msg);
}

/* Says, in one warning, that images of several sizes or channel counts were made alike. */
static void note_mixed(const lm_images *im, const entry *const *sel, int64_t n, lm_warn_fn warn, void *ud) {
    int64_t sizes = 0;
    int minw = 0, minh = 0, maxw = 0, maxh = 0, grey = 0, colour = 0;
    size_key *k = malloc((size_t)(n ? n : 1) * sizeof *k);
    if (!k) return;
    for (int64_t i = 0; i < n; i++) {
        k[i] = (size_key){sel[i]->w, sel[i]->h, 0};
        grey |= sel[i]->c == 1;
        colour |= sel[i]->c == 3;
        int64_t area = (int64_t)sel[i]->w * sel[i]->h;
        if (!i || area < (int64_t)minw * minh) minw = sel[i]->w, minh = sel[i]->h;
        if (!i || area > (int64_t)maxw * maxh) maxw = sel[i]->w, maxh = sel[i]->h;
    }
    qsort(k, (size_t)n, sizeof *k, cmp_size);
    for (int64_t i = 0; i < n; i++) sizes += !i || k[i].w != k[i - 1].w || k[i].h != k[i - 1].h;
    free(k);
    if (sizes > 1 || (grey && colour))
        warnf(warn, ud, "the images come in %lld size%s (%dx%d to %dx%d)%s; all are resized to %dx%d%s", (long long)sizes,
              sizes == 1 ? "" : "s", minw, minh, maxw, maxh, grey && colour ? " and in both grey and colour" : "",
              im->W, im->H, im->C == 3 ? " in RGB" : " in grey");
}

static loom_status load_folder(lm_images *im, const char *path, int test, int C, int H, int W, lm_warn_fn warn,
                               void *ud, lm_error *err) {
    char **sub;
    int nsub;
    int64_t loose;
    loom_status s = list_dir(path, &sub, &nsub, &loose, err);
    if (s) return s;
    int itrain = -1, itest = -1;
    for (int i = 0; i < nsub; i++) {
        if (!strcmp(sub[i], "train")) itrain = i;
        else if (itest < 0 && is_test_name(sub[i])) itest = i;
    }
    char **labels = NULL, *train_root = NULL, *test_root = NULL;
    int nl = 0, split_dirs = itrain >= 0 && itest >= 0;
    if (split_dirs) {
        train_root = lm_path_join(path, sub[itrain]);
        test_root = lm_path_join(path, sub[itest]);
        s = train_root && test_root ? union_labels(train_root, test_root, &labels, &nl, err)
                                    : lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        free_names(sub, nsub);
    } else {
        labels = sub;
        nl = nsub;
    }
    scan sc = {0}, tr = {0};
    const char *root = split_dirs ? (test ? test_root : train_root) : path;
    if (!s && nl == 0) {
        if (loose)
            s = lm_fail(err, LOOM_ERR_DATA,
                        "'%s' holds files but no label sub-folders: put the images in one sub-folder per label "
                        "(e.g. '%s/boot/1.png', '%s/sandal/1.png'); the sub-folder names are the labels",
                        root, root, root);
        else
            s = lm_fail(err, LOOM_ERR_DATA,
                        "folder '%s' has no images: put PNG or JPEG images in it, one sub-folder per label "
                        "(e.g. '%s/boot/1.png')",
                        root, root);
    }
    if (!s && loose && !split_dirs)
        warnf(warn, ud, "ignored %lld file%s directly in '%s' (images are read from its label sub-folders only)",
              (long long)loose, loose == 1 ? "" : "s", path);
    if (!s) s = scan_labels(&sc, root, labels, nl, err);
    if (!s) {
        if (split_dirs) {
            for (int64_t i = 0; i < sc.n; i++) sc.e[i].test = test;
        } else {
            mark_sample(&sc);
        }
    }
    /* default shape from the training images, so that both splits get the same one */
    if (!s && (!C || !H || !W)) {
        const scan *from = &sc;
        int which = 0;
        if (split_dirs && test) {
            s = scan_labels(&tr, train_root, labels, nl, err);
            if (!s && tr.n) from = &tr;
            else which = 1; /* no training images to go by: this split's own */
        }
        if (!s) s = default_shape(from, which, &C, &H, &W, err);
    }
    free_scan(&tr);

    /* the images of the split */
    const entry **sel = NULL;
    int64_t ns = 0;
    if (!s) {
        sel = malloc((size_t)(sc.n ? sc.n : 1) * sizeof *sel);
        if (!sel) s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; !s && i < sc.n; i++)
            if (sc.e[i].test == test) sel[ns++] = &sc.e[i];
    }
    char skipped_why[sizeof sc.first_skip];
    if (!s) memcpy(skipped_why, sc.first_skip, sizeof skipped_why);
    if (!s && ns == 0) {
        if (sc.n_files == 0)
            s = lm_fail(err, LOOM_ERR_DATA,
                        "folder '%s' has no images in its label sub-folders: put PNG or JPEG images in them "
                        "(e.g. '%s/%s/1.png')",
                        root, root, labels[0]);
        else if (sc.n == 0)
            s = lm_fail(err, LOOM_ERR_DATA, "no readable images in '%s' (%lld file%s, none a readable PNG or JPEG image%s%s)",
                        root, (long long)sc.n_files, sc.n_files == 1 ? "" : "s", sc.n_skipped ? "; first: " : "",
                        sc.n_skipped ? sc.first_skip : "");
        else
            s = lm_fail(err, LOOM_ERR_DATA,
                        "'%s' has no test images: the test split takes every 10th image of each label, and no label "
                        "has 10 (add images, or put the test images in '%s/test/<label>/')",
                        path, path);
    }
    size_t per = 0;
    if (!s) {
        im->C = C;
        im->H = H;
        im->W = W;
        per = (size_t)C * (size_t)H * (size_t)W;
        im->pix = (size_t)ns <= SIZE_MAX / per ? malloc((size_t)ns * per) : NULL;
        im->labels = malloc((size_t)ns * sizeof *im->labels);
        if (!im->pix || !im->labels)
            s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory for %lld images of %dx%dx%d (use a smaller resolution)",
                        (long long)ns, C, H, W);
    }
    int64_t n_bad = 0, first_bad = -1;
    char bad_why[sizeof err->msg] = "";
    int nomem = 0;
    if (!s) {
        uint8_t *ok = calloc((size_t)ns, 1);
        if (!ok) s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        if (ok) {
#pragma omp parallel for schedule(dynamic, 1)
            for (int64_t i = 0; i < ns; i++) {
                lm_error e = {0};
                loom_status ds = decode_entry(sel[i], im->pix + (size_t)i * per, C, H, W, &e);
                if (!ds) {
                    ok[i] = 1;
                    continue;
                }
#pragma omp critical(lm_images_first_bad)
                {
                    if (ds == LOOM_ERR_NOMEM) nomem = 1;
                    if (first_bad < 0 || i < first_bad) {
                        first_bad = i;
                        memcpy(bad_why, e.msg, sizeof bad_why);
                    }
                }
            }
            /* close the gaps the skipped images left, keeping path order */
            int64_t k = 0;
            for (int64_t i = 0; i < ns; i++) {
                if (!ok[i]) {
                    n_bad++;
                    continue;
                }
                if (k != i) memmove(im->pix + (size_t)k * per, im->pix + (size_t)i * per, per);
                im->labels[k++] = sel[i]->label;
            }
            im->n = k;
            free(ok);
        }
        if (!s && nomem)
            s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory decoding the images in '%s' (%s)", root, bad_why);
    }
    if (!s) {
        /* report the first skipped file: a non-image found while scanning, else a decoding failure */
        int64_t total = sc.n_skipped + n_bad;
        const char *first = sc.n_skipped ? skipped_why : bad_why;
        if (im->n == 0)
            s = lm_fail(err, LOOM_ERR_DATA, "no readable images in '%s': all %lld failed to decode (first: %s)", root,
                        (long long)n_bad, bad_why);
        else if (total)
            warnf(warn, ud, "skipped %lld file%s that %s (first: %s)", (long long)total, total == 1 ? "" : "s",
                  total == 1 ? "is not a readable PNG or JPEG image" : "are not readable PNG or JPEG images", first);
        im->n_skipped = total;
    }
    if (!s) {
        note_mixed(im, sel, ns, warn, ud);
        int64_t *count = calloc((size_t)nl, sizeof *count);
        if (count) {
            for (int64_t i = 0; i < im->n; i++) count[im->labels[i]]++;
            for (int l = 0; l < nl && !test; l++)
                if (!count[l]) warnf(warn, ud, "label '%s' has no readable images in '%s'", labels[l], root);
        }
        free(count);
        im->label_names = labels;
        im->n_labels = nl;
        labels = NULL;
    }
    free(sel);
    free_scan(&sc);
    free_names(labels, nl);
    free(train_root);
    free(test_root);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                               */
/* ------------------------------------------------------------------------ */

loom_status lm_images_load(lm_images *im, const char *path, const char *split, int want_C, int want_H, int want_W,
                           lm_warn_fn warn, void *ud, lm_error *err) {
    if (!im) return lm_fail(err, LOOM_ERR_ARG, "lm_images_load: the image set must not be NULL");
    memset(im, 0, sizeof *im);
    if (!path || !*path) return lm_fail(err, LOOM_ERR_ARG, "no image data given (give --data a folder or an IDX file)");
    if (!split) split = "train";
    int test = !strcmp(split, "test");
    if (!test && strcmp(split, "train"))
        return lm_fail(err, LOOM_ERR_ARG, "unknown split '%s' (use train or test)", split);
    if ((want_C != 0 && want_C != 1 && want_C != 3) || want_H < 0 || want_W < 0 || want_H > LM_IMAGES_MAX_DIM ||
        want_W > LM_IMAGES_MAX_DIM)
        return lm_fail(err, LOOM_ERR_ARG,
                       "cannot load '%s' as %d channels of %dx%d (use 1 or 3 channels and sizes 1..%d, 0 for the data's own)",
                       path, want_C, want_W, want_H, LM_IMAGES_MAX_DIM);
    struct stat st;
    if (stat(path, &st) != 0)
        return lm_fail(err, LOOM_ERR_DATA,
                       "image data '%s' not found: %s (give a folder of images with one sub-folder per label, or "
                       "the Fashion-MNIST folder /usr/share/datasets/fashion-mnist)",
                       path, strerror(errno));
    loom_status s;
    if (S_ISDIR(st.st_mode)) {
        char *images = idx_in_dir(path, test);
        char *other = images ? NULL : idx_in_dir(path, !test);
        if (images) {
            char *guess, *labels = labels_beside(images, &guess);
            s = labels ? load_idx(im, images, labels, want_C, want_H, want_W, err)
                       : lm_fail(err, LOOM_ERR_DATA, "'%s' has no labels file beside it (expected '%s')", images,
                                 guess ? guess : "a *-labels-idx1-ubyte file");
            free(labels);
            free(guess);
        } else if (other) {
            s = lm_fail(err, LOOM_ERR_DATA,
                        "'%s' has IDX files for the %s split but none for %s (expected %s-images-idx3-ubyte[.gz])",
                        path, test ? "train" : "test", split, test ? "t10k" : "train");
        } else {
            s = load_folder(im, path, test, want_C, want_H, want_W, warn, ud, err);
        }
        free(images);
        free(other);
    } else if (S_ISREG(st.st_mode)) {
        char *guess, *labels = labels_beside(path, &guess);
        if (labels) {
            s = load_idx(im, path, labels, want_C, want_H, want_W, err);
        } else {
            /* say first what the file is, if it is not IDX images at all */
            int64_t dims[3];
            uint8_t *data;
            s = lm_idx_read(path, 3, dims, &data, err);
            free(data);
            if (!s)
                s = lm_fail(err, LOOM_ERR_DATA,
                            "'%s' has no labels file beside it (expected '%s'; put the IDX labels file next to it)",
                            path, guess ? guess : "a file named like it with 'labels' for 'images'");
        }
        free(labels);
        free(guess);
    } else {
        s = lm_fail(err, LOOM_ERR_DATA, "'%s' is neither a file nor a folder (give a folder of images or an IDX file)",
                    path);
    }
    if (s) lm_images_free(im);
    return s;
}
