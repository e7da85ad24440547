/* emit.h - shared by the C emitter's files: the line printer, naming of
 * buffers, and the per-kind emitters listed in layers.def. */
#ifndef CNNC_EMIT_H
#define CNNC_EMIT_H

#include "ir.h"

typedef struct emitter {
    strbuf *out;
    int indent;
    const ir_net *net;
    const char *prefix;       /* the network's name: prefix of the public API */
} emitter;

/* One line at the current indentation; `{` at the end of a line indents
 * the lines after it, a leading `}` dedents. */
void emit(emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_blank(emitter *e);

/* Per-kind emitters.  A forward function has the signature
 *   static void NAME_forward(CTX *c, int n, const float *restrict x, float *restrict y)
 * and a backward one
 *   static void NAME_backward(CTX *c, int n, const float *restrict x,
 *                             const float *restrict y, float *restrict dy, float *restrict dx)
 * where dy (the gradient of the layer's output) may be overwritten, and dx
 * is NULL for the first layer (no gradient for the data).  They read their
 * parameters at c->params + woff and accumulate into c->grads + woff. */
#define LAYER(id, name, allowed, required, minr, maxr)            \
    void name##_emit_forward(emitter *e, const ir_layer *ly);      \
    void name##_emit_backward(emitter *e, const ir_layer *ly);
#include "layers.def"
#undef LAYER

/* Layers whose output is a view of their input (flatten): no functions,
 * no buffer. */
bool layer_is_view(const ir_layer *ly);
/* Layers that keep a padded copy of their input, and pooling's argmax. */
bool layer_has_pad(const ir_layer *ly);
bool layer_has_argmax(const ir_layer *ly);
int64_t padded_count(const ir_layer *ly);

/* Shared pieces of kernels (emit_kernels.c). */
void emit_act_forward(emitter *e, act_kind act, const char *buf, const char *count);
void emit_act_backward(emitter *e, act_kind act, const char *y, const char *dy,
                       const char *count);
void emit_dot(emitter *e, const char *dst, const char *a, const char *b, int64_t n);
void emit_pad_functions(emitter *e, const ir_layer *ly, const char *fill);
/* Loop nest over the spatial axes of `dims` with variables PREFIX0.. and
 * the flat index expression (with per-axis multipliers mul) in *index. */
int emit_loops(emitter *e, const char *var, int rank, const int64_t *dims);
void emit_close(emitter *e, int loops);
char *index_expr(arena *a, const char *var, int rank, const int64_t *mul);

extern arena *emit_arena;

#endif
