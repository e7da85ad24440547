/* cnnrt_driver.c - cnnrt_main(): the generated program's command line.
 *
 *   PROG COMMAND [--flag VALUE | --flag=VALUE]...
 *
 * Exit status: 0 success, 1 bad input (a file, data, a non-finite loss),
 * 2 bad usage.  Every output file is written atomically.  This file holds
 * the parsing, the usage text, and the commands that work on one batch
 * from .npy files (init, forward, predict, grad, step) plus info;
 * cnnrt_train.c has train, eval and bench.
 */
#include "cnnrt_cli.h"
#include "cnnrt_dist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ flags */
#define B(f) (1u << (f))

static const char *const flag_names[NFLAGS] = {
    [FLAG_DATA] = "data", [FLAG_WEIGHTS] = "weights", [FLAG_INPUT] = "input",
    [FLAG_LABELS] = "labels", [FLAG_OUTPUT] = "output", [FLAG_SAVE] = "save",
    [FLAG_RESUME] = "resume", [FLAG_EPOCHS] = "epochs", [FLAG_BATCH] = "batch",
    [FLAG_LR] = "lr", [FLAG_MOMENTUM] = "momentum", [FLAG_WD] = "weight-decay",
    [FLAG_SEED] = "seed", [FLAG_THREADS] = "threads", [FLAG_STEPS] = "steps",
    [FLAG_SAMPLES] = "samples",
    [FLAG_LOG] = "log", [FLAG_LOG_EVERY] = "log-every", [FLAG_PLOT] = "plot",
};

typedef struct command {
    const char *name;
    int (*run)(const cnnrt_model *m, const cnnrt_opts *o);
    unsigned allowed, required;
    const char *usage, *help;
} command;

static int cmd_predict(const cnnrt_model *m, const cnnrt_opts *o);
static int cmd_forward(const cnnrt_model *m, const cnnrt_opts *o);
static int cmd_grad(const cnnrt_model *m, const cnnrt_opts *o);
static int cmd_step(const cnnrt_model *m, const cnnrt_opts *o);
static int cmd_init(const cnnrt_model *m, const cnnrt_opts *o);
static int cmd_info(const cnnrt_model *m, const cnnrt_opts *o);

#define HYPER (B(FLAG_LR) | B(FLAG_MOMENTUM) | B(FLAG_WD))
#define ONE_BATCH (B(FLAG_WEIGHTS) | B(FLAG_INPUT) | B(FLAG_OUTPUT))

static const command commands[] = {
    {"train", cnnrt_cmd_train,
     B(FLAG_DATA) | B(FLAG_EPOCHS) | B(FLAG_BATCH) | HYPER | B(FLAG_THREADS) | B(FLAG_SEED) |
         B(FLAG_SAVE) | B(FLAG_RESUME) | B(FLAG_LOG) | B(FLAG_LOG_EVERY) | B(FLAG_PLOT),
     B(FLAG_DATA),
     "train --data DIR [--epochs N] [--batch B] [--lr X] [--momentum M]\n"
     "        [--weight-decay W] [--threads T] [--seed S] [--save W.npz] [--resume W.npz]\n"
     "        [--log FILE.csv] [--log-every N] [--plot FILE.svg]",
     "train with SGD; test loss and accuracy after every epoch; --log: a CSV row per\n"
     "      epoch (and every N steps with --log-every) of step, epoch, loss, train_acc,\n"
     "      test_acc, images_per_s, seconds; --plot: loss and accuracy curves as SVG"},
    {"eval", cnnrt_cmd_eval, B(FLAG_DATA) | B(FLAG_WEIGHTS) | B(FLAG_BATCH) | B(FLAG_THREADS),
     B(FLAG_DATA) | B(FLAG_WEIGHTS), "eval --data DIR --weights W.npz [--batch B] [--threads T]",
     "test-set loss and accuracy"},
    {"predict", cmd_predict, ONE_BATCH | B(FLAG_BATCH) | B(FLAG_THREADS), ONE_BATCH,
     "predict --weights W.npz --input X.npy --output P.npy [--batch B] [--threads T]",
     "class probabilities (softmax of the outputs; the outputs for mse)"},
    {"forward", cmd_forward, ONE_BATCH | B(FLAG_BATCH) | B(FLAG_THREADS), ONE_BATCH,
     "forward --weights W.npz --input X.npy --output Y.npy [--batch B] [--threads T]",
     "raw outputs (logits)"},
    {"grad", cmd_grad, ONE_BATCH | B(FLAG_LABELS) | B(FLAG_THREADS),
     ONE_BATCH | B(FLAG_LABELS),
     "grad --weights W.npz --input X.npy --labels L.npy --output G.npz [--threads T]",
     "loss, outputs and NAME.grad for every parameter, on one batch"},
    {"step", cmd_step, ONE_BATCH | B(FLAG_LABELS) | B(FLAG_STEPS) | HYPER | B(FLAG_THREADS),
     ONE_BATCH | B(FLAG_LABELS),
     "step --weights W.npz --input X.npy --labels L.npy --output W2.npz [--steps K]\n"
     "        [--lr X] [--momentum M] [--weight-decay W] [--threads T]",
     "K optimizer steps on one batch (fresh momentum); the resulting parameters"},
    {"init", cmd_init, B(FLAG_SEED) | B(FLAG_OUTPUT), B(FLAG_OUTPUT),
     "init [--seed S] --output W.npz", "freshly initialised parameters"},
    {"bench", cnnrt_cmd_bench, B(FLAG_BATCH) | B(FLAG_THREADS) | B(FLAG_STEPS), 0,
     "bench [--batch B] [--threads T] [--steps K]",
     "images/s of train steps and inference, batch-1 latency"},
    {"gradcheck", cnnrt_cmd_gradcheck,
     B(FLAG_WEIGHTS) | B(FLAG_SEED) | B(FLAG_BATCH) | B(FLAG_SAMPLES), 0,
     "gradcheck [--weights W.npz] [--seed S] [--batch B] [--samples K]",
     "gradients against central finite differences on a random batch"},
    {"info", cmd_info, 0, 0, "info", "layers, shapes, parameters, memory"},
};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f, const char *prog)
{
    fprintf(f, "usage: %s COMMAND [options]\n\ncommands:\n", prog);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %s %s\n      %s\n", prog, commands[i].usage, commands[i].help);
    fprintf(f, "  %s help\n\n"
               "Flags override the network's train (...) defaults.  --threads defaults to 1\n"
               "for predict/forward/grad/step and to all cores for train/eval/bench.\n"
               "Exit status: 0 success, 1 bad input, 2 bad usage.\n", prog);
}

static int usage_error(const cnnrt_opts *o, const command *c, const char *fmt,
                       const char *arg)
{
    if (o->quiet) {         /* for rank 0 to print (cnnrt_main_dist) */
        if (o->usage_msg)
            snprintf(o->usage_msg, o->usage_len, fmt, arg);
        return CNNRT_EXIT_USAGE;
    }
    fprintf(stderr, "%s: ", o->prog);
    fprintf(stderr, fmt, arg);
    if (c)
        fprintf(stderr, "\nusage: %s %s\n", o->prog, c->usage);
    else
        fprintf(stderr, "\nrun '%s help' for the list of commands\n", o->prog);
    return CNNRT_EXIT_USAGE;
}

/* ----------------------------------------------------------- flag values */
static int parse_int(const char *s, long long lo, long long hi, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *s && !*end && !errno && *v >= lo && *v <= hi ? 0 : -1;
}

static int parse_float(const char *s, float *v)
{
    char *end;
    double d = strtod(s, &end);
    *v = (float)d;
    return *s && !*end && isfinite(d) && d >= 0 && d < 1e30 ? 0 : -1;
}

static int parse_seed(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return *s >= '0' && *s <= '9' && !*end && !errno ? 0 : -1;
}

/* Stores the value of flag f; -1 (message printed) if it is malformed. */
static int set_flag(cnnrt_opts *o, const command *c, int f, const char *v)
{
    long long n = 0;
    int bad = 0;
    switch (f) {
    case FLAG_DATA: o->data = v; break;
    case FLAG_WEIGHTS: o->weights = v; break;
    case FLAG_INPUT: o->input = v; break;
    case FLAG_LABELS: o->labels = v; break;
    case FLAG_OUTPUT: o->output = v; break;
    case FLAG_SAVE: o->save = v; break;
    case FLAG_RESUME: o->resume = v; break;
    case FLAG_EPOCHS: bad = parse_int(v, 1, 1000000, &n); o->epochs = (int)n; break;
    case FLAG_BATCH: bad = parse_int(v, 1, 1 << 20, &n); o->batch = (int)n; break;
    case FLAG_THREADS: bad = parse_int(v, 1, 1024, &n); o->threads = (int)n; break;
    case FLAG_STEPS: bad = parse_int(v, 1, 100000000, &n); o->steps = (int)n; break;
    case FLAG_SAMPLES: bad = parse_int(v, 1, 1000000, &n); o->samples = (int)n; break;
    case FLAG_LR: bad = parse_float(v, &o->lr); break;
    case FLAG_MOMENTUM: bad = parse_float(v, &o->momentum); break;
    case FLAG_WD: bad = parse_float(v, &o->weight_decay); break;
    case FLAG_SEED: bad = parse_seed(v, &o->seed); break;
    case FLAG_LOG: o->log = v; break;
    case FLAG_PLOT: o->plot = v; break;
    case FLAG_LOG_EVERY: bad = parse_int(v, 1, 100000000, &n); o->log_every = (int)n; break;
    default: break;
    }
    if (bad) {
        char msg[160];
        const char *kind = f == FLAG_LR || f == FLAG_MOMENTUM || f == FLAG_WD
                               ? "a number >= 0 and < 1e30"
                           : f == FLAG_SEED ? "an integer from 0 to 2^64-1"
                                            : "a positive integer";
        snprintf(msg, sizeof msg, "--%s expects %s, got '%%s'", flag_names[f], kind);
        usage_error(o, c, msg, v);
        return -1;
    }
    if (*v == '\0') {
        char msg[96];
        snprintf(msg, sizeof msg, "--%s needs a non-empty value%%s", flag_names[f]);
        usage_error(o, c, msg, "");
        return -1;
    }
    o->set |= B(f);
    return 0;
}

/* Parses argv[2..]; returns 0 or an exit status (message printed). */
static int parse_flags(cnnrt_opts *o, const command *c, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        char name[64];
        const char *a = argv[i], *eq, *val;
        int f;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s %s\n  %s\n", o->prog, c->usage, c->help);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0)
            return usage_error(o, c, "unexpected argument '%s'", a);
        eq = strchr(a, '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - a - 2 : (ptrdiff_t)strlen(a + 2)),
                 a + 2);
        for (f = 0; f < NFLAGS; f++)
            if (strcmp(name, flag_names[f]) == 0)
                break;
        if (f == NFLAGS)
            return usage_error(o, c, "unknown option '%s'", a);
        if (!(c->allowed & B(f)))
            return usage_error(o, c, "option '%s' does not apply to this command", a);
        if (HAS(o, f))
            return usage_error(o, c, "option '%s' is given twice", a);
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            val = argv[++i];
        else
            return usage_error(o, c, "option '%s' needs a value (--flag VALUE or --flag=VALUE)",
                               a);
        if (set_flag(o, c, f, val) < 0)
            return CNNRT_EXIT_USAGE;
    }
    for (int f = 0; f < NFLAGS; f++)
        if ((c->required & B(f)) && !HAS(o, f)) {
            char msg[64];
            snprintf(msg, sizeof msg, "missing --%s%%s", flag_names[f]);
            return usage_error(o, c, msg, "");
        }
    return 0;
}

/* Under MPI (d given), commands other than these run on rank 0 alone. */
static int data_parallel(const command *c)
{
    return c->run == cnnrt_cmd_train || c->run == cnnrt_cmd_eval || c->run == cnnrt_cmd_bench;
}

/* The command line into o and *c: 0 to run *c, -1 when help was printed,
 * else the exit status. */
static int parse_command_line(cnnrt_opts *o, int argc, char **argv, const command **c)
{
    if (argc < 2) {
        if (!o->quiet)
            usage(stderr, o->prog);
        return CNNRT_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout, o->prog);
        return -1;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            *c = &commands[i];
            return parse_flags(o, *c, argc, argv);
        }
    return usage_error(o, NULL, "unknown command '%s'", argv[1]);
}

/* Under MPI every rank must run: if one would not (its command line is
 * wrong, or asks for help), none does, and rank 0 says why. */
static int agree_to_run(cnnrt_dist *d, const cnnrt_opts *o, int rc, char *why, size_t len)
{
    if (rc < 0)
        snprintf(why, len, "its command line asks for help");
    else if (rc > 0 && !why[0])
        snprintf(why, len, "bad usage");
    if (d->agree(d, rc != 0, why, len) == 0)
        return 0;
    if (rc == 0 && !o->quiet)      /* else rank 0 has printed its own usage error */
        fprintf(stderr, "%s: %s\n", o->prog, why);
    return -1;
}

int cnnrt_main_dist(int argc, char **argv, const cnnrt_model *m, cnnrt_dist *d)
{
    cnnrt_opts o;
    const command *c = NULL;
    const char *slash;
    char why[CNNRT_ERR_MAX] = "";
    int rc;
    memset(&o, 0, sizeof o);
    o.prog = argc > 0 && argv[0] ? argv[0] : m->name;
    slash = strrchr(o.prog, '/');
    if (slash)
        o.prog = slash + 1;
    o.dist = d;
    o.quiet = d && d->rank != 0;
    o.usage_msg = why;
    o.usage_len = sizeof why;
    rc = parse_command_line(&o, argc, argv, &c);
    if (d && agree_to_run(d, &o, rc, why, sizeof why) < 0)
        return rc < 0 ? CNNRT_EXIT_OK : rc > 0 ? rc : CNNRT_EXIT_USAGE;
    if (rc != 0)
        return rc < 0 ? CNNRT_EXIT_OK : rc;
    if (o.quiet && !data_parallel(c))
        return CNNRT_EXIT_OK;
    rc = c->run(m, &o);
    fflush(stdout);
    return rc;
}

/* A program built without --mpi that mpirun starts P times trains P times
 * over, each copy alone: say so (Open MPI, MPICH and PMIx set these). */
static void warn_if_under_mpirun(const char *prog)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) {
            fprintf(stderr, "%s: warning: started by mpirun as one of %d processes, but built "
                    "without cnnc --mpi: each trains alone\n", prog, atoi(v));
            return;
        }
    }
}

int cnnrt_main(int argc, char **argv, const cnnrt_model *m)
{
    if (argc > 1 && strcmp(argv[1], "train") == 0) {
        const char *slash = strrchr(argv[0], '/');
        warn_if_under_mpirun(slash ? slash + 1 : argv[0]);
    }
    return cnnrt_main_dist(argc, argv, m, NULL);
}

/* --------------------------------------------------------- shared helpers */
int cnnrt_cli_fail(const cnnrt_opts *o, const char *msg)
{
    fflush(stdout);
    if (!o->quiet)
        fprintf(stderr, "%s: %s\n", o->prog, msg);
    return CNNRT_EXIT_ERROR;
}

cnnrt_hparams cnnrt_cli_hparams(const cnnrt_model *m, const cnnrt_opts *o)
{
    cnnrt_hparams hp = m->defaults;
    if (HAS(o, FLAG_LR))
        hp.lr = o->lr;
    if (HAS(o, FLAG_MOMENTUM))
        hp.momentum = o->momentum;
    if (HAS(o, FLAG_WD))
        hp.weight_decay = o->weight_decay;
    if (HAS(o, FLAG_BATCH))
        hp.batch = o->batch;
    if (HAS(o, FLAG_EPOCHS))
        hp.epochs = o->epochs;
    if (HAS(o, FLAG_SEED))
        hp.seed = o->seed;
    if (hp.batch < 1)
        hp.batch = 32;
    if (hp.epochs < 1)
        hp.epochs = 1;
    return hp;
}

void *cnnrt_cli_context(const cnnrt_model *m, int max_batch, int threads,
                        char *err, size_t errlen)
{
    void *ctx = m->create(max_batch);
    if (!ctx) {
        cnnrt_errorf(err, errlen, "out of memory: a context for batch %d needs %.1f MiB",
                     max_batch, (double)m->workspace_bytes(max_batch) / 1048576.0);
        return NULL;
    }
    if (m->set_threads)
        m->set_threads(ctx, threads);
    memset(m->momentum_block(ctx), 0, m->param_count * sizeof(float));
    return ctx;
}

size_t cnnrt_argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

const cnnrt_param_info *cnnrt_cli_nonfinite(const cnnrt_model *m, const float *block,
                                            int64_t *index, float *value)
{
    for (int i = 0; i < m->nparams; i++) {
        const cnnrt_param_info *p = &m->params[i];
        int64_t k = cnnrt_find_nonfinite(block + p->offset, p->count);
        if (k >= 0) {
            *index = k;
            *value = block[p->offset + (size_t)k];
            return p;
        }
    }
    return NULL;
}

static int threads_or(const cnnrt_opts *o, int dflt)
{
    return HAS(o, FLAG_THREADS) ? o->threads : dflt;
}

/* ------------------------------------------------------ input files */
/* X.npy: float32 [N, in_shape...] exactly. */
static int load_input(const cnnrt_model *m, const char *path, cnnrt_tensor *x,
                      char *err, size_t errlen)
{
    char want[200], got[160];
    int64_t shape[CNNRT_MAX_RANK], bad;
    if (cnnrt_npy_read(path, x, err, errlen) < 0)
        return -1;
    shape[0] = x->rank > 0 ? x->shape[0] : 0;
    memcpy(shape + 1, m->in_shape, (size_t)m->in_rank * sizeof *shape);
    cnnrt_shape_str(m->in_rank, m->in_shape, got, sizeof got);
    snprintf(want, sizeof want, "[N, %s", got + 1);
    if (x->dtype != CNNRT_F32) {
        cnnrt_errorf(err, errlen, "%s: expected dtype float32 ('<f4'), got %s ('%s')", path,
                     cnnrt_dtype_name(x->dtype), cnnrt_dtype_descr(x->dtype));
    } else if (m->in_rank + 1 > CNNRT_MAX_RANK || x->rank < 1 ||
               !cnnrt_shape_eq(x->rank, x->shape, m->in_rank + 1, shape)) {
        cnnrt_errorf(err, errlen, "%s: expected shape %s (N samples of the model's input), "
                     "got %s", path, want, cnnrt_shape_str(x->rank, x->shape, got, sizeof got));
    } else if (x->shape[0] > (1 << 30)) {
        cnnrt_errorf(err, errlen, "%s: too many samples (%lld)", path, (long long)x->shape[0]);
    } else if ((bad = cnnrt_find_nonfinite(x->data, x->count)) >= 0) {
        cnnrt_errorf(err, errlen, "%s: sample %lld holds %f (flat index %lld): inputs must be "
                     "finite", path, (long long)((size_t)bad / m->in_size),
                     (double)((const float *)x->data)[bad], (long long)bad);
    } else {
        return 0;
    }
    cnnrt_tensor_free(x);
    return -1;
}

static int is_int_dtype(cnnrt_dtype dt)
{
    return dt != CNNRT_F32 && dt != CNNRT_F64 && dt != CNNRT_BOOL;
}

/* L.npy for softmax_cross_entropy: integer class indices [n] in range. */
static int load_class_labels(const cnnrt_model *m, const char *path, int64_t n,
                             int32_t **labels, char *err, size_t errlen)
{
    cnnrt_tensor t;
    char got[160];
    if (cnnrt_npy_read(path, &t, err, errlen) < 0)
        return -1;
    if (!is_int_dtype(t.dtype) || t.rank != 1 || t.shape[0] != n) {
        cnnrt_errorf(err, errlen, "%s: expected int64 or int32 class indices [%lld], got %s %s",
                     path, (long long)n, cnnrt_dtype_name(t.dtype),
                     cnnrt_shape_str(t.rank, t.shape, got, sizeof got));
        cnnrt_tensor_free(&t);
        return -1;
    }
    *labels = malloc((size_t)(n ? n : 1) * sizeof **labels);
    for (int64_t i = 0; *labels && i < n; i++) {
        double v = cnnrt_tensor_get(&t, (size_t)i);
        if (v < 0 || v >= (double)m->out_size) {
            cnnrt_errorf(err, errlen, "%s: label %.0f at index %lld is out of range: the model "
                         "has %zu classes (0..%zu)", path, v, (long long)i, m->out_size,
                         m->out_size - 1);
            cnnrt_tensor_free(&t);
            free(*labels);
            *labels = NULL;
            return -1;
        }
        (*labels)[i] = (int32_t)v;
    }
    cnnrt_tensor_free(&t);
    return *labels ? 0 : cnnrt_errorf(err, errlen, "%s: out of memory", path);
}

/* L.npy for mse: float32 targets [n, out_shape...]; *targets owns t's data. */
static int load_targets(const cnnrt_model *m, const char *path, int64_t n, float **targets,
                        char *err, size_t errlen)
{
    cnnrt_tensor t;
    char want[200], got[160];
    int64_t shape[CNNRT_MAX_RANK], bad;
    if (cnnrt_npy_read(path, &t, err, errlen) < 0)
        return -1;
    shape[0] = n;
    memcpy(shape + 1, m->out_shape, (size_t)m->out_rank * sizeof *shape);
    if (t.dtype != CNNRT_F32 || !cnnrt_shape_eq(t.rank, t.shape, m->out_rank + 1, shape)) {
        cnnrt_errorf(err, errlen, "%s: expected float32 targets %s (mse loss), got %s %s", path,
                     cnnrt_shape_str(m->out_rank + 1, shape, want, sizeof want),
                     cnnrt_dtype_name(t.dtype), cnnrt_shape_str(t.rank, t.shape, got, sizeof got));
        cnnrt_tensor_free(&t);
        return -1;
    }
    if ((bad = cnnrt_find_nonfinite(t.data, t.count)) >= 0) {
        cnnrt_errorf(err, errlen, "%s: target %lld is %f: targets must be finite", path,
                     (long long)bad, (double)((const float *)t.data)[bad]);
        cnnrt_tensor_free(&t);
        return -1;
    }
    *targets = t.data;
    return 0;
}

/* The batch of a grad/step command: inputs, labels or targets, a context
 * for all N samples with the weights loaded. */
typedef struct batch_job {
    cnnrt_tensor x;
    int32_t *labels;
    float *targets;
    void *ctx;
    int n;
} batch_job;

static void job_free(const cnnrt_model *m, batch_job *j)
{
    cnnrt_tensor_free(&j->x);
    free(j->labels);
    free(j->targets);
    if (j->ctx)
        m->destroy(j->ctx);
}

static int job_load(const cnnrt_model *m, const cnnrt_opts *o, batch_job *j, char *err,
                    size_t errlen)
{
    memset(j, 0, sizeof *j);
    if (load_input(m, o->input, &j->x, err, errlen) < 0)
        return -1;
    j->n = (int)j->x.shape[0];
    if (j->n == 0)
        return cnnrt_errorf(err, errlen, "%s: no samples (N = 0)", o->input);
    if (m->loss == CNNRT_LOSS_MSE ? load_targets(m, o->labels, j->n, &j->targets, err, errlen)
                                  : load_class_labels(m, o->labels, j->n, &j->labels, err,
                                                      errlen))
        return -1;
    j->ctx = cnnrt_cli_context(m, j->n, threads_or(o, 1), err, errlen);
    if (!j->ctx)
        return -1;
    return cnnrt_load_weights(m, j->ctx, o->weights, err, errlen);
}

/* ------------------------------------------------------------- commands */
static int cmd_grad(const cnnrt_model *m, const cnnrt_opts *o)
{
    char err[CNNRT_ERR_MAX];
    batch_job j;
    cnnrt_npz_item *items = NULL;
    char (*keys)[512] = NULL;
    float *out = NULL, loss, value;
    int64_t oshape[CNNRT_MAX_RANK + 1], at;
    const cnnrt_param_info *bad;
    int rc = CNNRT_EXIT_ERROR;

    if (job_load(m, o, &j, err, sizeof err) < 0)
        goto done;
    out = malloc((size_t)j.n * m->out_size * sizeof *out);
    items = calloc((size_t)m->nparams + 2, sizeof *items);
    keys = calloc((size_t)m->nparams + 1, sizeof *keys);
    if (!out || !items || !keys) {
        snprintf(err, sizeof err, "out of memory");
        goto done;
    }
    loss = m->gradients(j.ctx, j.x.data, j.labels, j.targets, j.n, out);
    if (!isfinite(loss)) {
        snprintf(err, sizeof err, "the loss is %f on this batch (inputs or weights too large?)",
                 (double)loss);
        goto done;
    }
    if ((bad = cnnrt_cli_nonfinite(m, m->grad_block(j.ctx), &at, &value))) {
        snprintf(err, sizeof err, "the gradient of '%s' is %f at flat index %lld (inputs or "
                 "weights too large?)", bad->name, (double)value, (long long)at);
        goto done;
    }
    oshape[0] = j.n;
    memcpy(oshape + 1, m->out_shape, (size_t)m->out_rank * sizeof *oshape);
    items[0].name = "loss";
    items[0].t = cnnrt_tensor_view(CNNRT_F32, 0, NULL, &loss);
    items[1].name = "output";
    items[1].t = cnnrt_tensor_view(CNNRT_F32, m->out_rank + 1, oshape, out);
    for (int i = 0; i < m->nparams; i++) {
        const cnnrt_param_info *p = &m->params[i];
        snprintf(keys[i], sizeof keys[i], "%s.grad", p->name);
        items[i + 2].name = keys[i];
        items[i + 2].t = cnnrt_tensor_view(CNNRT_F32, p->rank, p->shape,
                                           m->grad_block(j.ctx) + p->offset);
    }
    if (cnnrt_npz_write(o->output, items, m->nparams + 2, err, sizeof err) == 0) {
        printf("loss %.6f\n", (double)loss);
        rc = CNNRT_EXIT_OK;
    }
done:
    job_free(m, &j);
    free(out);
    free(items);
    free(keys);
    return rc ? cnnrt_cli_fail(o, err) : rc;
}

static int cmd_step(const cnnrt_model *m, const cnnrt_opts *o)
{
    char err[CNNRT_ERR_MAX];
    batch_job j;
    cnnrt_hparams hp = cnnrt_cli_hparams(m, o);
    int steps = HAS(o, FLAG_STEPS) ? o->steps : 1, rc = CNNRT_EXIT_ERROR;

    if (job_load(m, o, &j, err, sizeof err) < 0)
        goto done;
    for (int k = 1; k <= steps; k++) {
        float loss = m->train_step(j.ctx, j.x.data, j.labels, j.targets, j.n, &hp), value;
        int64_t at;
        const cnnrt_param_info *bad;
        if (!isfinite(loss)) {
            snprintf(err, sizeof err, "the loss is %f at step %d (learning rate %g too high?)",
                     (double)loss, k, (double)hp.lr);
            goto done;
        }
        if ((bad = cnnrt_cli_nonfinite(m, m->param_block(j.ctx), &at, &value))) {
            snprintf(err, sizeof err, "parameter '%s' became %f (flat index %lld) at step %d "
                     "(learning rate %g or inputs too large?)", bad->name, (double)value,
                     (long long)at, k, (double)hp.lr);
            goto done;
        }
        printf("step %d/%d loss %.6f\n", k, steps, (double)loss);
    }
    if (cnnrt_save_weights(m, j.ctx, o->output, NULL, err, sizeof err) == 0)
        rc = CNNRT_EXIT_OK;
done:
    job_free(m, &j);
    return rc ? cnnrt_cli_fail(o, err) : rc;
}

static void softmax_rows(float *v, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++, v += cols) {
        float mx = v[cnnrt_argmax(v, cols)];
        double sum = 0;
        for (size_t c = 0; c < cols; c++)
            sum += (v[c] = expf(v[c] - mx));
        for (size_t c = 0; c < cols; c++)
            v[c] = (float)(v[c] / sum);
    }
}

/* forward / predict: outputs of X in chunks of at most the context's batch. */
static int run_forward(const cnnrt_model *m, const cnnrt_opts *o, int probabilities)
{
    char err[CNNRT_ERR_MAX];
    cnnrt_tensor x, y;
    int64_t shape[CNNRT_MAX_RANK + 1];
    void *ctx = NULL;
    int n, chunk, rc = CNNRT_EXIT_ERROR;

    memset(&y, 0, sizeof y);
    if (load_input(m, o->input, &x, err, sizeof err) < 0)
        return cnnrt_cli_fail(o, err);
    n = (int)x.shape[0];
    chunk = HAS(o, FLAG_BATCH) ? o->batch : 256;
    chunk = n < chunk ? (n > 0 ? n : 1) : chunk;
    shape[0] = n;
    memcpy(shape + 1, m->out_shape, (size_t)m->out_rank * sizeof *shape);
    if (cnnrt_tensor_alloc(&y, CNNRT_F32, m->out_rank + 1, shape, err, sizeof err) < 0)
        goto done;
    ctx = cnnrt_cli_context(m, chunk, threads_or(o, 1), err, sizeof err);
    if (!ctx || cnnrt_load_weights(m, ctx, o->weights, err, sizeof err) < 0)
        goto done;
    for (int i = 0; i < n; i += chunk) {
        int k = n - i < chunk ? n - i : chunk;
        m->forward(ctx, (const float *)x.data + (size_t)i * m->in_size, k,
                   (float *)y.data + (size_t)i * m->out_size);
    }
    if (probabilities && m->loss == CNNRT_LOSS_SOFTMAX_CE)
        softmax_rows(y.data, (size_t)n, m->out_size);
    if (cnnrt_npy_write(o->output, &y, err, sizeof err) == 0)
        rc = CNNRT_EXIT_OK;
done:
    if (ctx)
        m->destroy(ctx);
    cnnrt_tensor_free(&x);
    cnnrt_tensor_free(&y);
    return rc ? cnnrt_cli_fail(o, err) : rc;
}

static int cmd_predict(const cnnrt_model *m, const cnnrt_opts *o)
{
    return run_forward(m, o, 1);
}

static int cmd_forward(const cnnrt_model *m, const cnnrt_opts *o)
{
    return run_forward(m, o, 0);
}

static int cmd_init(const cnnrt_model *m, const cnnrt_opts *o)
{
    char err[CNNRT_ERR_MAX];
    uint64_t seed = HAS(o, FLAG_SEED) ? o->seed : m->defaults.seed;
    void *ctx = cnnrt_cli_context(m, 1, 1, err, sizeof err);
    int rc;
    if (!ctx)
        return cnnrt_cli_fail(o, err);
    cnnrt_init_params(m, ctx, seed);
    rc = cnnrt_save_weights(m, ctx, o->output, NULL, err, sizeof err);
    m->destroy(ctx);
    if (rc < 0)
        return cnnrt_cli_fail(o, err);
    printf("%s: %zu parameters initialised with seed %llu\n", o->output, m->param_count,
           (unsigned long long)seed);
    return CNNRT_EXIT_OK;
}

static const char *loss_name(int loss)
{
    return loss == CNNRT_LOSS_MSE ? "mse" : "softmax_cross_entropy";
}

static char *bytes_str(double b, char *buf, size_t len)
{
    if (b >= 1048576.0)
        snprintf(buf, len, "%.1f MiB", b / 1048576.0);
    else
        snprintf(buf, len, "%.1f KiB", b / 1024.0);
    return buf;
}

static int cmd_info(const cnnrt_model *m, const cnnrt_opts *o)
{
    char a[160], b[160], c[64];
    const cnnrt_hparams *d = &m->defaults;
    int batch = d->batch > 0 ? d->batch : 32;
    (void)o;
    printf("network %s: input %s -> output %s, loss %s\n", m->name,
           cnnrt_shape_str(m->in_rank, m->in_shape, a, sizeof a),
           cnnrt_shape_str(m->out_rank, m->out_shape, b, sizeof b), loss_name(m->loss));
    printf("\n%-12s %-10s %-18s %12s\n", "layer", "kind", "output", "parameters");
    for (int i = 0; i < m->nlayers; i++) {
        const cnnrt_layer_info *l = &m->layers[i];
        printf("%-12s %-10s %-18s %12zu\n", l->name, l->kind,
               cnnrt_shape_str(l->rank, l->shape, a, sizeof a), l->nparams);
    }
    printf("\n%-12s %-10s %-18s %12s\n", "parameter", "", "shape", "fan_in");
    for (int i = 0; i < m->nparams; i++) {
        const cnnrt_param_info *p = &m->params[i];
        printf("%-12s %-10s %-18s %12lld\n", p->name, "",
               cnnrt_shape_str(p->rank, p->shape, a, sizeof a), (long long)p->fan_in);
    }
    printf("\ntotal parameters: %zu (%s as float32)\n", m->param_count,
           bytes_str((double)m->param_count * 4, c, sizeof c));
    printf("workspace: %s at batch 1, ", bytes_str((double)m->workspace_bytes(1), a, sizeof a));
    printf("%s at batch %d\n", bytes_str((double)m->workspace_bytes(batch), b, sizeof b), batch);
    printf("train defaults: lr %g, momentum %g, weight decay %g, batch %d, epochs %d, "
           "seed %llu\n", (double)d->lr, (double)d->momentum, (double)d->weight_decay, d->batch,
           d->epochs, (unsigned long long)d->seed);
    return CNNRT_EXIT_OK;
}
