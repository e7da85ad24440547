/* test_rt_npy.c - the .npy reader and writer against files NumPy wrote
 * (tests/unit/data, made by make_fixtures.py), corrupt files, and the
 * atomic writer. */
#include <sys/wait.h>

#include "rt_test_util.h"

static char err[CNNRT_ERR_MAX];

static cnnrt_tensor read_ok(const char *name)
{
    cnnrt_tensor t;
    ck_assert_msg(cnnrt_npy_read(fixture(name), &t, err, sizeof err) == 0, "%s", err);
    return t;
}

static const float f4_values[6] = {-1, -0.5f, 0, 0.5f, 1, 1.5f};

START_TEST(reads_float32_matrix)
{
    cnnrt_tensor t = read_ok("f4_2x3.npy");
    ck_assert_int_eq(t.dtype, CNNRT_F32);
    ck_assert_int_eq(t.rank, 2);
    ck_assert_int_eq(t.shape[0], 2);
    ck_assert_int_eq(t.shape[1], 3);
    ck_assert_uint_eq(t.count, 6);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(((float *)t.data)[i], f4_values[i]);
    cnnrt_tensor_free(&t);
}
END_TEST

START_TEST(reads_versions_2_and_3)
{
    const char *names[2] = {"v2_f4.npy", "v3_f4.npy"};
    for (int k = 0; k < 2; k++) {
        cnnrt_tensor t = read_ok(names[k]);
        ck_assert_int_eq(t.rank, 2);
        ck_assert_mem_eq(t.data, f4_values, sizeof f4_values);
        cnnrt_tensor_free(&t);
    }
}
END_TEST

START_TEST(reads_other_dtypes)
{
    cnnrt_tensor t = read_ok("f8_vec.npy");
    ck_assert_int_eq(t.dtype, CNNRT_F64);
    ck_assert_double_eq(((double *)t.data)[1], -2.25);
    ck_assert_double_eq(((double *)t.data)[2], 1e300);
    cnnrt_tensor_free(&t);

    t = read_ok("i8_vec.npy");
    ck_assert_int_eq(t.dtype, CNNRT_I64);
    ck_assert_int_eq(((int64_t *)t.data)[2], -2);
    ck_assert_int_eq(((int64_t *)t.data)[3], (int64_t)1 << 40);
    cnnrt_tensor_free(&t);

    t = read_ok("i4_vec.npy");
    ck_assert_int_eq(t.dtype, CNNRT_I32);
    ck_assert_int_eq(((int32_t *)t.data)[4], 5);
    cnnrt_tensor_free(&t);

    t = read_ok("u1_mat.npy");
    ck_assert_int_eq(t.dtype, CNNRT_U8);
    ck_assert_int_eq(((uint8_t *)t.data)[1], 255);
    ck_assert_int_eq(((uint8_t *)t.data)[3], 128);
    cnnrt_tensor_free(&t);

    t = read_ok("bool_vec.npy");
    ck_assert_int_eq(t.dtype, CNNRT_BOOL);
    ck_assert_double_eq(cnnrt_tensor_get(&t, 0), 1);
    ck_assert_double_eq(cnnrt_tensor_get(&t, 1), 0);
    cnnrt_tensor_free(&t);
}
END_TEST

START_TEST(reads_scalar_empty_and_big_endian)
{
    cnnrt_tensor t = read_ok("scalar_f4.npy");
    ck_assert_int_eq(t.rank, 0);
    ck_assert_uint_eq(t.count, 1);
    ck_assert_float_eq(((float *)t.data)[0], 3.5f);
    cnnrt_tensor_free(&t);

    t = read_ok("empty_f4.npy");
    ck_assert_int_eq(t.rank, 2);
    ck_assert_int_eq(t.shape[0], 0);
    ck_assert_int_eq(t.shape[1], 3);
    ck_assert_uint_eq(t.count, 0);
    cnnrt_tensor_free(&t);

    t = read_ok("be_f4.npy");           /* '>f4': swapped on reading */
    ck_assert_int_eq(t.dtype, CNNRT_F32);
    ck_assert_float_eq(((float *)t.data)[0], 1.0f);
    ck_assert_float_eq(((float *)t.data)[1], -2.0f);
    ck_assert_float_eq(((float *)t.data)[2], 0.25f);
    cnnrt_tensor_free(&t);
}
END_TEST

START_TEST(rejects_fortran_order)
{
    cnnrt_tensor t;
    ck_assert_int_eq(cnnrt_npy_read(fixture("fortran_f4.npy"), &t, err, sizeof err), -1);
    ck_assert_err_has(err, "fortran_f4.npy");
    ck_assert_err_has(err, "fortran_order");
}
END_TEST

/* Our writer produces the very bytes numpy.save does. */
START_TEST(writes_what_numpy_writes)
{
    const char *names[3] = {"f4_2x3.npy", "i8_vec.npy", "scalar_f4.npy"};
    const char *dir = temp_dir();
    for (int k = 0; k < 3; k++) {
        size_t n1, n2;
        cnnrt_tensor t = read_ok(names[k]);
        unsigned char *want = slurp(fixture(names[k]), &n1), *got;
        ck_assert_msg(cnnrt_npy_write(path_in(dir, "out.npy"), &t, err, sizeof err) == 0, "%s",
                      err);
        got = slurp(path_in(dir, "out.npy"), &n2);
        ck_assert_uint_eq(n1, n2);
        ck_assert_mem_eq(want, got, n1);
        ck_assert_uint_eq(cnnrt_npy_size(&t), n1);
        free(want);
        free(got);
        cnnrt_tensor_free(&t);
    }
    ck_assert_int_eq(dir_entries(dir), 1);   /* no temporary file left */
}
END_TEST

START_TEST(round_trips_every_dtype)
{
    const char *dir = temp_dir();
    int64_t shape[3] = {2, 1, 3};
    for (int dt = 0; dt < CNNRT_NDTYPES; dt++) {
        cnnrt_tensor t, u;
        ck_assert_int_eq(cnnrt_tensor_alloc(&t, dt, 3, shape, err, sizeof err), 0);
        for (size_t i = 0; i < t.count * cnnrt_dtype_size(dt); i++)
            ((unsigned char *)t.data)[i] = (unsigned char)(dt == CNNRT_BOOL ? i % 2 : 7 * i + 1);
        ck_assert_int_eq(cnnrt_npy_write(path_in(dir, "rt.npy"), &t, err, sizeof err), 0);
        ck_assert_msg(cnnrt_npy_read(path_in(dir, "rt.npy"), &u, err, sizeof err) == 0, "%s",
                      err);
        ck_assert_int_eq(u.dtype, dt);
        ck_assert(cnnrt_shape_eq(u.rank, u.shape, 3, shape));
        ck_assert_mem_eq(u.data, t.data, t.count * cnnrt_dtype_size(dt));
        cnnrt_tensor_free(&t);
        cnnrt_tensor_free(&u);
    }
}
END_TEST

/* Parses buf after a modification, expecting failure with `needle`. */
static void expect_bad(unsigned char *buf, size_t len, const char *needle)
{
    cnnrt_tensor t;
    ck_assert_int_eq(cnnrt_npy_parse(buf, len, "bad.npy", &t, err, sizeof err), -1);
    ck_assert_err_has(err, "bad.npy");
    ck_assert_err_has(err, needle);
    ck_assert_ptr_null(t.data);
}

START_TEST(rejects_corrupt_files)
{
    size_t len;
    unsigned char *good = slurp(fixture("f4_2x3.npy"), &len);
    unsigned char *b = malloc(len + 1);

    memcpy(b, good, len);
    b[1] = 'X';
    expect_bad(b, len, "magic");
    expect_bad(b, 3, "magic");

    memcpy(b, good, len);
    expect_bad(b, len - 1, "truncated");           /* one data byte short */
    b[len] = 0;
    expect_bad(b, len + 1, "unexpected bytes");     /* one byte too many */
    expect_bad(b, 40, "truncated .npy header");

    memcpy(b, good, len);
    b[6] = 9;
    expect_bad(b, len, "version 9.0");

    memcpy(b, good, len);                         /* the header lies: (2, 4) */
    ck_assert_ptr_nonnull(memchr(b, '3', 128));
    *(unsigned char *)memchr(b + 10, '3', 118) = '4';
    expect_bad(b, len, "truncated: header says float32 [2, 4]");

    memcpy(b, good, len);
    memcpy(strstr((char *)b + 10, "<f4"), "<c8", 3);
    expect_bad(b, len, "unsupported dtype '<c8'");

    memcpy(b, good, len);
    memcpy(strstr((char *)b + 10, "shape"), "shope", 5);
    expect_bad(b, len, "unexpected key 'shope'");

    memcpy(b, good, len);
    *strstr((char *)b + 10, "}") = ')';
    expect_bad(b, len, "malformed");

    memcpy(b, good, len);
    b[8] = 0xff;                                  /* header longer than the file */
    expect_bad(b, len, "truncated .npy header");
    free(good);
    free(b);
}
END_TEST

START_TEST(missing_file_is_named)
{
    cnnrt_tensor t;
    ck_assert_int_eq(cnnrt_npy_read("/nonexistent/x.npy", &t, err, sizeof err), -1);
    ck_assert_err_has(err, "/nonexistent/x.npy: cannot open");
}
END_TEST

static int write_then_fail(FILE *f, void *arg, char *e, size_t elen)
{
    (void)arg;
    fputs("partial garbage", f);
    return cnnrt_errorf(e, elen, "simulated failure");
}

START_TEST(atomic_write_keeps_old_file_on_failure)
{
    const char *dir = temp_dir(), *p = path_in(dir, "w.npy");
    cnnrt_tensor t = read_ok("f4_2x3.npy"), u;
    size_t n1, n2;
    unsigned char *before, *after;
    ck_assert_int_eq(cnnrt_npy_write(p, &t, err, sizeof err), 0);
    before = slurp(p, &n1);
    ck_assert_int_eq(cnnrt_atomic_write(p, write_then_fail, NULL, err, sizeof err), -1);
    ck_assert_err_has(err, "w.npy: simulated failure");
    after = slurp(p, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(before, after, n1);
    ck_assert_int_eq(dir_entries(dir), 1);          /* the temporary file is gone */
    ck_assert_int_eq(cnnrt_npy_read(p, &u, err, sizeof err), 0);
    cnnrt_tensor_free(&u);

    /* a directory that does not exist: an error, no file */
    ck_assert_int_eq(cnnrt_npy_write(path_in(dir, "no/such/w.npy"), &t, err, sizeof err), -1);
    ck_assert_err_has(err, "no/such/w.npy");
    ck_assert_int_eq(dir_entries(dir), 1);
    free(before);
    free(after);
    cnnrt_tensor_free(&t);
}
END_TEST

static int exists(const char *dir, const char *name)
{
    return access(path_in(dir, name), F_OK) == 0;
}

/* Temporary files of writers that died (SIGKILL before their rename) are
 * removed by the next write of the same file; those of live processes,
 * of other files, and names without a pid are left alone. */
START_TEST(atomic_write_removes_stale_temps)
{
    const char *dir = temp_dir();
    cnnrt_tensor t = read_ok("f4_2x3.npy");
    char dead[64], mine[64], other[64];
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);   /* pid is now free */
    snprintf(dead, sizeof dead, ".w.npy.tmp%ld.a1b2c3", (long)pid);
    snprintf(mine, sizeof mine, ".w.npy.tmp%ld.a1b2c3", (long)getpid());
    snprintf(other, sizeof other, ".v.npy.tmp%ld.a1b2c3", (long)pid);
    spit(path_in(dir, dead), "x", 1);
    spit(path_in(dir, mine), "x", 1);
    spit(path_in(dir, other), "x", 1);
    spit(path_in(dir, ".w.npy.tmp1.a1b2c3"), "x", 1);     /* pid 1 is alive */
    spit(path_in(dir, ".w.npy.tmpXYZ"), "x", 1);
    ck_assert_int_eq(cnnrt_npy_write(path_in(dir, "w.npy"), &t, err, sizeof err), 0);
    ck_assert(!exists(dir, dead));
    ck_assert(exists(dir, mine) && exists(dir, other) && exists(dir, ".w.npy.tmp1.a1b2c3") &&
              exists(dir, ".w.npy.tmpXYZ") && exists(dir, "w.npy"));
    ck_assert_int_eq(dir_entries(dir), 5);
    cnnrt_tensor_free(&t);
}
END_TEST

START_TEST(shape_strings)
{
    char buf[64];
    int64_t s[3] = {6, 1, 5};
    size_t c;
    ck_assert_str_eq(cnnrt_shape_str(3, s, buf, sizeof buf), "[6, 1, 5]");
    ck_assert_str_eq(cnnrt_shape_str(0, s, buf, sizeof buf), "[]");
    ck_assert_int_eq(cnnrt_shape_count(3, s, &c), 0);
    ck_assert_uint_eq(c, 30);
    s[1] = INT64_MAX;
    ck_assert_int_eq(cnnrt_shape_count(3, s, &c), -1);
    s[1] = -1;
    ck_assert_int_eq(cnnrt_shape_count(3, s, &c), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_add_test(tc, reads_float32_matrix);
    tcase_add_test(tc, reads_versions_2_and_3);
    tcase_add_test(tc, reads_other_dtypes);
    tcase_add_test(tc, reads_scalar_empty_and_big_endian);
    tcase_add_test(tc, rejects_fortran_order);
    tcase_add_test(tc, writes_what_numpy_writes);
    tcase_add_test(tc, round_trips_every_dtype);
    tcase_add_test(tc, rejects_corrupt_files);
    tcase_add_test(tc, missing_file_is_named);
    tcase_add_test(tc, atomic_write_keeps_old_file_on_failure);
    tcase_add_test(tc, atomic_write_removes_stale_temps);
    tcase_add_test(tc, shape_strings);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
