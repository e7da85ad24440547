/* cnnrt_npy.c - the NumPy .npy format (versions 1.0, 2.0 and 3.0).
 *
 * A file is: "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32
 * LE for 2.0/3.0), then a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces to a multiple of 64 bytes and ended by '\n', then the
 * raw data.  We parse the dict strictly and insist that the data fills the
 * rest of the file exactly.
 */
#include "cnnrt.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static int host_is_little(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* ------------------------------------------------------- header parsing */
typedef struct hdr_parser {
    const char *start, *p, *end;
    const char *what;
    char *err;
    size_t errlen;
} hdr_parser;

static void skip_ws(hdr_parser *h)
{
    while (h->p < h->end && isspace((unsigned char)*h->p))
        h->p++;
}

static int expect_char(hdr_parser *h, char c)
{
    skip_ws(h);
    if (h->p >= h->end || *h->p != c)
        return cnnrt_errorf(h->err, h->errlen,
                            "%s: malformed .npy header: expected '%c' at offset %d",
                            h->what, c, (int)(h->p - h->start));
    h->p++;
    return 0;
}

/* A quoted Python string without escapes, into buf. */
static int parse_string(hdr_parser *h, char *buf, size_t len)
{
    char q;
    size_t k = 0;
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return cnnrt_errorf(h->err, h->errlen,
                            "%s: malformed .npy header: expected a quoted string", h->what);
    q = *h->p++;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || k + 1 >= len)
            return cnnrt_errorf(h->err, h->errlen,
                                "%s: malformed .npy header: unsupported string", h->what);
        buf[k++] = *h->p++;
    }
    if (h->p >= h->end)
        return cnnrt_errorf(h->err, h->errlen,
                            "%s: malformed .npy header: unterminated string", h->what);
    h->p++;
    buf[k] = '\0';
    return 0;
}

static int parse_bool(hdr_parser *h, int *v)
{
    skip_ws(h);
    if ((size_t)(h->end - h->p) >= 4 && memcmp(h->p, "True", 4) == 0) {
        h->p += 4;
        *v = 1;
        return 0;
    }
    if ((size_t)(h->end - h->p) >= 5 && memcmp(h->p, "False", 5) == 0) {
        h->p += 5;
        *v = 0;
        return 0;
    }
    return cnnrt_errorf(h->err, h->errlen,
                        "%s: malformed .npy header: fortran_order must be True or False",
                        h->what);
}

/* shape: '(' [int {',' int} [',']] ')' */
static int parse_shape(hdr_parser *h, int *rank, int64_t *shape)
{
    int r = 0;
    if (expect_char(h, '(') < 0)
        return -1;
    for (;;) {
        int64_t v = 0;
        skip_ws(h);
        if (h->p < h->end && *h->p == ')')
            break;
        if (h->p >= h->end || !isdigit((unsigned char)*h->p))
            return cnnrt_errorf(h->err, h->errlen,
                                "%s: malformed .npy header: bad shape tuple", h->what);
        while (h->p < h->end && isdigit((unsigned char)*h->p)) {
            if (v > (INT64_MAX - 9) / 10)
                return cnnrt_errorf(h->err, h->errlen,
                                    "%s: .npy shape dimension too large", h->what);
            v = v * 10 + (*h->p++ - '0');
        }
        if (r == CNNRT_MAX_RANK)
            return cnnrt_errorf(h->err, h->errlen,
                                "%s: arrays of more than %d dimensions are not supported",
                                h->what, CNNRT_MAX_RANK);
        shape[r++] = v;
        skip_ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (h->p < h->end && *h->p == ')')
            break;
        return cnnrt_errorf(h->err, h->errlen,
                            "%s: malformed .npy header: bad shape tuple", h->what);
    }
    h->p++;
    /* (3) is the integer 3 in Python, not a tuple: numpy always writes (3,) */
    *rank = r;
    return 0;
}

/* '<f4' and friends; *swap when the file's byte order is not the host's. */
static int parse_descr(const char *d, const char *what, cnnrt_dtype *dt, int *swap,
                       char *err, size_t errlen)
{
    static const struct { const char *code; cnnrt_dtype dt; } codes[] = {
        {"f4", CNNRT_F32}, {"f8", CNNRT_F64}, {"i1", CNNRT_I8}, {"i2", CNNRT_I16},
        {"i4", CNNRT_I32}, {"i8", CNNRT_I64}, {"u1", CNNRT_U8}, {"u2", CNNRT_U16},
        {"u4", CNNRT_U32}, {"u8", CNNRT_U64}, {"b1", CNNRT_BOOL},
    };
    char order = d[0];
    if (order == '<' || order == '>' || order == '|' || order == '=') {
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
            if (strcmp(d + 1, codes[i].code) != 0)
                continue;
            size_t size = cnnrt_dtype_size(codes[i].dt);
            if (order == '|' && size != 1)
                break;
            *dt = codes[i].dt;
            *swap = size > 1 && ((order == '<' && !host_is_little()) ||
                                 (order == '>' && host_is_little()));
            return 0;
        }
    }
    return cnnrt_errorf(err, errlen,
                        "%s: unsupported dtype '%s' (expected a plain number type "
                        "such as '<f4', '<f8', '<i4', '<i8' or '|u1')", what, d);
}

static int parse_dict(hdr_parser *h, char *descr, size_t dlen, int *fortran,
                      int *rank, int64_t *shape)
{
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if (expect_char(h, '{') < 0)
        return -1;
    for (;;) {
        char key[32];
        skip_ws(h);
        if (h->p < h->end && *h->p == '}')
            break;
        if (parse_string(h, key, sizeof key) < 0 || expect_char(h, ':') < 0)
            return -1;
        if (strcmp(key, "descr") == 0 && !seen_descr++) {
            skip_ws(h);
            if (h->p < h->end && *h->p == '[')
                return cnnrt_errorf(h->err, h->errlen,
                                    "%s: structured dtypes are not supported", h->what);
            if (parse_string(h, descr, dlen) < 0)
                return -1;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_fortran++) {
            if (parse_bool(h, fortran) < 0)
                return -1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape++) {
            if (parse_shape(h, rank, shape) < 0)
                return -1;
        } else {
            return cnnrt_errorf(h->err, h->errlen,
                                "%s: malformed .npy header: unexpected key '%s'", h->what, key);
        }
        skip_ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (h->p < h->end && *h->p == '}')
            break;
        return cnnrt_errorf(h->err, h->errlen,
                            "%s: malformed .npy header: expected ',' or '}'", h->what);
    }
    h->p++;
    skip_ws(h);
    if (h->p != h->end)
        return cnnrt_errorf(h->err, h->errlen,
                            "%s: malformed .npy header: text after the dictionary", h->what);
    if (!seen_descr || !seen_fortran || !seen_shape)
        return cnnrt_errorf(h->err, h->errlen,
                            "%s: malformed .npy header: needs 'descr', 'fortran_order' and 'shape'",
                            h->what);
    return 0;
}

static void byteswap(unsigned char *p, size_t count, size_t size)
{
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* ---------------------------------------------------------------- reading */
int cnnrt_npy_parse(const unsigned char *buf, size_t len, const char *what,
                    cnnrt_tensor *out, char *err, size_t errlen)
{
    size_t hlen, hstart, count, nbytes;
    char descr[32], shp[160];
    int fortran = 0, rank = 0, swap = 0;
    int64_t shape[CNNRT_MAX_RANK];
    cnnrt_dtype dt = CNNRT_F32;
    hdr_parser h;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return cnnrt_errorf(err, errlen, "%s: empty file (expected a .npy array)", what);
    if (len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0)
        return cnnrt_errorf(err, errlen, "%s: this is a .npz archive (zip), expected a .npy "
                            "array", what);
    if (len < 10 && memcmp(buf, npy_magic, len < 6 ? len : 6) == 0)
        return cnnrt_errorf(err, errlen, "%s: truncated .npy header (%zu bytes)", what, len);
    if (len < 10 || memcmp(buf, npy_magic, 6) != 0)
        return cnnrt_errorf(err, errlen, "%s: not a .npy file (bad magic; expected \\x93NUMPY)",
                            what);
    if (buf[6] == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if (buf[6] == 2 || buf[6] == 3) {
        if (len < 12)
            return cnnrt_errorf(err, errlen, "%s: truncated .npy header", what);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        return cnnrt_errorf(err, errlen, "%s: unsupported .npy version %d.%d "
                            "(expected 1.0, 2.0 or 3.0)", what, buf[6], buf[7]);
    }
    if (hlen > len - hstart)
        return cnnrt_errorf(err, errlen, "%s: truncated .npy header (%zu bytes announced, "
                            "%zu present)", what, hlen, len - hstart);
    h.start = h.p = (const char *)buf + hstart;
    h.end = h.p + hlen;
    h.what = what;
    h.err = err;
    h.errlen = errlen;
    if (parse_dict(&h, descr, sizeof descr, &fortran, &rank, shape) < 0)
        return -1;
    if (fortran)
        return cnnrt_errorf(err, errlen, "%s: fortran_order arrays are not supported "
                            "(save a C-contiguous array, e.g. numpy.ascontiguousarray)", what);
    if (parse_descr(descr, what, &dt, &swap, err, errlen) < 0)
        return -1;
    cnnrt_shape_str(rank, shape, shp, sizeof shp);
    if (cnnrt_shape_count(rank, shape, &count) < 0 ||
        count > SIZE_MAX / cnnrt_dtype_size(dt))
        return cnnrt_errorf(err, errlen, "%s: shape %s is too large", what, shp);
    nbytes = count * cnnrt_dtype_size(dt);
    if (len - hstart - hlen < nbytes)
        return cnnrt_errorf(err, errlen, "%s: truncated: header says %s %s (%zu bytes of data), "
                            "but only %zu bytes follow", what, cnnrt_dtype_name(dt), shp,
                            nbytes, len - hstart - hlen);
    if (len - hstart - hlen > nbytes)
        return cnnrt_errorf(err, errlen, "%s: %zu unexpected bytes after the data of %s %s",
                            what, len - hstart - hlen - nbytes, cnnrt_dtype_name(dt), shp);
    if (cnnrt_tensor_alloc(out, dt, rank, shape, err, errlen) < 0)
        return cnnrt_errorf(err, errlen, "%s: out of memory for %s %s", what,
                            cnnrt_dtype_name(dt), shp);
    memcpy(out->data, buf + hstart + hlen, nbytes);
    if (swap)
        byteswap(out->data, count, cnnrt_dtype_size(dt));
    return 0;
}

int cnnrt_npy_read(const char *path, cnnrt_tensor *out, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    int rc;
    memset(out, 0, sizeof *out);
    if (cnnrt_read_file(path, &buf, &len, err, errlen) < 0)
        return -1;
    rc = cnnrt_npy_parse(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- writing */
/* The version 1.0 preamble and header of t into buf (>= 256 bytes);
 * returns its length, a multiple of 64. */
static size_t npy_header(const cnnrt_tensor *t, char *buf)
{
    char dict[220];
    size_t k, total;
    const char *descr = cnnrt_dtype_descr(t->dtype);
    k = (size_t)snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                         descr[0] == '|' ? '|' : host_is_little() ? '<' : '>', descr + 1);
    for (int i = 0; i < t->rank; i++)
        k += (size_t)snprintf(dict + k, sizeof dict - k, "%lld,%s", (long long)t->shape[i],
                              i + 1 < t->rank ? " " : "");
    if (t->rank > 1)
        k--;   /* numpy writes (2, 3) but (3,) */
    k += (size_t)snprintf(dict + k, sizeof dict - k, "), }");
    total = (10 + k + 1 + 63) / 64 * 64;
    memcpy(buf, npy_magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)((total - 10) >> 8);
    memcpy(buf + 10, dict, k);
    memset(buf + 10 + k, ' ', total - 10 - k - 1);
    buf[total - 1] = '\n';
    return total;
}

static size_t npy_data_bytes(const cnnrt_tensor *t)
{
    return t->count * cnnrt_dtype_size(t->dtype);
}

size_t cnnrt_npy_size(const cnnrt_tensor *t)
{
    char hdr[256];
    return npy_header(t, hdr) + npy_data_bytes(t);
}

uint32_t cnnrt_npy_crc32(const cnnrt_tensor *t)
{
    char hdr[256];
    size_t h = npy_header(t, hdr);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32_z(crc, (const Bytef *)hdr, h);
    if (npy_data_bytes(t) > 0)
        crc = crc32_z(crc, (const Bytef *)t->data, npy_data_bytes(t));
    return (uint32_t)crc;
}

int cnnrt_npy_fwrite(FILE *f, const cnnrt_tensor *t, char *err, size_t errlen)
{
    char hdr[256];
    size_t h = npy_header(t, hdr), n = npy_data_bytes(t);
    errno = 0;
    if (fwrite(hdr, 1, h, f) != h || (n > 0 && fwrite(t->data, 1, n, f) != n))
        return cnnrt_errorf(err, errlen, "write failed: %s", strerror(errno ? errno : EIO));
    return 0;
}

static int npy_writer(FILE *f, void *arg, char *err, size_t errlen)
{
    return cnnrt_npy_fwrite(f, arg, err, errlen);
}

int cnnrt_npy_write(const char *path, const cnnrt_tensor *t, char *err, size_t errlen)
{
    return cnnrt_atomic_write(path, npy_writer, (void *)t, err, errlen);
}
