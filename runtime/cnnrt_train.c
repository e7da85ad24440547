/* cnnrt_train.c - the driver's data-set commands: train, eval, and bench.
 *
 * train: each epoch draws a permutation of the training set from the
 * shuffling RNG (seeded from the seed, separately from the init RNG), runs
 * train_step on consecutive batches of it (the last one partial, as torch's
 * DataLoader with drop_last=False), then evaluates on the test set.  With
 * --save, parameters, momentum, epoch and RNG are saved atomically after
 * every epoch, so --resume continues bit-identically.
 *
 * Under MPI (o->dist, cnnrt_dist.h) the same loop is data-parallel: every
 * rank draws the same permutation, takes its slice of each batch and
 * joins cnnrt_dist_step; the test set is split the same way.  No rank
 * loads the whole data set: before each epoch a rank reads from the files
 * just the records its slices of that epoch's batches use (about n / P,
 * the same count every epoch), and once, at the start, its slice of the
 * test set (cnnrt_source_read).  With CNNRT_DATA_STATS set in the
 * environment every rank says on stderr how many records it read and its
 * peak resident memory (tests/mpi.sh checks both).  A failure
 * that one rank alone meets (data it cannot read, a save that fails)
 * goes through dist->agree at the next check point, so that every rank
 * stops together and rank 0 prints the message.
 */
#include "cnnrt_cli.h"
#include "cnnrt_dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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

/* Test-set loss and accuracy with forward() in batches of `batch` over
 * the total images of the test set; under MPI (d) ds holds this rank's
 * slice of them (cnnrt_dist_slice) and the sums are added up. */
static void evaluate(const cnnrt_model *m, void *ctx, const cnnrt_dataset *ds, int64_t total,
                     int batch, batch_bufs *b, cnnrt_dist *d, double *loss, double *acc)
{
    double sums[2] = {0, 0};
    int64_t correct = 0;
    if (d)
        d->doing(d, "evaluating the test set");
    for (int64_t i = 0; i < ds->n; i += batch) {
        int n = ds->n - i < batch ? (int)(ds->n - i) : batch;
        cnnrt_dataset_gather(ds, NULL, i, n, b->x, b->labels);
        m->forward(ctx, b->x, n, b->out);
        score(m, b->out, b->labels, n, &sums[0], &correct);
    }
    sums[1] = (double)correct;
    if (d)
        d->allreduce(d, NULL, 0, 0, sums, 2);
    *loss = total ? sums[0] / (double)total : 0;
    *acc = total ? sums[1] / (double)total : 0;
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

/* ------------------------------------------------------- shards (MPI) */
/* The files of --data, both halves opened (no record read). */
static int open_sources(const char *dir, cnnrt_source *src, const char **format, char *err,
                        size_t errlen)
{
    cnnrt_data_files *f = malloc(sizeof *f);
    int rc;
    if (!f)
        return cnnrt_errorf(err, errlen, "out of memory");
    rc = cnnrt_data_find(dir, f, err, errlen);
    if (rc == 0) {
        *format = f->format;
        rc = cnnrt_source_open(f, 0, &src[0], err, errlen);
    }
    if (rc == 0)
        rc = cnnrt_source_open(f, 1, &src[1], err, errlen);
    free(f);
    return rc;
}

/* Labels of samples ds[j] = record index[j] (or first + j) in range. */
static int check_labels(const cnnrt_model *m, const cnnrt_dataset *ds, const int64_t *index,
                        int64_t first, char *err, size_t errlen)
{
    for (int64_t j = 0; j < ds->n; j++)
        if (ds->labels[j] < 0 || ds->labels[j] >= (int64_t)m->out_size)
            return cnnrt_errorf(err, errlen, "%s: label %d of sample %lld is out of range: the "
                                "model %s has %lld classes (outputs)", ds->label_source,
                                (int)ds->labels[j], (long long)(index ? index[j] : first + j),
                                m->name, (long long)m->out_size);
    return 0;
}

/* This rank's slice of the test set (src), read into ds; -1 with a message. */
static int read_test_slice(const cnnrt_model *m, cnnrt_dist *d, cnnrt_source *src,
                           cnnrt_dataset *ds, char *err, size_t errlen)
{
    int64_t first, count, *index = NULL;
    uint64_t *keys = NULL;
    int rc = -1;
    cnnrt_dist_slice(src->n, d->size, d->rank, &first, &count);
    index = malloc((size_t)(count ? count : 1) * sizeof *index);
    keys = malloc((size_t)(count ? count : 1) * sizeof *keys);
    if (!index || !keys || cnnrt_source_alloc(src, count, ds) < 0)
        cnnrt_errorf(err, errlen, "out of memory");
    else if (cnnrt_dataset_check(ds, m, err, errlen) == 0) {    /* n = 0: the shape */
        for (int64_t j = 0; j < count; j++)
            index[j] = first + j;
        rc = cnnrt_source_read(src, index, count, keys, ds, err, errlen);
        rc = rc == 0 ? check_labels(m, ds, NULL, first, err, errlen) : rc;
    }
    free(index);
    free(keys);
    return rc;
}

/* Set in the environment: every rank reports what it read (stderr). */
static int data_stats(void)
{
    const char *e = getenv("CNNRT_DATA_STATS");
    return e && *e && strcmp(e, "0") != 0;
}

/* Peak resident memory in kB (Linux's VmHWM), or -1. */
static long peak_rss_kb(void)
{
    char line[128];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (kb < 0 && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* ------------------------------------------------------------------ train */
/* rc of a step one rank may fail alone, agreed by all under MPI (d). */
static int agreed(cnnrt_dist *d, int rc, char *err, size_t errlen)
{
    return d ? d->agree(d, rc < 0, err, errlen) : rc;
}

typedef struct trainer {
    const cnnrt_model *m;
    const cnnrt_opts *o;
    cnnrt_hparams hp;
    cnnrt_dataset train, test;        /* under MPI: this rank's records alone */
    int64_t ntrain, ntest;            /* the whole data set's sizes */
    cnnrt_source *src;                /* d: training [0] and test [1] set on disk */
    int64_t *need;                    /* d: this epoch's records, in the order used */
    uint64_t *keys;                   /* d: cnnrt_source_read's scratch */
    int64_t cap, at;                  /* d: records per epoch; the next one to use */
    const char *format;               /* of the data set: "idx" or "cifar10" */
    batch_bufs b;
    int64_t *perm;
    void *ctx;
    cnnrt_train_state st;
    int logging;                      /* --log or --plot given (rank 0) */
    cnnrt_log log;
    cnnrt_dist *d;                    /* NULL: one process */
    int local_batch;                  /* this rank's largest slice of a batch */
    int failed;                       /* d: this rank failed, err says why; not yet agreed */
    char err[CNNRT_ERR_MAX];
} trainer;

/* Rank 0, or the only process: it prints, logs and saves. */
static int root(const trainer *t)
{
    return !t->d || t->d->rank == 0;
}

/* rc (0 or -1, err set) of a step one rank may fail alone: under MPI
 * every rank learns whether any failed; -1 on all if one did. */
static int together(trainer *t, int rc)
{
    return agreed(t->d, rc, t->err, sizeof t->err);
}

/* A failure of rank 0's own (log, save): at once for one process; under
 * MPI remembered for the next check point, where every rank stops. */
static int own_failure(trainer *t)
{
    if (!t->d)
        return -1;
    t->failed = 1;
    return 0;
}

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

static int64_t steps_per_epoch(const trainer *t)
{
    return (t->ntrain + t->hp.batch - 1) / t->hp.batch;
}

/* One process: train_step on samples perm[i..i+n); its loss. */
static float local_step(trainer *t, int64_t i, int n, int64_t *correct)
{
    const cnnrt_model *m = t->m;
    float l;
    cnnrt_dataset_gather(&t->train, t->perm, i, n, t->b.x, t->b.labels);
    if (t->b.targets)
        one_hot(m, t->b.labels, n, t->b.targets);
    l = m->train_step(t->ctx, t->b.x, m->loss == CNNRT_LOSS_MSE ? NULL : t->b.labels,
                      t->b.targets, n, &t->hp);
    if (m->output_block && l == l) {
        double unused = 0;
        score(m, m->output_block(t->ctx), t->b.labels, n, &unused, correct);
    }
    return l;
}

/* Records this rank uses in an epoch of batch-size batches, or (need)
 * those of the permutation perm, in the order its slices use them. */
static int64_t epoch_records(const trainer *t, const int64_t *perm, int64_t *need)
{
    int64_t k = 0;
    for (int64_t i = 0; i < t->ntrain; i += t->hp.batch) {
        int64_t n = t->ntrain - i < t->hp.batch ? t->ntrain - i : t->hp.batch, first, count;
        cnnrt_dist_slice(n, t->d->size, t->d->rank, &first, &count);
        if (need)
            memcpy(need + k, perm + i + first, (size_t)count * sizeof *need);
        k += count;
    }
    return k;
}

/* Under MPI, before the epoch's steps: this rank's records of the epoch's
 * permutation read from the files, in the order its slices use them. */
static int read_epoch(trainer *t, int epoch)
{
    int64_t count = epoch_records(t, t->perm, t->need), before = t->src[0].records_read;
    char what[96];
    int rc;
    snprintf(what, sizeof what, "epoch %d, reading %lld training records", epoch,
             (long long)count);
    t->d->doing(t->d, what);
    rc = cnnrt_source_read(&t->src[0], t->need, count, t->keys, &t->train, t->err,
                           sizeof t->err);
    if (rc == 0)
        rc = check_labels(t->m, &t->train, t->need, 0, t->err, sizeof t->err);
    t->at = 0;
    if (data_stats())
        fprintf(stderr, "%s: rank %d of %d: epoch %d: read %lld of the %lld training records\n",
                t->o->prog, t->d->rank, t->d->size, epoch,
                (long long)(t->src[0].records_read - before), (long long)t->ntrain);
    return together(t, rc);
}

/* Under MPI: this rank's slice of samples perm[i..i+n) (the next of the
 * records read_epoch read), the step together. */
static float dist_step(trainer *t, int epoch, int64_t i, int n, int64_t *correct)
{
    char what[96];
    int64_t first, count;
    cnnrt_dist_slice(n, t->d->size, t->d->rank, &first, &count);
    cnnrt_dataset_gather(&t->train, NULL, t->at, (int)count, t->b.x, t->b.labels);
    t->at += count;
    if (t->b.targets)
        one_hot(t->m, t->b.labels, (int)count, t->b.targets);
    snprintf(what, sizeof what, "epoch %d, step %lld of %lld", epoch,
             (long long)(i / t->hp.batch + 1), (long long)steps_per_epoch(t));
    t->d->doing(t->d, what);
    return cnnrt_dist_step(t->d, t->m, t->ctx, t->b.x, t->b.labels, t->b.targets, (int)count, n,
                           &t->hp, correct);
}

/* One pass over the training set; -1 on a non-finite loss or parameter. */
static int train_epoch(trainer *t, int epoch, double *loss, double *acc, double *secs)
{
    const cnnrt_model *m = t->m;
    int bs = t->hp.batch;
    int64_t correct = 0;
    cnnrt_progress p;
    double t0 = cnnrt_now();

    cnnrt_rng_permutation(&t->st.rng, t->perm, t->ntrain);
    if (t->d && read_epoch(t, epoch) < 0)
        return -1;
    cnnrt_progress_begin(&p, stdout, epoch, t->hp.epochs, t->ntrain);
    if (t->d)       /* mpirun's pty even when its own output goes to a file: no bar */
        p.tty = 0;
    for (int64_t i = 0; i < t->ntrain; i += bs) {
        int n = t->ntrain - i < bs ? (int)(t->ntrain - i) : bs;
        int64_t before = correct;
        float l = t->d ? dist_step(t, epoch, i, n, &correct) : local_step(t, i, n, &correct);
        if (diverged(t, l, epoch, i / bs + 1) < 0) {
            cnnrt_progress_end(&p);
            return -1;
        }
        cnnrt_progress_update(&p, n, l);
        if (t->logging && !t->failed &&
            cnnrt_log_step(&t->log, epoch, n, l, m->output_block ? correct - before : -1,
                           i + bs >= t->ntrain, t->err, sizeof t->err) < 0) {
            if (own_failure(t) == 0)  /* the ranks stop together at the end of the epoch */
                continue;
            cnnrt_progress_end(&p);
            return -1;
        }
    }
    *loss = cnnrt_progress_end(&p);
    *acc = t->ntrain ? (double)correct / (double)t->ntrain : 0;
    *secs = cnnrt_now() - t0;
    return 0;
}

/* Fresh parameters from the seed, or those of --resume with its state. */
static int start_local(trainer *t)
{
    const cnnrt_model *m = t->m;
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

/* Under MPI rank 0 alone initialises or reads --resume (the file need only
 * be on its machine) and sends parameters, momentum and state to all. */
static int start(trainer *t)
{
    const cnnrt_model *m = t->m;
    cnnrt_rng_seed(&t->st.rng, t->hp.seed ^ SHUFFLE_SALT);
    if (!t->d)
        return start_local(t);
    t->d->doing(t->d, t->o->resume ? "reading --resume" : "initialising the parameters");
    if (together(t, root(t) ? start_local(t) : 0) < 0)
        return -1;
    t->d->bcast(t->d, m->param_block(t->ctx), m->param_count * sizeof(float));
    t->d->bcast(t->d, m->momentum_block(t->ctx), m->param_count * sizeof(float));
    t->d->bcast(t->d, &t->st, sizeof t->st);
    return 0;
}

/* --log FILE.csv [--log-every N] and --plot FILE.svg (cnnrt_log.c). */
static int open_log(trainer *t, int threads)
{
    const cnnrt_hparams *hp = &t->hp;
    t->logging = root(t) && (t->o->log || t->o->plot);
    if (!t->logging)
        return 0;
    if (cnnrt_log_open(&t->log, t->o->log, t->o->plot, t->o->log_every, steps_per_epoch(t),
                       t->err, sizeof t->err) < 0)
        return -1;
    snprintf(t->log.title, sizeof t->log.title, "%s on %s", t->m->name, t->o->data);
    snprintf(t->log.subtitle, sizeof t->log.subtitle, "%lld training and %lld test images; "
             "batch %d, lr %g, momentum %g, weight decay %g, seed %llu, %d thread%s",
             (long long)t->ntrain, (long long)t->ntest, hp->batch, (double)hp->lr,
             (double)hp->momentum, (double)hp->weight_decay, (unsigned long long)hp->seed,
             threads, threads == 1 ? "" : "s");
    if (t->d && t->d->size > 1)
        snprintf(t->log.subtitle + strlen(t->log.subtitle),
                 sizeof t->log.subtitle - strlen(t->log.subtitle), " on each of %d ranks",
                 t->d->size);
    return 0;
}

/* --threads, or all cores (shared by the ranks on this machine under MPI). */
static int default_threads(const cnnrt_opts *o)
{
    int share = o->dist ? o->dist->local_size : 1;
    if (HAS(o, FLAG_THREADS))
        return o->threads;
    return cnnrt_ncores() / share > 1 ? cnnrt_ncores() / share : 1;
}

/* Under MPI: the data set's files on every rank, checked to be the same
 * set; room for this rank's records of an epoch (read_epoch); its slice
 * of the test set, read now. */
static int setup_shards(trainer *t)
{
    cnnrt_dist *d = t->d;
    int rc = 0;
    d->doing(d, "reading the data set");
    t->src = calloc(2, sizeof *t->src);
    if (together(t, t->src ? open_sources(t->o->data, t->src, &t->format, t->err,
                                          sizeof t->err)
                           : cnnrt_errorf(t->err, sizeof t->err, "out of memory")) < 0 ||
        cnnrt_dist_same_data(d, &t->src[0], &t->src[1], t->o->data, t->err, sizeof t->err) < 0)
        return -1;
    t->ntrain = t->src[0].n;
    t->ntest = t->src[1].n;
    if (t->ntrain == 0)
        return cnnrt_errorf(t->err, sizeof t->err, "%s: the training set is empty", t->o->data);
    t->cap = epoch_records(t, NULL, NULL);
    t->need = malloc((size_t)(t->cap ? t->cap : 1) * sizeof *t->need);
    t->keys = malloc((size_t)(t->cap ? t->cap : 1) * sizeof *t->keys);
    if (!t->need || !t->keys || cnnrt_source_alloc(&t->src[0], t->cap, &t->train) < 0)
        rc = cnnrt_errorf(t->err, sizeof t->err, "out of memory");
    if (rc == 0)        /* n = 0: the images' shape alone */
        rc = cnnrt_dataset_check(&t->train, t->m, t->err, sizeof t->err);
    if (rc == 0)
        rc = read_test_slice(t->m, d, &t->src[1], &t->test, t->err, sizeof t->err);
    if (rc == 0 && data_stats())
        fprintf(stderr, "%s: rank %d of %d: read %lld of the %lld test records\n", t->o->prog,
                d->rank, d->size, (long long)t->test.n, (long long)t->ntest);
    return together(t, rc);
}

/* The data: one process loads both halves whole; under MPI, shards. */
static int setup_data(trainer *t)
{
    if (t->d)
        return setup_shards(t);
    if (load_data(t->m, t->o->data, &t->train, &t->test, &t->format, t->err,
                  sizeof t->err) < 0)
        return -1;
    t->ntrain = t->train.n;
    t->ntest = t->test.n;
    if (t->train.n == 0)
        return cnnrt_errorf(t->err, sizeof t->err, "%s: the training set is empty", t->o->data);
    return 0;
}

static void print_header(const trainer *t, int threads)
{
    char shp[160];
    printf("%s: %lld training and %lld test images %s (%s, %s); %d epoch%s, batch %d, lr %g, "
           "momentum %g, weight decay %g, seed %llu, ", t->m->name,
           (long long)t->ntrain, (long long)t->ntest,
           cnnrt_shape_str(t->train.rank, t->train.shape, shp, sizeof shp), t->format, t->o->data,
           t->hp.epochs, t->hp.epochs == 1 ? "" : "s", t->hp.batch, (double)t->hp.lr,
           (double)t->hp.momentum, (double)t->hp.weight_decay, (unsigned long long)t->hp.seed);
    if (t->d)
        printf("%d rank%s (slices of %d), ", t->d->size, t->d->size == 1 ? "" : "s",
               t->local_batch);
    printf("%d thread%s%s\n", threads, threads == 1 ? "" : "s", t->d ? " each" : "");
    fflush(stdout);
}

static int setup(trainer *t)
{
    const cnnrt_model *m = t->m;
    int threads = default_threads(t->o), rc = 0;
    if (setup_data(t) < 0)
        return -1;
    t->local_batch = t->d ? (int)((t->hp.batch + t->d->size - 1) / t->d->size) : t->hp.batch;
    t->perm = malloc((size_t)t->ntrain * sizeof *t->perm);
    if (!t->perm || bufs_alloc(m, t->local_batch, &t->b) < 0)
        rc = cnnrt_errorf(t->err, sizeof t->err, "out of memory");
    if (rc == 0) {
        t->ctx = cnnrt_cli_context(m, t->local_batch, threads, t->err, sizeof t->err);
        rc = t->ctx ? 0 : -1;
    }
    if (together(t, rc) < 0 || start(t) < 0 || together(t, open_log(t, threads)) < 0)
        return -1;
    print_header(t, threads);
    return 0;
}

/* The epoch's log row and line (rank 0), then the checkpoint.  Under MPI
 * first: are the parameter copies still the same bits (else the previous
 * checkpoint stays)?  After: did any rank fail? */
static int finish_epoch(trainer *t, int e, double loss, double acc, double secs, double tloss,
                        double tacc)
{
    const cnnrt_model *m = t->m;
    if (t->d && cnnrt_dist_same_params(t->d, m, t->ctx, e, t->err, sizeof t->err) < 0)
        return -1;
    if (t->logging && !t->failed &&
        cnnrt_log_epoch(&t->log, e, loss, m->output_block ? acc : NAN, t->ntest ? tacc : NAN,
                        secs > 0 ? (double)t->ntrain / secs : NAN, t->err, sizeof t->err) < 0 &&
        own_failure(t) < 0)
        return -1;
    printf("epoch %d/%d  loss %.4f", e, t->hp.epochs, loss);
    if (m->output_block)
        printf("  train acc %.2f%%", 100 * acc);
    printf("  test loss %.4f  test acc %.2f%%  %.1f s  %.0f img/s\n", tloss, 100 * tacc,
           secs, secs > 0 ? (double)t->ntrain / secs : 0.0);
    fflush(stdout);
    t->st.epoch = e;
    t->st.has_momentum = 1;
    if (t->o->save && root(t) && !t->failed &&
        cnnrt_save_weights(m, t->ctx, t->o->save, &t->st, t->err, sizeof t->err) < 0 &&
        own_failure(t) < 0)
        return -1;
    if (t->d)
        t->d->doing(t->d, "the end of an epoch");
    return together(t, t->failed ? -1 : 0);
}

static int run_epochs(trainer *t)
{
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
        evaluate(t->m, t->ctx, &t->test, t->ntest, t->local_batch, &t->b, t->d, &tloss, &tacc);
        if (!isfinite(tloss))
            return cnnrt_errorf(t->err, sizeof t->err, "the test loss became %f after epoch %d "
                                "(outputs too large: learning rate %g too high?); stopping",
                                tloss, e, (double)t->hp.lr);
        if (finish_epoch(t, e, loss, acc, secs, tloss, tacc) < 0)
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
        if (!o->quiet)
            fprintf(stderr, "%s: --log-every needs --log FILE.csv or --plot FILE.svg\n", o->prog);
        return CNNRT_EXIT_USAGE;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return cnnrt_cli_fail(o, "out of memory");
    t->m = m;
    t->o = o;
    t->d = o->dist;
    t->format = "";
    t->hp = cnnrt_cli_hparams(m, o);
    rc = setup(t) < 0 || run_epochs(t) < 0 ? CNNRT_EXIT_ERROR : CNNRT_EXIT_OK;
    if (rc)
        cnnrt_cli_fail(o, t->err);
    if (t->d && data_stats())
        fprintf(stderr, "%s: rank %d of %d: held %lld training and %lld test records; peak "
                "resident memory %ld kB\n", o->prog, t->d->rank, t->d->size, (long long)t->cap,
                (long long)t->test.n, peak_rss_kb());
    if (t->ctx)
        m->destroy(t->ctx);
    cnnrt_log_close(&t->log);
    cnnrt_dataset_free(&t->train);
    cnnrt_dataset_free(&t->test);
    bufs_free(&t->b);
    free(t->perm);
    free(t->src);
    free(t->need);
    free(t->keys);
    free(t);
    return rc;
}

/* ------------------------------------------------------------------- eval */
/* The context with --weights: read by rank 0 alone under MPI, then sent. */
static void *eval_context(const cnnrt_model *m, const cnnrt_opts *o, int batch, char *err,
                          size_t errlen)
{
    cnnrt_dist *d = o->dist;
    void *ctx = cnnrt_cli_context(m, batch, default_threads(o), err, errlen);
    int rc = ctx ? 0 : -1;
    if (ctx && (!d || d->rank == 0))
        rc = cnnrt_load_weights(m, ctx, o->weights, err, errlen);
    if (agreed(d, rc, err, errlen) < 0) {
        if (ctx)
            m->destroy(ctx);
        return NULL;
    }
    if (d)
        d->bcast(d, m->param_block(ctx), m->param_count * sizeof(float));
    return ctx;
}

/* The test set: whole for one process; under MPI this rank's slice of it
 * (read alone); *total: the whole set's size. */
static int eval_data(const cnnrt_model *m, const cnnrt_opts *o, cnnrt_dataset *test,
                     int64_t *total, char *err, size_t errlen)
{
    cnnrt_dataset train;
    cnnrt_source *src;
    const char *format;
    int rc;
    if (!o->dist) {
        rc = load_data(m, o->data, &train, test, &format, err, errlen);
        cnnrt_dataset_free(&train);
        *total = test->n;
        return rc;
    }
    memset(test, 0, sizeof *test);
    src = calloc(2, sizeof *src);
    rc = src ? open_sources(o->data, src, &format, err, errlen)
             : cnnrt_errorf(err, errlen, "out of memory");
    if (rc == 0)
        rc = read_test_slice(m, o->dist, &src[1], test, err, errlen);
    *total = src ? src[1].n : 0;
    free(src);
    return rc;
}

int cnnrt_cmd_eval(const cnnrt_model *m, const cnnrt_opts *o)
{
    char err[CNNRT_ERR_MAX];
    cnnrt_dataset test;
    batch_bufs b;
    void *ctx = NULL;
    int batch = HAS(o, FLAG_BATCH) ? o->batch : 256, rc = CNNRT_EXIT_ERROR;
    int64_t total = 0;
    double loss, acc;

    memset(&b, 0, sizeof b);
    if (agreed(o->dist, eval_data(m, o, &test, &total, err, sizeof err), err, sizeof err) < 0) {
        cnnrt_dataset_free(&test);
        return cnnrt_cli_fail(o, err);
    }
    if (agreed(o->dist, bufs_alloc(m, batch, &b) < 0 ? cnnrt_errorf(err, sizeof err,
                                                                     "out of memory") : 0,
               err, sizeof err) < 0)
        goto done;
    ctx = eval_context(m, o, batch, err, sizeof err);
    if (!ctx)
        goto done;
    evaluate(m, ctx, &test, total, batch, &b, o->dist, &loss, &acc);
    if (!isfinite(loss)) {
        snprintf(err, sizeof err, "%s: the test loss is %f (weights too large?)", o->weights,
                 loss);
        goto done;
    }
    printf("test loss %.4f  test acc %.2f%%  (%lld images)\n", loss, 100 * acc,
           (long long)total);
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

/* Under MPI: seconds per data-parallel step over `steps` steps (every rank
 * runs the same number); the exchange's share in *comm, bytes sent by this
 * rank per step in *bytes. */
static double time_dist_steps(bench *k, cnnrt_dist *d, int local, int steps, double *comm,
                              double *bytes)
{
    int64_t correct = 0;
    double t0, el, c0, b0;
    d->allreduce(d, NULL, 0, 0, NULL, 0);         /* start together */
    c0 = d->comm_seconds;
    b0 = d->comm_bytes;
    t0 = cnnrt_now();
    for (int s = 0; s < steps; s++)
        cnnrt_dist_step(d, k->m, k->ctx, k->b.x, k->b.labels, k->b.targets, local,
                        k->hp.batch, &k->hp, &correct);
    el = cnnrt_now() - t0;
    *comm = (d->comm_seconds - c0) / steps;
    *bytes = (d->comm_bytes - b0) / steps;
    return el / steps;
}

/* The fastest of `calls` exchanges alone of n floats, in seconds (on a
 * shared machine the mean also counts the times a rank was descheduled). */
static double time_exchange(cnnrt_dist *d, float *v, size_t n, int calls)
{
    double best = 0;
    d->allreduce(d, NULL, 0, 0, NULL, 0);
    for (int c = 0; c < calls; c++) {
        double t0 = cnnrt_now(), el;
        d->allreduce(d, v, n, 1.0 / d->size, NULL, 0);
        el = cnnrt_now() - t0;
        best = c == 0 || el < best ? el : best;
    }
    return best;
}

/* bench under MPI: train steps on a global batch split over the ranks, and
 * the gradient exchange by itself, for the model step = compute / P +
 * exchange(bytes, P) (bench/mpi.sh). */
static int bench_dist(bench *k, cnnrt_dist *d, int threads, int local)
{
    const cnnrt_model *m = k->m;
    int steps = k->steps;
    double step, comm, bytes, full, empty;
    double t0 = cnnrt_now();
    for (int w = 0; w < 2; w++)       /* warm-up: caches, pages, thread pool, connections */
        time_dist_steps(k, d, local, 1, &comm, &bytes);
    if (!steps)                       /* about 2 s, as rank 0 measured the warm-up */
        steps = (int)(4.0 / (cnnrt_now() - t0)) + 3;
    d->bcast(d, &steps, sizeof steps);
    step = time_dist_steps(k, d, local, steps, &comm, &bytes);
    full = time_exchange(d, m->grad_block(k->ctx), m->param_count, steps > 20 ? steps : 20);
    empty = time_exchange(d, NULL, 0, 200);
    printf("bench %s: global batch %d on %d rank%s (slices of %d), %d thread%s each, "
           "%zu parameters\n", m->name, k->hp.batch, d->size, d->size == 1 ? "" : "s",
           k->batch, threads, threads == 1 ? "" : "s", m->param_count);
    printf("  train step          %9.3f ms %10.1f images/s  (%d steps)\n", 1e3 * step,
           k->hp.batch / step, steps);
    printf("  of which exchange   %9.3f ms  %.0f bytes sent by each rank\n", 1e3 * comm, bytes);
    printf("  exchange alone      %9.3f ms  for the %zu-float gradient; %.1f us empty (fastest)\n",
           1e3 * full, m->param_count, 1e6 * empty);
    printf("train_img_per_s %.1f\n", k->hp.batch / step);
    printf("step_ms %.3f\n", 1e3 * step);
    printf("exchange_ms_per_step %.3f\n", 1e3 * comm);
    printf("exchange_bytes_per_step %.0f\n", bytes);
    printf("exchange_alone_ms %.3f\n", 1e3 * full);
    printf("exchange_empty_us %.1f\n", 1e6 * empty);
    return CNNRT_EXIT_OK;
}

/* One process: train steps, inference and batch-1 latency. */
static int bench_one(bench *k, int threads)
{
    const cnnrt_model *m = k->m;
    double tr, inf, lat;
    for (int w = 0; w < 2; w++) {     /* warm-up: caches, pages, thread pool */
        m->train_step(k->ctx, k->b.x, k->b.targets ? NULL : k->b.labels, k->b.targets, k->batch,
                      &k->hp);
        m->forward(k->ctx, k->b.x, k->batch, k->b.out);
    }
    tr = time_calls(k, 1, k->batch, 1.0);
    inf = time_calls(k, 0, k->batch, 1.0);
    lat = latency(k);
    printf("bench %s: batch %d, %d thread%s, %zu parameters\n", m->name, k->batch, threads,
           threads == 1 ? "" : "s", m->param_count);
    printf("  %-12s %8s %12s %14s\n", "", "batch", "time/call", "images/s");
    printf("  %-12s %8d %9.3f ms %14.1f\n", "train step", k->batch, 1e3 * tr, k->batch / tr);
    printf("  %-12s %8d %9.3f ms %14.1f\n", "inference", k->batch, 1e3 * inf, k->batch / inf);
    printf("  %-12s %8d %9.1f us %14.1f\n", "latency", 1, 1e6 * lat, 1 / lat);
    struct rusage ru;
    long rss = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0; /* kB on Linux */
    printf("  peak resident memory %.1f MB (the whole process)\n", rss / 1024.0);
    printf("train_img_per_s %.1f\n", k->batch / tr);
    printf("infer_img_per_s %.1f\n", k->batch / inf);
    printf("latency_us_b1 %.1f\n", 1e6 * lat);
    printf("peak_rss_kb %ld\n", rss);
    return CNNRT_EXIT_OK;
}

int cnnrt_cmd_bench(const cnnrt_model *m, const cnnrt_opts *o)
{
    char err[CNNRT_ERR_MAX];
    bench k;
    cnnrt_dist *d = o->dist;
    int threads = default_threads(o), rc;
    int64_t first = 0, local = 0;

    memset(&k, 0, sizeof k);
    k.m = m;
    k.hp = cnnrt_cli_hparams(m, o);
    k.batch = k.hp.batch;
    k.steps = HAS(o, FLAG_STEPS) ? o->steps : 0;
    if (d) {                          /* this rank's slice of the batch */
        k.batch = (k.hp.batch + d->size - 1) / d->size;
        cnnrt_dist_slice(k.hp.batch, d->size, d->rank, &first, &local);
    }
    if (bufs_alloc(m, k.batch, &k.b) < 0)
        cnnrt_errorf(err, sizeof err, "out of memory");
    else
        k.ctx = cnnrt_cli_context(m, k.batch, threads, err, sizeof err);
    rc = agreed(d, k.ctx ? 0 : -1, err, sizeof err) < 0 ? cnnrt_cli_fail(o, err) : 0;
    if (rc == 0) {
        bench_data(&k);
        rc = d ? bench_dist(&k, d, threads, (int)local) : bench_one(&k, threads);
    }
    if (k.ctx)
        m->destroy(k.ctx);
    bufs_free(&k.b);
    return rc;
}
