/* emit_fastdense.c - register-tiled SIMD kernels for dense layers, written
 * against the templates of emit_simd.c (reference twins: emit_dense.c).
 *   forward  y[i][u] = b[u] + sum_k x[i][k] w[u][k]    dot products: a tile
 *            of mi samples x mu units, x rows held, w rows streamed; for a
 *            unit-split layer an outer product over x transposed: ou units
 *            x ov vectors of samples
 *   dgrad    dx[i][k] = sum_u dy[i][u] w[u][k]          axpy along k: mi
 *            samples x nv vectors of k
 *   wgrad    dw[u][k] += sum_i dy[i][u] x[i][k]         axpy along k: mu
 *            units x nv vectors of k
 * Tiles that only store (forward, dgrad) clamp their sample / unit indices
 * or shift their last k tile back, recomputing a few values instead of
 * running a remainder; the accumulating wgrad has remainder variants.
 *
 * Threads share a dense layer by samples (each computes a whole weight
 * gradient for its slice, and the lanes' gradients are summed) or, for a
 * layer with many weights (dense_splits_units), by units: each thread then
 * computes forward and weight gradient for its units over the whole batch,
 * reads only its rows of w and writes its rows of the gradient once, so
 * there is nothing to sum; the data gradient stays split by samples.
 * Summing per-thread copies of a 3072x512 gradient cost more than the
 * second thread saved (cifar10_mlp, issue 5). */
#include "emit.h"

typedef struct dgeom {
    int64_t K, U;                /* inputs, units */
    int mi, mu;                  /* forward tile */
    int di, dv;                  /* dgrad tile */
    int wu, wv;                  /* wgrad tile */
    int ou, ov;                  /* unit-split forward tile: units x vectors of samples */
} dgeom;

static const char *nm(const char *p, int a, int b)
{
    return arena_printf(emit_arena, "%s%d_%d", p, a, b);
}

static bool dense_sparse(const emitter *e, const ir_layer *ly, const dgeom *g);
static const char *lit(const char *fmt, long long a, long long b)
{
    return arena_printf(emit_arena, fmt, a, b);
}

bool conv_is_dense(const ir_layer *ly)
{
    if (ly->kind != LK_CONV || layer_has_pad(ly) || ly->nconnect || ly->symmetric)
        return false;
    for (int a = 0; a < ly->nsp; a++)
        if (ly->kernel[a] != ly->in.d[a + 1] || ly->dilation[a] != 1)
            return false;
    return true;
}

int64_t dense_in(const ir_layer *ly) { return shape_count(&ly->in); }
int64_t dense_units(const ir_layer *ly) { return ly->kind == LK_DENSE ? ly->units : ly->filters; }

bool dense_is_fast(const emitter *e, const ir_layer *ly)
{
    return e->simd && (ly->kind == LK_DENSE || conv_is_dense(ly)) && dense_in(ly) >= e->simd->width;
}

/* From this many weights on, a layer's gradient is too big to keep a copy
 * per thread: summing the copies costs a few passes over it, against a
 * barrier or three (microseconds) for splitting the units. */
#define SPLIT_MIN_WEIGHTS 16384

bool dense_splits_units(const emitter *e, const ir_layer *ly)
{
    return dense_is_fast(e, ly) && ly->wcount >= SPLIT_MIN_WEIGHTS && dense_units(ly) >= 8;
}

int dense_split_count(const emitter *e)
{
    int n = 0;
    for (int i = 0; i < e->net->nlayers; i++)
        n += dense_splits_units(e, &e->net->layers[i]);
    return n;
}

int dense_split_index(const emitter *e, const ir_layer *ly)
{
    int n = 0;
    for (int i = 0; i < e->net->nlayers && &e->net->layers[i] != ly; i++)
        n += dense_splits_units(e, &e->net->layers[i]);
    return n;
}

/* With threads, whether a unit-split layer's weight gradient waits until
 * the end of the backward pass (emit.c, emit_deferred_units), where its
 * chunks even out the lanes: only when its weights (4 MiB for
 * cifar10_wide's f1) would not stay in L2 from its data gradient to its
 * SGD step anyway.  For cifar10_conv's f1 (188 KiB) waiting cost 4 % of
 * a 2-thread step. */
#define DEFER_MIN_WEIGHTS (256 * 1024)

bool dense_defers_units(const emitter *e, const ir_layer *ly)
{
    return dense_splits_units(e, ly) && ly->wcount >= DEFER_MIN_WEIGHTS;
}

int dense_defer_count(const emitter *e)
{
    int n = 0;
    for (int i = 0; i < e->net->nlayers; i++)
        n += dense_defers_units(e, &e->net->layers[i]);
    return n;
}

/* The floats per sample of x a unit-split layer's weight gradient packs
 * (emit_wg_units): its whole row, rounded to 16. */
static int64_t slab_width(const ir_layer *ly) { return (dense_in(ly) + 15) / 16 * 16; }

/* Per-sample floats of c->cs the backward pass uses: dy transposed and
 * the slab; a unit-split layer has its own dyT, and with more than one
 * thread each has its slab in c->lane_slab. */
int64_t dense_scratch(const emitter *e, const ir_layer *ly)
{
    if (!dense_is_fast(e, ly))
        return 0;
    return dense_splits_units(e, ly) ? slab_width(ly) : dense_units(ly) + 3 * e->simd->width;
}

int64_t dense_lane_slab(const emitter *e)
{
    int64_t w = 0;
    for (int i = 0; e->simd && i < e->net->nlayers; i++)
        if (dense_splits_units(e, &e->net->layers[i]) && slab_width(&e->net->layers[i]) > w)
            w = slab_width(&e->net->layers[i]);
    return w;
}

/* The outer-product forward tile of a unit-split layer: ou units (one
 * broadcast each) by ov vectors of samples (one load each), ou * ov
 * accumulators, all in registers with the ov sample vectors and one
 * broadcast. */
static void fo_shape(const emitter *e, dgeom *g)
{
    g->ou = e->simd->regs >= 32 ? 6 : 4;
    g->ov = e->simd->regs >= 32 ? 4 : 2;
    if (g->U < g->ou)
        g->ou = (int)g->U;
}

static dgeom make_dgeom(const emitter *e, const ir_layer *ly)
{
    dgeom g = {dense_in(ly), dense_units(ly), 3, 4, 4, 3, 4, 3, 0, 0};
    int W = e->simd->width;
    if (g.U < 4)
        g.mu = (int)g.U;
    int64_t kv = g.K / W;
    g.dv = kv < 3 ? (int)kv : 3;
    g.wv = g.dv;
    if (g.U < g.wu)
        g.wu = (int)g.U;
    fo_shape(e, &g);
    return g;
}

/* Lanes' fixed unit ranges start at multiples of the weight-gradient tile. */
int dense_unit_block(const emitter *e, const ir_layer *ly)
{
    return make_dgeom(e, ly).wu;
}

/* Units per chunk that a lane takes at a time for a deferred weight
 * gradient (lane_grab): whole tiles, about 32 chunks a layer.  A chunk of
 * f1 (cifar10_wide) is 28 us of weight gradient: fine enough to even out
 * the lanes, coarse enough that taking one (an atomic add on a shared
 * line) costs nothing.  Each unit has its own rows of gw, w and the
 * momenta.  (The forward pass keeps fixed ranges: y is [n][units], and
 * chunks of a few units had the lanes writing the same cache lines,
 * which cost lenet and cifar10_conv 10 % of a 2-thread step.) */
int dense_bwd_chunk(const emitter *e, const ir_layer *ly)
{
    dgeom g = make_dgeom(e, ly);
    int64_t n = g.U / g.wu / 32;
    return g.wu * (int)(n > 1 ? n : 1);
}

/* ------------------------------------------------------------ forward */
/* The k past the last whole vector as one more step with masked loads
 * (zeros beyond K), as the gemv's tiles do, instead of scalar sums after
 * the horizontal ones: lenet's f6 (K = 120 on AVX-512) spent as many
 * scalar FMAs in its tail of 8 as vector FMAs in its 7 vectors. */
static void emit_fw_masked_tail(emitter *e, const dgeom *g, int64_t kv)
{
    const simd_target *v = e->simd;
    const char *n = lit("%lld", g->K - kv, 0);
    emit(e, "{");
    for (int a = 0; a < g->mi; a++)
        emit(e, "const %s xv%d = %s;", v->vec, a, simd(v->loadn, lit("x%lld + %lld", a, kv), n, 0));
    for (int c = 0; c < g->mu; c++) {
        emit(e, "{");
        emit(e, "const %s wv = %s;", v->vec, simd(v->loadn, lit("w%lld + %lld", c, kv), n, 0));
        for (int a = 0; a < g->mi; a++)
            emit(e, "%s = %s;", nm("a", a, c), simd(v->fma, lit("xv%lld", a, 0), "wv", nm("a", a, c)));
        emit(e, "}");
    }
    emit(e, "}");
}

static void emit_fw_tile(emitter *e, const ir_layer *ly, const dgeom *g)
{
    const simd_target *v = e->simd;
    int64_t W = v->width, kv = g->K / W * W;
    emit(e, "CNNC_KERNEL static inline void %s_fw(const float *restrict x, const float *restrict w,",
         ly->name);
    emit(e, "    const float *restrict b, float *restrict y, int i0, int i1, int ub)");
    emit(e, "{");
    /* its k loop and scalar tails fully unrolled by clang: rolled, lenet's
     * f6 forward 22 -> 30 us */
    bool rolled = emit_rolled(e, false);
    if (!ly->bias)
        emit(e, "(void)b;");
    for (int a = 0; a < g->mi; a++)
        emit(e, "const float *x%d = x + (size_t)(i0 + %d < i1 ? i0 + %d : i1 - 1) * %lld;", a, a, a,
             (long long)g->K);
    for (int c = 0; c < g->mu; c++)
        emit(e, "const int u%d = ub + %d < %lld ? ub + %d : %lld;", c, c, (long long)g->U, c,
             (long long)(g->U - 1));
    for (int c = 0; c < g->mu; c++)
        emit(e, "const float *w%d = w + (size_t)u%d * %lld;", c, c, (long long)g->K);
    for (int a = 0; a < g->mi; a++)
        for (int c = 0; c < g->mu; c++)
            emit(e, "%s %s = %s;", v->vec, nm("a", a, c), v->zero);
    emit(e, "for (int k = 0; k < %lld; k += %lld) {", (long long)kv, (long long)W);
    for (int a = 0; a < g->mi; a++)
        emit(e, "const %s xv%d = %s;", v->vec, a, simd(v->load, lit("x%lld + k", a, 0), 0, 0));
    for (int c = 0; c < g->mu; c++) {
        emit(e, "{");
        emit(e, "const %s wv = %s;", v->vec, simd(v->load, lit("w%lld + k", c, 0), 0, 0));
        for (int a = 0; a < g->mi; a++)
            emit(e, "%s = %s;", nm("a", a, c), simd(v->fma, lit("xv%lld", a, 0), "wv", nm("a", a, c)));
        emit(e, "}");
    }
    emit(e, "}");
    bool masked = kv < g->K && v->loadn;
    if (masked)
        emit_fw_masked_tail(e, g, kv);
    for (int a = 0; a < g->mi; a++)
        for (int c = 0; c < g->mu; c++) {
            emit(e, "float %s = %s%s;", nm("s", a, c), simd(v->hsum, nm("a", a, c), 0, 0),
                 ly->bias ? lit(" + b[u%lld]", c, 0) : "");
            if (kv < g->K && !masked) {
                emit(e, "for (int k = %lld; k < %lld; k++)", (long long)kv, (long long)g->K);
                emit(e, "    %s += x%d[k] * w%d[k];", nm("s", a, c), a, c);
            }
            const char *s = nm("s", a, c);
            const char *val = act_expr(e, ly->act, s);
            emit(e, "y[(size_t)(i0 + %d < i1 ? i0 + %d : i1 - 1) * %lld + u%d] = %s;", a, a,
                 (long long)g->U, c, val);
        }
    emit_rolled(e, rolled);
    emit(e, "}");
    emit_blank(e);
}

/* ---------------------------------------------- unit-split forward
 * A unit-split layer sees the whole batch, so its forward is one matrix
 * product y = x w^T of n x K by K x U.  The dot-product tile above reads a
 * block of samples' rows of x for every block of units: for cifar10_mlp's
 * h1 (K = 3072, n = 64) all of x (768 KiB) streams from L2 once per four
 * units, 7 vector loads per 12 FMAs.  Here x is first transposed, once per
 * step, into xT[k][np] (np: n rounded up to whole vectors, the padding
 * zeroed), shared by the lanes; then a tile of ou units by ov vectors of
 * samples does, for each k, ov aligned loads of xT[k][j..] and ou
 * broadcasts of w[u][k] into ou * ov accumulators: an outer product,
 * no horizontal sums, 4 loads per 24 FMAs on AVX-512 (6 x 4: 24
 * accumulators + 4 vectors of x + a broadcast = 29 of 32 registers).  Every
 * (sample, unit) is one sum over k in order 0 .. K-1, whatever the tile,
 * the lane or the thread count. */

/* A W x W block of x (rows i .., columns k ..) to xT, in registers:
 * log2(W) rounds of interleaving row j with row j + W/2 (zip_lo, zip_hi)
 * transpose it.  Scalar stores of 16 columns per row cost about 4 times
 * as much (h1's pack: 4 % of the step in a profile). */
static void emit_transpose_block(emitter *e, int64_t K)
{
    const simd_target *v = e->simd;
    int W = v->width, round = 0;
    for (int j = 0; j < W; j++)
        emit(e, "const %s %s = %s;", v->vec, nm("t", 0, j),
             simd(v->load, arena_printf(emit_arena, "x + (size_t)(i + %d) * %lld + k", j, (long long)K), 0, 0));
    for (int w = W; w > 1; w /= 2, round++)
        for (int j = 0; j < W / 2; j++) {
            const char *a = nm("t", round, j), *b = nm("t", round, j + W / 2);
            emit(e, "const %s %s = %s;", v->vec, nm("t", round + 1, 2 * j), simd(v->zip_lo, a, b, 0));
            emit(e, "const %s %s = %s;", v->vec, nm("t", round + 1, 2 * j + 1), simd(v->zip_hi, a, b, 0));
        }
    for (int j = 0; j < W; j++)
        emit(e, "%s", simd(v->store, arena_printf(emit_arena, "xT + (size_t)(k + %d) * np + (size_t)i", j),
                           nm("t", round, j), 0));
}

/* NAME_pack(c, n, i0, i1, x): rows [i0, i1) of x into columns of c->xT_NAME;
 * the lane that ends the batch zeroes the padding columns [n, np). */
static void emit_forward_pack(emitter *e, const ir_layer *ly, const dgeom *g)
{
    int W = e->simd->width;
    long long K = (long long)g->K;
    emit(e, "CNNC_KERNEL static void %s_forward_pack(%s_ctx *c, int n, int i0, int i1, const float *restrict x)",
         ly->name, e->prefix);
    emit(e, "{");
    long long KV = K / W * W;
    emit(e, "float *restrict xT = c->xT_%s;", ly->name);
    emit(e, "const size_t np = (size_t)(n + %d) / %d * %d;", W - 1, W, W);
    emit(e, "int i = i0;");
    if (W > 1 && KV) {
        emit(e, "for (; i + %d <= i1; i += %d)", W, W);
        emit(e, "    for (int k = 0; k < %lld; k += %d) {", KV, W);
        emit_transpose_block(e, K);
        emit(e, "}");
    }
    /* the rows left (16 k at a time: a cache line of each row of x), then
     * the columns after whole vectors of every row */
    if (KV) {
        emit(e, "for (int k0 = 0; k0 < %lld; k0 += 16) {", KV);
        emit(e, "const int k1 = k0 + 16 < %lld ? k0 + 16 : %lld;", KV, KV);
        emit(e, "for (int r = i; r < i1; r++)");
        emit(e, "    for (int k = k0; k < k1; k++)");
        emit(e, "        xT[(size_t)k * np + (size_t)r] = x[(size_t)r * %lld + (size_t)k];", K);
        emit(e, "}");
    }
    if (KV < K) {
        emit(e, "for (int r = i0; r < i1; r++)");
        emit(e, "    for (int k = %lld; k < %lld; k++)", KV, K);
        emit(e, "        xT[(size_t)k * np + (size_t)r] = x[(size_t)r * %lld + (size_t)k];", K);
    }
    emit(e, "if (i1 == n && (size_t)n < np)");
    emit(e, "    for (int k = 0; k < %lld; k++)", K);
    emit(e, "        memset(xT + (size_t)k * np + (size_t)n, 0, sizeof(float) * (np - (size_t)n));");
    emit(e, "}");
    emit_blank(e);
}

/* NAME_fo_NV: units u .. u + ou (clamped to ue - 1: the last tile of a
 * range recomputes a unit rather than run a remainder) of the samples in
 * nv vectors from column j of xT; stores only samples below n. */
static void emit_fo_tile(emitter *e, const ir_layer *ly, const dgeom *g, int nv)
{
    const simd_target *v = e->simd;
    int W = v->width;
    emit(e, "CNNC_KERNEL static inline void %s_fo_%d(const float *restrict xT, const float *restrict w,",
         ly->name, nv);
    emit(e, "    const float *restrict b, float *restrict y, size_t np, int n, int j, int u, int ue)");
    emit(e, "{");
    if (!ly->bias)
        emit(e, "(void)b;");
    for (int a = 0; a < g->ou; a++) {
        emit(e, "const int v%d = u + %d < ue ? u + %d : ue - 1;", a, a, a);
        emit(e, "const float *w%d = w + (size_t)v%d * %lld;", a, a, (long long)g->K);
    }
    for (int a = 0; a < g->ou; a++)
        for (int q = 0; q < nv; q++)
            emit(e, "%s %s = %s;", v->vec, nm("a", a, q), v->zero);
    emit(e, "const float *xk = xT + j;");
    emit(e, "for (int k = 0; k < %lld; k++, xk += np) {", (long long)g->K);
    for (int q = 0; q < nv; q++)
        emit(e, "const %s x%d = %s;", v->vec, q, simd(v->load, lit("xk + %lld", (long long)q * W, 0), 0, 0));
    for (int a = 0; a < g->ou; a++) {
        emit(e, "{");
        emit(e, "const %s s = %s;", v->vec, simd(v->splat, lit("w%lld[k]", a, 0), 0, 0));
        for (int q = 0; q < nv; q++)
            emit(e, "%s = %s;", nm("a", a, q), simd(v->fma, "s", lit("x%lld", q, 0), nm("a", a, q)));
        emit(e, "}");
    }
    emit(e, "}");
    emit(e, "float o[%d];", nv * W);
    emit(e, "const int m = n - j < %d ? n - j : %d;", nv * W, nv * W);
    for (int a = 0; a < g->ou; a++) {
        for (int q = 0; q < nv; q++)
            emit(e, "%s", simd(v->store, lit("o + %lld", (long long)q * W, 0), nm("a", a, q), 0));
        emit(e, "for (int i = 0; i < m; i++) {");
        emit(e, "const float s = o[i]%s;", ly->bias ? lit(" + b[v%lld]", a, 0) : "");
        emit(e, "y[(size_t)(j + i) * %lld + (size_t)v%d] = %s;", (long long)g->U, a, act_expr(e, ly->act, "s"));
        emit(e, "}");
    }
    emit(e, "}");
    emit_blank(e);
}

/* Units [u0, u1) of every sample: a thread's share of a unit-split layer.
 * Units outside: a tile's ou rows of w are read from memory once and stay
 * in L1 while the sample blocks pass; xT (all samples) stays in L2. */
static void emit_forward_units(emitter *e, const ir_layer *ly, const dgeom *g)
{
    int W = e->simd->width;
    emit(e, "CNNC_KERNEL static void %s_forward_units(%s_ctx *c, int n, int u0, int u1, "
         "const float *restrict x, float *restrict y)", ly->name, e->prefix);
    emit(e, "{");
    emit(e, "if (n == 1 && u0 == 0 && u1 == %lld) {", (long long)g->U); /* batch 1, one thread: no xT */
    emit(e, "%s_gemv(c, 0, n, x, y);", ly->name);
    emit(e, "return;");
    emit(e, "}");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "const float *restrict b = %s;",
         ly->bias ? arena_printf(emit_arena, "c->params + %lld", (long long)ly->boff) : "NULL");
    emit(e, "const float *restrict xT = c->xT_%s;", ly->name);
    emit(e, "const size_t np = (size_t)(n + %d) / %d * %d;", W - 1, W, W);
    emit(e, "const int nb = (int)(np / %d); /* vectors of samples */", W);
    emit(e, "for (int u = u0; u < u1; u += %d) {", g->ou);
    emit(e, "int j = 0;");
    emit(e, "for (; j + %d <= nb; j += %d)", g->ov, g->ov);
    emit(e, "    %s_fo_%d(xT, w, b, y, np, n, j * %d, u, u1);", ly->name, g->ov, W);
    if (g->ov > 1) { /* the vectors left one at a time: fewer variants, less code */
        emit(e, "for (; j < nb; j++)");
        emit(e, "    %s_fo_1(xT, w, b, y, np, n, j * %d, u, u1);", ly->name, W);
    }
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

static void emit_unit_forward(emitter *e, const ir_layer *ly, const dgeom *g)
{
    emit_forward_pack(e, ly, g);
    emit_fo_tile(e, ly, g, g->ov);
    if (g->ov > 1)
        emit_fo_tile(e, ly, g, 1);
    emit_forward_units(e, ly, g);
}

void dense_emit_fast_forward(emitter *e, const ir_layer *ly)
{
    dgeom g = make_dgeom(e, ly);
    dense_emit_gemv(e, ly);
    if (dense_splits_units(e, ly)) {
        emit_unit_forward(e, ly, &g);
        return;
    }
    emit_fw_tile(e, ly, &g);
    emit_forward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit(e, "if (i1 - i0 < %d) {", g.mi); /* fewer samples than a tile holds */
    emit(e, "%s_gemv(c, i0, i1, x, y);", ly->name);
    emit(e, "return;");
    emit(e, "}");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "const float *restrict b = %s;",
         ly->bias ? arena_printf(emit_arena, "c->params + %lld", (long long)ly->boff) : "NULL");
    /* units outside: a tile's weight rows stay in cache while the lane's
     * samples stream past (the other order re-reads all of w per block) */
    emit(e, "for (int u = 0; u < %lld; u += %d)", (long long)g.U, g.mu);
    emit(e, "    for (int i = i0; i < i1; i += %d)", g.mi);
    emit(e, "        %s_fw(x, w, b, y, i, i1, u);", ly->name);
    emit(e, "}");
    emit_blank(e);
}

/* ------------------------------------------------------------ backward */
/* dx for samples [i, i + di) (clamped to i1) and k in [k0, k0 + dv*W). */
static void emit_dg_tile(emitter *e, const ir_layer *ly, const dgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width;
    emit(e, "CNNC_KERNEL static inline void %s_dg(const float *restrict dy, const float *restrict w,",
         ly->name);
    emit(e, "    float *restrict dx, int i0, int i1, int k0)");
    emit(e, "{");
    for (int a = 0; a < g->di; a++) {
        emit(e, "const size_t r%d = (size_t)(i0 + %d < i1 ? i0 + %d : i1 - 1);", a, a, a);
        for (int j = 0; j < g->dv; j++)
            emit(e, "%s %s = %s;", v->vec, nm("a", a, j), v->zero);
    }
    emit(e, "for (int u = 0; u < %lld; u++) {", (long long)g->U);
    emit(e, "const float *wu = w + (size_t)u * %lld + k0;", (long long)g->K);
    for (int j = 0; j < g->dv; j++)
        emit(e, "const %s w%d = %s;", v->vec, j, simd(v->load, lit("wu + %lld", (long long)j * W, 0), 0, 0));
    for (int a = 0; a < g->di; a++) {
        emit(e, "{");
        emit(e, "const %s d = %s;", v->vec,
             simd(v->splat, lit("dy[r%lld * %lld + u]", a, (long long)g->U), 0, 0));
        for (int j = 0; j < g->dv; j++)
            emit(e, "%s = %s;", nm("a", a, j), simd(v->fma, "d", lit("w%lld", j, 0), nm("a", a, j)));
        emit(e, "}");
    }
    emit(e, "}");
    for (int a = 0; a < g->di; a++)
        for (int j = 0; j < g->dv; j++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "dx + r%d * %lld + k0 + %d", a,
                                                      (long long)g->K, j * W),
                               nm("a", a, j), 0));
    emit(e, "}");
    emit_blank(e);
}

/* gw[u0 + a][k0 + j*W ..] += sum_s dyT[u0 + a][s] slab[s][j*W ..], a < mu,
 * j < nv: dyT is dy transposed ([U][n]) and slab the lane's x[., k0 ..
 * k0 + nv*W) packed ([n][nv*W]), so the tile reads memory in order.  A
 * unit-split layer's tile stores (=) instead: it sees every sample. */
static void emit_wg_tile(emitter *e, const ir_layer *ly, const dgeom *g, int mu, int nv)
{
    const simd_target *v = e->simd;
    int W = v->width;
    bool store = dense_splits_units(e, ly);
    emit(e, "CNNC_KERNEL static inline void %s_wg_%dx%d(const float *restrict dyT, const float *restrict slab,",
         ly->name, mu, nv);
    emit(e, "    float *restrict gw, int n, int u0, int k0)");
    emit(e, "{");
    for (int a = 0; a < mu; a++)
        for (int j = 0; j < nv; j++)
            emit(e, "%s %s = %s;", v->vec, nm("a", a, j), v->zero);
    for (int a = 0; a < mu; a++)
        emit(e, "const float *d%d = dyT + (size_t)(u0 + %d) * n;", a, a);
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "const float *xs = slab + (size_t)s * %d;", nv * W);
    for (int j = 0; j < nv; j++)
        emit(e, "const %s x%d = %s;", v->vec, j, simd(v->load, lit("xs + %lld", (long long)j * W, 0), 0, 0));
    for (int a = 0; a < mu; a++) {
        emit(e, "{");
        emit(e, "const %s d = %s;", v->vec, simd(v->splat, lit("d%lld[s]", a, 0), 0, 0));
        for (int j = 0; j < nv; j++)
            emit(e, "%s = %s;", nm("a", a, j), simd(v->fma, "d", lit("x%lld", j, 0), nm("a", a, j)));
        emit(e, "}");
    }
    emit(e, "}");
    for (int a = 0; a < mu; a++)
        for (int j = 0; j < nv; j++) {
            const char *p = arena_printf(emit_arena, "gw + (size_t)(u0 + %d) * %lld + k0 + %d", a,
                                         (long long)g->K, j * W);
            const char *val = store ? nm("a", a, j) : simd(v->add, simd(v->load, p, 0, 0), nm("a", a, j), 0);
            emit(e, "%s", simd(v->store, p, val, 0));
        }
    emit(e, "}");
    emit_blank(e);
}

/* Where a weight-gradient pass reads x and which units it covers: a
 * lane's slice [i0, i1) and every unit, or (unit-split) every sample and
 * the units [u0, u1). */
typedef struct wg_mode {
    bool units;
    const char *row;             /* sample s's row of x, for s < n */
} wg_mode;

/* A unit-split layer's SGD step on the rows [u, u + rows) of its weights,
 * columns [k, k + width), just stored by a tile (the fast path's lane_update
 * leaves these parameters out); hp is NULL when no step is to be taken. */
static void emit_sgd_rows(emitter *e, const ir_layer *ly, const dgeom *g, const char *u,
                          const char *rows, int64_t width)
{
    emit(e, "for (int r = 0; hp && r < %s; r++) {", rows);
    emit(e, "const size_t o = %lld + (size_t)(%s + r) * %lld + (size_t)k;", (long long)ly->woff, u,
         (long long)g->K);
    emit(e, "sgd_fast(c, hp, o, o + %lld);", (long long)width);
    emit(e, "}");
}

/* The SGD step on row u (a C expression) of a unit-split layer's
 * weights from column k0 to the end of the row, unless hp is NULL. */
static void emit_sgd_row(emitter *e, const ir_layer *ly, const dgeom *g, const char *u, int64_t k0)
{
    emit(e, "if (hp)");
    emit(e, "    sgd_fast(c, hp, %lld + (size_t)(%s) * %lld + %lld, %lld + (size_t)(%s) * %lld + %lld);",
         (long long)ly->woff, u, (long long)g->K, (long long)k0, (long long)ly->woff, u, (long long)g->K,
         (long long)g->K);
}

/* A lane's weight gradient: k tiles outside, so the lane's slab of x
 * (samples x one tile of k) stays in L1 while every row of units passes
 * over it; then single vectors, then scalars for the k that remain. */
static void emit_wg_pass(emitter *e, const ir_layer *ly, const dgeom *g, const wg_mode *m, int nv,
                         int64_t k0, int64_t k1, int64_t step)
{
    int64_t ufull = g->U / g->wu * g->wu, ur = g->U - ufull;
    if (k1 <= k0)
        return;
    emit(e, "for (int k = %lld; k < %lld; k += %lld) {", (long long)k0, (long long)k1, (long long)step);
    emit(e, "for (int s = 0; s < n; s++)");
    emit(e, "    memcpy(slab + (size_t)s * %lld, %s + k, sizeof(float) * %lld);", (long long)step, m->row,
         (long long)step);
    emit(e, "for (int u0 = 0; u0 < %lld; u0 += %d)", (long long)ufull, g->wu);
    emit(e, "    %s_wg_%dx%d(dyT, slab, gw, n, u0, k);", ly->name, g->wu, nv);
    if (ur)
        emit(e, "%s_wg_%lldx%d(dyT, slab, gw, n, %lld, k);", ly->name, (long long)ur, nv,
             (long long)ufull);
    emit(e, "}");
}

/* The k left over after whole vectors as one vector with masked loads
 * and stores, per unit one pass over the samples (each lane's sum over s
 * in order, as the scalar form below), for the reason of the forward's
 * masked tail (emit_fw_masked_tail). */
static void emit_wg_rest_masked_units(emitter *e, const ir_layer *ly, const dgeom *g, const wg_mode *m, int64_t kv,
                                      int nu)
{
    const simd_target *v = e->simd;
    const char *kr = lit("%lld", g->K - kv, 0);
    for (int j = 0; j < nu; j++)
        emit(e, "%s acc%d = %s;", v->vec, j, v->zero);
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "const %s xk = %s;", v->vec, simd(v->loadn, arena_printf(emit_arena, "%s + %lld", m->row, (long long)kv), kr, 0));
    for (int j = 0; j < nu; j++)
        emit(e, "acc%d = %s;", j,
             simd(v->fma, simd(v->splat, lit("dyT[(size_t)(u + %lld) * n + s]", j, 0), 0, 0), "xk", lit("acc%lld", j, 0)));
    emit(e, "}");
    for (int j = 0; j < nu; j++) {
        const char *gk = lit("gw + (size_t)(u + %lld) * %lld", j, (long long)g->K);
        gk = arena_printf(emit_arena, "%s + %lld", gk, (long long)kv);
        const char *acc = lit("acc%lld", j, 0);
        emit(e, "%s", simd(v->storen, gk, m->units ? acc : simd(v->add, simd(v->loadn, gk, kr, 0), acc, 0), kr));
        if (m->units)
            emit_sgd_row(e, ly, g, lit("u + %lld", j, 0), kv);
    }
}

static void emit_wg_rest_masked(emitter *e, const ir_layer *ly, const dgeom *g, const wg_mode *m, int64_t kv)
{
    const char *u0 = m->units ? "u0" : "0", *u1 = m->units ? "u1" : lit("%lld", (long long)g->U, 0);
    emit(e, "{");
    emit(e, "int u = %s;", u0);
    emit(e, "for (; u + 4 <= %s; u += 4) {", u1);
    emit_wg_rest_masked_units(e, ly, g, m, kv, 4);
    emit(e, "}");
    emit(e, "for (; u < %s; u++) {", u1);
    emit_wg_rest_masked_units(e, ly, g, m, kv, 1);
    emit(e, "}");
    emit(e, "}");
}

/* The k left over after whole vectors, in scalars: per unit, one pass
 * over the samples with the kr sums side by side (each still over s in
 * order).  Its short k loops are left to clang to unroll; with k outside
 * they were unrolled around the sample loops, 0.3 s of lenet.c's compile
 * time for f6 and out. */
static void emit_wg_rest(emitter *e, const ir_layer *ly, const dgeom *g, const wg_mode *m, int64_t kv)
{
    int64_t kr = g->K - kv;
    if (!kr)
        return;
    if (e->simd->loadn && e->simd->storen) {
        emit_wg_rest_masked(e, ly, g, m, kv);
        return;
    }
    emit(e, "for (int u = %s; u < %s; u++) {", m->units ? "u0" : "0",
         m->units ? "u1" : lit("%lld", (long long)g->U, 0));
    emit(e, "float acc[%lld] = {0};", (long long)kr);
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "const float d = dyT[(size_t)u * n + s], *xk = %s + %lld;", m->row, (long long)kv);
    bool rolled = emit_rolled(e, false);
    emit(e, "for (int k = 0; k < %lld; k++)", (long long)kr);
    emit(e, "    acc[k] += d * xk[k];");
    emit(e, "}");
    emit(e, "for (int k = 0; k < %lld; k++)", (long long)kr);
    emit(e, "    gw[(size_t)u * %lld + %lld + k] %s acc[k];", (long long)g->K, (long long)kv,
         m->units ? "=" : "+=");
    emit_rolled(e, rolled);
    if (m->units)
        emit_sgd_row(e, ly, g, "u", kv);
    emit(e, "}");
}

/* A unit-split layer's weight gradient (units [u0, u1), every sample):
 * x packed once into panels, the panel of columns [k, k + width) at
 * slab + k * n as [n][width]; then units outside, k inside, and after
 * each tile the SGD step on what it stored (emit_sgd_rows).  Rows of
 * parameters, momenta and gradients are so walked in order, a few
 * streams the prefetchers follow, while the tiles compute; with k
 * outside (the lane form) the step jumped a row (12 KiB on h1) per 48
 * floats and made the step slower than the separate pass.  The panels
 * (n x K floats) stay in L2; each tile reads them once. */
static void emit_wg_units_pass(emitter *e, const ir_layer *ly, const dgeom *g, int mu, int nv,
                               int64_t k0, int64_t k1, int64_t step)
{
    if (k1 <= k0)
        return;
    emit(e, "for (int k = %lld; k < %lld; k += %lld) {", (long long)k0, (long long)k1, (long long)step);
    emit(e, "%s_wg_%dx%d(dyT, slab + (size_t)k * n, gw, n, u, k);", ly->name, mu, nv);
    emit_sgd_rows(e, ly, g, "u", lit("%d", mu, 0), step);
    emit(e, "}");
}

/* x of every sample into the panels emit_wg_units reads: a lane's own
 * copy, packed once before it takes its first chunk of units. */
static void emit_backward_pack(emitter *e, const ir_layer *ly, const dgeom *g)
{
    int W = e->simd->width;
    int64_t T = (int64_t)g->wv * W, kt = g->K / T * T, kv = g->K / W * W;
    emit(e, "CNNC_KERNEL static void %s_backward_pack(int n, const float *restrict x, float *restrict slab)",
         ly->name);
    emit(e, "{");
    if (dense_sparse(e, ly, g)) {
        emit(e, "(void)n, (void)x, (void)slab; /* the sparse kernels read x itself */");
        emit(e, "}");
        emit_blank(e);
        return;
    }
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "const float *xs = x + (size_t)s * %lld;", (long long)g->K);
    if (kt)
        emit(e, "for (int k = 0; k < %lld; k += %lld)", (long long)kt, (long long)T);
    if (kt)
        emit(e, "    memcpy(slab + (size_t)k * n + (size_t)s * %lld, xs + k, sizeof(float) * %lld);",
             (long long)T, (long long)T);
    if (kv > kt)
        emit(e, "for (int k = %lld; k < %lld; k += %d)", (long long)kt, (long long)kv, W);
    if (kv > kt)
        emit(e, "    memcpy(slab + (size_t)k * n + (size_t)s * %d, xs + k, sizeof(float) * %d);", W, W);
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

static void emit_wg_units(emitter *e, const ir_layer *ly, const dgeom *g, const wg_mode *m)
{
    int W = e->simd->width;
    int64_t T = (int64_t)g->wv * W, kt = g->K / T * T, kv = g->K / W * W, ur = g->U % g->wu;
    emit(e, "int u = u0;");
    emit(e, "for (; u + %d <= u1; u += %d) {", g->wu, g->wu);
    emit_wg_units_pass(e, ly, g, g->wu, g->wv, 0, kt, T);
    emit_wg_units_pass(e, ly, g, g->wu, 1, kt, kv, W);
    emit(e, "}");
    if (ur) { /* only the last chunk can end in a partial block */
        emit(e, "if (u < u1) {");
        emit_wg_units_pass(e, ly, g, (int)ur, g->wv, 0, kt, T);
        emit_wg_units_pass(e, ly, g, (int)ur, 1, kt, kv, W);
        emit(e, "}");
    }
    emit_wg_rest(e, ly, g, m, kv);
}

static void emit_wg_calls(emitter *e, const ir_layer *ly, const dgeom *g, const wg_mode *m)
{
    int W = e->simd->width;
    int64_t T = (int64_t)g->wv * W, kt = g->K / T * T, kv = g->K / W * W;
    emit_wg_pass(e, ly, g, m, g->wv, 0, kt, T);
    emit_wg_pass(e, ly, g, m, 1, kt, kv, W);
    emit_wg_rest(e, ly, g, m, kv);
}

static void emit_wg_tiles(emitter *e, const ir_layer *ly, const dgeom *g)
{
    int W = e->simd->width;
    int64_t T = (int64_t)g->wv * W;
    int ur = (int)(g->U % g->wu);
    bool single = g->K / W * W > g->K / T * T;
    emit_wg_tile(e, ly, g, g->wu, g->wv);
    if (single && g->wv > 1)
        emit_wg_tile(e, ly, g, g->wu, 1);
    if (ur) {
        emit_wg_tile(e, ly, g, ur, g->wv);
        if (single && g->wv > 1)
            emit_wg_tile(e, ly, g, ur, 1);
    }
}

/* dx for samples [i0, i1): tiles of di samples x dv vectors of k.  Columns
 * of k outside: a tile's panel of w (U rows of dv vectors) stays in cache
 * while the lane's samples pass over it; samples outside re-read all of w
 * per block of di samples (cifar10_wide's f1: 4 MB, 16 times a step). */
static void emit_dg_calls(emitter *e, const ir_layer *ly, const dgeom *g)
{
    int64_t T = (int64_t)g->dv * e->simd->width;
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit(e, "for (int k = 0; k < %lld; k += %lld)", (long long)g->K, (long long)T);
    emit(e, "    for (int i = i0; i < i1; i += %d)", g->di);
    emit(e, "        %s_dg(dy, w, dx, i, i1, k < %lld ? k : %lld);", ly->name,
         (long long)(g->K - T), (long long)(g->K - T));
}

/* ------------------------------------------------------------ sparse backward */
/* relu zeroes about half of dy (lenet's f5: 56 % of its 7,680 values on
 * bench's random batch, f6: 49 %), and both gradients multiply every
 * zero.  Where the flavour packs lanes (cmpi), a relu layer's backward
 * lists the nonzero entries instead: per sample the units with dy != 0,
 * and dx's row is the sum of their rows of w times dy; per unit the
 * samples, and dw's row the sum of their rows of x.  Both run NAME_sp:
 * for a list (idx, val), the rows of src at idx[t] * K (one tile of sp_nv
 * vectors of k; NAME_spr the rest of K), times val[t], summed in order of
 * t, stored to out or added to it.  The lists of a block of SP_BLOCK
 * samples or units are built first, then k tiles outside: the tile's
 * panel of w (or x) stays in L1 while the block passes over it.  (Whole
 * rows a list entry, read from L2, saved only 10 of lenet's f5's 125 us.)
 * Only exact zeros are skipped: the sums are the dense tiles' in the same
 * order.  Not where a block's lists would crowd the stack (K > 1024 or
 * U > 512: cifar10_mlp's h1 keeps its packed panels), nor where the tile
 * is under 4 vectors (more than 128 units: its h2). */
#define SP_BLOCK 8
#define SP_CHUNK 256

/* Vectors a k tile: its panel (max(U, 64) rows) about 32 KiB. */
static int64_t sp_nv(const emitter *e, const dgeom *g)
{
    int64_t rows = g->U > 64 ? g->U : 64, nv = 8192 / rows / e->simd->width, kv = g->K / e->simd->width;
    return nv < 1 ? 1 : nv > kv ? kv : nv > 16 ? 16 : nv;
}

/* Tiles of fewer than 4 vectors spend more on each list entry (its index,
 * row address and broadcast) than on its FMAs: cifar10_mlp's h2 (256
 * units, tiles of 2 vectors) ran its backward in 556-562 us against the
 * dense tiles' 324-333. */
static bool dense_sparse(const emitter *e, const ir_layer *ly, const dgeom *g)
{
    const simd_target *v = e->simd;
    return ly->act == ACT_RELU && v->cmpi && v->loadn && v->storen && g->K <= 1024 && g->U <= 512 &&
           sp_nv(e, g) >= 4;
}

/* NAME<sfx>: nv whole vectors and rem lanes.  Fewer than 8 vectors: two
 * sets of accumulators (even and odd t), 8 or more FMAs in flight. */
static void emit_sp_tile(emitter *e, const ir_layer *ly, const dgeom *g, const char *sfx, int64_t nv, int64_t rem)
{
    const simd_target *v = e->simd;
    int W = v->width, sets = nv + (rem > 0) < 8 ? 2 : 1;
    int64_t na = nv + (rem > 0);
    const char *rn = lit("%lld", rem, 0);
    emit(e, "CNNC_KERNEL static void %s%s(const float *restrict src, const int *restrict idx, "
         "const float *restrict val, int nz, float *restrict out, int add)", ly->name, sfx);
    emit(e, "{");
    for (int q = 0; q < sets; q++)
        for (int64_t j = 0; j < na; j++)
            emit(e, "%s %s = %s;", v->vec, nm(q ? "b" : "a", 0, (int)j), v->zero);
    emit(e, "int t = 0;");
    emit(e, "for (; t + %d <= nz; t += %d) {", sets, sets);
    for (int q = 0; q < sets; q++) {
        emit(e, "{");
        emit(e, "const float *r = src + (size_t)idx[t + %d] * %lld;", q, (long long)g->K);
        emit(e, "const %s gb = %s;", v->vec, simd(v->splat, lit("val[t + %lld]", q, 0), 0, 0));
        for (int64_t j = 0; j < na; j++) {
            const char *p = lit("r + %lld", j * W, 0), *a = nm(q ? "b" : "a", 0, (int)j);
            emit(e, "%s = %s;", a, simd(v->fma, "gb", j < nv ? simd(v->load, p, 0, 0) : simd(v->loadn, p, rn, 0), a));
        }
        emit(e, "}");
    }
    emit(e, "}");
    if (sets == 2) {
        emit(e, "if (t < nz) {");
        emit(e, "const float *r = src + (size_t)idx[t] * %lld;", (long long)g->K);
        emit(e, "const %s gb = %s;", v->vec, simd(v->splat, "val[t]", 0, 0));
        for (int64_t j = 0; j < na; j++) {
            const char *p = lit("r + %lld", j * W, 0), *a = nm("a", 0, (int)j);
            emit(e, "%s = %s;", a, simd(v->fma, "gb", j < nv ? simd(v->load, p, 0, 0) : simd(v->loadn, p, rn, 0), a));
        }
        emit(e, "}");
    }
    for (int64_t j = 0; j < na; j++) {
        const char *p = lit("out + %lld", j * W, 0), *a = nm("a", 0, (int)j);
        const char *old = j < nv ? simd(v->load, p, 0, 0) : simd(v->loadn, p, rn, 0);
        if (sets == 2)
            emit(e, "%s = %s;", a, simd(v->add, a, nm("b", 0, (int)j), 0));
        emit(e, "if (add)");
        emit(e, "    %s = %s;", a, simd(v->add, a, old, 0));
        emit(e, "%s", j < nv ? simd(v->store, p, a, 0) : simd(v->storen, p, a, rn));
    }
    emit(e, "}");
    emit_blank(e);
}

static void emit_sp_kernel(emitter *e, const ir_layer *ly, const dgeom *g)
{
    int W = e->simd->width;
    int64_t nv = sp_nv(e, g), kv = g->K / W, kt = kv / nv * nv;
    emit_sp_tile(e, ly, g, "_sp", nv, 0);
    if (kt < kv || g->K % W)
        emit_sp_tile(e, ly, g, "_spr", kv - kt, g->K % W);
}

/* The k tiles for every list of the block: NAME_sp(src + k, .., out(b) + k). */
static void emit_sp_calls(emitter *e, const ir_layer *ly, const dgeom *g, const char *src, const char *out,
                          const char *add)
{
    int W = e->simd->width;
    int64_t nv = sp_nv(e, g), kv = g->K / W, kt = kv / nv * nv * W;
    emit(e, "for (int k = 0; k < %lld; k += %lld)", (long long)kt, (long long)(nv * W));
    emit(e, "    for (int b = 0; b < nb; b++)");
    emit(e, "        %s_sp(%s + k, idx[b], val[b], nzs[b], %s + k, %s);", ly->name, src, out, add);
    if (kt < g->K) {
        emit(e, "for (int b = 0; b < nb; b++)");
        emit(e, "    %s_spr(%s + %lld, idx[b], val[b], nzs[b], %s + %lld, %s);", ly->name, src, (long long)kt, out,
             (long long)kt, add);
    }
}

/* dx of samples [i0, i1), SP_BLOCK at a time: the units with dy != 0 of
 * each, then NAME_sp over their rows of w. */
static void emit_sp_dx(emitter *e, const ir_layer *ly, const dgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t uv = g->U / W * W;
    const char *pos = lanes_from(e, "j");
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit(e, "int idx[%d][%lld], nzs[%d];", SP_BLOCK, (long long)(g->U + W), SP_BLOCK);
    emit(e, "float val[%d][%lld];", SP_BLOCK, (long long)(g->U + W));
    emit(e, "for (int ib = i0; ib < i1; ib += %d) {", SP_BLOCK);
    emit(e, "const int nb = i1 - ib < %d ? i1 - ib : %d;", SP_BLOCK, SP_BLOCK);
    emit(e, "for (int b = 0; b < nb; b++) {");
    emit(e, "const float *dr = dy + (size_t)(ib + b) * %lld;", (long long)g->U);
    emit(e, "int *restrict li = idx[b];");
    emit(e, "float *restrict lv = val[b];");
    emit(e, "int nz = 0;");
    emit(e, "for (int j = 0; j < %lld; j += %d)", (long long)uv, W);
    emit_nz_append(e, simd(v->load, "dr + j", 0, 0), pos, NULL);
    if (uv < g->U) {
        emit(e, "{");
        emit(e, "const int j = %lld;", (long long)uv);
        emit_nz_append(e, simd(v->loadn, "dr + j", lit("%lld", g->U - uv, 0), 0), pos, NULL);
        emit(e, "}");
    }
    emit(e, "nzs[b] = nz;");
    emit(e, "}");
    emit_sp_calls(e, ly, g, "w", lit("dx + (size_t)(ib + b) * %lld", g->K, 0), "0");
    emit(e, "}");
}

/* dw's rows of units [u0, ue) over n samples (rows of x at x0), SP_BLOCK
 * units at a time and SP_CHUNK samples: per unit the samples with dyT !=
 * 0, then NAME_sp; stored (sto: the unit-split form, which sees every
 * sample, then its SGD step) or added. */
static void emit_sp_dw(emitter *e, const ir_layer *ly, const dgeom *g, const char *u0, const char *ue,
                       const char *x0, bool sto)
{
    const simd_target *v = e->simd;
    int W = v->width;
    const char *pos = lanes_from(e, "j");
    emit(e, "{");
    emit_nonfinite(e, x0, lit("(size_t)n * %lld", g->K, 0));
    emit(e, "int idx[%d][%d], nzs[%d];", SP_BLOCK, SP_CHUNK + W, SP_BLOCK);
    emit(e, "float val[%d][%d];", SP_BLOCK, SP_CHUNK + W);
    emit(e, "for (int s0 = 0; s0 < n || s0 == 0; s0 += %d) {", SP_CHUNK);
    emit(e, "const int s1 = s0 + %d < n ? s0 + %d : n;", SP_CHUNK, SP_CHUNK);
    emit(e, "for (int ub = %s; ub < %s; ub += %d) {", u0, ue, SP_BLOCK);
    emit(e, "const int nb = %s - ub < %d ? %s - ub : %d;", ue, SP_BLOCK, ue, SP_BLOCK);
    emit(e, "for (int b = 0; b < nb; b++) {");
    emit(e, "const float *dt = dyT + (size_t)(ub + b) * n;");
    emit(e, "int *restrict li = idx[b];");
    emit(e, "float *restrict lv = val[b];");
    emit(e, "int nz = 0;");
    emit(e, "for (int j = s0; j < s1; j += %d)", W);
    emit_nz_append(e, arena_printf(emit_arena, "j + %d <= s1 ? %s : %s", W, simd(v->load, "dt + j", 0, 0),
                                   simd(v->loadn, "dt + j", "(s1 - j)", 0)), pos, NULL);
    emit(e, "nzs[b] = nz;");
    emit(e, "}");
    emit_sp_calls(e, ly, g, x0, lit("gw + (size_t)(ub + b) * %lld", g->K, 0), sto ? "s0 > 0" : "1");
    emit(e, "if (s1 < n)");
    emit(e, "    continue;");
    emit(e, "for (int b = 0; b < nb; b++) {");
    emit(e, "if (bad != 0.0f)");
    emit(e, "    for (int k = 0; k < %lld; k++)", (long long)g->K);
    emit(e, "        gw[(size_t)(ub + b) * %lld + k] = bad;", (long long)g->K);
    if (sto)
        emit_sgd_row(e, ly, g, "ub + b", 0);
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
}

/* A unit-split layer's backward, part 1, on samples [i0, i1): the
 * activation's derivative, dy transposed into c->dyT_NAME ([U][n]), dx. */
static void emit_backward_rows(emitter *e, const ir_layer *ly, const dgeom *g)
{
    emit(e, "CNNC_KERNEL static void %s_backward_rows(%s_ctx *c, int n, int i0, int i1, "
         "const float *restrict y, float *restrict dy, float *restrict dx)", ly->name, e->prefix);
    emit(e, "{");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "float *restrict dyT = c->dyT_%s;", ly->name);
    if (ly->act == ACT_NONE)
        emit(e, "(void)y;");
    emit_act_backward(e, ly->act, "y", "dy", g->U);
    emit(e, "for (int s = i0; s < i1; s++)");
    emit(e, "    for (int u = 0; u < %lld; u++)", (long long)g->U);
    emit(e, "        dyT[(size_t)u * n + s] = dy[(size_t)s * %lld + u];", (long long)g->U);
    if (dense_sparse(e, ly, g))
        emit_sp_dx(e, ly, g);
    else
        emit_dg_calls(e, ly, g);
    emit(e, "}");
    emit_blank(e);
}

/* Part 2, once every lane has run part 1: units [u0, u1) (a chunk, or
 * all) of the weight and bias gradients over all n samples, stored into
 * c->grads.  slab: n * dense_lane_slab() floats of the lane's own, filled
 * by NAME_backward_pack. */
static void emit_backward_units(emitter *e, const ir_layer *ly, const dgeom *g)
{
    wg_mode m = {true, arena_printf(emit_arena, "x + (size_t)s * %lld", (long long)g->K)};
    emit(e, "CNNC_KERNEL static void %s_backward_units(%s_ctx *c, int n, int u0, int u1, "
         "const float *restrict x, float *restrict slab)", ly->name, e->prefix);
    emit(e, "{");
    emit(e, "const float *restrict dyT = c->dyT_%s;", ly->name);
    emit(e, "(void)x; /* read only for the columns past the last whole vector */");
    /* not restrict: sgd_fast reads the stored gradient through c->grads */
    emit(e, "float *gw = c->grads + %lld;", (long long)ly->woff);
    /* train_step: the SGD step on these units' parameters here (every lane
     * has its loss by now), unless a label was bad (lane_update) */
    emit(e, "double total = 0.0;");
    emit(e, "for (int t = 0; t < c->threads; t++)");
    emit(e, "    total += c->lane_loss[t];");
    emit(e, "const cnnrt_hparams *hp = total == total ? c->job_hp : NULL;");
    if (ly->bias) {
        emit(e, "float *gb = c->grads + %lld;", (long long)ly->boff);
        emit(e, "for (int u = u0; u < u1; u++) {");
        emit(e, "float s = 0.0f;");
        emit(e, "for (int i = 0; i < n; i++)");
        emit(e, "    s += dyT[(size_t)u * n + i];");
        emit(e, "gb[u] = s;");
        emit(e, "}");
        emit(e, "if (hp && u0 < u1)");
        emit(e, "    sgd_fast(c, hp, %lld + (size_t)u0, %lld + (size_t)u1);", (long long)ly->boff,
             (long long)ly->boff);
    }
    if (dense_sparse(e, ly, g)) {
        emit(e, "(void)slab;");
        emit_sp_dw(e, ly, g, "u0", "u1", "x", true);
    } else {
        emit_wg_units(e, ly, g, &m);
    }
    emit(e, "}");
    emit_blank(e);
}

/* dy through the activation's derivative (in place), then the bias
 * gradient gb[u] += sum_i dy[i][u]. */
static void emit_dense_bw_dy(emitter *e, const ir_layer *ly, const dgeom *g)
{
    if (ly->act == ACT_NONE)
        emit(e, "(void)y;");
    bool rolled = emit_rolled(e, false); /* as before: not measured rolled */
    emit_act_backward(e, ly->act, "y", "dy", g->U);
    if (ly->bias) {
        emit(e, "float *restrict gb = grads + %lld;", (long long)ly->boff);
        emit(e, "for (int i = i0; i < i1; i++)");
        emit(e, "    for (int u = 0; u < %lld; u++)", (long long)g->U);
        emit(e, "        gb[u] += dy[(size_t)i * %lld + u];", (long long)g->U);
    }
    /* the transpose rolled: unrolled, clang's loop strength reduction spent
     * 0.1 s on it (lenet's f6) */
    emit_rolled(e, rolled);
}

/* dyT[u][s] = dy[i0 + s][u] in the lane's scratch, and the slab after it
 * that the weight-gradient tiles use. */
static void emit_dense_bw_transpose(emitter *e, const dgeom *g)
{
    emit(e, "const int n = i1 - i0;");
    emit(e, "float *restrict dyT = c->cs + (size_t)i0 * %lld; /* [%lld][n] */", (long long)e->cs_max,
         (long long)g->U);
    emit(e, "float *restrict slab = dyT + (size_t)%lld * n; /* [n][%lld] */", (long long)g->U,
         (long long)(g->wv * e->simd->width));
    emit(e, "for (int s = 0; s < n; s++)");
    emit(e, "    for (int u = 0; u < %lld; u++)", (long long)g->U);
    emit(e, "        dyT[(size_t)u * n + s] = dy[(size_t)(i0 + s) * %lld + u];", (long long)g->U);
}

void dense_emit_fast_backward(emitter *e, const ir_layer *ly)
{
    dgeom g = make_dgeom(e, ly);
    wg_mode m = {false, arena_printf(emit_arena, "x + (size_t)(i0 + s) * %lld", (long long)g.K)};
    bool sp = dense_sparse(e, ly, &g);
    if (sp) {
        emit_sp_kernel(e, ly, &g);
    } else {
        emit_dg_tile(e, ly, &g);
        emit_wg_tiles(e, ly, &g);
    }
    if (dense_splits_units(e, ly)) {
        emit_backward_rows(e, ly, &g);
        emit_backward_pack(e, ly, &g);
        emit_backward_units(e, ly, &g);
        return;
    }
    emit_backward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "float *restrict gw = grads + %lld;", (long long)ly->woff);
    emit_dense_bw_dy(e, ly, &g);
    emit_dense_bw_transpose(e, &g);
    if (sp) {
        emit(e, "(void)slab;");
        emit_sp_dw(e, ly, &g, "0", lit("%lld", g.U, 0), lit("x + (size_t)i0 * %lld", g.K, 0), false);
        emit_sp_dx(e, ly, &g);
    } else {
        emit_wg_calls(e, ly, &g, &m);
        emit_dg_calls(e, ly, &g);
    }
    emit(e, "}");
    emit_blank(e);
}
