/* pool_twins.c - the SIMD pooling kernels against their reference twins,
 * layer by layer, on values full of ties, signed zeros, infinities and
 * NaN: the forward outputs must have the same bits (or both be NaN), the
 * argmax the same indices, and the input gradients the same values.  The
 * golden files cannot show this: PyTorch's inputs are finite and its max
 * lets any NaN win, where ours (and its twin) lets one win only in first
 * place.  Built by tests/pool_twins.sh with
 *   -DNET_C='"DIR/t.c"' -DPOOLS='M(p0) A(p1) ...'
 * for a network `t` whose fast pools are listed (M max, A avg; MS and AS
 * for those with a sigmoid or tanh, which the reference computes with
 * libm and the SIMD kernel with runtime/cnnrt_act.h: equal within 4 units
 * in the last place, tests/unit/test_rt_act.c checks those further). */
#include NET_C
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 3 };

typedef void (*fw_fn)(t_ctx *, int, int, const float *restrict, float *restrict);
typedef void (*bw_fn)(t_ctx *, float *restrict, int, int, const float *restrict,
                      const float *restrict, float *restrict, float *restrict);

static unsigned rng = 12345u;

/* Mostly a few values (ties), some of them signed zeros, infinities, NaN. */
static float draw(void)
{
    static const float pal[] = {0.0f, 0.0f, 0.0f, -0.0f, 1.0f, 1.0f, -1.0f, 2.0f, 0.5f,
                                INFINITY, -INFINITY, NAN};
    rng = rng * 1103515245u + 12345u;
    unsigned r = (rng >> 8) % 16;
    return r < sizeof pal / sizeof *pal ? pal[r] : (float)(rng >> 20) / 4096.0f - 0.5f;
}

static size_t count(const cnnrt_layer_info *l)
{
    size_t n = 1;
    for (int a = 0; a < l->rank; a++)
        n *= (size_t)l->shape[a];
    return n;
}

/* Per-sample input and output sizes of the layer called name. */
static void sizes(const char *name, size_t *in, size_t *out)
{
    *in = T_IN_SIZE;
    for (size_t i = 0; i < sizeof layer_info / sizeof *layer_info; i++) {
        if (strcmp(layer_info[i].name, name) == 0) {
            *out = count(&layer_info[i]);
            return;
        }
        *in = count(&layer_info[i]);
    }
    fprintf(stderr, "no layer %s\n", name);
    exit(2);
}

/* a's place on the line of floats in order (-0 and +0 one apart). */
static int64_t order(float a)
{
    int32_t i;
    memcpy(&i, &a, sizeof i);
    return i < 0 ? -(int64_t)(i & 0x7fffffff) - 1 : i;
}

static int same(float a, float b, int bits, int ulps)
{
    if (a != a || b != b)
        return a != a && b != b;
    if (ulps && a != b && isfinite(a) && isfinite(b))
        return llabs((long long)(order(a) - order(b))) <= ulps;
    return bits ? memcmp(&a, &b, sizeof a) == 0 : a == b;
}

static int compare(const char *name, const char *what, const float *r, const float *f, size_t n,
                   int bits, int ulps)
{
    for (size_t i = 0; i < n; i++)
        if (!same(r[i], f[i], bits, ulps)) {
            printf("FAIL %s %s[%zu]: reference %g, simd %g\n", name, what, i, r[i], f[i]);
            return 1;
        }
    return 0;
}

static float *fill(size_t n, int random)
{
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        p[i] = random ? draw() : 12345.0f;
    return p;
}

static int check(t_ctx *c, const char *name, fw_fn f, fw_fn fr, bw_fn b, bw_fn br, int32_t *arg,
                 int ulps)
{
    size_t in, out, bad = 0;
    sizes(name, &in, &out);
    float *x = fill(N * in, 1), *yr = fill(N * out, 0), *yf = fill(N * out, 0);
    float *dy = fill(N * out, 1), *dyr = fill(N * out, 0), *dyf = fill(N * out, 0);
    float *dxr = fill(N * in, 0), *dxf = fill(N * in, 0);
    int32_t *ar = malloc(sizeof(int32_t) * N * out);
    fr(c, 0, N, x, yr);
    if (arg)
        memcpy(ar, arg, sizeof(int32_t) * N * out);
    f(c, 0, N, x, yf);
    bad |= compare(name, "y", yr, yf, N * out, 1, ulps);
    for (size_t i = 0; arg && !bad && i < N * out; i++)
        if (ar[i] != arg[i]) {
            printf("FAIL %s argmax[%zu]: reference %d, simd %d\n", name, i, ar[i], arg[i]);
            bad = 1;
        }
    memcpy(dyr, dy, sizeof(float) * N * out);
    memcpy(dyf, dy, sizeof(float) * N * out);
    br(c, c->grads, 0, N, x, yr, dyr, dxr);
    b(c, c->grads, 0, N, x, yf, dyf, dxf);
    bad |= compare(name, "dx", dxr, dxf, N * in, 0, ulps);
    if (!bad)
        printf("ok   %s: %zu outputs, %zu inputs per sample\n", name, out, in);
    free(x), free(yr), free(yf), free(dy), free(dyr), free(dyf), free(dxr), free(dxf), free(ar);
    return (int)bad;
}

#define M(n) fails += check(c, #n, n##_forward, n##_forward_ref, n##_backward, n##_backward_ref, c->arg_##n, 0);
#define A(n) fails += check(c, #n, n##_forward, n##_forward_ref, n##_backward, n##_backward_ref, NULL, 0);
#define MS(n) fails += check(c, #n, n##_forward, n##_forward_ref, n##_backward, n##_backward_ref, c->arg_##n, 4);
#define AS(n) fails += check(c, #n, n##_forward, n##_forward_ref, n##_backward, n##_backward_ref, NULL, 4);

int main(void)
{
    t_ctx *c = t_create(N);
    int fails = 0;
    if (!c)
        return 2;
    POOLS
    t_destroy(c);
    return fails != 0;
}
