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

/* Collective: the data sets every rank loaded are the same (sizes, shapes
 * and a CRC-32 of pixels and labels) as rank 0's; -1 with a message naming
 * the rank that differs (through agree). */
int cnnrt_dist_same_data(cnnrt_dist *d, const cnnrt_dataset *train, const cnnrt_dataset *test,
                         const char *dir, char *err, size_t errlen);

/* Collective: the parameter blocks are the same bits on every rank. */
int cnnrt_dist_same_params(cnnrt_dist *d, const cnnrt_model *m, void *ctx, int epoch,
                           char *err, size_t errlen);

#endif /* CNNRT_DIST_H */
