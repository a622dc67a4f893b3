/* A scratch folder for cmocka tests (test_gguf.c, test_plot.c, test_images.c), as a setup and
 * teardown pair for one test or a group: tmpdir_setup makes /tmp/loom_test_XXXXXX and sets *state
 * to a tmpdir; tmpdir_teardown removes the folder with everything in it (links are removed, not
 * followed). */
#ifndef LOOM_TESTS_TMPDIR_H
#define LOOM_TESTS_TMPDIR_H

typedef struct tmpdir {
    char dir[64];
} tmpdir;

int tmpdir_setup(void **state);
int tmpdir_teardown(void **state);

#endif
