/* test_rt_act.c - runtime/cnnrt_act.h, the sigmoid and tanh that cnnc
 * pastes into generated kernels: within 3 units in the last place of the
 * exact (double precision libm) result on a sweep through every binade of
 * the floats, and the special values. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cnnrt_act.h"

#include "rt_test_util.h"

/* |got - want| in units in the last place of want (as a float). */
static double ulps(float got, double want)
{
    float w = (float)want;
    double ulp = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / ulp;
}

/* Every 1009th float from 2^-40 up to +inf, each with both signs. */
#define SWEEP(x)                                                                         \
    for (uint32_t b_ = 0x2b800000u; b_ < 0x7f800000u; b_ += 1009)                        \
        for (int s_ = 0; s_ < 2; s_++)                                                   \
            for (float x = bits_float(b_ ^ ((uint32_t)s_ << 31)), once_ = 1; once_; once_ = 0)

static float bits_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

START_TEST(exp_within_3_ulp)
{
    double worst = 0;
    SWEEP(x) {
        if (x > -87.0f && x < 88.0f)
            worst = fmax(worst, ulps(cnnrt_expf(x), exp((double)x)));
    }
    ck_assert_double_le(worst, 3.0);
    ck_assert_double_gt(worst, 0.0);    /* the sweep ran */
}
END_TEST

START_TEST(tanh_within_3_ulp)
{
    double worst = 0;
    SWEEP(x) {
        worst = fmax(worst, ulps(cnnrt_tanhf(x), tanh((double)x)));
    }
    ck_assert_double_le(worst, 3.0);
}
END_TEST

START_TEST(sigmoid_within_3_ulp)
{
    double worst = 0;
    SWEEP(x) {
        double want = 1.0 / (1.0 + exp(-(double)x));
        if (want > 1e-37)    /* below: a denormal answer, checked absolutely */
            worst = fmax(worst, ulps(cnnrt_sigmoidf(x), want));
        else
            ck_assert_float_le(cnnrt_sigmoidf(x), 1e-37f);
    }
    ck_assert_double_le(worst, 3.0);
}
END_TEST

START_TEST(special_values)
{
    ck_assert(signbit(cnnrt_tanhf(-0.0f)) && cnnrt_tanhf(-0.0f) == 0.0f);
    ck_assert(!signbit(cnnrt_tanhf(0.0f)) && cnnrt_tanhf(0.0f) == 0.0f);
    ck_assert_float_eq(cnnrt_tanhf(INFINITY), 1.0f);
    ck_assert_float_eq(cnnrt_tanhf(-INFINITY), -1.0f);
    ck_assert_float_eq(cnnrt_tanhf(1e30f), 1.0f);
    ck_assert_float_eq(cnnrt_sigmoidf(0.0f), 0.5f);
    ck_assert_float_eq(cnnrt_sigmoidf(INFINITY), 1.0f);
    ck_assert_float_eq(cnnrt_sigmoidf(1e30f), 1.0f);
    ck_assert_float_le(cnnrt_sigmoidf(-INFINITY), 1e-37f);
    ck_assert_float_ge(cnnrt_sigmoidf(-INFINITY), 0.0f);
    ck_assert_float_eq(cnnrt_expf(0.0f), 1.0f);
    ck_assert(isnan(cnnrt_tanhf(NAN)));
    ck_assert(isnan(cnnrt_sigmoidf(NAN)));
    ck_assert(isnan(cnnrt_expf(NAN)));
}
END_TEST

/* The small-argument polynomial and the exp form meet at |x| = 0.625. */
START_TEST(tanh_continuous_at_the_switch)
{
    float lo = nextafterf(0.625f, 0.0f);
    ck_assert_double_le(ulps(cnnrt_tanhf(lo), tanh((double)lo)), 3.0);
    ck_assert_double_le(ulps(cnnrt_tanhf(0.625f), tanh(0.625)), 3.0);
    ck_assert_double_le(ulps(cnnrt_tanhf(-lo), tanh(-(double)lo)), 3.0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("act");
    TCase *tc = tcase_create("act");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, exp_within_3_ulp);
    tcase_add_test(tc, tanh_within_3_ulp);
    tcase_add_test(tc, sigmoid_within_3_ulp);
    tcase_add_test(tc, special_values);
    tcase_add_test(tc, tanh_continuous_at_the_switch);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
