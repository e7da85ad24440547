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

static data_print fingerprint(const cnnrt_dataset *train, const cnnrt_dataset *test)
{
    data_print f;
    memset(&f, 0, sizeof f);
    f.train_n = train->n;
    f.test_n = test->n;
    f.sample_size = (int64_t)train->sample_size;
    f.crc = crc_bytes(0, train->pixels, (size_t)train->n * train->sample_size);
    f.crc = crc_bytes(f.crc, train->labels, (size_t)train->n * sizeof *train->labels);
    f.crc = crc_bytes(f.crc, test->pixels, (size_t)test->n * test->sample_size);
    f.crc = crc_bytes(f.crc, test->labels, (size_t)test->n * sizeof *test->labels);
    return f;
}

int cnnrt_dist_same_data(cnnrt_dist *d, const cnnrt_dataset *train, const cnnrt_dataset *test,
                         const char *dir, char *err, size_t errlen)
{
    data_print mine = fingerprint(train, test), root = mine;
    int differs;
    d->doing(d, "comparing the data sets");
    d->bcast(d, &root, sizeof root);
    differs = memcmp(&mine, &root, sizeof mine) != 0;
    if (differs)
        cnnrt_errorf(err, errlen, "%s holds %lld training and %lld test images (CRC-32 %08x), "
                     "rank 0's %lld and %lld (CRC-32 %08x): every rank needs the same data set",
                     dir, (long long)mine.train_n, (long long)mine.test_n, (unsigned)mine.crc,
                     (long long)root.train_n, (long long)root.test_n, (unsigned)root.crc);
    return d->agree(d, differs, err, errlen);
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
