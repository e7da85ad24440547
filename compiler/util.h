/* util.h - what every stage of cnnc shares: the arena, growable strings,
 * source spans and the one diagnostics printer.
 *
 * cnnc is a short-lived program: everything it allocates comes from one
 * arena freed at exit, so no stage frees anything. */
#ifndef CNNC_UTIL_H
#define CNNC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- arena ---- */
typedef struct arena arena;
arena *arena_new(void);
void arena_free(arena *a);
void *arena_alloc(arena *a, size_t size);          /* zeroed; dies on OOM */
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_strdup(arena *a, const char *s);
char *arena_printf(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- growable byte buffer (for emitted code) ---- */
typedef struct strbuf { char *data; size_t len, cap; } strbuf;
void sb_putn(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_vprintf(strbuf *b, const char *fmt, va_list ap);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(strbuf *b);

/* ---- sources and spans ---- */
typedef struct source {
    const char *name;          /* file name as given, "<stdin>" for - */
    const char *text;          /* NUL-terminated; may hold other NULs */
    size_t len;
    int nerrors;
    FILE *diag;                /* where its diagnostics go; NULL = stderr */
} source;

/* 1-based line and column of the first character, and the byte length of
 * the token (>= 1 when set; 0 for "no location"). */
typedef struct span { int line, col, len; } span;

/* Reads a whole file ("-" = stdin).  Returns NULL and prints
 * "cnnc: cannot read FILE: reason" on failure. */
source *source_read(arena *a, const char *path);
source *source_from_string(arena *a, const char *name, const char *text);
/* len bytes of text (NULs allowed), copied: the fuzz harness's entry. */
source *source_from_bytes(arena *a, const char *name, const char *text, size_t len);

/* FILE:LINE:COL: error: MESSAGE, then the source line and a caret with a
 * `~` underline of span.len characters.  Counts errors in src->nerrors.
 *   lenet.net:5:13: error: unknown attribute 'filter' for conv
 *       5 |     conv c1 (filter = 6, kernel = 5);
 *         |              ^~~~~~
 * Columns are 1-based bytes; the line number is right-aligned in 5
 * columns; tabs of the source line are kept in the caret line's padding;
 * control bytes of the source line print as '?'; the underline stops at the
 * end of the line.  A span with line 0 prints just `FILE: error: MESSAGE`.
 * The 21st error of a source prints `FILE: error: too many errors, stopping`
 * instead, and from then on every error and note of that source is dropped
 * (nothing exits: the stages see nerrors > 0 and fail, and the scanner
 * stops early, see too_many_errors()).  src may be NULL (prints
 * `cnnc: error:`). */
void error_at(source *src, span at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void note_at(source *src, span at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void verror_at(source *src, span at, const char *kind, const char *fmt, va_list ap);
/* True once src has passed the error limit: there is no point going on. */
bool too_many_errors(const source *src);

/* Internal bugs (never a user's fault): message and abort(). */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define unreachable() die("%s:%d: unreachable", __FILE__, __LINE__)

/* Edit distance for "did you mean" suggestions. */
int edit_distance(const char *a, const char *b);

#endif
