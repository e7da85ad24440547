/* mkdata.c - writes a small synthetic data set in a published layout, for
 * tests that train without downloading anything.
 *
 *   mkdata idx DIR [--train N] [--test M] [--size S] [--seed K] [--gzip]
 *     MNIST idx files: DIR/train-images-idx3-ubyte, train-labels-idx1-ubyte,
 *     t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; S x S images.
 *   mkdata cifar10 DIR [--train N] [--test M] [--seed K]
 *     CIFAR-10 binary batches: DIR/data_batch_1.bin .. data_batch_5.bin
 *     (N split over the five) and test_batch.bin; 3 x 32 x 32 records.
 *   --npy PREFIX (either format) also writes M fresh samples of the same
 *     classes as PREFIX-x.npy (float32 [M, C, S, S], pixels / 255, in the
 *     model's channel, row, column order) and PREFIX-y.npy (int64 [M]).
 *
 * Class k is a bright row (k mod S for idx; for CIFAR-10 rows 3k and 3k+1
 * of channel k mod 3) on a noisy background.  A reader that permutes pixels the same
 * way in both halves of the data set still learns it, but the model it
 * trains then fails on the .npy samples, which bypass the reader: tests
 * check both.  Deterministic for a given seed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cnnrt.h"

typedef struct opts {
    const char *format, *dir, *npy;
    long train, test, size;
    uint64_t seed;
    int gzip;
} opts;

static void usage(void)
{
    fprintf(stderr, "usage: mkdata idx|cifar10 DIR [--train N] [--test M] [--size S] "
                    "[--seed K] [--gzip] [--npy PREFIX]\n");
    exit(2);
}

/* One image of class k into px (channels x size x size bytes). */
static void draw(unsigned char *px, int channels, int size, int k, cnnrt_rng *r)
{
    int plane = size * size;
    for (int i = 0; i < channels * plane; i++)
        px[i] = (unsigned char)cnnrt_rng_below(r, 96);
    int c = channels == 3 ? k % 3 : 0;
    int row = channels == 3 ? (3 * k) % size : k % size;
    for (int band = 0; band < (channels == 3 ? 2 : 1); band++)
        for (int x = 0; x < size; x++)
            px[c * plane + (row + band) * size + x] = (unsigned char)(200 + cnnrt_rng_below(r, 56));
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);  p[3] = (unsigned char)v;
}

/* Writes buf to DIR/NAME (or NAME.gz, gzip-compressed). */
static void write_file(const opts *o, const char *name, const void *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", o->dir, name, o->gzip ? ".gz" : "");
    if (o->gzip) {
        gzFile g = gzopen(path, "wb");
        if (!g || gzwrite(g, buf, (unsigned)len) != (int)len || gzclose(g) != Z_OK) {
            fprintf(stderr, "mkdata: cannot write %s\n", path);
            exit(1);
        }
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "mkdata: cannot write %s\n", path);
        exit(1);
    }
}

static void write_idx_pair(const opts *o, const char *images, const char *labels,
                           long n, cnnrt_rng *r)
{
    size_t plane = (size_t)(o->size * o->size);
    unsigned char *im = malloc(16 + (size_t)n * plane), *lb = malloc(8 + (size_t)n);
    if (!im || !lb) { fprintf(stderr, "mkdata: out of memory\n"); exit(1); }
    put_be32(im, 0x00000803); put_be32(im + 4, (uint32_t)n);
    put_be32(im + 8, (uint32_t)o->size); put_be32(im + 12, (uint32_t)o->size);
    put_be32(lb, 0x00000801); put_be32(lb + 4, (uint32_t)n);
    for (long i = 0; i < n; i++) {
        int k = (int)cnnrt_rng_below(r, 10);
        lb[8 + i] = (unsigned char)k;
        draw(im + 16 + (size_t)i * plane, 1, (int)o->size, k, r);
    }
    write_file(o, images, im, 16 + (size_t)n * plane);
    write_file(o, labels, lb, 8 + (size_t)n);
    free(im);
    free(lb);
}

static void write_cifar_batch(const opts *o, const char *name, long n, cnnrt_rng *r)
{
    enum { REC = 1 + 3 * 32 * 32 };
    unsigned char *buf = malloc((size_t)n * REC + 1);
    if (!buf) { fprintf(stderr, "mkdata: out of memory\n"); exit(1); }
    for (long i = 0; i < n; i++) {
        int k = (int)cnnrt_rng_below(r, 10);
        buf[(size_t)i * REC] = (unsigned char)k;
        draw(buf + (size_t)i * REC + 1, 3, 32, k, r);
    }
    write_file(o, name, buf, (size_t)n * REC);
    free(buf);
}

/* PREFIX-x.npy and PREFIX-y.npy: n samples drawn as the files' are. */
static void write_npy(const opts *o, int channels, int size, long n, cnnrt_rng *r)
{
    char path[4096], err[CNNRT_ERR_MAX];
    size_t sample = (size_t)(channels * size * size);
    unsigned char *px = malloc(sample);
    float *x = malloc((size_t)n * sample * sizeof *x);
    int64_t *y = malloc((size_t)n * sizeof *y);
    int64_t xs[4] = {n, channels, size, size};
    if (!px || !x || !y) { fprintf(stderr, "mkdata: out of memory\n"); exit(1); }
    for (long i = 0; i < n; i++) {
        y[i] = (int64_t)cnnrt_rng_below(r, 10);
        draw(px, channels, size, (int)y[i], r);
        for (size_t j = 0; j < sample; j++)
            x[(size_t)i * sample + j] = (float)px[j] / 255.0f;
    }
    cnnrt_tensor tx = cnnrt_tensor_view(CNNRT_F32, 4, xs, x), ty = cnnrt_tensor_view(CNNRT_I64, 1, xs, y);
    snprintf(path, sizeof path, "%s-x.npy", o->npy);
    int rc = cnnrt_npy_write(path, &tx, err, sizeof err);
    snprintf(path, sizeof path, "%s-y.npy", o->npy);
    if (rc < 0 || cnnrt_npy_write(path, &ty, err, sizeof err) < 0) {
        fprintf(stderr, "mkdata: %s\n", err);
        exit(1);
    }
    free(px);
    free(x);
    free(y);
}

static opts parse(int argc, char **argv)
{
    opts o = { NULL, NULL, NULL, 600, 200, 28, 1, 0 };
    if (argc < 3)
        usage();
    o.format = argv[1];
    o.dir = argv[2];
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--gzip")) { o.gzip = 1; continue; }
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--npy")) { o.npy = argv[++i]; continue; }
        char *end;
        long v = strtol(argv[i + 1], &end, 10);
        if (*end || v < 1 || v > 1000000)
            usage();
        if (!strcmp(argv[i], "--train")) o.train = v;
        else if (!strcmp(argv[i], "--test")) o.test = v;
        else if (!strcmp(argv[i], "--size")) o.size = v;
        else if (!strcmp(argv[i], "--seed")) o.seed = (uint64_t)v;
        else usage();
        i++;
    }
    return o;
}

int main(int argc, char **argv)
{
    opts o = parse(argc, argv);
    cnnrt_rng r;
    cnnrt_rng_seed(&r, o.seed);
    if (!strcmp(o.format, "idx")) {
        if (o.size > 4096)
            usage();
        write_idx_pair(&o, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", o.train, &r);
        write_idx_pair(&o, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", o.test, &r);
    } else if (!strcmp(o.format, "cifar10")) {
        o.gzip = 0;
        for (int b = 1; b <= 5; b++) {
            char name[32];
            snprintf(name, sizeof name, "data_batch_%d.bin", b);
            long n = o.train * b / 5 - o.train * (b - 1) / 5;
            write_cifar_batch(&o, name, n, &r);
        }
        write_cifar_batch(&o, "test_batch.bin", o.test, &r);
    } else {
        usage();
    }
    if (o.npy) {
        int cifar = !strcmp(o.format, "cifar10");
        write_npy(&o, cifar ? 3 : 1, cifar ? 32 : (int)o.size, o.test, &r);
    }
    return 0;
}
