/* tests/fpenv.sh's harness: the generated code computes with results and
 * operands below FLT_MIN flushed to zero (x86: MXCSR FTZ and DAZ), in the
 * calling thread and in its lanes, and gives the caller its own
 * floating-point control back after every call. */
#include "fpnet.h"

#include <stdio.h>
#include <xmmintrin.h>

static int fail;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    fail |= !ok;
}

int main(void)
{
    enum { N = 16, B = 4 };
    fpnet_ctx *c = fpnet_create(B);
    size_t nw = 0, nb = 0;
    float *w = c ? fpnet_param(c, "out.weight", &nw) : NULL;
    float *b = c ? fpnet_param(c, "out.bias", &nb) : NULL;
    if (!w || !b || nw != N * N || nb != N) {
        printf("FAIL fpnet: no context or parameters\n");
        return 1;
    }
    for (size_t i = 0; i < nw; i++) /* out = 1e-20 x */
        w[i] = i % (N + 1) == 0 ? 1e-20f : 0.0f;
    for (size_t i = 0; i < nb; i++)
        b[i] = 0.0f;

    float x[B * N], out[B * N], targets[B * N];
    volatile float tiny = 1e-20f, big = 1e10f;
    for (int i = 0; i < B * N; i++) {
        x[i] = i % 2 ? tiny : big; /* 1e-40 (subnormal) and 1e-10 out */
        targets[i] = 0.0f;
    }
    const unsigned mine = _mm_getcsr() & ~0x8040u; /* IEEE subnormals here */
    _mm_setcsr(mine);
    volatile float probe = tiny * tiny * 1e10f; /* the caller keeps them */
    check(probe > 0.0f, "the harness itself computes 1e-40 (FTZ off)");

    for (int threads = 1; threads <= 2; threads++) {
        char what[160];
        fpnet_set_threads(c, threads);
        fpnet_forward(c, x, B, out);
        int zero = 1, normal = 1;
        for (int i = 0; i < B * N; i++) {
            if (i % 2)
                zero &= out[i] == 0.0f;
            else
                normal &= out[i] > 0.99e-10f && out[i] < 1.01e-10f;
        }
        snprintf(what, sizeof what, "forward, %d thread(s): 1e-20 x 1e-20 is 0 (flushed), 1e-20 x 1e10 is 1e-10", threads);
        check(zero && normal, what);
        snprintf(what, sizeof what, "forward, %d thread(s): the caller's MXCSR is given back", threads);
        check((_mm_getcsr() & ~0x3fu) == (mine & ~0x3fu), what); /* control, not the flags */
        fpnet_gradients(c, x, NULL, targets, B, out);
        snprintf(what, sizeof what, "gradients, %d thread(s): the caller's MXCSR is given back", threads);
        check((_mm_getcsr() & ~0x3fu) == (mine & ~0x3fu), what); /* control, not the flags */
    }
    fpnet_destroy(c);
    return fail;
}
