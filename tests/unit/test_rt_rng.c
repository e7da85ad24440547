/* test_rt_rng.c - xoshiro256** with splitmix64 seeding (first values from
 * an independent Python implementation of the published algorithms),
 * uniform floats, permutations, state save/restore, and PyTorch-style init. */
#include "rt_test_util.h"
#include "toy_model.h"

START_TEST(known_first_values)
{
    static const uint64_t seed0[4] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull,
                                      0x1a5f849d4933e6e0ull, 0x6aa594f1262d2d2cull};
    static const uint64_t seed42[4] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
                                       0xae17533239e499a1ull, 0xecb8ad4703b360a1ull};
    cnnrt_rng a, b;
    cnnrt_rng_seed(&a, 0);
    cnnrt_rng_seed(&b, 42);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(cnnrt_rng_next(&a), seed0[i]);
        ck_assert_uint_eq(cnnrt_rng_next(&b), seed42[i]);
    }
}
END_TEST

START_TEST(same_seed_same_stream)
{
    cnnrt_rng a, b, c;
    int differ = 0;
    cnnrt_rng_seed(&a, 123);
    cnnrt_rng_seed(&b, 123);
    cnnrt_rng_seed(&c, 124);
    for (int i = 0; i < 1000; i++) {
        uint64_t x = cnnrt_rng_next(&a);
        ck_assert_uint_eq(x, cnnrt_rng_next(&b));
        differ += x != cnnrt_rng_next(&c);
    }
    ck_assert_int_eq(differ, 1000);
}
END_TEST

START_TEST(uniform_floats_in_range)
{
    cnnrt_rng r;
    double sum = 0, lo = 1, hi = -1;
    const int n = 200000;
    cnnrt_rng_seed(&r, 9);
    for (int i = 0; i < n; i++) {
        float x = cnnrt_rng_uniform(&r, -0.25f, 0.75f);
        ck_assert(x >= -0.25f && x < 0.75f);
        sum += x;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    ck_assert_double_eq_tol(sum / n, 0.25, 0.005);
    ck_assert(lo < -0.249 && hi > 0.749);
    for (int i = 0; i < 1000; i++) {
        double d = cnnrt_rng_double(&r);
        ck_assert(d >= 0 && d < 1);
    }
    /* a degenerate interval still yields its start */
    ck_assert_float_eq(cnnrt_rng_uniform(&r, 2.0f, 2.0f), 2.0f);
}
END_TEST

START_TEST(below_is_in_range_and_spread)
{
    cnnrt_rng r;
    int counts[7] = {0};
    cnnrt_rng_seed(&r, 5);
    for (int i = 0; i < 70000; i++) {
        uint64_t k = cnnrt_rng_below(&r, 7);
        ck_assert_uint_lt(k, 7);
        counts[k]++;
    }
    for (int i = 0; i < 7; i++)
        ck_assert_int_lt(abs(counts[i] - 10000), 500);
    ck_assert_uint_eq(cnnrt_rng_below(&r, 1), 0);
    ck_assert_uint_eq(cnnrt_rng_below(&r, 0), 0);
}
END_TEST

START_TEST(permutations_are_valid_and_deterministic)
{
    enum { N = 1000 };
    static int64_t p[N], q[N];
    static char seen[N];
    cnnrt_rng a, b;
    int fixed = 0;
    cnnrt_rng_seed(&a, 77);
    cnnrt_rng_seed(&b, 77);
    cnnrt_rng_permutation(&a, p, N);
    cnnrt_rng_permutation(&b, q, N);
    ck_assert_mem_eq(p, q, sizeof p);
    for (int i = 0; i < N; i++) {
        ck_assert(p[i] >= 0 && p[i] < N);
        ck_assert_int_eq(seen[p[i]], 0);
        seen[p[i]] = 1;
        fixed += p[i] == i;
    }
    ck_assert_int_lt(fixed, 10);           /* expected about one fixed point */
    cnnrt_rng_permutation(&a, q, N);       /* the next epoch shuffles again */
    ck_assert(memcmp(p, q, sizeof p) != 0);
    cnnrt_rng_permutation(&a, q, 1);
    ck_assert_int_eq(q[0], 0);
    cnnrt_rng_permutation(&a, q, 0);
}
END_TEST

START_TEST(state_save_and_restore)
{
    cnnrt_rng a, b;
    uint64_t st[4], zero[4] = {0, 0, 0, 0};
    cnnrt_rng_seed(&a, 31);
    for (int i = 0; i < 17; i++)
        cnnrt_rng_next(&a);
    cnnrt_rng_get_state(&a, st);
    cnnrt_rng_seed(&b, 999);
    ck_assert_int_eq(cnnrt_rng_set_state(&b, st), 0);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(cnnrt_rng_next(&a), cnnrt_rng_next(&b));
    ck_assert_int_eq(cnnrt_rng_set_state(&b, zero), -1);
}
END_TEST

START_TEST(init_is_pytorch_default_and_deterministic)
{
    void *a = toy_model.create(1), *b = toy_model.create(1);
    float *pa = toy_model.param_block(a), *pb = toy_model.param_block(b);
    float bound = 1.0f / 4.0f;             /* fan_in 16 */
    double sum = 0;
    int differ = 0;
    cnnrt_init_params(&toy_model, a, 3);
    cnnrt_init_params(&toy_model, b, 3);
    ck_assert_mem_eq(pa, pb, TOY_NP * sizeof(float));
    for (int i = 0; i < TOY_NP; i++) {
        ck_assert(pa[i] >= -bound && pa[i] < bound);
        sum += fabs(pa[i]);
    }
    ck_assert_double_gt(sum / TOY_NP, bound / 4);   /* spread out, not zeros */
    cnnrt_init_params(&toy_model, b, 4);
    for (int i = 0; i < TOY_NP; i++)
        differ += pa[i] != pb[i];
    ck_assert_int_eq(differ, TOY_NP);
    toy_model.destroy(a);
    toy_model.destroy(b);
}
END_TEST

START_TEST(durations)
{
    char buf[32];
    ck_assert_str_eq(cnnrt_format_duration(7.2, buf, sizeof buf), "0:07");
    ck_assert_str_eq(cnnrt_format_duration(65, buf, sizeof buf), "1:05");
    ck_assert_str_eq(cnnrt_format_duration(3723, buf, sizeof buf), "1:02:03");
    ck_assert_str_eq(cnnrt_format_duration(-1, buf, sizeof buf), "0:00");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("rng");
    tcase_add_test(tc, known_first_values);
    tcase_add_test(tc, same_seed_same_stream);
    tcase_add_test(tc, uniform_floats_in_range);
    tcase_add_test(tc, below_is_in_range_and_spread);
    tcase_add_test(tc, permutations_are_valid_and_deterministic);
    tcase_add_test(tc, state_save_and_restore);
    tcase_add_test(tc, init_is_pytorch_default_and_deterministic);
    tcase_add_test(tc, durations);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
