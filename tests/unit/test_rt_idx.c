/* test_rt_idx.c - idx files (plain and gzip), MNIST-style directories,
 * CIFAR-10 binary batches and the data set checks against a model. */
#include <sys/stat.h>
#include <zlib.h>

#include "rt_test_util.h"
#include "cnnrt_dist.h"

static char err[CNNRT_ERR_MAX];

/* An idx file of unsigned bytes with dims, data = start, start+1, ... */
static void write_idx(const char *path, int gz, int ndims, const uint32_t *dims,
                      unsigned start, size_t extra)
{
    unsigned char buf[4096];
    size_t n = 4, count = 1;
    buf[0] = buf[1] = 0;
    buf[2] = 0x08;
    buf[3] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++) {
        buf[n++] = (unsigned char)(dims[i] >> 24);
        buf[n++] = (unsigned char)(dims[i] >> 16);
        buf[n++] = (unsigned char)(dims[i] >> 8);
        buf[n++] = (unsigned char)dims[i];
        count *= dims[i];
    }
    for (size_t i = 0; i < count + extra; i++)
        buf[n++] = (unsigned char)(start + i);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(gzwrite(g, buf, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(g), Z_OK);
    } else {
        spit(path, buf, n);
    }
}

static const uint32_t img_dims[3] = {3, 2, 4};     /* 3 images of 2x4 */
static const uint32_t lbl_dims[1] = {3};

/* A complete MNIST-style directory: train plain, t10k gzipped. */
static const char *mnist_dir(void)
{
    const char *dir = temp_dir();
    write_idx(path_in(dir, "train-images-idx3-ubyte"), 0, 3, img_dims, 0, 0);
    write_idx(path_in(dir, "train-labels-idx1-ubyte"), 0, 1, lbl_dims, 2, 0);
    write_idx(path_in(dir, "t10k-images-idx3-ubyte.gz"), 1, 3, img_dims, 100, 0);
    write_idx(path_in(dir, "t10k-labels-idx1-ubyte.gz"), 1, 1, lbl_dims, 0, 0);
    return dir;
}

START_TEST(reads_plain_and_gzipped_idx)
{
    const char *dir = temp_dir();
    for (int gz = 0; gz < 2; gz++) {
        const char *p = path_in(dir, gz ? "i.gz" : "i");
        cnnrt_tensor t;
        write_idx(p, gz, 3, img_dims, 250, 0);
        ck_assert_msg(cnnrt_idx_read(p, &t, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(t.dtype, CNNRT_U8);
        ck_assert_int_eq(t.rank, 3);
        ck_assert_int_eq(t.shape[0], 3);
        ck_assert_int_eq(t.shape[1], 2);
        ck_assert_int_eq(t.shape[2], 4);
        ck_assert_int_eq(((uint8_t *)t.data)[0], 250);
        ck_assert_int_eq(((uint8_t *)t.data)[6], 0);      /* 256 wraps */
        ck_assert_int_eq(((uint8_t *)t.data)[23], 17);
        cnnrt_tensor_free(&t);
    }
}
END_TEST

START_TEST(rejects_bad_idx)
{
    const char *dir = temp_dir(), *p = path_in(dir, "bad");
    unsigned char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char floats[8] = {0, 0, 0x0d, 1, 0, 0, 0, 1};
    cnnrt_tensor t;

    spit(p, junk, sizeof junk);
    ck_assert_int_eq(cnnrt_idx_read(p, &t, err, sizeof err), -1);
    ck_assert_err_has(err, "bad: not an idx file (bad magic");

    spit(p, floats, sizeof floats);
    ck_assert_int_eq(cnnrt_idx_read(p, &t, err, sizeof err), -1);
    ck_assert_err_has(err, "unsupported idx data type 0x0d");

    write_idx(p, 0, 3, img_dims, 0, 0);
    ck_assert_int_eq(truncate(p, 4 + 12 + 23), 0);
    ck_assert_int_eq(cnnrt_idx_read(p, &t, err, sizeof err), -1);
    ck_assert_err_has(err, "bad: truncated: dimensions [3, 2, 4] need 24 bytes");

    write_idx(p, 1, 3, img_dims, 0, 0);        /* a gzip stream cut short */
    ck_assert_int_eq(truncate(p, 20), 0);
    ck_assert_int_eq(cnnrt_idx_read(p, &t, err, sizeof err), -1);
    ck_assert_err_has(err, "bad:");

    write_idx(p, 0, 3, img_dims, 0, 5);
    ck_assert_int_eq(cnnrt_idx_read(p, &t, err, sizeof err), -1);
    ck_assert_err_has(err, "unexpected data after");

    ck_assert_int_eq(cnnrt_idx_read(path_in(dir, "missing"), &t, err, sizeof err), -1);
    ck_assert_err_has(err, "missing: cannot open");
}
END_TEST

/* The header announces [d0, d1, d2] and n data bytes follow (byte i = i % 251). */
static void write_claim(const char *path, const uint32_t dims[3], size_t n)
{
    size_t len = 16 + n;
    unsigned char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    buf[0] = buf[1] = 0;
    buf[2] = 0x08;
    buf[3] = 3;
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < 4; b++)
            buf[4 + 4 * i + b] = (unsigned char)(dims[i] >> (24 - 8 * b));
    for (size_t i = 0; i < n; i++)
        buf[16 + i] = (unsigned char)(i % 251);
    spit(path, buf, len);
    free(buf);
}

/* Found by fuzz_idx: a 40-byte file announcing 2.6 GB made the reader
 * allocate it all before reading.  Data is now read as it arrives, so a lie
 * is "truncated", and a real file larger than the first 1 MiB block reads
 * whole. */
START_TEST(size_claims_are_not_trusted)
{
    const char *p = path_in(temp_dir(), "claim");
    const uint32_t huge[3] = {65535, 65535, 65535}, big[3] = {3, 1024, 1024};
    cnnrt_tensor t;

    write_claim(p, huge, 8);
    ck_assert_int_eq(cnnrt_idx_read(p, &t, err, sizeof err), -1);
    ck_assert_err_has(err, "claim: truncated: dimensions [65535, 65535, 65535] need "
                      "281462092005375 bytes of data, the file has 8");

    write_claim(p, big, (2u << 20) + 5);
    ck_assert_int_eq(cnnrt_idx_read(p, &t, err, sizeof err), -1);
    ck_assert_err_has(err, "need 3145728 bytes of data, the file has 2097157");

    write_claim(p, big, 3u << 20);
    ck_assert_msg(cnnrt_idx_read(p, &t, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(t.count, 3u << 20);
    ck_assert_int_eq(((uint8_t *)t.data)[(3u << 20) - 1], ((3u << 20) - 1) % 251);
    ck_assert_int_eq(((uint8_t *)t.data)[1u << 20], (1u << 20) % 251);
    cnnrt_tensor_free(&t);
}
END_TEST

START_TEST(loads_mnist_directory)
{
    const char *dir = mnist_dir(), *format = NULL;
    cnnrt_dataset tr, te;
    float x[16];
    int32_t y[2];
    int64_t order[3] = {2, 0, 1};
    ck_assert_msg(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(format, "idx");
    ck_assert_int_eq(tr.n, 3);
    ck_assert_int_eq(tr.rank, 3);
    ck_assert_int_eq(tr.shape[0], 1);
    ck_assert_int_eq(tr.shape[1], 2);
    ck_assert_int_eq(tr.shape[2], 4);
    ck_assert_uint_eq(tr.sample_size, 8);
    ck_assert_int_eq(tr.labels[0], 2);
    ck_assert_int_eq(tr.labels[2], 4);
    cnnrt_dataset_gather(&tr, order, 0, 2, x, y);     /* samples 2 then 0 */
    ck_assert_float_eq(x[0], 16 / 255.0f);
    ck_assert_float_eq(x[8], 0.0f);
    ck_assert_float_eq(x[15], 7 / 255.0f);
    ck_assert_int_eq(y[0], 4);
    ck_assert_int_eq(y[1], 2);
    cnnrt_dataset_gather(&te, NULL, 1, 1, x, y);      /* gzipped t10k */
    ck_assert_float_eq(x[0], 108 / 255.0f);
    ck_assert_int_eq(y[0], 1);
    cnnrt_dataset_free(&tr);
    cnnrt_dataset_free(&te);
}
END_TEST

/* Under MPI a rank reads records by index (cnnrt_source_read): in the
 * order asked, from plain and gzipped files alike. */
START_TEST(reads_records_by_index)
{
    const char *dir = mnist_dir();
    cnnrt_data_files f;
    cnnrt_source src;
    cnnrt_dataset ds;
    int64_t index[2] = {2, 0};
    uint64_t keys[2];
    ck_assert_msg(cnnrt_data_find(dir, &f, err, sizeof err) == 0, "%s", err);
    for (int test = 0; test <= 1; test++) {       /* train plain, t10k gzipped */
        unsigned start = test ? 100 : 0;
        ck_assert_msg(cnnrt_source_open(&f, test, &src, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(src.n, 3);
        ck_assert_uint_eq(src.sample_size, 8);
        ck_assert_int_eq(cnnrt_source_alloc(&src, 2, &ds), 0);
        ck_assert_msg(cnnrt_source_read(&src, index, 2, keys, &ds, err, sizeof err) == 0, "%s",
                      err);
        ck_assert_int_eq(ds.n, 2);
        ck_assert_int_eq(src.records_read, 2);
        for (int i = 0; i < 8; i++) {             /* image k holds start + 8k + i */
            ck_assert_uint_eq(ds.pixels[i], start + 16 + i);
            ck_assert_uint_eq(ds.pixels[8 + i], start + i);
        }
        ck_assert_int_eq(ds.labels[0], test ? 2 : 4);     /* labels start, start + 1, .. */
        ck_assert_int_eq(ds.labels[1], test ? 0 : 2);
        cnnrt_dataset_free(&ds);
    }
}
END_TEST

START_TEST(incomplete_or_mismatched_mnist)
{
    const char *dir = mnist_dir(), *format;
    uint32_t two[1] = {2};
    cnnrt_dataset tr, te;
    unlink(path_in(dir, "t10k-labels-idx1-ubyte.gz"));
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, "t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz) is missing");
    write_idx(path_in(dir, "t10k-labels-idx1-ubyte"), 0, 1, two, 0, 0);
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, "t10k-labels-idx1-ubyte: expected labels [3]");
}
END_TEST

/* A minimal model for the checks: input [1, 2, 4] (or flat [8]), k outputs. */
static cnnrt_model check_model(int flat, int classes)
{
    cnnrt_model m;
    memset(&m, 0, sizeof m);
    m.name = "m";
    if (flat) {
        m.in_rank = 1;
        m.in_shape[0] = 8;
    } else {
        m.in_rank = 3;
        m.in_shape[0] = 1;
        m.in_shape[1] = 2;
        m.in_shape[2] = 4;
    }
    m.in_size = 8;
    m.out_rank = 1;
    m.out_shape[0] = classes;
    m.out_size = (size_t)classes;
    return m;
}

START_TEST(checks_shape_and_label_range)
{
    const char *dir = mnist_dir(), *format;
    cnnrt_dataset tr, te;
    cnnrt_model m = check_model(0, 10), flat = check_model(1, 10), few = check_model(0, 4);
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), 0);
    ck_assert_int_eq(cnnrt_dataset_check(&tr, &m, err, sizeof err), 0);
    ck_assert_int_eq(cnnrt_dataset_check(&tr, &flat, err, sizeof err), 0);
    ck_assert_int_eq(cnnrt_dataset_check(&tr, &few, err, sizeof err), -1);
    ck_assert_err_has(err, "train-labels-idx1-ubyte: label 4 of sample 2 is out of range");
    m.in_shape[0] = 3;
    ck_assert_int_eq(cnnrt_dataset_check(&tr, &m, err, sizeof err), -1);
    ck_assert_err_has(err, "images are [1, 2, 4] but the model m expects input [3, 2, 4]");
    cnnrt_dataset_free(&tr);
    cnnrt_dataset_free(&te);
}
END_TEST

/* CIFAR-10 records: label, then R, G, B planes of 32x32; pixel value
 * (plane * 7 + row * 3 + col + record) mod 256. */
static void write_cifar(const char *path, int records, int first_label)
{
    unsigned char *b = malloc((size_t)records * 3073);
    for (int r = 0; r < records; r++) {
        unsigned char *rec = b + r * 3073;
        rec[0] = (unsigned char)(first_label + r);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    rec[1 + c * 1024 + y * 32 + x] = (unsigned char)(c * 7 + y * 3 + x + r);
    }
    spit(path, b, (size_t)records * 3073);
    free(b);
}

START_TEST(loads_cifar10_batches)
{
    const char *dir = temp_dir(), *format = NULL;
    cnnrt_dataset tr, te;
    float *x = malloc(2 * 3072 * sizeof *x);
    int32_t y[2];
    mkdir(path_in(dir, "cifar-10-batches-bin"), 0755);
    write_cifar(path_in(dir, "cifar-10-batches-bin/data_batch_1.bin"), 2, 3);
    write_cifar(path_in(dir, "cifar-10-batches-bin/data_batch_2.bin"), 1, 9);
    write_cifar(path_in(dir, "cifar-10-batches-bin/test_batch.bin"), 1, 0);
    ck_assert_msg(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(format, "cifar10");
    ck_assert_int_eq(tr.n, 3);
    ck_assert_int_eq(te.n, 1);
    ck_assert_int_eq(tr.shape[0], 3);
    ck_assert_int_eq(tr.shape[1], 32);
    ck_assert_int_eq(tr.shape[2], 32);
    ck_assert_int_eq(tr.labels[1], 4);
    ck_assert_int_eq(tr.labels[2], 9);
    cnnrt_dataset_gather(&tr, NULL, 1, 2, x, y);
    ck_assert_int_eq(y[0], 4);
    ck_assert_int_eq(y[1], 9);
    /* record 1: G plane (c=1), row 2, column 5 */
    ck_assert_float_eq(x[1024 + 2 * 32 + 5], (7 + 6 + 5 + 1) / 255.0f);
    /* record 2 (from data_batch_2, its record 0): B plane, row 31, col 31 */
    ck_assert_float_eq(x[3072 + 2048 + 31 * 32 + 31], (unsigned char)(14 + 93 + 31) / 255.0f);
    cnnrt_dataset_free(&tr);
    cnnrt_dataset_free(&te);
    free(x);
}
END_TEST

START_TEST(rejects_bad_cifar)
{
    const char *dir = temp_dir(), *format;
    cnnrt_dataset tr, te;
    cnnrt_model m = check_model(0, 10);
    write_cifar(path_in(dir, "data_batch_1.bin"), 1, 0);
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, "CIFAR-10 data set incomplete");
    write_cifar(path_in(dir, "test_batch.bin"), 1, 12);
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, "test_batch.bin: record 0 has label 12");
    write_cifar(path_in(dir, "test_batch.bin"), 1, 1);
    ck_assert_int_eq(truncate(path_in(dir, "data_batch_1.bin"), 3000), 0);
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, "data_batch_1.bin: size 3000 is not a positive multiple of 3073");
    write_cifar(path_in(dir, "data_batch_1.bin"), 1, 0);
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), 0);
    ck_assert_int_eq(cnnrt_dataset_check(&tr, &m, err, sizeof err), -1);
    ck_assert_err_has(err, "images are [3, 32, 32] but the model m expects input [1, 2, 4]");
    cnnrt_dataset_free(&tr);
    cnnrt_dataset_free(&te);
}
END_TEST

START_TEST(no_data_set_found)
{
    const char *dir = temp_dir(), *format;
    cnnrt_dataset tr, te;
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, "no data set found");
    ck_assert_err_has(err, "train-images-idx3-ubyte");
    ck_assert_err_has(err, "data_batch_1.bin");
    ck_assert_int_eq(cnnrt_data_load(path_in(dir, "nothing"), &tr, &te, &format, err,
                                     sizeof err), -1);
    ck_assert_err_has(err, "nothing: not a directory");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_add_test(tc, reads_plain_and_gzipped_idx);
    tcase_add_test(tc, rejects_bad_idx);
    tcase_add_test(tc, size_claims_are_not_trusted);
    tcase_add_test(tc, loads_mnist_directory);
    tcase_add_test(tc, reads_records_by_index);
    tcase_add_test(tc, incomplete_or_mismatched_mnist);
    tcase_add_test(tc, checks_shape_and_label_range);
    tcase_add_test(tc, loads_cifar10_batches);
    tcase_add_test(tc, rejects_bad_cifar);
    tcase_add_test(tc, no_data_set_found);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
