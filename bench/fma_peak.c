/* fma_peak.c - this machine's FP32 multiply-add peak on one core, the
 * yardstick for bench/run.sh's "% of peak" column.
 *
 * 12 independent accumulator chains of fused multiply-adds: enough to cover
 * the FMA latency on every pipe of current x86 cores (Zen 3: 2 pipes x 4
 * cycles needs 8), few enough to stay in 16 vector registers.  Each run is
 * short (~20 ms) and the best of 25 is kept.  The peak is FLOPs per second
 * of this thread's CPU time, which a busy shared machine does not dilute
 * (the time the core spends on other processes is not counted); FLOPs per
 * second of wall time are printed beside it, and agree on a quiet machine.
 *
 * The widest kernel the CPU supports at run time is used: AVX-512 (16
 * lanes; cnnc's default target there) or AVX2+FMA (8 lanes) on x86-64,
 * NEON (4 lanes) on aarch64, else plain C (whatever the compiler makes of
 * it; reported as such).  (Until session 9 AVX-512 machines were measured
 * with AVX2, and cnnc's kernels showed up to 140 % of that "peak".)  Build: cc -O2 fma_peak.c -o fma_peak.
 * Output: a human line on stderr, then `fma_peak_gflops G`,
 * `fma_peak_wall_gflops G` and `fma_peak_kind K` on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_X86 1
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

enum { CHAINS = 12, RUNS = 25 };

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Wall time, and the CPU time of this thread: on a shared machine the
 * latter does not run on while another process has the core. */
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_now(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

/* Every kernel runs `iters` rounds of CHAINS multiply-adds acc = acc*a + b
 * with a just below 1, so the chains converge and never overflow or go
 * denormal; it returns a sum of the accumulators so nothing is dead code. */
/* The chains are spelled out (not an array indexed in a loop) so that every
 * compiler keeps them in registers. */
#define CHAIN12(F, a, b)                                                        \
    do {                                                                        \
        x0 = F(x0, a, b); x1 = F(x1, a, b); x2 = F(x2, a, b);                   \
        x3 = F(x3, a, b); x4 = F(x4, a, b); x5 = F(x5, a, b);                   \
        x6 = F(x6, a, b); x7 = F(x7, a, b); x8 = F(x8, a, b);                   \
        x9 = F(x9, a, b); x10 = F(x10, a, b); x11 = F(x11, a, b);               \
    } while (0)
/* The 12 accumulators of type T, x<k> = SET(k) (different starts). */
#define DECL12(T, SET)                                                          \
    T x0 = SET(0), x1 = SET(1), x2 = SET(2), x3 = SET(3), x4 = SET(4),          \
      x5 = SET(5), x6 = SET(6), x7 = SET(7), x8 = SET(8), x9 = SET(9),          \
      x10 = SET(10), x11 = SET(11)
#define SUM12(ADD) ADD(ADD(ADD(ADD(x0, x1), ADD(x2, x3)), ADD(ADD(x4, x5), ADD(x6, x7))), \
                       ADD(ADD(x8, x9), ADD(x10, x11)))

#ifdef HAVE_X86
__attribute__((target("avx2,fma"))) static float kernel_avx2(long iters, float a, float b)
{
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    DECL12(__m256, _mm256_set1_ps);
    float out[8], s = 0;
    for (long i = 0; i < iters; i++)
        CHAIN12(_mm256_fmadd_ps, va, vb);
    _mm256_storeu_ps(out, SUM12(_mm256_add_ps));
    for (int l = 0; l < 8; l++)
        s += out[l];
    return s;
}

__attribute__((target("avx512f"))) static float kernel_avx512(long iters, float a, float b)
{
    __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    DECL12(__m512, _mm512_set1_ps);
    for (long i = 0; i < iters; i++)
        CHAIN12(_mm512_fmadd_ps, va, vb);
    return _mm512_reduce_add_ps(SUM12(_mm512_add_ps));
}
#endif

#ifdef __aarch64__
#define NEON_FMA(x, a, b) vfmaq_f32(b, x, a)
static float kernel_neon(long iters, float a, float b)
{
    float32x4_t va = vdupq_n_f32(a), vb = vdupq_n_f32(b);
    DECL12(float32x4_t, vdupq_n_f32);
    for (long i = 0; i < iters; i++)
        CHAIN12(NEON_FMA, va, vb);
    return vaddvq_f32(SUM12(vaddq_f32));
}
#endif

/* Plain C: the compiler may or may not contract a*b+c to an FMA. */
#define SCALAR_FMA(x, a, b) ((x) * (a) + (b))
#define SCALAR_ADD(x, y) ((x) + (y))
static float kernel_scalar(long iters, float a, float b)
{
#define SCALAR_SET(k) ((float)(k))
    DECL12(float, SCALAR_SET);
    for (long i = 0; i < iters; i++)
        CHAIN12(SCALAR_FMA, a, b);
    return SUM12(SCALAR_ADD);
}

typedef float (*kernel_fn)(long, float, float);

/* The widest kernel this CPU runs, its name and its FLOPs per chain step. */
static kernel_fn pick(const char **kind, int *flops)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *kind = "avx512_fma";
        *flops = 2 * 16;
        return kernel_avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *kind = "avx2_fma";
        *flops = 2 * 8;
        return kernel_avx2;
    }
#endif
#ifdef __aarch64__
    *kind = "neon_fma";
    *flops = 2 * 4;
    return kernel_neon;
#endif
    *kind = "scalar";
    *flops = 2;
    return kernel_scalar;
}

/* Iterations that take about `target` seconds with kernel f. */
static long calibrate(kernel_fn f, double target, volatile float *sink)
{
    long iters = 1 << 16;
    for (;;) {
        double t0 = now();
        *sink += f(iters, 0.999f, 0.001f);
        double el = now() - t0;
        if (el > target / 4 || iters > (1L << 40))
            return (long)((double)iters * target / (el > 0 ? el : 1e-9)) + 1;
        iters *= 4;
    }
}

int main(void)
{
    const char *kind;
    int flops;
    volatile float sink = 0;
    kernel_fn f = pick(&kind, &flops);
    long iters = calibrate(f, 0.02, &sink);
    double best = 0, best_wall = 0;

    for (int r = 0; r < RUNS; r++) {
        double t0 = now(), c0 = cpu_now();
        sink += f(iters, 0.999f, 0.001f);
        double c = cpu_now() - c0, w = now() - t0, work = (double)iters * CHAINS * flops / 1e9;
        if (c > 0 && work / c > best)
            best = work / c;
        if (work / w > best_wall)
            best_wall = work / w;
    }
    fprintf(stderr, "FP32 FMA peak, one core: %.1f GFLOP/s per second of CPU time (%.1f per "
            "second of wall time; %s, %d chains, best of %d runs of %ld steps; checksum %g)\n",
            best, best_wall, kind, CHAINS, RUNS, iters, (double)sink);
    printf("fma_peak_gflops %.1f\n", best);
    printf("fma_peak_wall_gflops %.1f\n", best_wall);
    printf("fma_peak_kind %s\n", kind);
    return 0;
}
