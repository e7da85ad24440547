/* util.c - the arena, growable strings, source files and the one
 * diagnostics printer every stage shares (see util.h). */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Out of memory is neither the user's fault nor a bug in cnnc, so it is not
 * die(): report it and leave with the I/O-failure status. */
static _Noreturn void out_of_memory(void)
{
    fputs("cnnc: out of memory\n", stderr);
    exit(2);
}

/* ---- arena ----
 * A list of blocks; small requests are carved from the newest one, large
 * ones get a block of their own so a big request never wastes a block. */
enum { ARENA_BLOCK = 64 * 1024, ARENA_ALIGN = 16 };

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} arena_block;

struct arena {
    arena_block *head;
};

arena *arena_new(void)
{
    arena *a = calloc(1, sizeof *a);
    if (!a)
        out_of_memory();
    return a;
}

void arena_free(arena *a)
{
    if (!a)
        return;
    for (arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

static arena_block *arena_grow(arena *a, size_t need)
{
    size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
    if (cap > SIZE_MAX - sizeof(arena_block))
        out_of_memory();
    arena_block *b = calloc(1, sizeof *b + cap);   /* calloc: zeroed */
    if (!b)
        out_of_memory();
    b->cap = cap;
    /* A dedicated big block goes second so the current block keeps serving
     * small requests. */
    if (a->head && need > ARENA_BLOCK) {
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
    }
    return b;
}

void *arena_alloc(arena *a, size_t size)
{
    if (size > SIZE_MAX - ARENA_ALIGN)
        out_of_memory();
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0)
        size = ARENA_ALIGN;
    arena_block *b = a->head;
    if (!b || b->cap - b->used < size)
        b = arena_grow(a, size);
    void *p = b->data + b->used;
    b->used += size;
    return p;                   /* zeroed: blocks come from calloc */
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    return p;                   /* p[n] is already 0 */
}

char *arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    strbuf b = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&b, fmt, ap);
    va_end(ap);
    char *p = arena_strndup(a, b.data ? b.data : "", b.len);
    sb_free(&b);
    return p;
}

/* ---- strbuf: data is always NUL-terminated once anything was added ---- */
static void sb_reserve(strbuf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        out_of_memory();
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        out_of_memory();
    b->data = p;
    b->cap = cap;
}

void sb_putn(strbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sb_puts(strbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void sb_vprintf(strbuf *b, const char *fmt, va_list ap)
{
    /* Also keeps gcc -fsanitize=undefined from seeing a NULL-format path
     * (its nonnull check) and warning under -Wformat-truncation. */
    if (!fmt)
        die("sb_vprintf: no format");
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        die("sb_vprintf: bad format '%s'", fmt);
    sb_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sb_printf(strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

void sb_free(strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- sources ---- */
static source *source_new(arena *a, const char *name, const char *text, size_t len)
{
    source *src = arena_alloc(a, sizeof *src);
    src->name = arena_strdup(a, name);
    src->text = arena_strndup(a, text, len);
    src->len = len;
    return src;
}

/* Reads all of f into b; returns false with errno set on a read error. */
static int read_all(FILE *f, strbuf *b)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_putn(b, chunk, n);
    return !ferror(f);
}

source *source_read(arena *a, const char *path)
{
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    errno = 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    strbuf b = {0};
    if (!f || !read_all(f, &b)) {
        int err = errno ? errno : EIO;
        fprintf(stderr, "cnnc: cannot read %s: %s\n", name, strerror(err));
        if (f && !is_stdin)
            fclose(f);
        sb_free(&b);
        return NULL;
    }
    if (!is_stdin)
        fclose(f);
    source *src = source_new(a, name, b.data ? b.data : "", b.len);
    sb_free(&b);
    return src;
}

source *source_from_string(arena *a, const char *name, const char *text)
{
    return source_new(a, name, text, strlen(text));
}

source *source_from_bytes(arena *a, const char *name, const char *text, size_t len)
{
    return source_new(a, name, text, len);
}

/* ---- diagnostics ---- */
enum { MAX_ERRORS = 20 };

bool too_many_errors(const source *src)
{
    return src && src->nerrors > MAX_ERRORS;
}

/* Finds line `line` (1-based) of src: its first byte and its length
 * without the newline (and without the '\r' of a CRLF file).  Returns
 * false if the source has fewer lines. */
static int find_line(const source *src, int line, size_t *start, size_t *len)
{
    size_t i = 0;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(src->text + i, '\n', src->len - i);
        if (!nl)
            return 0;
        i = (size_t)(nl - src->text) + 1;
    }
    const char *nl = memchr(src->text + i, '\n', src->len - i);
    size_t end = nl ? (size_t)(nl - src->text) : src->len;
    if (end > i && src->text[end - 1] == '\r')
        end--;
    *start = i;
    *len = end - i;
    return 1;
}

/* The source line, with control bytes shown as '?' so a binary file cannot
 * garble the terminal; tabs stay tabs so the caret line can reuse them. */
static void print_source_line(FILE *out, const char *s, size_t n, int width, int line)
{
    fprintf(out, "%*d | ", width, line);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc((c < 0x20 && c != '\t') || c == 0x7f ? '?' : c, out);
    }
    fputc('\n', out);
}

/* A UTF-8 continuation byte takes no column of its own on the terminal. */
static int is_continuation(const char *s, size_t n, size_t i)
{
    return i < n && ((unsigned char)s[i] & 0xc0) == 0x80;
}

/* `      |     ^~~~`: padding copies the line's tabs so the caret lines up
 * under the token in any tab width, and skips UTF-8 continuation bytes so
 * it lines up after a `é` too; the underline stops at the line end. */
static void print_caret_line(FILE *out, const char *s, size_t n, int width, span at)
{
    fprintf(out, "%*s | ", width, "");
    size_t col = (size_t)(at.col > 0 ? at.col : 1) - 1;
    for (size_t i = 0; i < col; i++)
        if (!is_continuation(s, n, i))
            fputc(i < n && s[i] == '\t' ? '\t' : ' ', out);
    fputc('^', out);
    size_t len = at.len > 1 ? (size_t)at.len : 1;
    for (size_t i = col + 1; i < col + len && i < n; i++)
        if (!is_continuation(s, n, i))
            fputc('~', out);
    fputc('\n', out);
}

static void print_excerpt(FILE *out, const source *src, span at)
{
    size_t start, len;
    if (!find_line(src, at.line, &start, &len))
        return;
    int width = 5;
    for (int l = at.line / 100000; l > 0; l /= 10)
        width++;
    print_source_line(out, src->text + start, len, width, at.line);
    print_caret_line(out, src->text + start, len, width, at);
}

void verror_at(source *src, span at, const char *kind, const char *fmt, va_list ap)
{
    if (!fmt)                   /* also keeps gcc's -Wformat-overflow quiet under UBSan */
        unreachable();
    const char *name = src ? src->name : "cnnc";
    FILE *out = src && src->diag ? src->diag : stderr;
    int is_error = strcmp(kind, "error") == 0;
    if (too_many_errors(src))
        return;                 /* stopped: the rest, notes too, is silent */
    if (is_error && src && ++src->nerrors > MAX_ERRORS) {
        fprintf(out, "%s: error: too many errors, stopping\n", name);
        return;
    }
    if (src && at.line > 0)
        fprintf(out, "%s:%d:%d: %s: ", name, at.line, at.col, kind);
    else
        fprintf(out, "%s: %s: ", name, kind);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    if (src && at.line > 0)
        print_excerpt(out, src, at);
}

void error_at(source *src, span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror_at(src, at, "error", fmt, ap);
    va_end(ap);
}

void note_at(source *src, span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror_at(src, at, "note", fmt, ap);
    va_end(ap);
}

_Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("cnnc: internal error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- edit distance ----
 * Optimal string alignment: Levenshtein plus a swap of two neighbours as a
 * single edit, the commonest typo ("kernle").  Three rolling rows. */
int edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    int *row = calloc(3 * (m + 1), sizeof *row);
    if (!row)
        out_of_memory();
    int *pp = row, *prev = row + m + 1, *cur = row + 2 * (m + 1);
    for (size_t j = 0; j <= m; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int d = prev[j - 1] + cost;
            if (prev[j] + 1 < d) d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            cur[j] = d;
        }
        int *t = pp; pp = prev; prev = cur; cur = t;
    }
    int d = prev[m];
    free(row);
    return d;
}
