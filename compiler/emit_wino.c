/* emit_wino.c - Winograd F(2x2, 3x3) forward pass of 2-D stride-1 3x3
 * convolutions (Lavin & Gray 2015), chosen over the flat-grid sweep of
 * emit_fast.c by wino_plan.
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

static int64_t round16(int64_t n)
{
    return (n + 15) / 16 * 16;
}

/* Where Winograd pays: 2-D, 3x3, stride and dilation 1, and at least 8
 * input and output maps (below that the transforms, which cost per input
 * and output map, weigh against GEMMs too short to run near peak). */
static bool wino_applies(const emitter *e, const ir_layer *ly, const fgeom *g)
{
    if (ly->kind != LK_CONV || ly->nsp != 2 || g->C < 8 || g->F < 8)
        return false;
    for (int a = 0; a < 2; a++)
        if (ly->kernel[a] != 3 || ly->stride[a] != 1 || ly->dilation[a] != 1)
            return false;
    int64_t th = (ly->out.d[1] + 1) / 2, tw = (ly->out.d[2] + 1) / 2;
    return th * tw >= 2 * e->simd->width;
}

/* Chunks of about 64 tiles (V and M of a chunk in L2), of whole tile
 * rows, as even as th allows, and at least a vector of tiles. */
void wino_plan(const emitter *e, const ir_layer *ly, fgeom *g)
{
    int W = e->simd->width;
    if (!wino_applies(e, ly, g))
        return;
    g->wino = true;
    g->wn_th = (ly->out.d[1] + 1) / 2;
    g->wn_tw = (ly->out.d[2] + 1) / 2;
    int64_t nr = 64 / g->wn_tw < 1 ? 1 : 64 / g->wn_tw;
    if (nr * g->wn_tw < W)
        nr = (W + g->wn_tw - 1) / g->wn_tw;
    if (nr > g->wn_th)
        nr = g->wn_th;
    int64_t chunks = (g->wn_th + nr - 1) / nr;
    nr = (g->wn_th + chunks - 1) / chunks;
    if (nr * g->wn_tw < W)
        nr = (W + g->wn_tw - 1) / g->wn_tw;
    g->wn_rows = nr;
    int64_t nvec = (g->wn_tw + W - 1) / W;
    g->wn_pitch = 2 * nvec * W + 2;
    g->wn_vp = round16(nr * g->wn_tw + W);
    g->wu_off = 0;
    g->ws_off = round16(16 * g->F * g->C);
    g->wv_off = g->ws_off + round16(g->C * (2 * nr + 2) * g->wn_pitch);
    g->wm_off = g->wv_off + round16(16 * g->C * g->wn_vp);
    int64_t need = g->wm_off + 16 * g->F * g->wn_vp;
    if (need > g->scratch)
        g->scratch = need;
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
        const char *cs = simd(v->splat, arena_printf(emit_arena, "%.9gf", c), 0, 0);
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

/* NAME_wu: U[ab][f][c] = (G w[f][c] GT)[a][b], scalar. */
static void emit_wu(emitter *e, const ir_layer *ly, const fgeom *g)
{
    emit(e, "static void %s_wu(const float *restrict w, float *restrict u)", ly->name);
    emit(e, "{");
    emit(e, "static const float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};");
    emit(e, "for (int f = 0; f < %lld; f++)", (long long)g->F);
    emit(e, "for (int ch = 0; ch < %lld; ch++) {", (long long)g->C);
    emit(e, "const float *k = w + ((size_t)f * %lld + ch) * 9;", (long long)g->C);
    emit(e, "float t[4][3];");
    emit(e, "for (int a = 0; a < 4; a++)");
    emit(e, "    for (int j = 0; j < 3; j++)");
    emit(e, "        t[a][j] = G[a][0] * k[j] + G[a][1] * k[3 + j] + G[a][2] * k[6 + j];");
    emit(e, "for (int a = 0; a < 4; a++)");
    emit(e, "    for (int b = 0; b < 4; b++)");
    emit(e, "        u[((size_t)(a * 4 + b) * %lld + f) * %lld + ch] = t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2];",
         (long long)g->F, (long long)g->C);
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* NAME_wst: the input rows 2*ty0 .. 2*ty0 + 2*rows + 1 of every map into
 * the staging buffer (rows past the input zeroed; the columns past it
 * stay zero from the call's memset). */
static void emit_wst(emitter *e, const ir_layer *ly, const fgeom *g)
{
    int64_t sr = 2 * g->wn_rows + 2, pw = ly->padded.d[2], ph = ly->padded.d[1];
    emit(e, "static void %s_wst(const float *restrict xi, float *restrict sg, int ty0)", ly->name);
    emit(e, "{");
    emit(e, "for (int ch = 0; ch < %lld; ch++)", (long long)g->C);
    emit(e, "for (int r = 0; r < %lld; r++) {", (long long)sr);
    emit(e, "float *dst = sg + ((size_t)ch * %lld + r) * %lld;", (long long)sr, (long long)g->wn_pitch);
    emit(e, "const int gr = 2 * ty0 + r;");
    emit(e, "if (gr < %lld)", (long long)ph);
    emit(e, "    memcpy(dst, xi + (size_t)ch * %lld + (size_t)gr * %lld, sizeof(float) * %lld);",
         (long long)g->psz, (long long)pw, (long long)pw);
    emit(e, "else");
    emit(e, "    memset(dst, 0, sizeof(float) * %lld);", (long long)g->wn_pitch);
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* NAME_wi: V[ab][c][t] = (BT d B)[a][b] for every tile of the chunk. */
static void emit_wi(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t sr = 2 * g->wn_rows + 2, P = g->wn_pitch, nvec = (g->wn_tw + W - 1) / W;
    emit(e, "CNNC_KERNEL static void %s_wi(const float *restrict sg, float *restrict vv)", ly->name);
    emit(e, "{");
    emit(e, "for (int ch = 0; ch < %lld; ch++)", (long long)g->C);
    emit(e, "for (int ty = 0; ty < %lld; ty++)", (long long)g->wn_rows);
    emit(e, "for (int tx = 0; tx < %lld; tx += %d) {", (long long)(nvec * W), W);
    emit(e, "const float *sp = sg + ((size_t)ch * %lld + 2 * ty) * %lld + 2 * tx;", (long long)sr, (long long)P);
    emit(e, "float *vp = vv + (size_t)ch * %lld + ty * %lld + tx;", (long long)g->wn_vp, (long long)g->wn_tw);
    const char *r[4][4];
    for (int i = 0; i < 4; i++) {
        const char *d[4];
        for (int j = 0; j < 4; j++) {
            d[j] = vname("d", i, j);
            emit(e, "const %s %s = %s;", v->vec, d[j],
                 simd(v->pick2, simd(v->load, arena_printf(emit_arena, "sp + %lld", (long long)(i * P + j)), 0, 0),
                      simd(v->load, arena_printf(emit_arena, "sp + %lld", (long long)(i * P + j + W - 1)), 0, 0), 0));
        }
        for (int b = 0; b < 4; b++) {
            r[b][i] = vname("r", i, b);
            emit(e, "const %s %s = %s;", v->vec, r[b][i], lincomb(v, BT[b], 1, d, 4));
        }
    }
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            emit(e, "%s", simd(v->store, arena_printf(emit_arena, "vp + %lld", (long long)((a * 4 + b) * g->C * g->wn_vp)),
                               lincomb(v, BT[a], 1, r[b], 4), 0));
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* One output vector s (n of W valid) at yr + at, with the activation. */
static void emit_out_store(emitter *e, const ir_layer *ly, const char *s, const char *at, int n)
{
    const simd_target *v = e->simd;
    int W = v->width;
    if (ly->act == ACT_RELU || ly->act == ACT_NONE) {
        const char *x = ly->act == ACT_RELU ? simd(v->pos, s, s, 0) : s;
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
    if (ly->act == ACT_SIGMOID)
        emit(e, "    (%s)[l] = 1.0f / (1.0f + expf(-t[l]));", at);
    else
        emit(e, "    (%s)[l] = tanhf(t[l]);", at);
    emit(e, "}");
}

/* The tiles tx .. tx + W of a row: Y = AT M A + bias into output rows
 * yr and yr + ow (the latter if two), nlo / nhi outputs of the two
 * interleaved halves (0: none). */
static void emit_wo_block(emitter *e, const ir_layer *ly, const fgeom *g, const char *tx, int nlo, int nhi)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t ow = ly->out.d[2];
    const char *m[4][4], *t[2][4];
    emit(e, "{");
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            m[b][a] = vname("m", a, b);
            emit(e, "const %s %s = %s;", v->vec, m[b][a],
                 simd(v->load, arena_printf(emit_arena, "mp + %lld + %s", (long long)((a * 4 + b) * g->F * g->wn_vp), tx), 0, 0));
        }
    for (int i = 0; i < 2; i++)
        for (int b = 0; b < 4; b++) {
            t[i][b] = vname("t", i, b);
            emit(e, "const %s %s = %s;", v->vec, t[i][b], lincomb(v, AT[i], 1, m[b], 4));
        }
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++)
            emit(e, "const %s %s = %s;", v->vec, vname("y", i, j), simd(v->add, lincomb(v, AT[j], 1, t[i], 4), "bv", 0));
        emit(e, "%s", i ? "if (two) {" : "{");
        emit(e, "const %s lo = %s, hi = %s;", v->vec, simd(v->zip_lo, vname("y", i, 0), vname("y", i, 1), 0),
             simd(v->zip_hi, vname("y", i, 0), vname("y", i, 1), 0));
        if (nlo > 0)
            emit_out_store(e, ly, "lo", arena_printf(emit_arena, "yr + %lld + 2 * %s", (long long)(i * ow), tx), nlo);
        if (nhi > 0)
            emit_out_store(e, ly, "hi", arena_printf(emit_arena, "yr + %lld + 2 * %s", (long long)(i * ow + W), tx), nhi);
        emit(e, "}");
    }
    emit(e, "}");
}

/* NAME_wo: the chunk's outputs from M. */
static void emit_wo(emitter *e, const ir_layer *ly, const fgeom *g)
{
    const simd_target *v = e->simd;
    int W = v->width;
    int64_t ow = ly->out.d[2], oh = ly->out.d[1], full = ow / (2 * W) * W;
    emit(e, "CNNC_KERNEL static void %s_wo(const float *restrict mm, const float *restrict b, float *restrict yi, int ty0)",
         ly->name);
    emit(e, "{");
    if (!ly->bias)
        emit(e, "(void)b;");
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit(e, "const %s bv = %s;", v->vec, ly->bias ? simd(v->splat, "b[f]", 0, 0) : v->zero);
    emit(e, "for (int ty = 0; ty < %lld && ty0 + ty < %lld; ty++) {", (long long)g->wn_rows, (long long)g->wn_th);
    emit(e, "const float *mp = mm + (size_t)f * %lld + ty * %lld;", (long long)g->wn_vp, (long long)g->wn_tw);
    emit(e, "float *yr = yi + (size_t)f * %lld + (size_t)(2 * (ty0 + ty)) * %lld;", (long long)g->osz, (long long)ow);
    emit(e, "const int two = 2 * (ty0 + ty) + 1 < %lld;", (long long)oh);
    emit(e, "(void)two;");
    if (full > 0) {
        emit(e, "for (int tx = 0; tx < %lld; tx += %d)", (long long)full, W);
        emit_wo_block(e, ly, g, "tx", W, W);
    }
    if (full < g->wn_tw) {
        int64_t rest = ow - 2 * full;
        int nlo = (int)(rest < W ? rest : W), nhi = (int)(rest - W < W ? rest - W : W);
        emit_wo_block(e, ly, g, arena_printf(emit_arena, "%lld", (long long)full), nlo, nhi);
    }
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

static sweep wino_sweep(const ir_layer *ly, const fgeom *g)
{
    static const int64_t zero[1] = {0};
    sweep s = {arena_printf(emit_arena, "%s_wm", ly->name), g->F, g->C, g->wn_vp, g->wn_vp,
               g->wn_rows * g->wn_tw, g->C, 1, 1, zero, zero, false, 0, 0, 1};
    return s;
}

void conv_emit_wino_forward(emitter *e, const ir_layer *ly, const fgeom *g)
{
    sweep s = wino_sweep(ly, g);
    emit_sweep(e, &s);
    emit_wu(e, ly, g);
    emit_wst(e, ly, g);
    emit_wi(e, ly, g);
    emit_wo(e, ly, g);
    emit_forward_head(e, ly, "CNNC_KERNEL ", "");
    emit(e, "{");
    emit(e, "const float *restrict b = %s;",
         ly->bias ? arena_printf(emit_arena, "c->params + %lld", (long long)ly->boff) : "NULL");
    if (layer_has_pad(ly))
        emit(e, "%s_pad(i0, i1, x, c->pad_%s);", ly->name, ly->name);
    emit(e, "const float *restrict xs = %s;",
         layer_has_pad(ly) ? arena_printf(emit_arena, "c->pad_%s", ly->name) : "x");
    emit(e, "if (i1 <= i0)");
    emit(e, "    return;");
    emit(e, "float *ws = c->cs + (size_t)i0 * %lld;", (long long)e->cs_max);
    emit(e, "float *restrict u = ws + %lld, *restrict sg = ws + %lld;", (long long)g->wu_off, (long long)g->ws_off);
    emit(e, "float *restrict vv = ws + %lld, *restrict mm = ws + %lld;", (long long)g->wv_off, (long long)g->wm_off);
    emit(e, "%s_wu(c->params + %lld, u);", ly->name, (long long)ly->woff);
    emit(e, "memset(sg, 0, sizeof(float) * %lld);", (long long)(g->C * (2 * g->wn_rows + 2) * g->wn_pitch));
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = xs + (size_t)i * %lld;", (long long)(g->C * g->psz));
    emit(e, "float *yi = y + (size_t)i * %lld;", (long long)(g->F * g->osz));
    emit(e, "for (int ty0 = 0; ty0 < %lld; ty0 += %lld) {", (long long)g->wn_th, (long long)g->wn_rows);
    emit(e, "%s_wst(xi, sg, ty0);", ly->name);
    emit(e, "%s_wi(sg, vv);", ly->name);
    emit(e, "for (int pos = 0; pos < 16; pos++) {");
    emit(e, "const float *w = u + (size_t)pos * %lld;", (long long)(g->F * g->C));
    emit(e, "const float *vin = vv + (size_t)pos * %lld;", (long long)(g->C * g->wn_vp));
    emit(e, "float *mo = mm + (size_t)pos * %lld;", (long long)(g->F * g->wn_vp));
    emit_sweep_calls(e, &s, "vin", "mo");
    emit(e, "}");
    emit(e, "%s_wo(mm, b, yi, ty0);", ly->name);
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}
