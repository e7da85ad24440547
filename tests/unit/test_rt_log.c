/* test_rt_log.c - train --log rows (cnnrt_log.c) and the --plot picture
 * (cnnrt_plot.c), driven with known losses and counts. */
#include <math.h>

#include "rt_test_util.h"

static char err[CNNRT_ERR_MAX];

/* The CSV's lines (without the newline) into lines[]; returns the count. */
static int read_lines(const char *path, char lines[][160], int max)
{
    FILE *f = fopen(path, "r");
    int n = 0;
    ck_assert_ptr_nonnull(f);
    while (n < max && fgets(lines[n], 160, f)) {
        lines[n][strcspn(lines[n], "\n")] = 0;
        n++;
    }
    fclose(f);
    return n;
}

/* Everything of a CSV row but the last two fields (images/s, seconds: time). */
static const char *cut_times(char *line)
{
    for (int k = 0; k < 2; k++)
        *strrchr(line, ',') = 0;
    return line;
}

/* One epoch of 5 steps of 10 samples (losses 1..5, 7 right each), rows
 * every 2 steps; the 5th step ends the epoch. */
START_TEST(csv_rows_every_n_steps_and_per_epoch)
{
    const char *dir = temp_dir(), *csv = path_in(dir, "log.csv");
    char lines[16][160];
    cnnrt_log lg;
    ck_assert_msg(cnnrt_log_open(&lg, csv, NULL, 2, 5, err, sizeof err) == 0, "%s", err);
    cnnrt_log_start(&lg, 0);
    for (int s = 1; s <= 5; s++)
        ck_assert_int_eq(cnnrt_log_step(&lg, 1, 10, s, 7, s == 5, err, sizeof err), 0);
    ck_assert_int_eq(cnnrt_log_epoch(&lg, 1, 3.0, 0.7, 0.65, 1000, err, sizeof err), 0);
    for (int s = 6; s <= 7; s++)              /* epoch 2: a step row at 6 */
        ck_assert_int_eq(cnnrt_log_step(&lg, 2, 4, 0.5, 1, 0, err, sizeof err), 0);
    cnnrt_log_close(&lg);
    ck_assert_int_eq(read_lines(csv, lines, 16), 5);
    ck_assert_str_eq(lines[0], "step,epoch,loss,train_acc,test_acc,images_per_s,seconds");
    ck_assert_str_eq(cut_times(lines[1]), "2,1,1.500000,0.700000,");    /* steps 1-2 */
    ck_assert_str_eq(cut_times(lines[2]), "4,1,3.500000,0.700000,");    /* steps 3-4 */
    ck_assert_str_eq(cut_times(lines[3]), "5,1,3.000000,0.700000,0.650000");  /* no row 5 */
    ck_assert_str_eq(cut_times(lines[4]), "6,2,0.500000,0.250000,");   /* step 6 only */
}
END_TEST

/* Not measured: empty fields; epochs only without --log-every. */
START_TEST(csv_empty_fields_and_epochs_only)
{
    const char *dir = temp_dir(), *csv = path_in(dir, "log.csv");
    char lines[8][160];
    cnnrt_log lg;
    ck_assert_int_eq(cnnrt_log_open(&lg, csv, NULL, 0, 100, err, sizeof err), 0);
    cnnrt_log_start(&lg, 300);                /* resumed after 3 epochs of 100 */
    for (int s = 1; s <= 100; s++)
        ck_assert_int_eq(cnnrt_log_step(&lg, 4, 8, 1.0, -1, s == 100, err, sizeof err), 0);
    ck_assert_int_eq(cnnrt_log_epoch(&lg, 4, 1.0, NAN, NAN, NAN, err, sizeof err), 0);
    cnnrt_log_close(&lg);
    ck_assert_int_eq(read_lines(csv, lines, 8), 2);
    ck_assert_int_eq(strncmp(lines[1], "400,4,1.000000,,,,", 18), 0);   /* step 300+100 */
    ck_assert_uint_gt(strlen(lines[1]), 18);                             /* seconds */
}
END_TEST

START_TEST(csv_unwritable_is_an_error)
{
    cnnrt_log lg;
    ck_assert_int_eq(cnnrt_log_open(&lg, "/nonexistent-dir/log.csv", NULL, 0, 1, err,
                                    sizeof err), -1);
    ck_assert_err_has(err, "/nonexistent-dir/log.csv: cannot create");
}
END_TEST

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Two epochs of 40 steps, rows every 10: losses 2.3 falling, the plot's
 * ticks, labels, legend and curves. */
START_TEST(plot_axes_legend_and_curves)
{
    const char *dir = temp_dir(), *svg = path_in(dir, "p.svg");
    cnnrt_log_row rows[8];
    size_t len;
    char *text;
    for (int i = 0; i < 8; i++) {
        int end = i == 3 || i == 7;
        rows[i] = (cnnrt_log_row){10 * (i + 1), i / 4 + 1, end, 2.3 - 0.25 * i, 0.1 * i,
                                  end ? 0.1 * i + 0.05 : NAN, 1000, i};
    }
    ck_assert_msg(cnnrt_plot_write(svg, rows, 8, 10, "net on <data> & more", "batch 32", err,
                                   sizeof err) == 0, "%s", err);
    text = (char *)slurp(svg, &len);
    text = realloc(text, len + 1);
    text[len] = 0;
    ck_assert_int_eq(strncmp(text, "<?xml version=\"1.0\"", 19), 0);
    ck_assert_ptr_nonnull(strstr(text, "</svg>\n"));
    ck_assert_ptr_nonnull(strstr(text, ">net on &lt;data&gt; &amp; more</text>"));
    /* loss ticks 0, 0.5, .. 2.5 (max 2.3); steps 0, 20, .. 80; 0%..100% */
    ck_assert_ptr_nonnull(strstr(text, ">2.5</text>"));
    ck_assert_ptr_null(strstr(text, ">3</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">80</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">60%</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">training loss, every 10 steps</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">test accuracy, after each epoch</text>"));
    ck_assert_ptr_nonnull(strstr(text, ">optimizer steps"));
    ck_assert_int_eq(count(text, "<polyline"), 5);
    ck_assert_int_eq(count(text, "<circle"), 2 * 3 + 3);    /* epoch dots + legend */
    ck_assert_int_eq(count(text, "stroke-dasharray"), 2 * 2);  /* 2 epoch ends, 2 panels */
    free(text);
}
END_TEST

/* Epoch rows only (no --log-every), one of them: still a valid picture,
 * without the every-N-steps legend entries. */
START_TEST(plot_one_epoch_row)
{
    const char *dir = temp_dir(), *svg = path_in(dir, "p.svg");
    cnnrt_log_row r = {1, 1, 1, 0.0, 0.5, NAN, NAN, 0.1};
    size_t len;
    char *text;
    ck_assert_int_eq(cnnrt_plot_write(svg, &r, 1, 0, "t", "s", err, sizeof err), 0);
    text = (char *)slurp(svg, &len);
    text = realloc(text, len + 1);
    text[len] = 0;
    ck_assert_ptr_null(strstr(text, "every"));
    ck_assert_ptr_null(strstr(text, "nan"));
    ck_assert_ptr_null(strstr(text, "inf"));
    ck_assert_ptr_nonnull(strstr(text, "</svg>"));
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, csv_rows_every_n_steps_and_per_epoch);
    tcase_add_test(tc, csv_empty_fields_and_epochs_only);
    tcase_add_test(tc, csv_unwritable_is_an_error);
    tcase_add_test(tc, plot_axes_legend_and_curves);
    tcase_add_test(tc, plot_one_epoch_row);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
