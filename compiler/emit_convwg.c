/* emit_convwg.c - the weight gradient of the fast convolutions
 * (emit_fast.c), in one of two forms over the flat grid of emit_conv.h:
 *
 *   dw[f][r] = sum_{samples, p < span} G(f, p) * x[roff[r] + p]
 *
 * for r = c*K + k, roff[r] = c*psz + koff(k), G(f, p) = dy * act' where p
 * is an output's position and 0 on the garbage columns.
 *
 *   outer  F fills whole vectors: GT[p][f] (f contiguous, padded to Fp),
 *          a tile of mr rows r and nf vectors of f accumulates
 *          x[roff[r] + p] (broadcast) times GT[p][f..] over a chunk of p
 *          that stays in L1, into dWT[r][f] kept in the lane's scratch;
 *          the lane adds dWT, transposed, to its gradient at the end.
 *          Like the forward sweep: aligned vector loads of GT, broadcast
 *          scalars, no horizontal sums.  Strided layers keep GT compact,
 *          GT[o][f] for output o = r*ow + q, and read x at
 *          prow[r] + q*stride.
 *   dot    otherwise (few filters): a tile of mf filters and mr rows holds
 *          dot products over p in registers, G rows and x rows streamed,
 *          one horizontal sum per tile and group of samples. */
#include "emit_conv.h"

/* Cycles of one step of an a x b dot tile, in FMA slots: a*b FMAs (at
 * least 8) against a + b unaligned vector loads at two slots each (as in
 * the forward sweep's model).  With the loads pinned in registers this
 * picks 6x3 over 2x5 on cifar10_conv's c1 (c1 backward 680 -> 540-565
 * us) and 3x7 on lenet's (257-262 -> 220-226 us). */
static double wgrad_step(int64_t a, int64_t b)
{
    int64_t c = a * b > 2 * (a + b) ? a * b : 2 * (a + b);
    return (double)(c > 8 ? c : 8);
}

/* ------------------------------------------------------------ dot form */
/* Each loaded vector is shared by several FMAs: keep it in a register
 * (emit.h: pin).  cifar10_conv's c1 backward: 1040-1150 -> 620-735 us. */
static void emit_pin(emitter *e, const char *var)
{
    if (e->simd->pin)
        emit(e, "%s", simd(e->simd->pin, var, 0, 0));
}

/* dw[f0 + a][r0 + b] += sum over samples and p of G[f0 + a][M + p] * x[roff[r0 + b] + p],
 * a < mf, b < mr: G rows held in registers, x streamed. */
/* The tile kernel's signature and its zeroed vector and scalar accumulators. */
static void dot_tile_head(emitter *e, const ir_layer *ly, int mf, int mr)
{
    const simd_target *v = e->simd;
    emit(e, "CNNC_KERNEL static inline void %s_wg_%dx%d(const %s_ctx *c, const float *restrict xs,",
         ly->name, mf, mr, e->prefix);
    emit(e, "    int f0, int r0, float *restrict gw, int i0, int s0, int s1)");
    emit(e, "{");
    for (int a = 0; a < mf; a++)
        for (int b = 0; b < mr; b++) {
            emit(e, "%s %s = %s;", v->vec, vname("a", a, b), v->zero);
            emit(e, "float %s = 0.0f;", vname("t", a, b));
        }
}

/* One x vector (already in xv) times the mf G vectors into row b's accumulators. */
static void dot_tile_fmas(emitter *e, int mf, int b)
{
    for (int a = 0; a < mf; a++) {
        const char *acc = vname("a", a, b);
        emit(e, "%s = %s;", acc, simd(e->simd->fma, arena_printf(emit_arena, "g%d", a), "xv", acc));
    }
}

/* The whole-vector loop over p < vspan: mf G vectors pinned, mr x vectors streamed. */
static void dot_tile_vectors(emitter *e, const fgeom *g, int mf, int mr, int64_t vspan)
{
    const simd_target *v = e->simd;
    emit(e, "for (int p = 0; p < %lld; p += %lld) {", (long long)vspan, (long long)v->width);
    for (int a = 0; a < mf; a++) {
        emit(e, "%s g%d = %s;", v->vec, a,
             simd(v->load, arena_printf(emit_arena, "gi + %lld + p", (long long)(a * g->gplane)), 0, 0));
        emit_pin(e, arena_printf(emit_arena, "g%d", a));
    }
    for (int b = 0; b < mr; b++) {
        emit(e, "{");
        emit(e, "%s xv = %s;", v->vec, simd(v->load, arena_printf(emit_arena, "x%d + p", b), 0, 0));
        emit_pin(e, "xv");
        dot_tile_fmas(e, mf, b);
        emit(e, "}");
    }
    emit(e, "}");
}

/* The last span - vspan positions: one partial-vector load (loadn) step if
 * the target has it, else a scalar loop into the t accumulators. */
static void dot_tile_rest(emitter *e, const fgeom *g, int mf, int mr, int64_t vspan)
{
    const simd_target *v = e->simd;
    if (vspan < g->span && v->loadn) {
        const char *n = arena_printf(emit_arena, "%lld", (long long)(g->span - vspan));
        for (int a = 0; a < mf; a++)
            emit(e, "const %s g%d = %s;", v->vec, a,
                 simd(v->loadn, arena_printf(emit_arena, "gi + %lld", (long long)(a * g->gplane + vspan)), n, 0));
        for (int b = 0; b < mr; b++) {
            emit(e, "{");
            emit(e, "const %s xv = %s;", v->vec,
                 simd(v->loadn, arena_printf(emit_arena, "x%d + %lld", b, (long long)vspan), n, 0));
            dot_tile_fmas(e, mf, b);
            emit(e, "}");
        }
    } else if (vspan < g->span) {
        emit(e, "for (int p = %lld; p < %lld; p++) {", (long long)vspan, (long long)g->span);
        for (int a = 0; a < mf; a++)
            for (int b = 0; b < mr; b++)
                emit(e, "%s += gi[%lld + p] * x%d[p];", vname("t", a, b), (long long)(a * g->gplane), b);
        emit(e, "}");
    }
}

static void dot_tile(emitter *e, const ir_layer *ly, const fgeom *g, int mf, int mr)
{
    const simd_target *v = e->simd;
    int64_t W = v->width, vspan = g->span / W * W;
    dot_tile_head(e, ly, mf, mr);
    emit(e, "for (int i = s0; i < s1; i++) {");
    emit(e, "const float *gi = c->cs + (size_t)(i0 + i - s0) * %lld + (size_t)f0 * %lld + %lld;", (long long)e->cs_max,
         (long long)g->gplane, (long long)g->M);
    for (int b = 0; b < mr; b++)
        emit(e, "const float *x%d = xs + (size_t)i * %lld + %s_roff[r0 + %d];", b,
             (long long)(g->C * g->psz), ly->name, b);
    dot_tile_vectors(e, g, mf, mr, vspan);
    dot_tile_rest(e, g, mf, mr, vspan);
    emit(e, "}");
    for (int a = 0; a < mf; a++)
        for (int b = 0; b < mr; b++)
            emit(e, "gw[(size_t)(f0 + %d) * %lld + r0 + %d] += %s + %s;", a, (long long)g->R, b,
                 simd(v->hsum, vname("a", a, b), 0, 0), vname("t", a, b));
    emit(e, "}");
    emit_blank(e);
}

/* Tile of the weight gradient: the cheapest (mf, mr) whose accumulators,
 * held rows and one streamed vector fit in the registers. */
static void choose_dot_tile(const simd_target *v, int64_t F, int64_t R, int *mf, int *mr)
{
    double best = 0;
    for (int a = 1; a <= 6 && a <= F; a++)
        for (int b = 1; b <= 8 && b <= R; b++) {
            if (a * b + a + 1 > v->regs)
                continue;
            int64_t fa = F / a, ra = R / b, fr = F % a, rr = R % b;
            double cost = 0;
            int64_t cnt[4] = {fa * ra, fa * (rr > 0), (fr > 0) * ra, (fr > 0) * (rr > 0)};
            int64_t ma[4] = {a, a, fr, fr}, mb[4] = {b, rr, b, rr};
            for (int q = 0; q < 4; q++)
                cost += (double)cnt[q] * wgrad_step(ma[q], mb[q]);
            if (best == 0 || cost < best) {
                best = cost;
                *mf = a;
                *mr = b;
            }
        }
}

static void dot_calls(emitter *e, const ir_layer *ly, const fgeom *g, int mf, int mr)
{
    int64_t F = g->F / mf * mf, R = g->R / mr * mr;
    int64_t fr = g->F - F, rr = g->R - R;
    emit(e, "for (int f0 = 0; f0 < %lld; f0 += %d) {", (long long)F, mf);
    emit(e, "for (int r0 = 0; r0 < %lld; r0 += %d)", (long long)R, mr);
    emit(e, "    %s_wg_%dx%d(c, xs, f0, r0, gw, i0, s0, s1);", ly->name, mf, mr);
    if (rr)
        emit(e, "%s_wg_%dx%lld(c, xs, f0, %lld, gw, i0, s0, s1);", ly->name, mf, (long long)rr, (long long)R);
    emit(e, "}");
    if (fr) {
        emit(e, "for (int r0 = 0; r0 < %lld; r0 += %d)", (long long)R, mr);
        emit(e, "    %s_wg_%lldx%d(c, xs, %lld, r0, gw, i0, s0, s1);", ly->name, (long long)fr, mr, (long long)F);
        if (rr)
            emit(e, "%s_wg_%lldx%lld(c, xs, %lld, %lld, gw, i0, s0, s1);", ly->name, (long long)fr,
                 (long long)rr, (long long)F, (long long)R);
    }
}

static void dot_kernels(emitter *e, const ir_layer *ly, const fgeom *g, int mf, int mr)
{
    int fr = (int)(g->F % mf), rr = (int)(g->R % mr);
    dot_tile(e, ly, g, mf, mr);
    if (rr)
        dot_tile(e, ly, g, mf, rr);
    if (fr)
        dot_tile(e, ly, g, fr, mr);
    if (fr && rr)
        dot_tile(e, ly, g, fr, rr);
}

/* ------------------------------------------------------------ outer form */
/* A tile covers nch input maps from c0 (a run-time argument) and taps
 * [k0, k0 + nk) of each, so every input value it broadcasts sits at a
 * constant offset from one pointer, xi + c0*psz: with a pointer per row
 * the compiler runs out of registers.  Few taps: whole kernels of several
 * maps; many: the taps of one map in near-equal chunks. */
typedef struct ovariant {
    int nch, k0, nk;
    int64_t cb, ce, cs;          /* c0 from cb to ce by cs */
} ovariant;

typedef struct oplan {
    int nf, nv;
    ovariant *v;
} oplan;

static int orows_max(const simd_target *v, int nf)
{
    int m = (v->regs - 1 - nf) / nf;
    return m > 28 ? 28 : m;
}

static oplan plan_for(const simd_target *v, const fgeom *g, int nf)
{
    int64_t m = orows_max(v, nf);
    oplan o = {nf, 0, arena_alloc(emit_arena, (size_t)(g->K / m + 2) * sizeof(ovariant))};
    if (g->K <= m) {
        int64_t nch = m / g->K < g->C ? m / g->K : g->C, full = g->C / nch * nch;
        o.v[o.nv++] = (ovariant){(int)nch, 0, (int)g->K, 0, full, nch};
        if (full < g->C)
            o.v[o.nv++] = (ovariant){(int)(g->C - full), 0, (int)g->K, full, g->C, g->C - full};
        return o;
    }
    int64_t q = (g->K + m - 1) / m, k0 = 0;
    for (int64_t i = 0; i < q; i++) {
        int64_t nk = g->K / q + (i < g->K % q);
        o.v[o.nv++] = (ovariant){1, (int)k0, (int)nk, 0, g->C, 1};
        k0 += nk;
    }
    return o;
}

/* Cycles of a step of an outer tile of rows x nf, as the forward sweep's
 * tiles: its FMAs (at least 8), the aligned loads of GT and half a slot
 * per broadcast.  Where broadcasts are most of the loads they are not
 * free: cifar10_wide's c1 (27 rows, 32 filters) ran its tiles of 27 rows
 * x 1 vector at 65 % of the FMA peak, of 9 rows x 2 vectors at 75 %
 * (c1 backward 3.1 -> 2.9 ms); the half slot picks the second. */
static double outer_step(int64_t rows, int64_t nf)
{
    return (double)(rows * nf > 8 ? rows * nf : 8) + (double)nf + 0.5 * (double)rows;
}

static double plan_cost(const oplan *o, int64_t Fv)
{
    double c = 0;
    for (int i = 0; i < o->nv; i++) {
        const ovariant *w = &o->v[i];
        int64_t rows = (int64_t)w->nch * w->nk, n = (w->ce - w->cb) / w->cs;
        c += (double)n * ((double)(Fv / o->nf) * outer_step(rows, o->nf) +
                          (Fv % o->nf ? outer_step(rows, Fv % o->nf) : 0));
    }
    return c;
}

static oplan choose_plan(const simd_target *v, const fgeom *g)
{
    int64_t Fv = g->Fp / v->width;
    oplan best = plan_for(v, g, 1);
    for (int nf = 2; nf <= 8 && nf <= Fv && orows_max(v, nf) >= 1; nf++) {
        oplan o = plan_for(v, g, nf);
        if (plan_cost(&o, Fv) < plan_cost(&best, Fv))
            best = o;
    }
    return best;
}

/* Strided: output o = r*ow + q (GT's row) reads x at p = prow[r] + q*sl. */
static void outer_strided_loop(emitter *e, const ir_layer *ly, const fgeom *g)
{
    emit(e, "for (int q = q0; q < q1; q++) {");
    emit(e, "const int o = r * %lld + q, p = %s_prow[r] + q * %lld;", (long long)ly->out.d[ly->nsp], ly->name,
         (long long)g->sl);
}

/* While the tiles of sample i run, the y and dy of the sample whose GT
 * the next group builds are fetched into L2, npf lines of each per step
 * of a tile: the build reads them in W streams of each, and with nothing
 * else in flight it waited on them (cifar10_wide's c1, 32 filters of
 * 32 x 32: 16 MB per batch; c1 backward 2.9 -> 2.35 ms; all of them at
 * the start of a chunk of p stalled the tiles: 2.65 ms).  A chunk of
 * P steps has P * F floats of each to fetch, 16 a line: the calls of
 * the chunk take P * npf lines each, in order, until they are covered. */
static int64_t plan_calls(const oplan *o, int64_t Fv, int64_t *per_block)
{
    int64_t n = 0;
    for (int i = 0; i < o->nv; i++)
        n += (o->v[i].ce - o->v[i].cb) / o->v[i].cs;
    if (per_block)
        *per_block = n;
    return n * (Fv / o->nf + (Fv % o->nf ? 1 : 0));
}

/* Lines of y (and of dy) each step of a tile fetches. */
static int pf_lines(const simd_target *v, const fgeom *g, const oplan *o)
{
    int64_t need = (g->F + 15) / 16, calls = plan_calls(o, g->Fp / v->width, NULL);
    return (int)((need + calls - 1) / calls);
}

static void emit_tile_prefetch(emitter *e, int npf)
{
    emit(e, "if (py) {");
    for (int m = 0; m < npf; m++) {
        emit(e, "CNNC_PREFETCH(py + (size_t)%d * t + %d);", 16 * npf, 16 * m);
        emit(e, "CNNC_PREFETCH(pd + (size_t)%d * t + %d);", 16 * npf, 16 * m);
    }
    emit(e, "}");
    emit(e, "t++;");
}

/* dWT rows of maps c0 + [0, nch), taps k0 + [0, nk), vectors [0, nf) from
 * d: += sum over output rows r0 <= r < r1 and columns q0 <= q < q1, at
 * p = prow[r] + q, of xc[c*psz + koff(k) + p] * GT[p][..]: the real
 * outputs only, not the garbage columns of the flat grid. */
static void outer_tile(emitter *e, const ir_layer *ly, const fgeom *g, int vi, const ovariant *w, int nf, int npf)
{
    const simd_target *v = e->simd;
    int W = v->width, rows = w->nch * w->nk;
    emit(e, "CNNC_KERNEL static inline void %s_wo%d_%d(const float *restrict gp, const float *restrict xc,",
         ly->name, vi, nf);
    emit(e, "    float *restrict d, int r0, int r1, int q0, int q1, const float *py, const float *pd)");
    emit(e, "{");
    for (int b = 0; b < rows; b++)
        for (int j = 0; j < nf; j++)
            emit(e, "%s %s = %s;", v->vec, vname("a", b, j),
                 simd(v->load, arena_printf(emit_arena, "d + %lld", (long long)((b / w->nk * g->K + b % w->nk) * g->Fp + j * W)), 0, 0));
    emit(e, "int t = 0;");
    emit(e, "for (int r = r0; r < r1; r++)");
    if (g->strided)
        outer_strided_loop(e, ly, g);
    else
        emit(e, "for (int p = %s_prow[r] + q0; p < %s_prow[r] + q1; p++) {", ly->name, ly->name);
    emit_tile_prefetch(e, npf);
    for (int j = 0; j < nf; j++)
        emit(e, "const %s g%d = %s;", v->vec, j,
             simd(v->load, arena_printf(emit_arena, "gp + (size_t)%s * %lld + %d", g->strided ? "o" : "p",
                                        (long long)g->Fp, j * W), 0, 0));
    for (int b = 0; b < rows; b++) {
        int64_t off = b / w->nk * g->psz + g->koff[w->k0 + b % w->nk];
        emit_bcast_fma(e, arena_printf(emit_arena, "xc[p + %lld]", (long long)off), b, nf, "g");
    }
    emit(e, "}");
    for (int b = 0; b < rows; b++)
        for (int j = 0; j < nf; j++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "d + %lld", (long long)((b / w->nk * g->K + b % w->nk) * g->Fp + j * W)),
                               vname("a", b, j), 0));
    emit(e, "}");
    emit_blank(e);
}

/* The flat-grid position p(o) = sum over axes of o_a stride_a pm_a of
 * output o (row-major over the output's spatial axes). */
static int64_t out_flat_pos(const ir_layer *ly, int64_t o)
{
    int64_t off = 0, m = 1;
    for (int a = ly->nsp - 1; a >= 0; a--) {
        off += o % ly->out.d[a + 1] * ly->stride[a] * m;
        o /= ly->out.d[a + 1];
        m *= ly->padded.d[a + 1];
    }
    return off;
}

/* The flat-grid position of the first output of every output row (all
 * axes but the last). */
static void emit_prow(emitter *e, const ir_layer *ly)
{
    int64_t ow = ly->out.d[ly->nsp], n = shape_count(&ly->out) / ly->out.d[0] / ow;
    int64_t *t = arena_alloc(emit_arena, (size_t)n * sizeof *t);
    for (int64_t i = 0; i < n; i++)
        t[i] = out_flat_pos(ly, i * ow);
    emit_table(e, "int", arena_printf(emit_arena, "%s_prow", ly->name), t, n);
}

/* A chunk of output rows [r0, r1) and columns [q0, q1): its part of GT,
 * about 16 KiB, stays in L1 while every tile passes over it.  Whole rows
 * when one fits, else pieces of one row. */
typedef struct ochunk {
    int64_t rows, ow, rc, qc;    /* output rows and columns; rows and columns per chunk */
} ochunk;

static ochunk outer_chunk(const emitter *e, const ir_layer *ly, const fgeom *g)
{
    int64_t pc = 4096 / g->Fp;
    ochunk k = {g->osz / ly->out.d[ly->nsp], ly->out.d[ly->nsp], 1, 0};
    int64_t pmr = ly->nsp > 1 && !g->strided ? ly->padded.d[ly->nsp] : k.ow;
    k.qc = k.ow;
    if (pmr <= pc)
        k.rc = pc / pmr;
    else
        k.qc = pc < e->simd->width ? e->simd->width : pc / e->simd->width * e->simd->width;
    return k;
}

/* The calls of variant w; kx: the index of the call among the chunk's
 * (a C expression), which picks its share of the lines to prefetch. */
static void outer_variant_calls(emitter *e, const ir_layer *ly, const fgeom *g, int vi, const ovariant *w, int n,
                                const char *kx, int64_t kn)
{
    const char *k = arena_printf(emit_arena, "(%s + (c0 - %lld) / %lld)", kx, (long long)w->cb, (long long)w->cs);
    const char *call = arena_printf(emit_arena, "%s_wo%d_%d(gp, xi + c0 * %lld, dwt + ((size_t)c0 * %lld + %d) * %lld + j0 * %d, r0, r1, q0, q1, "
                                    "ny && %s < %lld ? ny + (size_t)%s * pfn : NULL, ny && %s < %lld ? nd + (size_t)%s * pfn : NULL);",
                                    ly->name, vi, n, (long long)g->psz, (long long)g->K, w->k0, (long long)g->Fp, e->simd->width,
                                    k, (long long)kn, k, k, (long long)kn, k);
    if (w->ce - w->cb == w->cs) {
        emit(e, "{");
        emit(e, "const int c0 = %lld;", (long long)w->cb);
        emit(e, "%s", call);
        emit(e, "}");
        return;
    }
    emit(e, "for (int c0 = %lld; c0 < %lld; c0 += %lld)", (long long)w->cb, (long long)w->ce, (long long)w->cs);
    emit(e, "    %s", call);
}

/* The chunk's share of the next group's y and dy (emit_tile_prefetch):
 * P = (r1 - r0) * (q1 - q0) outputs of every filter from pfb on, in
 * pfn floats per call; none after the lane's last group. */
static void outer_prefetch(emitter *e, const fgeom *g, const ochunk *k, int npf)
{
    long long per = (long long)(g->F * g->osz);
    emit(e, "const int pfn = (r1 - r0) * (q1 - q0) * %d;", 16 * npf);
    emit(e, "const size_t pfb = ((size_t)r0 * %lld + (size_t)q0 * (size_t)(r1 - r0)) * %lld;", (long long)k->ow,
         (long long)g->F);
    emit(e, "const float *ny = i + (s1 - s0) < i1 ? y + (size_t)(i + s1 - s0) * %lld + pfb : NULL;", per);
    emit(e, "const float *nd = ny ? dy + (size_t)(i + s1 - s0) * %lld + pfb : NULL;", per);
}

static void outer_calls(emitter *e, const ir_layer *ly, const fgeom *g, const oplan *o)
{
    int64_t Fv = g->Fp / e->simd->width, F = Fv / o->nf * o->nf, nb;
    int npf = pf_lines(e->simd, g, o);
    int64_t kn = (g->F + 16 * npf - 1) / (16 * npf);
    plan_calls(o, Fv, &nb);
    ochunk k = outer_chunk(e, ly, g);
    emit(e, "for (int i = s0; i < s1; i++) {");
    emit(e, "const float *gt = c->cs + (size_t)(i0 + i - s0) * %lld + %lld;", (long long)e->cs_max, (long long)g->gt_off);
    emit(e, "const float *xi = xs + (size_t)i * %lld;", (long long)(g->C * g->psz));
    emit(e, "for (int r0 = 0; r0 < %lld; r0 += %lld)", (long long)k.rows, (long long)k.rc);
    emit(e, "for (int q0 = 0; q0 < %lld; q0 += %lld) {", (long long)k.ow, (long long)k.qc);
    emit(e, "const int r1 = r0 + %lld < %lld ? r0 + %lld : %lld;", (long long)k.rc, (long long)k.rows,
         (long long)k.rc, (long long)k.rows);
    emit(e, "const int q1 = q0 + %lld < %lld ? q0 + %lld : %lld;", (long long)k.qc, (long long)k.ow,
         (long long)k.qc, (long long)k.ow);
    outer_prefetch(e, g, &k, npf);
    for (int q = 0; q < 2; q++) {
        int n = q ? (int)(Fv - F) : o->nf;
        if (!n)
            continue;
        if (q) {
            emit(e, "{");
            emit(e, "const int j0 = %lld;", (long long)F);
        } else {
            emit(e, "for (int j0 = 0; j0 < %lld; j0 += %d) {", (long long)F, o->nf);
        }
        emit(e, "const float *gp = gt + j0 * %d;", e->simd->width);
        for (int i = 0, vo = 0; i < o->nv; i++) {
            const char *kx = arena_printf(emit_arena, "(j0 / %d * %lld + %d)", o->nf, (long long)nb, vo);
            outer_variant_calls(e, ly, g, i, &o->v[i], n, kx, kn);
            vo += (int)((o->v[i].ce - o->v[i].cb) / o->v[i].cs);
        }
        emit(e, "}");
    }
    emit(e, "}");
    emit(e, "}");
}

static void outer_kernels(emitter *e, const ir_layer *ly, const fgeom *g, const oplan *o)
{
    int fr = (int)(g->Fp / e->simd->width % o->nf);
    int npf = pf_lines(e->simd, g, o);
    for (int i = 0; i < o->nv; i++) {
        outer_tile(e, ly, g, i, &o->v[i], o->nf, npf);
        if (fr)
            outer_tile(e, ly, g, i, &o->v[i], fr, npf);
    }
}

/* ------------------------------------------------------------ sparse form */
/* A convolution that feeds a max pool whose windows do not overlap has at
 * most one nonzero G in a window (of win outputs), and relu zeroes more:
 * 16 % of lenet's c3 and 17 % of its c1 during training.  Per sample and
 * filter f, the positions j with G(f, j) != 0 are listed (nzmask, then
 * packed by cmpi/cmpf, at most WZ_CHUNK at a time), and each adds
 * G(f, j) times its input patch to f's accumulators: one rvec a row of
 * K1 taps (the last axis, adjacent in x), wz_nr = C*K/K1 rows, loaded by
 * one masked load each (nothing past the row is touched).  The rows stay
 * in registers over the list, in passes of at most WZ_ROWS, and in
 * dWz [F][wz_nr][rwidth] between samples.  Only exact zeros are skipped,
 * so the sums are the dense forms' in the same order of p.
 *
 * Cost rule: the dense forms run F*R*osz/W FMA slots; the sparse one
 * about F*osz/win*wz_nr (a nonzero's rows: a half-width FMA and an
 * unaligned load each, about a cycle), so it pays where K1*win > W.
 * lenet's c3 (K1 = 5, win = 4; measured in a prototype, batch 64): the
 * weight gradient 256 -> 125 us; its c1 158 -> 90.
 *
 * Maps last (wz_cl): with C > 1 the sample's x is transposed to xt
 * [psz][C] first, and a row is one outer tap's K1 taps of every map,
 * K1*C adjacent floats in whole vectors: lenet's c3 has 5 rows of 2
 * vectors (30 of 32 lanes) instead of 30 rows of 5 lanes. */
#define WZ_CHUNK 512
#define WZ_ROWS 28
#define WZ_PERM_C 8

void wgrad_plan(const emitter *e, const ir_layer *ly, fgeom *g)
{
    const simd_target *v = e->simd;
    int last = ly->nsp - 1;
    int64_t k1 = ly->kernel[last], win = ly->kind == LK_CONV ? conv_pool_window(e, ly) : 0;
    if (!v->cmpi || !v->nzmask || !v->loadn || g->wino || ly->dilation[last] != 1 || k1 > v->rwidth ||
        !win || k1 * win <= v->width)
        return;
    g->wgz = true;
    g->wz_k1 = (int)k1;
    g->wz_nr = (int)(g->R / k1);
    g->wz_rw = v->rwidth;
    g->wz_off = (g->scratch + 15) / 16 * 16;
    int64_t nv = (k1 * g->C + v->width - 1) / v->width, kr = g->K / k1;
    if (g->C > 1 && kr * nv < g->wz_nr && kr * nv <= WZ_ROWS) {
        g->wz_cl = true;
        g->wz_nr = (int)kr;
        g->wz_rw = (int)(nv * v->width);
    }
    g->wz_xt = g->wz_off + (g->F * g->wz_nr * g->wz_rw + 15) / 16 * 16;
    g->scratch = g->wz_xt + (g->wz_cl ? g->C * g->psz : 0);
}

/* Floats of dWz. */
static int64_t wz_len(const fgeom *g)
{
    return g->F * g->wz_nr * g->wz_rw;
}

/* Positions one filter's scan covers: G compact (dgc, the outputs) or
 * the flat grid's span. */
static int64_t wz_scan(const fgeom *g)
{
    return g->dgc ? g->osz : g->span;
}

/* NAME_wzp: the flat position p(o) of every output o of the compact G,
 * zeros after, to whole vectors. */
static void emit_wz_table(emitter *e, const ir_layer *ly, const fgeom *g)
{
    int W = e->simd->width;
    int64_t n = (g->osz + W - 1) / W * W;
    int64_t *t = arena_alloc(emit_arena, (size_t)n * sizeof *t);
    for (int64_t o = 0; o < n; o++)
        t[o] = o < g->osz ? out_flat_pos(ly, o) : 0;
    emit_table(e, "int", arena_printf(emit_arena, "%s_wzp", ly->name), t, n);
}

/* The nonzero lanes of G at j (its vector `ld`) appended to the list. */
static void wz_block(emitter *e, const ir_layer *ly, const fgeom *g, const char *ld)
{
    const simd_target *v = e->simd;
    const char *pos = g->dgc ? simd(v->iload, arena_printf(emit_arena, "%s_wzp + j", ly->name), 0, 0)
                             : lanes_from(e, "j");
    emit_nz_append(e, ld, pos, NULL);
}

/* Channels last: entry t's rows [rb, re), each K1*C floats of xt from
 * its position's, in whole vectors (the last masked), into the
 * accumulators pfx<r>_<j>. */
static void wz_step_cl(emitter *e, const fgeom *g, int rb, int re, const char *t, const char *pfx)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t run = g->wz_k1 * g->C;
    emit(e, "{");
    emit(e, "const float *xp = xt + (size_t)li[%s] * %lld;", t, (long long)g->C);
    emit(e, "const %s gs = %s;", v->vec, simd(v->splat, arena_printf(emit_arena, "lv[%s]", t), 0, 0));
    for (int r = rb; r < re; r++)
        for (int j = 0; j < g->wz_rw / W; j++) {
            const char *at = arena_printf(emit_arena, "xp + %lld", (long long)(g->koff[r * g->wz_k1] * g->C + j * W));
            const char *x = run - j * W >= W ? simd(v->load, at, 0, 0)
                                             : simd(v->loadn, at, arena_printf(emit_arena, "%lld", (long long)(run - j * W)), 0);
            const char *a = arena_printf(emit_arena, "%s%d_%d", pfx, r, j);
            emit(e, "%s = %s;", a, simd(v->fma, "gs", x, a));
        }
    emit(e, "}");
}

/* List entry t's patch rows [rb, re) into the accumulators pfx<r>. */
static void wz_step(emitter *e, const fgeom *g, int rb, int re, const char *t, const char *pfx)
{
    const simd_target *v = e->simd;
    if (g->wz_cl) {
        wz_step_cl(e, g, rb, re, t, pfx);
        return;
    }
    int64_t kr = g->K / g->wz_k1;
    const char *mask = arena_printf(emit_arena, "0x%xu", (1u << g->wz_k1) - 1u);
    emit(e, "{");
    emit(e, "const float *xp = xi + li[%s];", t);
    emit(e, "const %s gs = %s;", v->rvec, simd(v->rsplat, arena_printf(emit_arena, "lv[%s]", t), 0, 0));
    for (int r = rb; r < re; r++) {
        int64_t off = r / kr * g->psz + g->koff[r % kr * g->wz_k1];
        const char *x = simd(v->rloadm, arena_printf(emit_arena, "xp + %lld", (long long)off), mask, 0);
        const char *a = arena_printf(emit_arena, "%s%d", pfx, r);
        emit(e, "%s = %s;", a, simd(v->rfma, "gs", x, a));
    }
    emit(e, "}");
}

/* Rows [rb, re) of filter f's accumulators over the list.  Fewer than 8
 * rows: two sets of accumulators, even and odd entries, so that 8 or more
 * FMAs are in flight (lenet's c1, 5 rows: one FMA chain a row waited on
 * its latency). */
/* The accumulators of rows [rb, re): name pfx<r> (rvec; _<j> for each
 * vector of a channels-last row), type, zero, and dWz offset of each. */
typedef struct wzacc {
    const char *name[WZ_ROWS * 4], *type, *zero, *load, *store, *add; /* vec or rvec templates */
    int64_t off[WZ_ROWS * 4];
    int n;
} wzacc;

static wzacc wz_accs(const emitter *e, const fgeom *g, int rb, int re, const char *pfx)
{
    const simd_target *v = e->simd;
    wzacc a = {{0}, g->wz_cl ? v->vec : v->rvec, g->wz_cl ? v->zero : v->rzero, g->wz_cl ? v->load : v->rload,
               g->wz_cl ? v->store : v->rstore, g->wz_cl ? v->add : v->radd, {0}, 0};
    int nj = g->wz_cl ? g->wz_rw / v->width : 1;
    for (int r = rb; r < re; r++)
        for (int j = 0; j < nj; j++, a.n++) {
            a.name[a.n] = g->wz_cl ? arena_printf(emit_arena, "%s%d_%d", pfx, r, j) : arena_printf(emit_arena, "%s%d", pfx, r);
            a.off[a.n] = (int64_t)r * g->wz_rw + (int64_t)j * v->width;
        }
    return a;
}

static void wz_pass(emitter *e, const fgeom *g, int rb, int re)
{
    wzacc a = wz_accs(e, g, rb, re, "a"), b = wz_accs(e, g, rb, re, "b");
    bool two = a.n < 8;
    emit(e, "{");
    for (int k = 0; k < a.n; k++) {
        const char *at = arena_printf(emit_arena, "af + %lld", (long long)a.off[k]);
        emit(e, "%s %s = %s;", a.type, a.name[k], simd(a.load, at, 0, 0));
        if (two)
            emit(e, "%s %s = %s;", a.type, b.name[k], a.zero);
    }
    emit(e, "int t = 0;");
    if (two) {
        emit(e, "for (; t + 1 < nz; t += 2) {");
        wz_step(e, g, rb, re, "t", "a");
        wz_step(e, g, rb, re, "t + 1", "b");
        emit(e, "}");
        emit(e, "if (t < nz)");
    } else {
        emit(e, "for (; t < nz; t++)");
    }
    wz_step(e, g, rb, re, "t", "a");
    for (int k = 0; k < a.n; k++) {
        const char *x = a.name[k], *at = arena_printf(emit_arena, "af + %lld", (long long)a.off[k]);
        if (two)
            x = simd(a.add, x, b.name[k], 0);
        emit(e, "%s", simd(a.store, at, x, 0));
    }
    emit(e, "}");
}

/* Every row of filter f's accumulators, in near-equal passes of at most
 * WZ_ROWS. */
static void wz_passes(emitter *e, const fgeom *g)
{
    if (g->wz_cl) { /* one pass (wgrad_plan) */
        wz_pass(e, g, 0, g->wz_nr);
        return;
    }
    int np = (g->wz_nr + WZ_ROWS - 1) / WZ_ROWS, per = (g->wz_nr + np - 1) / np;
    for (int rb = 0; rb < g->wz_nr; rb += per)
        wz_pass(e, g, rb, rb + per < g->wz_nr ? rb + per : g->wz_nr);
}

/* xt[p][ch] = xi[ch][p] for the n positions, W at a time: the maps'
 * vectors t<ch>, and each of the C vectors of xt they fill blended from
 * every map's lanes, permuted into place (C*C permutes a group; clang's
 * own vectorisation of the scalar loop gathered, 7 % of lenet's c3
 * backward). */
static void emit_transpose_group(emitter *e, int64_t C, int64_t psz, int64_t n)
{
    const simd_target *v = e->simd;
    int W = v->width;
    for (int64_t ch = 0; ch < C; ch++) {
        const char *at = arena_printf(emit_arena, "xi + %lld + p", (long long)(ch * psz));
        emit(e, "const %s t%lld = %s;", v->vec, (long long)ch,
             n == W ? simd(v->load, at, 0, 0) : simd(v->loadn, at, arena_printf(emit_arena, "%lld", (long long)n), 0));
    }
    for (int64_t k = 0; k * W < n * C; k++) {
        emit(e, "{");
        for (int64_t ch = 0; ch < C; ch++) {
            const char *ix = "";
            unsigned mask = 0;
            for (int l = 0; l < W; l++) {
                int64_t q = k * W + l;
                ix = arena_printf(emit_arena, "%s%s%lld", ix, l ? ", " : "", (long long)(q % C == ch ? q / C : 0));
                mask |= (unsigned)(q % C == ch) << l;
            }
            const char *pv = simd(v->perm, simd(v->iset, ix, 0, 0), arena_printf(emit_arena, "t%lld", (long long)ch), 0);
            if (ch == 0)
                emit(e, "%s o = %s;", v->vec, pv);
            else
                emit(e, "o = %s;", simd(v->blend, arena_printf(emit_arena, "0x%xu", mask), pv, "o"));
        }
        const char *at = arena_printf(emit_arena, "xt + (size_t)p * %lld + %lld", (long long)C, (long long)(k * W));
        int64_t left = n * C - k * W;
        emit(e, "%s", left >= W ? simd(v->store, at, "o", 0)
                                : simd(v->storen, at, "o", arena_printf(emit_arena, "%lld", (long long)left)));
        emit(e, "}");
    }
}

static void emit_transpose(emitter *e, int64_t C, int64_t psz)
{
    int W = e->simd->width;
    int64_t full = psz / W * W;
    if (full) {
        emit(e, "for (int p = 0; p < %lld; p += %d) {", (long long)full, W);
        emit_transpose_group(e, C, psz, W);
        emit(e, "}");
    }
    if (full < psz) {
        emit(e, "{");
        emit(e, "const int p = %lld;", (long long)full);
        emit_transpose_group(e, C, psz, psz - full);
        emit(e, "}");
    }
}

/* An input that is not finite makes the sample's sum NaN, as the dense
 * forms' 0 * inf does (emit_nonfinite). */
static void wz_guard(emitter *e, const fgeom *g)
{
    emit_nonfinite(e, "xi", arena_printf(emit_arena, "%lld", (long long)(g->C * g->psz)));
    emit(e, "if (bad != 0.0f) {");
    emit(e, "for (int r = 0; r < %lld; r++)", (long long)wz_len(g));
    emit(e, "    acc[r] = bad;");
    emit(e, "return;");
    emit(e, "}");
    if (!g->wz_cl)
        return;
    emit(e, "float *restrict xt = acc + %lld;", (long long)(g->wz_xt - g->wz_off));
    if (e->simd->perm && g->C <= WZ_PERM_C) {
        emit_transpose(e, g->C, g->psz);
        return;
    }
    emit(e, "for (int p = 0; p < %lld; p++)", (long long)g->psz);
    emit(e, "    for (int ch = 0; ch < %lld; ch++)", (long long)g->C);
    emit(e, "        xt[(size_t)p * %lld + ch] = xi[(size_t)ch * %lld + p];", (long long)g->C, (long long)g->psz);
}

/* NAME_wz(gi, xi, acc): one sample's G (its scratch slot) and padded x
 * into dWz. */
static void sparse_kernel(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t n = wz_scan(g), nfull = n / W * W;
    if (g->dgc)
        emit_wz_table(e, ly, g);
    emit(e, "CNNC_KERNEL static void %s_wz(const float *restrict gi, const float *restrict xi, float *restrict acc)",
         ly->name);
    emit(e, "{");
    wz_guard(e, g);
    emit(e, "int li[%d];", WZ_CHUNK + W);
    emit(e, "float lv[%d];", WZ_CHUNK + W);
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit(e, "const float *gf = gi + (size_t)f * %lld + %lld;", (long long)(g->dgc ? g->osz : g->gplane),
         (long long)(g->dgc ? 0 : g->M));
    emit(e, "float *af = acc + (size_t)f * %lld;", (long long)(g->wz_nr * g->wz_rw));
    emit(e, "for (int j0 = 0; j0 < %lld; j0 += %d) {", (long long)n, WZ_CHUNK);
    emit(e, "const int j1 = j0 + %d < %lld ? j0 + %d : %lld;", WZ_CHUNK, (long long)nfull, WZ_CHUNK,
         (long long)nfull);
    emit(e, "int nz = 0;");
    emit(e, "for (int j = j0; j < j1; j += %d)", W);
    wz_block(e, ly, g, simd(v->load, "gf + j", 0, 0));
    if (nfull < n) {
        emit(e, "if (j0 + %d >= %lld) {", WZ_CHUNK, (long long)n);
        emit(e, "const int j = %lld;", (long long)nfull);
        wz_block(e, ly, g, simd(v->loadn, "gf + j", arena_printf(emit_arena, "%lld", (long long)(n - nfull)), 0));
        emit(e, "}");
    }
    wz_passes(e, g);
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* ------------------------------------------------------------ lists from the pool */
/* A first layer (no dx) on the flat grid, or a layer with the sparse data
 * gradient (dgz), that feeds a max pool whose 2-D
 * windows tile its output (stride = size, no padding, no activation of
 * the pool's own) does not need G at all: its nonzero entries are the
 * pool's gradient at each window's argmax, where relu passes it (the
 * pool's output, the max, is > 0).  The pool's fast backward (emit_fastpool.c)
 * then writes, into each map's plane of the conv's dy, the list of the
 * flat positions p (in x) and values, and NAME_wzl reads it: no dense
 * dy (written, then read by the G build), no G, no scan.  The reference
 * twins keep the dense dy (both layers run fast or both reference). */
int64_t pool_list_stride(const emitter *e, const ir_layer *pool)
{
    return shape_count(&pool->out) / pool->out.d[0] + e->simd->width;
}

bool conv_pool_lists(const emitter *e, const ir_layer *ly)
{
    const ir_layer *p = layer_next(e->net, ly);
    if (!e->simd || !e->simd->cmpi || !e->simd->igt || ly->kind != LK_CONV || ly->nsp != 2 || !p ||
        p->kind != LK_MAXPOOL || p->act != ACT_NONE || layer_has_pad(p) || (ly->act != ACT_RELU && ly->act != ACT_NONE) ||
        ly->stride[0] != 1 || ly->stride[1] != 1 || !conv_is_fast(e, ly) ||
        !pool_backward_is_fast(e, p))
        return false;
    for (int a = 0; a < 2; a++)
        if (p->stride[a] != p->kernel[a])
            return false;
    fgeom g = make_fgeom(e, ly);
    bool dx = conv_has_dx(e, ly);
    return g.wgz && (dx ? g.dgz : !g.outer) && 1 + 2 * pool_list_stride(e, p) <= g.osz;
}

/* NAME_wzl(dyi, xi, acc, gb, gt): sample i's lists (its planes of dy)
 * and padded x into dWz, the bias gradient, and where gt (the layer has a
 * data gradient: the sparse one, which reads GT) each entry into GT,
 * whose rows the caller zeroed: GT[p][f] = its value. */
void emit_wz_list_kernel(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int64_t nr = pool_list_stride(e, layer_next(e->net, ly));
    emit(e, "CNNC_KERNEL static void %s_wzl(const float *restrict dyi, const float *restrict xi, float *restrict acc,",
         ly->name);
    emit(e, "    float *restrict gb, float *restrict gt)");
    emit(e, "{");
    wz_guard(e, g);
    if (!ly->bias)
        emit(e, "(void)gb;");
    if (!g->dgz)
        emit(e, "(void)gt;");
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit(e, "const float *base = dyi + (size_t)f * %lld;", (long long)g->osz);
    emit(e, "int nz;");
    emit(e, "memcpy(&nz, base, sizeof nz);");
    emit(e, "const int *li = (const int *)(const void *)(base + 1);");
    emit(e, "const float *lv = base + %lld;", (long long)(1 + nr));
    emit(e, "float *af = acc + (size_t)f * %lld;", (long long)(g->wz_nr * g->wz_rw));
    if (g->dgz) {
        emit(e, "if (gt)");
        emit(e, "    for (int t = 0; t < nz; t++)");
        emit(e, "        gt[(size_t)li[t] * %lld + f] = lv[t];", (long long)g->Fp);
    }
    if (ly->bias) { /* in vectors: a scalar sum's chain of adds was 38 % of lenet's c1 backward in `step` */
        emit(e, "{");
        emit(e, "%s sv = %s;", v->vec, v->zero);
        emit(e, "int t = 0;");
        emit(e, "for (; t + %d <= nz; t += %d)", v->width, v->width);
        emit(e, "    sv = %s;", simd(v->add, "sv", simd(v->load, "lv + t", 0, 0), 0));
        emit(e, "if (t < nz)");
        emit(e, "    sv = %s;", simd(v->add, "sv", simd(v->loadn, "lv + t", "(nz - t)", 0), 0));
        emit(e, "gb[f] += %s;", simd(v->hsum, "sv", 0, 0));
        emit(e, "}");
    }
    wz_passes(e, g);
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* ------------------------------------------------------------ entry points */
void emit_wgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g)
{
    int a = 1, b = 1;
    if (g->wgz) {
        if (g->dgc && !g->dgr)
            emit_prow(e, ly); /* the compact data gradient's spread reads it */
        sparse_kernel(e, ly, g);
        return;
    }
    if (g->outer) {
        oplan o = choose_plan(e->simd, g);
        emit_prow(e, ly);
        outer_kernels(e, ly, g, &o);
        return;
    }
    choose_dot_tile(e->simd, g->F, g->R, &a, &b);
    emit_roff_table(e, ly, g, "_roff");
    dot_kernels(e, ly, g, a, b);
}

/* The outer form's dWT lives in the scratch of the lane's first sample. */
void emit_wgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g)
{
    (void)ly;
    if (g->wgz) {
        emit(e, "float *restrict dwz = c->cs + (size_t)i0 * %lld + %lld;", (long long)e->cs_max, (long long)g->wz_off);
        emit(e, "if (i1 > i0)");
        emit(e, "    memset(dwz, 0, sizeof(float) * %lld);", (long long)wz_len(g));
        return;
    }
    if (!g->outer)
        return;
    emit(e, "float *restrict dwt = c->cs + (size_t)i0 * %lld + %lld;", (long long)e->cs_max,
         (long long)g->dwt_off);
    emit(e, "if (i1 > i0)");
    emit(e, "    memset(dwt, 0, sizeof(float) * %lld);", (long long)(g->R * g->Fp));
}

void emit_wgrad_group(emitter *e, const ir_layer *ly, const fgeom *g)
{
    int a = 1, b = 1;
    if (g->wgz) {
        emit(e, "for (int i = s0; i < s1; i++)");
        emit(e, "    %s_wz(c->cs + (size_t)(i0 + i - s0) * %lld, xs + (size_t)i * %lld, dwz);", ly->name,
             (long long)e->cs_max, (long long)(g->C * g->psz));
        return;
    }
    if (g->outer) {
        oplan o = choose_plan(e->simd, g);
        outer_calls(e, ly, g, &o);
        return;
    }
    choose_dot_tile(e->simd, g->F, g->R, &a, &b);
    dot_calls(e, ly, g, a, b);
}

void emit_wgrad_end(emitter *e, const ir_layer *ly, const fgeom *g)
{
    (void)ly;
    if (g->wgz && g->wz_cl) { /* dWz [f][r][q*C + ch] to gw [f][ch][r*K1 + q] */
        emit(e, "if (i1 > i0)");
        emit(e, "    for (int f = 0; f < %lld; f++)", (long long)g->F);
        emit(e, "        for (int ch = 0; ch < %lld; ch++)", (long long)g->C);
        emit(e, "            for (int r = 0; r < %d; r++)", g->wz_nr);
        emit(e, "                for (int q = 0; q < %d; q++)", g->wz_k1);
        emit(e, "                    gw[(size_t)f * %lld + ch * %lld + r * %d + q] += dwz[((size_t)f * %d + r) * %d + q * %lld + ch];",
             (long long)g->R, (long long)g->K, g->wz_k1, g->wz_nr, g->wz_rw, (long long)g->C);
        return;
    }
    if (g->wgz) {
        emit(e, "if (i1 > i0)");
        emit(e, "    for (int r = 0; r < %lld; r++)", (long long)(g->F * g->wz_nr));
        emit(e, "        for (int q = 0; q < %d; q++)", g->wz_k1);
        emit(e, "            gw[(size_t)r * %d + q] += dwz[(size_t)r * %d + q];", g->wz_k1, g->wz_rw);
        return;
    }
    if (!g->outer)
        return;
    emit(e, "if (i1 > i0)");
    emit(e, "    for (int f = 0; f < %lld; f++)", (long long)g->F);
    emit(e, "        for (int r = 0; r < %lld; r++)", (long long)g->R);
    emit(e, "            gw[(size_t)f * %lld + r] += dwt[(size_t)r * %lld + f];", (long long)g->R,
         (long long)g->Fp);
}
