/* fuzz_compiler.c - libFuzzer harness for the whole compiler: the input is
 * a .net file, run through parse -> lower -> check -> plan -> every printer
 * and emit_c, all in memory.  Diagnostics go to a memory stream (the
 * sanitizers still report on stderr) and are held to what cnnc promises: a
 * rejected input prints `fuzz.net:LINE:COL: error: ` (or `fuzz.net:
 * error: `) first, with LINE and COL inside the input; an accepted one
 * prints nothing.  The target for emit_c is picked from the input's length
 * so that every SIMD table is exercised.  Built by `make fuzz`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    return 0;
}

/* Everything after check(): the dumps, --summary, --emit=dot and the C. */
static void back_end(ir_net *net, size_t size)
{
    static const char *const targets[] = {"avx2", "sse2", "neon", "generic"};
    plan(net);
    ir_dump(devnull, net);
    print_summary(devnull, net);
    print_dot(devnull, net);
    strbuf c = {0}, h = {0};
    emit_c(net, "fuzz.c", "fuzz.h", targets[size % 4], &c, &h);
    sb_free(&c);
    sb_free(&h);
}

/* Is LINE:COL inside text (COL may be one past the line's end)? */
static int inside(const char *text, size_t size, int line, int col)
{
    size_t i = 0;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(text + i, '\n', size - i);
        if (!nl)
            return 0;
        i = (size_t)(nl - text) + 1;
    }
    const char *nl = memchr(text + i, '\n', size - i);
    size_t len = nl ? (size_t)(nl - text) - i : size - i;
    return line >= 1 && col >= 1 && (size_t)col <= len + 1;
}

/* Aborts (a finding) if the diagnostics break cnnc's promise. */
static void check_diagnostics(const uint8_t *data, size_t size, int ok, const char *diag,
                              size_t dlen)
{
    int line, col, used = 0;
    if (ok != (dlen == 0))
        abort();                /* silent failure, or output on success */
    if (ok || strncmp(diag, "fuzz.net: error: ", 17) == 0)
        return;
    if (sscanf(diag, "fuzz.net:%d:%d: error: %n", &line, &col, &used) != 2 || used == 0 ||
        !inside((const char *)data, size, line, col))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *diag = NULL;
    size_t dlen = 0;
    int ok = 0;
    arena *a = arena_new();
    source *src = source_from_bytes(a, "fuzz.net", (const char *)data, size);
    src->diag = open_memstream(&diag, &dlen);
    if (!src->diag)
        abort();
    ast_network *ast = parse(src, a);
    if (ast) {
        ast_dump(devnull, ast);
        ir_net *net = lower(ast, src, a);
        if (net && check(net)) {
            back_end(net, size);
            ok = 1;
        }
    }
    fclose(src->diag);
    check_diagnostics(data, size, ok, diag, dlen);
    free(diag);
    arena_free(a);
    return 0;
}
