/* Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/): small valid inputs of every
 * form each reader accepts. Run by fuzz/run.sh --seeds (then commit the files).
 *   make_seeds OUT_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jpeglib.h>
#include <zlib.h>

#include "data/bpe.h"
#include "data/bpe_import.h"
#include "data/tokenizer.h"
#include "formats/classifier_gguf.h"
#include "formats/llama_gguf.h"
#include "codec/png.h"
#include "formats/unet_gguf.h"
#include "train/checkpoint.h"
#include "train/ckpt_image.h"
#include "util/io.h"

static const char *out_dir;

static void put(const char *target, const char *name, const void *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static size_t put_cp(char *o, unsigned c) {
    if (c < 0x80) return o[0] = (char)c, 1;
    return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2; /* spellings are below U+0800 */
}

/* JSON string body of the byte-level spelling of s */
static void spell_json(char *o, const char *s) {
    size_t k = 0;
    for (; *s; s++) {
        unsigned c = (unsigned)lm_bpe_byte_to_cp((unsigned char)*s);
        if (c == '"' || c == '\\') o[k++] = '\\';
        k += put_cp(o + k, c);
    }
    o[k] = 0;
}

static const char *const MERGES[][2] = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}, {"o", "r"},
                                        {" w", "or"}, {" wor", "l"}, {" worl", "d"}, {"1", "2"}, {"12", "3"}};
#define NM ((int)(sizeof MERGES / sizeof MERGES[0]))

static char *hf_json(int pairs, int split) {
    size_t cap = 1 << 16, k = 0;
    char *o = malloc(cap);
    char a[64], b[64], ab[128];
    k += (size_t)snprintf(o + k, cap - k, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":%d,\"content\":\"<|endoftext|>\","
                          "\"special\":true}],\"normalizer\":null,\"pre_tokenizer\":", 256 + NM);
    if (split)
        k += (size_t)snprintf(o + k, cap - k, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                              "{\"Regex\":\"\\\\p{N}{1,3}| ?\\\\p{L}+|\\\\s+(?!\\\\S)|\\\\s+|[^\\\\s\\\\p{L}\\\\p{N}]+\"},"
                              "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                              "\"use_regex\":false}]}");
    else
        k += (size_t)snprintf(o + k, cap - k, "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                              "\"use_regex\":true}");
    k += (size_t)snprintf(o + k, cap - k, ",\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"dropout\":null,"
                          "\"byte_fallback\":false,\"vocab\":{");
    for (int i = 0; i < 256; i++) {
        char s[2] = {(char)i, 0};
        if (i == 0) { /* NUL: spell by hand (strings here are NUL-terminated) */
            k += (size_t)snprintf(o + k, cap - k, "\"\xc4\x80\":0");
            continue;
        }
        spell_json(a, s);
        k += (size_t)snprintf(o + k, cap - k, ",\"%s\":%d", a, i);
    }
    for (int r = 0; r < NM; r++) {
        snprintf(ab, sizeof ab, "%s%s", MERGES[r][0], MERGES[r][1]);
        spell_json(a, ab);
        k += (size_t)snprintf(o + k, cap - k, ",\"%s\":%d", a, 256 + r);
    }
    k += (size_t)snprintf(o + k, cap - k, ",\"<|endoftext|>\":%d},\"merges\":[", 256 + NM);
    for (int r = 0; r < NM; r++) {
        spell_json(a, MERGES[r][0]);
        spell_json(b, MERGES[r][1]);
        if (pairs) k += (size_t)snprintf(o + k, cap - k, "%s[\"%s\",\"%s\"]", r ? "," : "", a, b);
        else k += (size_t)snprintf(o + k, cap - k, "%s\"%s %s\"", r ? "," : "", a, b);
    }
    snprintf(o + k, cap - k, "]}}\n");
    return o;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static size_t b64(char *o, const char *s, size_t n) {
    size_t k = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8 | (unsigned char)s[i + 2];
        o[k++] = B64[v >> 18], o[k++] = B64[(v >> 12) & 63], o[k++] = B64[(v >> 6) & 63], o[k++] = B64[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned char)s[i] << 16 | (i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0);
        o[k++] = B64[v >> 18], o[k++] = B64[(v >> 12) & 63];
        o[k++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        o[k++] = '=';
    }
    o[k] = 0;
    return k;
}

/* Moves a file written under out_dir into target/name. */
static void put_file(const char *tmp, const char *target, const char *name) {
    uint8_t *buf;
    size_t len;
    lm_error e = {0};
    if (lm_read_file(tmp, 0, &buf, &len, &e)) {
        fprintf(stderr, "make_seeds: %s\n", e.msg);
        exit(1);
    }
    put(target, name, buf, len);
    free(buf);
    remove(tmp);
}

/* Fills a model's parameters with small values of a fixed pattern (no RNG: seeds stay stable). */
static void fill(float *p, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)((int)(i * 2654435761u % 17) - 8) / 8.0f;
}

/* GGUF models (target gguf) and checkpoints (target checkpoint) of the three architectures, each
 * as small as the model code allows, so that mutations of every part reach the loaders quickly. */
static int model_seeds(lm_error *e) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/tmp.bin", out_dir);
    /* llama, byte vocabulary (257 tokens), tied */
    lm_tokenizer tok;
    if (lm_tokenizer_byte(&tok, e)) return 1;
    lm_llama m;
    lm_llama_config c = {.vocab = tok.n_vocab, .dim = 4, .layers = 1, .heads = 2, .kv_heads = 1, .ffn_dim = 4,
                         .context = 8, .tied = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    if (lm_llama_create(&m, &c, 0, e)) return 1;
    fill(m.params, m.n_params, 0.1f);
    if (lm_llama_save_gguf(tmp, &m, &tok, "seed", e)) return 1;
    put_file(tmp, "gguf", "llama_byte.gguf");
    /* its training checkpoint */
    lm_train_opts o;
    lm_train_defaults(&o);
    lm_ckpt_state st = {.step = 3, .tokens_seen = 96, .elapsed_s = 1.5};
    lm_rng_seed(&st.data_rng, 7);
    float *am = calloc(m.n_params, sizeof(float)), *av = calloc(m.n_params, sizeof(float));
    if (!am || !av) return 1;
    fill(am, m.n_params, 0.01f);
    fill(av, m.n_params, 0.001f);
    if (lm_ckpt_save(tmp, &o, &m, am, av, &st, e)) return 1;
    put_file(tmp, "checkpoint", "text.ckpt");
    free(am);
    free(av);
    lm_llama_free(&m);
    lm_tokenizer_free(&tok);

    /* llama with a BPE vocabulary (gpt2 model, merges), untied */
    char *j = hf_json(0, 0);
    lm_bpe *b = NULL;
    if (lm_bpe_load_hf_json_mem((const uint8_t *)j, strlen(j), "seed.json", &b, e)) return 1;
    free(j);
    if (lm_tokenizer_from_bpe(&tok, b, e)) return 1;
    c.vocab = tok.n_vocab;
    c.tied = 0;
    c.kv_heads = 2;
    if (lm_llama_create(&m, &c, 0, e)) return 1;
    fill(m.params, m.n_params, 0.05f);
    if (lm_llama_save_gguf(tmp, &m, &tok, "seed-bpe", e)) return 1;
    put_file(tmp, "gguf", "llama_bpe.gguf");
    lm_llama_free(&m);
    lm_tokenizer_free(&tok);

    /* image diffusion model */
    lm_unet u;
    lm_unet_config uc = {.channels = 1, .size = 4, .levels = 1, .widths = {4}, .n_labels = 2, .groups = 2,
                         .head_dim = 4};
    if (lm_unet_create(&u, &uc, 0, e)) return 1;
    fill(u.params, u.n_params, 0.1f);
    lm_diffusion d;
    if (lm_diffusion_create(&d, LM_SCHEDULE_COSINE, 10, e)) return 1;
    char *labels[] = {"cat", "dog"};
    if (lm_unet_save_gguf(tmp, &u, NULL, &d, labels, e)) return 1;
    put_file(tmp, "gguf", "unet.gguf");
    /* its training checkpoint */
    lm_train_image_opts io;
    lm_train_image_defaults(&io);
    io.levels = 1;
    io.widths[0] = 4;
    io.diffusion_steps = 10;
    lm_ckpt_image_state ist = {.step = 2, .images_seen = 8, .elapsed_s = 0.5, .n_train = 20};
    lm_rng_seed(&ist.data_rng, 9);
    float *z = calloc(u.n_params, sizeof(float));
    if (!z) return 1;
    if (lm_ckpt_image_save(tmp, &io, "data/x", &u, z, z, u.params, &ist, e)) return 1;
    put_file(tmp, "checkpoint", "image.ckpt");
    free(z);
    lm_unet_free(&u);
    lm_diffusion_free(&d);

    /* image classifier */
    lm_classifier k;
    lm_classifier_config kc = {.channels = 1, .size = 4, .widths = {2, 2, 2}, .hidden = 2, .n_labels = 2,
                               .groups = 1};
    if (lm_classifier_create(&k, &kc, 0, e)) return 1;
    fill(k.params, k.n_params, 0.1f);
    lm_classifier_info ki = {.data = "data/x", .epochs = 2, .test_accuracy = 0.5, .train_seconds = 3};
    if (lm_classifier_save_gguf(tmp, &k, labels, &ki, e)) return 1;
    put_file(tmp, "gguf", "classifier.gguf");
    lm_classifier_free(&k);
    return 0;
}

/* A w x h JPEG of c channels (1 or 3), baseline or progressive. */
static void put_jpeg(const char *name, int w, int h, int c, int progressive) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&ci, &mem, &len);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 50, TRUE);
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)w * (size_t)c);
    while (ci.next_scanline < ci.image_height) {
        for (int x = 0; x < w * c; x++) row[x] = (unsigned char)(x * 7 + ci.next_scanline * 13);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    put("image_folder", name, mem, len);
    free(row);
    free(mem);
}

/* gzip of n bytes (a gzip header, so that zlib's gzread inflates it). */
static void put_gz(const char *target, const char *name, const uint8_t *p, size_t n) {
    uLong cap = compressBound((uLong)n) + 64;
    uint8_t *o = malloc(cap);
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = o;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    put(target, name, o, z.total_out);
    deflateEnd(&z);
    free(o);
}

/* PNG (targets png and image_folder), JPEG (image_folder) and IDX (idx). */
static int image_seeds(lm_error *e) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/tmp.png", out_dir);
    uint8_t px[8 * 6 * 4];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 37);
    static const int chans[] = {1, 3, 4};
    static const char *const names[] = {"grey.png", "rgb.png", "rgba.png"};
    for (int i = 0; i < 3; i++) {
        if (lm_png_write(tmp, 8, 6, chans[i], px, e)) return 1;
        uint8_t *buf;
        size_t len;
        if (lm_read_file(tmp, 0, &buf, &len, e)) return 1;
        put("png", names[i], buf, len);
        put("image_folder", names[i], buf, len);
        free(buf);
    }
    remove(tmp);
    /* a palette PNG with tRNS and an interlaced 16-bit grey one, by hand: IHDR, PLTE, tRNS, IDAT */
    {
        static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        for (int kind = 0; kind < 2; kind++) {
            uint8_t out[512];
            size_t k = 0;
            memcpy(out, sig, 8);
            k = 8;
#define CHUNK(type, data, n)                                                                   \
    do {                                                                                       \
        uint32_t L = (uint32_t)(n);                                                            \
        out[k++] = (uint8_t)(L >> 24), out[k++] = (uint8_t)(L >> 16), out[k++] = (uint8_t)(L >> 8), \
        out[k++] = (uint8_t)L;                                                                 \
        memcpy(out + k, type, 4);                                                              \
        memcpy(out + k + 4, data, n);                                                          \
        uLong crc = crc32(0, out + k, (uInt)(4 + (n)));                                        \
        k += 4 + (n);                                                                          \
        out[k++] = (uint8_t)(crc >> 24), out[k++] = (uint8_t)(crc >> 16), out[k++] = (uint8_t)(crc >> 8), \
        out[k++] = (uint8_t)crc;                                                               \
    } while (0)
            int w = 5, h = 3;
            uint8_t ihdr[13] = {0, 0, 0, (uint8_t)w, 0, 0, 0, (uint8_t)h, kind ? 16 : 4, kind ? 0 : 3, 0, 0,
                                kind ? 1 : 0};
            CHUNK("IHDR", ihdr, 13);
            if (!kind) {
                uint8_t plte[9] = {255, 0, 0, 0, 255, 0, 0, 0, 255}, trns[2] = {0, 128};
                CHUNK("PLTE", plte, 9);
                CHUNK("tRNS", trns, 2);
            }
            /* raw scanlines: filter byte + data; interlaced (Adam7) data is written as rows of the
             * passes, which for a 5x3 image are small; zlib does the rest */
            uint8_t raw[256];
            size_t rn = 0;
            if (!kind) {
                for (int y = 0; y < h; y++) {
                    raw[rn++] = (uint8_t)(y % 5); /* every filter type */
                    for (int x = 0; x < (w * 4 + 7) / 8; x++) raw[rn++] = (uint8_t)(0x12 * (x + y));
                }
            } else {
                /* Adam7 passes of a 5x3 image: (1x1) (1x1) (1x1) (2x1) (1x2)? simpler: pass widths
                 * and heights computed as libpng does */
                static const int xs[7] = {0, 4, 0, 2, 0, 1, 0}, ys[7] = {0, 0, 4, 0, 2, 0, 1};
                static const int dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
                for (int p = 0; p < 7; p++) {
                    int pw = (w - xs[p] + dx[p] - 1) / dx[p], ph = (h - ys[p] + dy[p] - 1) / dy[p];
                    if (pw <= 0 || ph <= 0) continue;
                    for (int y = 0; y < ph; y++) {
                        raw[rn++] = (uint8_t)((p + y) % 5);
                        for (int x = 0; x < pw * 2; x++) raw[rn++] = (uint8_t)(0x31 * (x + p));
                    }
                }
            }
            uint8_t z[300];
            uLongf zn = sizeof z;
            compress2(z, &zn, raw, (uLong)rn, 9);
            CHUNK("IDAT", z, zn);
            CHUNK("IEND", "", 0);
#undef CHUNK
            const char *nm = kind ? "grey16_interlaced.png" : "palette_trns.png";
            uint8_t *pix;
            int pw, ph;
            if (lm_png_read_mem(out, k, nm, 3, &pix, &pw, &ph, e)) return 1;
            free(pix);
            put("png", nm, out, k);
            put("image_folder", nm, out, k);
        }
    }
    put_jpeg("grey.jpg", 9, 7, 1, 0);
    put_jpeg("rgb.jpg", 16, 12, 3, 0);
    put_jpeg("rgb_progressive.jpg", 12, 9, 3, 1);
    /* IDX: 3 images of 4x5 and 3 labels; the first input byte of the target picks how the file
     * is used (see fuzz_idx.c) */
    uint8_t idx[1 + 16 + 60];
    idx[0] = 0; /* an images file */
    uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
    memcpy(idx + 1, hdr, 16);
    for (int i = 0; i < 60; i++) idx[17 + i] = (uint8_t)(i * 11);
    put("idx", "images.idx", idx, sizeof idx);
    uint8_t gz[1 + 200];
    gz[0] = 0;
    put_gz("idx", "tmp.gz", idx + 1, sizeof idx - 1);
    {
        char path[1024];
        snprintf(path, sizeof path, "%s/idx/tmp.gz", out_dir);
        uint8_t *buf;
        size_t len;
        if (lm_read_file(path, 0, &buf, &len, e)) return 1;
        remove(path);
        if (len + 1 > sizeof gz) return 1;
        memcpy(gz + 1, buf, len);
        put("idx", "images.idx.gz", gz, len + 1);
        free(buf);
    }
    uint8_t lab[1 + 8 + 3] = {1, 0, 0, 8, 1, 0, 0, 0, 3, 0, 7, 2};
    put("idx", "labels.idx", lab, sizeof lab);
    return 0;
}

/* --config files (config) and metrics.jsonl (runlog). */
static int text_seeds(void) {
    static const char cfg[] = "{\"layers\": 2, \"dim\": 64, \"heads\": 4, \"tied\": false, \"lr\": 0.001,\n"
                              " \"tokenizer\": \"bpe\", \"vocab_size\": 512, \"steps\": \"100\", \"quiet\": true,\n"
                              " \"progress\": \"plain\", \"time-limit\": 1.5, \"seed\": 42, \"data\": \"x.txt\"}\n";
    put("config", "train.json", cfg, sizeof cfg - 1);
    static const char cfg2[] = "{\"untied\": true, \"fim_rate\": 0.25, \"warmup\": 0, \"extensions\": \"py,c\", "
                               "\"code\": false}";
    put("config", "flags.json", cfg2, sizeof cfg2 - 1);
    /* first byte: the step to keep up to (see fuzz_runlog.c) */
    static const char ml[] = "\x05{\"step\":1,\"loss\":5.5,\"lr\":0.001,\"tokens_per_s\":1000}\n"
                             "{\"step\":2,\"loss\":5.1}\n"
                             "{\"step\":4,\"loss\":4.2,\"val_loss\":4.4,\"elapsed_s\":1.25}\n"
                             "not json\n"
                             "{\"step\":6,\"loss\":3.9}\n"
                             "{\"step\":8,\"loss\":3.7,\"val_loss\":null}\n";
    put("runlog", "metrics.jsonl", ml, sizeof ml - 1);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0777);
    lm_error e = {0};
    /* hf_json */
    for (int v = 0; v < 3; v++) {
        char *j = hf_json(v == 1, v == 2);
        static const char *const names[] = {"bytelevel_strings.json", "bytelevel_pairs.json", "split_pairs.json"};
        put("hf_json", names[v], j, strlen(j));
        lm_bpe *b = NULL;
        if (lm_bpe_load_hf_json_mem((const uint8_t *)j, strlen(j), names[v], &b, &e) != LOOM_OK) {
            fprintf(stderr, "make_seeds: own seed %s does not load: %s\n", names[v], e.msg);
            return 1;
        }
        /* bpe_load: the same tokenizer in loom's format */
        if (v != 1) {
            char path[1024];
            snprintf(path, sizeof path, "%s/tmp.lmtk", out_dir);
            if (lm_bpe_save(b, path, &e) != LOOM_OK) {
                fprintf(stderr, "make_seeds: %s\n", e.msg);
                return 1;
            }
            char to[1024];
            snprintf(to, sizeof to, "%s/bpe_load", out_dir);
            mkdir(to, 0777);
            snprintf(to, sizeof to, "%s/bpe_load/merges_%d.lmtk", out_dir, v);
            rename(path, to);
        }
        lm_bpe_free(b);
        free(j);
    }
    /* tiktoken: first byte picks the name (see fuzz_tiktoken.c): 1 = a plain table with two
     * specials at 259, 260; 0 = compact JSON */
    size_t cap = 1 << 16, k = 0;
    char *t = malloc(cap), *js = malloc(cap);
    char tok[16];
    t[k++] = 1;
    for (int i = 0; i < 256; i++) {
        char c = (char)i;
        b64(tok, &c, 1);
        k += (size_t)snprintf(t + k, cap - k, "%s %d\n", tok, i);
    }
    k += (size_t)snprintf(t + k, cap - k, "aGU= 256\nbGw= 257\naGVsbA== 258\n");
    put("tiktoken", "plain.tiktoken", t, k);
    lm_bpe *b = NULL;
    static const char *const sp[] = {"<|endoftext|>", "<|x|>"};
    static const int32_t sp_id[] = {259, 260};
    if (lm_bpe_from_tiktoken_ranks((const uint8_t *)t + 1, k - 1, "plain", NULL, 2, sp, sp_id, &b, &e) != LOOM_OK) {
        fprintf(stderr, "make_seeds: own plain seed does not load: %s\n", e.msg);
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/bpe_load/ranks.lmtk", out_dir);
    if (lm_bpe_save(b, path, &e) != LOOM_OK) {
        fprintf(stderr, "make_seeds: %s\n", e.msg);
        return 1;
    }
    lm_bpe_free(b);
    k = 0;
    js[k++] = 0;
    k += (size_t)snprintf(js + k, cap - k,
                          "{\"explicit_n_vocab\":261,\"pat_str\":\"(?i:'s|'t)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|"
                          "\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\","
                          "\"special_tokens\":{\"<|endoftext|>\":257,\"<|fim_prefix|>\":260},\"bpe_ranks\":\"! 0");
    for (int i = 0; i < 256; i++) {
        char c = (char)i;
        b64(tok, &c, 1);
        k += (size_t)snprintf(js + k, cap - k, " %s", tok);
    }
    k += (size_t)snprintf(js + k, cap - k, " aGU=\\n! 258 bGw= aGVsbA==\"}\n");
    put("tiktoken", "compact.json", js, k);
    b = NULL;
    if (lm_bpe_load_tiktoken_mem((const uint8_t *)js + 1, k - 1, "compact.json", &b, &e) != LOOM_OK) {
        fprintf(stderr, "make_seeds: own compact seed does not load: %s\n", e.msg);
        return 1;
    }
    lm_bpe_free(b);
    free(t);
    free(js);
    if (model_seeds(&e) || image_seeds(&e) || text_seeds()) {
        fprintf(stderr, "make_seeds: %s\n", e.msg);
        return 1;
    }
    printf("make_seeds: wrote %s/{hf_json,bpe_load,tiktoken,gguf,checkpoint,png,image_folder,idx,config,runlog}\n",
           out_dir);
    return 0;
}
