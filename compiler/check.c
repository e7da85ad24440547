/* check.c - check(): shapes, from the input through every layer to the
 * loss, enforcing LANGUAGE.md "Shapes checked at compile time".  Every
 * error names the layer, its input shape and the attribute at fault, with
 * the caret on that attribute. */
#include <string.h>
#include "ir.h"

typedef struct checker {
    ir_net *net;
    source *src;
} checker;

void shape_str(char *buf, size_t len, const shape *s)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < s->rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "",
                                 (long long)s->d[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

int64_t shape_count(const shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->d[i];
    return n;
}

/* Where to point for an attribute: its key if written, else the layer. */
static span at_attr(const ir_layer *ly, attr_id id)
{
    if (ly->has[id] && ly->attr_val[id])
        return ly->attr_val[id]->loc;
    return ly->loc;
}

static void layer_error(checker *c, const ir_layer *ly, span at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "conv 'c1' (input [1, 28, 28]): MESSAGE" */
static void layer_error(checker *c, const ir_layer *ly, span at, const char *fmt, ...)
{
    char in[96], msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shape_str(in, sizeof in, &ly->in);
    error_at(c->src, at, "%s '%s' (input %s): %s", layer_table[ly->kind].name, ly->name, in, msg);
}

/* a * b, or -1 past the tensor limit (never overflows: both < 2^31 here). */
static int64_t mul_limited(int64_t a, int64_t b)
{
    if (a < 0 || b < 0 || (b != 0 && a > (TENSOR_LIMIT - 1) / b))
        return -1;
    return a * b;
}

/* Elements of a shape times the batch, or -1 when it passes the limit. */
static int64_t count_limited(const shape *s, int64_t batch)
{
    int64_t n = batch;
    for (int i = 0; i < s->rank && n >= 0; i++)
        n = mul_limited(n, s->d[i]);
    return n;
}

/* Does a per-axis attribute have one value or one per spatial axis? */
static bool axes_ok(const ir_layer *ly, attr_id id, int given)
{
    return !ly->has[id] || given == 0 || given == ly->nsp;
}

static bool before(span a, span b)
{
    return a.line < b.line || (a.line == b.line && a.col < b.col);
}

/* kernel/size, stride, dilation and padding: the first of them in the
 * source with the wrong number of values is reported. */
static bool axes_match(checker *c, const ir_layer *ly, attr_id kid)
{
    const attr_id ids[4] = {kid, ATTR_STRIDE, ATTR_DILATION, ATTR_PADDING};
    const int given[4] = {ly->nkernel, ly->nstride, ly->ndilation, ly->npad};
    int bad = -1;
    for (int i = 0; i < 4; i++)
        if (!axes_ok(ly, ids[i], given[i]) &&
            (bad < 0 || before(ly->attr_loc[ids[i]], ly->attr_loc[ids[bad]])))
            bad = i;
    if (bad < 0)
        return true;
    layer_error(c, ly, at_attr(ly, ids[bad]), "'%s' has %d value%s but the input has %d "
                "spatial %s", attr_table[ids[bad]].name, given[bad], given[bad] == 1 ? "" : "s",
                ly->nsp, ly->nsp == 1 ? "axis" : "axes");
    return false;
}

static bool check_rank(checker *c, ir_layer *ly)
{
    const layer_info *li = &layer_table[ly->kind];
    if (ly->in.rank >= li->min_rank && ly->in.rank <= li->max_rank)
        return true;
    if (ly->kind == LK_DENSE)
        layer_error(c, ly, ly->loc, "dense needs a vector; add 'flatten;' before it");
    else
        layer_error(c, ly, ly->loc, "%s needs a [C, W], [C, H, W] or [C, D, H, W] input, "
                    "not a vector", li->name);
    return false;
}

/* padding = same: output size = input size (stride 1); an odd total goes
 * one more to the end, as PyTorch's padding='same'. */
static bool resolve_same(checker *c, ir_layer *ly)
{
    for (int a = 0; a < ly->nsp; a++) {
        if (ly->stride[a] != 1) {
            bool defaulted = !ly->has[ATTR_STRIDE];
            layer_error(c, ly, at_attr(ly, ATTR_PADDING),
                        "padding 'same' needs stride 1, but stride is %lld on axis %d%s",
                        (long long)ly->stride[a], a + 1, defaulted ? " (a pooling stride "
                        "defaults to its size; write stride = 1)" : "");
            return false;
        }
        int64_t total = ly->dilation[a] * (ly->kernel[a] - 1);
        ly->pad_lo[a] = total / 2;
        ly->pad_hi[a] = total - total / 2;
    }
    return true;
}

/* Limits PyTorch puts on each padding mode. */
static bool check_pad_size(checker *c, ir_layer *ly, int a)
{
    int64_t in = ly->in.d[a + 1], p = ly->pad_lo[a];
    if (ly->pad == PAD_REFLECT && p >= in) {
        layer_error(c, ly, at_attr(ly, ATTR_PADDING), "reflect padding %lld on axis %d must be "
                    "smaller than the input size %lld", (long long)p, a + 1, (long long)in);
        return false;
    }
    if (ly->pad == PAD_CIRCULAR && p > in) {
        layer_error(c, ly, at_attr(ly, ATTR_PADDING), "circular padding %lld on axis %d must "
                    "not exceed the input size %lld", (long long)p, a + 1, (long long)in);
        return false;
    }
    /* A max over a window of padding alone would be -inf. */
    if (ly->kind == LK_MAXPOOL && ly->pad == PAD_ZERO && p >= ly->kernel[a]) {
        layer_error(c, ly, at_attr(ly, ATTR_PADDING), "zero padding %lld on axis %d must be "
                    "smaller than the window size %lld", (long long)p, a + 1,
                    (long long)ly->kernel[a]);
        return false;
    }
    return true;
}

/* One spatial axis: padded size, window fits, output size. */
static bool window_axis(checker *c, ir_layer *ly, int a)
{
    int64_t in = ly->in.d[a + 1];
    int64_t padded = in + ly->pad_lo[a] + ly->pad_hi[a];
    int64_t span_k = ly->dilation[a] * (ly->kernel[a] - 1) + 1;
    attr_id kid = ly->has[ATTR_KERNEL] ? ATTR_KERNEL : ATTR_SIZE;
    if (!check_pad_size(c, ly, a))
        return false;
    if (span_k > padded) {
        if (ly->dilation[a] > 1)
            layer_error(c, ly, at_attr(ly, kid), "%s %lld with dilation %lld spans %lld, more "
                        "than the padded input size %lld on axis %d", attr_table[kid].name,
                        (long long)ly->kernel[a], (long long)ly->dilation[a],
                        (long long)span_k, (long long)padded, a + 1);
        else
            layer_error(c, ly, at_attr(ly, kid), "%s %lld is larger than the padded input "
                        "size %lld on axis %d", attr_table[kid].name,
                        (long long)ly->kernel[a], (long long)padded, a + 1);
        return false;
    }
    ly->padded.d[a + 1] = padded;
    ly->out.d[a + 1] = (padded - span_k) / ly->stride[a] + 1;
    return true;
}

static bool check_symmetric(checker *c, ir_layer *ly)
{
    for (int a = 0; ly->symmetric && a < ly->nsp; a++)
        if (ly->kernel[a] % 2 == 0) {
            layer_error(c, ly, at_attr(ly, ATTR_SYMMETRIC), "a symmetric kernel needs an odd "
                        "size, but kernel is %lld on axis %d", (long long)ly->kernel[a], a + 1);
            return false;
        }
    return true;
}

/* connect: one row per filter, indices of existing input maps, no repeats. */
static bool check_connect(checker *c, ir_layer *ly)
{
    if (!ly->has[ATTR_CONNECT])
        return true;
    span at = at_attr(ly, ATTR_CONNECT);
    if (ly->nconnect != ly->filters) {
        layer_error(c, ly, at, "'connect' has %d rows but there are %lld filters",
                    ly->nconnect, (long long)ly->filters);
        return false;
    }
    const ast_value *rows = ly->attr_val[ATTR_CONNECT];
    for (int o = 0; o < ly->nconnect; o++) {
        const ast_value *row = rows->u.list.items[o];
        if (ly->nconnect_row[o] == 0) {
            layer_error(c, ly, row->loc, "'connect' row %d is empty: filter %d reads no input", o, o);
            return false;
        }
        for (int j = 0; j < ly->nconnect_row[o]; j++) {
            int64_t m = ly->connect[o][j];
            span mat = row->u.list.items[j]->loc;
            if (m >= ly->in.d[0]) {
                layer_error(c, ly, mat, "'connect' row %d names input map %lld, but the input "
                            "has %lld maps (0 to %lld)", o, (long long)m, (long long)ly->in.d[0],
                            (long long)ly->in.d[0] - 1);
                return false;
            }
            for (int k = 0; k < j; k++)
                if (ly->connect[o][k] == m) {
                    layer_error(c, ly, mat, "'connect' row %d names input map %lld twice", o,
                                (long long)m);
                    return false;
                }
        }
    }
    return true;
}

/* conv, local, maxpool, avgpool: the windowed layers. */
static bool check_window(checker *c, ir_layer *ly)
{
    bool pool = ly->kind == LK_MAXPOOL || ly->kind == LK_AVGPOOL;
    ly->nsp = ly->in.rank - 1;
    attr_id kid = pool ? ATTR_SIZE : ATTR_KERNEL;
    if (!axes_match(c, ly, kid))
        return false;
    for (int a = 0; a < ly->nsp; a++)
        if (ly->stride[a] == 0)
            ly->stride[a] = pool ? ly->kernel[a] : 1;
    if (ly->pad == PAD_SAME && !resolve_same(c, ly))
        return false;
    ly->out.rank = ly->padded.rank = ly->in.rank;
    ly->padded.d[0] = ly->in.d[0];
    ly->out.d[0] = pool ? ly->in.d[0] : ly->filters;
    for (int a = 0; a < ly->nsp; a++)
        if (!window_axis(c, ly, a))
            return false;
    return check_symmetric(c, ly) && check_connect(c, ly);
}

/* a * b for sizes (both >= 0), saturating at INT64_MAX: the counts below
 * stay far from it once check_sizes() has passed, but never overflow. */
static int64_t mul_sat(int64_t a, int64_t b)
{
    if (b != 0 && a > INT64_MAX / b)
        return INT64_MAX;
    return a * b;
}

static int64_t kernel_volume(const ir_layer *ly)
{
    int64_t v = 1;
    for (int a = 0; a < ly->nsp; a++)
        v = mul_sat(v, ly->kernel[a]);
    return v;
}

/* Input maps read in all, over every filter (connect tables read fewer). */
static int64_t connections(const ir_layer *ly)
{
    if (!ly->nconnect)
        return mul_sat(ly->filters, ly->in.d[0]);
    int64_t n = 0;
    for (int o = 0; o < ly->nconnect; o++)
        n += ly->nconnect_row[o];
    return n;
}

/* Output positions per map (1 for a vector). */
static int64_t positions(const ir_layer *ly)
{
    return shape_count(&ly->out) / (ly->out.rank > 1 ? ly->out.d[0] : 1);
}

/* Parameter counts: conv [out, in, k...], local [out, positions..., in, k...],
 * dense [out, in]; biases [out] or [out, positions...]. */
static void count_params(ir_layer *ly)
{
    int64_t in_k = mul_sat(ly->in.d[0], kernel_volume(ly));
    switch (ly->kind) {
    case LK_CONV:
        ly->wcount = mul_sat(ly->filters, in_k);
        ly->bcount = ly->bias ? ly->filters : 0;
        break;
    case LK_LOCAL:
        ly->wcount = mul_sat(mul_sat(ly->filters, positions(ly)), in_k);
        ly->bcount = ly->bias ? mul_sat(ly->filters, positions(ly)) : 0;
        break;
    case LK_DENSE:
        ly->wcount = mul_sat(ly->units, ly->in.d[0]);
        ly->bcount = ly->bias ? ly->units : 0;
        break;
    default: break;
    }
}

/* Forward FLOPs per sample, as --summary states them: a multiply-add counts
 * 2, a bias add 1 per output, a pooling window 1 per element read, an
 * activation 1 per output, flatten (a view) 0. */
static void count_flops(ir_layer *ly)
{
    int64_t out = shape_count(&ly->out);
    switch (ly->kind) {
    case LK_CONV:
    case LK_LOCAL:
        ly->flops = mul_sat(2 * positions(ly), mul_sat(connections(ly), kernel_volume(ly)));
        break;
    case LK_DENSE: ly->flops = mul_sat(2, ly->wcount); break;
    case LK_MAXPOOL:
    case LK_AVGPOOL: ly->flops = mul_sat(out, kernel_volume(ly)); break;
    case LK_FLATTEN: ly->flops = 0; break;
    default: ly->flops = out; break;
    }
    if (ly->bcount && ly->flops < INT64_MAX - out)
        ly->flops += out;
    if (ly->act != ACT_NONE && ly->flops < INT64_MAX - out)
        ly->flops += out;
}

/* The shape rule of each kind: ly->out (and ly->padded for windows). */
static bool layer_shape(checker *c, ir_layer *ly)
{
    if (!check_rank(c, ly))
        return false;
    switch (ly->kind) {
    case LK_CONV:
    case LK_LOCAL:
    case LK_MAXPOOL:
    case LK_AVGPOOL:
        return check_window(c, ly);
    case LK_DENSE:
        ly->out.rank = 1;
        ly->out.d[0] = ly->units;
        return true;
    case LK_FLATTEN:
        ly->out.rank = 1;
        ly->out.d[0] = shape_count(&ly->in);
        return true;
    default: /* relu, sigmoid, tanh */
        ly->out = ly->in;
        return true;
    }
}

/* Every tensor, batch included, stays below 2^31 elements, so the
 * generated int index arithmetic cannot overflow.  The input passed, so a
 * padded input too large is the padding's doing, and a dense output is the
 * 'units' alone: the caret goes there. */
static bool check_sizes(checker *c, ir_layer *ly)
{
    char sh[96];
    int64_t batch = c->net->batch;
    if (ly->padded.rank && count_limited(&ly->padded, batch) < 0) {
        shape_str(sh, sizeof sh, &ly->padded);
        layer_error(c, ly, at_attr(ly, ATTR_PADDING), "padded input %s at batch %lld has "
                    "2^31 or more elements", sh, (long long)batch);
        return false;
    }
    if (count_limited(&ly->out, batch) < 0) {
        shape_str(sh, sizeof sh, &ly->out);
        if (ly->kind == LK_DENSE)
            layer_error(c, ly, at_attr(ly, ATTR_UNITS), "'units' makes output %s at batch "
                        "%lld, 2^31 or more elements", sh, (long long)batch);
        else
            layer_error(c, ly, ly->loc, "output %s at batch %lld has 2^31 or more elements",
                        sh, (long long)batch);
        return false;
    }
    return true;
}

/* "[128, 222, 222, 64, 3, 3]": the weight tensor as PyTorch lays it out. */
static void weight_shape_str(char *buf, size_t len, const ir_layer *ly)
{
    int64_t d[2 * MAX_DIMS];
    int n = 0;
    d[n++] = ly->kind == LK_DENSE ? ly->units : ly->filters;
    for (int a = 0; ly->kind == LK_LOCAL && a < ly->nsp; a++)
        d[n++] = ly->out.d[a + 1];
    d[n++] = ly->in.d[0];
    for (int a = 0; ly->kind != LK_DENSE && a < ly->nsp; a++)
        d[n++] = ly->kernel[a];
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "",
                                 (long long)d[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

/* Every parameter tensor stays below 2^31 elements too. */
static bool check_weights(checker *c, ir_layer *ly)
{
    char sh[160];
    if (ly->wcount < TENSOR_LIMIT)   /* biases are as large as an output at most */
        return true;
    weight_shape_str(sh, sizeof sh, ly);
    if (ly->kind == LK_DENSE)
        layer_error(c, ly, at_attr(ly, ATTR_UNITS), "'units' makes weight %s, %lld weights "
                    "(2^31 or more)", sh, (long long)ly->wcount);
    else
        layer_error(c, ly, ly->loc, "weight %s has %lld elements (2^31 or more)", sh,
                    (long long)ly->wcount);
    return false;
}

/* One layer: its shape rule, then the size limits, then its counts. */
static bool check_layer(checker *c, ir_layer *ly)
{
    if (!layer_shape(c, ly) || !check_sizes(c, ly))
        return false;
    count_params(ly);
    if (!check_weights(c, ly))
        return false;
    count_flops(ly);
    return true;
}

static bool check_loss(checker *c)
{
    ir_net *net = c->net;
    const ir_layer *last = &net->layers[net->nlayers - 1];
    if (net->loss == LOSS_SOFTMAX_CE && last->out.rank != 1) {
        char sh[96];
        shape_str(sh, sizeof sh, &last->out);
        error_at(c->src, net->loss_loc, "softmax_cross_entropy needs a vector of class scores, "
                 "but the last layer '%s' outputs %s; add 'flatten;' and a dense layer",
                 last->name, sh);
        return false;
    }
    return true;
}

/* Input sizes are positive and each below 2^31 (the lexer bounds them to
 * int64; the product is checked with the batch in check_sizes). */
static bool check_input(checker *c)
{
    shape s = c->net->input;
    if (count_limited(&s, c->net->batch) < 0) {
        error_at(c->src, c->net->input_loc, "input at batch %lld has 2^31 or more elements",
                 (long long)c->net->batch);
        return false;
    }
    return true;
}

bool check(ir_net *net)
{
    checker c = {net, net->src};
    if (!check_input(&c))
        return false;
    shape cur = net->input;
    for (int i = 0; i < net->nlayers; i++) {
        ir_layer *ly = &net->layers[i];
        ly->in = cur;
        if (!check_layer(&c, ly))
            return false;
        cur = ly->out;
    }
    return check_loss(&c);
}

void plan(ir_net *net)
{
    int64_t off = 0;
    for (int i = 0; i < net->nlayers; i++) {
        ir_layer *ly = &net->layers[i];
        ly->woff = off;
        off += ly->wcount;
        ly->boff = off;
        off += ly->bcount;
    }
    net->param_count = off;
}
