/* emit.c - emit(): the generated NAME.c and NAME.h.  The source holds, in
 * order: one forward and one backward function per layer (from the layer
 * table), the loss, the optimizer, the context with its memory plan, the
 * public API of NAME.h and the cnnrt_model descriptor the runtime's driver
 * reads.  Shapes are constants everywhere; nothing is allocated but the one
 * block made by NAME_create(). */
#include <ctype.h>
#include <string.h>
#include "emit.h"

extern const char *const cnnrt_model_header[];
extern const char *const cnnrt_act_header[];

void emit(emitter *e, const char *fmt, ...)
{
    char small[1024], *line = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("emit: cannot format '%s'", fmt);
    if ((size_t)n >= sizeof small) {        /* a long line: format it again, whole */
        line = arena_alloc(emit_arena, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (line[0] == '}')
        e->indent--;
    if (e->indent < 0)
        die("emit: unbalanced braces at '%s'", line);
    for (int i = 0; i < e->indent; i++)
        sb_puts(e->out, "    ");
    size_t lead = strspn(line, " ");
    if (e->rolled && strncmp(line + lead, "for (", 5) == 0)
        sb_printf(e->out, "%.*sCNNC_ROLLED %s", (int)lead, line, line + lead);
    else
        sb_puts(e->out, line);
    sb_puts(e->out, "\n");
    if (n && line[n - 1] == '{')
        e->indent++;
}

/* CNNC_ROLLED before a loop: clang keeps it rolled.  With -march=native
 * clang unrolls every small loop (by 8 with a run-time trip count) and
 * fully unrolls short constant ones, also around inlined tiles; on loops
 * that are register tiles already or glue that is not hot, this bought
 * nothing at run time and cost 40 % of lenet.c's compile time (2.7 ->
 * 1.7 s of CPU, docs/KERNELS.md).  gcc -O2 does not unroll: nothing to say. */
static void emit_rolled_macro(emitter *e)
{
    emit(e, "#if defined(__clang__)");
    emit(e, "#define CNNC_ROLLED _Pragma(\"clang loop unroll(disable)\")");
    emit(e, "#else");
    emit(e, "#define CNNC_ROLLED");
    emit(e, "#endif");
}

bool emit_rolled(emitter *e, bool on)
{
    bool was = e->rolled;
    e->rolled = on;
    return was;
}

/* static const TYPE NAME[n] = {...}; with 16 values a line. */
void emit_table(emitter *e, const char *type, const char *name, const int64_t *v, int64_t n)
{
    emit(e, "static const %s %s[%lld] = {", type, name, (long long)n);
    for (int64_t i = 0; i < n; i += 16) {
        strbuf b = {0};
        for (int64_t j = i; j < n && j < i + 16; j++)
            sb_printf(&b, "%lld,%s", (long long)v[j], j + 1 < n && j + 1 < i + 16 ? " " : "");
        emit(e, "%s", b.data);
        sb_free(&b);
    }
    emit(e, "};");
}

/* Between top-level definitions: the indentation must be back at zero. */
void emit_blank(emitter *e)
{
    if (e->indent != 0)
        die("emit: indentation %d after a function", e->indent);
    sb_puts(e->out, "\n");
}

typedef void (*emit_fn)(emitter *, const ir_layer *);
static const emit_fn forward_emitters[LK_COUNT] = {
#define LAYER(id, name, allowed, required, minr, maxr) [LK_##id] = name##_emit_forward,
#include "layers.def"
#undef LAYER
};
static const emit_fn backward_emitters[LK_COUNT] = {
#define LAYER(id, name, allowed, required, minr, maxr) [LK_##id] = name##_emit_backward,
#include "layers.def"
#undef LAYER
};

/* The buffer holding each layer's output: its own, or for a view its
 * input's (which for the first layers is the caller's x). */
const char *out_buffer(const ir_net *net, int i)
{
    while (i >= 0 && layer_is_view(&net->layers[i]))
        i--;
    return i < 0 ? "x" : arena_printf(emit_arena, "c->y_%s", net->layers[i].name);
}

static const char *in_buffer(const ir_net *net, int i) { return out_buffer(net, i - 1); }

const char *twin_attr(const emitter *e) { return e->sfx[0] ? "CNNC_COLD " : ""; }

bool layer_is_fast(const emitter *e, const ir_layer *ly)
{
    return conv_is_fast(e, ly) || dense_is_fast(e, ly) || pool_is_fast(e, ly);
}

int64_t out_size(const ir_net *net)
{
    return shape_count(&net->layers[net->nlayers - 1].out);
}

int64_t in_size(const ir_net *net) { return shape_count(&net->input); }

/* The largest per-sample tensor any gradient buffer must hold. */
static int64_t max_grad_size(const ir_net *net, int64_t *pad_max)
{
    int64_t m = in_size(net);
    *pad_max = 1;
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        if (shape_count(&ly->out) > m)
            m = shape_count(&ly->out);
        if (layer_has_pad(ly) && padded_count(ly) > *pad_max)
            *pad_max = padded_count(ly);
    }
    return m;
}

static void emit_ctx_struct(emitter *e)
{
    const ir_net *net = e->net;
    emit(e, "/* One context: everything a step touches, carved from one block. */");
    emit(e, "struct %s_ctx {", e->prefix);
    emit(e, "void *block; /* calloc's pointer, which this context starts 64-aligned in */");
    emit(e, "int max_batch;");
    emit(e, "float *params, *grads, *momentum; /* [%lld] each */", (long long)net->param_count);
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        char sh[96];
        shape_str(sh, sizeof sh, &ly->out);
        if (!layer_is_view(ly))
            emit(e, "float *y_%s; /* [n, %s] */", ly->name, sh + 1);
        if (layer_has_pad(ly)) {
            shape_str(sh, sizeof sh, &ly->padded);
            emit(e, "float *pad_%s; /* [n, %s] */", ly->name, sh + 1);
        }
        if (layer_has_argmax(ly))
            emit(e, "int32_t *arg_%s; /* where each max came from */", ly->name);
        if (dense_splits_units(e, ly))
            emit(e, "float *dyT_%s, *xT_%s; /* [%lld, n], [%lld, n]: dy and x transposed */", ly->name,
                 ly->name, (long long)dense_units(ly), (long long)dense_in(ly));
        if (conv_prepared_floats(e, ly))
            emit(e, "float *wu_%s; /* [%lld]: the forward pass's Winograd weights */", ly->name,
                 (long long)conv_prepared_floats(e, ly));
    }
    emit(e, "float *g0, *g1, *gpad; /* gradients flowing back */");
    emit(e, "float *cs; /* [n, %lld] scratch of the fast kernels */", (long long)e->cs_max);
    emit(e, "int fast; /* the %s kernels run (else the reference twins) */", e->simd->name);
    emit_lane_fields(e);
    emit(e, "};");
    emit_blank(e);
}

static void emit_take(emitter *e, const char *field, const char *type, const char *count)
{
    emit(e, "c->%s = base ? (%s *)(void *)(base + off) : NULL;", field, type);
    emit(e, "off += round16(%s);", count);
}

/* The memory plan: every buffer at a 64-byte boundary inside one block. */
static void emit_carve(emitter *e)
{
    const ir_net *net = e->net;
    int64_t pad_max, gmax = max_grad_size(net, &pad_max);
    char p[32];
    snprintf(p, sizeof p, "%lld", (long long)net->param_count);
    emit(e, "static size_t round16(size_t n) { return (n + 15) / 16 * 16; }");
    emit_blank(e);
    emit(e, "static size_t carve(%s_ctx *c, float *base, size_t nb)", e->prefix);
    emit(e, "{");
    emit(e, "size_t off = 0;");
    emit_take(e, "params", "float", p);
    emit_take(e, "grads", "float", p);
    emit_take(e, "momentum", "float", p);
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        const char *name = ly->name;
        if (!layer_is_view(ly))
            emit_take(e, arena_printf(emit_arena, "y_%s", name), "float",
                      arena_printf(emit_arena, "nb * %lld", (long long)shape_count(&ly->out)));
        if (layer_has_pad(ly))
            emit_take(e, arena_printf(emit_arena, "pad_%s", name), "float",
                      arena_printf(emit_arena, "nb * %lld", (long long)padded_count(ly)));
        if (layer_has_argmax(ly))
            emit_take(e, arena_printf(emit_arena, "arg_%s", name), "int32_t",
                      arena_printf(emit_arena, "nb * %lld", (long long)shape_count(&ly->out)));
        if (dense_splits_units(e, ly)) {
            int W = e->simd->width;
            emit_take(e, arena_printf(emit_arena, "dyT_%s", name), "float",
                      arena_printf(emit_arena, "nb * %lld", (long long)dense_units(ly)));
            emit_take(e, arena_printf(emit_arena, "xT_%s", name), "float",
                      arena_printf(emit_arena, "(nb + %d) / %d * %d * %lld", W - 1, W, W,
                                   (long long)dense_in(ly)));
        }
        if (conv_prepared_floats(e, ly))
            emit_take(e, arena_printf(emit_arena, "wu_%s", name), "float",
                      arena_printf(emit_arena, "%lld", (long long)conv_prepared_floats(e, ly)));
    }
    const char *g = arena_printf(emit_arena, "nb * %lld", (long long)gmax);
    emit_take(e, "g0", "float", g);
    emit_take(e, "g1", "float", g);
    emit_take(e, "gpad", "float", arena_printf(emit_arena, "nb * %lld", (long long)pad_max));
    emit_take(e, "cs", "float", arena_printf(emit_arena, "nb * %lld", (long long)e->cs_max));
    emit(e, "return off;");
    emit(e, "}");
    emit_blank(e);
}

static void emit_layers(emitter *e)
{
    for (int i = 0; i < e->net->nlayers; i++) {
        const ir_layer *ly = &e->net->layers[i];
        char in[96], out[96];
        if (layer_is_view(ly))
            continue;
        shape_str(in, sizeof in, &ly->in);
        shape_str(out, sizeof out, &ly->out);
        emit(e, "/* ---- %s: %s, [n, %s -> [n, %s ---- */", ly->name, layer_table[ly->kind].name,
             in + 1, out + 1);
        e->rolled = !pool_is_fast(e, ly);
        forward_emitters[ly->kind](e, ly);
        backward_emitters[ly->kind](e, ly);
        e->rolled = false;
    }
}

/* The first unit of lane t's fixed share of a unit-split layer (with
 * t = "t + 1": the end of the share). */
static const char *lane_units_expr(const emitter *e, const ir_layer *ly, const char *t)
{
    long long U = (long long)dense_units(ly);
    int B = dense_unit_block(e, ly);
    return arena_printf(emit_arena, "lane_units(%lld, %d, %s, T)", U, B, t);
}

/* The slab lane t packs a unit-split layer's input into when there are
 * several lanes (with one, the then idle scratch c->cs). */
static const char *lane_slab_expr(const emitter *e)
{
    return arena_printf(emit_arena, "c->lane_slab + (size_t)t * %lld * (size_t)c->max_batch",
                        (long long)dense_lane_slab(e));
}

/* A unit-split layer's weight gradient, right after its rows: the lane's
 * fixed share of the units, or with dense_defers_units all of them with
 * one lane and none with more (emit_deferred_units). */
static void emit_units_backward(emitter *e, const ir_layer *ly, const char *in)
{
    long long U = (long long)dense_units(ly);
    bool defer = dense_defers_units(e, ly);
    emit(e, defer ? "if (T == 1) {" : "{");
    if (defer)
        emit(e, "float *slab = c->cs;");
    else
        emit(e, "float *slab = T == 1 ? c->cs : %s;", lane_slab_expr(e));
    emit(e, "%s_backward_pack(n, %s, slab);", ly->name, in);
    if (defer)
        emit(e, "%s_backward_units(c, n, 0, %lld, %s, slab);", ly->name, U, in);
    else
        emit(e, "%s_backward_units(c, n, %s, %s, %s, slab);", ly->name, lane_units_expr(e, ly, "t"),
             lane_units_expr(e, ly, "t + 1"), in);
    emit(e, "}");
}

/* One lane-split layer's forward call on samples [i0, i1) (names of the
 * bounds). */
static void emit_forward_call(emitter *e, const ir_layer *ly, const char *in, const char *out,
                              const char *i0, const char *i1)
{
    if (layer_is_fast(e, ly))
        emit(e, "(c->fast ? %s_forward : %s_forward_ref)(c, %s, %s, %s, %s);", ly->name, ly->name, i0, i1,
             in, out);
    else
        emit(e, "%s_forward(c, %s, %s, %s, %s);", ly->name, i0, i1, in, out);
}

bool forward_run_below(const emitter *e, int l)
{
    const ir_net *net = e->net;
    if (!dense_splits_units(e, &net->layers[l]))
        return false;
    for (int i = l - 1; i >= 0 && !dense_splits_units(e, &net->layers[i]); i--)
        if (!layer_is_view(&net->layers[i]))
            return true;
    return false;
}

/* Layers [l0, l1) (split by samples) and then the pack of unit-split
 * layer l1's input, which a barrier follows: with one lane, on all the
 * samples; with more, the layers on chunks of samples the lanes take as
 * they come free (lane_chunk, counter k), so that a lane a shared machine
 * slows down takes fewer, and after a barrier the pack on the lane's own
 * slice (packs of chunks would transpose in scalars, and two lanes would
 * write the same cache lines of xT).  Every sample's result is the same
 * whichever lane computes it.  The backward pass keeps the fixed shares:
 * the weight gradients are summed per lane. */
static void emit_forward_run(emitter *e, int l0, int l1, int k)
{
    const ir_net *net = e->net;
    const ir_layer *pk = &net->layers[l1];
    if (!forward_run_below(e, l1)) { /* nothing to share out: the pack */
        emit(e, "if (c->fast && (n > 1 || T > 1)) /* else forward_units takes the one-sample path */");
        emit(e, "    %s_forward_pack(c, n, i0, i1, %s);", pk->name, in_buffer(net, l1));
        return;
    }
    emit(e, "if (T == 1) {");
    for (int i = l0; i < l1; i++)
        if (!layer_is_view(&net->layers[i]))
            emit_forward_call(e, &net->layers[i], in_buffer(net, i), out_buffer(net, i), "i0", "i1");
    emit(e, "if (c->fast && n > 1) /* else forward_units takes the one-sample path */");
    emit(e, "    %s_forward_pack(c, n, i0, i1, %s);", pk->name, in_buffer(net, l1));
    emit(e, "} else {");
    emit(e, "for (int j0, j1; lane_chunk(c, %d, n, T, &j0, &j1);) {", k);
    for (int i = l0; i < l1; i++)
        if (!layer_is_view(&net->layers[i]))
            emit_forward_call(e, &net->layers[i], in_buffer(net, i), out_buffer(net, i), "j0", "j1");
    emit(e, "}");
    emit(e, "lane_sync(c, T);");
    emit(e, "if (c->fast)");
    emit(e, "    %s_forward_pack(c, n, i0, i1, %s);", pk->name, in_buffer(net, l1));
    emit(e, "}");
}

/* What the layers compute from their weights once a pass
 * (conv_prepared_floats): the k-th such layer by lane k % T, then a
 * barrier. */
static void emit_prepare(emitter *e)
{
    const ir_net *net = e->net;
    int k = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        if (!conv_prepared_floats(e, ly))
            continue;
        if (!k)
            emit(e, "if (c->fast) {");
        emit(e, "if (t == %d %% T)", k);
        e->indent++;
        conv_emit_prepare(e, ly);
        e->indent--;
        k++;
    }
    if (!k)
        return;
    emit(e, "}");
    emit(e, "lane_sync(c, T);");
}

/* Lane t of T's share of the forward pass over samples [0, n), as
 * straight-line calls: the layers below a dense layer that splits its
 * units (emit_fastdense.c) on chunks of samples (emit_forward_run), then
 * that layer on chunks of units of every sample, between two barriers;
 * the layers above the last such layer on the lane's own slice of the
 * samples, which its loss and backward pass then read.  With T = 1 it is
 * the whole batch. */
static void emit_forward_lane(emitter *e)
{
    const ir_net *net = e->net;
    emit(e, "static void forward_lane(%s_ctx *c, const float *restrict x, int n, int t, int T)", e->prefix);
    emit(e, "{");
    emit(e, "const int i0 = LANE_FIRST(n, t, T), i1 = LANE_FIRST(n, t + 1, T);");
    emit_prepare(e);
    int l0 = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        const char *in = in_buffer(net, i), *out = out_buffer(net, i);
        if (!dense_splits_units(e, ly))
            continue;
        int j = dense_split_index(e, ly);
        emit_forward_run(e, l0, i, 2 * j + 1);
        emit(e, "lane_sync(c, T);");
        emit(e, "if (c->fast) {");
        emit(e, "%s_forward_units(c, n, %s, %s, %s, %s);", ly->name, lane_units_expr(e, ly, "t"),
             lane_units_expr(e, ly, "t + 1"), in, out);
        emit(e, "} else if (t == 0) {");
        emit(e, "%s_forward_ref(c, 0, n, %s, %s);", ly->name, in, out);
        emit(e, "}");
        emit(e, "lane_sync(c, T);");
        l0 = i + 1;
    }
    for (int i = l0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        if (layer_is_view(ly)) {
            emit(e, "/* %s: a view, nothing to do */", ly->name);
            continue;
        }
        emit(e, "if (i0 < i1)");
        e->indent++;
        emit_forward_call(e, ly, in_buffer(net, i), out_buffer(net, i), "i0", "i1");
        e->indent--;
    }
    emit(e, "(void)c, (void)x, (void)n, (void)t, (void)T, (void)i0, (void)i1;");
    emit(e, "}");
    emit_blank(e);
}

/* A unit-split dense layer's backward with the reference twin: lane 0
 * runs it on every lane's slice in turn, into zeroed c->grads. */
static void emit_backward_serial(emitter *e, const ir_layer *ly, const char *in, const char *out,
                                 const char *dy, const char *dx)
{
    emit(e, "static void %s_backward_serial(%s_ctx *c, const float *restrict x, int n, int T)",
         ly->name, e->prefix);
    emit(e, "{");
    emit(e, "memset(c->grads + %lld, 0, sizeof(float) * %lld);", (long long)ly->woff,
         (long long)ly->wcount);
    if (ly->bcount)
        emit(e, "memset(c->grads + %lld, 0, sizeof(float) * %lld);", (long long)ly->boff,
             (long long)ly->bcount);
    emit(e, "for (int t = 0; t < T; t++) {");
    emit(e, "const int i0 = LANE_FIRST(n, t, T), i1 = LANE_FIRST(n, t + 1, T);");
    emit(e, "%s_backward_ref(c, c->grads, i0, i1, %s, %s, %s, %s);", ly->name, in, out, dy, dx);
    emit(e, "}");
    emit(e, "(void)x;");
    emit(e, "}");
    emit_blank(e);
}

/* One layer's call in backward_lane.  A unit-split dense layer works on the
 * lane's slice (activation, dy transposed, dx) and meets the other lanes
 * at a barrier; then its units (weight and bias gradients of the whole
 * batch), or with threads for a big layer at the end of backward_lane
 * (emit_deferred_units).  The reference path runs in lane 0 between two
 * barriers. */
static void emit_backward_call(emitter *e, const ir_layer *ly, const char *in, const char *out,
                               const char *dy, const char *dx)
{
    if (dense_splits_units(e, ly)) {
        emit(e, "if (c->fast) {");
        emit(e, "if (i0 < i1)");
        emit(e, "    %s_backward_rows(c, n, i0, i1, %s, %s, %s);", ly->name, out, dy, dx);
        emit(e, "lane_sync(c, T);");
        emit_units_backward(e, ly, in);
        emit(e, "} else {");
        emit(e, "lane_sync(c, T);");
        emit(e, "if (t == 0)");
        emit(e, "    %s_backward_serial(c, x, n, T);", ly->name);
        emit(e, "lane_sync(c, T);");
        emit(e, "}");
    } else {
        emit(e, "if (i0 < i1)");
        if (layer_is_fast(e, ly))
            emit(e, "    (c->fast ? %s_backward : %s_backward_ref)(c, grads, i0, i1, %s, %s,", ly->name,
                 ly->name, in, out);
        else
            emit(e, "    %s_backward(c, grads, i0, i1, %s, %s,", ly->name, in, out);
        emit(e, "                %s, %s);", dy, dx);
    }
}

/* With more than one lane, the weight gradients (and SGD steps) of the
 * unit-split layers dense_defers_units picks, top layer first, after the
 * lane's share of every other layer: a lane that is done early takes more
 * chunks of units, so the lanes arrive at the last barrier together
 * although noise on a shared machine slows one of them down in the layers
 * below (a fixed split left cifar10_wide's lanes waiting 0.2-1 ms a step
 * there).  Every unit's dy is complete, and every lane has read w for its
 * dx, since the layer's barrier. */
static void emit_deferred_units(emitter *e)
{
    const ir_net *net = e->net;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        const ir_layer *ly = &net->layers[i];
        if (!dense_defers_units(e, ly))
            continue;
        long long U = (long long)dense_units(ly);
        int k = 2 * dense_split_index(e, ly), C = dense_bwd_chunk(e, ly);
        const char *in = in_buffer(net, i);
        emit(e, "if (c->fast && T > 1) {");
        emit(e, "float *slab = %s;", lane_slab_expr(e));
        emit(e, "int u = lane_grab(c, %d, %lld, %d);", k, U, C);
        emit(e, "if (u < %lld)", U);
        emit(e, "    %s_backward_pack(n, %s, slab);", ly->name, in);
        emit(e, "for (; u < %lld; u = lane_grab(c, %d, %lld, %d))", U, k, U, C);
        emit(e, "    %s_backward_units(c, n, u, u + %d < %lld ? u + %d : %lld, %s, slab);", ly->name, C, U, C,
             U, in);
        emit(e, "}");
    }
}

/* The g buffer layer i reads its dy from (cur) and writes its dx to; the
 * first layer computes no gradient for the data. */
static void backward_bufs(const emitter *e, int i, int first, int cur, const char **dy, const char **dx)
{
    const ir_layer *ly = &e->net->layers[i];
    int64_t in = shape_count(&ly->in), out = shape_count(&ly->out);
    *dy = lane_slot(cur ? "c->g1" : "c->g0", e->grad_max, out);
    *dx = i == first ? "NULL" : lane_slot(cur ? "c->g0" : "c->g1", e->grad_max, in);
}

/* Lane t of T's share of the backward pass, from the loss gradient in
 * c->g0, alternating g0 and g1. */
static void emit_backward_lane(emitter *e)
{
    const ir_net *net = e->net;
    int first = 0, cur = 0;
    while (first < net->nlayers && layer_is_view(&net->layers[first]))
        first++;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        const char *dy, *dx;
        if (layer_is_view(&net->layers[i]))
            continue;
        backward_bufs(e, i, first, cur, &dy, &dx);
        if (dense_splits_units(e, &net->layers[i]))
            emit_backward_serial(e, &net->layers[i], in_buffer(net, i), out_buffer(net, i), dy, dx);
        cur = !cur;
    }
    emit(e, "static void backward_lane(%s_ctx *c, float *restrict grads, const float *restrict x,",
         e->prefix);
    emit(e, "                          int n, int t, int T)");
    emit(e, "{");
    emit(e, "const int i0 = LANE_FIRST(n, t, T), i1 = LANE_FIRST(n, t + 1, T);");
    cur = 0;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        const char *dy, *dx;
        if (layer_is_view(&net->layers[i]))
            continue;
        backward_bufs(e, i, first, cur, &dy, &dx);
        emit_backward_call(e, &net->layers[i], in_buffer(net, i), out_buffer(net, i), dy, dx);
        cur = !cur;
    }
    emit_deferred_units(e);
    emit(e, "(void)c, (void)grads, (void)x, (void)n, (void)t, (void)T, (void)i0, (void)i1;");
    emit(e, "}");
    emit_blank(e);
}

static void emit_loss_head(emitter *e)
{
    emit(e, "static double loss(int n, int i0, int i1, const float *restrict out,");
    emit(e, "                   const int32_t *restrict labels, const float *restrict targets,");
    emit(e, "                   float *restrict dout)");
    emit(e, "{");
}

/* softmax cross-entropy (torch.nn.CrossEntropyLoss, mean over the batch of
 * n): for samples [i0, i1), dout = (softmax(out) - onehot(label)) / n;
 * returns the sum of their losses (NaN on a label out of range). */
static void emit_loss_sce(emitter *e, long long k)
{
    emit_loss_head(e);
    emit(e, "(void)targets;");
    emit(e, "double total = 0.0;");
    emit(e, "for (int i = i0; i < i1; i++) {");
    emit(e, "const float *o = out + (size_t)i * %lld;", k);
    emit(e, "float *d = dout + (size_t)i * %lld;", k);
    emit(e, "const int32_t label = labels[i];");
    emit(e, "if (label < 0 || label >= %lld)", k);
    emit(e, "    return NAN;");
    emit(e, "float m = o[0];");
    emit(e, "for (int j = 1; j < %lld; j++)", k);
    emit(e, "    m = o[j] > m ? o[j] : m;");
    emit(e, "float s = 0.0f;");
    emit(e, "for (int j = 0; j < %lld; j++) {", k);
    emit(e, "d[j] = expf(o[j] - m);");
    emit(e, "s += d[j];");
    emit(e, "}");
    emit(e, "total += (double)(logf(s) + m - o[label]);");
    emit(e, "for (int j = 0; j < %lld; j++)", k);
    emit(e, "    d[j] = (d[j] / s - (j == label ? 1.0f : 0.0f)) / (float)n;");
    emit(e, "}");
    emit(e, "return total;");
    emit(e, "}");
    emit_blank(e);
}

/* mean squared error over all n * k elements (torch.nn.MSELoss): returns
 * the sum of squares over samples [i0, i1). */
static void emit_loss_mse(emitter *e, long long k)
{
    emit_loss_head(e);
    emit(e, "(void)labels;");
    emit(e, "const float count = (float)n * %lld.0f;", k);
    emit(e, "double total = 0.0;");
    emit(e, "for (size_t p = (size_t)i0 * %lld; p < (size_t)i1 * %lld; p++) {", k, k);
    emit(e, "const float diff = out[p] - targets[p];");
    emit(e, "total += (double)diff * diff;");
    emit(e, "dout[p] = 2.0f * diff / count;");
    emit(e, "}");
    emit(e, "return total;");
    emit(e, "}");
    emit_blank(e);
}

/* torch.optim.SGD: d = g + wd*p; buf = mu*buf + d; p -= lr*buf, on the
 * parameters [k0, k1).  sgd is the reference; sgd_fast the same in the
 * SIMD flavour's vectors (an FMA where the scalar code has a multiply and
 * an add that clang contracts), which the fast path uses, also on the
 * rows of a unit-split dense layer right after its weight-gradient tile
 * has stored them (emit_fastdense.c): those parameters and momenta are
 * read from memory while the tiles compute, not in a pass of their own. */
static void emit_sgd_fast(emitter *e)
{
    const simd_target *v = e->simd;
    int W = v->width;
    /* noinline: called per tile row; inlined, its copies and their
     * unswitched variants doubled lenet's lane_gradients */
    emit(e, "CNNC_KERNEL __attribute__((noinline)) static void sgd_fast(%s_ctx *c, const cnnrt_hparams *hp,",
         e->prefix);
    emit(e, "                                                    size_t k0, size_t k1)");
    emit(e, "{");
    emit(e, "const float lr = hp->lr, mu = hp->momentum, wd = hp->weight_decay;");
    emit(e, "float *restrict p = c->params, *restrict g = c->grads, *restrict m = c->momentum;");
    emit(e, "const %s vlr = %s, vmu = %s, vwd = %s;", v->vec, simd(v->splat, "-lr", 0, 0),
         simd(v->splat, "mu", 0, 0), simd(v->splat, "wd", 0, 0));
    emit(e, "size_t k = k0;");
    emit(e, "for (; k + %d <= k1; k += %d) {", W, W);
    emit(e, "const %s pv = %s;", v->vec, simd(v->load, "p + k", 0, 0));
    emit(e, "%s d = %s;", v->vec, simd(v->load, "g + k", 0, 0));
    emit(e, "if (wd != 0.0f)");
    emit(e, "    d = %s;", simd(v->fma, "vwd", "pv", "d"));
    emit(e, "if (mu != 0.0f) {");
    emit(e, "d = %s;", simd(v->fma, "vmu", simd(v->load, "m + k", 0, 0), "d"));
    emit(e, "%s", simd(v->store, "m + k", "d", 0));
    emit(e, "}");
    emit(e, "%s", simd(v->store, "p + k", simd(v->fma, "vlr", "d", "pv"), 0));
    emit(e, "}");
    emit(e, "if (k < k1)");
    emit(e, "    sgd(c, hp, k, k1);");
    emit(e, "}");
    emit_blank(e);
}

static void emit_sgd(emitter *e)
{
    emit(e, "static void sgd(%s_ctx *c, const cnnrt_hparams *hp, size_t k0, size_t k1)", e->prefix);
    emit(e, "{");
    emit(e, "const float lr = hp->lr, mu = hp->momentum, wd = hp->weight_decay;");
    emit(e, "float *restrict p = c->params, *restrict g = c->grads, *restrict m = c->momentum;");
    emit(e, "for (size_t k = k0; k < k1; k++) {");
    emit(e, "float d = g[k];");
    emit(e, "if (wd != 0.0f)");
    emit(e, "    d += wd * p[k];");
    emit(e, "if (mu != 0.0f) {");
    emit(e, "m[k] = mu * m[k] + d;");
    emit(e, "d = m[k];");
    emit(e, "}");
    emit(e, "p[k] -= lr * d;");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
    emit_sgd_fast(e);
}

/* Re-impose masks (connect) and ties (symmetric) on stored weights. */
static void emit_constrain(emitter *e)
{
    emit(e, "void %s_constrain(%s_ctx *c)", e->prefix, e->prefix);
    emit(e, "{");
    emit(e, "(void)c;");
    for (int i = 0; i < e->net->nlayers; i++) {
        const ir_layer *ly = &e->net->layers[i];
        int64_t kvol = ly->kind == LK_CONV ? ly->wcount / (ly->filters * ly->in.d[0]) : 0;
        if (ly->kind == LK_CONV && ly->nconnect) {
            emit(e, "for (int q = 0; q < %lld; q++)", (long long)(ly->filters * ly->in.d[0]));
            emit(e, "    if (!%s_mask[q])", ly->name);
            emit(e, "        memset(c->params + %lld + (size_t)q * %lld, 0, sizeof(float) * %lld);",
                 (long long)ly->woff, (long long)kvol, (long long)kvol);
        }
        if (ly->kind == LK_CONV && ly->symmetric)
            emit(e, "%s_tie(c->params + %lld, 0.5f);", ly->name, (long long)ly->woff);
    }
    emit(e, "}");
    emit_blank(e);
}

/* Shapes of a layer's parameters, as PyTorch lays them out. */
static int weight_shape(const ir_layer *ly, int64_t *d)
{
    int r = 0;
    d[r++] = ly->kind == LK_DENSE ? ly->units : ly->filters;
    if (ly->kind == LK_LOCAL)
        for (int a = 0; a < ly->nsp; a++)
            d[r++] = ly->out.d[a + 1];
    d[r++] = ly->in.d[0];
    for (int a = 0; ly->kind != LK_DENSE && a < ly->nsp; a++)
        d[r++] = ly->kernel[a];
    return r;
}

static int bias_shape(const ir_layer *ly, int64_t *d)
{
    d[0] = ly->kind == LK_DENSE ? ly->units : ly->filters;
    if (ly->kind != LK_LOCAL)
        return 1;
    for (int a = 0; a < ly->nsp; a++)
        d[a + 1] = ly->out.d[a + 1];
    return 1 + ly->nsp;
}

/* PyTorch's fan_in: input maps times the kernel volume (dense: inputs). */
static int64_t fan_in(const ir_layer *ly)
{
    int64_t f = ly->in.d[0];
    for (int a = 0; ly->kind != LK_DENSE && a < ly->nsp; a++)
        f *= ly->kernel[a];
    return f;
}

static char *dims_str(int r, const int64_t *d)
{
    strbuf b = {0};
    for (int i = 0; i < r; i++)
        sb_printf(&b, "%s%lld", i ? ", " : "", (long long)d[i]);
    char *s = arena_strdup(emit_arena, b.len ? b.data : "0");
    sb_free(&b);
    return s;
}

static void emit_param_row(emitter *e, const ir_layer *ly, bool bias)
{
    int64_t d[2 * MAX_DIMS + 1];
    int r = bias ? bias_shape(ly, d) : weight_shape(ly, d);
    emit(e, "{\"%s.%s\", %d, {%s}, %lld, %lld, %lld},", ly->name, bias ? "bias" : "weight", r,
         dims_str(r, d), (long long)(bias ? ly->boff : ly->woff),
         (long long)(bias ? ly->bcount : ly->wcount), (long long)fan_in(ly));
}

static int count_params(const ir_net *net)
{
    int n = 0;
    for (int i = 0; i < net->nlayers; i++)
        n += (net->layers[i].wcount > 0) + (net->layers[i].bcount > 0);
    return n;
}

static void emit_tables(emitter *e)
{
    const ir_net *net = e->net;
    emit(e, "static const cnnrt_param_info param_info[%d] = {", count_params(net) + 1);
    for (int i = 0; i < net->nlayers; i++) {
        if (net->layers[i].wcount)
            emit_param_row(e, &net->layers[i], false);
        if (net->layers[i].bcount)
            emit_param_row(e, &net->layers[i], true);
    }
    emit(e, "{NULL, 0, {0}, 0, 0, 0},");
    emit(e, "};");
    emit_blank(e);
    emit(e, "static const cnnrt_layer_info layer_info[%d] = {", net->nlayers);
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        emit(e, "{\"%s\", \"%s\", %d, {%s}, %lld},", ly->name, layer_table[ly->kind].name,
             ly->out.rank, dims_str(ly->out.rank, ly->out.d), (long long)(ly->wcount + ly->bcount));
    }
    emit(e, "};");
    emit_blank(e);
}

static void emit_param_lookup(emitter *e)
{
    const char *p = e->prefix;
    emit(e, "float *%s_param(%s_ctx *c, const char *name, size_t *count)", p, p);
    emit(e, "{");
    emit(e, "for (int i = 0; param_info[i].name; i++) {");
    emit(e, "if (strcmp(param_info[i].name, name) == 0) {");
    emit(e, "if (count)");
    emit(e, "    *count = param_info[i].count;");
    emit(e, "return c->params + param_info[i].offset;");
    emit(e, "}");
    emit(e, "}");
    emit(e, "return NULL;");
    emit(e, "}");
    emit_blank(e);
}

/* A float constant in C: 0.01f, 0.0f, 1e-05f. */
static char *float_lit(double v)
{
    char *s = arena_printf(emit_arena, "%.9g", v);
    return arena_printf(emit_arena, "%s%s", s, strpbrk(s, ".e") ? "f" : ".0f");
}

/* Adapters from the runtime's void * contexts to the typed API. */
static void emit_descriptor(emitter *e)
{
    const ir_net *net = e->net;
    const char *p = e->prefix;
    const ir_layer *last = &net->layers[net->nlayers - 1];
    emit(e, "static void *m_create(int mb) { return %s_create(mb); }", p);
    emit(e, "static void m_destroy(void *c) { %s_destroy(c); }", p);
    emit(e, "static float *m_params(void *c) { return %s_params(c); }", p);
    emit(e, "static float *m_grads(void *c) { return %s_grads(c); }", p);
    emit(e, "static float *m_momentum(void *c) { return %s_momentum(c); }", p);
    emit(e, "static void m_constrain(void *c) { %s_constrain(c); }", p);
    emit(e, "static void m_forward(void *c, const float *x, int n, float *out) { %s_forward(c, x, n, out); }", p);
    emit(e, "static float m_gradients(void *c, const float *x, const int32_t *l, const float *t, int n, float *out)");
    emit(e, "{ return %s_gradients(c, x, l, t, n, out); }", p);
    emit(e, "static float m_train_step(void *c, const float *x, const int32_t *l, const float *t, int n,");
    emit(e, "                          const cnnrt_hparams *hp) { return %s_train_step(c, x, l, t, n, hp); }", p);
    emit(e, "static void m_set_threads(void *c, int t) { %s_set_threads(c, t); }", p);
    emit(e, "static const float *m_output(void *ctx) { %s_ctx *c = ctx; (void)c; return %s; }", p,
         strcmp(out_buffer(net, net->nlayers - 1), "x") ? out_buffer(net, net->nlayers - 1) : "NULL");
    emit_blank(e);
    emit(e, "const cnnrt_model %s_model = {", p);
    emit(e, ".name = \"%s\",", net->name);
    emit(e, ".in_rank = %d, .in_shape = {%s}, .in_size = %lld,", net->input.rank,
         dims_str(net->input.rank, net->input.d), (long long)in_size(net));
    emit(e, ".out_rank = %d, .out_shape = {%s}, .out_size = %lld,", last->out.rank,
         dims_str(last->out.rank, last->out.d), (long long)out_size(net));
    emit(e, ".loss = %s,", net->loss == LOSS_MSE ? "CNNRT_LOSS_MSE" : "CNNRT_LOSS_SOFTMAX_CE");
    emit(e, ".nparams = %d, .params = param_info, .param_count = %lld,", count_params(net),
         (long long)net->param_count);
    emit(e, ".nlayers = %d, .layers = layer_info,", net->nlayers);
    emit(e, ".defaults = {%s, %s, %s, %lld, %lld, %lluu},", float_lit(net->lr),
         float_lit(net->momentum), float_lit(net->weight_decay), (long long)net->batch, (long long)net->epochs,
         (unsigned long long)net->seed);
    emit(e, ".workspace_bytes = %s_workspace_bytes, .create = m_create, .destroy = m_destroy,", p);
    emit(e, ".param_block = m_params, .grad_block = m_grads, .momentum_block = m_momentum,");
    emit(e, ".constrain = m_constrain, .forward = m_forward, .gradients = m_gradients,");
    emit(e, ".train_step = m_train_step, .set_threads = m_set_threads, .output_block = m_output,");
    emit(e, "};");
    emit_blank(e);
    emit(e, "#if defined(CNNC_MAIN) && defined(CNNC_MPI) /* cnnc --mpi: libcnnrt_mpi.a */");
    emit(e, "int cnnrt_mpi_main(int argc, char **argv, const cnnrt_model *model);");
    emit(e, "int main(int argc, char **argv) { return cnnrt_mpi_main(argc, argv, &%s_model); }", p);
    emit(e, "#elif defined(CNNC_MAIN)");
    emit(e, "int main(int argc, char **argv) { return cnnrt_main(argc, argv, &%s_model); }", p);
    emit(e, "#endif");
}

static void emit_header(emitter *e, const char *guard)
{
    const ir_net *net = e->net;
    const char *p = e->prefix;
    emit(e, "#ifndef %s_H", guard);
    emit(e, "#define %s_H", guard);
    emit_blank(e);
    for (int i = 0; cnnrt_model_header[i]; i++)
        sb_puts(e->out, cnnrt_model_header[i]);
    emit_blank(e);
    emit(e, "/* Per-sample shapes (channels first) and sizes; every one a constant. */");
    emit(e, "#define %s_IN_SHAPE {%s}", guard, dims_str(net->input.rank, net->input.d));
    emit(e, "#define %s_IN_SIZE %lld", guard, (long long)in_size(net));
    emit(e, "#define %s_OUT_SIZE %lld", guard, (long long)out_size(net));
    emit(e, "#define %s_PARAM_COUNT %lld", guard, (long long)net->param_count);
    emit(e, "#define %s_BATCH %lld /* train (batch = ...) of the spec */", guard, (long long)net->batch);
    emit_blank(e);
    emit(e, "typedef struct %s_ctx %s_ctx;", p, p);
    emit(e, "size_t %s_workspace_bytes(int max_batch);", p);
    emit(e, "%s_ctx *%s_create(int max_batch); /* one allocation; NULL if out of memory */", p, p);
    emit(e, "void %s_destroy(%s_ctx *c);", p, p);
    emit(e, "float *%s_params(%s_ctx *c);   /* %s_PARAM_COUNT floats */", p, p, guard);
    emit(e, "float *%s_grads(%s_ctx *c);", p, p);
    emit(e, "float *%s_momentum(%s_ctx *c);", p, p);
    emit(e, "float *%s_param(%s_ctx *c, const char *name, size_t *count); /* \"c1.weight\" */", p, p);
    emit(e, "void %s_constrain(%s_ctx *c);  /* re-tie / re-mask after writing weights */", p, p);
    emit(e, "void %s_set_threads(%s_ctx *c, int threads);", p, p);
    emit(e, "void %s_forward(%s_ctx *c, const float *x, int n, float *out);", p, p);
    emit(e, "float %s_gradients(%s_ctx *c, const float *x, const int32_t *labels,", p, p);
    emit(e, "                  const float *targets, int n, float *out);");
    emit(e, "float %s_train_step(%s_ctx *c, const float *x, const int32_t *labels,", p, p);
    emit(e, "                   const float *targets, int n, const cnnrt_hparams *hp);");
    emit(e, "extern const cnnrt_model %s_model;", p);
    emit_blank(e);
    emit(e, "#endif");
}

/* runtime/cnnrt_act.h, where a layer computes a sigmoid or a tanh. */
static void emit_act_math(emitter *e)
{
    for (int i = 0; i < e->net->nlayers; i++) {
        const ir_layer *ly = &e->net->layers[i];
        if (ly->act == ACT_SIGMOID || ly->act == ACT_TANH || ly->kind == LK_SIGMOID ||
            ly->kind == LK_TANH) {
            for (int j = 0; cnnrt_act_header[j]; j++)
                sb_puts(e->out, cnnrt_act_header[j]);
            emit_blank(e);
            return;
        }
    }
}

static void emit_source(emitter *e, const char *header_name)
{
    emit(e, "#define _POSIX_C_SOURCE 200809L");
    emit(e, "#include <math.h>");
    emit(e, "#include <pthread.h>");
    emit(e, "#include <stdatomic.h>");
    emit(e, "#include <stdlib.h>");
    emit(e, "#include <string.h>");
    emit(e, "#include <time.h>");
    emit(e, "#include \"%s\"", header_name);
    emit_blank(e);
    emit(e, "#define CNNC_COLD __attribute__((cold)) /* reference twins: compiled for size */");
    emit(e, "#define CNNC_PREFETCH(p) __builtin_prefetch((p), 0, 2) /* into L2 */");
    emit_rolled_macro(e);
    emit(e, "/* SIMD flavour: %s */", e->simd->name);
    sb_puts(e->out, e->simd->prelude);
    emit_blank(e);
    emit_act_math(e);
    emit_ctx_struct(e);
    emit_lane_sync(e);
    emit_sgd(e);
    emit_layers(e);
    emit_forward_lane(e);
    emit_backward_lane(e);
    if (e->net->loss == LOSS_MSE)
        emit_loss_mse(e, (long long)out_size(e->net));
    else
        emit_loss_sce(e, (long long)out_size(e->net));
    emit_carve(e);
    emit_constrain(e);
    emit_lanes(e);
    emit_tables(e);
    emit_param_lookup(e);
    emit_descriptor(e);
}

static void emit_banner(emitter *e, const char *what, const char *target)
{
    const ir_net *net = e->net;
    char in[96];
    shape_str(in, sizeof in, &net->input);
    emit(e, "/* %s - generated by cnnc %s from %s; do not edit.", what, CNNC_VERSION, net->src->name);
    emit(e, " * network %s: input %s, %d layers, %lld parameters, target %s. */", net->name, in,
         net->nlayers, (long long)net->param_count, target);
}

void emit_c(const ir_net *net, const char *c_name, const char *header_name,
            const char *target, strbuf *c_out, strbuf *h_out)
{
    emit_arena = arena_new();
    char guard[256];
    size_t i;
    for (i = 0; net->name[i] && i + 1 < sizeof guard; i++)
        guard[i] = (char)toupper((unsigned char)net->name[i]);
    guard[i] = 0;
    emitter e = {h_out, 0, net, net->name, 0, 0, simd_find(target), 0, "", false};
    e.grad_max = max_grad_size(net, &e.pad_max);
    for (int i = 0; i < net->nlayers; i++) {
        int64_t need = conv_scratch(&e, &net->layers[i]) + dense_scratch(&e, &net->layers[i]);
        e.cs_max = need > e.cs_max ? need : e.cs_max;
    }
    emit_banner(&e, header_name, target);
    emit_header(&e, guard);
    e.out = c_out;
    emit_banner(&e, c_name, target);
    emit_source(&e, header_name);
    arena_free(emit_arena);
}
