/* cnnrt_act.h - the sigmoid and tanh of the fast kernels.
 *
 * cnnc pastes this file into every generated NAME.c whose network uses
 * sigmoid or tanh (tests/unit/test_rt_act.c includes it to check it).
 * libm's expf and tanhf are calls the compiler cannot vectorise: a conv
 * layer with tanh spent 95 % of its forward in tanhf.  These are branch-free
 * C that gcc and clang turn into SIMD code inside the kernels' loops,
 * within 3 units in the last place of the exact result for every float
 * (the reference twins keep libm's).
 *
 *   exp(x) = 2^n * e^r, n = round(x / ln 2), r = x - n ln 2 in
 *            [-ln2/2, ln2/2] (ln 2 split in two parts so n ln 2 is exact),
 *            e^r by its Taylor series to r^7 (error below 4e-9), 2^n built
 *            in the exponent bits; x is clamped to [-87, 88], where 2^n
 *            stays a normal float.
 *   tanh(x) = x + x^3 P(x^2) for |x| < 0.625 (P fitted by least squares,
 *            relative error below 1e-7), else sign(x) (1 - t) / (1 + t)
 *            with t = exp(-2|x|) <= 0.29, so nothing cancels.
 * NaN gives NaN; tanh(+-0) = +-0 and tanh(+-inf) = +-1. */
#ifndef CNNRT_ACT_H
#define CNNRT_ACT_H

#include <stdint.h>
#include <string.h>

/* A network may use only one of them: no unused-function warning. */
#if defined(__GNUC__) || defined(__clang__)
#define CNNRT_ACT_FN static inline __attribute__((unused))
#else
#define CNNRT_ACT_FN static inline
#endif

CNNRT_ACT_FN float cnnrt_expf(float x)
{
    float c = x < 88.0f ? x : 88.0f;        /* NaN takes this bound, no UB below */
    c = c > -87.0f ? c : -87.0f;
    const float shift = 12582912.0f;        /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (c * 1.44269504088896341f + shift) - shift;
    float r = (c - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x == x ? p * scale : x;
}

CNNRT_ACT_FN float cnnrt_sigmoidf(float x)
{
    return 1.0f / (1.0f + cnnrt_expf(-x));
}

CNNRT_ACT_FN float cnnrt_tanhf(float x)
{
    float a = x < 0.0f ? -x : x;
    float z = x * x;
    float q = -5.78977028e-3f;
    q = q * z + 2.07139868e-2f;
    q = q * z + -5.37622720e-2f;
    q = q * z + 1.33317053e-1f;
    q = q * z + -3.33332926e-1f;
    float small = x + x * z * q;
    float t = cnnrt_expf(-2.0f * a);
    float big = (1.0f - t) / (1.0f + t);
    big = x < 0.0f ? -big : big;
    return a == 0.0f ? x : a < 0.625f ? small : x == x ? big : x;
}

#endif
