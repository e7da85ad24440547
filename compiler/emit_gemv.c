/* emit_gemv.c - a dense layer's forward for one sample at a time (the
 * matrix-vector product), for batches smaller than the tiles of
 * emit_fastdense.c: those hold several samples and, at batch 1, compute
 * the one sample several times over (lenet's f5: 4.8 us instead of 1.5).
 *   y[u] = act(b[u] + sum_k x[k] w[u][k])
 * A tile of m units keeps one accumulator vector per unit (m independent
 * FMA chains) while x and the m weight rows stream past in k; the k left
 * after the whole vectors are a masked load where the flavour has one,
 * else scalars. */
#include "emit.h"

enum { GEMV_UNITS = 8 };

/* One FMA step of the m accumulators at k (n lanes, masked when n < W). */
static void emit_gemv_step(emitter *e, int m, const char *k, int n)
{
    const simd_target *v = e->simd;
    const char *xp = arena_printf(emit_arena, "x + %s", k);
    emit(e, "{");
    emit(e, "const %s xv = %s;", v->vec, n < v->width ? simd(v->loadn, xp, arena_printf(emit_arena, "%d", n), 0)
                                                      : simd(v->load, xp, 0, 0));
    for (int a = 0; a < m; a++) {
        const char *wp = arena_printf(emit_arena, "w%d + %s", a, k);
        const char *wv = n < v->width ? simd(v->loadn, wp, arena_printf(emit_arena, "%d", n), 0)
                                      : simd(v->load, wp, 0, 0);
        const char *acc = arena_printf(emit_arena, "a%d", a);
        emit(e, "%s = %s;", acc, simd(v->fma, wv, "xv", acc));
    }
    emit(e, "}");
}

/* NAME_gv_M: units u0 .. u0 + m of one sample. */
static void emit_gemv_tile(emitter *e, const ir_layer *ly, int m)
{
    const simd_target *v = e->simd;
    int64_t K = dense_in(ly), W = v->width, kv = K / W * W;
    emit(e, "CNNC_KERNEL static inline void %s_gv_%d(const float *restrict x, const float *restrict w,", ly->name, m);
    emit(e, "    const float *restrict b, float *restrict y, int u0)");
    emit(e, "{");
    if (!ly->bias)
        emit(e, "(void)b;");
    for (int a = 0; a < m; a++) {
        emit(e, "const float *w%d = w + (size_t)(u0 + %d) * %lld;", a, a, (long long)K);
        emit(e, "%s a%d = %s;", v->vec, a, v->zero);
    }
    emit(e, "for (int k = 0; k < %lld; k += %lld)", (long long)kv, (long long)W);
    emit_gemv_step(e, m, "k", (int)W);
    if (kv < K && v->loadn)
        emit_gemv_step(e, m, arena_printf(emit_arena, "%lld", (long long)kv), (int)(K - kv));
    for (int a = 0; a < m; a++) {
        const char *s = arena_printf(emit_arena, "s%d", a);
        emit(e, "float %s = %s%s;", s, simd(v->hsum, arena_printf(emit_arena, "a%d", a), 0, 0),
             ly->bias ? arena_printf(emit_arena, " + b[u0 + %d]", a) : "");
        if (kv < K && !v->loadn) {
            emit(e, "for (int k = %lld; k < %lld; k++)", (long long)kv, (long long)K);
            emit(e, "    %s += x[k] * w%d[k];", s, a);
        }
        emit(e, "y[u0 + %d] = %s;", a, act_expr(e, ly->act, s));
    }
    emit(e, "}");
    emit_blank(e);
}

/* NAME_gemv(c, i0, i1, x, y): samples [i0, i1) one at a time. */
void dense_emit_gemv(emitter *e, const ir_layer *ly)
{
    int64_t U = dense_units(ly), K = dense_in(ly);
    int m = U < GEMV_UNITS ? (int)U : GEMV_UNITS, rest = (int)(U % m);
    emit_gemv_tile(e, ly, m);
    if (rest)
        emit_gemv_tile(e, ly, rest);
    emit(e, "CNNC_KERNEL static void %s_gemv(%s_ctx *c, int i0, int i1, const float *restrict x, float *restrict y)",
         ly->name, e->prefix);
    emit(e, "{");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "const float *restrict b = %s;",
         ly->bias ? arena_printf(emit_arena, "c->params + %lld", (long long)ly->boff) : "NULL");
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = x + (size_t)i * %lld;", (long long)K);
    emit(e, "float *yi = y + (size_t)i * %lld;", (long long)U);
    emit(e, "for (int u = 0; u < %lld; u += %d)", (long long)(U - rest), m);
    emit(e, "    %s_gv_%d(xi, w, b, yi, u);", ly->name, m);
    if (rest)
        emit(e, "%s_gv_%d(xi, w, b, yi, %lld);", ly->name, rest, (long long)(U - rest));
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}
