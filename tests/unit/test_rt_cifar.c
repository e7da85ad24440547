/* test_rt_cifar.c - the CIFAR-10 binary reader against the published
 * layout (https://www.cs.toronto.edu/~kriz/cifar.html): data_batch_1.bin ..
 * data_batch_5.bin and test_batch.bin, each a run of 3073-byte records:
 * 1 label byte, then 1024 red, 1024 green, 1024 blue bytes, each plane the
 * 32 rows of a 32x32 image in order, left to right.  The files are written
 * here byte by byte from that description, then every pixel and label read
 * back (through cnnrt_data_load and cnnrt_dataset_gather, as training
 * sees them: [N, 3, 32, 32] floats, channel, row, column) is checked.
 *
 * Two pixel patterns pin the order down: ROWS gives byte c*80 + y (the
 * channel and row), COLS gives x*8 + c (the column and channel); each is
 * distinct for distinct (channel, row) / (column, channel), so a reader
 * that swaps channels, flips or transposes rows, or interleaves RGB (HWC)
 * fails on one of them. */
#include <sys/stat.h>

#include "rt_test_util.h"
#include "cnnrt_dist.h"

static char err[CNNRT_ERR_MAX];

enum { REC = 3073, PLANE = 1024 };
enum pattern { ROWS, COLS };

static unsigned char pixel(enum pattern p, int c, int y, int x)
{
    return (unsigned char)(p == ROWS ? c * 80 + y : x * 8 + c);
}

/* The record's label is label0 + r (mod 10) for record r of the file. */
static void write_batch(const char *path, int records, int label0, enum pattern p)
{
    unsigned char *b = malloc((size_t)records * REC);
    ck_assert_ptr_nonnull(b);
    for (int r = 0; r < records; r++) {
        unsigned char *rec = b + (size_t)r * REC;
        rec[0] = (unsigned char)((label0 + r) % 10);
        for (int c = 0; c < 3; c++)            /* R, G, B planes */
            for (int y = 0; y < 32; y++)       /* rows, top first */
                for (int x = 0; x < 32; x++)
                    rec[1 + c * PLANE + y * 32 + x] = pixel(p, c, y, x);
    }
    spit(path, b, (size_t)records * REC);
    free(b);
}

/* Every value of sample i of x ([n, 3, 32, 32] floats) is pattern p / 255. */
static void check_image(const float *x, int i, enum pattern p)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x_ = 0; x_ < 32; x_++) {
                float got = x[(size_t)i * 3072 + (size_t)c * PLANE + (size_t)y * 32 + x_];
                float want = pixel(p, c, y, x_) / 255.0f;
                ck_assert_msg(got == want, "sample %d channel %d row %d column %d: %g, want %g",
                              i, c, y, x_, (double)got, (double)want);
            }
}

/* All six files: batch b holds b records (15 in all), alternating patterns,
 * labels continuing from batch to batch; the test batch 4 records. */
static void write_full_set(const char *dir)
{
    int label = 0;
    for (int b = 1; b <= 5; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b);
        write_batch(path_in(dir, name), b, label, b % 2 ? ROWS : COLS);
        label += b;
    }
    write_batch(path_in(dir, "test_batch.bin"), 4, 7, COLS);
    spit(path_in(dir, "batches.meta.txt"), "airplane\nautomobile\n", 20);
}

/* Loads dir and checks all 15 training and 4 test samples exactly. */
static void check_full_set(const char *dir)
{
    const char *format = NULL;
    cnnrt_dataset tr, te;
    float *x = malloc(15 * 3072 * sizeof *x);
    int32_t y[15];
    int i = 0;
    ck_assert_msg(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(format, "cifar10");
    ck_assert_int_eq(tr.n, 15);
    ck_assert_int_eq(te.n, 4);
    ck_assert_int_eq(tr.rank, 3);
    ck_assert_int_eq(tr.shape[0], 3);
    ck_assert_int_eq(tr.shape[1], 32);
    ck_assert_int_eq(tr.shape[2], 32);
    ck_assert_uint_eq(tr.sample_size, 3072);
    cnnrt_dataset_gather(&tr, NULL, 0, 15, x, y);
    for (int b = 1; b <= 5; b++)               /* batches in order 1..5 */
        for (int r = 0; r < b; r++, i++) {
            ck_assert_int_eq(y[i], i % 10);
            check_image(x, i, b % 2 ? ROWS : COLS);
        }
    cnnrt_dataset_gather(&te, NULL, 0, 4, x, y);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(y[i], (7 + i) % 10);
        check_image(x, i, COLS);
    }
    cnnrt_dataset_free(&tr);
    cnnrt_dataset_free(&te);
    free(x);
}

START_TEST(reads_every_pixel_in_published_order)
{
    const char *dir = temp_dir();
    write_full_set(dir);
    check_full_set(dir);
}
END_TEST

START_TEST(finds_the_archive_subdirectory)
{
    const char *dir = temp_dir();
    char sub[1024];
    snprintf(sub, sizeof sub, "%s", path_in(dir, "cifar-10-batches-bin"));
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    write_full_set(sub);
    check_full_set(dir);      /* --data DIR with the tarball unpacked in DIR */
    check_full_set(sub);
}
END_TEST

START_TEST(shuffled_gather_keeps_labels_with_images)
{
    const char *dir = temp_dir(), *format;
    cnnrt_dataset tr, te;
    float *x = malloc(3 * 3072 * sizeof *x);
    int32_t y[3];
    int64_t order[4] = {3, 0, 2, 1};
    write_batch(path_in(dir, "data_batch_1.bin"), 2, 5, ROWS);   /* labels 5, 6 */
    write_batch(path_in(dir, "data_batch_2.bin"), 2, 1, COLS);   /* labels 1, 2 */
    write_batch(path_in(dir, "test_batch.bin"), 1, 0, ROWS);
    ck_assert_msg(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err) == 0, "%s", err);
    cnnrt_dataset_gather(&tr, order, 1, 3, x, y);    /* samples 0, 2, 1 */
    ck_assert_int_eq(y[0], 5);
    ck_assert_int_eq(y[1], 1);
    ck_assert_int_eq(y[2], 6);
    check_image(x, 0, ROWS);
    check_image(x, 1, COLS);
    check_image(x, 2, ROWS);
    cnnrt_dataset_free(&tr);
    cnnrt_dataset_free(&te);
    free(x);
}
END_TEST

/* Under MPI a rank reads records by index (cnnrt_source_read): across the
 * files, in the order asked, seeking past more than 1 MiB; a file that
 * shrinks after it was opened is an error naming it. */
START_TEST(reads_records_by_index)
{
    const char *dir = temp_dir();
    cnnrt_data_files f;
    cnnrt_source src;
    cnnrt_dataset ds;
    float *x = malloc(3 * 3072 * sizeof *x);
    int64_t index[3] = {401, 0, 399};
    uint64_t keys[3];
    int32_t y[3];
    write_batch(path_in(dir, "data_batch_1.bin"), 400, 5, ROWS);  /* 1.2 MB: labels 5, 6, .. */
    write_batch(path_in(dir, "data_batch_2.bin"), 2, 1, COLS);    /* labels 1, 2 */
    write_batch(path_in(dir, "test_batch.bin"), 1, 0, ROWS);
    ck_assert_msg(cnnrt_data_find(dir, &f, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(cnnrt_source_open(&f, 0, &src, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(src.n, 402);
    ck_assert_int_eq(cnnrt_source_alloc(&src, 3, &ds), 0);
    ck_assert_msg(cnnrt_source_read(&src, index, 3, keys, &ds, err, sizeof err) == 0, "%s", err);
    cnnrt_dataset_gather(&ds, NULL, 0, 3, x, y);
    ck_assert_int_eq(y[0], 2);
    ck_assert_int_eq(y[1], 5);
    ck_assert_int_eq(y[2], (5 + 399) % 10);
    check_image(x, 0, COLS);
    check_image(x, 1, ROWS);
    check_image(x, 2, ROWS);
    spit(path_in(dir, "data_batch_2.bin"), "x", 1);
    ck_assert_int_eq(cnnrt_source_read(&src, index, 1, keys, &ds, err, sizeof err), -1);
    ck_assert_str_eq(err, path_in(dir, "data_batch_2.bin: truncated: it ends inside record 1 "
                                       "of 2"));
    cnnrt_dataset_free(&ds);
    free(x);
}
END_TEST

START_TEST(neither_format_is_a_clear_error)
{
    const char *dir = temp_dir(), *format;
    cnnrt_dataset tr, te;
    spit(path_in(dir, "readme.html"), "<html>", 6);
    spit(path_in(dir, "data_batch_1"), "x", 1);        /* no .bin: not CIFAR-10 */
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, dir);
    ck_assert_err_has(err, ": no data set found: expected MNIST/Fashion-MNIST idx files "
                           "(train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                           "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz) or "
                           "CIFAR-10 binary files (data_batch_1.bin .. data_batch_5.bin, "
                           "test_batch.bin)");
    ck_assert_ptr_null(tr.pixels);
    ck_assert_ptr_null(te.pixels);
}
END_TEST

START_TEST(test_batch_without_training_batches)
{
    const char *dir = temp_dir(), *format;
    cnnrt_dataset tr, te;
    write_batch(path_in(dir, "test_batch.bin"), 1, 0, ROWS);
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, "CIFAR-10 data set incomplete: needs data_batch_1.bin");
}
END_TEST

START_TEST(cifar100_labels_are_refused)
{
    const char *dir = temp_dir(), *format;
    cnnrt_dataset tr, te;
    unsigned char *b;
    size_t len;
    write_batch(path_in(dir, "data_batch_1.bin"), 3, 0, ROWS);
    write_batch(path_in(dir, "test_batch.bin"), 1, 0, ROWS);
    b = slurp(path_in(dir, "data_batch_1.bin"), &len);
    b[2 * REC] = 57;                                   /* record 2: label 57 */
    spit(path_in(dir, "data_batch_1.bin"), b, len);
    free(b);
    ck_assert_int_eq(cnnrt_data_load(dir, &tr, &te, &format, err, sizeof err), -1);
    ck_assert_err_has(err, "data_batch_1.bin: record 2 has label 57 (CIFAR-10 labels are 0..9)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cifar");
    TCase *tc = tcase_create("cifar");
    tcase_add_test(tc, reads_every_pixel_in_published_order);
    tcase_add_test(tc, finds_the_archive_subdirectory);
    tcase_add_test(tc, shuffled_gather_keeps_labels_with_images);
    tcase_add_test(tc, reads_records_by_index);
    tcase_add_test(tc, neither_format_is_a_clear_error);
    tcase_add_test(tc, test_batch_without_training_batches);
    tcase_add_test(tc, cifar100_labels_are_refused);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
