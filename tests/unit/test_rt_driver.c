/* test_rt_driver.c - cnnrt_main on the hand-written toy model (one dense
 * layer, tests/unit/toy_model.h): every command through its command line,
 * with files in a temporary directory, checked against direct calls of the
 * model's functions; bad input (exit 1) and bad usage (exit 2). */
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "rt_test_util.h"
#include "toy_model.h"

static char err[CNNRT_ERR_MAX];
static const char *dir;

typedef struct result {
    int rc;
    char out[1 << 16], err[1 << 13];
} result;

static result res;

static void read_fd_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs cnnrt_main(toy, "toy", args...) with stdout and stderr captured in res. */
static int run(const char *first, ...)
{
    char *argv[40];
    int argc = 0, o1 = dup(1), o2 = dup(2), f1, f2;
    const char *out = path_in(dir, ".stdout"), *er = path_in(dir, ".stderr");
    va_list ap;
    argv[argc++] = "toy";
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    f1 = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    f2 = open(er, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(f1, 1);
    dup2(f2, 2);
    res.rc = cnnrt_main(argc, argv, &toy_model);
    fflush(stdout);
    fflush(stderr);
    dup2(o1, 1);
    dup2(o2, 2);
    close(f1);
    close(f2);
    close(o1);
    close(o2);
    read_fd_file(out, res.out, sizeof res.out);
    read_fd_file(er, res.err, sizeof res.err);
    unlink(out);
    unlink(er);
    return res.rc;
}

static const char *P(const char *name)
{
    return path_in(dir, name);
}

#define N 5

/* X.npy [N, 1, 4, 4] float32, L.npy int64 labels, W.npz from init. */
static void setup(void)
{
    static float x[N * TOY_D];
    int64_t xs[4] = {N, 1, 4, 4}, ls[1] = {N};
    int64_t labels[N] = {0, 2, 1, 1, 2};
    cnnrt_tensor tx = cnnrt_tensor_view(CNNRT_F32, 4, xs, x);
    cnnrt_tensor tl = cnnrt_tensor_view(CNNRT_I64, 1, ls, labels);
    cnnrt_rng r;
    dir = temp_dir();
    toy_set_loss(CNNRT_LOSS_SOFTMAX_CE);
    cnnrt_rng_seed(&r, 1);
    for (int i = 0; i < N * TOY_D; i++)
        x[i] = cnnrt_rng_uniform(&r, -1, 1);
    ck_assert_int_eq(cnnrt_npy_write(P("X.npy"), &tx, err, sizeof err), 0);
    ck_assert_int_eq(cnnrt_npy_write(P("L.npy"), &tl, err, sizeof err), 0);
    ck_assert_msg(run("init", "--seed", "5", "--output", P("W.npz"), NULL) == 0, "%s", res.err);
}

static void *loaded_ctx(int max_batch)
{
    void *ctx = toy_model.create(max_batch);
    ck_assert_msg(cnnrt_load_weights(&toy_model, ctx, P("W.npz"), err, sizeof err) == 0, "%s",
                  err);
    return ctx;
}

static cnnrt_tensor npy(const char *name)
{
    cnnrt_tensor t;
    ck_assert_msg(cnnrt_npy_read(P(name), &t, err, sizeof err) == 0, "%s", err);
    return t;
}

START_TEST(init_writes_seeded_weights)
{
    cnnrt_npz z;
    size_t n1, n2;
    unsigned char *a, *b;
    ck_assert_int_eq(cnnrt_npz_read(P("W.npz"), &z, err, sizeof err), 0);
    ck_assert_int_eq(z.n, 2);
    ck_assert_str_eq(z.names[0], "fc.weight");
    ck_assert_int_eq(z.arrays[0].dtype, CNNRT_F32);
    ck_assert_int_eq(z.arrays[0].shape[0], 3);
    ck_assert_int_eq(z.arrays[0].shape[1], 16);
    ck_assert_str_eq(z.names[1], "fc.bias");
    for (size_t i = 0; i < z.arrays[1].count; i++)
        ck_assert(fabs(((float *)z.arrays[1].data)[i]) <= 0.25);
    cnnrt_npz_free(&z);
    ck_assert_int_eq(run("init", "--seed=5", "--output", P("W2.npz"), NULL), 0);
    a = slurp(P("W.npz"), &n1);
    b = slurp(P("W2.npz"), &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1);
    free(b);
    ck_assert_int_eq(run("init", "--seed", "6", "--output", P("W2.npz"), NULL), 0);
    b = slurp(P("W2.npz"), &n2);
    ck_assert(memcmp(a, b, n1) != 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(grad_matches_the_model)
{
    cnnrt_tensor x = npy("X.npy");
    int32_t labels[N] = {0, 2, 1, 1, 2};
    float out[N * TOY_K], loss;
    void *ctx = loaded_ctx(N);
    cnnrt_npz g;
    const cnnrt_tensor *t;
    ck_assert_msg(run("grad", "--weights", P("W.npz"), "--input", P("X.npy"), "--labels",
                      P("L.npy"), "--output", P("G.npz"), NULL) == 0, "%s", res.err);
    ck_assert_err_has(res.out, "loss ");
    loss = toy_model.gradients(ctx, x.data, labels, NULL, N, out);
    ck_assert_int_eq(cnnrt_npz_read(P("G.npz"), &g, err, sizeof err), 0);
    ck_assert_int_eq(g.n, 4);
    t = cnnrt_npz_get(&g, "loss");
    ck_assert_int_eq(t->rank, 0);
    ck_assert_float_eq(((float *)t->data)[0], loss);
    t = cnnrt_npz_get(&g, "output");
    ck_assert_int_eq(t->rank, 2);
    ck_assert_int_eq(t->shape[0], N);
    ck_assert_int_eq(t->shape[1], TOY_K);
    ck_assert_mem_eq(t->data, out, sizeof out);
    t = cnnrt_npz_get(&g, "fc.weight.grad");
    ck_assert_int_eq(t->shape[1], TOY_D);
    ck_assert_mem_eq(t->data, toy_model.grad_block(ctx), TOY_K * TOY_D * sizeof(float));
    t = cnnrt_npz_get(&g, "fc.bias.grad");
    ck_assert_mem_eq(t->data, toy_model.grad_block(ctx) + TOY_K * TOY_D, TOY_K * sizeof(float));
    cnnrt_npz_free(&g);
    toy_model.destroy(ctx);
    cnnrt_tensor_free(&x);
}
END_TEST

START_TEST(int32_labels_are_accepted)
{
    int32_t l[N] = {0, 2, 1, 1, 2};
    int64_t ls[1] = {N};
    cnnrt_tensor t = cnnrt_tensor_view(CNNRT_I32, 1, ls, l);
    ck_assert_int_eq(cnnrt_npy_write(P("L32.npy"), &t, err, sizeof err), 0);
    ck_assert_msg(run("grad", "--weights", P("W.npz"), "--input", P("X.npy"), "--labels",
                      P("L32.npy"), "--output", P("G.npz"), NULL) == 0, "%s", res.err);
}
END_TEST

START_TEST(step_matches_the_model)
{
    cnnrt_tensor x = npy("X.npy");
    int32_t labels[N] = {0, 2, 1, 1, 2};
    cnnrt_hparams hp = toy_model.defaults;
    void *ctx = loaded_ctx(N);
    cnnrt_npz z;
    ck_assert_msg(run("step", "--weights", P("W.npz"), "--input", P("X.npy"), "--labels",
                      P("L.npy"), "--output", P("S.npz"), "--steps", "3", "--lr", "0.05",
                      "--momentum", "0.5", NULL) == 0, "%s", res.err);
    ck_assert_err_has(res.out, "step 3/3 loss");
    hp.lr = 0.05f;
    hp.momentum = 0.5f;
    for (int k = 0; k < 3; k++)
        toy_model.train_step(ctx, x.data, labels, NULL, N, &hp);
    ck_assert_int_eq(cnnrt_npz_read(P("S.npz"), &z, err, sizeof err), 0);
    ck_assert_int_eq(z.n, 2);
    ck_assert_mem_eq(cnnrt_npz_get(&z, "fc.weight")->data, toy_model.param_block(ctx),
                     TOY_K * TOY_D * sizeof(float));
    ck_assert_mem_eq(cnnrt_npz_get(&z, "fc.bias")->data,
                     toy_model.param_block(ctx) + TOY_K * TOY_D, TOY_K * sizeof(float));
    cnnrt_npz_free(&z);
    toy_model.destroy(ctx);
    cnnrt_tensor_free(&x);
}
END_TEST

START_TEST(forward_and_predict)
{
    cnnrt_tensor x = npy("X.npy"), y, p;
    float out[N * TOY_K];
    void *ctx = loaded_ctx(N);
    toy_model.forward(ctx, x.data, N, out);
    ck_assert_msg(run("forward", "--weights", P("W.npz"), "--input", P("X.npy"), "--output",
                      P("Y.npy"), "--batch", "2", NULL) == 0, "%s", res.err);
    ck_assert_msg(run("predict", "--weights", P("W.npz"), "--input", P("X.npy"), "--output",
                      P("P.npy"), NULL) == 0, "%s", res.err);
    y = npy("Y.npy");
    p = npy("P.npy");
    ck_assert_int_eq(y.rank, 2);
    ck_assert_int_eq(y.shape[0], N);
    ck_assert_mem_eq(y.data, out, sizeof out);
    for (int i = 0; i < N; i++) {
        const float *z = out + i * TOY_K, *q = (float *)p.data + i * TOY_K;
        double s = 0, e = 0;
        for (int k = 0; k < TOY_K; k++)
            s += exp(z[k]);
        for (int k = 0; k < TOY_K; k++) {
            ck_assert_double_eq_tol(q[k], exp(z[k]) / s, 1e-6);
            e += q[k];
        }
        ck_assert_double_eq_tol(e, 1.0, 1e-6);
    }
    cnnrt_tensor_free(&x);
    cnnrt_tensor_free(&y);
    cnnrt_tensor_free(&p);
    toy_model.destroy(ctx);
}
END_TEST

START_TEST(mse_targets)
{
    float t[N * TOY_K] = {0};
    int64_t ts[2] = {N, TOY_K};
    cnnrt_tensor tt = cnnrt_tensor_view(CNNRT_F32, 2, ts, t);
    cnnrt_npz g;
    t[4] = 1;
    toy_set_loss(CNNRT_LOSS_MSE);
    ck_assert_int_eq(cnnrt_npy_write(P("T.npy"), &tt, err, sizeof err), 0);
    ck_assert_msg(run("grad", "--weights", P("W.npz"), "--input", P("X.npy"), "--labels",
                      P("T.npy"), "--output", P("G.npz"), NULL) == 0, "%s", res.err);
    ck_assert_int_eq(cnnrt_npz_read(P("G.npz"), &g, err, sizeof err), 0);
    ck_assert_float_gt(((float *)cnnrt_npz_get(&g, "loss")->data)[0], 0);
    cnnrt_npz_free(&g);
    ck_assert_int_eq(run("grad", "--weights", P("W.npz"), "--input", P("X.npy"), "--labels",
                         P("L.npy"), "--output", P("G2.npz"), NULL), 1);
    ck_assert_err_has(res.err, "L.npy: expected float32 targets [5, 3] (mse loss), got int64 [5]");
    ck_assert(!file_exists(P("G2.npz")));
}
END_TEST

/* Runs a grad that must fail with exit 1, a message, and no output file. */
static void expect_grad_error(const char *w, const char *x, const char *l, const char *msg)
{
    ck_assert_int_eq(run("grad", "--weights", P(w), "--input", P(x), "--labels", P(l),
                         "--output", P("bad.npz"), NULL), 1);
    ck_assert_err_has(res.err, msg);
    ck_assert(!file_exists(P("bad.npz")));
}

START_TEST(bad_inputs_exit_1)
{
    double xd[N * TOY_D] = {0};
    float xf[N * 9] = {0}, wb[3] = {0};
    double wd[3] = {0};
    int64_t xs[4] = {N, 1, 4, 4}, bad_s[4] = {N, 1, 3, 3}, ls[1] = {N}, three = 3;
    int64_t lbl[N] = {0, 1, 3, 0, 0};
    cnnrt_tensor t;
    cnnrt_npz z;
    cnnrt_npz_item items[2];

    t = cnnrt_tensor_view(CNNRT_F64, 4, xs, xd);
    cnnrt_npy_write(P("Xd.npy"), &t, err, sizeof err);
    expect_grad_error("W.npz", "Xd.npy", "L.npy",
                      "Xd.npy: expected dtype float32 ('<f4'), got float64 ('<f8')");
    t = cnnrt_tensor_view(CNNRT_F32, 4, bad_s, xf);
    cnnrt_npy_write(P("Xs.npy"), &t, err, sizeof err);
    expect_grad_error("W.npz", "Xs.npy", "L.npy",
                      "Xs.npy: expected shape [N, 1, 4, 4] (N samples of the model's input), "
                      "got [5, 1, 3, 3]");
    t = cnnrt_tensor_view(CNNRT_I64, 1, ls, lbl);
    cnnrt_npy_write(P("Lr.npy"), &t, err, sizeof err);
    expect_grad_error("W.npz", "X.npy", "Lr.npy", "Lr.npy: label 3 at index 2 is out of range");
    expect_grad_error("W.npz", "none.npy", "L.npy", "none.npy: cannot open");
    expect_grad_error("none.npz", "X.npy", "L.npy", "none.npz: cannot open");

    ck_assert_int_eq(cnnrt_npz_read(P("W.npz"), &z, err, sizeof err), 0);
    items[0].name = "fc.weight";
    items[0].t = z.arrays[0];
    cnnrt_npz_write(P("W1.npz"), items, 1, err, sizeof err);
    expect_grad_error("W1.npz", "X.npy", "L.npy",
                      "W1.npz: parameter 'fc.bias' is missing (expected float32 [3])");
    items[1].name = "fc.bias";
    items[1].t = cnnrt_tensor_view(CNNRT_F64, 1, &three, wd);
    cnnrt_npz_write(P("W2.npz"), items, 2, err, sizeof err);
    expect_grad_error("W2.npz", "X.npy", "L.npy",
                      "W2.npz: parameter 'fc.bias': expected dtype float32 ('<f4'), got float64");
    three = 2;
    items[1].t = cnnrt_tensor_view(CNNRT_F32, 1, &three, wb);
    cnnrt_npz_write(P("W3.npz"), items, 2, err, sizeof err);
    expect_grad_error("W3.npz", "X.npy", "L.npy",
                      "W3.npz: parameter 'fc.bias': expected shape [3], got [2]");
    cnnrt_npz_free(&z);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    ck_assert_int_eq(run(NULL), 2);
    ck_assert_err_has(res.err, "usage: toy COMMAND");
    ck_assert_int_eq(run("frobnicate", NULL), 2);
    ck_assert_err_has(res.err, "unknown command 'frobnicate'");
    ck_assert_int_eq(run("init", "--output", P("a.npz"), "--colour", "red", NULL), 2);
    ck_assert_err_has(res.err, "unknown option '--colour'");
    ck_assert_err_has(res.err, "usage: toy init");
    ck_assert_int_eq(run("grad", "--epochs", "3", NULL), 2);
    ck_assert_err_has(res.err, "option '--epochs' does not apply");
    ck_assert_int_eq(run("init", "--output", NULL), 2);
    ck_assert_err_has(res.err, "option '--output' needs a value");
    ck_assert_int_eq(run("init", NULL), 2);
    ck_assert_err_has(res.err, "missing --output");
    ck_assert_int_eq(run("step", "--weights", "w", "--input", "x", "--labels", "l", "--output",
                         "o", "--steps", "two", NULL), 2);
    ck_assert_err_has(res.err, "--steps expects a positive integer, got 'two'");
    ck_assert_int_eq(run("train", "--data", "d", "--lr", "-1", NULL), 2);
    ck_assert_int_eq(run("init", "extra", NULL), 2);
    ck_assert_int_eq(run("help", NULL), 0);
    ck_assert_err_has(res.out, "toy bench");
    ck_assert_int_eq(run("grad", "--help", NULL), 0);
    ck_assert_err_has(res.out, "usage: toy grad");
    ck_assert(!file_exists(P("a.npz")));
}
END_TEST

START_TEST(info_and_bench)
{
    ck_assert_int_eq(run("info", NULL), 0);
    ck_assert_err_has(res.out, "network toy: input [1, 4, 4] -> output [3]");
    ck_assert_err_has(res.out, "fc.weight");
    ck_assert_err_has(res.out, "total parameters: 51");
    ck_assert_msg(run("bench", "--batch", "4", "--steps", "3", "--threads", "1", NULL) == 0,
                  "%s", res.err);
    ck_assert_err_has(res.out, "\ntrain_img_per_s ");
    ck_assert_err_has(res.out, "\ninfer_img_per_s ");
    ck_assert_err_has(res.out, "\nlatency_us_b1 ");
}
END_TEST

/* A tiny learnable data set: the class is the quadrant (of three) that is
 * bright. */
static void write_idx(const char *path, int ndims, const uint32_t *dims, const uint8_t *data)
{
    unsigned char buf[8192];
    size_t n = 4, count = 1;
    buf[0] = buf[1] = 0;
    buf[2] = 8;
    buf[3] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++, n += 4) {
        buf[n] = buf[n + 1] = buf[n + 2] = 0;
        buf[n + 3] = (unsigned char)dims[i];
        count *= dims[i];
    }
    memcpy(buf + n, data, count);
    spit(path, buf, n + count);
}

static void write_split(const char *prefix, int count, unsigned seed)
{
    uint8_t img[64 * 16], lbl[64];
    uint32_t idims[3] = {(uint32_t)count, 4, 4}, ldims[1] = {(uint32_t)count};
    char name[128];
    cnnrt_rng r;
    cnnrt_rng_seed(&r, seed);
    for (int i = 0; i < count; i++) {
        lbl[i] = (uint8_t)cnnrt_rng_below(&r, 3);
        for (int p = 0; p < 16; p++) {
            int quadrant = (p / 8) * 2 + (p % 4) / 2;
            img[i * 16 + p] = (uint8_t)(quadrant == lbl[i] ? 200 + cnnrt_rng_below(&r, 55)
                                                           : cnnrt_rng_below(&r, 60));
        }
    }
    snprintf(name, sizeof name, "data/%s-images-idx3-ubyte", prefix);
    write_idx(P(name), 3, idims, img);
    snprintf(name, sizeof name, "data/%s-labels-idx1-ubyte", prefix);
    write_idx(P(name), 1, ldims, lbl);
}

static void make_data(void)
{
    ck_assert_int_eq(mkdir(P("data"), 0755), 0);
    write_split("train", 60, 1);
    write_split("t10k", 20, 2);
}

START_TEST(train_resume_is_bit_identical)
{
    size_t n1, n2;
    unsigned char *a, *b;
    cnnrt_npz z;
    make_data();
    ck_assert_msg(run("train", "--data", P("data"), "--epochs", "3", "--batch", "8", "--save",
                      P("A.npz"), NULL) == 0, "%s", res.err);
    ck_assert_err_has(res.out, "60 training and 20 test images [1, 4, 4] (idx");
    ck_assert_err_has(res.out, "epoch 1/3  loss ");
    ck_assert_err_has(res.out, "epoch 3/3  loss ");
    ck_assert_err_has(res.out, "test acc 100.00%");
    ck_assert_msg(run("train", "--data", P("data"), "--epochs", "1", "--batch", "8", "--save",
                      P("B.npz"), NULL) == 0, "%s", res.err);
    ck_assert_msg(run("train", "--data", P("data"), "--epochs", "3", "--batch", "8", "--resume",
                      P("B.npz"), "--save", P("B.npz"), NULL) == 0, "%s", res.err);
    ck_assert_err_has(res.out, "resuming from");
    ck_assert(strstr(res.out, "epoch 1/3") == NULL);
    a = slurp(P("A.npz"), &n1);
    b = slurp(P("B.npz"), &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1);
    free(a);
    free(b);
    ck_assert_int_eq(cnnrt_npz_read(P("A.npz"), &z, err, sizeof err), 0);
    ck_assert_ptr_nonnull(cnnrt_npz_get(&z, "fc.weight.momentum"));
    ck_assert_int_eq(((int64_t *)cnnrt_npz_get(&z, "_epoch")->data)[0], 3);
    ck_assert_int_eq(cnnrt_npz_get(&z, "_rng")->dtype, CNNRT_U64);
    cnnrt_npz_free(&z);
    /* a checkpoint is also a weights file */
    ck_assert_msg(run("eval", "--data", P("data"), "--weights", P("A.npz"), NULL) == 0, "%s",
                  res.err);
    ck_assert_err_has(res.out, "test acc 100.00%  (20 images)");
}
END_TEST

START_TEST(train_stops_on_a_non_finite_loss)
{
    size_t n1, n2;
    unsigned char *a, *b;
    make_data();
    ck_assert_int_eq(run("train", "--data", P("data"), "--epochs", "1", "--save", P("A.npz"),
                         NULL), 0);
    a = slurp(P("A.npz"), &n1);
    ck_assert_int_eq(run("train", "--data", P("data"), "--epochs", "2", "--lr", "1e25",
                         "--save", P("A.npz"), NULL), 1);
    /* the first step overflows the weights: the run stops at the second
     * (its loss or its parameters non-finite), before any save */
    ck_assert_err_has(res.err, "became");
    ck_assert_err_has(res.err, "at epoch 1, batch 2");
    b = slurp(P("A.npz"), &n2);              /* the earlier file is intact */
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1);
    free(a);
    free(b);
}
END_TEST

START_TEST(train_data_errors)
{
    char rec[3073] = {0};
    ck_assert_int_eq(run("train", "--data", P("nowhere"), NULL), 1);
    ck_assert_err_has(res.err, "nowhere: not a directory");
    ck_assert_int_eq(mkdir(P("cifar"), 0755), 0);
    spit(P("cifar/data_batch_1.bin"), rec, sizeof rec);
    spit(P("cifar/test_batch.bin"), rec, sizeof rec);
    ck_assert_int_eq(run("train", "--data", P("cifar"), NULL), 1);
    ck_assert_err_has(res.err, "images are [3, 32, 32] but the model toy expects input [1, 4, 4]");
}
END_TEST

/* The blocked search (cnnrt_util.c) against the plain one: the first
 * inf or NaN wherever it falls relative to the blocks of 256, or -1. */
START_TEST(find_nonfinite_finds_the_first)
{
    enum { NV = 1000 };
    static float v[NV];
    const float bad[3] = {INFINITY, -INFINITY, NAN};
    const size_t at[] = {0, 1, 255, 256, 257, 511, 700, 767, 768, 999};
    for (size_t i = 0; i < NV; i++)
        v[i] = i % 2 ? FLT_MAX : -FLT_MIN * (float)i;
    ck_assert_int_eq(cnnrt_find_nonfinite(v, NV), -1);
    ck_assert_int_eq(cnnrt_find_nonfinite(v, 0), -1);
    for (size_t a = 0; a < sizeof at / sizeof at[0]; a++)
        for (int k = 0; k < 3; k++) {
            const float keep = v[at[a]];
            v[at[a]] = bad[k];
            ck_assert_int_eq(cnnrt_find_nonfinite(v, NV), (int64_t)at[a]);
            ck_assert_int_eq(cnnrt_find_nonfinite(v, at[a]), -1);     /* not looked at */
            if (at[a] + 7 < NV) {                                      /* a second one after it */
                const float keep7 = v[at[a] + 7];
                v[at[a] + 7] = NAN;
                ck_assert_int_eq(cnnrt_find_nonfinite(v, NV), (int64_t)at[a]);
                v[at[a] + 7] = keep7;
            }
            v[at[a]] = keep;
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("driver");
    TCase *tc = tcase_create("driver");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, init_writes_seeded_weights);
    tcase_add_test(tc, grad_matches_the_model);
    tcase_add_test(tc, int32_labels_are_accepted);
    tcase_add_test(tc, step_matches_the_model);
    tcase_add_test(tc, forward_and_predict);
    tcase_add_test(tc, mse_targets);
    tcase_add_test(tc, bad_inputs_exit_1);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, info_and_bench);
    tcase_add_test(tc, train_resume_is_bit_identical);
    tcase_add_test(tc, train_stops_on_a_non_finite_loss);
    tcase_add_test(tc, train_data_errors);
    tcase_add_test(tc, find_nonfinite_finds_the_first);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
