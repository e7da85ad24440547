/* fuzz_cifar.c - libFuzzer harness for the CIFAR-10 batch reader.  The
 * input is split into two batch files at a point its first two bytes
 * choose (so a data set of several files, and an empty or odd-sized one,
 * are all reached), then cnnrt_cifar10_load() reads both.  Built by
 * `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>

#include "cnnrt.h"
#include "fuzz_files.h"

static memfile files[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfile_open(&files[0], "data_batch_1.bin");
    memfile_open(&files[1], "data_batch_2.bin");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t rest = size - 2, cut = ((size_t)data[0] << 8 | data[1]) * 3073u / 16;
    if (cut > rest)
        cut = rest;
    memfile_set(&files[0], data + 2, cut);
    memfile_set(&files[1], data + 2 + cut, rest - cut);
    const char *paths[2] = {files[0].path, files[1].path};
    cnnrt_dataset ds;
    char err[CNNRT_ERR_MAX];
    int npaths = (data[0] & 0x80) ? 1 : 2;
    if (cnnrt_cifar10_load(paths, npaths, &ds, err, sizeof err) == 0) {
        for (int64_t i = 0; i < ds.n; i++)
            if (ds.labels[i] < 0 || ds.labels[i] > 9)
                abort();
        cnnrt_dataset_free(&ds);
    }
    return 0;
}
