/* fuzz_npz.c - libFuzzer harness for the .npz reader: the input is a whole
 * zip image for cnnrt_npz_parse() (stored and deflated entries, Zip64, CRC).
 * What parses is looked up by every name and written back with
 * cnnrt_npz_fwrite(), and the copy must parse to the same arrays.
 * Built by `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

static int same_tensor(const cnnrt_tensor *a, const cnnrt_tensor *b)
{
    return a->dtype == b->dtype && a->count == b->count &&
           cnnrt_shape_eq(a->rank, a->shape, b->rank, b->shape) &&
           memcmp(a->data, b->data, a->count * cnnrt_dtype_size(a->dtype)) == 0;
}

/* z written with cnnrt_npz_fwrite() parses back to the same arrays. */
static void round_trip(const cnnrt_npz *z)
{
    char *buf = NULL, err[CNNRT_ERR_MAX];
    size_t len = 0;
    cnnrt_npz_item *items = calloc((size_t)z->n + 1, sizeof *items);
    if (!items)
        abort();
    for (int i = 0; i < z->n; i++)
        items[i] = (cnnrt_npz_item){z->names[i], z->arrays[i]};
    FILE *f = open_memstream(&buf, &len);
    if (!f || cnnrt_npz_fwrite(f, items, z->n, err, sizeof err) < 0 || fclose(f) != 0)
        abort();
    cnnrt_npz back;
    if (cnnrt_npz_parse((const unsigned char *)buf, len, "copy", &back, err, sizeof err) < 0 ||
        back.n != z->n)
        abort();
    for (int i = 0; i < z->n; i++)
        if (strcmp(back.names[i], z->names[i]) != 0 || !same_tensor(&back.arrays[i], &z->arrays[i]))
            abort();
    cnnrt_npz_free(&back);
    free(items);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cnnrt_npz z;
    char err[CNNRT_ERR_MAX];
    if (cnnrt_npz_parse(data, size, "fuzz.npz", &z, err, sizeof err) < 0)
        return 0;
    for (int i = 0; i < z.n; i++)
        if (cnnrt_npz_get(&z, z.names[i]) == NULL)
            abort();
    round_trip(&z);
    cnnrt_npz_free(&z);
    return 0;
}
