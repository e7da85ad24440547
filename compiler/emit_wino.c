/* emit_wino.c - Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions of 2-D
 * stride-1 3x3 layers (Lavin & Gray 2015), chosen over the flat-grid
 * sweep of emit_fast.c by wino_plan; F4 where its tiles fill a vector
 * (wino_m; the F4 transforms are described before emit_wi4), in all three
 * passes (the weight gradient: before emit_wng4).  F2 first:
 *
 * The output is cut into th x tw tiles of 2 x 2; tile (ty, tx) reads the
 * 4 x 4 input patch d at rows 2ty.., columns 2tx.. of the padded input and
 *
 *   Y = AT [ sum_c (G w[f][c] GT) .* (BT d[c] B) ] A
 *
 * The element-wise product summed over c is, for each of the 16 positions
 * (a, b) of the 4 x 4 transformed tile, a GEMM
 *   M[ab][f][t] = sum_c U[ab][f][c] * V[ab][c][t]
 * which is the sweep's tile of emit_fast.c with one tap: filters by vectors
 * of tiles, broadcast U, loaded V.  It does 16 multiply-adds per 4 outputs
 * and input map against 36 for the direct convolution (2.25x fewer).
 *
 * Per lane and call, U = G w GT for every (f, c) (scalar code; the weights
 * change every step).  Per sample, in chunks of wn_rows tile rows:
 *   1. the chunk's input rows are copied into a staging buffer whose rows
 *      are padded to whole vectors of tiles, with zeros beyond the input,
 *      so the transform reads no bounds;
 *   2. V = BT d B, with the tiles of one tile row in the vector lanes
 *      (pick2 gathers every other column), stored at t = ty * tw + tx; a
 *      row's last vector runs into the next row's slots, which that row
 *      then overwrites (the chunk's buffers have a vector of slack);
 *   3. the 16 GEMMs;
 *   4. Y = AT M A + bias, with the activation: zip_lo / zip_hi interleave
 *      the two output columns of each tile into rows of y; outputs of
 *      tiles that stick out of the output (odd sizes) are not stored. */
#include "emit_conv.h"

static const double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const double AT4[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double G4[6][3] = {{0.25, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};

/* G of F(m x m, 3x3): (m + 2) x 3. */
static const double (*g_of(int m))[3]
{
    return m == 2 ? G2 : G4;
}

/* static const float G[m + 2][3] in the generated C, from g_of(m) (the
 * literals as lincomb prints them, so scalar and SIMD code use the same
 * floats). */
static void emit_g_table(emitter *e, int m)
{
    const double(*G)[3] = g_of(m);
    const char *rows = "";
    for (int a = 0; a < m + 2; a++)
        rows = arena_printf(emit_arena, "%s%s{%#.9gf, %#.9gf, %#.9gf}", rows, a ? ", " : "", G[a][0], G[a][1], G[a][2]);
    emit(e, "static const float G[%d][3] = {%s};", m + 2, rows);
}

static int64_t round16(int64_t n)
{
    return (n + 15) / 16 * 16;
}

/* Where Winograd pays: 2-D, 3x3, stride and dilation 1, at least 8 input
 * and 16 output maps, and two vectors of tiles.  Measured (bench/layers.py,
 * AVX-512, batch 64, 32x32 and 16x16, zero padding; ms per batch, sweep
 * -> Winograd): 8 -> 16 maps at 32x32 forward 1.87 -> 1.59, backward 5.43
 * -> 5.09; 8 -> 16 at 16x16 0.43 -> 0.40, 1.11 -> 1.06; but 8 -> 8 and
 * 16 -> 8 lose in the backward pass (1.02 -> 2.24 for a first layer's
 * weight gradient, 0.93 -> 1.20): its tiles hold the filters in the
 * lanes, half of them idle with 8. */
bool wino_applies(const emitter *e, const ir_layer *ly, const fgeom *g)
{
    if (ly->kind != LK_CONV || ly->nsp != 2 || g->C < 8 || g->F < 16)
        return false;
    for (int a = 0; a < 2; a++)
        if (ly->kernel[a] != 3 || ly->stride[a] != 1 || ly->dilation[a] != 1)
            return false;
    int64_t th = (ly->out.d[1] + 1) / 2, tw = (ly->out.d[2] + 1) / 2;
    return th * tw >= 2 * e->simd->width;
}

/* Chunks of whole tile rows (V and M of a chunk in L2): the fewest tile
 * slots of the GEMMs, whose last vector of each chunk is shifted back
 * (at most 128 tiles a chunk, at least a vector; then the nearest to
 * 64); scratch from base. */
static int64_t chunk_rows(int W, const wconv *w)
{
    int64_t best = 0, bslots = 0, bdist = 0;
    for (int64_t nr = 1; nr <= w->th; nr++) {
        int64_t T = nr * w->tw;
        if ((T > 128 && nr > 1) || (T < W && nr < w->th))
            continue;
        int64_t slots = (w->th + nr - 1) / nr * ((T + W - 1) / W), dist = T > 64 ? T - 64 : 64 - T;
        if (!best || slots < bslots || (slots == bslots && dist < bdist)) {
            best = nr;
            bslots = slots;
            bdist = dist;
        }
    }
    return best;
}

/* The sweep's rows per tile: M holds one block of them (all 16 positions)
 * at a time. */
static int wconv_mb(const simd_target *v, const wconv *w)
{
    int mb = 1, nv = 1;
    sweep_tile(v, w->fout, w->nr * w->tw, &mb, &nv);
    return mb;
}

/* Transformed positions of a tile: (m + 2)^2. */
static int npos(const wconv *w)
{
    return (w->m + 2) * (w->m + 2);
}

/* Staged input rows of a chunk: m per tile row and 2 more, and 2 more
 * again where tile rows go in pairs (the pair after the last may run past
 * the chunk). */
static int64_t srows(const wconv *w)
{
    return w->m * w->nr + 2 + (w->pair ? 2 : 0);
}

/* The gather in registers, where the flavour permutes across two vectors
 * (perm2, AVX-512) and a vector of tiles is whole tile rows of 4 or 8
 * tiles (cifar10_wide's c3/c4: 4 rows of 4, c2: 2 rows of 8).  The memcpy
 * and scalar gather through dd above cost about 1,000 cycles a map in c4
 * (clang: 4-float stores read back as vectors, a scalar shift, gathers and
 * scatters for the last tile's columns), as much as the GEMM. */
static bool wi4_in_regs(const simd_target *v, const wconv *w)
{
    return v->perm2 && v->width == 16 && (w->tw == 4 || w->tw == 8) && w->nr * w->tw % 16 == 0 &&
           w->pitch >= 4 * w->tw + 2;
}

/* wi4_in_regs, and the flavour has masked loads: NAME_w4i reads the
 * source rows itself (zeros by the lane masks), and there is no NAME_wns.
 * The staging copied every map's rows once more for each of the three
 * passes (7 % of ./cifar10_wide step's samples with the gather in
 * registers). */
static bool wi4_direct(const simd_target *v, const wconv *w)
{
    return w->m == 4 && wi4_in_regs(v, w) && v->loadm;
}

/* Floats of a chunk's staged rows: none where NAME_w4i reads the source. */
static int64_t staged_floats(const simd_target *v, const wconv *w)
{
    return wi4_direct(v, w) ? 0 : round16(w->cin * srows(w) * w->pitch);
}

static void wconv_plan(const simd_target *v, wconv *w, int64_t u_base, int64_t t_base)
{
    int W = v->width, m = w->m;
    w->th = (w->out_rows + m - 1) / m;
    w->tw = (w->out_cols + m - 1) / m;
    int64_t nr = chunk_rows(W, w);
    w->nr = nr;
    w->nvec = (w->tw + W - 1) / W;
    /* F2 loads whole vectors of tiles; F4 gathers scalars */
    w->pitch = m == 2 ? 2 * w->nvec * W + 2 : m * w->tw + 2;
    if (w->pitch < w->in_pitch)
        w->pitch = w->in_pitch;
    /* F2's rows of tiles run a vector into the next row's slots; F4 stores
     * exactly the chunk's tiles (c4: V 147 KB instead of 295, M 36 KB) */
    w->vp = round16(nr * w->tw + (m == 2 ? W : 0));
    w->u_off = round16(u_base);
    w->s_off = round16(t_base);
    w->pair = m == 2 && v->cat_lo && 2 * w->tw == W;
    w->v_off = w->s_off + staged_floats(v, w);
    w->m_off = w->v_off + round16(npos(w) * w->cin * w->vp);
    w->end = w->m_off + npos(w) * wconv_mb(v, w) * w->vp;
}

/* F(4x4, 3x3) where its tiles fill a vector, else F(2x2, 3x3) (all three
 * passes the same: the weight gradient shares the forward's chunks and
 * input transform).  F4 does
 * 36 multiply-adds per 16 outputs and map pair against F2's 16 per 4
 * (44 % fewer); its transforms cost about as much per output but gather
 * and scatter through L1 (NAME_w4i, NAME_w4y).  cifar10_wide on AVX-512
 * (bench/layers.py, ms per batch of 64, F2 -> F4): c2 forward 8.3 ->
 * 6.9, c3 3.5 -> 2.95, c4 6.9 -> 5.5. */
static int wino_m(const simd_target *v, const wconv *w)
{
    int64_t t4 = (w->out_rows + 3) / 4 * ((w->out_cols + 3) / 4);
    return t4 >= v->width ? 4 : 2;
}

/* The forward pass: U from 0, then its chunk's buffers.  Where the layer
 * has a data gradient, that too: dxp[c] = sum_f w[f][c] flipped (*) G[f],
 * G's plane read as rows of pw from 0 (outputs at M = 2 rows + 2), the
 * padded plane's ph x pw positions out (or only the input's, where unpad
 * reads nothing else).  The backward pass's scratch, after G and GT: its
 * U, dUT (weight gradient), then the chunk buffers of the data gradient
 * or of the weight gradient (one at a time; the staging buffers zero
 * their own margins). */
/* The data-gradient Winograd conv g->wd (G correlated with the flipped
 * weights into the padded dx), computing only the interior the unpad reads;
 * returns the floats of its transformed weights U (0 without it). */
static int64_t wino_plan_dx(const simd_target *v, const ir_layer *ly, fgeom *g)
{
    int64_t pw = ly->padded.d[2], ph = ly->padded.d[1];
    if (!g->wino_dx)
        return 0;
    g->dgemm = g->dgc = g->dgr = false; /* Winograd reads the flat G */
    g->wd = (wconv){arena_printf(emit_arena, "%s_d", ly->name), g->F, g->C, g->gplane, pw, g->gplane / pw,
                    ph, pw, g->psz, pw, 0, pw, 0, false, true, ACT_NONE, 0, 0, 0, 0, 0, 0, false, 0, 0, 0, 0, 0, 2,
                    0, 0, 0, 0};
    if (ly->pad == PAD_VALID || ly->pad == PAD_ZERO || ly->pad == PAD_SAME) {
        /* unpad reads only the interior: compute that */
        int64_t oy = ly->pad_lo[0], ox = ly->pad_lo[1];
        g->wd.out_rows = ly->in.d[1];
        g->wd.out_cols = ly->in.d[2];
        g->wd.out_off = g->wd.in_off = oy * pw + ox;
        g->wd.in_rows -= oy;
        g->wd.in_cols -= ox;
        if (layer_has_pad(ly)) { /* straight into dx: no dxp, no unpad */
            g->wd_direct = true;
            g->wd.out_plane = ly->in.d[1] * ly->in.d[2];
            g->wd.out_pitch = ly->in.d[2];
            g->wd.out_off = 0;
        }
    }
    g->wd.m = wino_m(v, &g->wd);
    return npos(&g->wd) * g->F * g->C;
}

/* Scratch offsets of the weight-gradient pass (dU, then S, V, GTT) after
 * the nu floats of U at base; returns the scratch floats needed, at least
 * need. */
static int64_t wino_plan_scratch(const simd_target *v, fgeom *g, int64_t base, int64_t nu, int64_t need)
{
    g->wg_dut = round16(base) + round16(nu);
    int64_t t0 = g->wg_dut + round16(npos(&g->wf) * g->C * g->Fp);
    if (g->wino_dx) {
        wconv_plan(v, &g->wd, base, t0);
        if (g->wd.end > need)
            need = g->wd.end;
    }
    int64_t T = g->wf.nr * g->wf.tw;
    g->wg_s = t0;
    g->wg_v = g->wg_s + staged_floats(v, &g->wf);
    g->wg_gtt = g->wg_v + round16(npos(&g->wf) * g->C * g->wf.vp);
    if (g->wg_gtt + npos(&g->wf) * T * g->Fp > need)
        need = g->wg_gtt + npos(&g->wf) * T * g->Fp;
    return need;
}

/* Whether the forward and weight-gradient staging read the unpadded x
 * (zero padding, written by NAME_wns): cifar10_wide's c2 spent a fifth
 * of its forward pass copying x into the padded buffer, which the staging
 * then copied again. */
static int64_t wino_x_plane(const ir_layer *ly)
{
    return ly->in.d[1] * ly->in.d[2];
}

static bool wino_reads_x(const ir_layer *ly)
{
    return layer_has_pad(ly) && (ly->pad == PAD_ZERO || ly->pad == PAD_SAME);
}

void wino_plan(const emitter *e, const ir_layer *ly, fgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width;
    if (!g->wino)
        return;
    int64_t pw = ly->padded.d[2], ph = ly->padded.d[1];
    g->wf = (wconv){ly->name, g->C, g->F, g->psz, pw, ph, ly->out.d[1], ly->out.d[2], g->osz, ly->out.d[2],
                    0, pw, 0, ly->bias, false, ly->act, 0, 0, 0, 0, 0, 0, false, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0};
    g->wf.m = wino_m(v, &g->wf);
    if (wino_reads_x(ly)) {
        g->wf.xt = ly->pad_lo[0];
        g->wf.xl = ly->pad_lo[1];
        g->wf.xh = ly->in.d[1];
        g->wf.xw = ly->in.d[2];
    }
    wconv_plan(v, &g->wf, 0, npos(&g->wf) * g->F * g->C);
    bool dx = conv_has_dx(e, ly);
    g->wino_dx = dx && (ph + 1) / 2 * ((pw + 1) / 2) >= 2 * W;
    int64_t base = g->wino_dx || !dx ? g->dwt_off : g->scratch;
    int64_t nu = wino_plan_dx(v, ly, g);
    g->scratch = wino_plan_scratch(v, g, base, nu, g->wf.end);
}

/* sum_k coef[k * stride] * x[k], k < n, as a SIMD expression (the terms
 * with coefficient 0 left out, +-1 as additions). */
static const char *lincomb(const simd_target *v, const double *coef, int stride, const char **x, int n)
{
    const char *acc = NULL;
    for (int k = 0; k < n; k++) {
        double c = coef[k * stride];
        if (c == 0)
            continue;
        const char *cs = simd(v->splat, arena_printf(emit_arena, "%#.9gf", c), 0, 0);
        if (!acc)
            acc = c == 1 ? x[k] : c == -1 ? simd(v->sub, v->zero, x[k], 0) : simd(v->fma, cs, x[k], v->zero);
        else if (c == 1)
            acc = simd(v->add, acc, x[k], 0);
        else if (c == -1)
            acc = simd(v->sub, acc, x[k], 0);
        else
            acc = simd(v->fma, cs, x[k], acc);
    }
    return acc ? acc : v->zero;
}

/* NAME_wnu: U[ab][o][i] = (G k GT)[a][b] with k = w[o][i], or w[i][o]
 * flipped.  The taps first go to kt[j][o][i] in u's last 9 planes, then U
 * a vector of (o, i) at a time: U's planes are [o][i] too, and each
 * vector reads its 9 taps before it stores the same positions of the
 * planes kt shares.  (A scalar loop per (o, i) took 370 cycles a pair:
 * c4's U twice a step, 2 % of ./cifar10_wide step, in every lane.) */
static void emit_wu(emitter *e, const wconv *w)
{
    const simd_target *v = e->simd;
    int n = w->m + 2, W = v->width;
    const double(*G)[3] = g_of(w->m);
    int64_t FC = w->fout * w->cin, full = FC / W * W;
    emit(e, "CNNC_KERNEL static void %s_wnu(const float *restrict w, float *restrict u)", w->name);
    emit(e, "{");
    emit(e, "float *kt = u + %lld;", (long long)((n * n - 9) * FC));
    emit(e, "for (int o = 0; o < %lld; o++)", (long long)w->fout);
    emit(e, "for (int ch = 0; ch < %lld; ch++) {", (long long)w->cin);
    if (w->flip)
        emit(e, "const float *q = w + ((size_t)ch * %lld + o) * 9;", (long long)w->fout);
    else
        emit(e, "const float *q = w + ((size_t)o * %lld + ch) * 9;", (long long)w->cin);
    emit(e, "for (int j = 0; j < 9; j++)");
    emit(e, "    kt[(size_t)j * %lld + o * %lld + ch] = q[%s];", (long long)FC, (long long)w->cin, w->flip ? "8 - j" : "j");
    emit(e, "}");
    emit(e, "for (int p = 0; p < %lld; p += %d) {", (long long)full, W);
    const char *k[9];
    for (int j = 0; j < 9; j++) {
        k[j] = arena_printf(emit_arena, "k%d", j);
        emit(e, "const %s k%d = %s;", v->vec, j,
             simd(v->load, arena_printf(emit_arena, "kt + %lld + p", (long long)j * FC), 0, 0));
    }
    for (int a = 0; a < n; a++) {
        const char *t[3];
        for (int j = 0; j < 3; j++) {
            const char *col[3] = {k[j], k[3 + j], k[6 + j]};
            t[j] = vname("t", a, j);
            emit(e, "const %s %s = %s;", v->vec, t[j], lincomb(v, G[a], 1, col, 3));
        }
        for (int b = 0; b < n; b++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "u + %lld + p", (long long)((a * n + b) * FC)),
                               lincomb(v, G[b], 1, t, 3), 0));
    }
    emit(e, "}");
    if (full < FC) { /* the last (o, i) pairs: the same sums, scalar */
        emit_g_table(e, w->m);
        emit(e, "for (int p = %lld; p < %lld; p++) {", (long long)full, (long long)FC);
        emit(e, "float k[9], t[%d][3];", n);
        emit(e, "for (int j = 0; j < 9; j++)");
        emit(e, "    k[j] = kt[(size_t)j * %lld + p];", (long long)FC);
        emit(e, "for (int a = 0; a < %d; a++)", n);
        emit(e, "    for (int j = 0; j < 3; j++)");
        emit(e, "        t[a][j] = G[a][0] * k[j] + G[a][1] * k[3 + j] + G[a][2] * k[6 + j];");
        emit(e, "for (int a = 0; a < %d; a++)", n);
        emit(e, "    for (int b = 0; b < %d; b++)", n);
        emit(e, "        u[(size_t)(a * %d + b) * %lld + p] = t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2];", n,
             (long long)FC);
        emit(e, "}");
    }
    emit(e, "}");
    emit_blank(e);
}

/* Where a chunk's staged rows come from: map ch's staged row r, column c
 * is src[ch * plane + off + (m ty0 + r - rt) * pitch + c - cl] where
 * 0 <= m ty0 + r - rt < rows and 0 <= c - cl < cols, else 0.  With xh > 0
 * the layer's unpadded x (the zero padding written by the staging), else
 * a padded plane (the forward's padded copy, or G for the data gradient). */
typedef struct wsrc {
    int64_t plane, off, rt, rows, pitch, cl, cols;
} wsrc;

static wsrc wconv_src(const wconv *w)
{
    if (w->xh > 0)
        return (wsrc){w->xh * w->xw, 0, w->xt, w->xh, w->xw, w->xl, w->xw};
    return (wsrc){w->in_plane, w->in_off, 0, w->in_rows, w->in_pitch, 0, w->in_cols};
}

/* NAME_wns: the source rows m*ty0 - rt .. of every map into the staging
 * buffer (wconv_src), zeros outside the source's rows and columns. */
static void emit_wst(emitter *e, const wconv *w)
{
    if (wi4_direct(e->simd, w)) /* NAME_w4i reads the source itself */
        return;
    wsrc x = wconv_src(w);
    int64_t sr = srows(w), right = w->pitch - x.cl - x.cols;
    emit(e, "static void %s_wns(const float *restrict xi, float *restrict sg, int ty0)", w->name);
    emit(e, "{");
    emit(e, "for (int ch = 0; ch < %lld; ch++)", (long long)w->cin);
    emit(e, "for (int r = 0; r < %lld; r++) {", (long long)sr);
    emit(e, "float *dst = sg + ((size_t)ch * %lld + r) * %lld;", (long long)sr, (long long)w->pitch);
    emit(e, "const int gr = %d * ty0 + r - %lld;", w->m, (long long)x.rt);
    emit(e, "if (gr < 0 || gr >= %lld) {", (long long)x.rows);
    emit(e, "memset(dst, 0, sizeof(float) * %lld);", (long long)w->pitch);
    emit(e, "continue;");
    emit(e, "}");
    if (x.cl)
        emit(e, "memset(dst, 0, sizeof(float) * %lld);", (long long)x.cl);
    emit(e, "memcpy(dst + %lld, xi + (size_t)ch * %lld + %lld + (size_t)gr * %lld, sizeof(float) * %lld);",
         (long long)x.cl, (long long)x.plane, (long long)x.off, (long long)x.pitch, (long long)x.cols);
    if (right > 0)
        emit(e, "memset(dst + %lld, 0, sizeof(float) * %lld);", (long long)(x.cl + x.cols), (long long)right);
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* NAME_wni: V[ab][c][t] = (BT d B)[a][b] for every tile of the chunk. */
static void emit_wi(emitter *e, const wconv *w)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t sr = srows(w), P = w->pitch;
    emit(e, "CNNC_KERNEL static void %s_wni(const float *restrict sg, float *restrict vv)", w->name);
    emit(e, "{");
    emit(e, "for (int ch = 0; ch < %lld; ch++)", (long long)w->cin);
    emit(e, "for (int ty = 0; ty < %lld; ty += %d)", (long long)w->nr, w->pair ? 2 : 1);
    emit(e, "for (int tx = 0; tx < %lld; tx += %d) {", (long long)(w->nvec * W), W);
    emit(e, "const float *sp = sg + ((size_t)ch * %lld + 2 * ty) * %lld + 2 * tx;", (long long)sr, (long long)P);
    emit(e, "float *vp = vv + (size_t)ch * %lld + ty * %lld + tx;", (long long)w->vp, (long long)w->tw);
    /* staged rows k, every other column from j: with pairs the tiles of
     * row ty in the lower half of a vector, of ty + 1 (rows k + 2) in the
     * upper half */
    int rows = w->pair ? 6 : 4;
    for (int k = 0; k < rows; k++)
        for (int j = 0; j < 4; j++)
            emit(e, "const %s %s = %s;", v->vec, vname("p", k, j),
                 simd(v->pick2, simd(v->load, arena_printf(emit_arena, "sp + %lld", (long long)(k * P + j)), 0, 0),
                      simd(v->load, arena_printf(emit_arena, "sp + %lld", (long long)(k * P + j + W - 1)), 0, 0), 0));
    const char *r[4][4];
    for (int i = 0; i < 4; i++) {
        const char *d[4];
        for (int j = 0; j < 4; j++)
            d[j] = w->pair ? simd(v->cat_lo, vname("p", i, j), vname("p", i + 2, j), 0) : vname("p", i, j);
        for (int b = 0; b < 4; b++) {
            r[b][i] = vname("r", i, b);
            emit(e, "const %s %s = %s;", v->vec, r[b][i], lincomb(v, BT[b], 1, d, 4));
        }
    }
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "vp + %lld", (long long)((a * 4 + b) * w->cin * w->vp)),
                               lincomb(v, BT[a], 1, r[b], 4), 0));
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* The tiles tx .. tx + W of a row: Y = AT M A (+ bias) into output rows
 * yr and yr + out_pitch (the latter if two), nlo / nhi outputs of the two
 * interleaved halves (0: none). */
static void emit_wo_block(emitter *e, const wconv *w, const char *tx, int nlo, int nhi)
{
    const simd_target *v = e->simd;
    int W = v->width;
    const char *m[4][4], *t[2][4];
    emit(e, "{");
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            m[b][a] = vname("m", a, b);
            emit(e, "const %s %s = %s;", v->vec, m[b][a],
                 simd(v->load, arena_printf(emit_arena, "mp + %lld + %s", (long long)((a * 4 + b) * wconv_mb(v, w) * w->vp), tx), 0, 0));
        }
    for (int i = 0; i < 2; i++)
        for (int b = 0; b < 4; b++) {
            t[i][b] = vname("t", i, b);
            emit(e, "const %s %s = %s;", v->vec, t[i][b], lincomb(v, AT[i], 1, m[b], 4));
        }
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            const char *y = lincomb(v, AT[j], 1, t[i], 4);
            emit(e, "const %s %s = %s;", v->vec, vname("y", i, j), w->bias ? simd(v->add, y, "bv", 0) : y);
            emit(e, "(void)%s;", vname("y", i, j));
        }
        emit(e, "%s", i ? "if (two) {" : "{");
        if (nlo > 0) {
            emit(e, "const %s lo = %s;", v->vec, simd(v->zip_lo, vname("y", i, 0), vname("y", i, 1), 0));
            emit_out_store(e, w->act, "lo", arena_printf(emit_arena, "yr + %lld + 2 * %s", (long long)(i * w->out_pitch), tx), nlo);
        }
        if (nhi > 0)
            emit(e, "const %s hi = %s;", v->vec, simd(v->zip_hi, vname("y", i, 0), vname("y", i, 1), 0));
        if (nhi > 0)
            emit_out_store(e, w->act, "hi", arena_printf(emit_arena, "yr + %lld + 2 * %s", (long long)(i * w->out_pitch + W), tx), nhi);
        emit(e, "}");
        if (w->pair) {
            /* the upper half: tile row ty + 1, the same columns */
            emit(e, "%s", i ? "if (next && twon) {" : "if (next) {");
            emit(e, "const %s hi = %s;", v->vec, simd(v->zip_hi, vname("y", i, 0), vname("y", i, 1), 0));
            emit_out_store(e, w->act, "hi", arena_printf(emit_arena, "yr + %lld + 2 * %s", (long long)((i + 2) * w->out_pitch), tx), nlo);
            emit(e, "}");
        }
    }
    emit(e, "}");
}

/* ------------------------------------------------------------ F(4x4, 3x3)
 * The same chunks, GEMMs and U, with 6x6 input patches at 4ty, 4tx and
 * 36 positions.  Tiles of 4 columns would leave most lanes idle if the
 * transforms held one tile row in the lanes (cifar10_wide's c3/c4 have 4
 * tiles a row), so both transforms run element-wise over the chunk's
 * tiles t = ty * tw + tx: NAME_w4i gathers each map's 36 patch values
 * into planes dd[kl][t] (scalar copies, in L1) and transforms them a
 * vector of tiles at a time; NAME_w4y transforms a vector of tiles of M
 * into planes yb[ij][t] and scatters them into the rows of y.  Points 0,
 * +-1, +-2 and infinity (Lavin & Gray): BT, G, AT below, each 1-D
 * transform with its shared sub-expressions. */

/* out[b] = sum_l BT[b][l] d[l] for the 6 x 6 BT; p a unique prefix. */
static void bt6(emitter *e, const char *p, const char **d, const char **out)
{
    const simd_target *v = e->simd;
    const char *m4 = simd(v->splat, "-4.0f", 0, 0), *m5 = simd(v->splat, "-5.0f", 0, 0);
    const char *four = simd(v->splat, "4.0f", 0, 0), *two = simd(v->splat, "2.0f", 0, 0);
    const char *mtwo = simd(v->splat, "-2.0f", 0, 0);
    const char *n[4];
    for (int i = 0; i < 4; i++)
        n[i] = arena_printf(emit_arena, "%s_%c", p, "abcs"[i]);
    emit(e, "const %s %s = %s;", v->vec, n[0], simd(v->fma, m4, d[2], d[4]));
    emit(e, "const %s %s = %s;", v->vec, n[1], simd(v->fma, m4, d[1], d[3]));
    emit(e, "const %s %s = %s;", v->vec, n[2], simd(v->sub, d[4], d[2], 0));
    emit(e, "const %s %s = %s;", v->vec, n[3], simd(v->sub, d[3], d[1], 0));
    const char *x[6] = {simd(v->fma, four, d[0], simd(v->fma, m5, d[2], d[4])), simd(v->add, n[0], n[1], 0),
                        simd(v->sub, n[0], n[1], 0), simd(v->fma, two, n[3], n[2]), simd(v->fma, mtwo, n[3], n[2]),
                        simd(v->fma, four, d[1], simd(v->fma, m5, d[3], d[5]))};
    for (int i = 0; i < 6; i++)
        emit(e, "const %s %s = %s;", v->vec, out[i], x[i]);
}

/* out[i] = sum_a AT[i][a] m[a] for the 4 x 6 AT. */
static void at6(emitter *e, const char *p, const char **m, const char **out)
{
    const simd_target *v = e->simd;
    const char *n[4];
    for (int i = 0; i < 4; i++)
        n[i] = arena_printf(emit_arena, "%s_%c", p, "sdtf"[i]);
    emit(e, "const %s %s = %s;", v->vec, n[0], simd(v->add, m[1], m[2], 0));
    emit(e, "const %s %s = %s;", v->vec, n[1], simd(v->sub, m[1], m[2], 0));
    emit(e, "const %s %s = %s;", v->vec, n[2], simd(v->add, m[3], m[4], 0));
    emit(e, "const %s %s = %s;", v->vec, n[3], simd(v->sub, m[3], m[4], 0));
    const char *x[4] = {simd(v->add, simd(v->add, m[0], n[0], 0), n[2], 0),
                        simd(v->fma, simd(v->splat, "2.0f", 0, 0), n[3], n[1]),
                        simd(v->fma, simd(v->splat, "4.0f", 0, 0), n[2], n[0]),
                        simd(v->add, simd(v->fma, simd(v->splat, "8.0f", 0, 0), n[3], n[1]), m[5], 0)};
    for (int i = 0; i < 4; i++)
        emit(e, "const %s %s = %s;", v->vec, out[i], x[i]);
}

/* Tiles of a chunk rounded up to whole vectors: the planes' pitch. */
static int64_t tiles_vec(const simd_target *v, const wconv *w)
{
    int W = v->width;
    return (w->nr * w->tw + W - 1) / W * W;
}

/* NAME_w4i (F4's NAME_wni): per map, the gather into dd, then V = BT d B. */
/* Inside NAME_w4i's channel loop: the 6 x 6 input tiles of channel ch, row k
 * of every tile at dd + k*6*D: four columns straight from the tile rows,
 * columns 4 and 5 shifted from the next tile, the last tile's from sc. */
static void emit_wi4_gather(emitter *e, const wconv *w, int64_t D)
{
    int64_t P = w->pitch, T = w->nr * w->tw;
    emit(e, "const float *sc = sg + (size_t)ch * %lld;", (long long)(srows(w) * P));
    emit(e, "for (int k = 0; k < 6; k++) {");
    emit(e, "float *dk = dd + k * %lld;", (long long)(6 * D));
    emit(e, "for (int ty = 0; ty < %lld; ty++)", (long long)w->nr);
    emit(e, "    memcpy(sk + ty * %lld, sc + (4 * ty + k) * %lld, sizeof(float) * %lld);", (long long)(4 * w->tw),
         (long long)P, (long long)(4 * w->tw));
    emit(e, "for (int t = 0; t < %lld; t++) {", (long long)T);
    for (int l = 0; l < 4; l++)
        emit(e, "dk[%lld + t] = sk[4 * t + %d];", (long long)(l * D), l);
    emit(e, "}");
    emit(e, "for (int t = 0; t < %lld; t++) {", (long long)(T - 1));
    emit(e, "dk[%lld + t] = dk[t + 1];", (long long)(4 * D));
    emit(e, "dk[%lld + t] = dk[%lld + t + 1];", (long long)(5 * D), (long long)D);
    emit(e, "}");
    emit(e, "for (int ty = 0; ty < %lld; ty++) {", (long long)w->nr);
    emit(e, "dk[%lld + ty * %lld] = sc[(4 * ty + k) * %lld + %lld];", (long long)(4 * D + w->tw - 1), (long long)w->tw,
         (long long)P, (long long)(4 * w->tw));
    emit(e, "dk[%lld + ty * %lld] = sc[(4 * ty + k) * %lld + %lld];", (long long)(5 * D + w->tw - 1), (long long)w->tw,
         (long long)P, (long long)(4 * w->tw + 1));
    emit(e, "}");
    emit(e, "}");
}

/* Inside NAME_w4i's channel loop: V = BT d B over a vector of tiles at a
 * time, rows then columns, stored to vv's 36 planes. */
static void emit_wi4_transform(emitter *e, const wconv *w, int64_t D)
{
    const simd_target *v = e->simd;
    emit(e, "float *vq = vv + (size_t)ch * %lld;", (long long)w->vp);
    emit(e, "for (int t = 0; t < %lld; t += %d) {", (long long)(w->nr * w->tw), v->width);
    const char *r[6][6];
    for (int k = 0; k < 6; k++) {
        const char *d[6];
        for (int l = 0; l < 6; l++) {
            d[l] = vname("d", k, l);
            r[l][k] = vname("r", k, l);
            emit(e, "const %s %s = %s;", v->vec, d[l],
                 simd(v->load, arena_printf(emit_arena, "dd + %lld + t", (long long)((k * 6 + l) * D)), 0, 0));
        }
        const char *out[6] = {r[0][k], r[1][k], r[2][k], r[3][k], r[4][k], r[5][k]};
        bt6(e, vname("h", k, 0), d, out);
    }
    for (int b = 0; b < 6; b++) {
        const char *out[6];
        for (int a = 0; a < 6; a++)
            out[a] = vname("x", a, b);
        bt6(e, vname("c", b, 0), r[b], out);
        for (int a = 0; a < 6; a++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "vq + %lld + t", (long long)((a * 6 + b) * w->cin * w->vp)),
                               out[a], 0));
    }
    emit(e, "}");
}

/* Inside NAME_w4i's k loop: sPH_O, staged row 4 (t / tw) + k + 4 (P rp + H
 * (tw 4)), from column O (+ 16 H (tw 8)): from the staging, or straight
 * from the source with the lanes outside its rows and columns zero. */
static void emit_wi4_loads(emitter *e, const wconv *w, bool direct)
{
    const simd_target *v = e->simd;
    int64_t tw = w->tw, rp = 8 / tw, P = w->pitch;
    wsrc x = wconv_src(w);
    if (direct) {
        emit(e, "const int gr = 4 * ty0 + 4 * (t / %lld) + k - %lld;", (long long)tw, (long long)x.rt);
        for (int q = 0; q < 16 / tw; q++) {
            emit(e, "const int ok%d = (unsigned)(gr + %d) < %lldu;", q, 4 * q, (long long)x.rows);
            emit(e, "const float *x%d = sc + (ptrdiff_t)(ok%d ? gr + %d : 0) * %lld;", q, q, 4 * q, (long long)x.pitch);
            emit(e, "const unsigned m%d = ok%d ? 0xffffu : 0u;", q, q);
        }
    } else {
        emit(e, "const float *sk = sc + (size_t)(4 * (t / %lld) + k) * %lld;", (long long)tw, (long long)P);
    }
    for (int j = 0; j < 2; j++)
        for (int h = 0; h < 2; h++)
            for (int o = 0; o <= 2; o += 2) {
                int64_t row = j * rp + (tw == 4 ? h : 0), col = o + (tw == 8 ? 16 * h : 0);
                const char *ld;
                if (direct) {
                    unsigned lanes = 0;
                    for (int l = 0; l < 16; l++)
                        lanes |= (unsigned)(col - x.cl + l >= 0 && col - x.cl + l < x.cols) << l;
                    ld = simd(v->loadm, arena_printf(emit_arena, "x%lld + %lld", (long long)row, (long long)(col - x.cl)),
                              arena_printf(emit_arena, "(m%lld & 0x%xu)", (long long)row, lanes), 0);
                } else {
                    ld = simd(v->load, arena_printf(emit_arena, "sk + %lld", (long long)(4 * row * P + col)), 0, 0);
                }
                emit(e, "const %s s%d%d_%d = %s;", v->vec, j, h, o, ld);
            }
}

/* Lane i of a vector of tiles is tile row i / tw, column i % tw; lanes 0-7
 * and 8-15 each come from one perm2 of two source vectors: two rows' 16
 * floats (tw = 4) or one row's 32 (tw = 8), from column o of the staged
 * rows, o = 0 for l < 4 and 2 for l = 4, 5 (whose last tile reads the
 * staged halo, columns 4 tw and 4 tw + 1).  Tile column tx's element l is
 * column 4 tx + l: index (i / tw % (8 / tw)) * 16 + 4 tx + l - o of the
 * pair.  Then row k's 6 columns through BT (into eb), and after all 6 rows
 * the columns, stored to vv's planes. */
static void emit_wi4_regs(emitter *e, const wconv *w)
{
    const simd_target *v = e->simd;
    int64_t tw = w->tw, rp = 8 / tw;
    bool direct = wi4_direct(v, w);
    wsrc x = wconv_src(w);
    for (int d = 0; d < 4; d++) {
        const char *ix = "";
        for (int i = 0; i < 16; i++)
            ix = arena_printf(emit_arena, "%s%s%lld", ix, i ? ", " : "",
                              (long long)(i / tw % rp * 16 + 4 * (i % tw) + d));
        emit(e, "const %s ix%d = %s;", v->ivec, d, simd(v->iset, ix, 0, 0));
    }
    emit(e, "float eb[576];");
    emit(e, "for (int ch = 0; ch < %lld; ch++) {", (long long)w->cin);
    if (direct)
        emit(e, "const float *sc = xi + (size_t)ch * %lld + %lld;", (long long)x.plane, (long long)x.off);
    else
        emit(e, "const float *sc = sg + (size_t)ch * %lld;", (long long)(srows(w) * w->pitch));
    emit(e, "float *vq = vv + (size_t)ch * %lld;", (long long)w->vp);
    emit(e, "for (int t = 0; t < %lld; t += 16) {", (long long)(w->nr * tw));
    emit(e, "for (int k = 0; k < 6; k++) {");
    emit_wi4_loads(e, w, direct);
    const char *d[6], *r[6];
    for (int l = 0; l < 6; l++) {
        int o = l < 4 ? 0 : 2;
        const char *ix = arena_printf(emit_arena, "ix%d", l - o);
        const char *lo = simd(v->perm2, arena_printf(emit_arena, "s00_%d", o), ix, arena_printf(emit_arena, "s01_%d", o));
        const char *hi = simd(v->perm2, arena_printf(emit_arena, "s10_%d", o), ix, arena_printf(emit_arena, "s11_%d", o));
        d[l] = arena_printf(emit_arena, "d%d", l);
        r[l] = arena_printf(emit_arena, "r%d", l);
        emit(e, "const %s %s = %s;", v->vec, d[l], simd(v->blend, "0xff00", hi, lo));
    }
    bt6(e, "h", d, r);
    for (int b = 0; b < 6; b++)
        emit(e, "%s", simd(v->store, arena_printf(emit_arena, "eb + k * 96 + %d", b * 16), r[b], 0));
    emit(e, "}");
    for (int b = 0; b < 6; b++) {
        const char *c[6], *x[6];
        for (int k = 0; k < 6; k++) {
            c[k] = vname("c", k, b);
            x[k] = vname("x", k, b);
            emit(e, "const %s %s = %s;", v->vec, c[k],
                 simd(v->load, arena_printf(emit_arena, "eb + %d", k * 96 + b * 16), 0, 0));
        }
        bt6(e, vname("g", b, 0), c, x);
        for (int a = 0; a < 6; a++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "vq + %lld + t", (long long)((a * 6 + b) * w->cin * w->vp)),
                               x[a], 0));
    }
    emit(e, "}");
    emit(e, "}");
}

static void emit_wi4(emitter *e, const wconv *w)
{
    int64_t T = w->nr * w->tw, D = tiles_vec(e->simd, w);
    if (wi4_in_regs(e->simd, w)) {
        if (wi4_direct(e->simd, w))
            emit(e, "CNNC_KERNEL static void %s_w4i(const float *restrict xi, float *restrict vv, int ty0)", w->name);
        else
            emit(e, "CNNC_KERNEL static void %s_w4i(const float *restrict sg, float *restrict vv)", w->name);
        emit(e, "{");
        emit_wi4_regs(e, w);
        emit(e, "}");
        emit_blank(e);
        return;
    }
    emit(e, "CNNC_KERNEL static void %s_w4i(const float *restrict sg, float *restrict vv)", w->name);
    emit(e, "{");
    emit(e, "float dd[%lld], sk[%lld];", (long long)(36 * D), (long long)(4 * T));
    if (D > T) {
        emit(e, "for (int q = 0; q < 36; q++)");
        emit(e, "    for (int t = %lld; t < %lld; t++)", (long long)T, (long long)D);
        emit(e, "        dd[q * %lld + t] = 0.0f;", (long long)D);
    }
    emit(e, "for (int ch = 0; ch < %lld; ch++) {", (long long)w->cin);
    emit_wi4_gather(e, w, D);
    emit_wi4_transform(e, w, D);
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* The scatter in registers (the mirror of wi4_in_regs): where a vector of
 * tiles is whole tile rows of 4 or 8 tiles, the tiles fill the output's
 * columns and the activation is vectorised, each output row vector (tile
 * row r of the vector, output row i, half h of a row of 8 tiles) is a
 * blend of two perm2 of Y[i][0..3], stored to y; the old way went through
 * yb and a scalar interleave into ob (clang: 4-float pieces). */
static bool wo4_in_regs(const simd_target *v, const wconv *w)
{
    return v->perm2 && v->width == 16 && (w->tw == 4 || w->tw == 8) && w->nr * w->tw % 16 == 0 &&
           w->out_cols == 4 * w->tw && (w->act == ACT_RELU || w->act == ACT_NONE);
}

/* Inside NAME_w4y's vector loop: output row i of the vector's tiles from
 * y[0..3] (Y[i][j] + bias, activated): lane 4 tx + j of a row is lane r tw
 * + tx of y[j], two perm2 (j = 0, 1 and 2, 3) and a blend. */
static void emit_wo4_rows(emitter *e, const wconv *w, int i, const char **y)
{
    const simd_target *v = e->simd;
    int64_t tw = w->tw;
    for (int64_t r = 0; r < 16 / tw; r++) {
        emit(e, "if (4 * (ty0 + t / %lld + %lld) + %d < %lld) {", (long long)tw, (long long)r, i, (long long)w->out_rows);
        for (int64_t h = 0; h < tw / 4; h++) {
            const char *ix = "";
            for (int l = 0; l < 16; l++)
                ix = arena_printf(emit_arena, "%s%s%lld", ix, l ? ", " : "", (long long)(l % 2 * 16 + r * tw + 4 * h + l / 4));
            const char *iv = simd(v->iset, ix, 0, 0);
            const char *row = simd(v->blend, "0xccccu", simd(v->perm2, y[2], iv, y[3]), simd(v->perm2, y[0], iv, y[1]));
            emit(e, "%s", simd(v->store,
                               arena_printf(emit_arena, "yo + (size_t)(4 * (ty0 + t / %lld + %lld) + %d) * %lld + %lld",
                                            (long long)tw, (long long)r, i, (long long)w->out_pitch, (long long)(16 * h)),
                               row, 0));
        }
        emit(e, "}");
    }
}

/* Inside NAME_w4y's filter loop: Y = AT M A over a vector of tiles at a
 * time, plus bias and a vectorisable activation, into yb's 16 planes (or
 * straight into y's rows: wo4_in_regs). */
static void emit_wo4_transform(emitter *e, const wconv *w, int64_t D)
{
    const simd_target *v = e->simd;
    int64_t mb = wconv_mb(v, w);
    bool regs = wo4_in_regs(v, w);
    emit(e, "for (int t = 0; t < %lld; t += %d) {", (long long)(w->nr * w->tw), v->width);
    const char *tt[4][6];
    for (int b = 0; b < 6; b++) {
        const char *m[6];
        for (int a = 0; a < 6; a++) {
            m[a] = vname("m", a, b);
            emit(e, "const %s %s = %s;", v->vec, m[a],
                 simd(v->load, arena_printf(emit_arena, "mp + %lld + t", (long long)((a * 6 + b) * mb * w->vp)), 0, 0));
        }
        const char *out[4] = {vname("t", 0, b), vname("t", 1, b), vname("t", 2, b), vname("t", 3, b)};
        for (int i = 0; i < 4; i++)
            tt[i][b] = out[i];
        at6(e, vname("k", b, 0), m, out);
    }
    for (int i = 0; i < 4; i++) {
        const char *out[4] = {vname("y", i, 0), vname("y", i, 1), vname("y", i, 2), vname("y", i, 3)};
        const char *act[4];
        at6(e, vname("o", i, 0), tt[i], out);
        for (int j = 0; j < 4; j++) {
            const char *y = w->bias ? simd(v->add, out[j], "bv", 0) : out[j];
            if (w->act == ACT_RELU)
                y = simd(v->pos, y, y, 0);
            act[j] = vname("z", i, j);
            if (regs)
                emit(e, "const %s %s = %s;", v->vec, act[j], y);
            else
                emit(e, "%s", simd(v->store, arena_printf(emit_arena, "yb + %lld + t", (long long)((i * 4 + j) * D)), y, 0));
        }
        if (regs)
            emit_wo4_rows(e, w, i, act);
    }
    emit(e, "}");
}

/* Inside an output transform's filter loop: bv, filter f0 + f's bias in
 * every lane (b unused without a bias). */
static void emit_bias_splat(emitter *e, const wconv *w)
{
    if (w->bias)
        emit(e, "const %s bv = %s;", e->simd->vec, simd(e->simd->splat, "b[f0 + f]", 0, 0));
    else
        emit(e, "(void)b;");
}

/* Inside NAME_w4y's filter loop: the 4 x 4 output tiles from yb back to
 * rows of the output plane (scalar activation here if not vectorised),
 * clipped at the last output row. */
static void emit_wo4_scatter(emitter *e, const wconv *w, int64_t D)
{
    bool vec_act = w->act == ACT_RELU || w->act == ACT_NONE;
    emit(e, "float *yo = yi + (size_t)(f0 + f) * %lld + %lld;", (long long)w->out_plane, (long long)w->out_off);
    emit(e, "for (int i = 0; i < 4; i++) {");
    emit(e, "const float *src = yb + i * %lld;", (long long)(4 * D));
    emit(e, "for (int t = 0; t < %lld; t++) {", (long long)(w->nr * w->tw));
    for (int j = 0; j < 4; j++) {
        const char *x = arena_printf(emit_arena, "src[%lld + t]", (long long)(j * D));
        emit(e, "ob[4 * t + %d] = %s;", j, vec_act ? x : act_expr(e, w->act, x));
    }
    emit(e, "}");
    emit(e, "for (int ty = 0; ty < %lld && 4 * (ty0 + ty) + i < %lld; ty++)", (long long)w->nr, (long long)w->out_rows);
    emit(e, "    memcpy(yo + (size_t)(4 * (ty0 + ty) + i) * %lld, ob + ty * %lld, sizeof(float) * %lld);",
         (long long)w->out_pitch, (long long)(4 * w->tw), (long long)w->out_cols);
    emit(e, "}");
}

/* NAME_w4y (F4's NAME_wny): per filter, Y = AT M A + bias (and relu) into planes
 * yb[ij][t], then into y's rows (other activations there); or straight
 * into y's rows (wo4_in_regs). */
static void emit_wo4(emitter *e, const wconv *w)
{
    const simd_target *v = e->simd;
    int64_t T = w->nr * w->tw, D = tiles_vec(v, w);
    emit(e, "CNNC_KERNEL static void %s_w4y(const float *restrict mm, const float *restrict b, float *restrict yi, int ty0,",
         w->name);
    emit(e, "    int f0, int nf)");
    emit(e, "{");
    bool regs = wo4_in_regs(v, w);
    if (!regs)
        emit(e, "float yb[%lld], ob[%lld];", (long long)(16 * D), (long long)(4 * T));
    emit(e, "for (int f = 0; f < nf; f++) {");
    emit_bias_splat(e, w);
    emit(e, "const float *mp = mm + (size_t)f * %lld;", (long long)w->vp);
    if (regs)
        emit(e, "float *yo = yi + (size_t)(f0 + f) * %lld + %lld;", (long long)w->out_plane, (long long)w->out_off);
    emit_wo4_transform(e, w, D);
    if (!regs)
        emit_wo4_scatter(e, w, D);
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* NAME_wny: the chunk's outputs from M. */
static void emit_wo(emitter *e, const wconv *w)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t full = w->out_cols / (2 * W) * W;
    emit(e, "CNNC_KERNEL static void %s_wny(const float *restrict mm, const float *restrict b, float *restrict yi, int ty0,",
         w->name);
    emit(e, "    int f0, int nf)");
    emit(e, "{");
    emit(e, "for (int f = 0; f < nf; f++) {");
    emit_bias_splat(e, w);
    emit(e, "for (int ty = 0; ty < %lld && ty0 + ty < %lld; ty += %d) {", (long long)w->nr, (long long)w->th,
         w->pair ? 2 : 1);
    emit(e, "const float *mp = mm + (size_t)f * %lld + ty * %lld;", (long long)w->vp, (long long)w->tw);
    emit(e, "float *yr = yi + (size_t)(f0 + f) * %lld + %lld + (size_t)(2 * (ty0 + ty)) * %lld;", (long long)w->out_plane,
         (long long)w->out_off, (long long)w->out_pitch);
    emit(e, "const int two = 2 * (ty0 + ty) + 1 < %lld;", (long long)w->out_rows);
    emit(e, "(void)two;");
    if (w->pair) {
        emit(e, "const int next = ty + 1 < %lld && ty0 + ty + 1 < %lld;", (long long)w->nr, (long long)w->th);
        emit(e, "const int twon = 2 * (ty0 + ty + 1) + 1 < %lld;", (long long)w->out_rows);
    }
    if (full > 0) {
        emit(e, "for (int tx = 0; tx < %lld; tx += %d)", (long long)full, W);
        emit_wo_block(e, w, "tx", W, W);
    }
    if (full < w->tw) {
        int64_t rest = w->out_cols - 2 * full;
        int nlo = (int)(rest < W ? rest : W), nhi = (int)(rest - W < W ? rest - W : W);
        emit_wo_block(e, w, arena_printf(emit_arena, "%lld", (long long)full), nlo, nhi);
    }
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

static sweep wino_sweep(const simd_target *v, const wconv *w)
{
    static const int64_t zero[1] = {0};
    sweep s = {arena_printf(emit_arena, "%s_wnm", w->name), w->fout, w->cin, w->vp, w->vp,
               w->nr * w->tw, w->cin, 1, 1, zero, zero, false, 0, 0, 1};
    sweep_tile(v, s.rows, s.span, &s.mb, &s.nv);
    return s;
}

static void emit_wconv_kernels(emitter *e, const wconv *w)
{
    sweep s = wino_sweep(e->simd, w);
    emit_sweep(e, &s);
    emit_wu(e, w);
    emit_wst(e, w);
    if (w->m == 4) {
        emit_wi4(e, w);
        emit_wo4(e, w);
    } else {
        emit_wi(e, w);
        emit_wo(e, w);
    }
}

/* Once per call (in a lane with samples): U from the weights wp. */
static void emit_wconv_begin(emitter *e, const wconv *w, const char *wp)
{
    emit(e, "%s_wnu(%s, c->cs + (size_t)i0 * %lld + %lld);", w->name, wp, (long long)e->cs_max, (long long)w->u_off);
}

/* The GEMMs of a block of nb filters from f0 (constant or the loop's),
 * all positions into M, then their outputs. */
static void wconv_block(emitter *e, const wconv *w, const sweep *s, const char *f0, int64_t nb, const char *b,
                        const char *yi)
{
    int T = s->nv * e->simd->width;
    emit(e, "for (int pos = 0; pos < %d; pos++) {", npos(w));
    emit(e, "const float *w = u + (size_t)pos * %lld + (size_t)%s * %lld;", (long long)(w->fout * w->cin), f0,
         (long long)w->cin);
    emit(e, "const float *vin = vv + (size_t)pos * %lld;", (long long)(w->cin * w->vp));
    emit(e, "float *mo = mm + (size_t)pos * %lld;", (long long)(s->mb * w->vp));
    emit(e, "for (int p = 0; p < %lld; p += %d)", (long long)s->span, T);
    emit(e, "    %s_%lld(vin, w, NULL, mo, p < %lld ? p : %lld);", s->name, (long long)nb, (long long)(s->span - T),
         (long long)(s->span - T));
    emit(e, "}");
    emit(e, "%s_%s(mm, %s, %s, ty0, %s, %lld);", w->name, w->m == 4 ? "w4y" : "wny", b, yi, f0, (long long)nb);
}

/* The chunk's V (at vv) from the sample's source xi: NAME_w4i reading it
 * itself, or NAME_wns staging it at sg first. */
static void emit_wi_call(emitter *e, const wconv *w, const char *xi, const char *sg, const char *vv)
{
    if (wi4_direct(e->simd, w)) {
        emit(e, "%s_w4i(%s, %s, ty0);", w->name, xi, vv);
        return;
    }
    emit(e, "%s_wns(%s, %s, ty0);", w->name, xi, sg);
    emit(e, "%s_%s(%s, %s);", w->name, w->m == 4 ? "w4i" : "wni", sg, vv);
}

/* One sample: input planes at xi, outputs at yi, bias at b; U at uc if
 * not NULL, else in the lane's scratch. */
static void emit_wconv_sample(emitter *e, const wconv *w, const char *xi, const char *yi, const char *b,
                              const char *uc)
{
    sweep s = wino_sweep(e->simd, w);
    int64_t full = w->fout / s.mb * s.mb;
    emit(e, "{");
    emit(e, "float *ws = c->cs + (size_t)i0 * %lld;", (long long)e->cs_max);
    if (uc)
        emit(e, "const float *restrict u = %s;", uc);
    else
        emit(e, "const float *restrict u = ws + %lld;", (long long)w->u_off);
    if (!wi4_direct(e->simd, w))
        emit(e, "float *restrict sg = ws + %lld;", (long long)w->s_off);
    emit(e, "float *restrict vv = ws + %lld, *restrict mm = ws + %lld;", (long long)w->v_off, (long long)w->m_off);
    emit(e, "for (int ty0 = 0; ty0 < %lld; ty0 += %lld) {", (long long)w->th, (long long)w->nr);
    emit_wi_call(e, w, xi, "sg", "vv");
    emit(e, "for (int f0 = 0; f0 < %lld; f0 += %d) {", (long long)full, s.mb);
    wconv_block(e, w, &s, "f0", s.mb, b, yi);
    emit(e, "}");
    if (full < w->fout) {
        emit(e, "{");
        wconv_block(e, w, &s, arena_printf(emit_arena, "%lld", (long long)full), w->fout - full, b, yi);
        emit(e, "}");
    }
    emit(e, "}");
    emit(e, "}");
}

/* The forward pass's U [n][fout][cin], in c->wu_NAME: computed once a
 * pass (NAME_wnu, called at the top of forward_lane), not in every call,
 * since the lanes call a layer once for each chunk of samples they take. */
int64_t wino_u_floats(const fgeom *g)
{
    return g->wino ? (int64_t)npos(&g->wf) * g->wf.fout * g->wf.cin : 0;
}

void conv_emit_wino_prepare(emitter *e, const ir_layer *ly)
{
    emit(e, "%s_wnu(c->params + %lld, c->wu_%s);", ly->name, (long long)ly->woff, ly->name);
}

void conv_emit_wino_forward(emitter *e, const ir_layer *ly, const fgeom *g)
{
    emit_wconv_kernels(e, &g->wf);
    emit_forward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit(e, "const float *restrict b = %s;",
         ly->bias ? arena_printf(emit_arena, "c->params + %lld", (long long)ly->boff) : "NULL");
    bool px = layer_has_pad(ly) && !wino_reads_x(ly);
    if (px)
        emit(e, "%s_pad(i0, i1, x, c->pad_%s);", ly->name, ly->name);
    emit(e, "const float *restrict xs = %s;", px ? arena_printf(emit_arena, "c->pad_%s", ly->name) : "x");
    emit(e, "if (i1 <= i0)");
    emit(e, "    return;");
    emit(e, "for (int i = i0; i < i1; i++)");
    emit_wconv_sample(e, &g->wf, arena_printf(emit_arena, "xs + (size_t)i * %lld", (long long)(g->C * (px ? g->psz : wino_x_plane(ly)))),
                      arena_printf(emit_arena, "y + (size_t)i * %lld", (long long)(g->F * g->osz)), "b",
                      arena_printf(emit_arena, "c->wu_%s", ly->name));
    emit(e, "}");
    emit_blank(e);
}

/* ------------------------------------------------------------ data gradient */
void emit_wino_dgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g)
{
    (void)ly;
    emit_wconv_kernels(e, &g->wd);
}

void emit_wino_dgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g)
{
    (void)ly;
    emit(e, "if (dx && i1 > i0) {");
    emit_wconv_begin(e, &g->wd, "w");
    emit(e, "}");
}

/* Sample i: gi its G, di its dxp. */
void emit_wino_dgrad_sample(emitter *e, const ir_layer *ly, const fgeom *g)
{
    (void)ly;
    emit_wconv_sample(e, &g->wd, "gi", "di", "NULL", NULL);
}

/* ------------------------------------------------------------ weight gradient */
/* Since Y = AT (U .* V) A is linear in U, dU[ab][f][c] = sum over tiles of
 * Gt[ab][f] * V[ab][c] with Gt = A dY' AT (dY' = dy * act', zero where a
 * tile sticks out), and dw = GT dU G once per call.  Per tile position a
 * GEMM over the chunk's tiles: a tile of mc input maps by nf vectors of
 * filters keeps dUT[ab][c][f..] in registers, broadcasts V[ab][c][t] and
 * loads GtT[ab][t][f..], Gt built with the filters in the lanes from the
 * outer form's GT [p][Fp] (no transposes). */

/* Cost in FMA slots of a step (one tile) of an m x n tile: its FMAs (at
 * least 8) and its n aligned loads; the broadcasts nearly free, as in the
 * sweep. */
static double wg_step(int64_t m, int64_t n)
{
    return (double)(m * n > 8 ? m * n : 8) + (double)n;
}

static void wg_tile(const simd_target *v, const fgeom *g, int *mc, int *nf)
{
    int64_t Fv = g->Fp / v->width;
    double best = 0;
    for (int n = 1; n <= 4 && n <= Fv; n++) {
        if (Fv % n)
            continue;
        int m = (v->regs - 1 - n) / n;
        m = m > 16 ? 16 : m;
        m = m > g->C ? (int)g->C : m;
        double c = (double)(Fv / n) * ((double)(g->C / m) * wg_step(m, n) + (g->C % m ? wg_step(g->C % m, n) : 0));
        if (best == 0 || c < best) {
            best = c;
            *mc = m;
            *nf = n;
        }
    }
}

/* NAME_wng: GtT[ab][t][f] of the chunk's tiles from GT. */
static void emit_wng(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    const wconv *w = &g->wf;
    int64_t pw = ly->padded.d[2], T = w->nr * w->tw, Fp = g->Fp;
    emit(e, "CNNC_KERNEL static void %s_wng(const float *restrict gt, float *restrict gtt, int ty0)", ly->name);
    emit(e, "{");
    emit(e, "for (int ty = 0; ty < %lld && ty0 + ty < %lld; ty++) {", (long long)w->nr, (long long)w->th);
    emit(e, "const int two = 2 * (ty0 + ty) + 1 < %lld;", (long long)w->out_rows);
    emit(e, "for (int tx = 0; tx < %lld; tx++) {", (long long)w->tw);
    emit(e, "const float *p0 = gt + (size_t)(2 * (ty0 + ty) * %lld + 2 * tx) * %lld;", (long long)pw, (long long)Fp);
    emit(e, "float *q = gtt + (size_t)(ty * %lld + tx) * %lld;", (long long)w->tw, (long long)Fp);
    emit(e, "for (int f = 0; f < %lld; f += %d) {", (long long)Fp, v->width);
    const char *d[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            d[i][j] = vname("d", i, j);
            const char *ld = simd(v->load, arena_printf(emit_arena, "p0 + %lld + f", (long long)((i * pw + j) * Fp)), 0, 0);
            emit(e, "const %s %s = %s;", v->vec, d[i][j], i ? arena_printf(emit_arena, "two ? %s : %s", ld, v->zero) : ld);
        }
    double A[4][2];
    for (int a = 0; a < 4; a++)
        for (int i = 0; i < 2; i++)
            A[a][i] = AT[i][a];
    const char *r[4][2];
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 2; i++) {
            r[b][i] = vname("r", i, b);
            emit(e, "const %s %s = %s;", v->vec, r[b][i], lincomb(v, A[b], 1, d[i], 2));
        }
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "q + %lld + f", (long long)((a * 4 + b) * T * Fp)),
                               lincomb(v, A[a], 1, r[b], 2), 0));
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* NAME_wng (F4): GtT[ab][t][f] = (A dY' AT)[a][b], A = AT4 transposed,
 * from the 4x4 outputs of each tile (zero where they stick out: guards
 * only where the output is not whole tiles); V is NAME_w4i's, dw = GT dU
 * G with the 6x3 G.  The same GEMM tiles over 36 positions: cifar10_wide
 * on AVX-512, backward ms per batch of 64, F2 -> F4 weight gradient (both
 * with the F4 data gradient): c2 19.4-20.1 -> 16.3-16.9, c3 9.3-9.7 ->
 * 8.0-8.3, c4 14.8-15.4 -> 13.2-13.6. */
/* Inside NAME_wng's vector loop: the 4 x 4 block of GT at p0 into d, with
 * the rows and columns past a ragged output edge read as zero. */
static void emit_wng4_load(emitter *e, const wconv *w, int64_t pw, int64_t Fp, const char *d[4][4])
{
    const simd_target *v = e->simd;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            d[i][j] = vname("d", i, j);
            const char *ld = simd(v->load, arena_printf(emit_arena, "p0 + %lld + f", (long long)((i * pw + j) * Fp)), 0, 0);
            const char *cond = NULL;
            if (w->out_rows % 4 && w->out_cols % 4)
                cond = arena_printf(emit_arena, "rows > %d && cols > %d", i, j);
            else if (w->out_rows % 4)
                cond = arena_printf(emit_arena, "rows > %d", i);
            else if (w->out_cols % 4)
                cond = arena_printf(emit_arena, "cols > %d", j);
            emit(e, "const %s %s = %s;", v->vec, d[i][j],
                 cond && (i || j) ? arena_printf(emit_arena, "%s ? %s : %s", cond, ld, v->zero) : ld);
        }
}

/* Inside NAME_wng's vector loop: A d AT (the 6 x 4 A on both sides), the
 * 36 products stored to gtt's planes. */
static void emit_wng4_transform(emitter *e, int64_t T, int64_t Fp, const char *d[4][4])
{
    const simd_target *v = e->simd;
    const char *r[6][4];
    for (int b = 0; b < 6; b++)
        for (int i = 0; i < 4; i++) {
            r[b][i] = vname("r", i, b);
            emit(e, "const %s %s = %s;", v->vec, r[b][i], lincomb(v, &AT4[0][b], 6, d[i], 4));
        }
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "q + %lld + f", (long long)((a * 6 + b) * T * Fp)),
                               lincomb(v, &AT4[0][a], 6, r[b], 4), 0));
}

static void emit_wng4(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const wconv *w = &g->wf;
    int64_t pw = ly->padded.d[2], T = w->nr * w->tw, Fp = g->Fp;
    emit(e, "CNNC_KERNEL static void %s_wng(const float *restrict gt, float *restrict gtt, int ty0)", ly->name);
    emit(e, "{");
    emit(e, "for (int ty = 0; ty < %lld && ty0 + ty < %lld; ty++) {", (long long)w->nr, (long long)w->th);
    emit(e, "const int rows = %lld - 4 * (ty0 + ty);", (long long)w->out_rows);
    emit(e, "(void)rows;");
    emit(e, "for (int tx = 0; tx < %lld; tx++) {", (long long)w->tw);
    emit(e, "const int cols = %lld - 4 * tx;", (long long)w->out_cols);
    emit(e, "(void)cols;");
    emit(e, "const float *p0 = gt + (size_t)(4 * (ty0 + ty) * %lld + 4 * tx) * %lld;", (long long)pw, (long long)Fp);
    emit(e, "float *q = gtt + (size_t)(ty * %lld + tx) * %lld;", (long long)w->tw, (long long)Fp);
    emit(e, "for (int f = 0; f < %lld; f += %d) {", (long long)Fp, e->simd->width);
    const char *d[4][4];
    emit_wng4_load(e, w, pw, Fp, d);
    emit_wng4_transform(e, T, Fp, d);
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* d[m][j..] += sum_{t < nt} v[m * vp + t] * gtt[t][j..], m < mc, j < nf vectors. */
static void emit_wnw_tile(emitter *e, const ir_layer *ly, const fgeom *g, int mc, int nf)
{
    const simd_target *v = e->simd;
    int W = v->width;
    emit(e, "CNNC_KERNEL static inline void %s_wnw_%d_%d(const float *restrict vv, const float *restrict gtt,",
         ly->name, mc, nf);
    emit(e, "    float *restrict d, int nt)");
    emit(e, "{");
    for (int m = 0; m < mc; m++)
        for (int j = 0; j < nf; j++)
            emit(e, "%s %s = %s;", v->vec, vname("a", m, j),
                 simd(v->load, arena_printf(emit_arena, "d + %lld", (long long)(m * g->Fp + j * W)), 0, 0));
    emit(e, "for (int t = 0; t < nt; t++) {");
    for (int j = 0; j < nf; j++)
        emit(e, "const %s g%d = %s;", v->vec, j,
             simd(v->load, arena_printf(emit_arena, "gtt + (size_t)t * %lld + %d", (long long)g->Fp, j * W), 0, 0));
    for (int m = 0; m < mc; m++)
        emit_bcast_fma(e, arena_printf(emit_arena, "vv[%lld + t]", (long long)(m * g->wf.vp)), m, nf, "g");
    emit(e, "}");
    for (int m = 0; m < mc; m++)
        for (int j = 0; j < nf; j++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "d + %lld", (long long)(m * g->Fp + j * W)),
                               vname("a", m, j), 0));
    emit(e, "}");
    emit_blank(e);
}

void emit_wino_wgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g)
{
    int mc = 1, nf = 1;
    wg_tile(e->simd, g, &mc, &nf);
    if (g->wf.m == 4)
        emit_wng4(e, ly, g);
    else
        emit_wng(e, ly, g);
    emit_wnw_tile(e, ly, g, mc, nf);
    if (g->C % mc)
        emit_wnw_tile(e, ly, g, (int)(g->C % mc), nf);
}

/* dUT, in the lane's first-sample scratch. */
void emit_wino_wgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g)
{
    (void)ly;
    emit(e, "float *restrict dut = c->cs + (size_t)i0 * %lld + %lld;", (long long)e->cs_max, (long long)g->wg_dut);
    emit(e, "if (i1 > i0)");
    emit(e, "    memset(dut, 0, sizeof(float) * %lld);", (long long)(npos(&g->wf) * g->C * g->Fp));
}

static void wnw_calls(emitter *e, const ir_layer *ly, const fgeom *g, int mc, int nf)
{
    int W = e->simd->width;
    int64_t full = g->C / mc * mc, Fv = g->Fp / W, T = g->wf.nr * g->wf.tw;
    emit(e, "for (int ab = 0; ab < %d; ab++) {", npos(&g->wf));
    emit(e, "const float *va = vw + (size_t)ab * %lld, *ga = gtt + (size_t)ab * %lld;", (long long)(g->C * g->wf.vp),
         (long long)(T * g->Fp));
    emit(e, "float *da = dut + (size_t)ab * %lld;", (long long)(g->C * g->Fp));
    emit(e, "for (int j0 = 0; j0 < %lld; j0 += %d) {", (long long)Fv, nf);
    emit(e, "for (int c0 = 0; c0 < %lld; c0 += %d)", (long long)full, mc);
    emit(e, "    %s_wnw_%d_%d(va + (size_t)c0 * %lld, ga + j0 * %d, da + (size_t)c0 * %lld + j0 * %d, nt);", ly->name, mc,
         nf, (long long)g->wf.vp, W, (long long)g->Fp, W);
    if (full < g->C)
        emit(e, "%s_wnw_%lld_%d(va + %lld, ga + j0 * %d, da + %lld + j0 * %d, nt);", ly->name,
             (long long)(g->C - full), nf, (long long)(full * g->wf.vp), W, (long long)(full * g->Fp), W);
    emit(e, "}");
    emit(e, "}");
}

/* Samples [s0, s1): their GT (built) and input, chunk by chunk. */
void emit_wino_wgrad_group(emitter *e, const ir_layer *ly, const fgeom *g)
{
    int mc = 1, nf = 1;
    const wconv *w = &g->wf;
    wg_tile(e->simd, g, &mc, &nf);
    emit(e, "for (int i = s0; i < s1; i++) {");
    emit(e, "float *ws = c->cs + (size_t)i0 * %lld;", (long long)e->cs_max);
    if (!wi4_direct(e->simd, w))
        emit(e, "float *restrict sw = ws + %lld;", (long long)g->wg_s);
    emit(e, "float *restrict vw = ws + %lld, *restrict gtt = ws + %lld;", (long long)g->wg_v, (long long)g->wg_gtt);
    emit(e, "const float *gt = c->cs + (size_t)(i0 + i - s0) * %lld + %lld;", (long long)e->cs_max, (long long)g->gt_off);
    if (wino_reads_x(ly))
        emit(e, "const float *xi = x + (size_t)i * %lld;", (long long)(g->C * wino_x_plane(ly)));
    else
        emit(e, "const float *xi = xs + (size_t)i * %lld;", (long long)(g->C * g->psz));
    emit(e, "for (int ty0 = 0; ty0 < %lld; ty0 += %lld) {", (long long)w->th, (long long)w->nr);
    emit(e, "const int nt = (ty0 + %lld < %lld ? %lld : %lld - ty0) * %lld;", (long long)w->nr, (long long)w->th,
         (long long)w->nr, (long long)w->th, (long long)w->tw);
    emit_wi_call(e, w, "xi", "sw", "vw");
    emit(e, "%s_wng(gt, gtt, ty0);", ly->name);
    wnw_calls(e, ly, g, mc, nf);
    emit(e, "}");
    emit(e, "}");
}

/* gw[f][c] += GT dU[f][c] G, from the lane's dUT. */
/* In the end loop over (f, ch): t = dU G, the n x n dU of the pair (stride
 * st between its planes) against the n x 3 G. */
static void emit_wino_end_du_g(emitter *e, int n, long long st)
{
    emit(e, "float t[%d][3];", n);
    emit(e, "for (int a = 0; a < %d; a++)", n);
    emit(e, "for (int j = 0; j < 3; j++) {");
    emit(e, "float s = 0.0f;");
    emit(e, "for (int b = 0; b < %d; b++)", n);
    emit(e, "    s += du[(size_t)(a * %d + b) * %lld] * G[b][j];", n, st);
    emit(e, "t[a][j] = s;");
    emit(e, "}");
}

/* In the end loop over (f, ch): gw[f][ch] += GT t, the 3 x 3 weight gradient. */
static void emit_wino_end_gt_t(emitter *e, const fgeom *g, int n)
{
    emit(e, "float *gq = gw + ((size_t)f * %lld + ch) * 9;", (long long)g->C);
    emit(e, "for (int i = 0; i < 3; i++)");
    emit(e, "for (int j = 0; j < 3; j++) {");
    emit(e, "float s = 0.0f;");
    emit(e, "for (int a = 0; a < %d; a++)", n);
    emit(e, "    s += G[a][i] * t[a][j];");
    emit(e, "gq[i * 3 + j] += s;");
    emit(e, "}");
}

/* The end with vectors of W filters: for each map ch and block of filters,
 * t = dU G by rows a, then r = GT t accumulated over a, the same fused
 * multiply-adds in the same order as the scalar loops (so the same floats
 * where the compiler fuses those); r goes to gw through a small buffer, as
 * gw[f][ch] is strided in f.  0.5 ms a call for c4 of cifar10_wide in the
 * scalar form (36 planes read per (f, ch) pair, 4,096 pairs), in every lane. */
static void emit_wino_end_vec(emitter *e, const fgeom *g, int n, long long st)
{
    const simd_target *v = e->simd;
    int W = v->width;
    emit(e, "for (int ch = 0; ch < %lld; ch++)", (long long)g->C);
    emit(e, "for (int f0 = 0; f0 < %lld; f0 += %d) {", (long long)g->F, W);
    emit(e, "const float *du = dut + (size_t)ch * %lld + f0;", (long long)g->Fp);
    for (int k = 0; k < 9; k++)
        emit(e, "%s r%d = %s;", v->vec, k, v->zero);
    emit(e, "for (int a = 0; a < %d; a++) {", n);
    emit(e, "%s t0 = %s, t1 = %s, t2 = %s;", v->vec, v->zero, v->zero, v->zero);
    emit(e, "for (int b = 0; b < %d; b++) {", n);
    emit(e, "const %s d = %s;", v->vec, simd(v->load, arena_printf(emit_arena, "du + (size_t)(a * %d + b) * %lld", n, st), 0, 0));
    for (int j = 0; j < 3; j++)
        emit(e, "t%d = %s;", j, simd(v->fma, "d", simd(v->splat, arena_printf(emit_arena, "G[b][%d]", j), 0, 0),
                                     arena_printf(emit_arena, "t%d", j)));
    emit(e, "}");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            emit(e, "r%d = %s;", i * 3 + j,
                 simd(v->fma, simd(v->splat, arena_printf(emit_arena, "G[a][%d]", i), 0, 0),
                      arena_printf(emit_arena, "t%d", j), arena_printf(emit_arena, "r%d", i * 3 + j)));
    emit(e, "}");
    emit(e, "float o[9][%d];", W);
    for (int k = 0; k < 9; k++)
        emit(e, "%s", simd(v->store, arena_printf(emit_arena, "o[%d]", k), arena_printf(emit_arena, "r%d", k), 0));
    emit(e, "for (int l = 0; l < %d && f0 + l < %lld; l++) {", W, (long long)g->F);
    emit(e, "float *gq = gw + ((size_t)(f0 + l) * %lld + ch) * 9;", (long long)g->C);
    emit(e, "for (int k = 0; k < 9; k++)");
    emit(e, "    gq[k] += o[k][l];");
    emit(e, "}");
    emit(e, "}");
}

void emit_wino_wgrad_end(emitter *e, const ir_layer *ly, const fgeom *g)
{
    (void)ly;
    int n = g->wf.m + 2;
    long long st = (long long)(g->C * g->Fp);
    emit(e, "if (i1 > i0) {");
    emit_g_table(e, g->wf.m);
    if (e->simd->width > 1 && g->Fp % e->simd->width == 0 && g->Fp >= (g->F + e->simd->width - 1) / e->simd->width * e->simd->width) {
        emit_wino_end_vec(e, g, n, st);
        emit(e, "}");
        return;
    }
    emit(e, "for (int f = 0; f < %lld; f++)", (long long)g->F);
    emit(e, "for (int ch = 0; ch < %lld; ch++) {", (long long)g->C);
    emit(e, "const float *du = dut + (size_t)ch * %lld + f;", (long long)g->Fp);
    emit_wino_end_du_g(e, n, st);
    emit_wino_end_gt_t(e, g, n);
    emit(e, "}");
    emit(e, "}");
}
