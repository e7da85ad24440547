/* mknpy.c - makes and edits .npy / .npz files for the tests of broken input
 * (tests/broken.sh), with no NumPy needed.
 *
 *   mknpy array OUT.npy DTYPE SHAPE FILL   a new array
 *   mknpy put IN.npz OUT.npz KEY X.npy     IN with KEY set to the array of X.npy
 *   mknpy drop IN.npz OUT.npz KEY          IN without KEY
 *   mknpy rename IN.npz OUT.npz KEY NEW    IN with KEY stored as NEW
 *   mknpy flip FILE OFFSET [XOR]           byte OFFSET of FILE xor XOR (default 0xff),
 *                                          in place; a negative OFFSET counts from the end
 *
 * DTYPE: f4 f8 i4 i8 u1 u8.  SHAPE: "2,1,28,28" ("" for a scalar).  FILL:
 * a number for every element (nan and inf too), "rand" (uniform [0, 1),
 * seed 1) or "mod:K" (element i is i mod K).  Exit 0, or 1 with a message.
 */
#include "cnnrt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *msg)
{
    fprintf(stderr, "mknpy: %s\n", msg);
    return 1;
}

static int parse_dtype(const char *s, cnnrt_dtype *dt)
{
    static const struct { const char *name; cnnrt_dtype dt; } names[] = {
        {"f4", CNNRT_F32}, {"f8", CNNRT_F64}, {"i4", CNNRT_I32},
        {"i8", CNNRT_I64}, {"u1", CNNRT_U8}, {"u8", CNNRT_U64},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(s, names[i].name)) {
            *dt = names[i].dt;
            return 0;
        }
    return -1;
}

static int parse_shape(const char *s, int *rank, int64_t *shape)
{
    *rank = 0;
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || *rank == CNNRT_MAX_RANK || (*end && *end != ','))
            return -1;
        shape[(*rank)++] = v;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static void store(cnnrt_tensor *t, size_t i, double v)
{
    switch (t->dtype) {
    case CNNRT_F32: ((float *)t->data)[i] = (float)v; break;
    case CNNRT_F64: ((double *)t->data)[i] = v; break;
    case CNNRT_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case CNNRT_I64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    case CNNRT_U8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case CNNRT_U64: ((uint64_t *)t->data)[i] = (uint64_t)v; break;
    default: break;
    }
}

/* Fills t as FILL says; -1 if FILL is not understood. */
static int fill(cnnrt_tensor *t, const char *how)
{
    cnnrt_rng r;
    char *end;
    double v = 0;
    long k = 0;
    cnnrt_rng_seed(&r, 1);
    if (!strncmp(how, "mod:", 4)) {
        k = strtol(how + 4, &end, 10);
        if (*end || k < 1)
            return -1;
    } else if (strcmp(how, "rand") != 0) {
        v = strtod(how, &end);
        if (end == how || *end)
            return -1;
    }
    for (size_t i = 0; i < t->count; i++)
        store(t, i, k ? (double)(i % (size_t)k) : !strcmp(how, "rand") ? cnnrt_rng_double(&r) : v);
    return 0;
}

static int cmd_array(char **a)
{
    char err[CNNRT_ERR_MAX];
    cnnrt_dtype dt;
    int rank, rc;
    int64_t shape[CNNRT_MAX_RANK];
    cnnrt_tensor t;
    if (parse_dtype(a[1], &dt) < 0)
        return fail("DTYPE is one of f4 f8 i4 i8 u1 u8");
    if (parse_shape(a[2], &rank, shape) < 0)
        return fail("SHAPE is a comma-separated list of sizes, e.g. 2,1,28,28");
    if (cnnrt_tensor_alloc(&t, dt, rank, shape, err, sizeof err) < 0)
        return fail(err);
    if (fill(&t, a[3]) < 0) {
        cnnrt_tensor_free(&t);
        return fail("FILL is a number, rand or mod:K");
    }
    rc = cnnrt_npy_write(a[0], &t, err, sizeof err);
    cnnrt_tensor_free(&t);
    return rc < 0 ? fail(err) : 0;
}

/* put / drop / rename: IN's arrays, edited, into OUT. */
static int cmd_edit(const char *op, char **a)
{
    char err[CNNRT_ERR_MAX];
    cnnrt_npz z;
    cnnrt_tensor x;
    cnnrt_npz_item *items;
    int n = 0, found = 0, rc;
    memset(&x, 0, sizeof x);
    if (cnnrt_npz_read(a[0], &z, err, sizeof err) < 0)
        return fail(err);
    if (!strcmp(op, "put") && cnnrt_npy_read(a[3], &x, err, sizeof err) < 0) {
        cnnrt_npz_free(&z);
        return fail(err);
    }
    items = calloc((size_t)z.n + 1, sizeof *items);
    for (int i = 0; items && i < z.n; i++) {
        int hit = !strcmp(z.names[i], a[2]);
        found |= hit;
        if (hit && !strcmp(op, "drop"))
            continue;
        items[n].name = hit && !strcmp(op, "rename") ? a[3] : z.names[i];
        items[n++].t = hit && !strcmp(op, "put") ? x : z.arrays[i];
    }
    if (items && !found && !strcmp(op, "put")) {
        items[n].name = a[2];
        items[n++].t = x;
    }
    rc = !items                           ? fail("out of memory")
         : !found && strcmp(op, "put")    ? fail("no such key")
         : cnnrt_npz_write(a[1], items, n, err, sizeof err) < 0 ? fail(err) : 0;
    free(items);
    cnnrt_tensor_free(&x);
    cnnrt_npz_free(&z);
    return rc;
}

static int cmd_flip(char **a, int argc)
{
    char *end;
    long long off = strtoll(a[1], &end, 10);
    long x = argc > 2 ? strtol(a[2], NULL, 0) : 0xff;
    FILE *f = fopen(a[0], "r+b");
    int c;
    if (!f)
        return fail(strerror(errno));
    if (*end || fseek(f, off, off < 0 ? SEEK_END : SEEK_SET) != 0 ||
        (c = fgetc(f)) == EOF) {
        fclose(f);
        return fail("OFFSET is outside the file");
    }
    fseek(f, -1, SEEK_CUR);
    fputc((c ^ (int)x) & 0xff, f);
    return fclose(f) != 0 ? fail(strerror(errno)) : 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    int n = argc - 2;
    if (!strcmp(cmd, "array") && n == 4)
        return cmd_array(argv + 2);
    if ((!strcmp(cmd, "put") || !strcmp(cmd, "rename")) && n == 4)
        return cmd_edit(cmd, argv + 2);
    if (!strcmp(cmd, "drop") && n == 3)
        return cmd_edit(cmd, argv + 2);
    if (!strcmp(cmd, "flip") && (n == 2 || n == 3))
        return cmd_flip(argv + 2, n);
    fprintf(stderr, "usage: mknpy array OUT.npy DTYPE SHAPE FILL\n"
                    "       mknpy put IN.npz OUT.npz KEY X.npy\n"
                    "       mknpy drop IN.npz OUT.npz KEY\n"
                    "       mknpy rename IN.npz OUT.npz KEY NEW\n"
                    "       mknpy flip FILE OFFSET [XOR]\n");
    return 2;
}
