/* emit_window.c - the windowed layers, any spatial rank: conv (tied
 * weights), local (untied weights), maxpool and avgpool.  Padding is a copy into a padded buffer (emit_pad_functions),
 * so the kernels below only ever see a valid convolution:
 *   y[f, o] = b[f] + sum_{c, k} w[f, c, k] * xp[c, stride*o + dilation*k]
 * The innermost loops run over output positions, contiguous when stride is
 * 1.  These are the reference kernels; the SIMD ones are in emit_fast.c
 * (conv) and emit_fastpool.c (pooling). */
#include <string.h>
#include "emit.h"

/* Compile-time geometry of a windowed layer. */
typedef struct geom {
    int r;                                   /* spatial rank */
    int64_t C, F;                            /* input maps, output maps */
    int64_t psz, osz, kvol;                  /* per map: padded in, out, kernel */
    int64_t pm[MAX_SPATIAL];                 /* padded input strides */
    int64_t om[MAX_SPATIAL], km[MAX_SPATIAL];/* output and kernel strides */
    int64_t xo[MAX_SPATIAL], xk[MAX_SPATIAL];/* input step per output / kernel index */
    char *oidx, *kidx, *xoidx, *xkidx;       /* index expressions */
} geom;

static void strides(int r, const int64_t *dims, int64_t *mul)
{
    int64_t m = 1;
    for (int a = r - 1; a >= 0; a--) {
        mul[a] = m;
        m *= dims[a];
    }
}

static geom make_geom(const ir_layer *ly)
{
    geom g = {0};
    g.r = ly->nsp;
    g.C = ly->in.d[0];
    g.F = ly->out.d[0];
    strides(g.r, ly->padded.d + 1, g.pm);
    strides(g.r, ly->out.d + 1, g.om);
    strides(g.r, ly->kernel, g.km);
    g.psz = g.pm[0] * ly->padded.d[1];
    g.osz = g.om[0] * ly->out.d[1];
    g.kvol = g.km[0] * ly->kernel[0];
    for (int a = 0; a < g.r; a++) {
        g.xo[a] = ly->stride[a] * g.pm[a];
        g.xk[a] = ly->dilation[a] * g.pm[a];
    }
    g.oidx = index_expr(emit_arena, "o", g.r, g.om);
    g.kidx = index_expr(emit_arena, "k", g.r, g.km);
    g.xoidx = index_expr(emit_arena, "o", g.r, g.xo);
    g.xkidx = index_expr(emit_arena, "k", g.r, g.xk);
    return g;
}

/* This lane's part of the shared padded-gradient scratch. */
static const char *gpad_slot(const emitter *e, const ir_layer *ly)
{
    return lane_slot("c->gpad", e->pad_max, padded_count(ly));
}

static const char *xsource(const ir_layer *ly)
{
    return layer_has_pad(ly) ? arena_printf(emit_arena, "c->pad_%s", ly->name) : "x";
}

/* The connection table of LeNet-5's C3 as a mask [F][C]; masked pairs are
 * skipped, and their stored weights stay 0. */
static void emit_mask(emitter *e, const ir_layer *ly)
{
    int64_t C = ly->in.d[0], *t = arena_alloc(emit_arena, (size_t)(ly->filters * C) * sizeof *t);
    for (int64_t f = 0; f < ly->filters; f++)
        for (int64_t c = 0; c < C; c++) {
            t[f * C + c] = 0;
            for (int j = 0; j < ly->nconnect_row[f]; j++)
                t[f * C + c] |= ly->connect[f][j] == c;
        }
    emit_table(e, "unsigned char", arena_printf(emit_arena, "%s_mask", ly->name), t,
               ly->filters * C);
}

static void emit_mask_skip(emitter *e, const ir_layer *ly, const geom *g)
{
    if (ly->nconnect)
        emit(e, "if (!%s_mask[f * %lld + ci]) continue;", ly->name, (long long)g->C);
}

static void emit_params(emitter *e, const ir_layer *ly, bool grads)
{
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    if (ly->bias && !grads)
        emit(e, "const float *restrict b = c->params + %lld;", (long long)ly->boff);
    if (!grads)
        return;
    emit(e, "float *restrict gw = grads + %lld;", (long long)ly->woff);
    if (ly->bias)
        emit(e, "float *restrict gb = grads + %lld;", (long long)ly->boff);
}

/* Per-axis mirror of a kernel, for symmetric = true: NAME_tie sums (grads)
 * or averages (weights) every position with its mirror image, axis by axis,
 * which over all axes sums / averages each tie group. */
static void emit_tie(emitter *e, const ir_layer *ly, const geom *g)
{
    emit(e, "static void %s_tie(float *restrict k, float scale)", ly->name);
    emit(e, "{");
    emit(e, "for (int q = 0; q < %lld; q++, k += %lld) {", (long long)(g->F * g->C),
         (long long)g->kvol);
    for (int a = 0; a < g->r; a++) {
        int loops = emit_loops(e, "k", g->r, ly->kernel);
        emit(e, "if (k%d < %lld - k%d) {", a, (long long)(ly->kernel[a] - 1), a);
        emit(e, "const int m = %s + (%lld - 2 * k%d) * %lld;", g->kidx,
             (long long)(ly->kernel[a] - 1), a, (long long)g->km[a]);
        emit(e, "const float s = scale * (k[%s] + k[m]);", g->kidx);
        emit(e, "k[%s] = s;", g->kidx);
        emit(e, "k[m] = s;");
        emit(e, "}");
        emit_close(e, loops);
    }
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

static void emit_conv_helpers(emitter *e, const ir_layer *ly, const geom *g)
{
    if (layer_has_pad(ly))
        emit_pad_functions(e, ly, "0.0f");
    if (ly->nconnect)
        emit_mask(e, ly);
    if (ly->symmetric)
        emit_tie(e, ly, g);
}

void conv_emit_forward(emitter *e, const ir_layer *ly)
{
    geom g = make_geom(ly);
    emit_conv_helpers(e, ly, &g);
    e->sfx = conv_is_fast(e, ly) || dense_is_fast(e, ly) ? "_ref" : "";
    emit_forward_head(e, ly, twin_attr(e), e->sfx);
    emit(e, "{");
    emit_params(e, ly, false);
    if (layer_has_pad(ly))
        emit(e, "%s_pad(i0, i1, x, c->pad_%s);", ly->name, ly->name);
    emit(e, "const float *restrict xs = %s;", xsource(ly));
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = xs + (size_t)i * %lld;", (long long)(g.C * g.psz));
    emit(e, "float *yi = y + (size_t)i * %lld;", (long long)(g.F * g.osz));
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g.F);
    emit(e, "float *yo = yi + f * %lld;", (long long)g.osz);
    emit(e, "for (int p = 0; p < %lld; p++)", (long long)g.osz);
    emit(e, "    yo[p] = %s;", ly->bias ? "b[f]" : "0.0f");
    emit(e, "for (int ci = 0; ci < %lld; ci++) {", (long long)g.C);
    emit_mask_skip(e, ly, &g);
    emit(e, "const float *xc = xi + ci * %lld;", (long long)g.psz);
    emit(e, "const float *wc = w + (f * %lld + ci) * %lld;", (long long)g.C, (long long)g.kvol);
    int kl = emit_loops(e, "k", g.r, ly->kernel);
    emit(e, "const float wv = wc[%s];", g.kidx);
    emit(e, "const float *xk = xc + %s;", g.xkidx);
    int ol = emit_loops(e, "o", g.r, ly->out.d + 1);
    emit(e, "yo[%s] += wv * xk[%s];", g.oidx, g.xoidx);
    emit_close(e, ol + kl + 3);
    emit_act_forward(e, ly->act, "y", g.F * g.osz);
    emit(e, "}");
    emit_blank(e);
    e->sfx = "";
    if (dense_is_fast(e, ly))
        dense_emit_fast_forward(e, ly);
    else if (conv_is_fast(e, ly))
        conv_emit_fast_forward(e, ly);
}

/* s = sum over output positions of dyo * xk.  One accumulator per position
 * of the last axis, so the inner loop is element-wise (vectorisable)
 * instead of one serial chain of additions. */
static void emit_row_reduction(emitter *e, const ir_layer *ly, const geom *g)
{
    int64_t w = ly->out.d[g->r];
    if (w > 1024 || e->sfx[0]) { /* a reference twin: plain is enough */
        emit(e, "float s = 0.0f;");
        int ol = emit_loops(e, "o", g->r, ly->out.d + 1);
        emit(e, "s += dyo[%s] * xk[%s];", g->oidx, g->xoidx);
        emit_close(e, ol);
        return;
    }
    emit(e, "float acc[%lld] = {0};", (long long)w);
    int ol = emit_loops(e, "o", g->r - 1, ly->out.d + 1);
    emit(e, "for (int o%d = 0; o%d < %lld; o%d++)", g->r - 1, g->r - 1, (long long)w, g->r - 1);
    emit(e, "    acc[o%d] += dyo[%s] * xk[%s];", g->r - 1, g->oidx, g->xoidx);
    emit_close(e, ol);
    emit(e, "float s = 0.0f;");
    emit(e, "for (int j = 0; j < %lld; j++)", (long long)w);
    emit(e, "    s += acc[j];");
}

/* dW and db: correlate the output gradient with the (padded) input. */
static void emit_conv_wgrad(emitter *e, const ir_layer *ly, const geom *g)
{
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = xs + (size_t)i * %lld;", (long long)(g->C * g->psz));
    emit(e, "const float *dyi = dy + (size_t)i * %lld;", (long long)(g->F * g->osz));
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit(e, "const float *dyo = dyi + f * %lld;", (long long)g->osz);
    if (ly->bias) {
        emit(e, "float sb = 0.0f;");
        emit(e, "for (int p = 0; p < %lld; p++)", (long long)g->osz);
        emit(e, "    sb += dyo[p];");
        emit(e, "gb[f] += sb;");
    }
    emit(e, "for (int ci = 0; ci < %lld; ci++) {", (long long)g->C);
    emit_mask_skip(e, ly, g);
    emit(e, "const float *xc = xi + ci * %lld;", (long long)g->psz);
    emit(e, "float *gc = gw + (f * %lld + ci) * %lld;", (long long)g->C, (long long)g->kvol);
    int kl = emit_loops(e, "k", g->r, ly->kernel);
    emit(e, "const float *xk = xc + %s;", g->xkidx);
    emit_row_reduction(e, ly, g);
    emit(e, "gc[%s] += s;", g->kidx);
    emit_close(e, kl + 3);
}

/* dx: scatter the output gradient back through the kernel. */
static void emit_conv_xgrad(emitter *e, const ir_layer *ly, const geom *g)
{
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit(e, "float *restrict dxs = %s;", layer_has_pad(ly) ? gpad_slot(e, ly) : "dx");
    emit_zero_samples(e, "dxs", g->C * g->psz);
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "float *dxi = dxs + (size_t)i * %lld;", (long long)(g->C * g->psz));
    emit(e, "const float *dyi = dy + (size_t)i * %lld;", (long long)(g->F * g->osz));
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit(e, "const float *dyo = dyi + f * %lld;", (long long)g->osz);
    emit(e, "for (int ci = 0; ci < %lld; ci++) {", (long long)g->C);
    emit_mask_skip(e, ly, g);
    emit(e, "float *dxc = dxi + ci * %lld;", (long long)g->psz);
    emit(e, "const float *wc = w + (f * %lld + ci) * %lld;", (long long)g->C, (long long)g->kvol);
    int kl = emit_loops(e, "k", g->r, ly->kernel);
    emit(e, "const float wv = wc[%s];", g->kidx);
    emit(e, "float *dxk = dxc + %s;", g->xkidx);
    int ol = emit_loops(e, "o", g->r, ly->out.d + 1);
    emit(e, "dxk[%s] += wv * dyo[%s];", g->xoidx, g->oidx);
    emit_close(e, ol + kl + 3);
    if (layer_has_pad(ly))
        emit(e, "%s_unpad(i0, i1, dxs, dx);", ly->name);
}

void conv_emit_backward(emitter *e, const ir_layer *ly)
{
    geom g = make_geom(ly);
    e->sfx = conv_is_fast(e, ly) || dense_is_fast(e, ly) ? "_ref" : "";
    emit_backward_head(e, ly, twin_attr(e), e->sfx);
    emit(e, "{");
    emit_params(e, ly, true);
    if (layer_has_pad(ly))
        emit(e, "(void)x;");
    if (ly->act == ACT_NONE)
        emit(e, "(void)y;");
    emit(e, "const float *restrict xs = %s;", xsource(ly));
    emit_act_backward(e, ly->act, "y", "dy", g.F * g.osz);
    emit_conv_wgrad(e, ly, &g);
    if (ly->symmetric)
        emit(e, "%s_tie(gw, 1.0f);", ly->name);
    emit_conv_xgrad(e, ly, &g);
    emit(e, "}");
    emit_blank(e);
    e->sfx = "";
    if (dense_is_fast(e, ly))
        dense_emit_fast_backward(e, ly);
    else if (conv_is_fast(e, ly))
        conv_emit_fast_backward(e, ly);
}

/* local: every output position has its own kernel, weight
 * [F, positions..., C, k...], bias [F, positions...]. */
static void emit_local_head(emitter *e, const ir_layer *ly, const geom *g, const char *dyname)
{
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = xs + (size_t)i * %lld;", (long long)(g->C * g->psz));
    emit(e, "for (int f = 0; f < %lld; f++) {", (long long)g->F);
    emit_loops(e, "o", g->r, ly->out.d + 1);
    emit(e, "const int p = f * %lld + %s;", (long long)g->osz, g->oidx);
    emit(e, "const size_t wp = (size_t)p * %lld;", (long long)(g->C * g->kvol));
    emit(e, "const int xo = %s;", g->xoidx);
    if (dyname)
        emit(e, "const float d = %s[(size_t)i * %lld + p];", dyname, (long long)(g->F * g->osz));
}

void local_emit_forward(emitter *e, const ir_layer *ly)
{
    geom g = make_geom(ly);
    emit_conv_helpers(e, ly, &g);
    emit_forward_head(e, ly, "", "");
    emit(e, "{");
    emit_params(e, ly, false);
    if (layer_has_pad(ly))
        emit(e, "%s_pad(i0, i1, x, c->pad_%s);", ly->name, ly->name);
    emit(e, "const float *restrict xs = %s;", xsource(ly));
    emit_local_head(e, ly, &g, NULL);
    emit(e, "float s = %s;", ly->bias ? "b[p]" : "0.0f");
    emit(e, "for (int ci = 0; ci < %lld; ci++) {", (long long)g.C);
    emit(e, "const float *xc = xi + xo + ci * %lld;", (long long)g.psz);
    emit(e, "const float *wc = w + wp + ci * %lld;", (long long)g.kvol);
    int kl = emit_loops(e, "k", g.r, ly->kernel);
    emit(e, "s += wc[%s] * xc[%s];", g.kidx, g.xkidx);
    emit_close(e, kl + 1);
    emit(e, "y[(size_t)i * %lld + p] = s;", (long long)(g.F * g.osz));
    emit_close(e, g.r + 2);
    emit_act_forward(e, ly->act, "y", g.F * g.osz);
    emit(e, "}");
    emit_blank(e);
}

void local_emit_backward(emitter *e, const ir_layer *ly)
{
    geom g = make_geom(ly);
    emit_backward_head(e, ly, "", "");
    emit(e, "{");
    emit_params(e, ly, true);
    if (layer_has_pad(ly))
        emit(e, "(void)x;");
    if (ly->act == ACT_NONE)
        emit(e, "(void)y;");
    emit(e, "const float *restrict xs = %s;", xsource(ly));
    emit_act_backward(e, ly->act, "y", "dy", g.F * g.osz);
    emit(e, "float *restrict dxs = dx ? %s : NULL;", layer_has_pad(ly) ? gpad_slot(e, ly) : "dx");
    emit(e, "if (dxs)");
    e->indent++;
    emit_zero_samples(e, "dxs", g.C * g.psz);
    e->indent--;
    emit_local_head(e, ly, &g, "dy");
    if (ly->bias)
        emit(e, "gb[p] += d;");
    emit(e, "for (int ci = 0; ci < %lld; ci++) {", (long long)g.C);
    emit(e, "const float *xc = xi + xo + ci * %lld;", (long long)g.psz);
    emit(e, "const size_t wc = wp + (size_t)ci * %lld;", (long long)g.kvol);
    int kl = emit_loops(e, "k", g.r, ly->kernel);
    emit(e, "gw[wc + %s] += d * xc[%s];", g.kidx, g.xkidx);
    emit(e, "if (dxs)");
    emit(e, "    dxs[(size_t)i * %lld + xo + ci * %lld + %s] += d * w[wc + %s];",
         (long long)(g.C * g.psz), (long long)g.psz, g.xkidx, g.kidx);
    emit_close(e, kl + 1);
    emit_close(e, g.r + 2);
    if (layer_has_pad(ly)) {
        emit(e, "if (dx)");
        emit(e, "    %s_unpad(i0, i1, dxs, dx);", ly->name);
    }
    emit(e, "}");
    emit_blank(e);
}

/* Pooling: a window over each map.  Zero padding is the fill value of the
 * padded copy: -inf for max (padding never wins), 0 for an average (it
 * counts, as PyTorch's count_include_pad). */
static void emit_pool_head(emitter *e, const ir_layer *ly, const geom *g, const char *src)
{
    emit(e, "for (size_t q = (size_t)i0 * %lld; q < (size_t)i1 * %lld; q++) {", (long long)g->C,
         (long long)g->C);
    emit(e, "%sfloat *xq = %s + q * %lld;", src[0] == 'x' ? "const " : "", src,
         (long long)g->psz);
    emit_loops(e, "o", g->r, ly->out.d + 1);
    emit(e, "const int base = %s;", g->xoidx);
}

static void pool_emit_forward(emitter *e, const ir_layer *ly, bool max)
{
    geom g = make_geom(ly);
    if (layer_has_pad(ly))
        emit_pad_functions(e, ly, max ? "-INFINITY" : "0.0f");
    e->sfx = pool_is_fast(e, ly) ? "_ref" : "";
    emit_forward_head(e, ly, twin_attr(e), e->sfx);
    emit(e, "{");
    if (layer_has_pad(ly))
        emit(e, "%s_pad(i0, i1, x, c->pad_%s);", ly->name, ly->name);
    else if (!max)
        emit(e, "(void)c;");
    emit(e, "const float *restrict xs = %s;", xsource(ly));
    emit_pool_head(e, ly, &g, "xs");
    emit(e, "const size_t out = q * %lld + %s;", (long long)g.osz, g.oidx);
    if (max) {
        emit(e, "float m = xq[base];");
        emit(e, "int at = base;");
    } else {
        emit(e, "float s = 0.0f;");
    }
    int kl = emit_loops(e, "k", g.r, ly->kernel);
    if (max) {
        /* branch-free: data-dependent branches mispredict half the time */
        emit(e, "const int j = base + %s;", g.xkidx);
        emit(e, "const int up = xq[j] > m;");
        emit(e, "m = up ? xq[j] : m;");
        emit(e, "at = up ? j : at;");
    } else {
        emit(e, "s += xq[base + %s];", g.xkidx);
    }
    emit_close(e, kl);
    if (max) {
        emit(e, "y[out] = m;");
        emit(e, "c->arg_%s[out] = at;", ly->name);
    } else {
        emit(e, "y[out] = s / %lld.0f;", (long long)g.kvol);
    }
    emit_close(e, g.r + 1);
    emit_act_forward(e, ly->act, "y", g.C * g.osz);
    emit(e, "}");
    emit_blank(e);
    e->sfx = "";
    if (pool_is_fast(e, ly))
        pool_emit_fast_forward(e, ly);
}

/* Zero dx, then add each output's gradient to its window's inputs (max:
 * to the argmax only). */
static void pool_emit_backward_body(emitter *e, const ir_layer *ly, bool max)
{
    geom g = make_geom(ly);
    emit_backward_head(e, ly, twin_attr(e), e->sfx);
    emit(e, "{");
    emit(e, "(void)grads, (void)x;");
    if (ly->act == ACT_NONE)
        emit(e, "(void)y;");
    if (!max && !layer_has_pad(ly))
        emit(e, "(void)c;");
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit_act_backward(e, ly->act, "y", "dy", g.C * g.osz);
    emit(e, "float *restrict dxs = %s;", layer_has_pad(ly) ? gpad_slot(e, ly) : "dx");
    emit_zero_samples(e, "dxs", g.C * g.psz);
    if (max) {
        emit(e, "for (size_t q = (size_t)i0 * %lld; q < (size_t)i1 * %lld; q++) {", (long long)g.C,
             (long long)g.C);
        emit(e, "float *dq = dxs + q * %lld;", (long long)g.psz);
        emit(e, "for (int p = 0; p < %lld; p++)", (long long)g.osz);
        emit(e, "    dq[c->arg_%s[q * %lld + p]] += dy[q * %lld + p];", ly->name,
             (long long)g.osz, (long long)g.osz);
        emit(e, "}");
    } else {
        emit_pool_head(e, ly, &g, "dxs");
        emit(e, "const float d = dy[q * %lld + %s] / %lld.0f;", (long long)g.osz, g.oidx,
             (long long)g.kvol);
        int kl = emit_loops(e, "k", g.r, ly->kernel);
        emit(e, "xq[base + %s] += d;", g.xkidx);
        emit_close(e, kl + g.r + 1);
    }
    if (layer_has_pad(ly))
        emit(e, "%s_unpad(i0, i1, dxs, dx);", ly->name);
    emit(e, "}");
    emit_blank(e);
}

/* A fast layer whose windows overlap has no fast backward: its
 * NAME_backward is the reference loop again, compiled for speed. */
static void pool_emit_backward(emitter *e, const ir_layer *ly, bool max)
{
    bool fast = pool_is_fast(e, ly);
    e->sfx = fast ? "_ref" : "";
    pool_emit_backward_body(e, ly, max);
    e->sfx = "";
    if (pool_backward_is_fast(e, ly))
        pool_emit_fast_backward(e, ly);
    else if (fast)
        pool_emit_backward_body(e, ly, max);
}

void maxpool_emit_forward(emitter *e, const ir_layer *ly) { pool_emit_forward(e, ly, true); }
void maxpool_emit_backward(emitter *e, const ir_layer *ly) { pool_emit_backward(e, ly, true); }
void avgpool_emit_forward(emitter *e, const ir_layer *ly) { pool_emit_forward(e, ly, false); }
void avgpool_emit_backward(emitter *e, const ir_layer *ly) { pool_emit_backward(e, ly, false); }
