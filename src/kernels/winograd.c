/* 3x3 stride-1 "same" convolution (padding 1) by Winograd's minimal filtering F(2x2,3x3)
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
 *
 * Each 2x2 block of output is A^T [ (G g G^T) . (B^T d B) ] A, where d is the 4x4 input
 * patch around the block, g the 3x3 filter and "." the elementwise product. Summed over
 * input channels, the elementwise products become 16 matrix products, one per element e
 * of the 4x4 tile:
 *     U[e] (Cout,Cin) = (G g G^T)[e]            the filters, once per call
 *     V[e] (Cin,T)    = (B^T d B)[e]            every input patch (T tiles)
 *     M[e] (Cout,T)   = U[e] @ V[e]             16 sgemms
 *     y               = A^T M A                 every 2x2 output block
 * That is 16 multiplies per four outputs where im2col does 36, and the products have
 * N = T, the tiles of several images, instead of one image's positions (49 at 7x7).
 *
 * The backward is the adjoint of the same linear maps:
 *     dM[e] = (A dy A^T)[e]                     every 2x2 block of dout
 *     dV[e] = U[e]^T @ dM[e];  dx += B dV B^T   overlapping 4x4 patches added back
 *     dU[e] += dM[e] @ V[e]^T; dw += G^T dU G   once per call, after the sum over tiles
 * F(2x2,3x3)'s transforms have entries 0, +-1, +-1/2, so rounding stays at the level of
 * the direct sum (the tests hold it to the im2col kernel and to PyTorch).
 *
 * The transforms are cheap in arithmetic but touch every value, and on small planes a loop
 * over one image row's tiles runs 4 (7x7) to 14 (28x28) times: so slow that the first
 * version lost to im2col at 7x7. Here a chunk's images sit side by side in one wide, padded
 * row per channel (plane stride S, even, with at least one zero column between planes), and
 * each transform loop runs along the whole wide row. For even W a plane brings one extra
 * tile column, whose outputs are dropped (1/8 of the work wasted at 14x14, 1/15 at 28x28).
 *
 * Threads take contiguous ranges of images, in chunks of several images (CHUNK_BYTES); each
 * thread's dU is summed in thread order, so results are fixed for a given thread count, as
 * in conv.c. Measured with bench/bench_conv (batch 64, 2 threads) against im2col on the
 * U-Net's shapes: forward 1.3-1.8x faster, backward 1.4-1.7x, except with one input
 * channel (the first convolution), where im2col stays (see conv.c). */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util/mem.h"

/* A chunk's V and M (16 * (Cin + Cout) floats per tile; the backward adds dV, 16 * Cin
 * more) are sized to about CHUNK_BYTES, so
 * that they stay in cache between the transforms and the products, but hold at least
 * MIN_TILES tiles, below which the products' N is too small for sgemm to run well. Measured
 * with bench/bench_conv on the 2-core machine: 1-2 MB and 128-384 tiles were within noise
 * of each other; 512 KB (256->128 at 7x7 down to 16 tiles) was 1.5x slower there, 8 MB
 * 1.15x slower overall. */
enum { CHUNK_BYTES = 2 << 20, MIN_TILES = 256 };
/* ... and at least MIN_J tile columns side by side, the length of every transform loop: at
 * 28x28 one image is 15, and two or three images instead of one took the U-Net's 28x28
 * backward convolutions from 74 to 61-66 ms (forward unchanged); 90 was slower again. */
enum { MIN_J = 32 };

typedef struct {
    int64_t Cin, H, W, Cout;
    int64_t S;       /* a plane's stride along the wide row: W+1 (odd W) or W+2, even */
    int64_t th, jp;  /* tile rows, and tile columns per plane (S/2) */
    int64_t nb;      /* images per chunk */
    int64_t J, nt;   /* tile columns of a chunk's wide row (nb*jp), tiles of a chunk (th*J) */
    int64_t hp, wpd; /* the padded wide input: hp = 2*th+2 rows of wpd = nb*S+2 */
} geom;

static geom make_geom(int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t nb) {
    geom g = {.Cin = Cin, .H = H, .W = W, .Cout = Cout, .S = W % 2 ? W + 1 : W + 2, .th = (H + 1) / 2, .nb = nb};
    g.jp = g.S / 2;
    g.J = nb * g.jp;
    g.nt = g.th * g.J;
    g.hp = 2 * g.th + 2;
    g.wpd = nb * g.S + 2;
    return g;
}

/* U (16, Cout, Cin) = G g G^T for every filter g (3x3) of w (Cout,Cin,3,3). */
static void filter_transform(float *U, const float *w, int64_t CC) {
    for (int64_t i = 0; i < CC; i++) {
        const float *g = w + i * 9;
        float t[4][3], u[4][4];
        for (int c = 0; c < 3; c++) {
            t[0][c] = g[c];
            t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
            t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
            t[3][c] = g[6 + c];
        }
        for (int r = 0; r < 4; r++) {
            u[r][0] = t[r][0];
            u[r][1] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
            u[r][2] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
            u[r][3] = t[r][2];
        }
        for (int e = 0; e < 16; e++) U[e * CC + i] = u[e / 4][e % 4];
    }
}

/* dw (Cout,Cin,3,3) += G^T dU G for every dU (16, Cout, Cin): the adjoint of filter_transform */
static void filter_transform_adjoint(float *dw, const float *dU, int64_t CC) {
    for (int64_t i = 0; i < CC; i++) {
        float d[4][4], s[3][4];
        for (int e = 0; e < 16; e++) d[e / 4][e % 4] = dU[e * CC + i];
        for (int c = 0; c < 4; c++) {
            s[0][c] = d[0][c] + 0.5f * (d[1][c] + d[2][c]);
            s[1][c] = 0.5f * (d[1][c] - d[2][c]);
            s[2][c] = 0.5f * (d[1][c] + d[2][c]) + d[3][c];
        }
        float *g = dw + i * 9;
        for (int a = 0; a < 3; a++) {
            g[a * 3 + 0] += s[a][0] + 0.5f * (s[a][1] + s[a][2]);
            g[a * 3 + 1] += 0.5f * (s[a][1] - s[a][2]);
            g[a * 3 + 2] += 0.5f * (s[a][1] + s[a][2]) + s[a][3];
        }
    }
}

/* The padded wide plane is kept with its even and odd columns apart: row r's even columns
 * at pad + r*wpd, its odd ones at pad + r*wpd + half (half = wpd/2 = J+1). Tile j's patch
 * (columns 2j..2j+3) is then ev[j], od[j], ev[j+1], od[j+1]: contiguous loads, where
 * interleaved columns made GCC give up on vectorising along j. */

/* pad (hp, wpd) = plane c of the images img[0..nb) (each (Cin,H,W)) side by side, pixel
 * (y,x) of image i at row y+1, column i*S+1+x; the rest (zeros) is left as it is, the same
 * cells for every channel of a chunk. x even lands on an odd
 * column (od[i*jp + x/2]), x odd on an even one (ev[i*jp + 1 + x/2]) */
static void load_wide(float *pad, const float *img, int64_t nb, int64_t c, const geom *g) {
    int64_t half = g->wpd / 2;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = img + (i * g->Cin + c) * g->H * g->W;
        for (int64_t y = 0; y < g->H; y++) {
            const float *src = x + y * g->W;
            float *ev = pad + (y + 1) * g->wpd + i * g->jp, *od = ev + half;
            for (int64_t k = 0; k < (g->W + 1) / 2; k++) od[k] = src[2 * k];
            for (int64_t k = 0; k < g->W / 2; k++) ev[1 + k] = src[2 * k + 1];
        }
    }
}

/* dst (H,W) += the plane of image i in the padded wide buffer: load_wide's adjoint */
static void unload_wide_add(float *dst, const float *pad, int64_t i, const geom *g) {
    int64_t half = g->wpd / 2;
    for (int64_t y = 0; y < g->H; y++) {
        float *d = dst + y * g->W;
        const float *ev = pad + (y + 1) * g->wpd + i * g->jp, *od = ev + half;
        for (int64_t k = 0; k < (g->W + 1) / 2; k++) d[2 * k] += od[k];
        for (int64_t k = 0; k < g->W / 2; k++) d[2 * k + 1] += ev[1 + k];
    }
}

/* v[e*es + j] = (B^T d B)[e] for the J tiles of tile row ty, d the 4x4 patch at rows
 * 2ty..2ty+3. Written out value by value, and with `omp simd` (without it GCC 12 gives up
 * on the eight input rows' aliasing): with small local arrays GCC vectorised across
 * the four columns instead of along j. */
static void input_row(float *restrict v, int64_t es, const float *restrict pad, int64_t ty, const geom *g) {
    int64_t half = g->wpd / 2;
    const float *e0 = pad + 2 * ty * g->wpd, *e1 = e0 + g->wpd, *e2 = e1 + g->wpd, *e3 = e2 + g->wpd;
    const float *o0 = e0 + half, *o1 = e1 + half, *o2 = e2 + half, *o3 = e3 + half;
    float *restrict v0 = v, *restrict v1 = v + es, *restrict v2 = v + 2 * es, *restrict v3 = v + 3 * es;
    float *restrict v4 = v + 4 * es, *restrict v5 = v + 5 * es, *restrict v6 = v + 6 * es, *restrict v7 = v + 7 * es;
    float *restrict v8 = v + 8 * es, *restrict v9 = v + 9 * es, *restrict v10 = v + 10 * es;
    float *restrict v11 = v + 11 * es, *restrict v12 = v + 12 * es, *restrict v13 = v + 13 * es;
    float *restrict v14 = v + 14 * es, *restrict v15 = v + 15 * es;
    int64_t J = g->J;
#pragma omp simd
    for (int64_t j = 0; j < J; j++) {
        /* B^T d, column by column (columns ev[j], od[j], ev[j+1], od[j+1]) */
        float h00 = e0[j] - e2[j], h01 = o0[j] - o2[j], h02 = e0[j + 1] - e2[j + 1], h03 = o0[j + 1] - o2[j + 1];
        float h10 = e1[j] + e2[j], h11 = o1[j] + o2[j], h12 = e1[j + 1] + e2[j + 1], h13 = o1[j + 1] + o2[j + 1];
        float h20 = e2[j] - e1[j], h21 = o2[j] - o1[j], h22 = e2[j + 1] - e1[j + 1], h23 = o2[j + 1] - o1[j + 1];
        float h30 = e1[j] - e3[j], h31 = o1[j] - o3[j], h32 = e1[j + 1] - e3[j + 1], h33 = o1[j + 1] - o3[j + 1];
        /* (B^T d) B: the same along each row */
        v0[j] = h00 - h02, v1[j] = h01 + h02, v2[j] = h02 - h01, v3[j] = h01 - h03;
        v4[j] = h10 - h12, v5[j] = h11 + h12, v6[j] = h12 - h11, v7[j] = h11 - h13;
        v8[j] = h20 - h22, v9[j] = h21 + h22, v10[j] = h22 - h21, v11[j] = h21 - h23;
        v12[j] = h30 - h32, v13[j] = h31 + h32, v14[j] = h32 - h31, v15[j] = h31 - h33;
    }
}

/* pad rows 2ty..2ty+3 += B dv B^T for the J tiles of tile row ty: input_row's adjoint.
 * Neighbouring tiles overlap by two columns, so dd (16,J) holds the patches and they are
 * added one patch column at a time, where no two tiles touch the same cell. */
static void input_row_adjoint(float *restrict pad, const float *restrict v, int64_t es, int64_t ty,
                              float *restrict dd, const geom *g) {
    int64_t J = g->J, half = g->wpd / 2;
    for (int c = 0; c < 4; c++) { /* B dv, one column of dv at a time: s (4 rows) into dd[4r + c] */
        const float *d0 = v + c * es, *d1 = v + (4 + c) * es, *d2 = v + (8 + c) * es, *d3 = v + (12 + c) * es;
        float *restrict s0 = dd + c * J, *restrict s1 = dd + (4 + c) * J, *restrict s2 = dd + (8 + c) * J;
        float *restrict s3 = dd + (12 + c) * J;
        for (int64_t j = 0; j < J; j++) {
            s0[j] = d0[j];
            s1[j] = d1[j] - d2[j] + d3[j];
            s2[j] = -d0[j] + d1[j] + d2[j];
            s3[j] = -d3[j];
        }
    }
    for (int r = 0; r < 4; r++) { /* (B dv) B^T, patch row r, added column by column */
        const float *s0 = dd + 4 * r * J, *s1 = s0 + J, *s2 = s1 + J, *s3 = s2 + J;
        float *restrict ev = pad + (2 * ty + r) * g->wpd, *restrict od = ev + half;
        for (int64_t j = 0; j < J; j++) ev[j] += s0[j];
        for (int64_t j = 0; j < J; j++) od[j] += s1[j] - s2[j] + s3[j];
        for (int64_t j = 0; j < J; j++) ev[j + 1] += -s0[j] + s1[j] + s2[j];
        for (int64_t j = 0; j < J; j++) od[j + 1] -= s3[j];
    }
}

/* o (4, J) = A^T m A + bias for the J tiles of one tile row, m[e*es + j]: rows of output
 * cells, split by column parity as the padded input is (o[2r] even columns of output row
 * r, o[2r+1] odd ones) */
static void output_row(float *restrict o, const float *restrict m, int64_t es, float bias, const geom *g) {
    int64_t J = g->J;
    float *restrict oe0 = o, *restrict oo0 = o + J, *restrict oe1 = o + 2 * J, *restrict oo1 = o + 3 * J;
    const float *m0 = m, *m1 = m + es, *m2 = m + 2 * es, *m3 = m + 3 * es, *m4 = m + 4 * es, *m5 = m + 5 * es;
    const float *m6 = m + 6 * es, *m7 = m + 7 * es, *m8 = m + 8 * es, *m9 = m + 9 * es, *m10 = m + 10 * es;
    const float *m11 = m + 11 * es, *m12 = m + 12 * es, *m13 = m + 13 * es, *m14 = m + 14 * es, *m15 = m + 15 * es;
    for (int64_t j = 0; j < J; j++) {
        /* A^T m: rows 0+1+2 and 1-2-3, column by column */
        float a00 = m0[j] + m4[j] + m8[j], a01 = m1[j] + m5[j] + m9[j];
        float a02 = m2[j] + m6[j] + m10[j], a03 = m3[j] + m7[j] + m11[j];
        float a10 = m4[j] - m8[j] - m12[j], a11 = m5[j] - m9[j] - m13[j];
        float a12 = m6[j] - m10[j] - m14[j], a13 = m7[j] - m11[j] - m15[j];
        oe0[j] = a00 + a01 + a02 + bias; /* (A^T m) A */
        oo0[j] = a01 - a02 - a03 + bias;
        oe1[j] = a10 + a11 + a12 + bias;
        oo1[j] = a11 - a12 - a13 + bias;
    }
}

/* m[e*es + j] = (A dy A^T)[e] for the J tiles of one tile row, dy (4, J) their 2x2 blocks
 * of the output gradient split by parity as output_row writes them: its adjoint */
static void output_row_adjoint(float *restrict m, int64_t es, const float *restrict dy, const geom *g) {
    int64_t J = g->J;
    const float *ye0 = dy, *yo0 = dy + J, *ye1 = dy + 2 * J, *yo1 = dy + 3 * J;
    float *restrict m0 = m, *restrict m1 = m + es, *restrict m2 = m + 2 * es, *restrict m3 = m + 3 * es;
    float *restrict m4 = m + 4 * es, *restrict m5 = m + 5 * es, *restrict m6 = m + 6 * es, *restrict m7 = m + 7 * es;
    float *restrict m8 = m + 8 * es, *restrict m9 = m + 9 * es, *restrict m10 = m + 10 * es;
    float *restrict m11 = m + 11 * es, *restrict m12 = m + 12 * es, *restrict m13 = m + 13 * es;
    float *restrict m14 = m + 14 * es, *restrict m15 = m + 15 * es;
#pragma omp simd
    for (int64_t j = 0; j < J; j++) {
        /* A dy: rows y0, y0+y1, y0-y1, -y1, for the two columns */
        float a00 = ye0[j], a01 = yo0[j];
        float a10 = ye0[j] + ye1[j], a11 = yo0[j] + yo1[j];
        float a20 = ye0[j] - ye1[j], a21 = yo0[j] - yo1[j];
        float a30 = -ye1[j], a31 = -yo1[j];
        /* (A dy) A^T: columns c0, c0+c1, c0-c1, -c1 */
        m0[j] = a00, m1[j] = a00 + a01, m2[j] = a00 - a01, m3[j] = -a01;
        m4[j] = a10, m5[j] = a10 + a11, m6[j] = a10 - a11, m7[j] = -a11;
        m8[j] = a20, m9[j] = a20 + a21, m10[j] = a20 - a21, m11[j] = -a21;
        m12[j] = a30, m13[j] = a30 + a31, m14[j] = a30 - a31, m15[j] = -a31;
    }
}

/* y (W) = output row r of image i, from o as output_row wrote it */
static void store_row(float *y, const float *o, int r, int64_t i, const geom *g) {
    const float *ev = o + 2 * r * g->J + i * g->jp, *od = ev + g->J;
    for (int64_t k = 0; k < (g->W + 1) / 2; k++) y[2 * k] = ev[k];
    for (int64_t k = 0; k < g->W / 2; k++) y[2 * k + 1] = od[k];
}

/* o's row r, image i = y (W): store_row's adjoint, for the output gradient */
static void load_row(float *o, const float *y, int r, int64_t i, const geom *g) {
    float *ev = o + 2 * r * g->J + i * g->jp, *od = ev + g->J;
    for (int64_t k = 0; k < (g->W + 1) / 2; k++) ev[k] = y[2 * k];
    for (int64_t k = 0; k < g->W / 2; k++) od[k] = y[2 * k + 1];
}

/* images per chunk for a thread's n images: the fewest chunks of at most about CHUNK_BYTES,
 * sized evenly (room for 10 images and 32 to do: 8+8+8+8, not 10+10+10+2) */
static int64_t chunk_images(int64_t n, int64_t Cin, int64_t Cout, const geom *one) {
    int64_t tiles = CHUNK_BYTES / (64 * (Cin + Cout));
    if (tiles < MIN_TILES) tiles = MIN_TILES;
    int64_t nb = tiles / one->nt;
    if (nb * one->jp < MIN_J) nb = (MIN_J + one->jp - 1) / one->jp;
    if (nb > n) nb = n;
    int64_t chunks = (n + nb - 1) / nb;
    return (n + chunks - 1) / chunks;
}

/* One thread's share of the batch: the images [lo, hi) of thread t of nth, in chunks of nb
 * (the last may be smaller), and scratch for the largest chunk */
typedef struct {
    int64_t lo, hi, nb;
    geom g0; /* the geometry of a full chunk */
} share;

static share thread_share(int64_t B, int t, int nth, int64_t Cin, int64_t H, int64_t W, int64_t Cout) {
    share sh = {.lo = B * t / nth, .hi = B * (t + 1) / nth};
    geom one = make_geom(Cin, H, W, Cout, 1);
    sh.nb = chunk_images(sh.hi - sh.lo, Cin, Cout, &one);
    sh.g0 = make_geom(Cin, H, W, Cout, sh.nb);
    return sh;
}

/* the geometry of the chunk that starts at image n0 */
static geom chunk_geom(const share *sh, int64_t n0) {
    const geom *g = &sh->g0;
    return make_geom(g->Cin, g->H, g->W, g->Cout, sh->hi - n0 < sh->nb ? sh->hi - n0 : sh->nb);
}

/* V (16, Cin, nt) for the chunk of images img[0..g->nb) */
static void chunk_inputs(float *V, float *pad, const float *img, const geom *g) {
    int64_t es = g->Cin * g->nt;
    memset(pad, 0, (size_t)(g->hp * g->wpd) * sizeof(float));
    for (int64_t c = 0; c < g->Cin; c++) {
        load_wide(pad, img, g->nb, c, g);
        for (int64_t ty = 0; ty < g->th; ty++) input_row(V + c * g->nt + ty * g->J, es, pad, ty, g);
    }
}

/* scratch for one thread: the largest chunk's buffers */
typedef struct {
    float *V, *M, *dV, *pad, *row; /* row: 16*J floats (input_row_adjoint's dd, or 4 output rows) */
} scratch;

static scratch make_scratch(const geom *g, int needV, int needdV) {
    scratch s = {0};
    if (needV) s.V = lm_xcalloc((size_t)(16 * g->Cin * g->nt), sizeof(float));
    if (needdV) s.dV = lm_xcalloc((size_t)(16 * g->Cin * g->nt), sizeof(float));
    s.M = lm_xcalloc((size_t)(16 * g->Cout * g->nt), sizeof(float));
    s.pad = lm_xcalloc((size_t)(g->hp * g->wpd), sizeof(float));
    s.row = lm_xcalloc((size_t)(16 * g->J), sizeof(float));
    return s;
}

static void free_scratch(scratch *s) { free(s->V), free(s->M), free(s->dV), free(s->pad), free(s->row); }

void lm_conv3x3_winograd_forward(float *out, const float *inp, const float *w, const float *b, int64_t B,
                                 int64_t Cin, int64_t H, int64_t W, int64_t Cout) {
    if (B <= 0) return;
    int64_t CC = Cout * Cin;
    float *U = lm_xcalloc((size_t)(16 * CC), sizeof(float));
    filter_transform(U, w, CC);
    int par = B >= omp_get_max_threads();
#pragma omp parallel if (par)
    {
        share sh = thread_share(B, omp_get_thread_num(), omp_get_num_threads(), Cin, H, W, Cout);
        scratch s = make_scratch(&sh.g0, 1, 0);
        for (int64_t n0 = sh.lo; n0 < sh.hi; n0 += sh.nb) {
            geom g = chunk_geom(&sh, n0);
            int64_t nt = g.nt;
            chunk_inputs(s.V, s.pad, inp + n0 * Cin * H * W, &g);
            for (int e = 0; e < 16; e++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Cout, (int)nt, (int)Cin, 1.0f,
                            U + e * CC, (int)Cin, s.V + e * Cin * nt, (int)nt, 0.0f, s.M + e * Cout * nt, (int)nt);
            for (int64_t co = 0; co < Cout; co++)
                for (int64_t ty = 0; ty < g.th; ty++) {
                    output_row(s.row, s.M + co * nt + ty * g.J, Cout * nt, b ? b[co] : 0.0f, &g);
                    for (int r = 0; r < 2 && 2 * ty + r < H; r++)
                        for (int64_t i = 0; i < g.nb; i++)
                            store_row(out + (((n0 + i) * Cout + co) * H + 2 * ty + r) * W, s.row, r, i, &g);
                }
        }
        free_scratch(&s);
    }
    free(U);
}

void lm_conv3x3_winograd_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                                  int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout) {
    if ((!dinp && !dw) || B <= 0) return;
    int64_t CC = Cout * Cin;
    float *U = dinp ? lm_xcalloc((size_t)(16 * CC), sizeof(float)) : NULL;
    if (U) filter_transform(U, w, CC);
    int maxt = omp_get_max_threads();
    int par = B >= maxt;
    /* dU per thread, summed in thread order after the region */
    float *dU = dw ? lm_xcalloc((size_t)maxt * (size_t)(16 * CC), sizeof(float)) : NULL;
    int used = 1;
#pragma omp parallel if (par)
    {
        int t = omp_get_thread_num();
#pragma omp single
        used = omp_get_num_threads();
        share sh = thread_share(B, t, omp_get_num_threads(), Cin, H, W, Cout);
        scratch s = make_scratch(&sh.g0, dw != NULL, dinp != NULL);
        float *mydU = dU ? dU + (int64_t)t * 16 * CC : NULL;
        for (int64_t n0 = sh.lo; n0 < sh.hi; n0 += sh.nb) {
            geom g = chunk_geom(&sh, n0);
            int64_t nt = g.nt, J = g.J;
            /* dM from dout: its 2x2 blocks, zero in the gaps between planes and past the edges */
            for (int64_t co = 0; co < Cout; co++)
                for (int64_t ty = 0; ty < g.th; ty++) {
                    memset(s.row, 0, (size_t)(4 * J) * sizeof(float));
                    for (int r = 0; r < 2 && 2 * ty + r < H; r++)
                        for (int64_t i = 0; i < g.nb; i++)
                            load_row(s.row, dout + (((n0 + i) * Cout + co) * H + 2 * ty + r) * W, r, i, &g);
                    output_row_adjoint(s.M + co * nt + ty * J, Cout * nt, s.row, &g);
                }
            if (dw) {
                /* V again, not kept from the forward: that would hold 4x each input of every
                 * convolution in the graph until its backward */
                chunk_inputs(s.V, s.pad, inp + n0 * Cin * H * W, &g);
                for (int e = 0; e < 16; e++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Cout, (int)Cin, (int)nt, 1.0f,
                                s.M + e * Cout * nt, (int)nt, s.V + e * Cin * nt, (int)nt, 1.0f, mydU + e * CC,
                                (int)Cin);
            }
            if (dinp) {
                for (int e = 0; e < 16; e++)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Cin, (int)nt, (int)Cout, 1.0f,
                                U + e * CC, (int)Cin, s.M + e * Cout * nt, (int)nt, 0.0f, s.dV + e * Cin * nt,
                                (int)nt);
                for (int64_t c = 0; c < Cin; c++) {
                    memset(s.pad, 0, (size_t)(g.hp * g.wpd) * sizeof(float));
                    for (int64_t ty = 0; ty < g.th; ty++)
                        input_row_adjoint(s.pad, s.dV + c * nt + ty * J, Cin * nt, ty, s.row, &g);
                    for (int64_t i = 0; i < g.nb; i++)
                        unload_wide_add(dinp + ((n0 + i) * Cin + c) * H * W, s.pad, i, &g);
                }
            }
        }
        free_scratch(&s);
    }
    if (dU) {
        lm_add_rows(dU, dU + 16 * CC, used - 1, 16 * CC);
        filter_transform_adjoint(dw, dU, CC);
        free(dU);
    }
    free(U);
}
