/* emit_dense.c - dense (fully connected), flatten (a view) and the
 * activation layers.  dense: y[i, u] = b[u] + sum_k w[u, k] * x[i, k]. */
#include "emit.h"

void dense_emit_forward(emitter *e, const ir_layer *ly)
{
    long long in = (long long)ly->in.d[0], units = (long long)ly->units;
    e->sfx = dense_is_fast(e, ly) ? "_ref" : "";
    emit_forward_head(e, ly, twin_attr(e), e->sfx);
    emit(e, "{");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    if (ly->bias)
        emit(e, "const float *restrict b = c->params + %lld;", (long long)ly->boff);
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = x + (size_t)i * %lld;", in);
    emit(e, "for (int u = 0; u < %lld; u++) {", units);
    emit(e, "const float *wu = w + (size_t)u * %lld;", in);
    emit_dot(e, "s", "wu", "xi", ly->in.d[0]);
    emit(e, "y[(size_t)i * %lld + u] = %s;", units, ly->bias ? "s + b[u]" : "s");
    emit(e, "}");
    emit(e, "}");
    emit_act_forward(e, ly->act, "y", ly->units);
    emit(e, "}");
    emit_blank(e);
    e->sfx = "";
    if (dense_is_fast(e, ly))
        dense_emit_fast_forward(e, ly);
}

void dense_emit_backward(emitter *e, const ir_layer *ly)
{
    long long in = (long long)ly->in.d[0], units = (long long)ly->units;
    e->sfx = dense_is_fast(e, ly) ? "_ref" : "";
    emit_backward_head(e, ly, twin_attr(e), e->sfx);
    emit(e, "{");
    emit(e, "const float *restrict w = c->params + %lld;", (long long)ly->woff);
    emit(e, "float *restrict gw = grads + %lld;", (long long)ly->woff);
    if (ly->bias)
        emit(e, "float *restrict gb = grads + %lld;", (long long)ly->boff);
    if (ly->act == ACT_NONE)
        emit(e, "(void)y;");
    emit_act_backward(e, ly->act, "y", "dy", ly->units);
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *xi = x + (size_t)i * %lld;", in);
    emit(e, "for (int u = 0; u < %lld; u++) {", units);
    emit(e, "const float d = dy[(size_t)i * %lld + u];", units);
    if (ly->bias)
        emit(e, "gb[u] += d;");
    emit(e, "float *gu = gw + (size_t)u * %lld;", in);
    emit(e, "for (int k = 0; k < %lld; k++)", in);
    emit(e, "    gu[k] += d * xi[k];");
    emit(e, "}");
    emit(e, "}");
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "float *dxi = dx + (size_t)i * %lld;", in);
    emit(e, "for (int k = 0; k < %lld; k++)", in);
    emit(e, "    dxi[k] = 0.0f;");
    emit(e, "for (int u = 0; u < %lld; u++) {", units);
    emit(e, "const float d = dy[(size_t)i * %lld + u];", units);
    emit(e, "const float *wu = w + (size_t)u * %lld;", in);
    emit(e, "for (int k = 0; k < %lld; k++)", in);
    emit(e, "    dxi[k] += d * wu[k];");
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
    e->sfx = "";
    if (dense_is_fast(e, ly))
        dense_emit_fast_backward(e, ly);
}

/* flatten is a view: C-order [C, H, W] is already the vector. */
void flatten_emit_forward(emitter *e, const ir_layer *ly) { (void)e, (void)ly; }
void flatten_emit_backward(emitter *e, const ir_layer *ly) { (void)e, (void)ly; }

static void act_layer_forward(emitter *e, const ir_layer *ly, act_kind act)
{
    int64_t per = shape_count(&ly->out);
    long long sz = (long long)per;
    emit_forward_head(e, ly, "", "");
    emit(e, "{");
    emit(e, "(void)c;");
    emit(e, "for (int i = i0; i < i1; i++)");
    emit(e, "    memcpy(y + (size_t)i * %lld, x + (size_t)i * %lld, sizeof(float) * %lld);", sz,
         sz, sz);
    emit_act_forward(e, act, "y", per);
    emit(e, "}");
    emit_blank(e);
}

static void act_layer_backward(emitter *e, const ir_layer *ly, act_kind act)
{
    int64_t per = shape_count(&ly->out);
    long long sz = (long long)per;
    emit_backward_head(e, ly, "", "");
    emit(e, "{");
    emit(e, "(void)c, (void)grads, (void)x;");
    emit(e, "if (!dx)");
    emit(e, "    return;");
    emit_act_backward(e, act, "y", "dy", per);
    emit(e, "for (int i = i0; i < i1; i++)");
    emit(e, "    memcpy(dx + (size_t)i * %lld, dy + (size_t)i * %lld, sizeof(float) * %lld);", sz,
         sz, sz);
    emit(e, "}");
    emit_blank(e);
}

void relu_emit_forward(emitter *e, const ir_layer *ly) { act_layer_forward(e, ly, ACT_RELU); }
void relu_emit_backward(emitter *e, const ir_layer *ly) { act_layer_backward(e, ly, ACT_RELU); }
void sigmoid_emit_forward(emitter *e, const ir_layer *ly) { act_layer_forward(e, ly, ACT_SIGMOID); }
void sigmoid_emit_backward(emitter *e, const ir_layer *ly) { act_layer_backward(e, ly, ACT_SIGMOID); }
void tanh_emit_forward(emitter *e, const ir_layer *ly) { act_layer_forward(e, ly, ACT_TANH); }
void tanh_emit_backward(emitter *e, const ir_layer *ly) { act_layer_backward(e, ly, ACT_TANH); }
