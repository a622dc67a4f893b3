/* Code corpora: the source files of a tree, each one document that starts with its path.
 *
 * The walk keeps files whose extension (or whole name, for Makefile and the like) is in a list,
 * and skips hidden entries, whatever a .gitignore in the tree excludes, files over a size
 * limit, binary files and generated ones (protobuf and minified names, "generated" / "DO NOT
 * EDIT" in the first lines, very long lines). Each kept file becomes the document
 *
 *   # path: REL\n<the file's bytes>
 *
 * with REL its path relative to the tree (the same line for every language: it is metadata
 * for the model, which learns the language from the extension, not code of the file). */
#ifndef LM_CODE_CORPUS_H
#define LM_CODE_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "data/corpus.h"
#include "util/error.h"

#define LM_CODE_HEADER_PREFIX "# path: "

/* The extensions kept by default: common programming languages, no prose or data formats. */
#define LM_CODE_DEFAULT_EXTENSIONS                                                                                   \
    "py,pyi,c,h,cc,cpp,cxx,hpp,hh,hxx,java,js,mjs,cjs,jsx,ts,tsx,go,rs,rb,sh,bash,lua,php,cs,swift,kt,kts,scala,m,mm," \
    "sql,html,css,scss,pl,pm,r,jl,hs,ml,mli,el,clj,ex,exs,erl,dart,zig,nim,vim,ps1,f90,cmake,Makefile,Dockerfile,"     \
    "CMakeLists.txt"

typedef struct lm_code_opts {
    const char *extensions; /* comma-separated, case-insensitive, leading dots allowed; NULL = default */
    int64_t max_file_bytes; /* larger files are skipped; <= 0: 1 MiB */
} lm_code_opts;

/* What the walk kept and passed over, by reason. */
typedef struct lm_code_stats {
    int kept;
    int64_t kept_bytes;
    int other_ext;  /* files with an extension not in the list */
    int binary, generated, huge, empty;
    int ignored;    /* files and folders a .gitignore excludes */
    int hidden;     /* hidden files and folders (.git, .venv, ...) */
    int unreadable; /* files and folders that could not be read (permissions) */
    int64_t max_file_bytes;
} lm_code_stats;

/* Writes the path line for a file at rel into out (cap bytes, NUL-terminated); control
 * characters in rel become '?', so the line is always one line. Returns its length (which may
 * exceed cap - 1 when truncated, as snprintf does). */
size_t lm_code_header(const char *rel, char *out, size_t cap);

/* Reads a source tree (or one file, kept whatever its extension) into c: c->text holds the
 * documents, c->doc_head the length of each one's path line. Fails with one line naming the
 * reasons when no file is kept. st may be NULL. */
loom_status lm_code_corpus_read(lm_corpus *c, const char *path, const lm_code_opts *o, lm_code_stats *st,
                                lm_error *err);

/* One line summing st up: "kept 12 files (40.1 KiB); skipped 3 other extensions, 1 binary". */
void lm_code_stats_format(const lm_code_stats *st, char *out, size_t cap);

/* .gitignore patterns (the common subset of gitignore(5)): '#' comments, blank lines, trailing
 * spaces, '!' negation, '\' escapes, a trailing '/' for folders only, a '/' at the start or in
 * the middle anchoring the pattern to the .gitignore's folder (otherwise it matches a name at
 * any depth), '*', '?', '[...]' ranges, and '**' for any number of folders. */
typedef struct lm_ignore lm_ignore;

/* Parses the text of one .gitignore (n bytes). Returns NULL only when out of memory. */
lm_ignore *lm_ignore_parse(const char *text, size_t n);
void lm_ignore_free(lm_ignore *ig);
/* Whether path (relative to the .gitignore's folder, '/'-separated, no leading "./") is
 * excluded: 1 excluded, 0 re-included by a '!' pattern, -1 no pattern says anything. As in
 * git, a path inside an excluded folder is excluded and cannot be re-included. */
int lm_ignore_match(const lm_ignore *ig, const char *path, int is_dir);

#endif
