/* cnnrt_train.c - the driver's data-set commands: train, eval, and bench.
 *
 * train: each epoch draws a permutation of the training set from the
 * shuffling RNG (seeded from the seed, separately from the init RNG), runs
 * train_step on consecutive batches of it (the last one partial, as torch's
 * DataLoader with drop_last=False), then evaluates on the test set.  With
 * --save, parameters, momentum, epoch and RNG are saved atomically after
 * every epoch, so --resume continues bit-identically.
 */
#include "cnnrt_cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The shuffling RNG's seed, distinct from the init RNG's for the same seed. */
#define SHUFFLE_SALT 0x53485546464c4521ull

/* Buffers for one batch (sized for `batch` samples). */
typedef struct batch_bufs {
    float *x, *targets, *out;
    int32_t *labels;
} batch_bufs;

static void bufs_free(batch_bufs *b)
{
    free(b->x);
    free(b->targets);
    free(b->out);
    free(b->labels);
}

static int bufs_alloc(const cnnrt_model *m, int batch, batch_bufs *b)
{
    memset(b, 0, sizeof *b);
    b->x = malloc((size_t)batch * m->in_size * sizeof(float));
    b->out = malloc((size_t)batch * m->out_size * sizeof(float));
    b->labels = malloc((size_t)batch * sizeof(int32_t));
    if (m->loss == CNNRT_LOSS_MSE)
        b->targets = malloc((size_t)batch * m->out_size * sizeof(float));
    if (!b->x || !b->out || !b->labels || (m->loss == CNNRT_LOSS_MSE && !b->targets)) {
        bufs_free(b);
        return -1;
    }
    return 0;
}

/* mse on a classification data set trains towards one-hot targets. */
static void one_hot(const cnnrt_model *m, const int32_t *labels, int n, float *t)
{
    memset(t, 0, (size_t)n * m->out_size * sizeof *t);
    for (int i = 0; i < n; i++)
        t[(size_t)i * m->out_size + (size_t)labels[i]] = 1.0f;
}

/* Loss (the model's, in double) and correct count of outputs out [n, out_size]. */
static void score(const cnnrt_model *m, const float *out, const int32_t *labels, int n,
                  double *loss_sum, int64_t *correct)
{
    size_t k = m->out_size;
    for (int i = 0; i < n; i++) {
        const float *z = out + (size_t)i * k;
        size_t best = cnnrt_argmax(z, k);
        *correct += best == (size_t)labels[i];
        if (m->loss == CNNRT_LOSS_MSE) {
            double s = 0;
            for (size_t c = 0; c < k; c++) {
                double d = z[c] - (c == (size_t)labels[i] ? 1.0 : 0.0);
                s += d * d;
            }
            *loss_sum += s / (double)k;
        } else {
            double s = 0;
            for (size_t c = 0; c < k; c++)
                s += exp((double)z[c] - (double)z[best]);
            *loss_sum += log(s) + (double)z[best] - (double)z[labels[i]];
        }
    }
}

/* Test-set loss and accuracy with forward() in batches of `batch`. */
static void evaluate(const cnnrt_model *m, void *ctx, const cnnrt_dataset *ds, int batch,
                     batch_bufs *b, double *loss, double *acc)
{
    double sum = 0;
    int64_t correct = 0;
    for (int64_t i = 0; i < ds->n; i += batch) {
        int n = ds->n - i < batch ? (int)(ds->n - i) : batch;
        cnnrt_dataset_gather(ds, NULL, i, n, b->x, b->labels);
        m->forward(ctx, b->x, n, b->out);
        score(m, b->out, b->labels, n, &sum, &correct);
    }
    *loss = ds->n ? sum / (double)ds->n : 0;
    *acc = ds->n ? (double)correct / (double)ds->n : 0;
}

/* Loads and checks both halves of --data. */
static int load_data(const cnnrt_model *m, const char *dir, cnnrt_dataset *train,
                     cnnrt_dataset *test, const char **format, char *err, size_t errlen)
{
    if (cnnrt_data_load(dir, train, test, format, err, errlen) < 0)
        return -1;
    if (cnnrt_dataset_check(train, m, err, errlen) < 0 ||
        cnnrt_dataset_check(test, m, err, errlen) < 0) {
        cnnrt_dataset_free(train);
        cnnrt_dataset_free(test);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ train */
typedef struct trainer {
    const cnnrt_model *m;
    const cnnrt_opts *o;
    cnnrt_hparams hp;
    cnnrt_dataset train, test;
    batch_bufs b;
    int64_t *perm;
    void *ctx;
    cnnrt_train_state st;
    int logging;                      /* --log or --plot given */
    cnnrt_log log;
    char err[CNNRT_ERR_MAX];
} trainer;

/* -1 with a message if the loss l of a step or any parameter after it is
 * not finite: the saved checkpoint stays the last good one. */
static int diverged(trainer *t, float l, int epoch, int64_t batch)
{
    const cnnrt_param_info *bad;
    int64_t at;
    float value;
    if (!isfinite(l))
        return cnnrt_errorf(t->err, sizeof t->err, "the training loss became %f at epoch %d, "
                            "batch %lld (learning rate %g too high?); stopping", (double)l,
                            epoch, (long long)batch, (double)t->hp.lr);
    bad = cnnrt_cli_nonfinite(t->m, t->m->param_block(t->ctx), &at, &value);
    if (bad)
        return cnnrt_errorf(t->err, sizeof t->err, "parameter '%s' became %f (flat index %lld) "
                            "at epoch %d, batch %lld (learning rate %g too high?); stopping",
                            bad->name, (double)value, (long long)at, epoch, (long long)batch,
                            (double)t->hp.lr);
    return 0;
}

/* One pass over the training set; -1 on a non-finite loss or parameter. */
static int train_epoch(trainer *t, int epoch, double *loss, double *acc, double *secs)
{
    const cnnrt_model *m = t->m;
    int bs = t->hp.batch;
    int64_t correct = 0;
    cnnrt_progress p;
    double t0 = cnnrt_now();

    cnnrt_rng_permutation(&t->st.rng, t->perm, t->train.n);
    cnnrt_progress_begin(&p, stdout, epoch, t->hp.epochs, t->train.n);
    for (int64_t i = 0; i < t->train.n; i += bs) {
        int n = t->train.n - i < bs ? (int)(t->train.n - i) : bs;
        float l;
        cnnrt_dataset_gather(&t->train, t->perm, i, n, t->b.x, t->b.labels);
        if (t->b.targets)
            one_hot(m, t->b.labels, n, t->b.targets);
        l = m->train_step(t->ctx, t->b.x, m->loss == CNNRT_LOSS_MSE ? NULL : t->b.labels,
                          t->b.targets, n, &t->hp);
        if (diverged(t, l, epoch, i / bs + 1) < 0) {
            cnnrt_progress_end(&p);
            return -1;
        }
        int64_t before = correct;
        if (m->output_block) {
            double unused = 0;
            score(m, m->output_block(t->ctx), t->b.labels, n, &unused, &correct);
        }
        cnnrt_progress_update(&p, n, l);
        if (t->logging && cnnrt_log_step(&t->log, epoch, n, l, m->output_block ? correct - before : -1,
                                         i + bs >= t->train.n, t->err, sizeof t->err) < 0) {
            cnnrt_progress_end(&p);
            return -1;
        }
    }
    *loss = cnnrt_progress_end(&p);
    *acc = t->train.n ? (double)correct / (double)t->train.n : 0;
    *secs = cnnrt_now() - t0;
    return 0;
}

/* Fresh parameters from the seed, or those of --resume with its state. */
static int start(trainer *t)
{
    const cnnrt_model *m = t->m;
    cnnrt_rng_seed(&t->st.rng, t->hp.seed ^ SHUFFLE_SALT);
    if (!t->o->resume) {
        cnnrt_init_params(m, t->ctx, t->hp.seed);
        return 0;
    }
    if (cnnrt_load_checkpoint(m, t->ctx, t->o->resume, &t->st, t->err, sizeof t->err) < 0)
        return -1;
    if (!t->st.has_momentum)
        memset(m->momentum_block(t->ctx), 0, m->param_count * sizeof(float));
    printf("resuming from %s after epoch %lld%s\n", t->o->resume, (long long)t->st.epoch,
           t->st.has_momentum ? "" : " (no momentum buffers: starting them at zero)");
    return 0;
}

static int64_t steps_per_epoch(const trainer *t)
{
    return (t->train.n + t->hp.batch - 1) / t->hp.batch;
}

/* --log FILE.csv [--log-every N] and --plot FILE.svg (cnnrt_log.c). */
static int open_log(trainer *t, int threads)
{
    const cnnrt_hparams *hp = &t->hp;
    t->logging = t->o->log || t->o->plot;
    if (!t->logging)
        return 0;
    if (cnnrt_log_open(&t->log, t->o->log, t->o->plot, t->o->log_every, steps_per_epoch(t),
                       t->err, sizeof t->err) < 0)
        return -1;
    snprintf(t->log.title, sizeof t->log.title, "%s on %s", t->m->name, t->o->data);
    snprintf(t->log.subtitle, sizeof t->log.subtitle, "%lld training and %lld test images; "
             "batch %d, lr %g, momentum %g, weight decay %g, seed %llu, %d thread%s",
             (long long)t->train.n, (long long)t->test.n, hp->batch, (double)hp->lr,
             (double)hp->momentum, (double)hp->weight_decay, (unsigned long long)hp->seed,
             threads, threads == 1 ? "" : "s");
    return 0;
}

static int setup(trainer *t)
{
    const cnnrt_model *m = t->m;
    const char *format = "";
    char shp[160];
    int threads = HAS(t->o, FLAG_THREADS) ? t->o->threads : cnnrt_ncores();
    if (load_data(m, t->o->data, &t->train, &t->test, &format, t->err, sizeof t->err) < 0)
        return -1;
    if (t->train.n == 0)
        return cnnrt_errorf(t->err, sizeof t->err, "%s: the training set is empty", t->o->data);
    t->perm = malloc((size_t)t->train.n * sizeof *t->perm);
    if (!t->perm || bufs_alloc(m, t->hp.batch, &t->b) < 0)
        return cnnrt_errorf(t->err, sizeof t->err, "out of memory");
    t->ctx = cnnrt_cli_context(m, t->hp.batch, threads, t->err, sizeof t->err);
    if (!t->ctx || start(t) < 0 || open_log(t, threads) < 0)
        return -1;
    printf("%s: %lld training and %lld test images %s (%s, %s); %d epoch%s, batch %d, lr %g, "
           "momentum %g, weight decay %g, seed %llu, %d thread%s\n", m->name,
           (long long)t->train.n, (long long)t->test.n,
           cnnrt_shape_str(t->train.rank, t->train.shape, shp, sizeof shp), format, t->o->data,
           t->hp.epochs, t->hp.epochs == 1 ? "" : "s", t->hp.batch, (double)t->hp.lr, (double)t->hp.momentum,
           (double)t->hp.weight_decay, (unsigned long long)t->hp.seed, threads,
           threads == 1 ? "" : "s");
    fflush(stdout);
    return 0;
}

static int run_epochs(trainer *t)
{
    const cnnrt_model *m = t->m;
    if (t->st.epoch >= t->hp.epochs) {
        printf("%s already holds %lld epochs (--epochs %d): nothing to do\n", t->o->resume,
               (long long)t->st.epoch, t->hp.epochs);
        return 0;
    }
    if (t->logging)
        cnnrt_log_start(&t->log, t->st.epoch * steps_per_epoch(t));
    for (int e = (int)t->st.epoch + 1; e <= t->hp.epochs; e++) {
        double loss = 0, acc = 0, secs = 0, tloss = 0, tacc = 0;
        if (train_epoch(t, e, &loss, &acc, &secs) < 0)
            return -1;
        evaluate(m, t->ctx, &t->test, t->hp.batch, &t->b, &tloss, &tacc);
        if (!isfinite(tloss))
            return cnnrt_errorf(t->err, sizeof t->err, "the test loss became %f after epoch %d "
                                "(outputs too large: learning rate %g too high?); stopping",
                                tloss, e, (double)t->hp.lr);
        if (t->logging &&
            cnnrt_log_epoch(&t->log, e, loss, m->output_block ? acc : NAN, t->test.n ? tacc : NAN,
                            secs > 0 ? (double)t->train.n / secs : NAN, t->err, sizeof t->err) < 0)
            return -1;
        printf("epoch %d/%d  loss %.4f", e, t->hp.epochs, loss);
        if (m->output_block)
            printf("  train acc %.2f%%", 100 * acc);
        printf("  test loss %.4f  test acc %.2f%%  %.1f s  %.0f img/s\n", tloss, 100 * tacc,
               secs, secs > 0 ? (double)t->train.n / secs : 0.0);
        fflush(stdout);
        t->st.epoch = e;
        t->st.has_momentum = 1;
        if (t->o->save &&
            cnnrt_save_weights(m, t->ctx, t->o->save, &t->st, t->err, sizeof t->err) < 0)
            return -1;
    }
    if (t->o->save)
        printf("saved %s\n", t->o->save);
    return 0;
}

int cnnrt_cmd_train(const cnnrt_model *m, const cnnrt_opts *o)
{
    trainer *t;
    int rc;
    if (HAS(o, FLAG_LOG_EVERY) && !o->log && !o->plot) {
        fprintf(stderr, "%s: --log-every needs --log FILE.csv or --plot FILE.svg\n", o->prog);
        return CNNRT_EXIT_USAGE;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return cnnrt_cli_fail(o, "out of memory");
    t->m = m;
    t->o = o;
    t->hp = cnnrt_cli_hparams(m, o);
    rc = setup(t) < 0 || run_epochs(t) < 0 ? CNNRT_EXIT_ERROR : CNNRT_EXIT_OK;
    if (rc)
        cnnrt_cli_fail(o, t->err);
    if (t->ctx)
        m->destroy(t->ctx);
    cnnrt_log_close(&t->log);
    cnnrt_dataset_free(&t->train);
    cnnrt_dataset_free(&t->test);
    bufs_free(&t->b);
    free(t->perm);
    free(t);
    return rc;
}

/* ------------------------------------------------------------------- eval */
int cnnrt_cmd_eval(const cnnrt_model *m, const cnnrt_opts *o)
{
    char err[CNNRT_ERR_MAX];
    cnnrt_dataset train, test;
    const char *format = "";
    batch_bufs b;
    void *ctx = NULL;
    int batch = HAS(o, FLAG_BATCH) ? o->batch : 256, rc = CNNRT_EXIT_ERROR;
    double loss, acc;

    memset(&b, 0, sizeof b);
    if (load_data(m, o->data, &train, &test, &format, err, sizeof err) < 0)
        return cnnrt_cli_fail(o, err);
    cnnrt_dataset_free(&train);
    if (bufs_alloc(m, batch, &b) < 0) {
        snprintf(err, sizeof err, "out of memory");
        goto done;
    }
    ctx = cnnrt_cli_context(m, batch, HAS(o, FLAG_THREADS) ? o->threads : cnnrt_ncores(), err,
                            sizeof err);
    if (!ctx || cnnrt_load_weights(m, ctx, o->weights, err, sizeof err) < 0)
        goto done;
    evaluate(m, ctx, &test, batch, &b, &loss, &acc);
    if (!isfinite(loss)) {
        snprintf(err, sizeof err, "%s: the test loss is %f (weights too large?)", o->weights,
                 loss);
        goto done;
    }
    printf("test loss %.4f  test acc %.2f%%  (%lld images)\n", loss, 100 * acc,
           (long long)test.n);
    rc = CNNRT_EXIT_OK;
done:
    if (ctx)
        m->destroy(ctx);
    bufs_free(&b);
    cnnrt_dataset_free(&test);
    return rc ? cnnrt_cli_fail(o, err) : rc;
}

/* ------------------------------------------------------------------ bench */
typedef struct bench {
    const cnnrt_model *m;
    void *ctx;
    batch_bufs b;
    cnnrt_hparams hp;
    int batch, steps;               /* steps 0: run for a fixed time instead */
} bench;

/* Seconds per call of one train step (train) or forward at batch n. */
static double time_calls(bench *k, int train, int n, double budget)
{
    int calls = 0;
    double t0 = cnnrt_now(), el;
    do {
        if (train)
            k->m->train_step(k->ctx, k->b.x, k->b.targets ? NULL : k->b.labels, k->b.targets, n,
                             &k->hp);
        else
            k->m->forward(k->ctx, k->b.x, n, k->b.out);
        calls++;
        el = cnnrt_now() - t0;
    } while (k->steps ? calls < k->steps : (el < budget || calls < 3));
    return el / calls;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of a batch-1 forward. */
static double latency(bench *k)
{
    enum { MAXS = 4096 };
    double s[MAXS], t0 = cnnrt_now();
    int n = 0, want = k->steps ? (k->steps < MAXS ? k->steps : MAXS) : MAXS;
    do {
        double a = cnnrt_now();
        k->m->forward(k->ctx, k->b.x, 1, k->b.out);
        s[n++] = cnnrt_now() - a;
    } while (n < want && (k->steps || cnnrt_now() - t0 < 0.5 || n < 5));
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return s[n / 2];
}

static void bench_data(bench *k)
{
    cnnrt_rng r;
    const cnnrt_model *m = k->m;
    cnnrt_rng_seed(&r, 12345);
    for (size_t i = 0; i < (size_t)k->batch * m->in_size; i++)
        k->b.x[i] = cnnrt_rng_uniform(&r, 0.0f, 1.0f);
    for (int i = 0; i < k->batch; i++)
        k->b.labels[i] = (int32_t)cnnrt_rng_below(&r, m->out_size);
    if (k->b.targets)
        one_hot(m, k->b.labels, k->batch, k->b.targets);
    cnnrt_init_params(m, k->ctx, 1);
}

int cnnrt_cmd_bench(const cnnrt_model *m, const cnnrt_opts *o)
{
    char err[CNNRT_ERR_MAX];
    bench k;
    int threads = HAS(o, FLAG_THREADS) ? o->threads : cnnrt_ncores();
    double tr, inf, lat;

    memset(&k, 0, sizeof k);
    k.m = m;
    k.hp = cnnrt_cli_hparams(m, o);
    k.batch = k.hp.batch;
    k.steps = HAS(o, FLAG_STEPS) ? o->steps : 0;
    if (bufs_alloc(m, k.batch, &k.b) < 0)
        return cnnrt_cli_fail(o, "out of memory");
    k.ctx = cnnrt_cli_context(m, k.batch, threads, err, sizeof err);
    if (!k.ctx) {
        bufs_free(&k.b);
        return cnnrt_cli_fail(o, err);
    }
    bench_data(&k);
    for (int w = 0; w < 2; w++) {     /* warm-up: caches, pages, thread pool */
        m->train_step(k.ctx, k.b.x, k.b.targets ? NULL : k.b.labels, k.b.targets, k.batch,
                      &k.hp);
        m->forward(k.ctx, k.b.x, k.batch, k.b.out);
    }
    tr = time_calls(&k, 1, k.batch, 1.0);
    inf = time_calls(&k, 0, k.batch, 1.0);
    lat = latency(&k);
    printf("bench %s: batch %d, %d thread%s, %zu parameters\n", m->name, k.batch, threads,
           threads == 1 ? "" : "s", m->param_count);
    printf("  %-12s %8s %12s %14s\n", "", "batch", "time/call", "images/s");
    printf("  %-12s %8d %9.3f ms %14.1f\n", "train step", k.batch, 1e3 * tr, k.batch / tr);
    printf("  %-12s %8d %9.3f ms %14.1f\n", "inference", k.batch, 1e3 * inf, k.batch / inf);
    printf("  %-12s %8d %9.1f us %14.1f\n", "latency", 1, 1e6 * lat, 1 / lat);
    printf("train_img_per_s %.1f\n", k.batch / tr);
    printf("infer_img_per_s %.1f\n", k.batch / inf);
    printf("latency_us_b1 %.1f\n", 1e6 * lat);
    m->destroy(k.ctx);
    bufs_free(&k.b);
    return CNNRT_EXIT_OK;
}
