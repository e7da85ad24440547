/* fuzz_idx.c - libFuzzer harness for the idx reader (MNIST files, plain or
 * gzip).  The first byte picks the form: odd means the rest is gzipped
 * before cnnrt_idx_read() sees it, so the fuzzer's mutations reach the idx
 * parser through zlib too; even means the rest is the file as it is (raw
 * idx, or gzip streams the fuzzer corrupts).  Built by `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cnnrt.h"
#include "fuzz_files.h"

static memfile file;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfile_open(&file, "idx");
    return 0;
}

/* data as a gzip member (deflateInit2 with windowBits 16 + 15). */
static unsigned char *gzip(const uint8_t *data, size_t size, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&zs, (uLong)size) + 32;
    unsigned char *out = malloc(cap);
    if (!out)
        abort();
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)size;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        size_t n;
        unsigned char *z = gzip(data + 1, size - 1, &n);
        memfile_set(&file, z, n);
        free(z);
    } else {
        memfile_set(&file, data + 1, size - 1);
    }
    cnnrt_tensor t;
    char err[CNNRT_ERR_MAX];
    if (cnnrt_idx_read(file.path, &t, err, sizeof err) == 0) {
        if (t.dtype != CNNRT_U8 || t.rank < 1)
            abort();
        cnnrt_tensor_free(&t);
    }
    return 0;
}
