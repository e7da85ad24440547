/* test_rt_npz.c - .npz archives: numpy.savez (stored entries with Zip64
 * extras) and numpy.savez_compressed (deflated) fixtures, our writer,
 * CRC-32 checks and truncation. */
#include "rt_test_util.h"

static char err[CNNRT_ERR_MAX];

START_TEST(reads_numpy_savez)
{
    cnnrt_npz z;
    const cnnrt_tensor *w, *b, *loss, *labels;
    ck_assert_msg(cnnrt_npz_read(fixture("savez.npz"), &z, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(z.n, 4);
    w = cnnrt_npz_get(&z, "c1.weight");
    b = cnnrt_npz_get(&z, "c1.bias");
    loss = cnnrt_npz_get(&z, "loss");
    labels = cnnrt_npz_get(&z, "labels");
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(loss);
    ck_assert_ptr_nonnull(labels);
    ck_assert_ptr_null(cnnrt_npz_get(&z, "c1.weight.npy"));
    ck_assert_int_eq(w->rank, 4);
    ck_assert_int_eq(w->shape[1], 3);
    for (int i = 0; i < 24; i++)
        ck_assert_float_eq(((float *)w->data)[i], i / 8.0f);
    ck_assert_float_eq(((float *)b->data)[1], -0.5f);
    ck_assert_int_eq(loss->rank, 0);
    ck_assert_float_eq(((float *)loss->data)[0], 2.5f);
    ck_assert_int_eq(labels->dtype, CNNRT_I64);
    ck_assert_int_eq(((int64_t *)labels->data)[2], 3);
    cnnrt_npz_free(&z);
}
END_TEST

START_TEST(reads_numpy_savez_compressed)
{
    cnnrt_npz z;
    const cnnrt_tensor *a, *b;
    ck_assert_msg(cnnrt_npz_read(fixture("savez_compressed.npz"), &z, err, sizeof err) == 0,
                  "%s", err);
    a = cnnrt_npz_get(&z, "a");
    b = cnnrt_npz_get(&z, "b");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(a->shape[0], 10);
    ck_assert_float_eq(((float *)a->data)[0], 0.0f);
    ck_assert_float_eq_tol(((float *)a->data)[1], 1 / 99.0f, 1e-7f);
    ck_assert_float_eq(((float *)a->data)[99], 1.0f);
    ck_assert_int_eq(((int32_t *)b->data)[0], 7);
    ck_assert_int_eq(((int32_t *)b->data)[2], 9);
    cnnrt_npz_free(&z);
}
END_TEST

START_TEST(round_trip_and_deterministic_bytes)
{
    const char *dir = temp_dir();
    float w[6] = {1, 2, 3, 4, 5, 6}, loss = 0.25f;
    int64_t ws[2] = {3, 2}, four = 4;
    uint64_t rng[4] = {1, 2, 3, UINT64_MAX};
    cnnrt_npz_item items[3] = {
        {"fc.weight", cnnrt_tensor_view(CNNRT_F32, 2, ws, w)},
        {"loss", cnnrt_tensor_view(CNNRT_F32, 0, NULL, &loss)},
        {"_rng", cnnrt_tensor_view(CNNRT_U64, 1, &four, rng)},
    };
    cnnrt_npz z;
    size_t n1, n2;
    unsigned char *f1, *f2;
    ck_assert_msg(cnnrt_npz_write(path_in(dir, "a.npz"), items, 3, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_int_eq(cnnrt_npz_write(path_in(dir, "b.npz"), items, 3, err, sizeof err), 0);
    f1 = slurp(path_in(dir, "a.npz"), &n1);
    f2 = slurp(path_in(dir, "b.npz"), &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(f1, f2, n1);
    ck_assert_msg(cnnrt_npz_read(path_in(dir, "a.npz"), &z, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(z.n, 3);
    ck_assert_str_eq(z.names[0], "fc.weight");
    ck_assert(cnnrt_shape_eq(z.arrays[0].rank, z.arrays[0].shape, 2, ws));
    ck_assert_mem_eq(z.arrays[0].data, w, sizeof w);
    ck_assert_int_eq(z.arrays[1].rank, 0);
    ck_assert_float_eq(((float *)z.arrays[1].data)[0], 0.25f);
    ck_assert_int_eq(z.arrays[2].dtype, CNNRT_U64);
    ck_assert_mem_eq(z.arrays[2].data, rng, sizeof rng);
    cnnrt_npz_free(&z);
    ck_assert_int_eq(dir_entries(dir), 2);
    free(f1);
    free(f2);
}
END_TEST

START_TEST(empty_archive)
{
    const char *dir = temp_dir();
    cnnrt_npz z;
    ck_assert_int_eq(cnnrt_npz_write(path_in(dir, "e.npz"), NULL, 0, err, sizeof err), 0);
    ck_assert_msg(cnnrt_npz_read(path_in(dir, "e.npz"), &z, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(z.n, 0);
    cnnrt_npz_free(&z);
}
END_TEST

static int parse_modified(const char *name, size_t at, int delta, size_t cut, cnnrt_npz *z)
{
    size_t len;
    unsigned char *b = slurp(fixture(name), &len);
    int rc;
    if (at < len)
        b[at] = (unsigned char)(b[at] + delta);
    rc = cnnrt_npz_parse(b, len - cut, name, z, err, sizeof err);
    free(b);
    return rc;
}

START_TEST(crc_catches_a_flipped_byte)
{
    cnnrt_npz z;
    /* savez.npz: local header 30 + name 13 + Zip64 extra 20, npy header 128,
     * so byte 200 is inside the data of c1.weight */
    ck_assert_int_eq(parse_modified("savez.npz", 200, 1, 0, &z), -1);
    ck_assert_err_has(err, "savez.npz");
    ck_assert_err_has(err, "'c1.weight.npy'");
    ck_assert_err_has(err, "CRC-32 mismatch");
    ck_assert_int_eq(z.n, 0);
}
END_TEST

START_TEST(corrupt_deflate_is_reported)
{
    cnnrt_npz z;
    ck_assert_int_eq(parse_modified("savez_compressed.npz", 100, 0x55, 0, &z), -1);
    ck_assert_err_has(err, "savez_compressed.npz: entry 'a.npy'");
}
END_TEST

START_TEST(truncated_and_foreign_files)
{
    cnnrt_npz z;
    ck_assert_int_eq(parse_modified("savez.npz", 0, 0, 300, &z), -1);
    ck_assert_err_has(err, "savez.npz: not a .npz file");
    ck_assert_int_eq(parse_modified("savez.npz", 0, 0, 1130, &z), -1);
    ck_assert_err_has(err, "too short");
    ck_assert_int_eq(cnnrt_npz_read(fixture("f4_2x3.npy"), &z, err, sizeof err), -1);
    ck_assert_err_has(err, "this is a .npy file");
    ck_assert_int_eq(cnnrt_npz_read(fixture("nope.npz"), &z, err, sizeof err), -1);
    ck_assert_err_has(err, "nope.npz: cannot open");
}
END_TEST

START_TEST(central_directory_offset_out_of_range)
{
    size_t len;
    unsigned char *b = slurp(fixture("savez.npz"), &len);
    cnnrt_npz z;
    b[len - 22 + 16] = 0xff;          /* EOCD: central directory offset */
    b[len - 22 + 17] = 0xff;
    ck_assert_int_eq(cnnrt_npz_parse(b, len, "x.npz", &z, err, sizeof err), -1);
    ck_assert_err_has(err, "x.npz: corrupt");
    free(b);
}
END_TEST

START_TEST(duplicate_names_are_rejected)
{
    const char *dir = temp_dir();
    float v = 1;
    cnnrt_npz_item items[2] = {
        {"a", cnnrt_tensor_view(CNNRT_F32, 0, NULL, &v)},
        {"a", cnnrt_tensor_view(CNNRT_F32, 0, NULL, &v)},
    };
    cnnrt_npz z;
    ck_assert_int_eq(cnnrt_npz_write(path_in(dir, "d.npz"), items, 2, err, sizeof err), 0);
    ck_assert_int_eq(cnnrt_npz_read(path_in(dir, "d.npz"), &z, err, sizeof err), -1);
    ck_assert_err_has(err, "duplicate entry 'a'");
}
END_TEST

START_TEST(failed_write_leaves_nothing)
{
    const char *dir = temp_dir();
    float v = 1;
    cnnrt_npz_item it = {"a", cnnrt_tensor_view(CNNRT_F32, 0, NULL, &v)};
    ck_assert_int_eq(cnnrt_npz_write(path_in(dir, "sub/d.npz"), &it, 1, err, sizeof err), -1);
    ck_assert_err_has(err, "sub/d.npz");
    ck_assert_int_eq(dir_entries(dir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npz");
    TCase *tc = tcase_create("npz");
    tcase_add_test(tc, reads_numpy_savez);
    tcase_add_test(tc, reads_numpy_savez_compressed);
    tcase_add_test(tc, round_trip_and_deterministic_bytes);
    tcase_add_test(tc, empty_archive);
    tcase_add_test(tc, crc_catches_a_flipped_byte);
    tcase_add_test(tc, corrupt_deflate_is_reported);
    tcase_add_test(tc, truncated_and_foreign_files);
    tcase_add_test(tc, central_directory_offset_out_of_range);
    tcase_add_test(tc, duplicate_names_are_rejected);
    tcase_add_test(tc, failed_write_leaves_nothing);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
