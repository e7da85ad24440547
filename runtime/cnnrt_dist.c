/* cnnrt_dist.c - the data-parallel pieces of training that do not depend
 * on how ranks talk (cnnrt_dist.h): batch slices, the SGD step, the step
 * itself, and the checks that every rank has the same data and the same
 * parameters.  No MPI here: the collective operations come in the table.
 */
#include "cnnrt_dist.h"

#include <string.h>
#include <zlib.h>

void cnnrt_dist_slice(int64_t n, int p, int r, int64_t *start, int64_t *count)
{
    int64_t base = n / p, extra = n % p;
    *start = r * base + (r < extra ? r : extra);
    *count = base + (r < extra);
}

void cnnrt_sgd(const cnnrt_model *m, void *ctx, const cnnrt_hparams *hp)
{
    const float lr = hp->lr, mu = hp->momentum, wd = hp->weight_decay;
    float *p = m->param_block(ctx), *g = m->grad_block(ctx), *buf = m->momentum_block(ctx);
    for (size_t k = 0; k < m->param_count; k++) {
        float d = g[k];
        if (wd != 0.0f)
            d += wd * p[k];
        if (mu != 0.0f) {
            buf[k] = mu * buf[k] + d;
            d = buf[k];
        }
        p[k] -= lr * d;
    }
}

/* Outputs out [n, out_size] whose largest entry is at the label. */
static int64_t count_correct(const cnnrt_model *m, const float *out, const int32_t *labels,
                             int n)
{
    int64_t correct = 0;
    for (int i = 0; i < n; i++) {
        const float *z = out + (size_t)i * m->out_size;
        size_t best = 0;
        for (size_t c = 1; c < m->out_size; c++)
            if (z[c] > z[best])
                best = c;
        correct += best == (size_t)labels[i];
    }
    return correct;
}

float cnnrt_dist_step(cnnrt_dist *d, const cnnrt_model *m, void *ctx, const float *x,
                      const int32_t *labels, const float *targets, int local, int64_t n,
                      const cnnrt_hparams *hp, int64_t *correct)
{
    double sums[2] = {0, 0};   /* loss * samples, correct samples */
    float loss;
    if (local > 0) {
        float l = m->gradients(ctx, x, m->loss == CNNRT_LOSS_MSE ? NULL : labels, targets,
                               local, NULL);
        sums[0] = (double)l * local;
        if (m->output_block)
            sums[1] = (double)count_correct(m, m->output_block(ctx), labels, local);
    }
    d->allreduce(d, m->grad_block(ctx), m->param_count, (double)local / (double)n, sums, 2);
    loss = (float)(sums[0] / (double)n);
    if (loss == loss)       /* as train_step: no step on a NaN loss */
        cnnrt_sgd(m, ctx, hp);
    *correct += (int64_t)sums[1];
    return loss;
}

/* CRC-32 of any number of bytes (zlib's crc32 takes an unsigned int). */
static uint32_t crc_bytes(uint32_t crc, const void *p, size_t len)
{
    const unsigned char *b = p;
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? 1u << 30 : (unsigned)len;
        crc = (uint32_t)crc32(crc, b, chunk);
        b += chunk;
        len -= chunk;
    }
    return crc;
}

typedef struct data_print {
    int64_t train_n, test_n, sample_size;
    uint32_t crc;
} data_print;

enum { PRINT_RECORDS = 8 };

/* CRC-32 of up to PRINT_RECORDS records of s, evenly spread from the first
 * to the last, pixels and labels; -1 with a message if they cannot be read. */
static int sample_crc(cnnrt_source *s, uint32_t *crc, char *err, size_t errlen)
{
    int64_t index[PRINT_RECORDS], count = s->n < PRINT_RECORDS ? s->n : PRINT_RECORDS;
    uint64_t keys[PRINT_RECORDS];
    cnnrt_dataset ds;
    int rc;
    for (int64_t i = 0; i < count; i++)       /* increasing: n - 1 >= count - 1 */
        index[i] = count > 1 ? i * (s->n - 1) / (count - 1) : 0;
    if (cnnrt_source_alloc(s, count, &ds) < 0)
        return cnnrt_errorf(err, errlen, "out of memory");
    rc = cnnrt_source_read(s, index, count, keys, &ds, err, errlen);
    if (rc == 0) {
        *crc = crc_bytes(*crc, ds.pixels, (size_t)count * ds.sample_size);
        *crc = crc_bytes(*crc, ds.labels, (size_t)count * sizeof *ds.labels);
    }
    cnnrt_dataset_free(&ds);
    return rc;
}

int cnnrt_dist_same_data(cnnrt_dist *d, cnnrt_source *train, cnnrt_source *test,
                         const char *dir, char *err, size_t errlen)
{
    data_print mine, root;
    int failed;
    memset(&mine, 0, sizeof mine);
    mine.train_n = train->n;
    mine.test_n = test->n;
    mine.sample_size = (int64_t)train->sample_size;
    d->doing(d, "comparing the data sets");
    failed = sample_crc(train, &mine.crc, err, errlen) < 0 ||
             sample_crc(test, &mine.crc, err, errlen) < 0;
    if (d->agree(d, failed, err, errlen) < 0)
        return -1;
    root = mine;
    d->bcast(d, &root, sizeof root);
    failed = memcmp(&mine, &root, sizeof mine) != 0;
    if (failed)
        cnnrt_errorf(err, errlen, "%s holds %lld training and %lld test images (CRC-32 %08x of "
                     "sampled records), rank 0's %lld and %lld (CRC-32 %08x): every rank needs the "
                     "same data set", dir, (long long)mine.train_n, (long long)mine.test_n,
                     (unsigned)mine.crc, (long long)root.train_n, (long long)root.test_n,
                     (unsigned)root.crc);
    return d->agree(d, failed, err, errlen);
}

int cnnrt_dist_same_params(cnnrt_dist *d, const cnnrt_model *m, void *ctx, int epoch,
                           char *err, size_t errlen)
{
    size_t bytes = m->param_count * sizeof(float);
    uint32_t crc[2], root[2];
    int differs;
    crc[0] = crc_bytes(0, m->param_block(ctx), bytes);
    crc[1] = crc_bytes(0, m->momentum_block(ctx), bytes);
    memcpy(root, crc, sizeof crc);
    d->bcast(d, root, sizeof root);
    differs = memcmp(crc, root, sizeof crc) != 0;
    if (differs)
        cnnrt_errorf(err, errlen, "after epoch %d its parameters (CRC-32 %08x, momentum %08x) "
                     "differ from rank 0's (%08x, %08x): the gradient exchange is broken",
                     epoch, (unsigned)crc[0], (unsigned)crc[1], (unsigned)root[0],
                     (unsigned)root[1]);
    return d->agree(d, differs, err, errlen);
}
