/* cnnrt_dist.h - data-parallel training over several processes ("ranks"),
 * as the runtime sees it: a table of collective operations.
 *
 * cnnrt_main() runs one process and passes no table.  cnnc --mpi links
 * build/libcnnrt_mpi.a, whose cnnrt_mpi_main() starts MPI and passes a
 * table implemented with MPI point-to-point messages
 * (runtime/mpi/cnnrt_mpi.c); nothing in libcnnrt.a calls MPI.  The
 * training loop (cnnrt_train.c, cnnrt_dist.c) is the same for both:
 *
 *   - every rank draws the same permutation of the training set from the
 *     same RNG; rank r takes the r-th of P near-equal consecutive slices of
 *     every global batch of it (cnnrt_dist_slice), so the union of the
 *     slices is exactly the batch one process would take;
 *   - no rank holds the data set: before each epoch, rank r reads from the
 *     files just the records of its slices of that epoch's batches
 *     (cnnrt_source_read), and at the start its slice of the test set;
 *   - each rank computes the gradient of the mean loss over its slice; the
 *     gradients are summed weighted by slice / batch size (allreduce), in
 *     rank order, so every rank holds the same bits; every rank then takes
 *     the same SGD step (cnnrt_sgd) on identical parameter copies;
 *   - rank 0 alone prints, logs and saves; rank 0's checkpoint is sent to
 *     the others on --resume.
 *
 * Internal to the runtime: not installed.
 */
#ifndef CNNRT_DIST_H
#define CNNRT_DIST_H

#include "cnnrt.h"

typedef struct cnnrt_dist cnnrt_dist;
struct cnnrt_dist {
    int rank, size;          /* this process, of size (>= 1) */
    int local_size;          /* ranks on this machine (for --threads' default) */
    char host[64];           /* this machine's name, for messages */

    /* Collective.  v[0..n) becomes, on every rank, the sum over ranks q in
     * order 0..size-1 of w_q * v_q, accumulated in double and rounded once:
     * the same bits on every rank.  A rank with w = 0 adds nothing (its v
     * is not read).  sums[0..nsums) become the plain sums of every rank's
     * sums, in rank order. */
    void (*allreduce)(cnnrt_dist *d, float *v, size_t n, double w, double *sums, int nsums);
    /* Collective: rank 0's bytes to every rank. */
    void (*bcast)(cnnrt_dist *d, void *buf, size_t bytes);
    /* Collective: every rank says whether it failed (its message in err).
     * 0 if none did; else -1 on every rank, and rank 0's err then holds the
     * message(s) with the failing ranks named ("rank 1 of 2 (on HOST): ..."),
     * or the message alone when every rank failed alike. */
    int (*agree)(cnnrt_dist *d, int failed, char *err, size_t errlen);
    /* What this rank does now ("epoch 2, step 17 of 63"), for the message
     * printed when the job is stopped or a rank stops answering. */
    void (*doing)(cnnrt_dist *d, const char *what);

    /* Measured by allreduce (bench): calls, bytes this rank sent, seconds. */
    int64_t comm_calls;
    double comm_bytes, comm_seconds;
    void *impl;
};

/* cnnrt_main with a table (NULL: one process, exactly cnnrt_main).  With
 * one, train, eval and bench are data-parallel; the other commands run on
 * rank 0 alone; ranks other than 0 print nothing. */
int cnnrt_main_dist(int argc, char **argv, const cnnrt_model *m, cnnrt_dist *d);

/* main() of a program built by cnnc --mpi (build/libcnnrt_mpi.a): starts
 * MPI, runs cnnrt_main_dist with MPI's table, and finalises. */
int cnnrt_mpi_main(int argc, char **argv, const cnnrt_model *m);

/* The part of a global batch of n samples that rank r of p takes:
 * [*start, *start + *count), consecutive slices in rank order whose sizes
 * differ by at most one. */
void cnnrt_dist_slice(int64_t n, int p, int r, int64_t *start, int64_t *count);

/* One torch.optim.SGD step with the gradient in grad_block (as the
 * generated train_step): d = g + wd*p; buf = mu*buf + d; p -= lr*buf. */
void cnnrt_sgd(const cnnrt_model *m, void *ctx, const cnnrt_hparams *hp);

/* Collective: a data-parallel train step on a global batch of n samples,
 * of which this rank holds its slice (local of them, maybe 0) in x,
 * labels (class labels, also for mse: they score the accuracy) and
 * targets (mse, else NULL).  Adds the batch's correct count to *correct
 * (when the model has an output block); returns the batch's mean loss.
 * Every rank returns the same and holds the same parameters after it. */
float cnnrt_dist_step(cnnrt_dist *d, const cnnrt_model *m, void *ctx, const float *x,
                      const int32_t *labels, const float *targets, int local, int64_t n,
                      const cnnrt_hparams *hp, int64_t *correct);

/* ----------------------------------------------------------- sharded data
 * Under MPI no rank loads the whole data set (cnnrt_data.c): a source
 * knows where each record of a data set lies (idx: header + k * record;
 * CIFAR-10: file, k * 3073), and each epoch a rank reads just the records
 * of its slices of that epoch's batches, in file order. */
enum { CNNRT_PATH_MAX = 4200, CNNRT_CIFAR_FILES = 5 };

/* The files of a data set directory, as cnnrt_data_load finds them. */
typedef struct cnnrt_data_files {
    const char *format;                              /* "idx" or "cifar10" */
    int ntrain;                                      /* cifar10: data_batch files */
    char train[CNNRT_CIFAR_FILES][CNNRT_PATH_MAX];   /* idx: images, labels */
    char test[2][CNNRT_PATH_MAX];                    /* idx: images, labels */
} cnnrt_data_files;

int cnnrt_data_find(const char *dir, cnnrt_data_files *f, char *err, size_t errlen);

typedef struct cnnrt_source {
    int cifar, nfiles;                               /* nfiles: cifar10 record files */
    char path[CNNRT_CIFAR_FILES][CNNRT_PATH_MAX];    /* idx: images; cifar10: records */
    char labels[CNNRT_PATH_MAX];                     /* idx: labels */
    int64_t first[CNNRT_CIFAR_FILES + 1];            /* cifar10: each file's first record */
    int64_t image_hdr, label_hdr;                    /* idx: header bytes */
    int64_t n;                                       /* records */
    int rank;                                        /* per-sample shape */
    int64_t shape[CNNRT_MAX_RANK];
    size_t sample_size;
    int64_t records_read;                            /* by cnnrt_source_read, ever */
} cnnrt_source;

/* The training (test = 0) or test half of f: headers and sizes checked,
 * no record read. */
int cnnrt_source_open(const cnnrt_data_files *f, int test, cnnrt_source *s, char *err,
                      size_t errlen);
/* ds with room for cap records of s (ds->n = 0, shape set); -1 if out of memory. */
int cnnrt_source_alloc(const cnnrt_source *s, int64_t cap, cnnrt_dataset *ds);
/* Records index[0..count) of s (each < s->n, any order) into ds (room for
 * count), sample j = record index[j].  The files are read once each, in
 * order: a plain file seeks past long runs of records it does not need;
 * a gzip file is decompressed up to the last record needed.  keys: count
 * scratch values.  -1 with a message on a read error or a bad label
 * (CIFAR-10). */
int cnnrt_source_read(cnnrt_source *s, const int64_t *index, int64_t count, uint64_t *keys,
                      cnnrt_dataset *ds, char *err, size_t errlen);

/* Collective: every rank's data set is rank 0's: the same number of
 * training and test records, the same shape, and the same CRC-32 of 8
 * records of each half spread evenly from the first to the last (which
 * each rank reads for this).  -1 with a message naming the rank that
 * differs or cannot read them (through agree). */
int cnnrt_dist_same_data(cnnrt_dist *d, cnnrt_source *train, cnnrt_source *test,
                         const char *dir, char *err, size_t errlen);

/* Collective: the parameter blocks are the same bits on every rank. */
int cnnrt_dist_same_params(cnnrt_dist *d, const cnnrt_model *m, void *ctx, int epoch,
                           char *err, size_t errlen);

#endif /* CNNRT_DIST_H */
