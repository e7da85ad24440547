/* cnnrt_log.c - train --log FILE.csv and the rows behind --plot FILE.svg.
 *
 *   step,epoch,loss,train_acc,test_acc,images_per_s,seconds
 *   50,1,1.873210,0.312500,,2410.3,1.330
 *   94,1,1.204581,0.577333,0.861000,2391.0,2.610
 *
 * A step row every N optimizer steps (--log-every N): the mean training
 * loss and accuracy of the batches since the previous row, their images/s;
 * test accuracy is not measured there (empty).  An epoch row after every
 * epoch: the epoch's mean loss and training accuracy, the test accuracy,
 * the epoch's training images/s.  A step that ends an epoch gives the epoch
 * row only, so steps strictly increase.  seconds: wall time since training
 * started.  Accuracies are fractions.  The CSV is written and flushed row
 * by row (so `tail -f` follows it; a crash leaves the rows so far); the
 * SVG is rewritten atomically after every epoch.
 */
#include "cnnrt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cnnrt_log_open(cnnrt_log *lg, const char *csv_path, const char *svg_path, int every,
                   int64_t steps_per_epoch, char *err, size_t errlen)
{
    memset(lg, 0, sizeof *lg);
    lg->csv_path = csv_path;
    lg->svg_path = svg_path;
    lg->every = every;
    lg->interval = every;
    if (!every && svg_path)
        lg->interval = steps_per_epoch >= 50 ? (int)(steps_per_epoch / 25) : 2;
    lg->correct = 0;
    if (!csv_path)
        return 0;
    lg->csv = fopen(csv_path, "w");
    if (!lg->csv)
        return cnnrt_errorf(err, errlen, "%s: cannot create: %s", csv_path, strerror(errno));
    fprintf(lg->csv, "%s\n", CNNRT_LOG_HEADER);
    if (fflush(lg->csv) != 0)
        return cnnrt_errorf(err, errlen, "%s: write failed: %s", csv_path, strerror(errno));
    return 0;
}

void cnnrt_log_start(cnnrt_log *lg, int64_t first_step)
{
    lg->step = first_step;
    lg->t0 = lg->t_mark = cnnrt_now();
}

/* A number, or nothing for NaN. */
static void field(FILE *f, const char *fmt, double v, const char *sep)
{
    if (!isnan(v))
        fprintf(f, fmt, v);
    fputs(sep, f);
}

static int write_csv(cnnrt_log *lg, const cnnrt_log_row *r, char *err, size_t errlen)
{
    if (!lg->csv)
        return 0;
    fprintf(lg->csv, "%lld,%d,", (long long)r->step, r->epoch);
    field(lg->csv, "%.6f", r->loss, ",");
    field(lg->csv, "%.6f", r->train_acc, ",");
    field(lg->csv, "%.6f", r->test_acc, ",");
    field(lg->csv, "%.1f", r->img_per_s, ",");
    field(lg->csv, "%.3f", r->seconds, "\n");
    if (fflush(lg->csv) != 0 || ferror(lg->csv))
        return cnnrt_errorf(err, errlen, "%s: write failed: %s", lg->csv_path, strerror(errno));
    return 0;
}

/* Keeps r for the plot (when there is one) and writes it to the CSV. */
static int add_row(cnnrt_log *lg, const cnnrt_log_row *r, int to_csv, char *err, size_t errlen)
{
    if (lg->svg_path) {
        if (lg->nrows == lg->cap) {
            int cap = lg->cap ? 2 * lg->cap : 256;
            cnnrt_log_row *p = realloc(lg->rows, (size_t)cap * sizeof *p);
            if (!p)
                return cnnrt_errorf(err, errlen, "%s: out of memory", lg->svg_path);
            lg->rows = p;
            lg->cap = cap;
        }
        lg->rows[lg->nrows++] = *r;
    }
    return to_csv ? write_csv(lg, r, err, errlen) : 0;
}

/* Starts a new interval at time now. */
static void reset_interval(cnnrt_log *lg, double now)
{
    lg->t_mark = now;
    lg->loss_sum = 0;
    lg->seen = 0;
    lg->correct = 0;
}

int cnnrt_log_step(cnnrt_log *lg, int epoch, int n, double loss, int64_t correct, int last,
                   char *err, size_t errlen)
{
    double now, el;
    cnnrt_log_row r;
    lg->step++;
    lg->loss_sum += loss * n;
    lg->seen += n;
    lg->correct = correct < 0 || lg->correct < 0 ? -1 : lg->correct + correct;
    if (!lg->interval || lg->step % lg->interval != 0 || last)
        return 0;
    now = cnnrt_now();
    el = now - lg->t_mark;
    r.step = lg->step;
    r.epoch = epoch;
    r.end_of_epoch = 0;
    r.loss = lg->loss_sum / (double)lg->seen;
    r.train_acc = lg->correct < 0 ? NAN : (double)lg->correct / (double)lg->seen;
    r.test_acc = NAN;
    r.img_per_s = el > 0 ? (double)lg->seen / el : NAN;
    r.seconds = now - lg->t0;
    reset_interval(lg, now);
    return add_row(lg, &r, lg->every > 0, err, errlen);
}

int cnnrt_log_epoch(cnnrt_log *lg, int epoch, double loss, double train_acc, double test_acc,
                    double img_per_s, char *err, size_t errlen)
{
    double now = cnnrt_now();
    cnnrt_log_row r = {lg->step, epoch, 1, loss, train_acc, test_acc, img_per_s, now - lg->t0};
    reset_interval(lg, now);
    if (add_row(lg, &r, 1, err, errlen) < 0)
        return -1;
    if (!lg->svg_path)
        return 0;
    return cnnrt_plot_write(lg->svg_path, lg->rows, lg->nrows, lg->interval, lg->title,
                            lg->subtitle, err, errlen);
}

void cnnrt_log_close(cnnrt_log *lg)
{
    if (lg->csv)
        fclose(lg->csv);
    free(lg->rows);
    lg->csv = NULL;
    lg->rows = NULL;
}
