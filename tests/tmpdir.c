/* Scratch folders for tests; see tmpdir.h. */
#include "tmpdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/io.h"

int tmpdir_setup(void **state) {
    tmpdir *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/loom_test_XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Removes path and, for a folder, everything in it. */
static void rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = lm_path_join(path, e->d_name);
            if (p) rm_tree(p);
            free(p);
        }
        if (d) closedir(d);
    }
    remove(path);
}

int tmpdir_teardown(void **state) {
    tmpdir *f = *state;
    rm_tree(f->dir);
    free(f);
    return 0;
}
