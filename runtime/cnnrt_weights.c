/* cnnrt_weights.c - parameters to and from .npz files.
 *
 * A weights file holds every parameter under its own name ("c1.weight"),
 * float32, with the shape of its cnnrt_param_info.  A training checkpoint
 * (train --save) adds "NAME.momentum" for every parameter, "_epoch" (int64
 * scalar: epochs completed) and "_rng" (uint64 [4]: the shuffling RNG).
 * Keys we do not know are ignored, so either kind loads as weights.
 */
#include "cnnrt.h"

#include <stdlib.h>
#include <string.h>

/* "a, b, c" (the first keys of z, "..." when they do not fit) into buf. */
static char *key_list(const cnnrt_npz *z, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < z->n; i++) {
        size_t need = strlen(z->names[i]) + 2;
        if (k + need + 5 >= len) {
            snprintf(buf + k, len - k, "...");
            break;
        }
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", z->names[i]);
    }
    return buf;
}

/* The tensor stored under key, checked to be float32 with p's shape and
 * finite values. */
static int find_param(const cnnrt_npz *z, const char *path, const char *key,
                      const cnnrt_param_info *p, const float **data, char *err, size_t errlen)
{
    char want[160], got[160], keys[320];
    const cnnrt_tensor *t = cnnrt_npz_get(z, key);
    int64_t bad;
    cnnrt_shape_str(p->rank, p->shape, want, sizeof want);
    if (!t)
        return cnnrt_errorf(err, errlen, "%s: parameter '%s' is missing (expected float32 %s); "
                            "the file holds %d array%s%s%s", path, key, want, z->n,
                            z->n == 1 ? "" : "s", z->n ? ": " : "", key_list(z, keys, sizeof keys));
    if (t->dtype != CNNRT_F32)
        return cnnrt_errorf(err, errlen, "%s: parameter '%s': expected dtype float32 ('<f4'), "
                            "got %s ('%s')", path, key, cnnrt_dtype_name(t->dtype),
                            cnnrt_dtype_descr(t->dtype));
    if (!cnnrt_shape_eq(t->rank, t->shape, p->rank, p->shape))
        return cnnrt_errorf(err, errlen, "%s: parameter '%s': expected shape %s, got %s", path,
                            key, want, cnnrt_shape_str(t->rank, t->shape, got, sizeof got));
    bad = cnnrt_find_nonfinite(t->data, t->count);
    if (bad >= 0)
        return cnnrt_errorf(err, errlen, "%s: parameter '%s' holds %f at flat index %lld "
                            "(expected finite values)", path, key,
                            (double)((const float *)t->data)[bad], (long long)bad);
    *data = t->data;
    return 0;
}

/* Copies every parameter (suffix "" or ".momentum") into block; nothing is
 * written unless all are present and well-formed. */
static int load_block(const cnnrt_model *m, const cnnrt_npz *z, const char *path,
                      const char *suffix, float *block, char *err, size_t errlen)
{
    const float **src = calloc((size_t)m->nparams + 1, sizeof *src);
    if (!src)
        return cnnrt_errorf(err, errlen, "%s: out of memory", path);
    for (int i = 0; i < m->nparams; i++) {
        char key[512];
        snprintf(key, sizeof key, "%s%s", m->params[i].name, suffix);
        if (find_param(z, path, key, &m->params[i], &src[i], err, errlen) < 0) {
            free(src);
            return -1;
        }
    }
    for (int i = 0; i < m->nparams; i++)
        memcpy(block + m->params[i].offset, src[i], m->params[i].count * sizeof(float));
    free(src);
    return 0;
}

int cnnrt_load_weights(const cnnrt_model *m, void *ctx, const char *path,
                       char *err, size_t errlen)
{
    cnnrt_npz z;
    int rc;
    if (cnnrt_npz_read(path, &z, err, errlen) < 0)
        return -1;
    rc = load_block(m, &z, path, "", m->param_block(ctx), err, errlen);
    cnnrt_npz_free(&z);
    if (rc == 0 && m->constrain)
        m->constrain(ctx);
    return rc;
}

/* An integer scalar (or one-element array) under key into *v. */
static int get_int(const cnnrt_npz *z, const char *path, const char *key, int64_t *v,
                   char *err, size_t errlen)
{
    const cnnrt_tensor *t = cnnrt_npz_get(z, key);
    if (t->count != 1 || t->dtype == CNNRT_F32 || t->dtype == CNNRT_F64 ||
        (t->dtype == CNNRT_U64 && ((const uint64_t *)t->data)[0] > INT64_MAX))
        return cnnrt_errorf(err, errlen, "%s: '%s' must be one integer", path, key);
    *v = t->dtype == CNNRT_I64 ? ((const int64_t *)t->data)[0]
                               : (int64_t)cnnrt_tensor_get(t, 0);
    return 0;
}

static int load_train_state(const cnnrt_npz *z, const char *path, cnnrt_train_state *st,
                            char *err, size_t errlen)
{
    const cnnrt_tensor *r = cnnrt_npz_get(z, "_rng");
    if (!cnnrt_npz_get(z, "_epoch"))
        return 0;
    if (get_int(z, path, "_epoch", &st->epoch, err, errlen) < 0)
        return -1;
    if (st->epoch < 0)
        return cnnrt_errorf(err, errlen, "%s: '_epoch' is negative", path);
    if (!r || r->dtype != CNNRT_U64 || r->count != 4 ||
        cnnrt_rng_set_state(&st->rng, r->data) < 0)
        return cnnrt_errorf(err, errlen, "%s: '_rng' must be a nonzero uint64 array [4] "
                            "(the shuffling RNG state saved by train --save)", path);
    return 0;
}

int cnnrt_load_checkpoint(const cnnrt_model *m, void *ctx, const char *path,
                          cnnrt_train_state *st, char *err, size_t errlen)
{
    cnnrt_npz z;
    char key[512];
    int rc;
    st->epoch = 0;
    st->has_momentum = 0;
    if (cnnrt_npz_read(path, &z, err, errlen) < 0)
        return -1;
    rc = load_block(m, &z, path, "", m->param_block(ctx), err, errlen);
    snprintf(key, sizeof key, "%s.momentum", m->nparams ? m->params[0].name : "");
    if (rc == 0 && m->nparams > 0 && cnnrt_npz_get(&z, key)) {
        rc = load_block(m, &z, path, ".momentum", m->momentum_block(ctx), err, errlen);
        st->has_momentum = rc == 0;
    }
    if (rc == 0)
        rc = load_train_state(&z, path, st, err, errlen);
    cnnrt_npz_free(&z);
    if (rc == 0 && m->constrain)
        m->constrain(ctx);
    return rc;
}

int cnnrt_save_weights(const cnnrt_model *m, void *ctx, const char *path,
                       const cnnrt_train_state *st, char *err, size_t errlen)
{
    char (*keys)[512];
    cnnrt_npz_item *items;
    int n = 0, rc;
    int64_t epoch = st ? st->epoch : 0, four = 4;
    uint64_t rng[4];
    float *params = m->param_block(ctx), *mom = m->momentum_block(ctx);

    items = calloc(2 * (size_t)m->nparams + 2, sizeof *items);
    keys = calloc((size_t)m->nparams + 1, sizeof *keys);
    if (!items || !keys) {
        free(items);
        free(keys);
        return cnnrt_errorf(err, errlen, "%s: out of memory", path);
    }
    for (int i = 0; i < m->nparams; i++) {
        const cnnrt_param_info *p = &m->params[i];
        items[n].name = p->name;
        items[n++].t = cnnrt_tensor_view(CNNRT_F32, p->rank, p->shape, params + p->offset);
    }
    if (st) {
        for (int i = 0; i < m->nparams; i++) {
            const cnnrt_param_info *p = &m->params[i];
            snprintf(keys[i], sizeof keys[i], "%s.momentum", p->name);
            items[n].name = keys[i];
            items[n++].t = cnnrt_tensor_view(CNNRT_F32, p->rank, p->shape, mom + p->offset);
        }
        cnnrt_rng_get_state(&st->rng, rng);
        items[n].name = "_epoch";
        items[n++].t = cnnrt_tensor_view(CNNRT_I64, 0, NULL, &epoch);
        items[n].name = "_rng";
        items[n++].t = cnnrt_tensor_view(CNNRT_U64, 1, &four, rng);
    }
    rc = cnnrt_npz_write(path, items, n, err, errlen);
    free(items);
    free(keys);
    return rc;
}
