/* cnnrt_gradcheck.c - `PROG gradcheck`: the generated backward pass against
 * central finite differences of the generated forward pass.
 *
 * On a random batch (inputs uniform in [0, 1), random labels or targets),
 * for K sampled coordinates j of every parameter tensor:
 *   - d = P(e_j), where P is the model's constrain() (the projection onto
 *     tied / masked kernels), so the perturbation moves the free parameter
 *     that j belongs to; P_jj = 1/g for a tie group of g, 0 where masked.
 *   - fd = (L(w + h d) - L(w - h d)) / 2h, the loss recomputed in double
 *     from the float32 outputs; the reported gradient predicts P_jj * g_j.
 *   - where P_jj = 0 the reported gradient must be exactly 0.
 * A coordinate whose one-sided differences disagree (a ReLU kink or a max
 * switching within h) is skipped and counted: derivatives do not exist
 * there.  h = 1e-4 with float32 forward passes: on the examples the
 * largest error is about a third of the tolerance 2e-4 + 1e-2 |gradient|.
 */
#include "cnnrt_cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gc_job {
    const cnnrt_model *m;
    void *ctx;
    int n;
    float *x, *targets, *out;
    int32_t *labels;
    float *saved;       /* the unperturbed parameter block */
    float *grads;       /* the reported gradients */
    double h, atol, rtol;
} gc_job;

typedef struct gc_tally {
    int checked, kinks, failed, masked;
    double worst;       /* largest |fd - an| / (atol + rtol * |an|) */
} gc_tally;

/* The mean loss of the current parameters, in double. */
static double gc_loss(gc_job *j)
{
    const cnnrt_model *m = j->m;
    size_t k = m->out_size;
    double sum = 0;
    m->forward(j->ctx, j->x, j->n, j->out);
    for (int i = 0; i < j->n; i++) {
        const float *o = j->out + (size_t)i * k;
        if (m->loss == CNNRT_LOSS_MSE) {
            for (size_t c = 0; c < k; c++) {
                double d = (double)o[c] - j->targets[(size_t)i * k + c];
                sum += d * d / (double)k;
            }
            continue;
        }
        double mx = o[cnnrt_argmax(o, k)], z = 0;
        for (size_t c = 0; c < k; c++)
            z += exp((double)o[c] - mx);
        sum += mx + log(z) - o[j->labels[i]];
    }
    return sum / j->n;
}

/* d = P(e_at) restricted to [lo, hi) of the parameter block. */
static void gc_direction(gc_job *j, size_t at, size_t lo, size_t hi, float *d)
{
    float *p = j->m->param_block(j->ctx);
    memset(p, 0, j->m->param_count * sizeof *p);
    p[at] = 1;
    j->m->constrain(j->ctx);
    memcpy(d, p + lo, (hi - lo) * sizeof *d);
    memcpy(p, j->saved, j->m->param_count * sizeof *p);
}

/* L(w + s h d) for the tensor [lo, hi). */
static double gc_loss_at(gc_job *j, const float *d, size_t lo, size_t hi, double s)
{
    float *p = j->m->param_block(j->ctx);
    for (size_t i = lo; i < hi; i++)
        p[i] = (float)(j->saved[i] + s * j->h * d[i - lo]);
    double l = gc_loss(j);
    memcpy(p + lo, j->saved + lo, (hi - lo) * sizeof *p);
    return l;
}

/* Checks coordinate `at` of the parameter block, which lies in p. */
static void gc_coordinate(gc_job *j, const cnnrt_param_info *p, size_t at, float *d,
                          double l0, gc_tally *t)
{
    size_t lo = p->offset, hi = p->offset + p->count;
    gc_direction(j, at, lo, hi, d);
    double pjj = d[at - lo], an = j->grads[at];
    if (pjj == 0) {
        t->masked++;
        if (an != 0) {
            t->failed++;
            t->worst = INFINITY;
            fprintf(stderr, "  %s[%zu]: masked, yet its gradient is %.6g\n", p->name, at - lo, an);
        }
        return;
    }
    double lp = gc_loss_at(j, d, lo, hi, 1), lm = gc_loss_at(j, d, lo, hi, -1);
    double fwd = (lp - l0) / j->h, bwd = (l0 - lm) / j->h, fd = (lp - lm) / (2 * j->h);
    if (fabs(fwd - bwd) > j->atol + j->rtol * fabs(fd)) {
        t->kinks++;
        return;
    }
    double pred = pjj * an, ratio = fabs(fd - pred) / (j->atol + j->rtol * fabs(pred));
    t->checked++;
    if (ratio > t->worst)
        t->worst = ratio;
    if (ratio > 1) {
        t->failed++;
        fprintf(stderr, "  %s[%zu]: finite difference %.6g, gradient predicts %.6g\n",
                p->name, at - lo, fd, pred);
    }
}

/* Samples K coordinates of parameter p (all of them if it has fewer). */
static gc_tally gc_tensor(gc_job *j, const cnnrt_param_info *p, int k, cnnrt_rng *r,
                          double l0, float *d)
{
    gc_tally t = {0, 0, 0, 0, 0};
    size_t lo = p->offset;
    for (int s = 0; s < k && (size_t)s < p->count; s++) {
        size_t at = (size_t)k >= p->count ? lo + (size_t)s
                                          : lo + (size_t)cnnrt_rng_below(r, p->count);
        gc_coordinate(j, p, at, d, l0, &t);
    }
    return t;
}

static int gc_alloc(gc_job *j, const cnnrt_model *m, int n)
{
    size_t x = (size_t)n * m->in_size, o = (size_t)n * m->out_size;
    j->x = malloc(x * sizeof *j->x);
    j->targets = malloc(o * sizeof *j->targets);
    j->out = malloc(o * sizeof *j->out);
    j->labels = malloc((size_t)n * sizeof *j->labels);
    j->saved = malloc(m->param_count * sizeof *j->saved);
    j->grads = malloc(m->param_count * sizeof *j->grads);
    return j->x && j->targets && j->out && j->labels && j->saved && j->grads ? 0 : -1;
}

static void gc_free(gc_job *j)
{
    if (j->ctx)
        j->m->destroy(j->ctx);
    free(j->x);
    free(j->targets);
    free(j->out);
    free(j->labels);
    free(j->saved);
    free(j->grads);
}

/* A random batch, the parameters (from --weights or a seeded init), and the
 * reported gradients. */
static int gc_setup(gc_job *j, const cnnrt_opts *o, cnnrt_rng *r, char *err, size_t errlen)
{
    const cnnrt_model *m = j->m;
    if (gc_alloc(j, m, j->n) < 0)
        return cnnrt_errorf(err, errlen, "out of memory");
    j->ctx = cnnrt_cli_context(m, j->n, 1, err, errlen);
    if (!j->ctx)
        return -1;
    if (HAS(o, FLAG_WEIGHTS) ? cnnrt_load_weights(m, j->ctx, o->weights, err, errlen) < 0
                             : (cnnrt_init_params(m, j->ctx, o->seed), 0))
        return -1;
    for (size_t i = 0; i < (size_t)j->n * m->in_size; i++)
        j->x[i] = (float)cnnrt_rng_double(r);
    for (size_t i = 0; i < (size_t)j->n * m->out_size; i++)
        j->targets[i] = (float)cnnrt_rng_double(r);
    for (int i = 0; i < j->n; i++)
        j->labels[i] = (int32_t)cnnrt_rng_below(r, m->out_size);
    float loss = m->gradients(j->ctx, j->x, j->labels, j->targets, j->n, j->out);
    if (!isfinite(loss))
        return cnnrt_errorf(err, errlen, "the loss is %f on the random batch", (double)loss);
    memcpy(j->grads, m->grad_block(j->ctx), m->param_count * sizeof *j->grads);
    memcpy(j->saved, m->param_block(j->ctx), m->param_count * sizeof *j->saved);
    return 0;
}

int cnnrt_cmd_gradcheck(const cnnrt_model *m, const cnnrt_opts *o)
{
    char err[CNNRT_ERR_MAX];
    gc_job j = {.m = m, .n = HAS(o, FLAG_BATCH) ? o->batch : 4,
                .h = 1e-4, .atol = 2e-4, .rtol = 1e-2};
    int k = HAS(o, FLAG_SAMPLES) ? o->samples : 32, failed = 0, kinks = 0, checked = 0;
    cnnrt_rng r;
    float *d = NULL;

    cnnrt_rng_seed(&r, o->seed ^ 0x9e3779b97f4a7c15u);
    if (gc_setup(&j, o, &r, err, sizeof err) < 0) {
        gc_free(&j);
        return cnnrt_cli_fail(o, err);
    }
    d = malloc(m->param_count * sizeof *d);
    if (!d) {
        gc_free(&j);
        return cnnrt_cli_fail(o, "out of memory");
    }
    double l0 = gc_loss(&j);
    printf("%-24s %8s %8s %6s %6s %8s\n", "parameter", "checked", "skipped", "masked", "failed",
           "worst");
    for (int i = 0; i < m->nparams; i++) {
        gc_tally t = gc_tensor(&j, &m->params[i], k, &r, l0, d);
        printf("%-24s %8d %8d %6d %6d %8.3f\n", m->params[i].name, t.checked, t.kinks,
               t.masked, t.failed, t.worst);
        failed += t.failed;
        kinks += t.kinks;
        checked += t.checked;
    }
    free(d);
    gc_free(&j);
    printf("gradcheck: %d coordinates checked, %d skipped at kinks, %d failed "
           "(|fd - grad| <= %g + %g |grad|)\n", checked, kinks, failed, j.atol, j.rtol);
    if (failed || kinks > checked / 4) {
        snprintf(err, sizeof err, "gradcheck failed: %d mismatches, %d of %d coordinates at "
                 "kinks", failed, kinks, checked + kinks);
        return cnnrt_cli_fail(o, err);
    }
    return CNNRT_EXIT_OK;
}
