/* cnnrt.h - the cnnc runtime: tensors, .npy/.npz files, idx and CIFAR-10
 * data sets, a seedable RNG, PyTorch-style init, progress display and the
 * command-line driver that every generated program calls.
 *
 * Conventions:
 *  - Every function that can fail returns 0 on success and -1 on failure,
 *    and then writes one line into the caller's buffer `err` (of `errlen`
 *    bytes) naming the file and what was expected, e.g.
 *      x.npy: expected dtype float32 ('<f4'), got '<f8'
 *  - Bad input never crashes the runtime and nothing here calls exit();
 *    only cnnrt_main() turns errors into exit statuses.
 *  - Tensors are C order, native (little-endian) byte order in memory.
 */
#ifndef CNNRT_H
#define CNNRT_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnrt_model.h"

#if defined(__GNUC__) || defined(__clang__)
#define CNNRT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CNNRT_PRINTF(f, a)
#endif

/* A comfortable size for error buffers. */
#define CNNRT_ERR_MAX 1024

/* Formats a message into err (if err is not NULL) and returns -1. */
int cnnrt_errorf(char *err, size_t errlen, const char *fmt, ...) CNNRT_PRINTF(3, 4);

/* Monotonic wall-clock time in seconds. */
double cnnrt_now(void);

/* Number of online processors (at least 1). */
int cnnrt_ncores(void);

/* ------------------------------------------------------------------ tensors */
typedef enum cnnrt_dtype {
    CNNRT_F32, CNNRT_F64,
    CNNRT_I8, CNNRT_I16, CNNRT_I32, CNNRT_I64,
    CNNRT_U8, CNNRT_U16, CNNRT_U32, CNNRT_U64,
    CNNRT_BOOL,
    CNNRT_NDTYPES
} cnnrt_dtype;

typedef struct cnnrt_tensor {
    cnnrt_dtype dtype;
    int rank;                        /* 0 for a scalar */
    int64_t shape[CNNRT_MAX_RANK];
    size_t count;                    /* product of shape (1 for a scalar) */
    void *data;                      /* count elements */
    int owned;                       /* data is freed by cnnrt_tensor_free */
} cnnrt_tensor;

size_t cnnrt_dtype_size(cnnrt_dtype dt);
const char *cnnrt_dtype_name(cnnrt_dtype dt);    /* "float32" */
const char *cnnrt_dtype_descr(cnnrt_dtype dt);   /* "<f4", as numpy writes it */

/* Element count of a shape; -1 if a dimension is negative or it overflows. */
int cnnrt_shape_count(int rank, const int64_t *shape, size_t *count);
/* "[2, 3]" ("[]" for a scalar) into buf; returns buf. */
char *cnnrt_shape_str(int rank, const int64_t *shape, char *buf, size_t len);
int cnnrt_shape_eq(int rank_a, const int64_t *a, int rank_b, const int64_t *b);

/* Allocates a zero-filled owned tensor. */
int cnnrt_tensor_alloc(cnnrt_tensor *t, cnnrt_dtype dt, int rank,
                       const int64_t *shape, char *err, size_t errlen);
/* A non-owning tensor over existing memory (shape must be valid). */
cnnrt_tensor cnnrt_tensor_view(cnnrt_dtype dt, int rank, const int64_t *shape,
                               void *data);
void cnnrt_tensor_free(cnnrt_tensor *t);
/* Element i of any dtype as a double. */
double cnnrt_tensor_get(const cnnrt_tensor *t, size_t i);
/* Index of the first NaN or infinity among the n floats at v, or -1. */
int64_t cnnrt_find_nonfinite(const float *v, size_t n);

/* -------------------------------------------------------------------- files */
/* Reads a whole file into a malloc'd buffer (freed by the caller). */
int cnnrt_read_file(const char *path, unsigned char **data, size_t *len,
                    char *err, size_t errlen);

/* Writes path atomically: fn writes the contents into a temporary file in
 * the same directory, which is then flushed, fsync'ed and renamed over path,
 * and the directory fsync'ed.  If fn or any step fails, path is untouched
 * and the temporary file removed. */
typedef int (*cnnrt_writer)(FILE *f, void *arg, char *err, size_t errlen);
int cnnrt_atomic_write(const char *path, cnnrt_writer fn, void *arg,
                       char *err, size_t errlen);

/* ---------------------------------------------------------------------- npy */
/* Parses a whole .npy image (versions 1.0, 2.0, 3.0; C order; dtypes
 * f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, either byte order).  `what` names the
 * source in messages.  The data must fill the rest of buf exactly. */
int cnnrt_npy_parse(const unsigned char *buf, size_t len, const char *what,
                    cnnrt_tensor *out, char *err, size_t errlen);
int cnnrt_npy_read(const char *path, cnnrt_tensor *out, char *err, size_t errlen);
/* Size in bytes of the .npy image of t (header + data). */
size_t cnnrt_npy_size(const cnnrt_tensor *t);
/* CRC-32 (zip's) of the .npy image of t. */
uint32_t cnnrt_npy_crc32(const cnnrt_tensor *t);
/* Writes the .npy image of t (version 1.0 header) to f. */
int cnnrt_npy_fwrite(FILE *f, const cnnrt_tensor *t, char *err, size_t errlen);
int cnnrt_npy_write(const char *path, const cnnrt_tensor *t,
                    char *err, size_t errlen);    /* atomic */

/* ---------------------------------------------------------------------- npz */
/* A zip of NAME.npy entries; names are stored without ".npy". */
typedef struct cnnrt_npz {
    int n;
    char **names;
    cnnrt_tensor *arrays;
} cnnrt_npz;

/* Reads through the central directory: stored and deflated entries, Zip64
 * extra fields, CRC-32 checked for every entry. */
int cnnrt_npz_parse(const unsigned char *buf, size_t len, const char *what,
                    cnnrt_npz *z, char *err, size_t errlen);
int cnnrt_npz_read(const char *path, cnnrt_npz *z, char *err, size_t errlen);
const cnnrt_tensor *cnnrt_npz_get(const cnnrt_npz *z, const char *name);
void cnnrt_npz_free(cnnrt_npz *z);

typedef struct cnnrt_npz_item {
    const char *name;                /* without ".npy" */
    cnnrt_tensor t;
} cnnrt_npz_item;
/* Uncompressed (stored) zip that numpy.load reads, written atomically. */
int cnnrt_npz_write(const char *path, const cnnrt_npz_item *items, int n,
                    char *err, size_t errlen);
int cnnrt_npz_fwrite(FILE *f, const cnnrt_npz_item *items, int n,
                     char *err, size_t errlen);

/* --------------------------------------------------------------- data sets */
/* Reads an idx file (plain or gzip; unsigned-byte data) into a u8 tensor
 * whose shape is the file's dimensions. */
int cnnrt_idx_read(const char *path, cnnrt_tensor *out, char *err, size_t errlen);

/* Images kept as bytes; cnnrt_dataset_gather scales them to [0, 1]. */
typedef struct cnnrt_dataset {
    int64_t n;
    int rank;                        /* per-sample shape, channels first */
    int64_t shape[CNNRT_MAX_RANK];
    size_t sample_size;
    uint8_t *pixels;                 /* [n, sample_size] */
    int32_t *labels;                 /* [n] */
    char source[512];                /* the images' file(s), for messages */
    char label_source[512];          /* the labels' file(s), for messages */
} cnnrt_dataset;

/* An images idx file [N, H, W] and a labels idx file [N]: samples [1, H, W]. */
int cnnrt_mnist_load(const char *images, const char *labels, cnnrt_dataset *ds,
                     char *err, size_t errlen);
/* CIFAR-10 binary files (records of 1 label byte + 3072 pixel bytes),
 * concatenated: samples [3, 32, 32]. */
int cnnrt_cifar10_load(const char *const *paths, int npaths, cnnrt_dataset *ds,
                       char *err, size_t errlen);
/* Finds MNIST-style idx files (plain or .gz) or CIFAR-10 binary files in
 * dir (or dir/cifar-10-batches-bin).  *format is set to "idx" or "cifar10". */
int cnnrt_data_load(const char *dir, cnnrt_dataset *train, cnnrt_dataset *test,
                    const char **format, char *err, size_t errlen);
/* Image shape equals the model's input shape (or its flat size, for a
 * vector input), labels in [0, number of classes). */
int cnnrt_dataset_check(const cnnrt_dataset *ds, const cnnrt_model *m,
                        char *err, size_t errlen);
/* Samples order[start..start+n) (or start..start+n if order is NULL) into
 * x [n, sample_size] floats in [0, 1] and labels [n] (if not NULL). */
void cnnrt_dataset_gather(const cnnrt_dataset *ds, const int64_t *order,
                          int64_t start, int n, float *x, int32_t *labels);
void cnnrt_dataset_free(cnnrt_dataset *ds);

/* ---------------------------------------------------------------------- rng */
/* xoshiro256** seeded through splitmix64: deterministic on every platform. */
typedef struct cnnrt_rng { uint64_t s[4]; } cnnrt_rng;

void cnnrt_rng_seed(cnnrt_rng *r, uint64_t seed);
uint64_t cnnrt_rng_next(cnnrt_rng *r);
double cnnrt_rng_double(cnnrt_rng *r);                     /* [0, 1), 53 bits */
float cnnrt_rng_uniform(cnnrt_rng *r, float a, float b);   /* [a, b) */
uint64_t cnnrt_rng_below(cnnrt_rng *r, uint64_t n);        /* [0, n), unbiased */
/* perm = a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void cnnrt_rng_permutation(cnnrt_rng *r, int64_t *perm, int64_t n);
/* State save/restore; an all-zero state is rejected. */
void cnnrt_rng_get_state(const cnnrt_rng *r, uint64_t state[4]);
int cnnrt_rng_set_state(cnnrt_rng *r, const uint64_t state[4]);

/* --------------------------------------------------------------------- init */
/* PyTorch's default for conv and linear layers: every parameter uniform in
 * [-1/sqrt(fan_in), 1/sqrt(fan_in)), in parameter order, from one RNG seeded
 * with seed; then model->constrain(ctx). */
void cnnrt_init_params(const cnnrt_model *m, void *ctx, uint64_t seed);

/* ------------------------------------------------------------------ weights */
/* Loads every parameter of m (present, float32, exactly its shape) from the
 * .npz at path into ctx, then constrains.  Unknown keys are ignored. */
int cnnrt_load_weights(const cnnrt_model *m, void *ctx, const char *path,
                       char *err, size_t errlen);

/* What train --save stores besides the parameters, for --resume. */
typedef struct cnnrt_train_state {
    int64_t epoch;                   /* epochs completed */
    cnnrt_rng rng;                   /* the shuffling RNG after that epoch */
    int has_momentum;                /* NAME.momentum keys present */
} cnnrt_train_state;

/* Saves the parameters (and, when st is not NULL, NAME.momentum, _epoch and
 * _rng) atomically. */
int cnnrt_save_weights(const cnnrt_model *m, void *ctx, const char *path,
                       const cnnrt_train_state *st, char *err, size_t errlen);
/* Like cnnrt_load_weights, and also the momentum buffers, the epoch and the
 * RNG state when the file has them (st->epoch = 0 and st->has_momentum = 0
 * for a plain weights file, the RNG then left as it was). */
int cnnrt_load_checkpoint(const cnnrt_model *m, void *ctx, const char *path,
                          cnnrt_train_state *st, char *err, size_t errlen);

/* ----------------------------------------------------------------- progress */
/* A live bar on one line when out is a terminal (redrawn at most ~10 times a
 * second); nothing until the epoch line otherwise. */
typedef struct cnnrt_progress {
    FILE *out;
    int tty;
    int epoch, epochs;
    int64_t total, done;
    double t0, last_draw;
    double loss_sum;
    int64_t loss_n;
} cnnrt_progress;

void cnnrt_progress_begin(cnnrt_progress *p, FILE *out, int epoch, int epochs,
                          int64_t total);
/* n more images done, with their mean loss. */
void cnnrt_progress_update(cnnrt_progress *p, int64_t n, double loss);
/* Clears the bar; returns the mean training loss of the epoch. */
double cnnrt_progress_end(cnnrt_progress *p);
/* "1:05", "0:07", "1:02:03". */
char *cnnrt_format_duration(double seconds, char *buf, size_t len);

/* ------------------------------------------------------------ training log */
/* One measurement of train --log (a CSV row) and --plot (a point).  NaN
 * marks a field not measured (an empty CSV field). */
typedef struct cnnrt_log_row {
    int64_t step;          /* optimizer steps done, counted from the first epoch */
    int epoch;             /* the epoch the step belongs to, from 1 */
    int end_of_epoch;      /* 1: an epoch row (test accuracy measured) */
    double loss;           /* mean training loss since the previous row, or of the epoch */
    double train_acc;      /* fraction 0..1, same samples as loss */
    double test_acc;       /* fraction 0..1, epoch rows only */
    double img_per_s;      /* training images per second over the same steps */
    double seconds;        /* wall time since training started */
} cnnrt_log_row;

/* The CSV header: the fields of cnnrt_log_row in order (without end_of_epoch). */
#define CNNRT_LOG_HEADER "step,epoch,loss,train_acc,test_acc,images_per_s,seconds"

typedef struct cnnrt_log {
    FILE *csv;                    /* --log FILE, written row by row; NULL if none */
    const char *csv_path, *svg_path;
    char title[256], subtitle[256];
    int every;                    /* CSV step rows every `every` steps; 0: epochs only */
    int interval;                 /* points kept every `interval` steps (0: none) */
    cnnrt_log_row *rows;          /* every row so far, for the plot */
    int nrows, cap;
    int64_t step;                 /* optimizer steps done */
    double t0, t_mark;            /* start of training; of the current interval */
    double loss_sum;              /* the current interval: sum of loss * n */
    int64_t seen, correct;        /* its samples; correct ones (-1: not measured) */
} cnnrt_log;

/* Opens csv_path (truncated; header written) when not NULL and remembers
 * svg_path; every (>= 0) as above.  steps_per_epoch sets the plot's own
 * interval when every is 0 (about 25 points an epoch). */
int cnnrt_log_open(cnnrt_log *lg, const char *csv_path, const char *svg_path, int every,
                   int64_t steps_per_epoch, char *err, size_t errlen);
/* Starts the clock; first_step = steps already done (a resumed run). */
void cnnrt_log_start(cnnrt_log *lg, int64_t first_step);
/* One optimizer step on n samples with their mean loss and the number
 * classified right (-1 if not measured); last: it ends the epoch, whose
 * row then stands for it. */
int cnnrt_log_step(cnnrt_log *lg, int epoch, int n, double loss, int64_t correct, int last,
                   char *err, size_t errlen);
/* The epoch's row; then the plot is rewritten (atomically). */
int cnnrt_log_epoch(cnnrt_log *lg, int epoch, double loss, double train_acc, double test_acc,
                    double img_per_s, char *err, size_t errlen);
void cnnrt_log_close(cnnrt_log *lg);

/* An SVG picture of the rows: training loss above; training and test
 * accuracy below; step on the shared x axis, epoch ends marked; `every`:
 * the steps between step rows, for the legend.  Written atomically, plain
 * C, no dependency. */
int cnnrt_plot_write(const char *path, const cnnrt_log_row *rows, int n, int every,
                     const char *title, const char *subtitle, char *err, size_t errlen);

#endif /* CNNRT_H */
