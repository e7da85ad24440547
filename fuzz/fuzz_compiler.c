/* fuzz_compiler.c - libFuzzer harness for the whole compiler: the input is
 * a .net file, run through parse -> lower -> check -> plan -> every printer
 * and emit_c, all in memory.  Diagnostics go to /dev/null (the sanitizers
 * still report on stderr).  The target for emit_c is picked from the input's
 * length so that every SIMD table is exercised.  Built by `make fuzz`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = arena_new();
    source *src = source_from_bytes(a, "fuzz.net", (const char *)data, size);
    src->diag = devnull;
    ast_network *ast = parse(src, a);
    if (ast) {
        ast_dump(devnull, ast);
        ir_net *net = lower(ast, src, a);
        if (net && check(net))
            back_end(net, size);
    }
    arena_free(a);
    return 0;
}
