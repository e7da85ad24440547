/* emit_convfl.c - the forward pass of a convolution (any stride) with the
 * filters in the vector lanes, for layers whose flat-grid sweep
 * (emit_fast.c) would waste much of its work on garbage columns: small
 * outputs such as LeNet's 10x10 (the sweep computes 136 positions for
 * 100 outputs).
 *
 *   y[f][o] = b[f] + sum_{c,k} WT[c*K + k][f] * xp[c][p(o) + koff(k)]
 *
 * WT [R][Fp] is w transposed (filters padded to whole vectors with zeros),
 * built once per call in the lane's first-sample scratch, with the bias
 * after it.  A tile is a block of mr output rows by mc columns (last two
 * axes): its mr*mc*nv accumulators take one broadcast input per position
 * and one aligned WT load per vector and tap.  Only real outputs are
 * computed; the last tile of a row or column is shifted back to end at
 * the edge (it recomputes a few outputs, to the same bits).  The kernel
 * loops over the R = C*K rows of WT with a table of input offsets, so its
 * code is one tap long. */
#include "emit_conv.h"

typedef struct fltile {
    int64_t oh, ow, pmr;         /* rows and columns of the output; flat row stride of xp */
    int64_t sc;                  /* flat column stride of xp (the last axis's stride) */
    int nv, mr, mc;
    int nb;                      /* blocks of nv vectors of filters (strided layers: Fp / W > 4) */
} fltile;

/* FMA slots of one tap of an m-position, n-vector tile: its FMAs (at
 * least 8, or the latency shows), the aligned weight loads, and a quarter
 * slot for each broadcast input. */
static double fl_step(int64_t m, int64_t n)
{
    return (double)(m * n > 8 ? m * n : 8) + (double)n + 0.25 * (double)m;
}

static double fl_choose(const simd_target *v, fltile *t);

/* Strided layers with more than 4 vectors of filters: blocks of d vectors
 * (d divides them, d <= 4), the d of the cheapest tiles over all blocks. */
static void fl_blocks(const simd_target *v, fltile *t)
{
    int fv = t->nv, best_d = 1;
    double best = 0;
    for (int d = 1; d <= 4; d++) {
        fltile u = *t;
        u.nv = d;
        if (fv % d || 2 * d + 1 > v->regs)
            continue;
        double c = fl_choose(v, &u) * (double)(fv / d);
        if (best == 0 || c < best) {
            best = c;
            best_d = d;
        }
    }
    t->nv = best_d;
    t->nb = fv / best_d;
}

static fltile fl_shape(const simd_target *v, const ir_layer *ly, const fgeom *g)
{
    fltile t = {0};
    int r = ly->nsp;
    t.ow = ly->out.d[r];
    t.oh = r >= 2 ? ly->out.d[r - 1] : 1;
    t.pmr = r >= 2 ? ly->padded.d[r] * ly->stride[r - 2] : 0;
    t.sc = ly->stride[r - 1];
    t.nv = (int)(g->Fp / v->width);
    t.nb = 1;
    if (g->strided && t.nv > 4)
        fl_blocks(v, &t);
    return t;
}

/* The cheapest mr x mc tile that fits the registers (accumulators, the
 * weight vectors of a tap and a broadcast), in FMA slots per map and tap
 * over one output plane; sets t->mr, t->mc. */
static double fl_choose(const simd_target *v, fltile *t)
{
    double best = 0;
    for (int mr = 1; mr <= t->oh && mr <= 28; mr++)
        for (int mc = 1; mc <= t->ow && mr * mc <= 28; mc++) {
            if (mr * mc * t->nv + t->nv + 1 > v->regs)
                continue;
            int64_t tiles = (t->oh + mr - 1) / mr * ((t->ow + mc - 1) / mc);
            double c = (double)tiles * fl_step(mr * mc, t->nv);
            if (best == 0 || c < best) {
                best = c;
                t->mr = mr;
                t->mc = mc;
            }
        }
    return best;
}

/* Filters in lanes when its cost, with a tenth added for the transposes
 * of WT and of the results, beats the sweep's (sweep_cost: FMA slots per
 * map and tap over the flat grid). */
bool conv_lanes_pays(const simd_target *v, const ir_layer *ly, const fgeom *g, double sweep_cost)
{
    fltile t = fl_shape(v, ly, g);
    if (t.nv > 4)
        return false;
    double c = fl_choose(v, &t) * (double)(g->osz / (t.oh * t.ow)) * (double)t.nb;
    return 1.1 * c < sweep_cost;
}

static const char *fl_acc(int j, int n)
{
    return vname("a", j, n);
}

/* One tap of the tile: the weight vectors, then a broadcast per position.
 * (One tap per loop iteration: with the taps of a kernel row unrolled,
 * gcc shares the broadcast of an input between neighbouring taps and
 * spills the shared values.) */
static void emit_fl_tap(emitter *e, const fltile *t)
{
    const simd_target *v = e->simd;
    for (int n = 0; n < t->nv; n++)
        emit(e, "const %s w%d = %s;", v->vec, n,
             simd(v->load, arena_printf(emit_arena, "wr + %d", n * v->width), 0, 0));
    for (int jr = 0; jr < t->mr; jr++)
        for (int jc = 0; jc < t->mc; jc++)
            emit_bcast_fma(e, arena_printf(emit_arena, "xr[%lld]", (long long)(jr * t->pmr + jc * t->sc)),
                           jr * t->mc + jc, t->nv, "w");
}

/* Strided layers whose tile is one vector of columns wide, relu or no
 * activation: each W x W block of results (positions by filters) is
 * transposed in registers, log2(W) rounds of zip_lo/zip_hi pairing row j
 * with row j + W/2, and stored as W rows of y: the scalar transpose cost
 * as much as the FMAs where the maps are few (3 on s2conv's c1). */
static bool fl_vtrans(const simd_target *v, const ir_layer *ly, const fgeom *g, const fltile *t)
{
    return g->strided && v->width > 1 && t->mc == v->width && (ly->act == ACT_RELU || ly->act == ACT_NONE);
}

static void emit_fl_vout(emitter *e, const ir_layer *ly, const fgeom *g, const fltile *t)
{
    const simd_target *v = e->simd;
    int W = v->width;
    for (int jr = 0; jr < t->mr; jr++)
        for (int n = 0; n < t->nv; n++) {
            int round = 0;
            emit(e, "{");
            for (int j = 0; j < W; j++) {
                const char *a = fl_acc(jr * t->mc + j, n);
                emit(e, "const %s %s = %s;", v->vec, vname("t", 0, j), ly->act == ACT_RELU ? simd(v->pos, a, a, 0) : a);
            }
            for (int w = W; w > 1; w /= 2, round++)
                for (int j = 0; j < W / 2; j++) {
                    const char *a = vname("t", round, j), *b = vname("t", round, j + W / 2);
                    emit(e, "const %s %s = %s;", v->vec, vname("t", round + 1, 2 * j), simd(v->zip_lo, a, b, 0));
                    emit(e, "const %s %s = %s;", v->vec, vname("t", round + 1, 2 * j + 1), simd(v->zip_hi, a, b, 0));
                }
            for (int f = 0; f < W; f++) {
                int64_t fi = (int64_t)n * W + f;
                if (t->nb == 1 && fi >= g->F) {
                    emit(e, "(void)%s;", vname("t", round, f));
                    continue;
                }
                if (t->nb > 1)
                    emit(e, "if (%lld < fn)", (long long)fi);
                emit(e, "%s%s", t->nb > 1 ? "    " : "",
                     simd(v->store, arena_printf(emit_arena, "y + %lld", (long long)(fi * g->osz + jr * t->ow)),
                          vname("t", round, f), 0));
            }
            emit(e, "}");
        }
}

/* Stride-1 tiles, one block of filters, where the flavour stores chosen
 * lanes (storem): the results in chunks of W positions (zeros past the
 * tile) transposed in registers as emit_fl_vout does, then each filter's
 * vector of positions stored row by row of the tile, one masked store
 * per row it touches.  Through the buffer, float by float, lenet's c3
 * spent a quarter of its forward pass on the copy out. */
static bool fl_mtrans(const simd_target *v, const fgeom *g, const fltile *t)
{
    return v->storem && v->zip_lo && v->width > 1 && !g->strided && t->nb == 1;
}

static void emit_fl_mstores(emitter *e, const fgeom *g, const fltile *t, int j0, int n, int round)
{
    const simd_target *v = e->simd;
    int W = v->width, m = t->mr * t->mc;
    for (int f = 0; f < W; f++) {
        int64_t fi = (int64_t)n * W + f;
        if (fi >= g->F) {
            emit(e, "(void)%s;", vname("t", round, f));
            continue;
        }
        for (int jr = j0 / t->mc; jr * t->mc < j0 + W && jr * t->mc < m; jr++) {
            int la = jr * t->mc > j0 ? jr * t->mc - j0 : 0;
            int lb = (jr + 1) * t->mc < j0 + W ? (jr + 1) * t->mc - j0 : W;
            if (j0 + lb > m)
                lb = m - j0;
            unsigned long long mask = ((1ull << (lb - la)) - 1ull) << la;
            int64_t at = fi * g->osz + (int64_t)jr * t->ow + j0 - (int64_t)jr * t->mc;
            emit(e, "%s", simd(v->storem, arena_printf(emit_arena, "y + %lld", (long long)at), vname("t", round, f),
                               arena_printf(emit_arena, "0x%llxu", mask)));
        }
    }
}

static void emit_fl_mout(emitter *e, const ir_layer *ly, const fgeom *g, const fltile *t)
{
    const simd_target *v = e->simd;
    int W = v->width, m = t->mr * t->mc;
    for (int n = 0; n < t->nv; n++)
        for (int j0 = 0; j0 < m; j0 += W) {
            int round = 0;
            emit(e, "{");
            for (int j = 0; j < W; j++) {
                const char *a = j0 + j < m ? fl_acc(j0 + j, n) : v->zero;
                emit(e, "const %s %s = %s;", v->vec, vname("t", 0, j),
                     ly->act == ACT_RELU && j0 + j < m ? simd(v->pos, a, a, 0) : a);
            }
            for (int w = W; w > 1; w /= 2, round++)
                for (int j = 0; j < W / 2; j++) {
                    const char *a = vname("t", round, j), *b = vname("t", round, j + W / 2);
                    emit(e, "const %s %s = %s;", v->vec, vname("t", round + 1, 2 * j), simd(v->zip_lo, a, b, 0));
                    emit(e, "const %s %s = %s;", v->vec, vname("t", round + 1, 2 * j + 1), simd(v->zip_hi, a, b, 0));
                }
            emit_fl_mstores(e, g, t, j0, n, round);
            emit(e, "}");
        }
}

/* The results of the tile, relu applied in vectors, transposed to
 * y[f][o] through a small buffer (a sigmoid or tanh runs over the whole
 * sample afterwards, in vectors: conv_emit_lanes_forward). */
static void emit_fl_out(emitter *e, const ir_layer *ly, const fgeom *g, const fltile *t)
{
    const simd_target *v = e->simd;
    int m = t->mr * t->mc;
    if (fl_vtrans(v, ly, g, t)) {
        emit_fl_vout(e, ly, g, t);
        return;
    }
    if (fl_mtrans(v, g, t)) {
        emit_fl_mout(e, ly, g, t);
        return;
    }
    int64_t rs = (int64_t)t->nv * v->width;    /* Fp unless in blocks */
    emit(e, "float r[%lld];", (long long)(m * rs));
    for (int j = 0; j < m; j++)
        for (int n = 0; n < t->nv; n++) {
            const char *a = fl_acc(j, n);
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "r + %lld", (long long)(j * rs + n * v->width)),
                               ly->act == ACT_RELU ? simd(v->pos, a, a, 0) : a, 0));
        }
    if (t->nb > 1)
        emit(e, "for (int f = 0; f < fn; f++)");
    else
        emit(e, "for (int f = 0; f < %lld; f++)", (long long)g->F);
    emit(e, "    for (int jr = 0; jr < %d; jr++)", t->mr);
    emit(e, "        for (int jc = 0; jc < %d; jc++) {", t->mc);
    emit(e, "const float s = r[(jr * %d + jc) * %lld + f];", t->mc, (long long)rs);
    emit(e, "y[f * %lld + jr * %lld + jc] = s;", (long long)g->osz, (long long)t->ow);
    emit(e, "}");
}

static void emit_fl_tile(emitter *e, const ir_layer *ly, const fgeom *g, const fltile *t)
{
    const simd_target *v = e->simd;
    emit(e, "CNNC_KERNEL static inline void %s_fl(const float *restrict xp, const float *restrict wt,", ly->name);
    emit(e, "    float *restrict y%s)", t->nb > 1 ? ", int fn" : "");
    emit(e, "{");
    for (int j = 0; j < t->mr * t->mc; j++)
        for (int n = 0; n < t->nv; n++)
            emit(e, "%s %s = %s;", v->vec, fl_acc(j, n),
                 simd(v->load, arena_printf(emit_arena, "wt + %lld", (long long)(g->R * g->Fp + n * v->width)), 0, 0));
    /* left to clang (t by 6 on lenet's c3, the copy out whole): rolled, c3
     * forward 323 -> 347 us */
    bool rolled = emit_rolled(e, false);
    emit(e, "for (int t = 0; t < %lld; t++) {", (long long)g->R);
    emit(e, "const float *xr = xp + %s_flx[t];", ly->name);
    emit(e, "const float *wr = wt + (size_t)t * %lld;", (long long)g->Fp);
    emit_fl_tap(e, t);
    emit(e, "}");
    emit_fl_out(e, ly, g, t);
    emit_rolled(e, rolled);
    emit(e, "}");
    emit_blank(e);
}

/* WT and the bias into the lane's first-sample scratch. */
static void emit_fl_weights(emitter *e, const ir_layer *ly, const fgeom *g)
{
    emit(e, "float *restrict wt = c->cs + (size_t)i0 * %lld;", (long long)e->cs_max);
    emit(e, "memset(wt, 0, sizeof(float) * %lld);", (long long)((g->R + 1) * g->Fp));
    emit(e, "for (int f = 0; f < %lld; f++)", (long long)g->F);
    emit(e, "    for (int q = 0; q < %lld; q++)", (long long)g->R);
    emit(e, "        wt[q * %lld + f] = w[f * %lld + q];", (long long)g->Fp, (long long)g->R);
    if (ly->bias)
        emit(e, "memcpy(wt + %lld, b, sizeof(float) * %lld);", (long long)(g->R * g->Fp), (long long)g->F);
}

/* Filters in blocks: the block's columns of WT (wb), its maps of y (yb),
 * how many real filters it has (fn); every tile of the plane per block,
 * so the block's WT stays in L1. */
static void emit_fl_block(emitter *e, const fgeom *g, const fltile *t)
{
    int64_t bw = (int64_t)t->nv * e->simd->width;
    emit(e, "for (int bl = 0; bl < %d; bl++) {", t->nb);
    emit(e, "const float *wb = wt + bl * %lld;", (long long)bw);
    emit(e, "float *yb = yo + (size_t)bl * %lld;", (long long)(bw * g->osz));
    emit(e, "const int fn = bl < %d ? %lld : %lld;", t->nb - 1, (long long)bw, (long long)(g->F - (t->nb - 1) * bw));
}

/* The tile calls over every output plane (outer axes looped). */
static void emit_fl_calls(emitter *e, const ir_layer *ly, const fgeom *g, const fltile *t)
{
    int outer = ly->nsp - 2;
    int64_t pm = ly->nsp >= 2 ? ly->padded.d[ly->nsp] * ly->padded.d[ly->nsp - 1] : 0, om = t->oh * t->ow;
    if (outer > 0)
        pm *= ly->stride[0];
    if (outer > 0)
        emit(e, "for (int o = 0; o < %lld; o++) {", (long long)(g->osz / om));
    emit(e, "const float *xo = xi%s;", outer > 0 ? arena_printf(emit_arena, " + (size_t)o * %lld", (long long)pm) : "");
    emit(e, "float *yo = yi%s;", outer > 0 ? arena_printf(emit_arena, " + (size_t)o * %lld", (long long)om) : "");
    if (t->nb > 1)
        emit_fl_block(e, g, t);
    emit(e, "for (int r = 0; r < %lld; r += %d) {", (long long)t->oh, t->mr);
    emit(e, "const int rr = r < %lld ? r : %lld;", (long long)(t->oh - t->mr), (long long)(t->oh - t->mr));
    emit(e, "for (int q = 0; q < %lld; q += %d) {", (long long)t->ow, t->mc);
    emit(e, "const int qq = q < %lld ? q : %lld;", (long long)(t->ow - t->mc), (long long)(t->ow - t->mc));
    if (t->nb > 1)
        emit(e, "%s_fl(xo + rr * %lld + qq * %lld, wb, yb + rr * %lld + qq, fn);", ly->name, (long long)t->pmr,
             (long long)t->sc, (long long)t->ow);
    else if (t->sc > 1)
        emit(e, "%s_fl(xo + rr * %lld + qq * %lld, wt, yo + rr * %lld + qq);", ly->name, (long long)t->pmr,
             (long long)t->sc, (long long)t->ow);
    else
        emit(e, "%s_fl(xo + rr * %lld + qq, wt, yo + rr * %lld + qq);", ly->name, (long long)t->pmr, (long long)t->ow);
    emit(e, "}");
    emit(e, "}");
    if (t->nb > 1)
        emit(e, "}");
    if (outer > 0)
        emit(e, "}");
}

void conv_emit_lanes_forward(emitter *e, const ir_layer *ly, const fgeom *g)
{
    fltile t = fl_shape(e->simd, ly, g);
    fl_choose(e->simd, &t);
    emit_roff_table(e, ly, g, "_flx");
    emit_fl_tile(e, ly, g, &t);
    emit_forward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit(e, "if (i0 >= i1)");
    emit(e, "    return;");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    if (ly->bias)
        emit(e, "const float *restrict b = c->params + %lld;", (long long)ly->boff);
    if (layer_has_pad(ly))
        emit(e, "%s_pad(i0, i1, x, c->pad_%s);", ly->name, ly->name);
    emit(e, "const float *restrict xs = %s;",
         layer_has_pad(ly) ? arena_printf(emit_arena, "c->pad_%s", ly->name) : "x");
    emit_fl_weights(e, ly, g);
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = xs + (size_t)i * %lld;", (long long)(g->C * g->psz));
    emit(e, "float *yi = y + (size_t)i * %lld;", (long long)(g->F * g->osz));
    emit_fl_calls(e, ly, g, &t);
    if (ly->act == ACT_SIGMOID || ly->act == ACT_TANH) {
        emit(e, "for (int p = 0; p < %lld; p++)", (long long)(g->F * g->osz));
        emit(e, "    yi[p] = %s;", act_expr(e, ly->act, "yi[p]"));
    }
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}
