/* twins.c - microseconds per image of every layer function of a generated
 * network, SIMD kernel and reference twin side by side, at batch 1 and at
 * batch B.  Built by bench/twins.sh, which reads the calls out of the
 * generated forward_lane/backward_lane and passes them as
 *   -DNET_C='"net.c"' -DCTX=net_ctx -DCREATE=net_create -DDESTROY=net_destroy
 *   -DPARAM_COUNT=NET_PARAM_COUNT -DIN_SIZE=NET_IN_SIZE -DBATCH=B
 *   -DFORWARDS='F(c1, x, c->y_c1) P(flat, ..) ..' -DBACKWARDS='B(..) ..'
 * (F: a layer with a twin, P: one without).  Times are thread CPU time
 * (a shared machine's other processes do not count), best of 7 runs of
 * at least 20 ms each. */
#include NET_C
#include <stdio.h>
#include <time.h>

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Microseconds per image of EXPR on n images. */
#define US_PER_IMAGE(res, n, expr)                                                     \
    do {                                                                               \
        double best_ = 1e30;                                                           \
        for (int r_ = 0; r_ < 7; r_++) {                                               \
            long reps_ = 0;                                                            \
            double t0_ = cpu_now(), t_;                                                \
            do {                                                                       \
                for (int z_ = 0; z_ < 16; z_++, reps_++) {                             \
                    expr;                                                              \
                }                                                                      \
            } while ((t_ = cpu_now() - t0_) < 0.02);                                   \
            best_ = t_ / (double)reps_ < best_ ? t_ / (double)reps_ : best_;            \
        }                                                                              \
        res = 1e6 * best_ / (double)(n);                                               \
    } while (0)

static void row(const char *name, const char *what, double fast, double ref)
{
    if (ref > 0)
        printf("%-10s %-9s %10.3f %10.3f %7.2fx\n", name, what, fast, ref, ref / fast);
    else
        printf("%-10s %-9s %10.3f %10s\n", name, what, fast, "-");
}

#define F(name, in, out)                                                               \
    US_PER_IMAGE(f, n, name##_forward(c, 0, n, in, out));                              \
    US_PER_IMAGE(r, n, name##_forward_ref(c, 0, n, in, out));                          \
    row(#name, what, f, r);
#define P(name, in, out)                                                               \
    US_PER_IMAGE(f, n, name##_forward(c, 0, n, in, out));                              \
    row(#name, what, f, 0);
#define B(name, in, out, dy, dx)                                                       \
    US_PER_IMAGE(f, n, name##_backward(c, c->grads, 0, n, in, out, dy, dx));           \
    US_PER_IMAGE(r, n, name##_backward_ref(c, c->grads, 0, n, in, out, dy, dx));       \
    row(#name, what, f, r);
#define Q(name, in, out, dy, dx)                                                       \
    US_PER_IMAGE(f, n, name##_backward(c, c->grads, 0, n, in, out, dy, dx));           \
    row(#name, what, f, 0);

int main(void)
{
    CTX *c = CREATE(BATCH);
    float *x = malloc(sizeof(float) * (size_t)IN_SIZE * BATCH);
    unsigned s = 1;
    const int i0 = 0; /* the lane slots of backward_lane's calls */
    double f, r;
    if (!c || !x)
        return 2;
    for (size_t i = 0; i < (size_t)PARAM_COUNT; i++) {
        s = s * 1103515245u + 12345u;
        c->params[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.2f;
    }
    for (size_t i = 0; i < (size_t)IN_SIZE * BATCH; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)(s >> 8) / 16777216.0f;
    }
    printf("%-10s %-9s %10s %10s %8s\n", "layer", "pass", "simd us", "ref us", "ratio");
    for (int n = 1; n <= BATCH; n = n == 1 && BATCH > 1 ? BATCH : BATCH + 1) {
        char what[16];
        snprintf(what, sizeof what, "fwd b%d", n);
        forward_lane(c, x, n, 0, 1); /* the whole batch as one lane */
        FORWARDS
        snprintf(what, sizeof what, "bwd b%d", n);
        BACKWARDS
    }
    (void)i0;
    DESTROY(c);
    free(x);
    return 0;
}
