/* toy_model.h - a hand-written cnnrt_model (one dense layer "fc", softmax
 * cross-entropy or mse) standing in for generated code in the runtime's
 * tests.  Define TOY_C, TOY_H, TOY_W (input [C, H, W]) and TOY_K (outputs)
 * before including to change its shape; TOY_LOSS picks the loss.
 * Everything is static so that a test includes it once. */
#ifndef TOY_MODEL_H
#define TOY_MODEL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

#ifndef TOY_C
#define TOY_C 1
#define TOY_H 4
#define TOY_W 4
#endif
#ifndef TOY_K
#define TOY_K 3
#endif
#define TOY_D (TOY_C * TOY_H * TOY_W)
#define TOY_NP (TOY_K * TOY_D + TOY_K)

typedef struct toy_ctx {
    int max_batch, threads, loss;
    float params[TOY_NP], grads[TOY_NP], momentum[TOY_NP];
    float *out;      /* [max_batch, K] */
} toy_ctx;

static int toy_loss_kind = CNNRT_LOSS_SOFTMAX_CE;

static inline size_t toy_workspace_bytes(int max_batch)
{
    return sizeof(toy_ctx) + (size_t)max_batch * TOY_K * sizeof(float);
}

static void *toy_create(int max_batch)
{
    toy_ctx *c = calloc(1, toy_workspace_bytes(max_batch));   /* one allocation */
    if (!c)
        return NULL;
    c->max_batch = max_batch;
    c->threads = 1;
    c->loss = toy_loss_kind;
    c->out = (float *)(c + 1);
    return c;
}

static inline void toy_destroy(void *ctx) { free(ctx); }
static float *toy_params(void *ctx) { return ((toy_ctx *)ctx)->params; }
static float *toy_grads(void *ctx) { return ((toy_ctx *)ctx)->grads; }
static float *toy_momentum(void *ctx) { return ((toy_ctx *)ctx)->momentum; }
static const float *toy_output(void *ctx) { return ((toy_ctx *)ctx)->out; }
static inline void toy_constrain(void *ctx) { (void)ctx; }
static inline void toy_set_threads(void *ctx, int t) { ((toy_ctx *)ctx)->threads = t; }

static inline void toy_forward(void *ctx, const float *x, int n, float *out)
{
    toy_ctx *c = ctx;
    const float *w = c->params, *b = c->params + TOY_K * TOY_D;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < TOY_K; k++) {
            float s = b[k];
            for (int d = 0; d < TOY_D; d++)
                s += w[k * TOY_D + d] * x[i * TOY_D + d];
            c->out[i * TOY_K + k] = s;
        }
    if (out)
        memcpy(out, c->out, (size_t)n * TOY_K * sizeof *out);
}

static inline float toy_gradients(void *ctx, const float *x, const int32_t *labels,
                           const float *targets, int n, float *out)
{
    toy_ctx *c = ctx;
    float *gw = c->grads, *gb = c->grads + TOY_K * TOY_D;
    double loss = 0;
    toy_forward(ctx, x, n, out);
    memset(c->grads, 0, sizeof c->grads);
    for (int i = 0; i < n; i++) {
        const float *z = c->out + i * TOY_K;
        float dz[TOY_K];
        if (c->loss == CNNRT_LOSS_MSE) {
            for (int k = 0; k < TOY_K; k++) {
                float e = z[k] - targets[i * TOY_K + k];
                loss += (double)e * e / (n * TOY_K);
                dz[k] = 2 * e / (float)(n * TOY_K);
            }
        } else {
            float mx = z[0], sum = 0;
            for (int k = 1; k < TOY_K; k++)
                mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < TOY_K; k++)
                sum += expf(z[k] - mx);
            loss += (log(sum) + mx - z[labels[i]]) / n;
            for (int k = 0; k < TOY_K; k++)
                dz[k] = (expf(z[k] - mx) / sum - (k == labels[i])) / (float)n;
        }
        for (int k = 0; k < TOY_K; k++) {
            gb[k] += dz[k];
            for (int d = 0; d < TOY_D; d++)
                gw[k * TOY_D + d] += dz[k] * x[i * TOY_D + d];
        }
    }
    return (float)loss;
}

/* torch.optim.SGD: g += wd*p; buf = m*buf + g; p -= lr*buf */
static inline float toy_train_step(void *ctx, const float *x, const int32_t *labels,
                            const float *targets, int n, const cnnrt_hparams *hp)
{
    toy_ctx *c = ctx;
    float loss = toy_gradients(ctx, x, labels, targets, n, NULL);
    for (int j = 0; j < TOY_NP; j++) {
        float g = c->grads[j] + hp->weight_decay * c->params[j];
        c->momentum[j] = hp->momentum * c->momentum[j] + g;
        c->params[j] -= hp->lr * c->momentum[j];
    }
    return loss;
}

static const cnnrt_param_info toy_params_info[2] = {
    {"fc.weight", 2, {TOY_K, TOY_D}, 0, TOY_K * TOY_D, TOY_D},
    {"fc.bias", 1, {TOY_K}, TOY_K * TOY_D, TOY_K, TOY_D},
};

static const cnnrt_layer_info toy_layers[2] = {
    {"flatten", "flatten", 1, {TOY_D}, 0},
    {"fc", "dense", 1, {TOY_K}, TOY_NP},
};

static cnnrt_model toy_model = {
    .name = "toy",
    .in_rank = 3,
    .in_shape = {TOY_C, TOY_H, TOY_W},
    .in_size = TOY_D,
    .out_rank = 1,
    .out_shape = {TOY_K},
    .out_size = TOY_K,
    .loss = CNNRT_LOSS_SOFTMAX_CE,
    .nparams = 2,
    .params = toy_params_info,
    .param_count = TOY_NP,
    .nlayers = 2,
    .layers = toy_layers,
    .defaults = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.001f, .batch = 4,
                 .epochs = 2, .seed = 7},
    .workspace_bytes = toy_workspace_bytes,
    .create = toy_create,
    .destroy = toy_destroy,
    .param_block = toy_params,
    .grad_block = toy_grads,
    .momentum_block = toy_momentum,
    .constrain = toy_constrain,
    .forward = toy_forward,
    .gradients = toy_gradients,
    .train_step = toy_train_step,
    .set_threads = toy_set_threads,
    .output_block = toy_output,
};

/* Switches the toy model to the mse loss (or back). */
static inline void toy_set_loss(int loss)
{
    toy_loss_kind = loss;
    toy_model.loss = loss;
}

#endif /* TOY_MODEL_H */
