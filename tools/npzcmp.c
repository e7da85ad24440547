/* npzcmp - compares arrays with a tolerance, for the golden tests.
 *
 *   npzcmp [--atol A] [--rtol R] EXPECTED ACTUAL      (each .npz or .npy)
 *
 * Every array of EXPECTED must exist in ACTUAL under the same key with the
 * same shape, and every element must satisfy |a - e| <= atol + rtol * |e|
 * (defaults 1e-4 and 2e-3; dtypes may differ: values compare as doubles;
 * NaN matches only NaN).  Extra keys in ACTUAL are ignored.  One line per
 * key; exit 0 if all match, 1 if not (or a file is unreadable), 2 on bad
 * usage.  A .npy compares as the single key "(array)", and matches a .npz
 * that holds exactly one array.
 */
#include "cnnrt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char npy_key[] = "(array)";

/* A .npz, or a .npy as a one-entry npz; by content, not by name. */
static int load_any(const char *path, cnnrt_npz *z, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    int rc;
    memset(z, 0, sizeof *z);
    if (cnnrt_read_file(path, &buf, &len, err, errlen) < 0)
        return -1;
    if (len >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0) {
        z->names = calloc(1, sizeof *z->names);
        z->arrays = calloc(1, sizeof *z->arrays);
        rc = z->names && z->arrays ? 0 : cnnrt_errorf(err, errlen, "out of memory");
        if (rc == 0)
            rc = cnnrt_npy_parse(buf, len, path, &z->arrays[0], err, errlen);
        if (rc == 0 && !(z->names[0] = malloc(sizeof npy_key)))
            rc = cnnrt_errorf(err, errlen, "out of memory");
        if (rc == 0) {
            memcpy(z->names[0], npy_key, sizeof npy_key);
            z->n = 1;
        } else {
            cnnrt_tensor_free(&z->arrays[0]);
            free(z->names);
            free(z->arrays);
            memset(z, 0, sizeof *z);
        }
    } else {
        rc = cnnrt_npz_parse(buf, len, path, z, err, errlen);
    }
    free(buf);
    return rc;
}

/* Compares one array; prints its line; returns 1 if it matches. */
static int compare(const char *key, const cnnrt_tensor *e, const cnnrt_tensor *a,
                   double atol, double rtol)
{
    char se[160], sa[160];
    double worst = 0, worst_excess = 0;
    size_t bad = 0, where = 0;
    if (!a) {
        printf("%-24s MISSING from actual\n", key);
        return 0;
    }
    if (!cnnrt_shape_eq(e->rank, e->shape, a->rank, a->shape)) {
        printf("%-24s SHAPE expected %s, got %s\n", key,
               cnnrt_shape_str(e->rank, e->shape, se, sizeof se),
               cnnrt_shape_str(a->rank, a->shape, sa, sizeof sa));
        return 0;
    }
    for (size_t i = 0; i < e->count; i++) {
        double x = cnnrt_tensor_get(e, i), y = cnnrt_tensor_get(a, i);
        double d = fabs(y - x), excess;
        if (isnan(x) || isnan(y)) {
            if (isnan(x) && isnan(y))
                continue;
            d = INFINITY;
        } else if (x == y) {
            continue;   /* equal infinities too */
        }
        excess = d - (atol + rtol * fabs(x));
        if (d > worst || isnan(d))
            worst = d;
        if (!(excess <= 0)) {
            if (bad == 0 || excess > worst_excess)
                where = i, worst_excess = excess;
            bad++;
        }
    }
    cnnrt_shape_str(e->rank, e->shape, se, sizeof se);
    if (bad == 0) {
        printf("%-24s ok        %-16s max abs err %.3g\n", key, se, worst);
        return 1;
    }
    printf("%-24s MISMATCH  %-16s max abs err %.3g; %zu of %zu elements out of tolerance, "
           "worst at flat index %zu: expected %.9g, got %.9g\n", key, se, worst, bad, e->count,
           where, cnnrt_tensor_get(e, where), cnnrt_tensor_get(a, where));
    return 0;
}

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "npzcmp: %s\n", msg);
    fprintf(stderr, "usage: npzcmp [--atol A] [--rtol R] EXPECTED ACTUAL   (.npz or .npy)\n");
    return 2;
}

static int parse_tol(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return s && *s && !*end && !errno && *v >= 0 && isfinite(*v) ? 0 : -1;
}

int main(int argc, char **argv)
{
    double atol = 1e-4, rtol = 2e-3;
    const char *files[2];
    int nfiles = 0, ok = 1;
    char err[CNNRT_ERR_MAX];
    cnnrt_npz e, a;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--atol") || !strcmp(argv[i], "--rtol")) {
            if (parse_tol(i + 1 < argc ? argv[i + 1] : NULL, argv[i][2] == 'a' ? &atol : &rtol))
                return usage("--atol and --rtol expect a number >= 0");
            i++;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(NULL);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage("unknown option");
        } else if (nfiles < 2) {
            files[nfiles++] = argv[i];
        } else {
            return usage("too many arguments");
        }
    }
    if (nfiles != 2)
        return usage("expected two files");
    if (load_any(files[0], &e, err, sizeof err) < 0) {
        fprintf(stderr, "npzcmp: %s\n", err);
        return 1;
    }
    if (load_any(files[1], &a, err, sizeof err) < 0) {
        fprintf(stderr, "npzcmp: %s\n", err);
        cnnrt_npz_free(&e);
        return 1;
    }
    for (int i = 0; i < e.n; i++) {
        const cnnrt_tensor *t = cnnrt_npz_get(&a, e.names[i]);
        if (!t && (!strcmp(e.names[i], npy_key) || cnnrt_npz_get(&a, npy_key)) && a.n == 1 &&
            e.n == 1)
            t = &a.arrays[0];
        ok &= compare(e.names[i], &e.arrays[i], t, atol, rtol);
    }
    if (e.n == 0)
        printf("(%s holds no arrays)\n", files[0]);
    printf("%s: %s vs %s (atol %g, rtol %g)\n", ok ? "match" : "DIFFER", files[0], files[1],
           atol, rtol);
    cnnrt_npz_free(&e);
    cnnrt_npz_free(&a);
    return ok ? 0 : 1;
}
