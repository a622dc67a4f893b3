/* libFuzzer target: the PNG reader (lm_png_read_mem, libpng underneath, with loom's conversions
 * of palette, 16-bit, grey(+alpha) and RGB(A) to 1, 3 or 4 channels). An image that decodes to
 * one channel count must decode to the others (the conversions cover every PNG colour type), to
 * the same size; an accepted image holds width x height x channels bytes, of which the last is
 * read (ASan checks the bounds). */
#include "files.h"

#include "codec/png.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int want[3] = {1, 3, 4};
    int ok[3], W = 0, H = 0;
    char msg[3][sizeof ((lm_error *)0)->msg];
    for (int i = 0; i < 3; i++) {
        uint8_t *px = NULL;
        int w = -1, h = -1;
        lm_error err = {0};
        ok[i] = lm_png_read_mem(data, size, "fuzz.png", want[i], &px, &w, &h, &err) == LOOM_OK;
        snprintf(msg[i], sizeof msg[i], "%s", ok[i] ? "ok" : err.msg);
        if (!ok[i]) {
            if (px || w || h || !err.msg[0] || strchr(err.msg, '\n')) {
                fprintf(stderr, "fuzz: a failed read returned pixels, a size, or no one-line message\n");
                abort();
            }
            continue;
        }
        if (!px || w < 1 || h < 1 || (i > 0 && ok[0] && (w != W || h != H))) {
            fprintf(stderr, "fuzz: an accepted PNG without pixels, or of another size (%dx%d)\n", w, h);
            abort();
        }
        W = w, H = h;
        volatile uint8_t x = px[(size_t)w * (size_t)h * (size_t)want[i] - 1];
        (void)x;
        free(px);
    }
    if (ok[0] != ok[1] || ok[1] != ok[2]) {
        fprintf(stderr, "fuzz: the channel counts disagree: 1: %s; 3: %s; 4: %s\n", msg[0], msg[1], msg[2]);
        abort();
    }
    return 0;
}
