/* emit_fastpool.c - SIMD kernels for maxpool and avgpool, written against
 * the templates of emit_simd.c.  The reference kernels of emit_window.c
 * stay as NAME_forward_ref / NAME_backward_ref (and emit the padding copy
 * both share).
 *
 * Vectors run along the last spatial axis: W consecutive outputs of one
 * row, whose windows start s apart (s = the last axis's stride, 1 or 2).
 * For each window position the W inputs are one load (s = 1) or two
 * overlapping loads and pick2 (s = 2: the floats p .. p + 2W - 2, never one
 * past the last that counts).  A row of at least W outputs is covered by
 * whole vectors, the last one shifted back to end at the row's end; a
 * shorter row takes one masked vector where the flavour has masks (avx512,
 * avx2), else the layer keeps the reference kernels.
 *
 * Max does per lane what the reference does: m starts at the first window
 * element and a later one replaces it (and its index the argmax) only when
 * strictly greater, so the first of equal maxima wins and a NaN wins only
 * in first place.  Avg adds in window order from 0 and divides by the
 * window volume, as the reference does: the results are the same bits.
 *
 * Backward is fast where the windows tile the input (size == stride on
 * every axis): each input gradient is written once, dy (avg: dy / volume)
 * where the argmax points and 0 elsewhere, instead of zeroing the plane and
 * scattering into it.  Overlapping windows keep the reference's loop. */
#include "emit.h"

typedef struct pgeom {
    int r;                          /* spatial rank; axis r - 1 is vectorised */
    int64_t C, psz, osz, kvol;      /* maps, per map: padded in, out; window */
    int64_t pm[MAX_SPATIAL];        /* padded input strides */
    int64_t om[MAX_SPATIAL];        /* output strides */
    int64_t xo[MAX_SPATIAL];        /* input step per output index */
    int64_t wo, s, kl;              /* last axis: outputs, stride, window */
    bool max;
} pgeom;

static pgeom make_pgeom(const ir_layer *ly)
{
    pgeom g = {0};
    int64_t p = 1, o = 1;
    g.r = ly->nsp;
    g.C = ly->in.d[0];
    g.kvol = 1;
    for (int a = g.r - 1; a >= 0; a--) {
        g.pm[a] = p;
        g.om[a] = o;
        g.xo[a] = ly->stride[a] * p;
        p *= ly->padded.d[a + 1];
        o *= ly->out.d[a + 1];
        g.kvol *= ly->kernel[a];
    }
    g.psz = p;
    g.osz = o;
    g.wo = ly->out.d[g.r];
    g.s = ly->stride[g.r - 1];
    g.kl = ly->kernel[g.r - 1];
    g.max = ly->kind == LK_MAXPOOL;
    return g;
}

bool pool_is_fast(const emitter *e, const ir_layer *ly)
{
    if (!e->simd || (ly->kind != LK_MAXPOOL && ly->kind != LK_AVGPOOL))
        return false;
    pgeom g = make_pgeom(ly);
    return (g.s == 1 || g.s == 2) && (g.wo >= e->simd->width || e->simd->loadn);
}

/* The windows tile the input: every input in at most one window. */
static bool pool_tiles(const ir_layer *ly)
{
    for (int a = 0; a < ly->nsp; a++)
        if (ly->stride[a] != ly->kernel[a])
            return false;
    return true;
}

bool pool_backward_is_fast(const emitter *e, const ir_layer *ly)
{
    return pool_is_fast(e, ly) && pool_tiles(ly);
}

static const char *num(int64_t n) { return arena_printf(emit_arena, "%lld", (long long)n); }

/* Lanes per vector call: W, or the whole row when it is shorter (masked). */
static int lanes(const emitter *e, const pgeom *g)
{
    return g->wo >= e->simd->width ? e->simd->width : (int)g->wo;
}

/* "0, s, 2s, ..": the input offset of each lane's window. */
static const char *ramp(const emitter *e, const pgeom *g)
{
    return simd_ramp(e->simd->width, g->s);
}

/* n lanes of contiguous floats at p (masked when n < W). */
static const char *load_n(const emitter *e, const char *p, int64_t n)
{
    const simd_target *v = e->simd;
    if (n <= 0)
        return v->zero;
    return n >= v->width ? simd(v->load, p, 0, 0) : simd(v->loadn, p, num(n), 0);
}

/* The n lanes of input at p + s*j: one load, or pick2 of the 2n - 1
 * floats from p in two loads, W - 1 apart. */
static const char *load_strided(const emitter *e, const pgeom *g, const char *p, int n)
{
    const simd_target *v = e->simd;
    int64_t W = v->width, need = 2 * (int64_t)n - 1;
    if (g->s == 1)
        return load_n(e, p, n);
    const char *p2 = arena_printf(emit_arena, "%s + %lld", p, (long long)(W - 1));
    return simd(v->pick2, load_n(e, p, need < W ? need : W), load_n(e, p2, need - (W - 1)), 0);
}

static void emit_store_n(emitter *e, const char *p, const char *val, int64_t n, bool ints)
{
    const simd_target *v = e->simd;
    if (n >= v->width)
        emit(e, "%s", simd(ints ? v->istore : v->store, p, val, 0));
    else if (n > 0)
        emit(e, "%s", simd(ints ? v->istoren : v->storen, p, val, num(n)));
}

/* Loops over the window's axes but the last; declares kb, the row's
 * offset in the plane.  Returns the loops opened. */
static int emit_window_rows(emitter *e, const ir_layer *ly, const pgeom *g)
{
    int loops = emit_loops(e, "k", g->r - 1, ly->kernel);
    emit(e, "const int kb = %s;", index_expr(emit_arena, "k", g->r - 1, g->pm));
    return loops;
}

/* ------------------------------------------------------------ forward */
/* One window position at offset `off` from each lane's window start. */
static void emit_fw_step(emitter *e, const pgeom *g, const char *off, int n)
{
    const simd_target *v = e->simd;
    emit(e, "{");
    emit(e, "const %s xv = %s;", v->vec,
         load_strided(e, g, arena_printf(emit_arena, "xq + xb + %s", off), n));
    if (g->max) {
        emit(e, "const %s up = %s;", v->mask, simd(v->gt, "xv", "m", 0));
        emit(e, "m = %s;", simd(v->blend, "up", "xv", "m"));
        emit(e, "at = %s;", simd(v->iblend, "up", simd(v->iadd, "ib", simd(v->isplat, off, 0, 0), 0), "at"));
    } else {
        emit(e, "acc = %s;", simd(v->add, "acc", "xv", 0));
    }
    emit(e, "}");
}

/* NAME_fv_N: the n outputs at yq + ob, whose windows start at xq + xb,
 * xq + xb + s, ..; for max also their argmax at aq + ob. */
static void emit_fw_chunk(emitter *e, const ir_layer *ly, const pgeom *g, int n)
{
    const simd_target *v = e->simd;
    emit(e, "CNNC_KERNEL static inline void %s_fv(const float *restrict xq, float *restrict yq,", ly->name);
    emit(e, "    int32_t *restrict aq, int xb, int ob)");
    emit(e, "{");
    if (g->max) {
        emit(e, "const %s ib = %s;", v->ivec,
             simd(v->iadd, simd(v->isplat, "xb", 0, 0), simd(v->iset, ramp(e, g), 0, 0), 0));
        emit(e, "%s m = %s;", v->vec, load_strided(e, g, "xq + xb", n));
        emit(e, "%s at = ib;", v->ivec);
    } else {
        emit(e, "(void)aq;");
        emit(e, "%s acc = %s;", v->vec, v->zero);
    }
    int loops = emit_window_rows(e, ly, g);
    if (g->kl <= 8) {
        for (int64_t j = 0; j < g->kl; j++)
            emit_fw_step(e, g, arena_printf(emit_arena, "kb + %lld", (long long)j), n);
    } else {
        emit(e, "for (int kj = 0; kj < %lld; kj++)", (long long)g->kl);
        emit_fw_step(e, g, "kb + kj", n);
    }
    emit_close(e, loops);
    if (g->max) {
        emit_store_n(e, "yq + ob", "m", n, false);
        emit_store_n(e, "aq + ob", "at", n, true);
    } else {
        emit_store_n(e, "yq + ob", simd(v->div, "acc", simd(v->splat, arena_printf(emit_arena, "%lld.0f",
                     (long long)g->kvol), 0, 0), 0), n, false);
    }
    emit(e, "}");
    emit_blank(e);
}

/* Every plane, every row of outputs (axes but the last), every vector of
 * the row: CALL(.., xb, ob) with the window start and output offset. */
static void emit_row_calls(emitter *e, const pgeom *g, const ir_layer *ly, const char *call)
{
    int W = e->simd->width;
    int loops = emit_loops(e, "o", g->r - 1, ly->out.d + 1);
    emit(e, "const int xb = %s, ob = %s;", index_expr(emit_arena, "o", g->r - 1, g->xo),
         index_expr(emit_arena, "o", g->r - 1, g->om));
    if (g->wo >= W) {
        emit(e, "for (int o = 0; o < %lld; o += %d) {", (long long)g->wo, W);
        emit(e, "const int t = o < %lld ? o : %lld;", (long long)(g->wo - W), (long long)(g->wo - W));
        emit(e, "%s, xb + t * %lld, ob + t);", call, (long long)g->s);
        emit(e, "}");
    } else {
        emit(e, "%s, xb, ob);", call);
    }
    emit_close(e, loops);
}

void pool_emit_fast_forward(emitter *e, const ir_layer *ly)
{
    pgeom g = make_pgeom(ly);
    bool pad = layer_has_pad(ly);
    emit_fw_chunk(e, ly, &g, lanes(e, &g));
    emit_forward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    if (pad)
        emit(e, "%s_pad(i0, i1, x, c->pad_%s);", ly->name, ly->name);
    else if (!g.max)
        emit(e, "(void)c;");
    emit(e, "const float *restrict xs = %s;", pad ? arena_printf(emit_arena, "c->pad_%s", ly->name) : "x");
    emit(e, "for (size_t q = (size_t)i0 * %lld; q < (size_t)i1 * %lld; q++) {", (long long)g.C,
         (long long)g.C);
    emit(e, "const float *xq = xs + q * %lld;", (long long)g.psz);
    emit(e, "float *yq = y + q * %lld;", (long long)g.osz);
    if (g.max)
        emit(e, "int32_t *aq = c->arg_%s + q * %lld;", ly->name, (long long)g.osz);
    emit_row_calls(e, &g, ly, arena_printf(emit_arena, "%s_fv(xq, yq, %s", ly->name, g.max ? "aq" : "NULL"));
    emit(e, "}");
    emit_act_forward(e, ly->act, "y", g.C * g.osz);
    emit(e, "}");
    emit_blank(e);
}

/* ------------------------------------------------------------ backward */
/* The gradient of the inputs at window offset `off` (max: dy where the
 * argmax is that input, else 0; avg: every input the same). */
static const char *bw_value(const emitter *e, const pgeom *g, const char *off)
{
    const simd_target *v = e->simd;
    if (!g->max)
        return "d";
    const char *idx = simd(v->iadd, "ib", simd(v->isplat, off, 0, 0), 0);
    return simd(v->blend, simd(v->ieq, "at", idx, 0), "d", v->zero);
}

/* NAME_bv: the input gradients of the n windows of outputs ob.. (whose
 * windows start at xb, xb + s, ..), each written once. */
static void emit_bw_chunk(emitter *e, const ir_layer *ly, const pgeom *g, int n)
{
    const simd_target *v = e->simd;
    int64_t W = v->width;
    emit(e, "CNNC_KERNEL static inline void %s_bv(const float *restrict dyq, const int32_t *restrict aq,",
         ly->name);
    emit(e, "    float *restrict dq, int xb, int ob)");
    emit(e, "{");
    emit(e, "%s d = %s;", v->vec, load_n(e, "dyq + ob", n));
    if (g->max) {
        emit(e, "const %s ib = %s;", v->ivec,
             simd(v->iadd, simd(v->isplat, "xb", 0, 0), simd(v->iset, ramp(e, g), 0, 0), 0));
        emit(e, "const %s at = %s;", v->ivec,
             n >= W ? simd(v->iload, "aq + ob", 0, 0) : simd(v->iloadn, "aq + ob", num(n), 0));
    } else {
        emit(e, "(void)aq;");
        emit(e, "d = %s;", simd(v->div, "d", simd(v->splat, arena_printf(emit_arena, "%lld.0f",
             (long long)g->kvol), 0, 0), 0));
    }
    int loops = emit_window_rows(e, ly, g);
    if (g->s == 1) {
        emit_store_n(e, "dq + xb + kb", bw_value(e, g, "kb"), n, false);
    } else {
        emit(e, "const %s g0 = %s;", v->vec, bw_value(e, g, "kb"));
        emit(e, "const %s g1 = %s;", v->vec, bw_value(e, g, "kb + 1"));
        emit_store_n(e, "dq + xb + kb", simd(v->zip_lo, "g0", "g1", 0), 2 * n < W ? 2 * n : W, false);
        emit_store_n(e, arena_printf(emit_arena, "dq + xb + kb + %lld", (long long)W),
                     simd(v->zip_hi, "g0", "g1", 0), 2 * n - W, false);
    }
    emit_close(e, loops);
    emit(e, "}");
    emit_blank(e);
}

/* Whether the windows cover the padded input (else the rest is zeroed). */
static bool pool_covers(const ir_layer *ly)
{
    for (int a = 0; a < ly->nsp; a++)
        if (ly->stride[a] * ly->out.d[a + 1] != ly->padded.d[a + 1])
            return false;
    return true;
}

/* The gradient handed to conv cv as lists (conv_pool_lists): per map
 * the windows whose dy is not 0 (and, after a relu, whose max is > 0),
 * their argmax's flat position in cv's padded input p = o0 * pw + o1
 * (o0 = a / ow of the argmax's index a in the conv's output plane: a
 * window row band holds k0 output rows) and dy, into the map's plane of
 * dx. */
static void emit_list_backward(emitter *e, const ir_layer *ly, const pgeom *g, const ir_layer *cv)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t ho = ly->out.d[1], wo = ly->out.d[2], k0 = ly->kernel[0], ow = cv->out.d[2], pw = cv->padded.d[2];
    int64_t nr = pool_list_stride(e, ly);
    emit_backward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit(e, "(void)grads, (void)x;");
    if (cv->act != ACT_RELU)
        emit(e, "(void)y;");
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit(e, "for (size_t q = (size_t)i0 * %lld; q < (size_t)i1 * %lld; q++) {", (long long)g->C, (long long)g->C);
    emit(e, "const float *dyq = dy + q * %lld;", (long long)g->osz);
    if (cv->act == ACT_RELU)
        emit(e, "const float *yq = y + q * %lld;", (long long)g->osz);
    emit(e, "const int32_t *aq = c->arg_%s + q * %lld;", ly->name, (long long)g->osz);
    emit(e, "float *base = dx + q * %lld;", (long long)g->psz);
    emit(e, "int *li = (int *)(void *)(base + 1);");
    emit(e, "float *lv = base + %lld;", (long long)(1 + nr));
    emit(e, "int nz = 0;");
    emit(e, "for (int r = 0; r < %lld; r++) {", (long long)ho);
    for (int64_t c0 = 0; c0 < wo; c0 += W) {
        int64_t n = wo - c0 < W ? wo - c0 : W;
        emit(e, "{");
        emit(e, "const int ob = r * %lld + %lld;", (long long)wo, (long long)c0);
        emit(e, "const %s a = %s;", v->ivec, n >= W ? simd(v->iload, "aq + ob", 0, 0) : simd(v->iloadn, "aq + ob", num(n), 0));
        emit(e, "const %s dd = %s;", v->ivec, simd(v->iadd, "a", simd(v->isplat, arena_printf(emit_arena, "-r * %lld", (long long)(k0 * ow)), 0, 0), 0));
        emit(e, "%s pos = %s;", v->ivec, simd(v->iadd, "a", simd(v->isplat, arena_printf(emit_arena, "r * %lld", (long long)(k0 * (pw - ow))), 0, 0), 0));
        for (int64_t j = 1; j < k0; j++)
            emit(e, "pos = %s;", simd(v->iblend, simd(v->igt, "dd", simd(v->isplat, num(j * ow - 1), 0, 0), 0),
                                      simd(v->iadd, "pos", simd(v->isplat, num(pw - ow), 0, 0), 0), "pos"));
        const char *also = cv->act == ACT_RELU ? simd(v->gt, load_n(e, "yq + ob", n), v->zero, 0) : NULL;
        emit_nz_append(e, load_n(e, "dyq + ob", n), "pos", also);
        emit(e, "}");
    }
    emit(e, "}");
    emit(e, "memcpy(base, &nz, sizeof nz);");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

void pool_emit_fast_backward(emitter *e, const ir_layer *ly)
{
    pgeom g = make_pgeom(ly);
    bool pad = layer_has_pad(ly);
    const ir_layer *cv = layer_prev(e->net, ly);
    if (cv && conv_pool_lists(e, cv)) {
        emit_list_backward(e, ly, &g, cv);
        return;
    }
    emit_bw_chunk(e, ly, &g, lanes(e, &g));
    emit_backward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit(e, "(void)grads, (void)x;");
    if (ly->act == ACT_NONE)
        emit(e, "(void)y;");
    if (!g.max && !pad)
        emit(e, "(void)c;");
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit_act_backward(e, ly->act, "y", "dy", g.C * g.osz);
    emit(e, "float *restrict dxs = %s;", pad ? lane_slot("c->gpad", e->pad_max, padded_count(ly)) : "dx");
    if (!pool_covers(ly))
        emit_zero_samples(e, "dxs", g.C * g.psz);
    emit(e, "for (size_t q = (size_t)i0 * %lld; q < (size_t)i1 * %lld; q++) {", (long long)g.C,
         (long long)g.C);
    emit(e, "const float *dyq = dy + q * %lld;", (long long)g.osz);
    if (g.max)
        emit(e, "const int32_t *aq = c->arg_%s + q * %lld;", ly->name, (long long)g.osz);
    emit(e, "float *dq = dxs + q * %lld;", (long long)g.psz);
    emit_row_calls(e, &g, ly, arena_printf(emit_arena, "%s_bv(dyq, %s, dq", ly->name, g.max ? "aq" : "NULL"));
    emit(e, "}");
    if (pad)
        emit(e, "%s_unpad(i0, i1, dxs, dx);", ly->name);
    emit(e, "}");
    emit_blank(e);
}
