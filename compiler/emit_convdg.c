/* emit_convdg.c - the "GEMM + col2im" data gradient of the fast
 * convolutions (emit_fast.c), for layers whose output is small next to
 * their input (lenet's c3: 10 x 10 outputs from 14 x 14).
 *
 * The sweep of emit_fast.c computes dxp[c][q] for every q of the padded
 * plane as a sum over F filters and K taps of G, which is zero outside the
 * span of the outputs: for c3 it runs 196 (224 in whole tiles) positions
 * per input map for 136 positions of G, with only C = 6 rows to share each
 * load.  Here, for each input map c, over the span only:
 *
 *   dcol[k][M + p] = sum_f w[f][c*K + k] * G[f][M + p]     p < span
 *   dxp[c][q] = sum_k dcol[k][M + q - koff(k)]              q < psz
 *
 * The GEMM is the sweep's tile with one tap and K rows (13 + 12 for 5 x 5
 * kernels: 1 + 2/13 slots per FMA against 1 + 2/6).  The col2im is a
 * gather: dcol's rows are zero outside [M, M + span) (set once per call;
 * the GEMM writes only inside), so each vector of dxp is K unaligned loads
 * and adds, stored once.  (Adding each row into dxp instead, 25
 * overlapping read-modify-writes per float, stalls on store-to-load
 * forwarding: with masked stores, 8 ns per vector on Zen 4.)
 *
 * Strided layers (dgc, the compact form): G is compact [F][osz], the GEMM
 * runs over the outputs only into dcc [K][osz], and a spread puts dcc at
 * dcol's flat positions M + p(o) before the same gather.
 *
 * Stride-1 2-D layers whose padded rows fit a vector (dgr, AVX-512: lenet
 * and cifar10_conv's c3) use the compact G too, and no dcol: each row y
 * of dxp adds, for each tap (k0, k1), dcc's output row y - k0*d0 loaded
 * into lanes k1*d1 .. k1*d1 + ow by a masked load (loadm).
 *
 * Where such a layer feeds a max pool whose windows do not overlap (dgz),
 * G is zero at all but one output of a window: per output o, only the
 * filters whose lane of GT[p(o)] is not 0 (nzmask) add their weight row,
 * dz[o][0..R) = sum_f GT[p(o)][f] * w[f][0..R), and each row of dxp
 * gathers dz's runs of K1 taps, one masked load per output and k0.
 *
 * Grouped (dz_grp): a masked load of 5 taps (lenet's c3) used 5 of 16
 * lanes, and the gather's 3,000 of them a sample took more time than the
 * FMAs.  The weights are laid out with each kernel row's K1 taps in a run
 * of DZ_GW = 8 lanes (zeros after), and the outputs of a row go in groups
 * of S = DZ_GW - K1 + 1 (at most 64 / W): output s of a group adds its
 * filter's weights loaded s floats early, so its taps land s lanes up, at
 * its own columns.  Per group and map c and k0 the gather then loads one
 * run of DZ_GW columns: 15 loads a row of dxp instead of 50, for 50 %
 * more FMAs (DZ_GW / K1 lanes per tap); the group's nonzero filters come
 * from one 64-bit mask (one loop, fewer mispredicted exits).  Chosen by
 * an estimate of both forms' slots (sparse_plan). */
#include "emit_conv.h"

#define DZ_GW 8

/* Whether ly's data gradient is ever computed: not for the first layer
 * that is not a view (emit.c passes it dx = NULL). */
bool conv_has_dx(const emitter *e, const ir_layer *ly)
{
    for (int i = 0; i < e->net->nlayers; i++)
        if (!layer_is_view(&e->net->layers[i]))
            return &e->net->layers[i] != ly;
    return true;
}

/* The compact form for strided layers (with the outer weight gradient,
 * which needs no flat G): the GEMM over the osz outputs instead of the
 * span (stride^d times fewer FMAs), the gather, and the spread of dcc to
 * dcol: a load and a store (2 slots) per float, or with stride 2 a load
 * and two stores per vector (spread_zip).  0 where it does not apply. */
static double compact_cost(const simd_target *v, const fgeom *g, int64_t ow, int64_t vecs, int *m, int *n)
{
    if (!g->strided || !g->outer || g->osz < v->width)
        return 0;
    double c = sweep_tile(v, g->K, g->osz, m, n) * (double)(g->F * g->C);
    double spread = 2.0 * (double)g->osz;
    if (g->sl == 2)
        spread = 3.0 * (double)(g->osz / ow * ((ow + v->width - 1) / v->width));
    return c + 2.0 * (double)(g->C * g->K * vecs) + spread * (double)(g->C * g->K);
}

/* The compact form without dcol (dgr) for stride-1 2-D layers whose
 * padded rows fit a vector, where the flavour picks lanes (loadm): the
 * GEMM over the osz outputs, then each output row of each tap is one
 * masked load (2 slots) added into the dxp row it lands on.  lenet's c3:
 * 7 vectors of outputs instead of 9 of span, 250 loads a map instead of
 * 325, no spread.  0 where it does not apply. */
static double rows_cost(const simd_target *v, const ir_layer *ly, const fgeom *g, int *m, int *n)
{
    if (!v->loadm || !v->storen || g->strided || ly->nsp != 2 || !g->outer || g->osz < v->width ||
        ly->padded.d[2] > v->width)
        return 0;
    double c = sweep_tile(v, g->K, g->osz, m, n) * (double)(g->F * g->C);
    return c + 2.0 * (double)(g->C * g->K * ly->out.d[1]);
}

/* Where the layer after ly is a max pool whose windows do not overlap
 * (stride >= size on every axis), the volume of a window, else 0: its
 * backward pass sends each window's gradient to one input and exact zeros
 * to the others, so at most one output in that many has a nonzero G
 * (lenet's c3: 16 % during training, one in 4 at most). */
int64_t conv_pool_window(const emitter *e, const ir_layer *ly)
{
    const ir_layer *p = layer_next(e->net, ly);
    if (!p || p->kind != LK_MAXPOOL)
        return 0;
    int64_t n = 1;
    for (int a = 0; a < p->nsp; a++) {
        if (p->stride[a] < p->kernel[a])
            return 0;
        n *= p->kernel[a];
    }
    return n;
}

/* The sparse data gradient (dgz) replaces dgr's GEMM where the output
 * feeds such a pool, the taps of a kernel row are adjacent (dilation 1
 * on the last axis, one run of K1 floats a masked load), the flavour
 * tests lanes for zero (nzmask) and a sum over R = C*K fits in the
 * registers.  Its cost is not modelled: it depends on the data (at 16 %
 * nonzero, lenet's c3 does a fifth of the GEMM's FMAs and twice its
 * loads in the gather). */
static void sparse_plan(const emitter *e, const ir_layer *ly, fgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t nv = (g->R + W - 1) / W, oh = ly->out.d[1], ow = ly->out.d[2], K0 = ly->kernel[0], K1 = ly->kernel[1];
    int64_t win = conv_pool_window(e, ly);
    if (!g->dgr || !v->nzmask || !v->loadn || ly->dilation[1] != 1 || nv > 24 || !win)
        return;
    g->dgz = true;
    g->dz_nv = (int)nv;
    g->dz_rp = nv * W;
    g->scratch = g->dc_off + 16 + (g->osz + g->F) * g->dz_rp;
    /* the grouped form: its blocks, and the estimate of both (FMAs for
     * the nonzeros, at most one a window and filter; the stores; two slots
     * a masked load of the gather, unaligned) */
    int S = (int)(DZ_GW - K1 + 1 < 64 / W ? DZ_GW - K1 + 1 : 64 / W);
    if (S < 2 || DZ_GW > W)
        return;
    int64_t blk = (g->C * K0 * DZ_GW + W - 1) / W * W, ng = (ow + S - 1) / S;
    double z = (double)g->osz * (double)g->F / (double)win, pairs = (double)(g->C * oh * K0);
    double flat = z * (double)nv + (double)(g->osz * nv) + 2.0 * pairs * (double)ow;
    double grp = z * (double)(blk / W) + (double)(oh * ng * blk / W) + 2.0 * pairs * (double)ng;
    if (blk / W > 24 || grp >= flat)
        return;
    g->dz_grp = true;
    g->dz_s = S;
    g->dz_blk = blk;
    g->dz_ng = ng;
    g->dz_nv = (int)(blk / W);
    g->scratch = g->dc_off + 16 + oh * ng * blk + 16 + g->F * blk;
}

/* The cost rule, in FMA slots per sample: the sweep costs its tiles over
 * the padded plane (C rows, F*K steps); the GEMM its tiles over the span
 * (K rows, F steps, C times), plus the gather (C*K loads of 2 slots per
 * vector of the plane).  The GEMM wins where the plane is much larger
 * than the span or C is small: lenet c3 and cifar10_conv c3 29000 slots
 * against 44800; cifar10_wide c3/c4 417k/834k against 435k/871k
 * (measured a few % faster); cifar10_wide c2 808k against 757k (the
 * sweep stays).  A layer whose dx is never computed keeps the sweep (no
 * scratch for dcol). */
void dgrad_plan(const emitter *e, const ir_layer *ly, fgeom *g)
{
    const simd_target *v = e->simd;
    int m = 1, n = 1;
    if (!conv_has_dx(e, ly))
        return;
    double sweep = sweep_tile(v, g->C, g->psz, &m, &n) * (double)(g->F * g->K);
    double gemm = sweep_tile(v, g->K, g->span, &m, &n) * (double)(g->F * g->C);
    int64_t vecs = (g->psz + v->width - 1) / v->width;
    gemm += 2.0 * (double)(g->C * g->K * vecs);
    int cm = 1, cn = 1;
    double comp = compact_cost(v, g, ly->out.d[ly->nsp], vecs, &cm, &cn);
    if (comp <= 0 || comp >= gemm)
        comp = rows_cost(v, ly, g, &cm, &cn);
    if (comp > 0 && comp < gemm) {
        g->dgc = comp < sweep;
        g->dgr = g->dgc && !g->strided;
        gemm = comp;
        m = cm;
        n = cn;
    }
    g->dgemm = gemm < sweep;
    if (!g->dgemm)
        return;
    g->dg_mb = m;
    g->dg_nv = n;
    g->dc_off = (g->scratch + 15) / 16 * 16;
    g->scratch = g->dc_off + (g->dgr ? 0 : g->K * g->gplane) + (g->dgc ? g->K * g->osz : 0);
    sparse_plan(e, ly, g);
}

/* dc[j][M + p..M + p + T) = sum_f w[f*R + j] * G[f][M + p..], j < mb. */
static void gemm_tile(emitter *e, const ir_layer *ly, const fgeom *g, int mb)
{
    const simd_target *v = e->simd;
    int W = v->width, nv = g->dg_nv;
    int64_t gs = g->dgc ? g->osz : g->gplane, go = g->dgc ? 0 : g->M;
    emit(e, "CNNC_KERNEL static inline void %s_dgm_%d(const float *restrict gi, const float *restrict w,",
         ly->name, mb);
    emit(e, "    float *restrict dc, int p)");
    emit(e, "{");
    for (int m = 0; m < mb; m++)
        for (int j = 0; j < nv; j++)
            emit(e, "%s %s = %s;", v->vec, vname("a", m, j), v->zero);
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit(e, "const float *gf = gi + f * %lld + %lld + p;", (long long)gs, (long long)go);
    emit(e, "const float *wf = w + f * %lld;", (long long)g->R);
    for (int j = 0; j < nv; j++)
        emit(e, "const %s x%d = %s;", v->vec, j, simd(v->load, arena_printf(emit_arena, "gf + %d", j * W), 0, 0));
    for (int m = 0; m < mb; m++) {
        emit(e, "const %s w%d = %s;", v->vec, m, simd(v->splat, arena_printf(emit_arena, "wf[%d]", m), 0, 0));
        for (int j = 0; j < nv; j++) {
            const char *a = vname("a", m, j);
            emit(e, "%s = %s;", a, simd(v->fma, arena_printf(emit_arena, "w%d", m),
                                        arena_printf(emit_arena, "x%d", j), a));
        }
    }
    emit(e, "}");
    for (int m = 0; m < mb; m++)
        for (int j = 0; j < nv; j++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "dc + %lld + p",
                                                      (long long)(m * gs + go + j * W)),
                               vname("a", m, j), 0));
    emit(e, "}");
    emit_blank(e);
}

/* dxp[c][q..q+W) = sum_k dc[k][M + q - koff(k)..], for every vector of
 * the plane (the last shifted back to end at psz), two sums in turn. */
static void gather(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int64_t W = v->width;
    emit(e, "CNNC_KERNEL static inline void %s_dgx(float *restrict di, const float *restrict dc)", ly->name);
    emit(e, "{");
    emit(e, "for (int q0 = 0; q0 < %lld; q0 += %lld) {", (long long)g->psz, (long long)W);
    emit(e, "const int q = q0 < %lld ? q0 : %lld;", (long long)(g->psz - W), (long long)(g->psz - W));
    emit(e, "%s s0 = %s, s1 = %s;", v->vec, v->zero, v->zero);
    for (int64_t k = 0; k < g->K; k++) {
        const char *s = k % 2 ? "s1" : "s0";
        const char *at = arena_printf(emit_arena, "dc + %lld + q", (long long)(k * g->gplane + g->M - g->koff[k]));
        emit(e, "%s = %s;", s, simd(v->add, s, simd(v->load, at, 0, 0), 0));
    }
    emit(e, "%s", simd(v->store, "di + q", simd(v->add, "s0", "s1", 0), 0));
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* Stride 2: a vector of dcc interleaved with zeros (the positions
 * between outputs, zero in dcol anyway) is two stores; the tail masked
 * where the flavour can.  Returns the outputs done. */
static int64_t spread_zip(emitter *e, int64_t ow)
{
    const simd_target *v = e->simd;
    int64_t W = v->width, vw = ow / W * W, rem = ow - vw;
    if (vw) {
        emit(e, "for (int q = 0; q < %lld; q += %lld) {", (long long)vw, (long long)W);
        emit(e, "const %s a = %s;", v->vec, simd(v->load, "s + q", 0, 0));
        emit(e, "%s", simd(v->store, "d + 2 * q", simd(v->zip_lo, "a", v->zero, 0), 0));
        emit(e, "%s", simd(v->store, arena_printf(emit_arena, "d + 2 * q + %lld", (long long)W),
                           simd(v->zip_hi, "a", v->zero, 0), 0));
        emit(e, "}");
    }
    if (!rem || !v->loadn || !v->storen)
        return vw;
    const char *n = arena_printf(emit_arena, "%lld", (long long)rem);
    emit(e, "{");
    emit(e, "const %s a = %s;", v->vec, simd(v->loadn, arena_printf(emit_arena, "s + %lld", (long long)vw), n, 0));
    int64_t lo = 2 * rem < W ? 2 * rem : W, hi = 2 * rem - lo;
    const char *at = arena_printf(emit_arena, "d + %lld", (long long)(2 * vw));
    emit(e, "%s", lo < W ? simd(v->storen, at, simd(v->zip_lo, "a", v->zero, 0), arena_printf(emit_arena, "%lld", (long long)lo))
                         : simd(v->store, at, simd(v->zip_lo, "a", v->zero, 0), 0));
    if (hi)
        emit(e, "%s", simd(v->storen, arena_printf(emit_arena, "d + %lld", (long long)(2 * vw + W)),
                           simd(v->zip_hi, "a", v->zero, 0), arena_printf(emit_arena, "%lld", (long long)hi)));
    emit(e, "}");
    return ow;
}

/* dcol[k][M + p(o)] = dcc[k][o] for every tap and output, row by row
 * (NAME_prow: the flat position of each output row, emit_convwg.c). */
static void spread(emitter *e, const ir_layer *ly, const fgeom *g)
{
    int64_t ow = ly->out.d[ly->nsp];
    emit(e, "CNNC_KERNEL static inline void %s_dgs(float *restrict dc, const float *restrict dcc)", ly->name);
    emit(e, "{");
    emit(e, "for (int k = 0; k < %lld; k++)", (long long)g->K);
    emit(e, "    for (int r = 0; r < %lld; r++) {", (long long)(g->osz / ow));
    emit(e, "float *d = dc + k * %lld + %lld + %s_prow[r];", (long long)g->gplane, (long long)g->M, ly->name);
    emit(e, "const float *s = dcc + k * %lld + r * %lld;", (long long)g->osz, (long long)ow);
    int64_t done = g->sl == 2 ? spread_zip(e, ow) : 0;
    if (done < ow) {
        emit(e, "for (int q = %lld; q < %lld; q++)", (long long)done, (long long)ow);
        emit(e, "    d[q * %lld] = s[q];", (long long)g->sl);
    }
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* The row gathers (dgr, dgz): the loop over the padded rows y of dxp and
 * the kernel rows k0 in [ka, kb] whose output row y - k0*d0 exists. */
static void gather_rows_open(emitter *e, const ir_layer *ly)
{
    int64_t ph = ly->padded.d[1], oh = ly->out.d[1], K0 = ly->kernel[0], d0 = ly->dilation[0];
    emit(e, "for (int y = 0; y < %lld; y++) {", (long long)ph);
    emit(e, "const int ka = y < %lld ? 0 : (y - %lld) / %lld;", (long long)oh, (long long)(oh - d0), (long long)d0);
    emit(e, "const int kb = y / %lld < %lld ? y / %lld : %lld;", (long long)d0, (long long)(K0 - 1), (long long)d0,
         (long long)(K0 - 1));
}

/* ... and the row's sum stored whole (zeros past pw), closing the loop. */
static void gather_row_store(emitter *e, const ir_layer *ly, const char *sum)
{
    const simd_target *v = e->simd;
    int64_t pw = ly->padded.d[2];
    const char *at = arena_printf(emit_arena, "di + y * %lld", (long long)pw);
    if (pw == v->width)
        emit(e, "%s", simd(v->store, at, sum, 0));
    else
        emit(e, "%s", simd(v->storen, at, sum, arena_printf(emit_arena, "%lld", (long long)pw)));
    emit(e, "}");
}

/* dgr: dxp row y = sum over taps (k0, k1) with o0 = y - k0*d0 an output
 * row of dcc[k0*K1 + k1][o0][..] in lanes k1*d1 .. k1*d1 + ow (every
 * lane of the row, zeros past pw: stored whole). */
static void row_gather(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int64_t ow = ly->out.d[2], K1 = ly->kernel[1], d0 = ly->dilation[0], d1 = ly->dilation[1];
    emit(e, "CNNC_KERNEL static inline void %s_dgr(float *restrict di, const float *restrict dcc)", ly->name);
    emit(e, "{");
    gather_rows_open(e, ly);
    emit(e, "%s s0 = %s, s1 = %s;", v->vec, v->zero, v->zero);
    emit(e, "for (int k0 = ka; k0 <= kb; k0++) {");
    emit(e, "const float *r = dcc + (size_t)k0 * %lld + (size_t)(y - k0 * %lld) * %lld;", (long long)(K1 * g->osz),
         (long long)d0, (long long)ow);
    for (int64_t k1 = 0; k1 < K1; k1++) {
        const char *s = k1 % 2 ? "s1" : "s0";
        unsigned long long mask = ((1ull << ow) - 1ull) << (k1 * d1);
        const char *at = arena_printf(emit_arena, "r + %lld", (long long)(k1 * g->osz - k1 * d1));
        emit(e, "%s = %s;", s, simd(v->add, s, simd(v->loadm, at, arena_printf(emit_arena, "0x%llxu", mask), 0), 0));
    }
    emit(e, "}");
    gather_row_store(e, ly, simd(v->add, "s0", "s1", 0));
    emit(e, "}");
    emit_blank(e);
}

/* dgz, one output: a += GT[p(o)][f] * w[f][0..R) for each f whose lane
 * of GT is not zero (the bits of nzmask, lowest first). */
static void sparse_filters(emitter *e, const fgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width, nv = g->dz_nv;
    emit(e, "for (int f0 = 0; f0 < %lld; f0 += %d) {", (long long)g->Fp, W);
    emit(e, "unsigned m = %s;", simd(v->nzmask, simd(v->load, "gp + f0", 0, 0), 0, 0));
    emit(e, "while (m) {");
    emit(e, "const int f = f0 + __builtin_ctz(m);");
    emit(e, "m &= m - 1u;");
    emit(e, "const %s gv = %s;", v->vec, simd(v->splat, "gp[f]", 0, 0));
    emit(e, "const float *wf = wz + (size_t)f * %lld;", (long long)g->dz_rp);
    for (int j = 0; j < nv; j++) {
        const char *wv = simd(v->load, arena_printf(emit_arena, "wf + %d", j * W), 0, 0);
        emit(e, "%s = %s;", vname("a", j, 0), simd(v->fma, "gv", wv, vname("a", j, 0)));
    }
    emit(e, "}");
    emit(e, "}");
}

/* dgz: dz[o][0..R) for every output o of a sample, from its GT. */
static void sparse_gemm(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int64_t pw = ly->padded.d[2], oh = ly->out.d[1], ow = ly->out.d[2];
    emit(e, "CNNC_KERNEL static inline void %s_dgz(const float *restrict gt, const float *restrict wz,", ly->name);
    emit(e, "    float *restrict dz)");
    emit(e, "{");
    emit(e, "for (int o0 = 0; o0 < %lld; o0++)", (long long)oh);
    emit(e, "    for (int o1 = 0; o1 < %lld; o1++) {", (long long)ow);
    emit(e, "const float *gp = gt + (size_t)(o0 * %lld + o1) * %lld;", (long long)pw, (long long)g->Fp);
    for (int j = 0; j < g->dz_nv; j++)
        emit(e, "%s %s = %s;", v->vec, vname("a", j, 0), v->zero);
    sparse_filters(e, g);
    emit(e, "float *d = dz + (size_t)(o0 * %lld + o1) * %lld;", (long long)ow, (long long)g->dz_rp);
    for (int j = 0; j < g->dz_nv; j++)
        emit(e, "%s", simd(v->store, arena_printf(emit_arena, "d + %d", j * v->width), vname("a", j, 0), 0));
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* dgz: dxp row y of map c (dz offset by c*K) = sum over k0 with o0 = y -
 * k0*d0 an output row and every o1 of dz[o0][o1][k0*K1 .. +K1) loaded
 * into lanes o1 .. o1 + K1 (every lane of the row, stored whole). */
/* The dz row gathers (flat and grouped): NAME_dgzr's head, the loops
 * over the rows y of dxp and the kernel rows k0 reaching them, and r, the
 * start of output row y - k0*d0's run for k0 (row floats apart, k0 floats
 * per kernel row); the caller adds r's loads into s0..s3. */
static void dgzr_open(emitter *e, const ir_layer *ly, int64_t row, int64_t k0f)
{
    const simd_target *v = e->simd;
    emit(e, "CNNC_KERNEL static inline void %s_dgzr(float *restrict di, const float *restrict dz)", ly->name);
    emit(e, "{");
    gather_rows_open(e, ly);
    emit(e, "%s s0 = %s, s1 = %s, s2 = %s, s3 = %s;", v->vec, v->zero, v->zero, v->zero, v->zero);
    emit(e, "for (int k0 = ka; k0 <= kb; k0++) {");
    emit(e, "const float *r = dz + (size_t)(y - k0 * %lld) * %lld + (size_t)k0 * %lld;", (long long)ly->dilation[0],
         (long long)row, (long long)k0f);
}

/* ... and the row's sum stored, closing NAME_dgzr. */
static void dgzr_close(emitter *e, const ir_layer *ly)
{
    const simd_target *v = e->simd;
    emit(e, "}");
    gather_row_store(e, ly, simd(v->add, simd(v->add, "s0", "s1", 0), simd(v->add, "s2", "s3", 0), 0));
    emit(e, "}");
    emit_blank(e);
}

static void sparse_gather(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int64_t ow = ly->out.d[2], K1 = ly->kernel[1];
    dgzr_open(e, ly, ow * g->dz_rp, K1);
    for (int64_t o1 = 0; o1 < ow; o1++) {
        const char *s = arena_printf(emit_arena, "s%d", (int)(o1 % 4));
        unsigned long long mask = ((1ull << K1) - 1ull) << o1;
        const char *at = arena_printf(emit_arena, "r + %lld", (long long)(o1 * (g->dz_rp - 1)));
        emit(e, "%s = %s;", s, simd(v->add, s, simd(v->loadm, at, arena_printf(emit_arena, "0x%llxu", mask), 0), 0));
    }
    dgzr_close(e, ly);
}

/* Grouped dgz: dz[o0][q][..blk) for every group q of S outputs of row o0:
 * each filter f nonzero at output x0 + s adds GT * wz[f] from s floats
 * early (wz's blocks follow 16 zeros; every run's lanes past K1 are
 * zero, so the shifted load brings in zeros only). */
static void group_gemm(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width, S = g->dz_s;
    int64_t pw = ly->padded.d[2], oh = ly->out.d[1], ow = ly->out.d[2];
    emit(e, "CNNC_KERNEL static inline void %s_dgz(const float *restrict gt, const float *restrict wz,", ly->name);
    emit(e, "    float *restrict dz)");
    emit(e, "{");
    emit(e, "for (int o0 = 0; o0 < %lld; o0++)", (long long)oh);
    emit(e, "    for (int q = 0; q < %lld; q++) {", (long long)g->dz_ng);
    emit(e, "const int x0 = q * %d;", S);
    emit(e, "const float *gq = gt + (size_t)(o0 * %lld + x0) * %lld;", (long long)pw, (long long)g->Fp);
    for (int j = 0; j < g->dz_nv; j++)
        emit(e, "%s %s = %s;", v->vec, vname("a", j, 0), v->zero);
    emit(e, "for (int f0 = 0; f0 < %lld; f0 += %d) {", (long long)g->Fp, W);
    emit(e, "unsigned long long m = 0;");
    for (int s = 0; s < S; s++) {
        if (s)
            emit(e, "if (x0 + %d < %lld)", s, (long long)ow);
        emit(e, "    m |= (unsigned long long)%s << %d;",
             simd(v->nzmask, simd(v->load, arena_printf(emit_arena, "gq + %lld + f0", (long long)(s * g->Fp)), 0, 0), 0, 0),
             s * W);
    }
    emit(e, "while (m) {");
    emit(e, "const int bit = __builtin_ctzll(m), s = bit / %d, f = f0 + bit %% %d;", W, W);
    emit(e, "m &= m - 1u;");
    emit(e, "const %s gv = %s;", v->vec, simd(v->splat, arena_printf(emit_arena, "gq[s * %lld + f]", (long long)g->Fp), 0, 0));
    emit(e, "const float *wf = wz + (size_t)f * %lld - s;", (long long)g->dz_blk);
    for (int j = 0; j < g->dz_nv; j++) {
        const char *wv = simd(v->load, arena_printf(emit_arena, "wf + %d", j * W), 0, 0);
        emit(e, "%s = %s;", vname("a", j, 0), simd(v->fma, "gv", wv, vname("a", j, 0)));
    }
    emit(e, "}");
    emit(e, "}");
    emit(e, "float *d = dz + (size_t)(o0 * %lld + q) * %lld;", (long long)g->dz_ng, (long long)g->dz_blk);
    for (int j = 0; j < g->dz_nv; j++)
        emit(e, "%s", simd(v->store, arena_printf(emit_arena, "d + %d", j * W), vname("a", j, 0), 0));
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* Grouped dgz: dxp row y of map c (dz offset by c*K0*DZ_GW) = sum over k0
 * with o0 = y - k0*d0 an output row and every group q of the run
 * dz[o0][q][k0*DZ_GW ..) loaded into lanes q*S .. q*S + DZ_GW (those
 * inside the row). */
static void group_gather(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int64_t pw = ly->padded.d[2], lanes = pw < v->width ? pw : v->width;
    dgzr_open(e, ly, g->dz_ng * g->dz_blk, DZ_GW);
    for (int64_t q = 0; q < g->dz_ng; q++) {
        const char *s = arena_printf(emit_arena, "s%d", (int)(q % 4));
        unsigned long long mask = (((1ull << DZ_GW) - 1ull) << (q * g->dz_s)) & ((1ull << lanes) - 1ull);
        const char *at = arena_printf(emit_arena, "r + %lld", (long long)(q * g->dz_blk - q * g->dz_s));
        emit(e, "%s = %s;", s, simd(v->add, s, simd(v->loadm, at, arena_printf(emit_arena, "0x%llxu", mask), 0), 0));
    }
    dgzr_close(e, ly);
}

void emit_dgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g)
{
    if (g->dgz && g->dz_grp) {
        group_gemm(e, ly, g);
        group_gather(e, ly, g);
        return;
    }
    if (g->dgz) {
        sparse_gemm(e, ly, g);
        sparse_gather(e, ly, g);
        return;
    }
    gemm_tile(e, ly, g, g->dg_mb);
    if (g->K % g->dg_mb)
        gemm_tile(e, ly, g, (int)(g->K % g->dg_mb));
    if (g->dgr) {
        row_gather(e, ly, g);
        return;
    }
    gather(e, ly, g);
    if (g->dgc)
        spread(e, ly, g);
}

/* One block of nr rows from k0 of map c: the GEMM over every tile of the
 * span (the last shifted back to end at span). */
static void block_calls(emitter *e, const fgeom *g, const ir_layer *ly, int64_t k0, int64_t nr)
{
    int64_t T = g->dg_nv * e->simd->width, n = g->dgc ? g->osz : g->span;
    emit(e, "for (int p = 0; p < %lld; p += %lld)", (long long)n, (long long)T);
    emit(e, "    %s_dgm_%lld(gi, w + c0 * %lld + %lld, %s + %lld, p < %lld ? p : %lld);", ly->name,
         (long long)nr, (long long)g->K, (long long)k0, g->dgc ? "dcc" : "dc",
         (long long)(k0 * (g->dgc ? g->osz : g->gplane)), (long long)(n - T), (long long)(n - T));
}

/* dgz: dz and wz (the weights, each filter's R floats padded with zeros
 * to dz_rp: aligned loads, none across a cache line) at a 64-byte
 * boundary after dc_off. */
static void sparse_begin(emitter *e, const ir_layer *ly, const fgeom *g)
{
    if (g->dz_grp) { /* wz after dz: 16 zeros, then per filter the runs of every (c, k0) */
        int64_t K0 = ly->kernel[0], K1 = ly->kernel[1];
        emit(e, "float *restrict dz = (float *)(void *)(((uintptr_t)(c->cs + (size_t)i0 * %lld + %lld) + 63u) & "
                "~(uintptr_t)63u);", (long long)e->cs_max, (long long)g->dc_off);
        emit(e, "float *restrict wz = dz + %lld;", (long long)(ly->out.d[1] * g->dz_ng * g->dz_blk + 16));
        emit(e, "if (dx && i1 > i0) {");
        emit(e, "memset(wz - 16, 0, sizeof(float) * %lld);", (long long)(16 + g->F * g->dz_blk));
        emit(e, "for (int f = 0; f < %lld; f++)", (long long)g->F);
        emit(e, "    for (int r = 0; r < %lld; r++)", (long long)(g->C * K0));
        emit(e, "        memcpy(wz + (size_t)f * %lld + r * %d, w + (size_t)f * %lld + r * %lld, sizeof(float) * %lld);",
             (long long)g->dz_blk, DZ_GW, (long long)g->R, (long long)K1, (long long)K1);
        emit(e, "}");
        return;
    }
    emit(e, "float *restrict dz = (float *)(void *)(((uintptr_t)(c->cs + (size_t)i0 * %lld + %lld) + 63u) & "
            "~(uintptr_t)63u);", (long long)e->cs_max, (long long)g->dc_off);
    emit(e, "float *restrict wz = dz + %lld;", (long long)(g->osz * g->dz_rp));
    emit(e, "if (dx && i1 > i0)");
    emit(e, "    for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit(e, "memcpy(wz + (size_t)f * %lld, w + (size_t)f * %lld, sizeof(float) * %lld);", (long long)g->dz_rp,
         (long long)g->R, (long long)g->R);
    if (g->dz_rp > g->R)
        emit(e, "memset(wz + (size_t)f * %lld + %lld, 0, sizeof(float) * %lld);", (long long)g->dz_rp,
             (long long)g->R, (long long)(g->dz_rp - g->R));
    emit(e, "}");
}

/* Before the samples: dcol's zero margins, in the scratch of the lane's
 * first sample. */
void emit_dgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g)
{
    (void)ly;
    if (!g->dgemm)
        return;
    if (g->dgz) {
        sparse_begin(e, ly, g);
        return;
    }
    if (g->dgr) {
        emit(e, "float *restrict dcc = c->cs + (size_t)i0 * %lld + %lld;", (long long)e->cs_max,
             (long long)g->dc_off);
        return;
    }
    emit(e, "float *restrict dc = c->cs + (size_t)i0 * %lld + %lld;", (long long)e->cs_max, (long long)g->dc_off);
    emit(e, "if (dx && i1 > i0)");
    emit(e, "    memset(dc, 0, sizeof(float) * %lld);", (long long)(g->K * g->gplane));
    if (g->dgc)
        emit(e, "float *restrict dcc = dc + %lld;", (long long)(g->K * g->gplane));
}

/* The data gradient of sample i: gi its G, di its dxp. */
void emit_dgrad_sample(emitter *e, const ir_layer *ly, const fgeom *g)
{
    if (g->dgz) {
        emit(e, "%s_dgz(gi + %lld, wz, dz);", ly->name, (long long)g->gt_off);
        emit(e, "for (int c0 = 0; c0 < %lld; c0++)", (long long)g->C);
        emit(e, "    %s_dgzr(di + c0 * %lld, dz + c0 * %lld);", ly->name, (long long)g->psz,
             (long long)(g->dz_grp ? ly->kernel[0] * DZ_GW : g->K));
        return;
    }
    int64_t full = g->K / g->dg_mb * g->dg_mb;
    emit(e, "for (int c0 = 0; c0 < %lld; c0++) {", (long long)g->C);
    for (int64_t k0 = 0; k0 < full; k0 += g->dg_mb)
        block_calls(e, g, ly, k0, g->dg_mb);
    if (full < g->K)
        block_calls(e, g, ly, full, g->K - full);
    if (g->dgr)
        emit(e, "%s_dgr(di + c0 * %lld, dcc);", ly->name, (long long)g->psz);
    else if (g->dgc)
        emit(e, "%s_dgs(dc, dcc);", ly->name);
    if (!g->dgr)
        emit(e, "%s_dgx(di + c0 * %lld, dc);", ly->name, (long long)g->psz);
    emit(e, "}");
}
