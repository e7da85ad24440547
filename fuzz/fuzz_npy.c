/* fuzz_npy.c - libFuzzer harness for the .npy reader: the input is a whole
 * file image for cnnrt_npy_parse().  What parses is read element by element,
 * measured and written back, and the written image must parse to the same
 * tensor.  Built by `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

/* t written with cnnrt_npy_fwrite() parses back to the same bytes. */
static void round_trip(const cnnrt_tensor *t)
{
    char *buf = NULL, err[CNNRT_ERR_MAX];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || cnnrt_npy_fwrite(f, t, err, sizeof err) < 0 || fclose(f) != 0)
        abort();
    cnnrt_tensor back;
    if (len != cnnrt_npy_size(t) ||
        cnnrt_npy_parse((const unsigned char *)buf, len, "copy", &back, err, sizeof err) < 0)
        abort();
    if (back.dtype != t->dtype || back.count != t->count ||
        !cnnrt_shape_eq(back.rank, back.shape, t->rank, t->shape) ||
        memcmp(back.data, t->data, t->count * cnnrt_dtype_size(t->dtype)) != 0)
        abort();
    cnnrt_tensor_free(&back);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cnnrt_tensor t;
    char err[CNNRT_ERR_MAX];
    if (cnnrt_npy_parse(data, size, "fuzz.npy", &t, err, sizeof err) < 0)
        return 0;
    double sum = 0;
    for (size_t i = 0; i < t.count; i++)
        sum += cnnrt_tensor_get(&t, i);
    (void)sum;
    (void)cnnrt_npy_crc32(&t);
    round_trip(&t);
    cnnrt_tensor_free(&t);
    return 0;
}
