/* emit_fastdense.c - register-tiled SIMD kernels for dense layers, written
 * against the templates of emit_simd.c (reference twins: emit_dense.c).
 *   forward  y[i][u] = b[u] + sum_k x[i][k] w[u][k]    dot products: a tile
 *            of mi samples x mu units, x rows held, w rows streamed
 *   dgrad    dx[i][k] = sum_u dy[i][u] w[u][k]          axpy along k: mi
 *            samples x nv vectors of k
 *   wgrad    dw[u][k] += sum_i dy[i][u] x[i][k]         axpy along k: mu
 *            units x nv vectors of k
 * Tiles that only store (forward, dgrad) clamp their sample / unit indices
 * or shift their last k tile back, recomputing a few values instead of
 * running a remainder; the accumulating wgrad has remainder variants. */
#include "emit.h"

typedef struct dgeom {
    int64_t K, U;                /* inputs, units */
    int mi, mu;                  /* forward tile */
    int di, dv;                  /* dgrad tile */
    int wu, wv;                  /* wgrad tile */
} dgeom;

static const char *nm(const char *p, int a, int b)
{
    return arena_printf(emit_arena, "%s%d_%d", p, a, b);
}

static const char *lit(const char *fmt, long long a, long long b)
{
    return arena_printf(emit_arena, fmt, a, b);
}

bool dense_is_fast(const emitter *e, const ir_layer *ly)
{
    return e->simd && ly->kind == LK_DENSE && ly->in.d[0] >= e->simd->width;
}

/* Per-sample floats of c->cs the backward pass uses: dy transposed and a
 * slab of x at most 3 vectors wide. */
int64_t dense_scratch(const emitter *e, const ir_layer *ly)
{
    return dense_is_fast(e, ly) ? ly->units + 3 * e->simd->width : 0;
}

static dgeom make_dgeom(const emitter *e, const ir_layer *ly)
{
    dgeom g = {ly->in.d[0], ly->units, 3, 4, 4, 3, 4, 3};
    int W = e->simd->width;
    if (g.U < 4)
        g.mu = (int)g.U;
    int64_t kv = g.K / W;
    g.dv = kv < 3 ? (int)kv : 3;
    g.wv = g.dv;
    if (g.U < 4)
        g.wu = (int)g.U;
    return g;
}

/* ------------------------------------------------------------ forward */
static void emit_fw_tile(emitter *e, const ir_layer *ly, const dgeom *g)
{
    const simd_target *v = e->simd;
    int64_t W = v->width, kv = g->K / W * W;
    emit(e, "CNNC_KERNEL static inline void %s_fw(const float *restrict x, const float *restrict w,",
         ly->name);
    emit(e, "    const float *restrict b, float *restrict y, int i0, int i1, int ub)");
    emit(e, "{");
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
    for (int a = 0; a < g->mi; a++)
        for (int c = 0; c < g->mu; c++) {
            emit(e, "float %s = %s%s;", nm("s", a, c), simd(v->hsum, nm("a", a, c), 0, 0),
                 ly->bias ? lit(" + b[u%lld]", c, 0) : "");
            if (kv < g->K) {
                emit(e, "for (int k = %lld; k < %lld; k++)", (long long)kv, (long long)g->K);
                emit(e, "    %s += x%d[k] * w%d[k];", nm("s", a, c), a, c);
            }
            const char *s = nm("s", a, c);
            const char *val = ly->act == ACT_RELU ? arena_printf(emit_arena, "%s > 0.0f ? %s : 0.0f", s, s)
                              : ly->act == ACT_SIGMOID ? arena_printf(emit_arena, "1.0f / (1.0f + expf(-%s))", s)
                              : ly->act == ACT_TANH ? arena_printf(emit_arena, "tanhf(%s)", s)
                                                    : s;
            emit(e, "y[(size_t)(i0 + %d < i1 ? i0 + %d : i1 - 1) * %lld + u%d] = %s;", a, a,
                 (long long)g->U, c, val);
        }
    emit(e, "}");
    emit_blank(e);
}

void dense_emit_fast_forward(emitter *e, const ir_layer *ly)
{
    dgeom g = make_dgeom(e, ly);
    emit_fw_tile(e, ly, &g);
    dense_emit_gemv(e, ly);
    emit(e, "CNNC_KERNEL static void %s_forward(%s_ctx *c, int i0, int i1, const float *restrict x, float *restrict y)",
         ly->name, e->prefix);
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
 * k0 + nv*W) packed ([n][nv*W]), so the tile reads memory in order. */
static void emit_wg_tile(emitter *e, const ir_layer *ly, const dgeom *g, int mu, int nv)
{
    const simd_target *v = e->simd;
    int W = v->width;
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
            emit(e, "%s", simd(v->store, p, simd(v->add, simd(v->load, p, 0, 0), nm("a", a, j), 0), 0));
        }
    emit(e, "}");
    emit_blank(e);
}

/* The weight gradient: k tiles outside, so the lane's slab of x (samples x
 * one tile of k) stays in L1 while every row of units passes over it; then
 * single vectors, then scalars for the k that remain. */
static void emit_wg_pass(emitter *e, const ir_layer *ly, const dgeom *g, int nv, int64_t k0,
                         int64_t k1, int64_t step)
{
    int64_t ufull = g->U / g->wu * g->wu;
    if (k1 <= k0)
        return;
    emit(e, "for (int k = %lld; k < %lld; k += %lld) {", (long long)k0, (long long)k1, (long long)step);
    emit(e, "for (int s = 0; s < n; s++)");
    emit(e, "    memcpy(slab + (size_t)s * %lld, x + (size_t)(i0 + s) * %lld + k, sizeof(float) * %lld);",
         (long long)step, (long long)g->K, (long long)step);
    emit(e, "for (int u0 = 0; u0 < %lld; u0 += %d)", (long long)ufull, g->wu);
    emit(e, "    %s_wg_%dx%d(dyT, slab, gw, n, u0, k);", ly->name, g->wu, nv);
    if (g->U > ufull)
        emit(e, "%s_wg_%lldx%d(dyT, slab, gw, n, %lld, k);", ly->name, (long long)(g->U - ufull), nv,
             (long long)ufull);
    emit(e, "}");
}

static void emit_wg_calls(emitter *e, const ir_layer *ly, const dgeom *g)
{
    int W = e->simd->width;
    int64_t T = (int64_t)g->wv * W, kt = g->K / T * T, kv = g->K / W * W;
    emit(e, "const int n = i1 - i0;");
    emit(e, "float *restrict dyT = c->cs + (size_t)i0 * %lld; /* [%lld][n] */", (long long)e->cs_max,
         (long long)g->U);
    emit(e, "float *restrict slab = dyT + (size_t)%lld * n; /* [n][%lld] */", (long long)g->U, (long long)T);
    emit(e, "for (int s = 0; s < n; s++)");
    emit(e, "    for (int u = 0; u < %lld; u++)", (long long)g->U);
    emit(e, "        dyT[(size_t)u * n + s] = dy[(size_t)(i0 + s) * %lld + u];", (long long)g->U);
    emit_wg_pass(e, ly, g, g->wv, 0, kt, T);
    emit_wg_pass(e, ly, g, 1, kt, kv, W);
    if (g->K > kv) {
        emit(e, "for (int u = 0; u < %lld; u++) {", (long long)g->U);
        emit(e, "for (int k = %lld; k < %lld; k++) {", (long long)kv, (long long)g->K);
        emit(e, "float s = 0.0f;");
        emit(e, "for (int i = i0; i < i1; i++)");
        emit(e, "    s += dy[(size_t)i * %lld + u] * x[(size_t)i * %lld + k];", (long long)g->U,
             (long long)g->K);
        emit(e, "gw[(size_t)u * %lld + k] += s;", (long long)g->K);
        emit(e, "}");
        emit(e, "}");
    }
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

void dense_emit_fast_backward(emitter *e, const ir_layer *ly)
{
    dgeom g = make_dgeom(e, ly);
    int W = e->simd->width;
    int64_t T = (int64_t)g.dv * W;
    emit_dg_tile(e, ly, &g);
    emit_wg_tiles(e, ly, &g);
    emit(e, "CNNC_KERNEL static void %s_backward(%s_ctx *c, float *restrict grads, int i0, int i1, "
         "const float *restrict x, const float *restrict y, float *restrict dy, float *restrict dx)",
         ly->name, e->prefix);
    emit(e, "{");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "float *restrict gw = grads + %lld;", (long long)ly->woff);
    if (ly->act == ACT_NONE)
        emit(e, "(void)y;");
    emit_act_backward(e, ly->act, "y", "dy", g.U);
    if (ly->bias) {
        emit(e, "float *restrict gb = grads + %lld;", (long long)ly->boff);
        emit(e, "for (int i = i0; i < i1; i++)");
        emit(e, "    for (int u = 0; u < %lld; u++)", (long long)g.U);
        emit(e, "        gb[u] += dy[(size_t)i * %lld + u];", (long long)g.U);
    }
    emit_wg_calls(e, ly, &g);
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit(e, "for (int i = i0; i < i1; i += %d)", g.di);
    emit(e, "    for (int k = 0; k < %lld; k += %lld)", (long long)g.K, (long long)T);
    emit(e, "        %s_dg(dy, w, dx, i, i1, k < %lld ? k : %lld);", ly->name,
         (long long)(g.K - T), (long long)(g.K - T));
    emit(e, "}");
    emit_blank(e);
}
