/* accuracy.c - share of rows of P.npy (float32 [N, K], as `./NET predict`
 * or `forward` writes them) whose largest entry is at the class index in
 * L.npy (integer [N]), for tests that score predictions without NumPy.
 *
 *   accuracy P.npy L.npy     prints "accuracy 0.9960 (498/500)"
 */
#include <stdio.h>
#include <stdlib.h>

#include "cnnrt.h"

static void load(const char *path, cnnrt_tensor *t)
{
    char err[CNNRT_ERR_MAX];
    if (cnnrt_npy_read(path, t, err, sizeof err) < 0) {
        fprintf(stderr, "accuracy: %s\n", err);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    cnnrt_tensor p, l;
    int64_t right = 0;
    if (argc != 3) {
        fprintf(stderr, "usage: accuracy P.npy L.npy\n");
        return 2;
    }
    load(argv[1], &p);
    load(argv[2], &l);
    if (p.dtype != CNNRT_F32 || p.rank != 2 || l.rank != 1 || l.shape[0] != p.shape[0] ||
        p.shape[1] < 1) {
        fprintf(stderr, "accuracy: expected float32 [N, K] and integer [N]\n");
        return 1;
    }
    for (int64_t i = 0; i < p.shape[0]; i++) {
        const float *row = (const float *)p.data + i * p.shape[1];
        int64_t best = 0;
        for (int64_t k = 1; k < p.shape[1]; k++)
            if (row[k] > row[best])
                best = k;
        right += best == (int64_t)cnnrt_tensor_get(&l, (size_t)i);
    }
    printf("accuracy %.4f (%lld/%lld)\n", p.shape[0] ? (double)right / (double)p.shape[0] : 0.0,
           (long long)right, (long long)p.shape[0]);
    cnnrt_tensor_free(&p);
    cnnrt_tensor_free(&l);
    return 0;
}
