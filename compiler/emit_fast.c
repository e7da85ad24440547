/* emit_fast.c - register-tiled SIMD kernels for convolutions (any rank,
 * stride, dilation, padding), written against the templates of
 * emit_simd.c.  The reference kernels of emit_window.c stay in the
 * generated file as NAME_forward_ref / NAME_backward_ref: they run when the
 * CPU lacks the flavour or CNNC_REFERENCE is set, and tests compare both.
 *
 * Flat-grid formulation.  Number the padded input plane flat (strides pm),
 * so output o reads xp[p(o) + koff(k)] with p(o) = sum_a o_a pm_a and
 * koff(k) = sum_a k_a dilation_a pm_a.  Every p in [0, span) is computed
 * (span = p(last output) + 1); p that are not an output ("garbage columns")
 * are dropped when the result is copied out.  So one contiguous sweep:
 *   forward  S[f][p]  = b[f] + sum_{c,k} w[f,c,k] xp[c][p + koff(k)]
 *   dgrad    dxp[c][q] = sum_{f,k} w[f,c,K-1-k] G[f][q + koff(k)]
 *   wgrad    dw[f,c,k] = sum_p G[f][M + p] xp[c][p + koff(k)]
 * where G holds dy (times the activation's derivative) at M + p(o) and 0
 * elsewhere, M = koff(K-1): the transposed convolution is the same sweep.
 * No read leaves a sample's planes; the last tile of a sweep is shifted
 * back to end at span instead of running past it.
 * Strided layers: p(o) = sum_a stride_a o_a pm_a, the same formulas; the
 * sweeps then compute stride^d positions per output (their cost rules
 * count it), the lanes forward, the outer weight gradient and the
 * compact data gradient (emit_convdg.c) only the outputs. */
#include "emit_conv.h"

#include <string.h>

static double sweep_cost(const simd_target *v, int64_t rows, int64_t span);

/* The outer-product weight gradient (emit_convwg.c) pays where F fills
 * whole vectors: at most a quarter of the lanes idle. */
static void plan_scratch(fgeom *g)
{
    g->outer = g->wino || 4 * g->Fp <= 5 * g->F;
    g->gt_off = (g->F * g->gplane + 15) / 16 * 16;
    g->dwt_off = g->gt_off + ((g->gtn + g->wino) * g->Fp + 15) / 16 * 16;
    g->scratch = g->outer ? g->dwt_off + g->R * g->Fp : g->F * g->gplane;
    if (g->lanes && g->scratch < (g->R + 1) * g->Fp)
        g->scratch = (g->R + 1) * g->Fp;
}

fgeom make_fgeom(const emitter *e, const ir_layer *ly)
{
    fgeom g = {0};
    int r = ly->nsp;
    int64_t pm[MAX_SPATIAL], m = 1;
    for (int a = r - 1; a >= 0; a--) {
        pm[a] = m;
        m *= ly->padded.d[a + 1];
    }
    g.C = ly->in.d[0];
    g.F = ly->out.d[0];
    g.psz = m;
    g.osz = shape_count(&ly->out) / g.F;
    g.K = 1;
    for (int a = 0; a < r; a++)
        g.K *= ly->kernel[a];
    g.R = g.C * g.K;
    g.koff = arena_alloc(emit_arena, (size_t)g.K * sizeof *g.koff);
    for (int64_t k = 0; k < g.K; k++) {
        int64_t rest = k, off = 0;
        for (int a = r - 1; a >= 0; a--) {
            off += rest % ly->kernel[a] * ly->dilation[a] * pm[a];
            rest /= ly->kernel[a];
        }
        g.koff[k] = off;
    }
    g.span = 1;
    for (int a = 0; a < r; a++) {
        g.span += (ly->out.d[a + 1] - 1) * ly->stride[a] * pm[a];
        g.strided |= ly->stride[a] != 1;
    }
    g.sl = ly->stride[r - 1];
    g.gtn = g.strided ? g.osz : g.span;
    g.M = g.koff[g.K - 1];
    g.gplane = g.M + g.psz;
    if (e->simd) {
        g.Fp = (g.F + e->simd->width - 1) / e->simd->width * e->simd->width;
        g.wino = wino_applies(e, ly, &g);
        g.lanes = ly->kind == LK_CONV && conv_lanes_pays(e->simd, ly, &g, sweep_cost(e->simd, g.F, g.span));
        plan_scratch(&g);
        dgrad_plan(e, ly, &g);
        wino_plan(e, ly, &g);
        wgrad_plan(e, ly, &g);
    }
    return g;
}

/* static const int NAME<suffix>[R]: the flat offset c*psz + koff(k) of
 * every (input map, tap), r = c*K + k, the order of w's rows. */
void emit_roff_table(emitter *e, const ir_layer *ly, const fgeom *g, const char *suffix)
{
    int64_t *t = arena_alloc(emit_arena, (size_t)g->R * sizeof *t);
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t k = 0; k < g->K; k++)
            t[c * g->K + k] = c * g->psz + g->koff[k];
    emit_table(e, "int", arena_printf(emit_arena, "%s%s", ly->name, suffix), t, g->R);
}

int64_t conv_prepared_floats(const emitter *e, const ir_layer *ly)
{
    if (dense_is_fast(e, ly) || !conv_is_fast(e, ly)) /* as emit_window.c picks */
        return 0;
    fgeom g = make_fgeom(e, ly);
    return wino_u_floats(&g);
}

void conv_emit_prepare(emitter *e, const ir_layer *ly)
{
    if (conv_prepared_floats(e, ly))
        conv_emit_wino_prepare(e, ly);
}

bool conv_is_fast(const emitter *e, const ir_layer *ly)
{
    if (!e->simd || ly->kind != LK_CONV)
        return false;
    fgeom g = make_fgeom(e, ly);
    return g.span >= e->simd->width;
}

/* Per-sample floats of the conv scratch (S in forward, G in backward). */
int64_t conv_scratch(const emitter *e, const ir_layer *ly)
{
    if (!conv_is_fast(e, ly))
        return 0;
    return make_fgeom(e, ly).scratch;
}

/* ------------------------------------------------------------ the sweep */
const char *vname(const char *p, int a, int b)
{
    return arena_printf(emit_arena, "%s%d_%d", p, a, b);
}

void emit_bcast_fma(emitter *e, const char *src, int row, int n, const char *held)
{
    const simd_target *v = e->simd;
    emit(e, "{");
    emit(e, "const %s xb = %s;", v->vec, simd(v->splat, src, 0, 0));
    for (int j = 0; j < n; j++) {
        const char *a = vname("a", row, j);
        emit(e, "%s = %s;", a, simd(v->fma, "xb", arena_printf(emit_arena, "%s%d", held, j), a));
    }
    emit(e, "}");
}

/* Taps per kernel row when every row repeats the first one's offsets
 * (x and w) from a base: the tile then loops over kernel rows with a
 * table of bases and unrolls one row, which keeps clang's compile time
 * down (lenet's c1: 25 taps unrolled for 6 x 3 accumulators); else all. */
static int row_taps(const sweep *s)
{
    int kl = s->kl;
    if (kl <= 0 || kl >= s->ntaps || s->ntaps % kl)
        return s->ntaps;
    for (int t = kl; t < s->ntaps; t++) {
        int b = t / kl * kl;
        if (s->xoff[t] - s->xoff[b] != s->xoff[t % kl] - s->xoff[0] ||
            s->woff[t] - s->woff[b] != s->woff[t % kl] - s->woff[0])
            return s->ntaps;
    }
    return kl;
}

static void emit_row_tables(emitter *e, const sweep *s)
{
    int kl = row_taps(s), n = s->ntaps / kl;
    if (kl == s->ntaps)
        return;
    int64_t *xr = arena_alloc(emit_arena, (size_t)n * sizeof *xr), *wr = arena_alloc(emit_arena, (size_t)n * sizeof *wr);
    for (int r = 0; r < n; r++) {
        xr[r] = s->xoff[r * kl];
        wr[r] = s->woff[r * kl];
    }
    emit_table(e, "int", arena_printf(emit_arena, "%s_xr", s->name), xr, n);
    emit_table(e, "int", arena_printf(emit_arena, "%s_wr", s->name), wr, n);
}

/* Not inlined when there is one input map: inlined into the loop over p,
 * gcc hoists the weight broadcasts out of it and spills them (150 vectors
 * for lenet's c1; c1 forward 231-235 -> 185-192 us).  With more maps,
 * inlined: cifar10_wide's c1 (3 maps) measured 15 % slower without. */
static void emit_sweep_tile(emitter *e, const sweep *s, int mb, const fw_direct *d)
{
    const simd_target *v = e->simd;
    int W = v->width;
    emit(e, "CNNC_KERNEL %sstatic %svoid %s_%s%d(const float *restrict in, const float *restrict w,",
         s->chans == 1 ? "__attribute__((noinline)) " : "", s->chans == 1 ? "" : "inline ", s->name, d ? "d" : "",
         mb);
    emit(e, "    const float *restrict bias, float *restrict out, int p)");
    emit(e, "{");
    if (!s->bias)
        emit(e, "(void)bias;");
    for (int m = 0; m < mb; m++)
        for (int j = 0; j < s->nv; j++)
            emit(e, "%s %s = %s;", v->vec, vname("a", m, j),
                 s->bias ? simd(v->splat, arena_printf(emit_arena, "bias[%d]", m), 0, 0) : v->zero);
    emit(e, "for (int ch = 0; ch < %lld; ch++) {", (long long)s->chans);
    emit(e, "const float *xc = in + ch * %lld + p;", (long long)s->ip);
    emit(e, "const float *wc = w + ch * %lld;", (long long)s->wc);
    int kl = row_taps(s);
    if (kl < s->ntaps) {
        emit(e, "for (int kr = 0; kr < %d; kr++) {", s->ntaps / kl);
        emit(e, "const float *xr = xc + %s_xr[kr];", s->name);
        emit(e, "const float *wq = wc + %s_wr[kr];", s->name);
    } else {
        emit(e, "{");
        emit(e, "const float *xr = xc + %lld, *wq = wc + %lld;", (long long)s->xoff[0], (long long)s->woff[0]);
    }
    for (int t = 0; t < kl; t++) {
        emit(e, "{");
        for (int j = 0; j < s->nv; j++)
            emit(e, "const %s x%d = %s;", v->vec, j,
                 simd(v->load, arena_printf(emit_arena, "xr + %lld", (long long)(s->xoff[t] - s->xoff[0] + j * W)), 0, 0));
        for (int m = 0; m < mb; m++) {
            emit(e, "const %s w%d = %s;", v->vec, m,
                 simd(v->splat, arena_printf(emit_arena, "wq[%lld]", (long long)(m * s->wr + s->woff[t] - s->woff[0])), 0, 0));
            for (int j = 0; j < s->nv; j++) {
                const char *a = vname("a", m, j);
                emit(e, "%s = %s;", a, simd(v->fma, arena_printf(emit_arena, "w%d", m),
                                            arena_printf(emit_arena, "x%d", j), a));
            }
        }
        emit(e, "}");
    }
    emit(e, "}");
    emit(e, "}");
    for (int m = 0; m < mb; m++)
        for (int j = 0; j < s->nv; j++) {
            if (!d)
                emit(e, "%s", simd(v->store, arena_printf(emit_arena, "out + %lld + p", (long long)(m * s->op + j * W)),
                                   vname("a", m, j), 0));
            else if (d->ow > j * W)
                emit_out_store(e, d->act, vname("a", m, j), arena_printf(emit_arena, "out + %lld", (long long)(m * d->osz + j * W)),
                               d->ow - j * W < W ? (int)(d->ow - j * W) : W);
        }
    emit(e, "}");
    emit_blank(e);
}

/* The call sites: every row block, every tile (the last shifted back). */
void emit_sweep_calls(emitter *e, const sweep *s, const char *in, const char *out)
{
    int T = s->nv * e->simd->width;
    int64_t full = s->rows / s->mb * s->mb, rem = s->rows - full;
    emit(e, "for (int m0 = 0; m0 < %lld; m0 += %d)", (long long)full, s->mb);
    emit(e, "    for (int p = 0; p < %lld; p += %d)", (long long)s->span, T);
    emit(e, "        %s_%d(%s, w + m0 * %lld, %s, %s + m0 * %lld, p < %lld ? p : %lld);", s->name, s->mb,
         in, (long long)s->wr, s->bias ? "b + m0" : "NULL", out, (long long)s->op,
         (long long)(s->span - T), (long long)(s->span - T));
    if (rem)
        emit(e, "for (int p = 0; p < %lld; p += %d)", (long long)s->span, T);
    if (rem)
        emit(e, "    %s_%lld(%s, w + %lld, %s, %s + %lld, p < %lld ? p : %lld);", s->name, (long long)rem,
             in, (long long)(full * s->wr), s->bias ? arena_printf(emit_arena, "b + %lld", (long long)full) : "NULL",
             out, (long long)(full * s->op), (long long)(s->span - T), (long long)(s->span - T));
}

/* Cycles of one step (one input map, one tap) of an m-row, n-vector
 * tile, in FMA slots: its m*n FMAs (at least 8, or the FMA latency shows),
 * plus 2 for each unaligned vector load, which the broadcast weights
 * share.  Fitted to the forward convolutions of cifar10_wide on AVX-512
 * (Zen 4): from 2x8 to 16x1 tiles the time goes as 1 + 2/m per FMA, so the
 * most rows win; beyond 16 rows the weight block leaves L1. */
static double sweep_step(int64_t m, int64_t n)
{
    return (double)(m * n > 8 ? m * n : 8) + 2.0 * (double)n;
}

/* The cheapest tile shape whose accumulators, one row of loads and a
 * splat fit in the registers: steps of every block of rows (the last
 * partial block too) over every tile of the span. */
double sweep_tile(const simd_target *v, int64_t rows, int64_t span, int *mb, int *nv)
{
    double best = 0;
    for (int m = 1; m <= 16 && m <= rows; m++)
        for (int n = 1; n <= 8; n++) {
            if (m * n + n + 1 > v->regs || (int64_t)n * v->width > span)
                continue;
            int64_t tiles = (span + n * v->width - 1) / (n * v->width);
            int64_t full = rows / m, rem = rows % m;
            double c = (double)tiles * ((double)full * sweep_step(m, n) + (rem ? sweep_step(rem, n) : 0));
            if (best == 0 || c < best) {
                best = c;
                *mb = m;
                *nv = n;
            }
        }
    return best;
}

/* FMA slots per input map and tap of the best sweep tile. */
static double sweep_cost(const simd_target *v, int64_t rows, int64_t span)
{
    int mb, nv;
    return sweep_tile(v, rows, span, &mb, &nv);
}

void emit_sweep(emitter *e, sweep *s)
{
    sweep_tile(e->simd, s->rows, s->span, &s->mb, &s->nv);
    emit_row_tables(e, s);
    emit_sweep_tile(e, s, s->mb, NULL);
    if (s->rows % s->mb)
        emit_sweep_tile(e, s, (int)(s->rows % s->mb), NULL);
}

/* ------------------------------------------------------------ rows */
/* Loops over every output axis but the last; the flat offsets of the row
 * in the padded grid (prow) and in the output (orow). */
static int emit_row_loops(emitter *e, const ir_layer *ly, const char **prow, const char **orow)
{
    int r = ly->nsp;
    int64_t pm[MAX_SPATIAL], om[MAX_SPATIAL], m = 1, o = 1;
    for (int a = r - 1; a >= 0; a--) {
        pm[a] = m * ly->stride[a];
        om[a] = o;
        m *= ly->padded.d[a + 1];
        o *= ly->out.d[a + 1];
    }
    *prow = index_expr(emit_arena, "o", r - 1, pm);
    *orow = index_expr(emit_arena, "o", r - 1, om);
    return emit_loops(e, "o", r - 1, ly->out.d + 1);
}

/* The row of ow outputs in vectors, then its tail of n < W: masked where
 * the flavour can, else one output at a time.  body(q, n) emits one
 * vector at q (n == 0) or the masked tail (n > 0); scalar(q) one output. */
typedef void row_fn(emitter *e, const void *ctx, const char *q, int n);
static void emit_row(emitter *e, int64_t ow, row_fn *body, row_fn *scalar, const void *ctx)
{
    const simd_target *v = e->simd;
    int64_t vw = ow / v->width * v->width;
    if (vw) {
        emit(e, "for (int q = 0; q < %lld; q += %d) {", (long long)vw, v->width);
        body(e, ctx, "q", 0);
        emit(e, "}");
    }
    if (vw == ow)
        return;
    if (v->loadn && v->storen) {
        emit(e, "{");
        body(e, ctx, arena_printf(emit_arena, "%lld", (long long)vw), (int)(ow - vw));
        emit(e, "}");
        return;
    }
    emit(e, "for (int q = %lld; q < %lld; q++) {", (long long)vw, (long long)ow);
    scalar(e, ctx, "q", 1);
    emit(e, "}");
}

static bool act_is_pos(const ir_layer *ly)
{
    return ly->act == ACT_RELU || ly->act == ACT_NONE;
}

static const char *vload(const simd_target *v, const char *at, int n)
{
    return n ? simd(v->loadn, at, arena_printf(emit_arena, "%d", n), 0) : simd(v->load, at, 0, 0);
}

static const char *vstore(const simd_target *v, const char *at, const char *x, int n)
{
    return n ? simd(v->storen, at, x, arena_printf(emit_arena, "%d", n)) : simd(v->store, at, x, 0);
}

/* One output vector s (n of W valid) at at, with the activation. */
void emit_out_store(emitter *e, act_kind act, const char *s, const char *at, int n)
{
    const simd_target *v = e->simd;
    int W = v->width;
    if (act == ACT_RELU || act == ACT_NONE) {
        const char *x = act == ACT_RELU ? simd(v->pos, s, s, 0) : s;
        if (n == W)
            emit(e, "%s", simd(v->store, at, x, 0));
        else if (v->storen)
            emit(e, "%s", simd(v->storen, at, x, arena_printf(emit_arena, "%d", n)));
        else {
            emit(e, "{");
            emit(e, "float t[%d];", W);
            emit(e, "%s", simd(v->store, "t", x, 0));
            emit(e, "for (int l = 0; l < %d; l++)", n);
            emit(e, "    (%s)[l] = t[l];", at);
            emit(e, "}");
        }
        return;
    }
    emit(e, "{");
    emit(e, "float t[%d];", W);
    emit(e, "%s", simd(v->store, "t", s, 0));
    emit(e, "for (int l = 0; l < %d; l++)", n);
    emit(e, "    (%s)[l] = %s;", at, act_expr(e, act, "t[l]"));
    emit(e, "}");
}

/* ------------------------------------------------------------ forward */
typedef struct compact_ctx {
    const ir_layer *ly;
} compact_ctx;

static void compact_vec(emitter *e, const void *ctx, const char *q, int n)
{
    const ir_layer *ly = ((const compact_ctx *)ctx)->ly;
    const simd_target *v = e->simd;
    emit(e, "const %s s = %s;", v->vec, vload(v, arena_printf(emit_arena, "sr + %s", q), n));
    emit(e, "%s", vstore(v, arena_printf(emit_arena, "yr + %s", q), ly->act == ACT_RELU ? simd(v->pos, "s", "s", 0) : "s", n));
}

static void compact_one(emitter *e, const void *ctx, const char *q, int n)
{
    const ir_layer *ly = ((const compact_ctx *)ctx)->ly;
    (void)n;
    if (ly->act == ACT_RELU)
        emit(e, "yr[%s] = sr[%s] > 0.0f ? sr[%s] : 0.0f;", q, q, q);
    else
        emit(e, "yr[%s] = sr[%s];", q, q);
}

/* A row whose outputs sit sl apart in S, one at a time. */
static void emit_compact_strided(emitter *e, const ir_layer *ly, const fgeom *g, int64_t ow)
{
    emit(e, "for (int q = 0; q < %lld; q++) {", (long long)ow);
    emit(e, "const float s = sr[q * %lld];", (long long)g->sl);
    emit(e, "yr[q] = %s;", ly->act == ACT_RELU ? "s > 0.0f ? s : 0.0f" : "s");
    emit(e, "}");
}

/* S (the flat grid) to y, row by row, with relu; a sigmoid or tanh then
 * runs over the sample's whole output (rows are short: a row of 28 left
 * a scalar tail of 4 that cost as much as the vectors). */
static void emit_compact(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const char *prow, *orow;
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    int loops = emit_row_loops(e, ly, &prow, &orow);
    emit(e, "const float *sr = si + f * %lld + %s;", (long long)g->span, prow);
    emit(e, "float *yr = yi + f * %lld + %s;", (long long)g->osz, orow);
    int64_t ow = ly->out.d[ly->nsp];
    compact_ctx cc = {ly};
    if (g->sl > 1)
        emit_compact_strided(e, ly, g, ow);
    else
        emit_row(e, ow, compact_vec, compact_one, &cc);
    emit_close(e, loops + 1);
    if (!act_is_pos(ly)) {
        emit(e, "for (int p = 0; p < %lld; p++)", (long long)(g->F * g->osz));
        emit(e, "    yi[p] = %s;", act_expr(e, ly->act, "yi[p]"));
    }
}

/* Each output row straight from its tile into y (no pass through S)
 * where one tile covers a row: 2-D, stride 1, relu or no activation and
 * ow in (T - W, T].  Measured on lenet's c1 (AVX-512, bench/layers.py,
 * batch 64, same run): forward 206 -> 168-176 us, the copy
 * from S to y gone. */
static bool fw_direct_applies(const emitter *e, const ir_layer *ly, const fgeom *g, const sweep *s)
{
    int W = e->simd->width;
    int64_t T = (int64_t)s->nv * W, ow = ly->out.d[2], oh = ly->out.d[1], pw = ly->padded.d[2];
    /* the last direct row's tile (row oh - 2) reads no float past the sample */
    bool inside = (oh - 2) * pw + g->koff[g->K - 1] + T <= g->psz;
    return ly->nsp == 2 && g->sl == 1 && ly->stride[0] == 1 && act_is_pos(ly) && ow <= T && ow > T - W &&
           oh > 1 && inside;
}

/* Rows 0 .. oh-2 by the direct tiles (a row's tile reads T - ow floats
 * past the row's last input: fw_direct_applies checks that row oh - 2's
 * stay inside the sample, which the caller's input may end); the last row
 * by the span's last tile into S, copied. */
static void emit_direct_calls(emitter *e, const ir_layer *ly, const fgeom *g, const sweep *s)
{
    int T = s->nv * e->simd->width;
    int64_t oh = ly->out.d[1], ow = ly->out.d[2], pw = ly->padded.d[2];
    int64_t full = s->rows / s->mb * s->mb, rem = s->rows - full;
    const char *bm = s->bias ? "b + m0" : "NULL";
    emit(e, "for (int r = 0; r < %lld; r++) {", (long long)(oh - 1));
    emit(e, "for (int m0 = 0; m0 < %lld; m0 += %d)", (long long)full, s->mb);
    emit(e, "    %s_d%d(xi, w + m0 * %lld, %s, yi + (size_t)m0 * %lld + r * %lld, r * %lld);", s->name, s->mb,
         (long long)s->wr, bm, (long long)g->osz, (long long)ow, (long long)pw);
    if (rem)
        emit(e, "%s_d%lld(xi, w + %lld, %s, yi + %lld + r * %lld, r * %lld);", s->name, (long long)rem,
             (long long)(full * s->wr), s->bias ? arena_printf(emit_arena, "b + %lld", (long long)full) : "NULL",
             (long long)(full * g->osz), (long long)ow, (long long)pw);
    emit(e, "}");
    emit(e, "for (int m0 = 0; m0 < %lld; m0 += %d)", (long long)full, s->mb);
    emit(e, "    %s_%d(xi, w + m0 * %lld, %s, si + m0 * %lld, %lld);", s->name, s->mb, (long long)s->wr, bm,
         (long long)s->op, (long long)(s->span - T));
    if (rem)
        emit(e, "%s_%lld(xi, w + %lld, %s, si + %lld, %lld);", s->name, (long long)rem, (long long)(full * s->wr),
             s->bias ? arena_printf(emit_arena, "b + %lld", (long long)full) : "NULL", (long long)(full * s->op),
             (long long)(s->span - T));
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit(e, "const float *sr = si + f * %lld + %lld;", (long long)g->span, (long long)((oh - 1) * pw));
    emit(e, "float *yr = yi + f * %lld + %lld;", (long long)g->osz, (long long)((oh - 1) * ow));
    compact_ctx cc = {ly};
    emit_row(e, ow, compact_vec, compact_one, &cc);
    emit(e, "}");
}

static int64_t *iota(int64_t n, bool reverse)
{
    int64_t *t = arena_alloc(emit_arena, (size_t)n * sizeof *t);
    for (int64_t i = 0; i < n; i++)
        t[i] = reverse ? n - 1 - i : i;
    return t;
}

void conv_emit_fast_forward(emitter *e, const ir_layer *ly)
{
    fgeom g = make_fgeom(e, ly);
    if (g.wino) {
        conv_emit_wino_forward(e, ly, &g);
        return;
    }
    if (g.lanes) {
        conv_emit_lanes_forward(e, ly, &g);
        return;
    }
    sweep s = {arena_printf(emit_arena, "%s_fw", ly->name), g.F, g.C, g.psz, g.span, g.span,
               g.C * g.K, g.K, (int)g.K, g.koff, iota(g.K, false), ly->bias, 0, 0, (int)ly->kernel[ly->nsp - 1]};
    emit_sweep(e, &s);
    fw_direct d = {g.osz, ly->out.d[2], ly->act};
    bool direct = fw_direct_applies(e, ly, &g, &s);
    if (direct) {
        emit_sweep_tile(e, &s, s.mb, &d);
        if (s.rows % s.mb)
            emit_sweep_tile(e, &s, (int)(s.rows % s.mb), &d);
    }
    emit_forward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "const float *restrict b = %s;",
         ly->bias ? arena_printf(emit_arena, "c->params + %lld", (long long)ly->boff) : "NULL");
    if (!ly->bias)
        emit(e, "(void)b;");
    if (layer_has_pad(ly))
        emit(e, "%s_pad(i0, i1, x, c->pad_%s);", ly->name, ly->name);
    emit(e, "const float *restrict xs = %s;",
         layer_has_pad(ly) ? arena_printf(emit_arena, "c->pad_%s", ly->name) : "x");
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = xs + (size_t)i * %lld;", (long long)(g.C * g.psz));
    emit(e, "float *si = c->cs + (size_t)i0 * %lld;", (long long)e->cs_max);
    emit(e, "float *yi = y + (size_t)i * %lld;", (long long)(g.F * g.osz));
    if (direct) {
        emit_direct_calls(e, ly, &g, &s);
    } else {
        emit_sweep_calls(e, &s, "xi", "si");
        emit_compact(e, ly, &g);
    }
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* ------------------------------------------------------------ backward */
typedef struct build_ctx {
    const ir_layer *ly;
    const fgeom *g;
    const char *want_g;
} build_ctx;

/* The step between neighbouring outputs of a row in G: the last axis's
 * stride on the flat grid, 1 where G is compact (the compact data
 * gradient of emit_convdg.c). */
static int64_t g_step(const fgeom *g)
{
    return g->dgc ? 1 : g->sl;
}

/* The vector d of a row whose G positions sit sl apart: its lanes stored
 * one by one to G (and GT); the bias sum stays in a vector. */
static void build_vec_strided(emitter *e, const build_ctx *b, const char *q, int n)
{
    const simd_target *v = e->simd;
    if (b->ly->bias)
        emit(e, "sbv = %s;", simd(v->add, "sbv", "d", 0));
    emit(e, "float t[%d];", v->width);
    emit(e, "%s", simd(v->store, "t", "d", 0));
    emit(e, "for (int l = 0; l < %d; l++) {", n ? n : v->width);
    emit(e, "if (%s)", b->want_g);
    emit(e, "    gr[(size_t)(%s + l) * %lld] = t[l];", q, (long long)g_step(b->g));
    if (b->g->outer)
        emit(e, "tr[(size_t)(%s + l) * %lld] = t[l];", q, (long long)b->g->Fp);
    emit(e, "}");
}

static void build_vec(emitter *e, const void *ctx, const char *q, int n)
{
    const build_ctx *b = ctx;
    const simd_target *v = e->simd;
    const char *dv = vload(v, arena_printf(emit_arena, "dr + %s", q), n);
    if (b->ly->act == ACT_RELU)
        dv = simd(v->pos, vload(v, arena_printf(emit_arena, "yr + %s", q), n), dv, 0);
    emit(e, "const %s d = %s;", v->vec, dv);
    if (g_step(b->g) > 1) {
        build_vec_strided(e, b, q, n);
        return;
    }
    emit(e, "if (%s)", b->want_g);
    emit(e, "    %s", vstore(v, arena_printf(emit_arena, "gr + %s", q), "d", n));
    if (b->ly->bias)
        emit(e, "sbv = %s;", simd(v->add, "sbv", "d", 0));
    if (!b->g->outer)
        return;
    emit(e, "float t[%d];", v->width);
    emit(e, "%s", simd(v->store, "t", "d", 0));
    bool rolled = emit_rolled(e, false); /* rolled: lenet's c3 backward 800 -> 880 us */
    emit(e, "for (int l = 0; l < %d; l++)", n ? n : v->width);
    emit(e, "    tr[(size_t)(%s + l) * %lld] = t[l];", q, (long long)b->g->Fp);
    emit_rolled(e, rolled);
}

/* dy * act'(y), in terms of the activation's output y: one float of G. */
static const char *grad_at(act_kind act, const char *y, const char *dy)
{
    if (act == ACT_RELU)
        return arena_printf(emit_arena, "%s > 0.0f ? %s : 0.0f", y, dy);
    if (act == ACT_SIGMOID)
        return arena_printf(emit_arena, "%s * %s * (1.0f - %s)", dy, y, y);
    if (act == ACT_TANH)
        return arena_printf(emit_arena, "%s * (1.0f - %s * %s)", dy, y, y);
    return dy;
}

static void build_one(emitter *e, const void *ctx, const char *q, int n)
{
    const build_ctx *b = ctx;
    (void)n;
    emit(e, "const float d = %s;", grad_at(b->ly->act, arena_printf(emit_arena, "yr[%s]", q),
                                          arena_printf(emit_arena, "dr[%s]", q)));
    emit(e, "if (%s)", b->want_g);
    if (g_step(b->g) > 1)
        emit(e, "    gr[%s * %lld] = d;", q, (long long)g_step(b->g));
    else
        emit(e, "    gr[%s] = d;", q);
    if (b->g->outer)
        emit(e, "tr[(size_t)%s * %lld] = d;", q, (long long)b->g->Fp);
    if (b->ly->bias)
        emit(e, "sbs += d;");
}

/* The row pointers of filter f (the C variable named f): y and dy at
 * orow of filter f of sample i, G and GT at prow. */
static void emit_build_ptrs(emitter *e, const fgeom *g, const char *f, const char *prow, const char *orow)
{
    emit(e, "const size_t at = (size_t)i * %lld + (size_t)%s * %lld + %s;", (long long)(g->F * g->osz), f,
         (long long)g->osz, orow);
    emit(e, "const float *yr = y + at, *dr = dy + at;");
    emit(e, "(void)yr;");
    if (g->dgc)
        emit(e, "float *gr = gi + %s * %lld + %s;", f, (long long)g->osz, orow);
    else
        emit(e, "float *gr = gi + %s * %lld + %lld + %s;", f, (long long)g->gplane, (long long)g->M, prow);
    if (g->outer)
        emit(e, "float *tr = gi + %lld + (size_t)(%s) * %lld + %s;", (long long)g->gt_off,
             g->strided ? orow : prow, (long long)g->Fp, f);
}

/* Filters outermost, then rows: G is written in order.  (Filters
 * innermost, so that the rows of GT a vector fills stay in L1, measured
 * slower on cifar10_wide: 32 streams of y and dy.) */
static void emit_build_rows(emitter *e, const build_ctx *b)
{
    const simd_target *v = e->simd;
    const ir_layer *ly = b->ly;
    const char *prow, *orow;
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)b->g->F);
    if (ly->bias) {
        emit(e, "%s sbv = %s;", v->vec, v->zero);
        emit(e, "float sbs = 0.0f;");
    }
    int loops = emit_row_loops(e, ly, &prow, &orow);
    emit_build_ptrs(e, b->g, "f", prow, orow);
    int64_t ow = ly->out.d[ly->nsp];
    if (act_is_pos(ly)) {
        emit_row(e, ow, build_vec, build_one, b);
    } else {
        emit(e, "for (int q = 0; q < %lld; q++) {", (long long)ow);
        build_one(e, b, "q", 1);
        emit(e, "}");
    }
    emit_close(e, loops);
    if (ly->bias)
        emit(e, "gb[f] += %s + sbs;", simd(v->hsum, "sbv", 0, 0));
    emit(e, "}");
}

/* ---- the build of GT in W x W blocks (outer form, G's rows contiguous)
 * Stored filter by filter, each float of GT went to its own 128-byte row:
 * with 32 filters every store missed L1 (cifar10_wide's c1: two thirds of
 * its backward pass).  Instead a block of W filters loads W vectors of d
 * (one per filter, W positions), transposes them in registers (log2(W)
 * rounds of zip_lo/zip_hi) and stores W vectors, one row of GT each; the
 * sum of those rows is the block's bias sum.  Rows of GT that are not
 * outputs (and the padding filters) are zeroed once, not the whole of GT. */
typedef struct tblock {
    const build_ctx *b;
    int nf;                      /* filters of the block, the rest zero */
} tblock;

static bool build_t_applies(const emitter *e, const ir_layer *ly, const fgeom *g)
{
    return g->outer && g_step(g) == 1 && act_is_pos(ly) && e->simd->zip_lo;
}

/* Transposes t0_0 .. t0_{W-1} in registers; returns the round whose
 * names hold the result (row j = lane j of every input). */
static int emit_transpose_regs(emitter *e)
{
    const simd_target *v = e->simd;
    int W = v->width, round = 0;
    for (int w = W; w > 1; w /= 2, round++)
        for (int j = 0; j < W / 2; j++) {
            const char *a = vname("t", round, j), *c = vname("t", round, j + W / 2);
            emit(e, "const %s %s = %s;", v->vec, vname("t", round + 1, 2 * j), simd(v->zip_lo, a, c, 0));
            emit(e, "const %s %s = %s;", v->vec, vname("t", round + 1, 2 * j + 1), simd(v->zip_hi, a, c, 0));
        }
    return round;
}

static void build_t_vec(emitter *e, const void *ctx, const char *q, int n)
{
    const tblock *t = ctx;
    const fgeom *g = t->b->g;
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t gs = g->dgc ? g->osz : g->gplane;
    for (int j = 0; j < W; j++) {
        if (j >= t->nf) {
            emit(e, "const %s %s = %s;", v->vec, vname("t", 0, j), v->zero);
            continue;
        }
        const char *dv = vload(v, arena_printf(emit_arena, "dr + %lld + %s", (long long)(j * g->osz), q), n);
        if (t->b->ly->act == ACT_RELU)
            dv = simd(v->pos, vload(v, arena_printf(emit_arena, "yr + %lld + %s", (long long)(j * g->osz), q), n), dv, 0);
        emit(e, "const %s %s = %s;", v->vec, vname("t", 0, j), dv);
        emit(e, "if (%s)", t->b->want_g);
        emit(e, "    %s", vstore(v, arena_printf(emit_arena, "gr + %lld + %s", (long long)(j * gs), q), vname("t", 0, j), n));
    }
    int round = emit_transpose_regs(e);
    for (int l = n ? n : W; l < W; l++)
        emit(e, "(void)%s;", vname("t", round, l));
    for (int l = 0; l < (n ? n : W); l++) {
        emit(e, "%s", simd(v->store, arena_printf(emit_arena, "tr + (size_t)(%s + %d) * %lld", q, l, (long long)g->Fp),
                           vname("t", round, l), 0));
        if (t->b->ly->bias)
            emit(e, "sbt = %s;", simd(v->add, "sbt", vname("t", round, l), 0));
    }
}

/* One position q of the block where the flavour has no masked loads. */
static void build_t_one(emitter *e, const void *ctx, const char *q, int n)
{
    const tblock *t = ctx;
    const fgeom *g = t->b->g;
    (void)n;
    emit(e, "for (int j = 0; j < %d; j++) {", e->simd->width);
    emit(e, "float d = 0.0f;");
    emit(e, "if (j < %d) {", t->nf);
    emit(e, "d = %s;", grad_at(t->b->ly->act, arena_printf(emit_arena, "yr[j * %lld + %s]", (long long)g->osz, q),
                               arena_printf(emit_arena, "dr[j * %lld + %s]", (long long)g->osz, q)));
    emit(e, "if (%s)", t->b->want_g);
    emit(e, "    gr[j * %lld + %s] = d;", (long long)(g->dgc ? g->osz : g->gplane), q);
    if (t->b->ly->bias)
        emit(e, "gb[f0 + j] += d;");
    emit(e, "}");
    emit(e, "tr[(size_t)%s * %lld + j] = d;", q, (long long)g->Fp);
    emit(e, "}");
}

/* Filters [f0, f0 + nf) of sample i, every output row. */
static void build_t_block(emitter *e, const build_ctx *b, int nf)
{
    const simd_target *v = e->simd;
    const fgeom *g = b->g;
    const char *prow, *orow;
    if (b->ly->bias)
        emit(e, "%s sbt = %s;", v->vec, v->zero);
    int loops = emit_row_loops(e, b->ly, &prow, &orow);
    emit_build_ptrs(e, g, "f0", prow, orow); /* g->outer: build_t_applies */
    tblock t = {b, nf};
    emit_row(e, b->ly->out.d[b->ly->nsp], build_t_vec, build_t_one, &t);
    emit_close(e, loops);
    if (b->ly->bias) {
        emit(e, "float sb[%d];", v->width);
        emit(e, "%s", simd(v->store, "sb", "sbt", 0));
        emit(e, "for (int j = 0; j < %d; j++)", nf);
        emit(e, "    gb[f0 + j] += sb[j];");
    }
}

/* The rows of GT [gtn + wino][Fp] that no output writes, as runs
 * {start, count} of floats: NAME_gtz. */
static int64_t gt_gaps(const ir_layer *ly, const fgeom *g, int64_t *runs)
{
    int64_t rows = g->gtn + g->wino, ow = ly->out.d[ly->nsp], n = 0;
    int64_t pm[MAX_SPATIAL], m = 1;
    for (int a = ly->nsp - 1; a >= 0; a--) {
        pm[a] = m;
        m *= ly->padded.d[a + 1];
    }
    bool *hit = arena_alloc(emit_arena, (size_t)rows * sizeof *hit);
    memset(hit, 0, (size_t)rows * sizeof *hit);
    for (int64_t o = 0; o < g->osz; o += ow) {
        int64_t p = 0, rest = o / ow;
        for (int a = ly->nsp - 2; a >= 0; a--) {
            p += rest % ly->out.d[a + 1] * pm[a];
            rest /= ly->out.d[a + 1];
        }
        for (int64_t q = 0; q < ow; q++)
            hit[(g->strided ? o : p) + q] = true;
    }
    for (int64_t r = 0; r < rows; r++)
        if (!hit[r] && (r == 0 || hit[r - 1])) {
            int64_t k = r;
            while (k < rows && !hit[k])
                k++;
            runs[2 * n] = r * g->Fp;
            runs[2 * n + 1] = (k - r) * g->Fp;
            n++;
        }
    return n;
}

/* NAME_gtz at file scope, before the backward pass; the number of runs. */
static int64_t emit_gt_gaps(emitter *e, const ir_layer *ly, const fgeom *g)
{
    if (!build_t_applies(e, ly, g))
        return 0;
    int64_t *runs = arena_alloc(emit_arena, (size_t)(g->gtn + g->wino + 1) * 2 * sizeof *runs);
    int64_t n = gt_gaps(ly, g, runs);
    if (n)
        emit_table(e, "int", arena_printf(emit_arena, "%s_gtz", ly->name), runs, 2 * n);
    return n;
}

/* Sample i's GT (and G where dx) in blocks of W filters. */
static void emit_build_t(emitter *e, const build_ctx *b, int64_t ngap)
{
    const ir_layer *ly = b->ly;
    int W = e->simd->width;
    long long F = (long long)b->g->F, FW = F / W * W;
    if (ngap) { /* runs of whole rows of Fp floats: vector stores (a memset call per run cost more);
                 * once per call: a group's samples reuse the lane's first slots */
        emit(e, "for (int k = 0; k < (s0 == i0 ? %lld : 0); k++) {", (long long)ngap);
        emit(e, "float *z = gi + %lld + %s_gtz[2 * k];", (long long)b->g->gt_off, ly->name);
        emit(e, "for (int j = 0; j < %s_gtz[2 * k + 1]; j += %d)", ly->name, W);
        emit(e, "    %s", simd(e->simd->store, "z + j", e->simd->zero, 0));
        emit(e, "}");
    }
    if (FW) {
        emit(e, "for (int f0 = 0; f0 < %lld; f0 += %d) {", FW, W);
        build_t_block(e, b, W);
        emit(e, "}");
    }
    if (FW < F) {
        emit(e, "{");
        emit(e, "const int f0 = %lld;", FW);
        build_t_block(e, b, (int)(F - FW));
        emit(e, "}");
    }
}

/* The gradient at the layer's output, d = dy * act'(y), row by row, into
 * G for samples [s0, s1) (zeros, then d at M + p(o)) when the data
 * gradient is wanted or the weight gradient is the dot form; into GT
 * (zeros, then d at [p(o)][f]) for the outer form; bias sums. */
static void emit_build_g(emitter *e, const ir_layer *ly, const fgeom *g, int64_t ngap)
{
    /* dgz reads GT only; wgz reads G */
    build_ctx b = {ly, g, g->wgz ? "1" : g->dgz ? "0" : g->outer ? "dx" : "1"};
    emit(e, "for (int i = s0; i < s1; i++) {");
    emit(e, "float *gi = c->cs + (size_t)(i0 + i - s0) * %lld;", (long long)e->cs_max);
    if (!g->dgc) {
        emit(e, "if (s0 == i0 && %s)", b.want_g);
        emit(e, "    memset(gi, 0, sizeof(float) * %lld);", (long long)(g->F * g->gplane));
    }
    if (build_t_applies(e, ly, g)) {
        emit_build_t(e, &b, ngap);
        emit(e, "}");
        return;
    }
    if (g->outer) {
        emit(e, "if (s0 == i0)");
        emit(e, "    memset(gi + %lld, 0, sizeof(float) * %lld);", (long long)g->gt_off,
             (long long)((g->gtn + g->wino) * g->Fp));
    }
    emit_build_rows(e, &b);
    emit(e, "}");
}

/* Samples per group: their G (or GT) and input planes stay in a 192 KiB
 * cache. */
static int64_t group_size(const fgeom *g)
{
    int64_t per = ((g->outer ? g->gtn * g->Fp : g->F * g->gplane) + g->C * g->psz) * 4;
    int64_t n = 192 * 1024 / per;
    return n < 1 ? 1 : n;
}

/* Kernels the backward function calls: weight-gradient, then data-gradient
 * (Winograd, GEMM or sweep); returns whether dx is computed at all. */
static bool emit_bw_kernels(emitter *e, const ir_layer *ly, const fgeom *g, sweep *s)
{
    if (g->wino)
        emit_wino_wgrad_kernels(e, ly, g);
    else
        emit_wgrad_kernels(e, ly, g);
    bool dxk = conv_has_dx(e, ly);    /* no data-gradient kernel for the first layer */
    if (g->wino_dx)
        emit_wino_dgrad_kernels(e, ly, g);
    else if (g->dgemm)
        emit_dgrad_kernels(e, ly, g);
    else if (dxk)
        emit_sweep(e, s);
    return dxk;
}

/* Opening of the backward body: weight/grad pointers, the padded views of
 * x and dx, and the set-up of both gradient passes. */
static void emit_bw_prologue(emitter *e, const ir_layer *ly, const fgeom *g)
{
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "float *restrict gw = grads + %lld;", (long long)ly->woff);
    if (ly->bias)
        emit(e, "float *restrict gb = grads + %lld;", (long long)ly->boff);
    emit(e, "(void)x, (void)y;");
    emit(e, "const float *restrict xs = %s;",
         layer_has_pad(ly) ? arena_printf(emit_arena, "c->pad_%s", ly->name) : "x");
    emit(e, "float *restrict dxs = %s;", layer_has_pad(ly) ? lane_slot("c->gpad", e->pad_max, padded_count(ly)) : "dx");
    if (g->wino)
        emit(e, "(void)xs, (void)dxs; /* Winograd stages x itself and may write dx directly */");
    if (g->wino)
        emit_wino_wgrad_begin(e, ly, g);
    else
        emit_wgrad_begin(e, ly, g);
    if (g->wino_dx)
        emit_wino_dgrad_begin(e, ly, g);
    else
        emit_dgrad_begin(e, ly, g);
}

/* Per-sample data gradient inside a group, or a void cast when dx is skipped. */
static void emit_bw_dx_samples(emitter *e, const ir_layer *ly, const fgeom *g, const sweep *s, bool dxk)
{
    if (!dxk) {
        emit(e, "(void)dxs, (void)w;");
        return;
    }
    emit(e, "if (!dx)");
    emit(e, "    continue;");
    emit(e, "for (int i = s0; i < s1; i++) {");
    emit(e, "const float *gi = c->cs + (size_t)(i0 + i - s0) * %lld;", (long long)e->cs_max);
    if (g->wd_direct)
        emit(e, "float *di = dx + (size_t)i * %lld;", (long long)(g->C * g->wd.out_plane));
    else
        emit(e, "float *di = dxs + (size_t)i * %lld;", (long long)(g->C * g->psz));
    if (g->wino_dx)
        emit_wino_dgrad_sample(e, ly, g);
    else if (g->dgemm)
        emit_dgrad_sample(e, ly, g);
    else
        emit_sweep_calls(e, s, "gi", "di");
    emit(e, "}");
}

/* The loop over sample groups: build G, weight gradient, then dx. */
static void emit_bw_group_loop(emitter *e, const ir_layer *ly, const fgeom *g, const sweep *s,
                               bool dxk, int64_t ngap)
{
    emit(e, "for (int s0 = i0; s0 < i1; s0 += %lld) {", (long long)group_size(g));
    emit(e, "const int s1 = s0 + %lld < i1 ? s0 + %lld : i1;", (long long)group_size(g),
         (long long)group_size(g));
    emit_build_g(e, ly, g, ngap);
    if (g->wino)
        emit_wino_wgrad_group(e, ly, g);
    else
        emit_wgrad_group(e, ly, g);
    emit_bw_dx_samples(e, ly, g, s, dxk);
    emit(e, "}");
}

/* Closing of the backward body: finish gw, apply connection mask and weight
 * tying to it, and unpad dx. */
static void emit_bw_epilogue(emitter *e, const ir_layer *ly, const fgeom *g)
{
    if (g->wino)
        emit_wino_wgrad_end(e, ly, g);
    else
        emit_wgrad_end(e, ly, g);
    if (ly->nconnect) {
        emit(e, "for (int q = 0; q < %lld; q++)", (long long)(g->F * g->C));
        emit(e, "    if (!%s_mask[q])", ly->name);
        emit(e, "        memset(gw + (size_t)q * %lld, 0, sizeof(float) * %lld);", (long long)g->K,
             (long long)g->K);
    }
    if (ly->symmetric)
        emit(e, "%s_tie(gw, 1.0f);", ly->name);
    if (layer_has_pad(ly) && !g->wd_direct) {
        emit(e, "if (dx)");
        emit(e, "    %s_unpad(i0, i1, dxs, dx);", ly->name);
    }
}

/* The backward of a conv whose max pool hands over lists (emit_convwg.c:
 * conv_pool_lists): per sample NAME_wzl, no G. */
static void emit_list_backward(emitter *e, const ir_layer *ly, const fgeom *g)
{
    emit_wz_list_kernel(e, ly, g);
    if (g->dgz)
        emit_dgrad_kernels(e, ly, g);
    emit_backward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit_bw_prologue(e, ly, g);
    if (!g->dgz)
        emit(e, "(void)dxs, (void)w;");
    emit(e, "for (int i = i0; i < i1; i++) {");
    const char *call = arena_printf(emit_arena, "%s_wzl(dy + (size_t)i * %lld, xs + (size_t)i * %lld, dwz, %s, ",
                                    ly->name, (long long)(g->F * g->osz), (long long)(g->C * g->psz),
                                    ly->bias ? "gb" : "NULL");
    if (!g->dgz) {
        emit(e, "%sNULL);", call);
        emit(e, "}");
    } else { /* GT in the lane's first slot, zeroed, the entries scattered in, then dgz */
        emit(e, "float *gi = c->cs + (size_t)i0 * %lld;", (long long)e->cs_max);
        emit(e, "if (dx)");
        emit(e, "    memset(gi + %lld, 0, sizeof(float) * %lld);", (long long)g->gt_off,
             (long long)((g->gtn + g->wino) * g->Fp));
        emit(e, "%sdx ? gi + %lld : NULL);", call, (long long)g->gt_off);
        emit(e, "if (!dx)");
        emit(e, "    continue;");
        emit(e, "float *di = dxs + (size_t)i * %lld;", (long long)(g->C * g->psz));
        emit_dgrad_sample(e, ly, g);
        emit(e, "}");
    }
    emit_bw_epilogue(e, ly, g);
    emit(e, "}");
    emit_blank(e);
}

void conv_emit_fast_backward(emitter *e, const ir_layer *ly)
{
    fgeom g = make_fgeom(e, ly);
    if (conv_pool_lists(e, ly)) {
        emit_list_backward(e, ly, &g);
        return;
    }
    sweep s = {arena_printf(emit_arena, "%s_dg", ly->name), g.C, g.F, g.gplane, g.psz, g.psz,
               g.K, g.C * g.K, (int)g.K, g.koff, iota(g.K, true), false, 0, 0, (int)ly->kernel[ly->nsp - 1]};
    bool dxk = emit_bw_kernels(e, ly, &g, &s);
    int64_t ngap = emit_gt_gaps(e, ly, &g);
    emit_backward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit_bw_prologue(e, ly, &g);
    emit_bw_group_loop(e, ly, &g, &s, dxk, ngap);
    emit_bw_epilogue(e, ly, &g);
    emit(e, "}");
    emit_blank(e);
}
