/* cnnrt_data.c - data sets as published: MNIST / Fashion-MNIST idx files
 * (plain or gzip) and CIFAR-10 binary batches.
 *
 * idx: magic 00 00 TYPE NDIMS, NDIMS big-endian u32 sizes, then the data;
 * we take TYPE 0x08 (unsigned byte) only.  CIFAR-10: records of one label
 * byte then 1024 R, 1024 G, 1024 B bytes, each plane row-major 32x32.
 * Pixels stay bytes in memory (a quarter of the floats) and are scaled to
 * [0, 1] as batches are gathered.
 */
#include "cnnrt_dist.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---------------------------------------------------------------------- idx */
/* Reads exactly n bytes; returns the count read or -1 on a zlib error. */
static int64_t gz_read_all(gzFile g, unsigned char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        unsigned chunk = n - done > (1u << 30) ? 1u << 30 : (unsigned)(n - done);
        int k = gzread(g, p + done, chunk);
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        done += (size_t)k;
    }
    return (int64_t)done;
}

static int gz_fail(gzFile g, const char *path, const char *doing, char *err, size_t errlen)
{
    int code;
    const char *msg = gzerror(g, &code);
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
        msg += n + 2;     /* zlib's message starts with the path */
    return cnnrt_errorf(err, errlen, "%s: %s: %s", path, doing,
                        code == Z_ERRNO ? strerror(errno) : msg);
}

/* After a short read: a gzip stream that ends early, or a short plain file. */
static int short_data(gzFile g, const char *path, const char *shp, size_t need, int64_t got,
                      char *err, size_t errlen)
{
    int code;
    gzerror(g, &code);
    if (code == Z_BUF_ERROR)
        return cnnrt_errorf(err, errlen, "%s: truncated gzip file: it ends after %lld of the "
                            "%zu data bytes that dimensions %s need", path, (long long)got,
                            need, shp);
    return cnnrt_errorf(err, errlen, "%s: truncated: dimensions %s need %zu bytes of data, "
                        "the file has %lld", path, shp, need, (long long)got);
}

/* The idx header: dimensions into shape. */
static int idx_header(gzFile g, const char *path, int *rank, int64_t *shape,
                      size_t *count, char *err, size_t errlen)
{
    unsigned char h[4], d[4 * CNNRT_MAX_RANK];
    int64_t got = gz_read_all(g, h, 4);
    if (got < 0)
        return gz_fail(g, path, "read error", err, errlen);
    if (got == 0)
        return cnnrt_errorf(err, errlen, "%s: empty file (expected an idx file: 00 00 08 NDIMS, "
                            "the sizes, the data)", path);
    if (got < 4)
        return cnnrt_errorf(err, errlen, "%s: truncated idx header (%lld bytes)", path,
                            (long long)got);
    if (h[0] != 0 || h[1] != 0 || h[3] == 0)
        return cnnrt_errorf(err, errlen, "%s: not an idx file (bad magic; expected "
                            "00 00 08 NDIMS)", path);
    if (h[2] != 0x08)
        return cnnrt_errorf(err, errlen, "%s: unsupported idx data type 0x%02x (expected "
                            "0x08, unsigned byte)", path, h[2]);
    if (h[3] > CNNRT_MAX_RANK)
        return cnnrt_errorf(err, errlen, "%s: idx file with %d dimensions (at most %d "
                            "supported)", path, h[3], CNNRT_MAX_RANK);
    *rank = h[3];
    got = gz_read_all(g, d, 4 * (size_t)*rank);
    if (got < 0)
        return gz_fail(g, path, "read error", err, errlen);
    if (got < 4 * *rank)
        return cnnrt_errorf(err, errlen, "%s: truncated idx header", path);
    for (int i = 0; i < *rank; i++)
        shape[i] = (int64_t)d[4 * i] << 24 | d[4 * i + 1] << 16 | d[4 * i + 2] << 8 |
                   d[4 * i + 3];
    if (cnnrt_shape_count(*rank, shape, count) < 0 || *count > SIZE_MAX / 2)
        return cnnrt_errorf(err, errlen, "%s: idx dimensions are too large", path);
    return 0;
}

/* Checked before allocating what the header announces: the data bytes a
 * plain file holds after its header, or for gzip the most that deflate's
 * 1032:1 limit lets its size expand to. */
static int idx_fits(gzFile g, const char *path, int rank, const char *shp, size_t count,
                    char *err, size_t errlen)
{
    struct stat st;
    uint64_t hdr = 4 + 4 * (uint64_t)rank;
    if (stat(path, &st) < 0)
        return 0;     /* not a file we can size: the read will tell */
    if (gzdirect(g) && (uint64_t)st.st_size - hdr < count)
        return short_data(g, path, shp, count, (int64_t)((uint64_t)st.st_size - hdr), err,
                          errlen);
    if (!gzdirect(g) && (uint64_t)st.st_size * 1032 < count)
        return cnnrt_errorf(err, errlen, "%s: truncated: dimensions %s need %zu bytes of data, "
                            "more than this %lld-byte gzip file can hold", path, shp, count,
                            (long long)st.st_size);
    return 0;
}

int cnnrt_idx_read(const char *path, cnnrt_tensor *out, char *err, size_t errlen)
{
    int rank = 0, rc = -1;
    int64_t shape[CNNRT_MAX_RANK], got;
    size_t count;
    unsigned char extra;
    char shp[160];
    gzFile g;

    memset(out, 0, sizeof *out);
    g = gzopen(path, "rb");
    if (!g)
        return cnnrt_errorf(err, errlen, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "out of memory");
    gzbuffer(g, 1 << 17);
    if (idx_header(g, path, &rank, shape, &count, err, errlen) < 0)
        goto done;
    cnnrt_shape_str(rank, shape, shp, sizeof shp);
    if (idx_fits(g, path, rank, shp, count, err, errlen) < 0)
        goto done;
    if (cnnrt_tensor_alloc(out, CNNRT_U8, rank, shape, err, errlen) < 0) {
        cnnrt_errorf(err, errlen, "%s: out of memory for %s bytes", path, shp);
        goto done;
    }
    got = gz_read_all(g, out->data, count);
    if (got < 0) {
        gz_fail(g, path, "corrupt data", err, errlen);
        goto done;
    }
    if ((size_t)got < count) {
        short_data(g, path, shp, count, got, err, errlen);
        goto done;
    }
    got = gz_read_all(g, &extra, 1);
    if (got != 0) {
        if (got < 0)
            gz_fail(g, path, "corrupt data", err, errlen);
        else
            cnnrt_errorf(err, errlen, "%s: unexpected data after the %s bytes announced "
                         "by the header", path, shp);
        goto done;
    }
    rc = 0;
done:
    gzclose(g);
    if (rc < 0)
        cnnrt_tensor_free(out);
    return rc;
}

/* ----------------------------------------------------------------- datasets */
void cnnrt_dataset_free(cnnrt_dataset *ds)
{
    free(ds->pixels);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

int cnnrt_mnist_load(const char *images, const char *labels, cnnrt_dataset *ds,
                     char *err, size_t errlen)
{
    cnnrt_tensor im, lb;
    char shp[160];
    memset(ds, 0, sizeof *ds);
    if (cnnrt_idx_read(images, &im, err, errlen) < 0)
        return -1;
    if (im.rank != 3) {
        cnnrt_errorf(err, errlen, "%s: expected images [N, H, W], got dimensions %s", images,
                     cnnrt_shape_str(im.rank, im.shape, shp, sizeof shp));
        cnnrt_tensor_free(&im);
        return -1;
    }
    if (cnnrt_idx_read(labels, &lb, err, errlen) < 0) {
        cnnrt_tensor_free(&im);
        return -1;
    }
    if (lb.rank != 1 || lb.shape[0] != im.shape[0]) {
        cnnrt_errorf(err, errlen, "%s: expected labels [%lld] (one per image of %s), got "
                     "dimensions %s", labels, (long long)im.shape[0], images,
                     cnnrt_shape_str(lb.rank, lb.shape, shp, sizeof shp));
        cnnrt_tensor_free(&im);
        cnnrt_tensor_free(&lb);
        return -1;
    }
    ds->labels = malloc((lb.count ? lb.count : 1) * sizeof *ds->labels);
    if (!ds->labels) {
        cnnrt_tensor_free(&im);
        cnnrt_tensor_free(&lb);
        return cnnrt_errorf(err, errlen, "%s: out of memory", labels);
    }
    for (size_t i = 0; i < lb.count; i++)
        ds->labels[i] = ((const uint8_t *)lb.data)[i];
    cnnrt_tensor_free(&lb);
    ds->n = im.shape[0];
    ds->rank = 3;
    ds->shape[0] = 1;
    ds->shape[1] = im.shape[1];
    ds->shape[2] = im.shape[2];
    ds->sample_size = (size_t)(im.shape[1] * im.shape[2]);
    ds->pixels = im.data;     /* ownership moves to ds */
    snprintf(ds->source, sizeof ds->source, "%s", images);
    snprintf(ds->label_source, sizeof ds->label_source, "%s", labels);
    return 0;
}

/* Appends the records of one CIFAR-10 file to ds (whose arrays have room). */
static int cifar_append(const char *path, cnnrt_dataset *ds, int64_t cap,
                        char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    if (cnnrt_read_file(path, &buf, &len, err, errlen) < 0)
        return -1;
    if (len == 0 || len % 3073 != 0 || (int64_t)(len / 3073) > cap - ds->n) {
        free(buf);
        return cnnrt_errorf(err, errlen, "%s: size %zu is not a positive multiple of 3073 "
                            "bytes (CIFAR-10 records: 1 label byte + 3072 pixel bytes)", path,
                            len);
    }
    for (size_t r = 0; r < len / 3073; r++) {
        const unsigned char *rec = buf + r * 3073;
        if (rec[0] > 9) {
            int label = rec[0];
            free(buf);
            return cnnrt_errorf(err, errlen, "%s: record %zu has label %d (CIFAR-10 labels "
                                "are 0..9); is this CIFAR-100?", path, r, label);
        }
        ds->labels[ds->n] = rec[0];
        memcpy(ds->pixels + (size_t)ds->n * 3072, rec + 1, 3072);
        ds->n++;
    }
    free(buf);
    return 0;
}

int cnnrt_cifar10_load(const char *const *paths, int npaths, cnnrt_dataset *ds,
                       char *err, size_t errlen)
{
    int64_t cap = 0;
    memset(ds, 0, sizeof *ds);
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) < 0)
            return cnnrt_errorf(err, errlen, "%s: cannot open: %s", paths[i], strerror(errno));
        cap += (int64_t)(st.st_size / 3073);
    }
    ds->pixels = malloc((size_t)(cap ? cap : 1) * 3072);
    ds->labels = malloc((size_t)(cap ? cap : 1) * sizeof *ds->labels);
    if (!ds->pixels || !ds->labels) {
        cnnrt_dataset_free(ds);
        return cnnrt_errorf(err, errlen, "%s: out of memory", npaths ? paths[0] : "CIFAR-10");
    }
    for (int i = 0; i < npaths; i++)
        if (cifar_append(paths[i], ds, cap, err, errlen) < 0) {
            cnnrt_dataset_free(ds);
            return -1;
        }
    ds->rank = 3;
    ds->shape[0] = 3;
    ds->shape[1] = 32;
    ds->shape[2] = 32;
    ds->sample_size = 3072;
    if (npaths > 1) {
        const char *last = strrchr(paths[npaths - 1], '/');
        snprintf(ds->source, sizeof ds->source, "%s .. %s", paths[0],
                 last ? last + 1 : paths[npaths - 1]);
    } else {
        snprintf(ds->source, sizeof ds->source, "%s", npaths ? paths[0] : "");
    }
    memcpy(ds->label_source, ds->source, sizeof ds->source);
    return 0;
}

/* ------------------------------------------------------- finding the files */
static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dir/name into out (cnnrt_data_load has checked that dir is short). */
static void join(char *out, size_t len, const char *dir, const char *name)
{
    if (snprintf(out, len, "%s/%s", dir, name) >= (int)len)
        out[0] = '\0';
}

/* dir/base or dir/base.gz, whichever exists, into out; 0 if found. */
static int find_idx(const char *dir, const char *base, char *out, size_t len)
{
    char gz[128];
    snprintf(gz, sizeof gz, "%s.gz", base);
    join(out, len, dir, base);
    if (is_file(out))
        return 0;
    join(out, len, dir, gz);
    if (is_file(out))
        return 0;
    join(out, len, dir, base);
    return -1;
}

static const char *const idx_names[4] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
};

static int find_idx_dir(const char *dir, cnnrt_data_files *f, char *err, size_t errlen)
{
    for (int i = 0; i < 4; i++) {
        char *out = i < 2 ? f->train[i] : f->test[i - 2];
        if (find_idx(dir, idx_names[i], out, CNNRT_PATH_MAX) < 0)
            return cnnrt_errorf(err, errlen, "%s: idx data set incomplete: %s (or %s.gz) is "
                                "missing", dir, idx_names[i], idx_names[i]);
    }
    f->format = "idx";
    f->ntrain = 2;
    return 0;
}

static int find_cifar_dir(const char *dir, cnnrt_data_files *f, char *err, size_t errlen)
{
    f->ntrain = 0;
    for (int i = 1; i <= CNNRT_CIFAR_FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", i);
        join(f->train[f->ntrain], CNNRT_PATH_MAX, dir, name);
        if (is_file(f->train[f->ntrain]))
            f->ntrain++;
    }
    join(f->test[0], CNNRT_PATH_MAX, dir, "test_batch.bin");
    if (f->ntrain == 0 || !is_file(f->test[0]))
        return cnnrt_errorf(err, errlen, "%s: CIFAR-10 data set incomplete: needs "
                            "data_batch_1.bin (.. data_batch_5.bin) and test_batch.bin", dir);
    f->format = "cifar10";
    return 0;
}

int cnnrt_data_find(const char *dir, cnnrt_data_files *f, char *err, size_t errlen)
{
    char sub[CNNRT_PATH_MAX], probe[CNNRT_PATH_MAX], probe2[CNNRT_PATH_MAX];
    memset(f, 0, sizeof *f);
    if (strlen(dir) > 4000)
        return cnnrt_errorf(err, errlen, "%.200s...: path too long", dir);
    if (!is_dir(dir))
        return cnnrt_errorf(err, errlen, "%s: not a directory (expected a data set directory)",
                            dir);
    join(sub, sizeof sub, dir, "cifar-10-batches-bin");
    if (is_dir(sub))
        dir = sub;
    for (int i = 0; i < 4; i++)
        if (find_idx(dir, idx_names[i], probe, sizeof probe) == 0)
            return find_idx_dir(dir, f, err, errlen);
    join(probe, sizeof probe, dir, "test_batch.bin");
    join(probe2, sizeof probe2, dir, "data_batch_1.bin");
    if (is_file(probe) || is_file(probe2))
        return find_cifar_dir(dir, f, err, errlen);
    return cnnrt_errorf(err, errlen, "%s: no data set found: expected MNIST/Fashion-MNIST idx "
                        "files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz) or "
                        "CIFAR-10 binary files (data_batch_1.bin .. data_batch_5.bin, "
                        "test_batch.bin)", dir);
}

/* Both halves of a data set whose files f names. */
static int load_files(const cnnrt_data_files *f, cnnrt_dataset *train, cnnrt_dataset *test,
                      char *err, size_t errlen)
{
    const char *paths[CNNRT_CIFAR_FILES];
    int cifar = strcmp(f->format, "cifar10") == 0;
    for (int i = 0; i < f->ntrain; i++)
        paths[i] = f->train[i];
    if (cifar ? cnnrt_cifar10_load(paths, f->ntrain, train, err, errlen)
              : cnnrt_mnist_load(f->train[0], f->train[1], train, err, errlen))
        return -1;
    paths[0] = f->test[0];
    if (cifar ? cnnrt_cifar10_load(paths, 1, test, err, errlen)
              : cnnrt_mnist_load(f->test[0], f->test[1], test, err, errlen)) {
        cnnrt_dataset_free(train);
        return -1;
    }
    return 0;
}

int cnnrt_data_load(const char *dir, cnnrt_dataset *train, cnnrt_dataset *test,
                    const char **format, char *err, size_t errlen)
{
    cnnrt_data_files *f = malloc(sizeof *f);
    int rc;
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!f)
        return cnnrt_errorf(err, errlen, "%.200s: out of memory", dir);
    rc = cnnrt_data_find(dir, f, err, errlen);
    if (rc == 0) {
        *format = f->format;
        rc = load_files(f, train, test, err, errlen);
    }
    free(f);
    return rc;
}

int cnnrt_dataset_check(const cnnrt_dataset *ds, const cnnrt_model *m,
                        char *err, size_t errlen)
{
    char a[160], b[160];
    int flat = m->in_rank == 1 && (size_t)m->in_shape[0] == ds->sample_size;
    int64_t classes = (int64_t)m->out_size;
    if (!flat && !cnnrt_shape_eq(ds->rank, ds->shape, m->in_rank, m->in_shape))
        return cnnrt_errorf(err, errlen, "%s: images are %s but the model %s expects input %s",
                            ds->source, cnnrt_shape_str(ds->rank, ds->shape, a, sizeof a),
                            m->name, cnnrt_shape_str(m->in_rank, m->in_shape, b, sizeof b));
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= classes)
            return cnnrt_errorf(err, errlen, "%s: label %d of sample %lld is out of range: the "
                                "model %s has %lld classes (outputs)", ds->label_source,
                                (int)ds->labels[i], (long long)i, m->name, (long long)classes);
    return 0;
}

void cnnrt_dataset_gather(const cnnrt_dataset *ds, const int64_t *order,
                          int64_t start, int n, float *x, int32_t *labels)
{
    for (int i = 0; i < n; i++) {
        int64_t k = order ? order[start + i] : start + i;
        const uint8_t *p = ds->pixels + (size_t)k * ds->sample_size;
        float *o = x + (size_t)i * ds->sample_size;
        for (size_t j = 0; j < ds->sample_size; j++)
            o[j] = (float)p[j] / 255.0f;
        if (labels)
            labels[i] = ds->labels[k];
    }
}

/* ------------------------------------------------- records by index (MPI) */
/* The idx header of path, checked as cnnrt_mnist_load checks it: its
 * dimensions and size in bytes. */
static int idx_open_header(const char *path, int *rank, int64_t *shape, int64_t *hdr,
                           char *err, size_t errlen)
{
    size_t count;
    char shp[160];
    int rc = -1;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return cnnrt_errorf(err, errlen, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "out of memory");
    if (idx_header(g, path, rank, shape, &count, err, errlen) == 0 &&
        idx_fits(g, path, *rank, cnnrt_shape_str(*rank, shape, shp, sizeof shp), count, err,
                 errlen) == 0)
        rc = 0;
    *hdr = 4 + 4 * (int64_t)*rank;
    gzclose(g);
    return rc;
}

static int idx_source(const char *images, const char *labels, cnnrt_source *s, char *err,
                      size_t errlen)
{
    int rank = 0;
    int64_t shape[CNNRT_MAX_RANK];
    char shp[160];
    if (idx_open_header(images, &rank, shape, &s->image_hdr, err, errlen) < 0)
        return -1;
    if (rank != 3)
        return cnnrt_errorf(err, errlen, "%s: expected images [N, H, W], got dimensions %s",
                            images, cnnrt_shape_str(rank, shape, shp, sizeof shp));
    s->n = shape[0];
    s->rank = 3;
    s->shape[0] = 1;
    s->shape[1] = shape[1];
    s->shape[2] = shape[2];
    s->sample_size = (size_t)(shape[1] * shape[2]);
    if (idx_open_header(labels, &rank, shape, &s->label_hdr, err, errlen) < 0)
        return -1;
    if (rank != 1 || shape[0] != s->n)
        return cnnrt_errorf(err, errlen, "%s: expected labels [%lld] (one per image of %s), "
                            "got dimensions %s", labels, (long long)s->n, images,
                            cnnrt_shape_str(rank, shape, shp, sizeof shp));
    snprintf(s->path[0], sizeof s->path[0], "%s", images);
    snprintf(s->labels, sizeof s->labels, "%s", labels);
    s->nfiles = 1;
    return 0;
}

/* CIFAR-10 files: their sizes say how many records each holds. */
static int cifar_source(const char (*paths)[CNNRT_PATH_MAX], int npaths, cnnrt_source *s,
                        char *err, size_t errlen)
{
    s->cifar = 1;
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) < 0)
            return cnnrt_errorf(err, errlen, "%s: cannot open: %s", paths[i], strerror(errno));
        if (st.st_size == 0 || st.st_size % 3073 != 0)
            return cnnrt_errorf(err, errlen, "%s: size %lld is not a positive multiple of 3073 "
                                "bytes (CIFAR-10 records: 1 label byte + 3072 pixel bytes)",
                                paths[i], (long long)st.st_size);
        snprintf(s->path[i], sizeof s->path[i], "%s", paths[i]);
        s->first[i + 1] = s->first[i] + (int64_t)(st.st_size / 3073);
    }
    s->nfiles = npaths;
    s->n = s->first[npaths];
    s->rank = 3;
    s->shape[0] = 3;
    s->shape[1] = 32;
    s->shape[2] = 32;
    s->sample_size = 3072;
    return 0;
}

int cnnrt_source_open(const cnnrt_data_files *f, int test, cnnrt_source *s, char *err,
                      size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (strcmp(f->format, "cifar10") == 0)
        return test ? cifar_source(f->test, 1, s, err, errlen)
                    : cifar_source(f->train, f->ntrain, s, err, errlen);
    return test ? idx_source(f->test[0], f->test[1], s, err, errlen)
                : idx_source(f->train[0], f->train[1], s, err, errlen);
}

int cnnrt_source_alloc(const cnnrt_source *s, int64_t cap, cnnrt_dataset *ds)
{
    memset(ds, 0, sizeof *ds);
    ds->pixels = malloc((size_t)(cap > 0 ? cap : 1) * s->sample_size);
    ds->labels = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *ds->labels);
    if (!ds->pixels || !ds->labels) {
        cnnrt_dataset_free(ds);
        return -1;
    }
    ds->rank = s->rank;
    memcpy(ds->shape, s->shape, sizeof ds->shape);
    ds->sample_size = s->sample_size;
    snprintf(ds->source, sizeof ds->source, "%.511s", s->path[0]);
    snprintf(ds->label_source, sizeof ds->label_source, "%.511s",
             s->cifar ? s->path[0] : s->labels);
    return 0;
}

/* One file of fixed-size records, read forward: record k at hdr + k * rec. */
typedef struct rec_file {
    gzFile g;
    const char *path;
    int64_t hdr, pos;       /* pos: the byte the file is at */
    size_t rec;
} rec_file;

static int rec_open(rec_file *r, const char *path, int64_t hdr, size_t rec, char *err,
                    size_t errlen)
{
    r->path = path;
    r->hdr = hdr;
    r->rec = rec;
    r->pos = 0;
    r->g = gzopen(path, "rb");
    if (!r->g)
        return cnnrt_errorf(err, errlen, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "out of memory");
    gzbuffer(r->g, 1 << 16);
    return 0;
}

/* Record k (at or after the current one) into dst.  A plain file reads
 * through gaps under 1 MiB (cheaper than seeking: one read refills the
 * buffer) and seeks past longer ones; gzip decompresses through them
 * (zlib's gzseek; backwards, which sorted reads never need, it rewinds). */
static int rec_read(rec_file *r, int64_t k, void *dst, int64_t n, char *err, size_t errlen)
{
    int64_t gap = r->hdr + k * (int64_t)r->rec - r->pos, got;
    unsigned char skip[4096];
    if (!gzdirect(r->g) || gap >= (1 << 20) || gap < 0) {
        if (gap != 0 && gzseek(r->g, (z_off_t)gap, SEEK_CUR) < 0)
            return gz_fail(r->g, r->path, "cannot seek", err, errlen);
        gap = 0;
    }
    for (; gap > 0; gap -= got) {
        got = gz_read_all(r->g, skip, gap < (int64_t)sizeof skip ? (size_t)gap : sizeof skip);
        if (got <= 0)
            break;
    }
    got = gap > 0 ? 0 : gz_read_all(r->g, dst, r->rec);
    if (got < 0)
        return gz_fail(r->g, r->path, "corrupt data", err, errlen);
    if ((size_t)got < r->rec)
        return cnnrt_errorf(err, errlen, "%s: truncated: it ends inside record %lld of %lld",
                            r->path, (long long)k, (long long)n);
    r->pos = r->hdr + (k + 1) * (int64_t)r->rec;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* idx: images then labels, each file once in record order. */
static int idx_records(const cnnrt_source *s, const uint64_t *keys, int64_t count,
                       cnnrt_dataset *ds, char *err, size_t errlen)
{
    rec_file r;
    int rc = 0;
    uint8_t label;
    if (rec_open(&r, s->path[0], s->image_hdr, s->sample_size, err, errlen) < 0)
        return -1;
    for (int64_t j = 0; j < count && rc == 0; j++)
        rc = rec_read(&r, (int64_t)(keys[j] >> 32),
                      ds->pixels + (size_t)(keys[j] & 0xffffffffu) * s->sample_size, s->n, err,
                      errlen);
    gzclose(r.g);
    if (rc < 0 || rec_open(&r, s->labels, s->label_hdr, 1, err, errlen) < 0)
        return -1;
    for (int64_t j = 0; j < count && rc == 0; j++) {
        rc = rec_read(&r, (int64_t)(keys[j] >> 32), &label, s->n, err, errlen);
        ds->labels[keys[j] & 0xffffffffu] = rc == 0 ? label : 0;
    }
    gzclose(r.g);
    return rc;
}

/* CIFAR-10: a record is its label byte then its pixels; files in order. */
static int cifar_records(const cnnrt_source *s, const uint64_t *keys, int64_t count,
                         cnnrt_dataset *ds, char *err, size_t errlen)
{
    unsigned char rec[3073];
    int64_t j = 0;
    int rc = 0;
    for (int f = 0; f < s->nfiles && j < count && rc == 0; f++) {
        rec_file r;
        if ((int64_t)(keys[j] >> 32) >= s->first[f + 1])
            continue;
        if (rec_open(&r, s->path[f], 0, 3073, err, errlen) < 0)
            return -1;
        for (; j < count && (int64_t)(keys[j] >> 32) < s->first[f + 1] && rc == 0; j++) {
            int64_t k = (int64_t)(keys[j] >> 32) - s->first[f];
            size_t slot = keys[j] & 0xffffffffu;
            rc = rec_read(&r, k, rec, s->first[f + 1] - s->first[f], err, errlen);
            if (rc == 0 && rec[0] > 9)
                rc = cnnrt_errorf(err, errlen, "%s: record %lld has label %d (CIFAR-10 labels "
                                  "are 0..9); is this CIFAR-100?", s->path[f], (long long)k,
                                  rec[0]);
            ds->labels[slot] = rec[0];
            memcpy(ds->pixels + slot * 3072, rec + 1, 3072);
        }
        gzclose(r.g);
    }
    return rc;
}

int cnnrt_source_read(cnnrt_source *s, const int64_t *index, int64_t count, uint64_t *keys,
                      cnnrt_dataset *ds, char *err, size_t errlen)
{
    if (s->n > (int64_t)UINT32_MAX || count > (int64_t)UINT32_MAX)
        return cnnrt_errorf(err, errlen, "%s: too many records to read by index", s->path[0]);
    for (int64_t j = 0; j < count; j++)       /* record << 32 | slot: sorted = file order */
        keys[j] = (uint64_t)index[j] << 32 | (uint64_t)j;
    qsort(keys, (size_t)count, sizeof *keys, cmp_u64);
    ds->n = 0;
    if ((s->cifar ? cifar_records : idx_records)(s, keys, count, ds, err, errlen) < 0)
        return -1;
    ds->n = count;
    s->records_read += count;
    return 0;
}
