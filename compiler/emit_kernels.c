/* emit_kernels.c - pieces every layer emitter uses: loop nests over
 * spatial axes, activations and their derivatives, and the padding copy
 * (one index table per axis covers zero, replicate, reflect and circular). */
#include <string.h>
#include "emit.h"

arena *emit_arena;

int emit_loops(emitter *e, const char *var, int rank, const int64_t *dims)
{
    for (int a = 0; a < rank; a++)
        emit(e, "for (int %s%d = 0; %s%d < %lld; %s%d++) {", var, a, var, a,
             (long long)dims[a], var, a);
    return rank;
}

void emit_close(emitter *e, int loops)
{
    while (loops-- > 0)
        emit(e, "}");
}

const ir_layer *layer_next(const ir_net *net, const ir_layer *ly)
{
    long i = ly - net->layers;
    return i >= 0 && i + 1 < net->nlayers ? &net->layers[i + 1] : NULL;
}

const ir_layer *layer_prev(const ir_net *net, const ir_layer *ly)
{
    long i = ly - net->layers;
    return i >= 1 && i < net->nlayers ? &net->layers[i - 1] : NULL;
}

const char *lanes_from(const emitter *e, const char *j)
{
    const simd_target *v = e->simd;
    return simd(v->iadd, simd(v->iset, simd_ramp(v->width, 1), 0, 0), simd(v->isplat, j, 0, 0), 0);
}

void emit_nz_append(emitter *e, const char *ld, const char *pos, const char *also)
{
    const simd_target *v = e->simd;
    emit(e, "{");
    emit(e, "const %s d = %s;", v->vec, ld);
    if (also)
        emit(e, "const unsigned m = %s & (unsigned)(%s);", simd(v->nzmask, "d", 0, 0), also);
    else
        emit(e, "const unsigned m = %s;", simd(v->nzmask, "d", 0, 0));
    emit(e, "%s", simd(v->istore, "li + nz", simd(v->cmpi, "m", pos, 0), 0));
    emit(e, "%s", simd(v->store, "lv + nz", simd(v->cmpf, "m", "d", 0), 0));
    emit(e, "nz += __builtin_popcount(m);");
    emit(e, "}");
}

/* "o0 * 28 + o1": the flat index of loop variables VAR0.. with multipliers. */
char *index_expr(arena *a, const char *var, int rank, const int64_t *mul)
{
    strbuf b = {0};
    for (int i = 0; i < rank; i++) {
        if (mul[i] == 0)
            continue;
        if (b.len)
            sb_puts(&b, " + ");
        if (mul[i] == 1)
            sb_printf(&b, "%s%d", var, i);
        else
            sb_printf(&b, "%s%d * %lld", var, i, (long long)mul[i]);
    }
    if (!b.len)
        sb_puts(&b, "0");
    char *s = arena_strdup(a, b.data);
    sb_free(&b);
    return s;
}

/* The range of elements of samples [i0, i1) of a per-sample size. */
static void emit_sample_range(emitter *e, const char *what, int64_t per_sample)
{
    emit(e, "for (size_t p = (size_t)i0 * %lld; p < (size_t)i1 * %lld; p++) /* %s */",
         (long long)per_sample, (long long)per_sample, what);
}

const char *act_expr(const emitter *e, act_kind act, const char *s)
{
    bool twin = e->sfx[0];
    switch (act) {
    case ACT_RELU: return arena_printf(emit_arena, "%s > 0.0f ? %s : 0.0f", s, s);
    case ACT_SIGMOID:
        return arena_printf(emit_arena, twin ? "1.0f / (1.0f + expf(-%s))" : "cnnrt_sigmoidf(%s)", s);
    case ACT_TANH: return arena_printf(emit_arena, twin ? "tanhf(%s)" : "cnnrt_tanhf(%s)", s);
    default: return s;
    }
}

void emit_act_forward(emitter *e, act_kind act, const char *buf, int64_t per_sample)
{
    if (act == ACT_NONE)
        return;
    emit_sample_range(e, act_name(act), per_sample);
    e->indent++;
    emit(e, "%s[p] = %s;", buf, act_expr(e, act, arena_printf(emit_arena, "%s[p]", buf)));
    e->indent--;
}

/* dy *= act'(y), written in terms of the activation's output y. */
void emit_act_backward(emitter *e, act_kind act, const char *y, const char *dy,
                       int64_t per_sample)
{
    if (act == ACT_NONE)
        return;
    emit_sample_range(e, arena_printf(emit_arena, "d%s", act_name(act)), per_sample);
    e->indent++;
    if (act == ACT_RELU)
        emit(e, "%s[p] = %s[p] > 0.0f ? %s[p] : 0.0f;", dy, y, dy);
    else if (act == ACT_SIGMOID)
        emit(e, "%s[p] *= %s[p] * (1.0f - %s[p]);", dy, y, y);
    else
        emit(e, "%s[p] *= 1.0f - %s[p] * %s[p];", dy, y, y);
    e->indent--;
}

/* memset of samples [i0, i1) of a buffer: one constant-size memset per
 * sample, which compilers see cannot overflow. */
void emit_zero_samples(emitter *e, const char *buf, int64_t per_sample)
{
    emit(e, "for (int i = i0; i < i1; i++)");
    emit(e, "    memset(%s + (size_t)i * %lld, 0, sizeof(float) * %lld);", buf,
         (long long)per_sample, (long long)per_sample);
}

const char *lane_slot(const char *buf, int64_t max, int64_t size)
{
    if (max == size)
        return buf;
    return arena_printf(emit_arena, "%s + (size_t)i0 * %lld", buf, (long long)(max - size));
}

bool layer_is_view(const ir_layer *ly) { return ly->kind == LK_FLATTEN; }

bool layer_has_argmax(const ir_layer *ly) { return ly->kind == LK_MAXPOOL; }

bool layer_has_pad(const ir_layer *ly)
{
    if (ly->padded.rank == 0)
        return false;
    for (int a = 0; a < ly->nsp; a++)
        if (ly->pad_lo[a] || ly->pad_hi[a])
            return true;
    return false;
}

int64_t padded_count(const ir_layer *ly) { return shape_count(&ly->padded); }

/* Where padded position p of an axis reads from, or -1 for the fill value. */
static int64_t pad_source(pad_kind mode, int64_t p, int64_t lo, int64_t in)
{
    int64_t j = p - lo;
    if (j >= 0 && j < in)
        return j;
    switch (mode) {
    case PAD_REPLICATE: return j < 0 ? 0 : in - 1;
    case PAD_REFLECT: return j < 0 ? -j : 2 * (in - 1) - j;
    case PAD_CIRCULAR: return ((j % in) + in) % in;
    default: return -1; /* valid, same, zero */
    }
}

/* One table per axis; the last axis's only when it has margins (its
 * middle is a memcpy). */
static void emit_pad_tables(emitter *e, const ir_layer *ly)
{
    for (int a = 0; a < ly->nsp; a++) {
        int64_t len = ly->padded.d[a + 1];
        if (a == ly->nsp - 1 && len == ly->in.d[a + 1])
            continue;
        strbuf b = {0};
        for (int64_t p = 0; p < len; p++)
            sb_printf(&b, "%s%lld", p ? ", " : "",
                      (long long)pad_source(ly->pad, p, ly->pad_lo[a], ly->in.d[a + 1]));
        emit(e, "static const int %s_src%d[%lld] = {%s};", ly->name, a, (long long)len, b.data);
        sb_free(&b);
    }
}

/* Strides of the spatial axes of a [C, spatial...] shape (per channel). */
static void spatial_strides(const shape *s, int64_t *mul)
{
    int64_t m = 1;
    for (int a = s->rank - 2; a >= 0; a--) {
        mul[a] = m;
        m *= s->d[a + 1];
    }
}

/* The loop nest over the padded rows (every axis but the last) shared by
 * pad and unpad: declares sA = NAME_srcA[pA] per axis; the caller emits
 * the body.  Returns the loops opened. */
static int emit_pad_rows(emitter *e, const ir_layer *ly)
{
    for (int a = 0; a < ly->nsp - 1; a++) {
        emit(e, "for (int p%d = 0; p%d < %lld; p%d++) {", a, a, (long long)ly->padded.d[a + 1], a);
        emit(e, "const int s%d = %s_src%d[p%d];", a, ly->name, a, a);
    }
    return ly->nsp - 1;
}

static char *pad_cond(int axes, const char *op, const char *join)
{
    strbuf b = {0};
    for (int a = 0; a < axes; a++)
        sb_printf(&b, "%ss%d %s 0", a ? join : "", a, op);
    char *s = arena_strdup(emit_arena, b.data);
    sb_free(&b);
    return s;
}

/* The last axis's margins [p0, p1) of a row: each position from its
 * source (table) or, for the fill value, skipped (unpad) / filled (pad). */
static void emit_pad_margin(emitter *e, const ir_layer *ly, int64_t p0, int64_t p1, const char *fill)
{
    int L = ly->nsp - 1;
    if (p1 <= p0)
        return;
    emit(e, "for (int p = %lld; p < %lld; p++) {", (long long)p0, (long long)p1);
    emit(e, "const int j = %s_src%d[p];", ly->name, L);
    if (fill)
        emit(e, "pr[p] = j < 0 ? %s : xr[j];", fill);
    else
        emit(e, "if (j >= 0)");
    if (!fill)
        emit(e, "    dr[j] += gr[p];");
    emit(e, "}");
}

/* NAME_pad copies x [n, C, in...] into xp [n, C, padded...] row by row:
 * a row whose source is padding is the fill value, any other is its
 * source row copied between the margins.  NAME_unpad folds a gradient of
 * the padded input back onto the input, adding in the same order where
 * replicate/reflect/circular read one input element several times. */
void emit_pad_functions(emitter *e, const ir_layer *ly, const char *fill)
{
    int64_t im[MAX_SPATIAL], pm[MAX_SPATIAL];
    spatial_strides(&ly->in, im);
    spatial_strides(&ly->padded, pm);
    int L = ly->nsp - 1;
    int64_t isz = shape_count(&ly->in) / ly->in.d[0], psz = padded_count(ly) / ly->in.d[0];
    int64_t lo = ly->pad_lo[L], w = ly->in.d[L + 1], pw = ly->padded.d[L + 1];
    char *src = index_expr(emit_arena, "s", L, im), *dst = index_expr(emit_arena, "p", L, pm);
    emit_pad_tables(e, ly);
    emit(e, "static void %s_pad(int i0, int i1, const float *restrict x, float *restrict xp)", ly->name);
    emit(e, "{");
    emit(e, "for (size_t q = (size_t)i0 * %lld; q < (size_t)i1 * %lld; q++) {",
         (long long)ly->in.d[0], (long long)ly->in.d[0]);
    int loops = emit_pad_rows(e, ly);
    emit(e, "float *pr = xp + q * %lld + %s;", (long long)psz, dst);
    if (L > 0) {
        emit(e, "if (%s) {", pad_cond(L, "<", " || "));
        emit(e, "for (int p = 0; p < %lld; p++)", (long long)pw);
        emit(e, "    pr[p] = %s;", fill);
        emit(e, "continue;");
        emit(e, "}");
    }
    emit(e, "const float *xr = x + q * %lld + %s;", (long long)isz, src);
    emit_pad_margin(e, ly, 0, lo, fill);
    emit(e, "memcpy(pr + %lld, xr, sizeof(float) * %lld);", (long long)lo, (long long)w);
    emit_pad_margin(e, ly, lo + w, pw, fill);
    emit_close(e, loops + 1);
    emit(e, "}");
    emit_blank(e);
    emit(e, "static void %s_unpad(int i0, int i1, const float *restrict dxp, float *restrict dx)", ly->name);
    emit(e, "{");
    emit_zero_samples(e, "dx", shape_count(&ly->in));
    emit(e, "for (size_t q = (size_t)i0 * %lld; q < (size_t)i1 * %lld; q++) {",
         (long long)ly->in.d[0], (long long)ly->in.d[0]);
    loops = emit_pad_rows(e, ly);
    if (L > 0) {
        emit(e, "if (%s)", pad_cond(L, "<", " || "));
        emit(e, "    continue;");
    }
    emit(e, "float *dr = dx + q * %lld + %s;", (long long)isz, src);
    emit(e, "const float *gr = dxp + q * %lld + %s;", (long long)psz, dst);
    emit_pad_margin(e, ly, 0, lo, NULL);
    emit(e, "for (int j = 0; j < %lld; j++)", (long long)w);
    emit(e, "    dr[j] += gr[%lld + j];", (long long)lo);
    emit_pad_margin(e, ly, lo + w, pw, NULL);
    emit_close(e, loops + 1);
    emit(e, "}");
    emit_blank(e);
}

/* float DST = sum_k A[k] * B[k] over n contiguous elements, with 8
 * independent accumulators: the form a vectoriser (or a SIMD template)
 * turns into one FMA per lane instead of a serial chain. */
void emit_dot(emitter *e, const char *dst, const char *a, const char *b, int64_t n)
{
    long long n8 = (long long)(n / 8 * 8);
    emit(e, "float %s_acc[8] = {0};", dst);
    if (n8) {
        emit(e, "for (int k = 0; k < %lld; k += 8)", n8);
        emit(e, "    for (int j = 0; j < 8; j++)");
        emit(e, "        %s_acc[j] += %s[k + j] * %s[k + j];", dst, a, b);
    }
    if (n8 < n) {
        emit(e, "for (int k = %lld; k < %lld; k++)", n8, (long long)n);
        emit(e, "    %s_acc[k - %lld] += %s[k] * %s[k];", dst, n8, a, b);
    }
    emit(e, "const float %s = ((%s_acc[0] + %s_acc[4]) + (%s_acc[1] + %s_acc[5])) +", dst, dst,
         dst, dst, dst);
    emit(e, "                ((%s_acc[2] + %s_acc[6]) + (%s_acc[3] + %s_acc[7]));", dst, dst, dst,
         dst);
}

/* The head of NAME_forward with suffix sfx ("" or "_ref") and the
 * attributes attr: x in, y out, for samples [i0, i1). */
void emit_forward_head(emitter *e, const ir_layer *ly, const char *attr, const char *sfx)
{
    emit(e, "%sstatic void %s_forward%s(%s_ctx *c, int i0, int i1, const float *restrict x, float *restrict y)",
         attr, ly->name, sfx, e->prefix);
}

/* The head of NAME_backward with suffix sfx ("" or "_ref") and the
 * attributes attr ("", "CNNC_KERNEL " or twin_attr()): every backward
 * kernel takes the same arguments, dy and dx for samples [i0, i1). */
void emit_backward_head(emitter *e, const ir_layer *ly, const char *attr, const char *sfx)
{
    emit(e, "%sstatic void %s_backward%s(%s_ctx *c, float *restrict grads, int i0, int i1, "
         "const float *restrict x, const float *restrict y, float *restrict dy, float *restrict dx)",
         attr, ly->name, sfx, e->prefix);
}

void emit_nonfinite(emitter *e, const char *p, const char *cnt)
{
    const simd_target *v = e->simd;
    int W = v->width;
    emit(e, "%s nf = %s;", v->vec, v->zero);
    emit(e, "size_t q = 0;");
    emit(e, "for (; q + %d <= (size_t)(%s); q += %d) {", W, cnt, W);
    emit(e, "const %s xq = %s;", v->vec, simd(v->load, arena_printf(emit_arena, "%s + q", p), 0, 0));
    emit(e, "nf = %s;", simd(v->add, "nf", simd(v->sub, "xq", "xq", 0), 0));
    emit(e, "}");
    emit(e, "if (q < (size_t)(%s)) {", cnt);
    emit(e, "const %s xq = %s;", v->vec,
         simd(v->loadn, arena_printf(emit_arena, "%s + q", p), arena_printf(emit_arena, "(int)((size_t)(%s) - q)", cnt), 0));
    emit(e, "nf = %s;", simd(v->add, "nf", simd(v->sub, "xq", "xq", 0), 0));
    emit(e, "}");
    emit(e, "const float bad = %s;", simd(v->hsum, "nf", 0, 0));
}
