/* cnnrt_cli.h - internals shared by the driver's files (cnnrt_driver.c:
 * parsing, files and the one-batch commands; cnnrt_train.c: train, eval,
 * bench).  Not installed for users: the public entry is cnnrt_main(). */
#ifndef CNNRT_CLI_H
#define CNNRT_CLI_H

#include "cnnrt.h"

struct cnnrt_dist;

/* Exit statuses of cnnrt_main. */
enum { CNNRT_EXIT_OK = 0, CNNRT_EXIT_ERROR = 1, CNNRT_EXIT_USAGE = 2 };

enum cnnrt_flag {
    FLAG_DATA, FLAG_WEIGHTS, FLAG_INPUT, FLAG_LABELS, FLAG_OUTPUT, FLAG_SAVE,
    FLAG_RESUME, FLAG_EPOCHS, FLAG_BATCH, FLAG_LR, FLAG_MOMENTUM, FLAG_WD,
    FLAG_SEED, FLAG_THREADS, FLAG_STEPS, FLAG_SAMPLES, FLAG_LOG, FLAG_LOG_EVERY, FLAG_PLOT,
    NFLAGS
};

/* The parsed command line; `set` has bit (1 << FLAG_x) for every flag given. */
typedef struct cnnrt_opts {
    const char *prog;                 /* argv[0]'s base name, for messages */
    unsigned set;
    const char *data, *weights, *input, *labels, *output, *save, *resume;
    int epochs, batch, threads, steps, samples;
    const char *log, *plot;           /* train --log FILE.csv, --plot FILE.svg */
    int log_every;                    /* train --log-every N (0: epochs only) */
    float lr, momentum, weight_decay;
    uint64_t seed;
    struct cnnrt_dist *dist;          /* NULL: one process (cnnrt_dist.h) */
    int quiet;                        /* a rank other than 0: print no message, */
    char *usage_msg;                  /* but keep a usage error here for rank 0 */
    size_t usage_len;
} cnnrt_opts;

#define HAS(o, f) (((o)->set >> (f)) & 1u)

/* Prints "PROG: MESSAGE" on stderr (unless quiet) and returns CNNRT_EXIT_ERROR. */
int cnnrt_cli_fail(const cnnrt_opts *o, const char *msg);
/* The spec's train (...) overridden by the flags. */
cnnrt_hparams cnnrt_cli_hparams(const cnnrt_model *m, const cnnrt_opts *o);
/* create(max_batch), set_threads, zeroed momentum; NULL with a message. */
void *cnnrt_cli_context(const cnnrt_model *m, int max_batch, int threads,
                        char *err, size_t errlen);
/* The first parameter whose part of block (param_block, grad_block or
 * momentum_block layout) holds a NaN or infinity, with its flat index and
 * value; NULL if all are finite. */
const cnnrt_param_info *cnnrt_cli_nonfinite(const cnnrt_model *m, const float *block,
                                            int64_t *index, float *value);
/* Index of the largest of the n values at v. */
size_t cnnrt_argmax(const float *v, size_t n);

int cnnrt_cmd_train(const cnnrt_model *m, const cnnrt_opts *o);
int cnnrt_cmd_eval(const cnnrt_model *m, const cnnrt_opts *o);
int cnnrt_cmd_bench(const cnnrt_model *m, const cnnrt_opts *o);
int cnnrt_cmd_gradcheck(const cnnrt_model *m, const cnnrt_opts *o);

#endif /* CNNRT_CLI_H */
