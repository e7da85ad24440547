/* cnnrt_npz.c - .npz files: zip archives of NAME.npy entries.
 *
 * The reader goes through the central directory (the local headers that
 * numpy.savez writes carry Zip64 extra fields with force_zip64=True, and may
 * defer sizes to a data descriptor), accepts stored and deflated entries
 * (numpy.savez / numpy.savez_compressed) and checks every CRC-32.
 * The writer produces a stored zip with fixed timestamps, so the same arrays
 * always give the same bytes; Zip64 records appear only when sizes need them.
 */
#include "cnnrt.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define LIM32 0xffffffffu

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* ------------------------------------------------------------------ reading */
typedef struct zip_dir {
    uint64_t count, size, offset;    /* central directory */
} zip_dir;

static int find_eocd(const unsigned char *buf, size_t len, const char *what,
                     zip_dir *d, char *err, size_t errlen)
{
    size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0, e;
    int found = 0;
    if (len == 0)
        return cnnrt_errorf(err, errlen, "%s: empty file (expected a .npz archive)", what);
    if (len < 22)
        return cnnrt_errorf(err, errlen, "%s: not a .npz file (too short for a zip archive)", what);
    for (e = len - 22;; e--) {
        if (rd32(buf + e) == SIG_EOCD) {
            found = 1;
            break;
        }
        if (e == lo)
            break;
    }
    if (!found)
        return cnnrt_errorf(err, errlen, "%s: not a .npz file (no zip end-of-central-directory "
                            "record; truncated?)", what);
    d->count = rd16(buf + e + 10);
    d->size = rd32(buf + e + 12);
    d->offset = rd32(buf + e + 16);
    if (d->count == 0xffff || d->size == LIM32 || d->offset == LIM32) {
        uint64_t z;
        if (e < 20 || rd32(buf + e - 20) != SIG_LOC64)
            return cnnrt_errorf(err, errlen, "%s: corrupt zip: Zip64 locator missing", what);
        z = rd64(buf + e - 20 + 8);
        if (z > len || len - z < 56 || rd32(buf + z) != SIG_EOCD64)
            return cnnrt_errorf(err, errlen, "%s: corrupt zip: bad Zip64 end record", what);
        d->count = rd64(buf + z + 32);
        d->size = rd64(buf + z + 40);
        d->offset = rd64(buf + z + 48);
    }
    if (d->offset > len || d->size > len - d->offset)
        return cnnrt_errorf(err, errlen, "%s: corrupt or truncated zip: central directory "
                            "outside the file", what);
    if (d->count > d->size / 46)
        return cnnrt_errorf(err, errlen, "%s: corrupt zip: %llu entries cannot fit in the "
                            "central directory", what, (unsigned long long)d->count);
    return 0;
}

typedef struct zip_entry {
    char name[512];
    uint32_t flags, method, crc;
    uint64_t csize, usize, offset;
} zip_entry;

/* Applies the Zip64 extra field (id 1) of a central directory entry. */
static int apply_zip64(const unsigned char *x, size_t xlen, zip_entry *z)
{
    while (xlen >= 4) {
        uint32_t id = rd16(x), n = rd16(x + 2);
        const unsigned char *v = x + 4;
        if (n > xlen - 4)
            return -1;
        if (id == 1) {
            size_t k = 0;
            if (z->usize == LIM32) { if (k + 8 > n) return -1; z->usize = rd64(v + k); k += 8; }
            if (z->csize == LIM32) { if (k + 8 > n) return -1; z->csize = rd64(v + k); k += 8; }
            if (z->offset == LIM32) { if (k + 8 > n) return -1; z->offset = rd64(v + k); }
        }
        x += 4 + n;
        xlen -= 4 + n;
    }
    return 0;
}

/* Parses the central directory entry at *pos and advances *pos. */
static int read_central(const unsigned char *buf, const zip_dir *d, uint64_t *pos,
                        const char *what, zip_entry *z, char *err, size_t errlen)
{
    const unsigned char *p = buf + *pos;
    uint64_t end = d->offset + d->size;
    uint32_t nlen, xlen, clen;
    if (end - *pos < 46 || rd32(p) != SIG_CENTRAL)
        return cnnrt_errorf(err, errlen, "%s: corrupt zip central directory", what);
    nlen = rd16(p + 28);
    xlen = rd16(p + 30);
    clen = rd16(p + 32);
    if (end - *pos - 46 < (uint64_t)nlen + xlen + clen)
        return cnnrt_errorf(err, errlen, "%s: corrupt zip central directory", what);
    if (nlen == 0 || nlen >= sizeof z->name || memchr(p + 46, 0, nlen))
        return cnnrt_errorf(err, errlen, "%s: zip entry with an unusable name", what);
    memcpy(z->name, p + 46, nlen);
    z->name[nlen] = '\0';
    z->flags = rd16(p + 8);
    z->method = rd16(p + 10);
    z->crc = rd32(p + 16);
    z->csize = rd32(p + 20);
    z->usize = rd32(p + 24);
    z->offset = rd32(p + 42);
    if (apply_zip64(p + 46 + nlen, xlen, z) < 0)
        return cnnrt_errorf(err, errlen, "%s: entry '%s': bad Zip64 extra field", what, z->name);
    *pos += 46 + (uint64_t)nlen + xlen + clen;
    return 0;
}

static int inflate_raw(const unsigned char *src, uint64_t clen, unsigned char *dst,
                       uint64_t cap, uint64_t *produced)
{
    z_stream zs;
    uint64_t in_left = clen, out_left = cap;
    int rc;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return Z_MEM_ERROR;
    zs.next_in = (Bytef *)src;
    zs.next_out = dst;
    do {
        if (zs.avail_in == 0 && in_left > 0) {
            zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0 && out_left > 0) {
            zs.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
            out_left -= zs.avail_out;
        }
        rc = inflate(&zs, Z_NO_FLUSH);
    } while (rc == Z_OK);
    *produced = zs.total_out;
    inflateEnd(&zs);
    return rc;
}

/* The uncompressed bytes of entry z (malloc'd), CRC checked. */
static int extract(const unsigned char *buf, size_t len, const char *what,
                   const zip_entry *z, unsigned char **out, char *err, size_t errlen)
{
    const unsigned char *p;
    uint64_t data, got = 0;
    uLong crc;
    *out = NULL;
    if (z->flags & 1)
        return cnnrt_errorf(err, errlen, "%s: entry '%s' is encrypted", what, z->name);
    if (z->method != 0 && z->method != 8)
        return cnnrt_errorf(err, errlen, "%s: entry '%s' uses zip compression method %u "
                            "(only stored and deflated are supported)", what, z->name,
                            (unsigned)z->method);
    if (z->offset > len || len - z->offset < 30 || rd32(buf + z->offset) != SIG_LOCAL)
        return cnnrt_errorf(err, errlen, "%s: entry '%s': bad local header offset", what, z->name);
    p = buf + z->offset;
    data = z->offset + 30 + rd16(p + 26) + rd16(p + 28);
    if (data > len || len - data < z->csize)
        return cnnrt_errorf(err, errlen, "%s: entry '%s' is truncated", what, z->name);
    if (rd16(p + 26) != strlen(z->name) || memcmp(p + 30, z->name, strlen(z->name)) != 0)
        return cnnrt_errorf(err, errlen, "%s: entry '%s': its local header holds another name "
                            "(corrupt zip)", what, z->name);
    if (z->usize > SIZE_MAX - 1 || (z->method == 0 && z->csize != z->usize))
        return cnnrt_errorf(err, errlen, "%s: entry '%s': inconsistent sizes", what, z->name);
    /* a deflate stream cannot expand data by more than ~1032x */
    if (z->method == 8 && z->usize / 1032 > z->csize + 1)
        return cnnrt_errorf(err, errlen, "%s: entry '%s': implausible uncompressed size", what,
                            z->name);
    *out = malloc((size_t)z->usize + 1);
    if (!*out)
        return cnnrt_errorf(err, errlen, "%s: entry '%s': out of memory", what, z->name);
    if (z->method == 0) {
        memcpy(*out, buf + data, (size_t)z->usize);
    } else {
        int rc = inflate_raw(buf + data, z->csize, *out, z->usize + 1, &got);
        if (rc != Z_STREAM_END || got != z->usize) {
            free(*out);
            *out = NULL;
            return cnnrt_errorf(err, errlen, "%s: entry '%s': corrupt deflate data", what, z->name);
        }
    }
    crc = crc32_z(crc32(0L, Z_NULL, 0), *out, (size_t)z->usize);
    if ((uint32_t)crc != z->crc) {
        free(*out);
        *out = NULL;
        return cnnrt_errorf(err, errlen, "%s: entry '%s': CRC-32 mismatch (stored %08x, "
                            "computed %08x): the file is corrupt", what, z->name,
                            (unsigned)z->crc, (unsigned)crc);
    }
    return 0;
}

/* Extracts and parses one entry into z->names[i], z->arrays[i]. */
static int read_entry(const unsigned char *buf, size_t len, const char *what,
                      const zip_entry *e, cnnrt_npz *z, char *err, size_t errlen)
{
    unsigned char *data;
    char where[1100];
    size_t nlen = strlen(e->name);
    int rc;
    if (extract(buf, len, what, e, &data, err, errlen) < 0)
        return -1;
    snprintf(where, sizeof where, "%s: entry '%s'", what, e->name);
    rc = cnnrt_npy_parse(data, (size_t)e->usize, where, &z->arrays[z->n], err, errlen);
    free(data);
    if (rc < 0)
        return -1;
    if (nlen > 4 && strcmp(e->name + nlen - 4, ".npy") == 0)
        nlen -= 4;
    z->names[z->n] = malloc(nlen + 1);
    if (!z->names[z->n]) {
        cnnrt_tensor_free(&z->arrays[z->n]);
        return cnnrt_errorf(err, errlen, "%s: out of memory", what);
    }
    memcpy(z->names[z->n], e->name, nlen);
    z->names[z->n][nlen] = '\0';
    if (cnnrt_npz_get(z, z->names[z->n])) {
        cnnrt_errorf(err, errlen, "%s: duplicate entry '%s'", what, z->names[z->n]);
        free(z->names[z->n]);
        cnnrt_tensor_free(&z->arrays[z->n]);
        return -1;
    }
    z->n++;
    return 0;
}

int cnnrt_npz_parse(const unsigned char *buf, size_t len, const char *what,
                    cnnrt_npz *z, char *err, size_t errlen)
{
    zip_dir d = {0, 0, 0};
    uint64_t pos;
    memset(z, 0, sizeof *z);
    if (len >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0)
        return cnnrt_errorf(err, errlen, "%s: this is a .npy file, expected a .npz archive", what);
    if (find_eocd(buf, len, what, &d, err, errlen) < 0)
        return -1;
    z->names = calloc(d.count ? d.count : 1, sizeof *z->names);
    z->arrays = calloc(d.count ? d.count : 1, sizeof *z->arrays);
    if (!z->names || !z->arrays) {
        cnnrt_npz_free(z);
        return cnnrt_errorf(err, errlen, "%s: out of memory", what);
    }
    pos = d.offset;
    for (uint64_t i = 0; i < d.count; i++) {
        zip_entry e;
        if (read_central(buf, &d, &pos, what, &e, err, errlen) < 0 ||
            read_entry(buf, len, what, &e, z, err, errlen) < 0) {
            cnnrt_npz_free(z);
            return -1;
        }
    }
    return 0;
}

int cnnrt_npz_read(const char *path, cnnrt_npz *z, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    int rc;
    memset(z, 0, sizeof *z);
    if (cnnrt_read_file(path, &buf, &len, err, errlen) < 0)
        return -1;
    rc = cnnrt_npz_parse(buf, len, path, z, err, errlen);
    free(buf);
    return rc;
}

const cnnrt_tensor *cnnrt_npz_get(const cnnrt_npz *z, const char *name)
{
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->names[i], name) == 0)
            return &z->arrays[i];
    return NULL;
}

void cnnrt_npz_free(cnnrt_npz *z)
{
    for (int i = 0; i < z->n; i++) {
        free(z->names[i]);
        cnnrt_tensor_free(&z->arrays[i]);
    }
    free(z->names);
    free(z->arrays);
    memset(z, 0, sizeof *z);
}

/* ------------------------------------------------------------------ writing */
typedef struct zip_out {
    FILE *f;
    uint64_t pos;
    int failed;       /* the errno of the first failed write */
} zip_out;

static void put(zip_out *o, const void *p, size_t n)
{
    if (n && !o->failed && fwrite(p, 1, n, o->f) != n)
        o->failed = errno ? errno : EIO;
    o->pos += n;
}

static void put16(zip_out *o, uint32_t v)
{
    unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(o, b, 2);
}

static void put32(zip_out *o, uint32_t v)
{
    put16(o, v & 0xffff);
    put16(o, v >> 16);
}

static void put64(zip_out *o, uint64_t v)
{
    put32(o, (uint32_t)v);
    put32(o, (uint32_t)(v >> 32));
}

typedef struct zip_rec {
    uint64_t offset, size;
    uint32_t crc;
} zip_rec;

/* Local header + name + (Zip64 extra if the size needs it); time 1980-01-01. */
static void put_local(zip_out *o, const char *name, const zip_rec *r)
{
    int big = r->size >= LIM32;
    put32(o, SIG_LOCAL);
    put16(o, big ? 45 : 20);
    put16(o, 0);                  /* flags */
    put16(o, 0);                  /* stored */
    put16(o, 0);                  /* time */
    put16(o, 0x21);               /* date 1980-01-01 */
    put32(o, r->crc);
    put32(o, big ? LIM32 : (uint32_t)r->size);
    put32(o, big ? LIM32 : (uint32_t)r->size);
    put16(o, (uint32_t)strlen(name) + 4);
    put16(o, big ? 20 : 0);
    put(o, name, strlen(name));
    put(o, ".npy", 4);
    if (big) {
        put16(o, 1);
        put16(o, 16);
        put64(o, r->size);
        put64(o, r->size);
    }
}

static void put_central(zip_out *o, const char *name, const zip_rec *r)
{
    int big = r->size >= LIM32, far = r->offset >= LIM32;
    put32(o, SIG_CENTRAL);
    put16(o, 45);                 /* made by: MS-DOS, zip 4.5 */
    put16(o, big || far ? 45 : 20);
    put16(o, 0);
    put16(o, 0);
    put16(o, 0);
    put16(o, 0x21);
    put32(o, r->crc);
    put32(o, big ? LIM32 : (uint32_t)r->size);
    put32(o, big ? LIM32 : (uint32_t)r->size);
    put16(o, (uint32_t)strlen(name) + 4);
    put16(o, big || far ? 4 + 16 * big + 8 * far : 0);
    put16(o, 0);                  /* comment */
    put16(o, 0);                  /* disk */
    put16(o, 0);                  /* internal attributes */
    put32(o, 0644u << 16);        /* external attributes: -rw-r--r-- */
    put32(o, far ? LIM32 : (uint32_t)r->offset);
    put(o, name, strlen(name));
    put(o, ".npy", 4);
    if (big || far) {
        put16(o, 1);
        put16(o, 16 * big + 8 * far);
        if (big) {
            put64(o, r->size);
            put64(o, r->size);
        }
        if (far)
            put64(o, r->offset);
    }
}

static void put_end(zip_out *o, uint64_t n, uint64_t cd_start)
{
    uint64_t cd_size = o->pos - cd_start;
    if (n >= 0xffff || cd_start >= LIM32 || cd_size >= LIM32) {
        uint64_t z = o->pos;
        put32(o, SIG_EOCD64);
        put64(o, 44);
        put16(o, 45);
        put16(o, 45);
        put32(o, 0);
        put32(o, 0);
        put64(o, n);
        put64(o, n);
        put64(o, cd_size);
        put64(o, cd_start);
        put32(o, SIG_LOC64);
        put32(o, 0);
        put64(o, z);
        put32(o, 1);
    }
    put32(o, SIG_EOCD);
    put16(o, 0);
    put16(o, 0);
    put16(o, n >= 0xffff ? 0xffff : (uint32_t)n);
    put16(o, n >= 0xffff ? 0xffff : (uint32_t)n);
    put32(o, cd_size >= LIM32 ? LIM32 : (uint32_t)cd_size);
    put32(o, cd_start >= LIM32 ? LIM32 : (uint32_t)cd_start);
    put16(o, 0);
}

int cnnrt_npz_fwrite(FILE *f, const cnnrt_npz_item *items, int n,
                     char *err, size_t errlen)
{
    zip_out o = {f, 0, 0};
    zip_rec *recs = calloc(n > 0 ? (size_t)n : 1, sizeof *recs);
    uint64_t cd_start;
    if (!recs)
        return cnnrt_errorf(err, errlen, "out of memory");
    for (int i = 0; i < n && !o.failed; i++) {
        if (strlen(items[i].name) > 60000) {
            free(recs);
            return cnnrt_errorf(err, errlen, "array name too long");
        }
        recs[i].offset = o.pos;
        recs[i].size = cnnrt_npy_size(&items[i].t);
        recs[i].crc = cnnrt_npy_crc32(&items[i].t);
        put_local(&o, items[i].name, &recs[i]);
        if (!o.failed && cnnrt_npy_fwrite(f, &items[i].t, err, errlen) < 0)
            o.failed = errno ? errno : EIO;
        o.pos += recs[i].size;
    }
    cd_start = o.pos;
    for (int i = 0; i < n && !o.failed; i++)
        put_central(&o, items[i].name, &recs[i]);
    if (!o.failed)
        put_end(&o, (uint64_t)n, cd_start);
    free(recs);
    if (o.failed)
        return cnnrt_errorf(err, errlen, "write failed: %s", strerror(o.failed));
    return 0;
}

typedef struct npz_args {
    const cnnrt_npz_item *items;
    int n;
} npz_args;

static int npz_writer(FILE *f, void *arg, char *err, size_t errlen)
{
    const npz_args *a = arg;
    return cnnrt_npz_fwrite(f, a->items, a->n, err, errlen);
}

int cnnrt_npz_write(const char *path, const cnnrt_npz_item *items, int n,
                    char *err, size_t errlen)
{
    npz_args a = {items, n};
    return cnnrt_atomic_write(path, npz_writer, &a, err, errlen);
}
