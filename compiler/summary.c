/* summary.c - what cnnc shows a person about a checked network: the IR
 * dump (-d), the --summary table and the --emit=dot picture. */
#include <string.h>
#include "ir.h"

void ir_dump(FILE *out, const ir_net *net)
{
    char in[96], o[96];
    shape_str(in, sizeof in, &net->input);
    fprintf(out, "network %s: input %s, loss %s, %lld parameters\n", net->name, in,
            net->loss == LOSS_MSE ? "mse" : "softmax_cross_entropy", (long long)net->param_count);
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        shape_str(in, sizeof in, &ly->in);
        shape_str(o, sizeof o, &ly->out);
        fprintf(out, "  %-10s %-8s %s -> %s", ly->name, layer_table[ly->kind].name, in, o);
        if (ly->nsp)
            fprintf(out, " k=%lld,%lld,%lld s=%lld,%lld,%lld d=%lld,%lld,%lld pad=%s(%lld..%lld)",
                    (long long)ly->kernel[0], (long long)ly->kernel[1], (long long)ly->kernel[2],
                    (long long)ly->stride[0], (long long)ly->stride[1], (long long)ly->stride[2],
                    (long long)ly->dilation[0], (long long)ly->dilation[1],
                    (long long)ly->dilation[2], pad_name(ly->pad), (long long)ly->pad_lo[0],
                    (long long)ly->pad_hi[0]);
        fprintf(out, " act=%s w@%lld[%lld] b@%lld[%lld]\n", act_name(ly->act), (long long)ly->woff,
                (long long)ly->wcount, (long long)ly->boff, (long long)ly->bcount);
    }
    fprintf(out, "  train lr=%g momentum=%g weight_decay=%g batch=%lld epochs=%lld seed=%lld\n",
            net->lr, net->momentum, net->weight_decay, (long long)net->batch,
            (long long)net->epochs, (long long)net->seed);
}

/* ---------------------------------------------------------------- --summary */
/* 1234567 -> "1,234,567" */
static char *grouped(char *buf, size_t len, int64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)v), o = 0;
    for (int i = 0; i < n && o + 2 < (int)len; i++) {
        if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

/* Binary units, as the generated program's `info`. */
static char *bytes_str(char *buf, size_t len, int64_t b)
{
    if (b >= 1048576)
        snprintf(buf, len, "%.1f MiB", (double)b / 1048576.0);
    else
        snprintf(buf, len, "%.1f KiB", (double)b / 1024.0);
    return buf;
}

/* Bytes of a layer's output kept for the backward pass at batch n (float32;
 * flatten is a view of its input and keeps nothing). */
static int64_t activation_bytes(const ir_layer *ly, int64_t n)
{
    return ly->kind == LK_FLATTEN ? 0 : shape_count(&ly->out) * n * 4;
}

typedef struct widths { int name, shape; } widths;

static widths column_widths(const ir_net *net)
{
    char sh[96];
    widths w = {6, 12};
    for (int i = 0; i < net->nlayers; i++) {
        int n = (int)strlen(net->layers[i].name);
        shape_str(sh, sizeof sh, &net->layers[i].out);
        w.name = n > w.name ? n : w.name;
        w.shape = (int)strlen(sh) > w.shape ? (int)strlen(sh) : w.shape;
    }
    return w;
}

static void summary_row(FILE *out, widths w, const char *name, const char *kind,
                        const char *shp, int64_t params, int64_t flops, const char *mem)
{
    fprintf(out, "%-*s  %-8s  %-*s  %10lld  %13lld  %11s\n", w.name, name, kind, w.shape, shp,
            (long long)params, (long long)flops, mem);
}

static void summary_totals(FILE *out, const ir_net *net, int64_t flops, int64_t acts)
{
    char a[40], b[40], c[40];
    fprintf(out, "\nparameters:        %s (%s as float32)\n",
            grouped(a, sizeof a, net->param_count), bytes_str(b, sizeof b, net->param_count * 4));
    fprintf(out, "forward FLOPs:     %s per sample, %s per batch of %lld\n",
            grouped(a, sizeof a, flops), grouped(c, sizeof c, flops * net->batch),
            (long long)net->batch);
    fprintf(out, "activation memory: %s at batch %lld\n", bytes_str(a, sizeof a, acts),
            (long long)net->batch);
    fprintf(out, "FLOPs count a multiply-add as 2; a bias add, an activation and each element "
                 "of a\npooling window as 1; flatten as 0.  Activations are the layers' outputs "
                 "as float32,\nkept for the backward pass (flatten is a view: none).\n");
}

/* One row per layer: name, kind, output shape, parameters, forward FLOPs
 * per sample and activation memory at the spec's batch; then the totals. */
void print_summary(FILE *out, const ir_net *net)
{
    char sh[96], mem[40];
    int64_t flops = 0, acts = 0;
    widths w = column_widths(net);
    shape_str(sh, sizeof sh, &net->input);
    fprintf(out, "network %s: input %s, loss %s, batch %lld\n\n", net->name, sh,
            net->loss == LOSS_MSE ? "mse" : "softmax_cross_entropy", (long long)net->batch);
    fprintf(out, "%-*s  %-8s  %-*s  %10s  %13s  %11s\n", w.name, "layer", "kind", w.shape,
            "output", "parameters", "FLOPs/sample", "activations");
    fprintf(out, "%-*s  %-8s  %s\n", w.name, "input", "", sh);
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        int64_t bytes = activation_bytes(ly, net->batch);
        shape_str(sh, sizeof sh, &ly->out);
        summary_row(out, w, ly->name, layer_table[ly->kind].name, sh, ly->wcount + ly->bcount,
                    ly->flops, bytes_str(mem, sizeof mem, bytes));
        flops += ly->flops;
        acts += bytes;
    }
    summary_row(out, w, "total", "", "", net->param_count, flops,
                bytes_str(mem, sizeof mem, acts));
    summary_totals(out, net, flops, acts);
}

/* -------------------------------------------------------------- --emit=dot */
/* "5x5" from per-axis values. */
static void axes_str(char *buf, size_t len, const int64_t *v, int n)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? "x" : "", (long long)v[i]);
}

static bool all_one(const int64_t *v, int n)
{
    for (int i = 0; i < n; i++)
        if (v[i] != 1)
            return false;
    return true;
}

/* The window attributes that differ from their defaults. */
static void window_attrs(strbuf *sb, const ir_layer *ly)
{
    char ax[64];
    bool pool = ly->kind == LK_MAXPOOL || ly->kind == LK_AVGPOOL;
    bool stride_default = pool ? !memcmp(ly->stride, ly->kernel, (size_t)ly->nsp * sizeof *ly->kernel)
                               : all_one(ly->stride, ly->nsp);
    if (!stride_default) {
        axes_str(ax, sizeof ax, ly->stride, ly->nsp);
        sb_printf(sb, ", stride %s", ax);
    }
    if (!all_one(ly->dilation, ly->nsp)) {
        axes_str(ax, sizeof ax, ly->dilation, ly->nsp);
        sb_printf(sb, ", dilation %s", ax);
    }
    if (ly->pad == PAD_SAME) {
        sb_printf(sb, ", padding same");
    } else if (ly->pad != PAD_VALID) {
        bool uniform = true;                   /* zero(2) rather than zero([2, 2]) */
        for (int a = 1; a < ly->nsp; a++)
            uniform = uniform && ly->pad_lo[a] == ly->pad_lo[0];
        sb_printf(sb, ", padding %s(%s", pad_name(ly->pad), uniform ? "" : "[");
        for (int a = 0; a < (uniform ? 1 : ly->nsp); a++)
            sb_printf(sb, "%s%lld", a ? ", " : "", (long long)ly->pad_lo[a]);
        sb_printf(sb, "%s)", uniform ? "" : "]");
    }
}

/* A node's second line: what the layer computes, e.g. "conv 5x5, 6 filters, relu". */
static void layer_caption(strbuf *sb, const ir_layer *ly)
{
    char ax[64];
    sb_printf(sb, "%s", layer_table[ly->kind].name);
    if (ly->nsp && ly->kind != LK_FLATTEN) {
        axes_str(ax, sizeof ax, ly->kernel, ly->nsp);
        sb_printf(sb, " %s", ax);
    }
    if (ly->kind == LK_CONV || ly->kind == LK_LOCAL)
        sb_printf(sb, ", %lld filters", (long long)ly->filters);
    if (ly->kind == LK_DENSE)
        sb_printf(sb, " %lld", (long long)ly->units);
    if (ly->nsp && ly->kind != LK_FLATTEN)
        window_attrs(sb, ly);
    if (ly->act != ACT_NONE)
        sb_printf(sb, ", %s", act_name(ly->act));
    if ((ly->kind == LK_CONV || ly->kind == LK_LOCAL || ly->kind == LK_DENSE) && !ly->bias)
        sb_printf(sb, ", no bias");
    if (ly->symmetric)
        sb_printf(sb, ", symmetric");
    if (ly->nconnect)
        sb_printf(sb, ", connect table");
}

static const char *node_colour(layer_kind k)
{
    switch (k) {
    case LK_CONV: case LK_LOCAL: return "#cfe2f3";
    case LK_MAXPOOL: case LK_AVGPOOL: return "#fff2cc";
    case LK_DENSE: return "#d9ead3";
    default: return "#eeeeee";
    }
}

/* The network top to bottom: one box per layer (name, what it computes,
 * parameters), every edge labelled with the shape of one sample crossing it. */
void print_dot(FILE *out, const ir_net *net)
{
    char sh[96];
    const char *prev = "(input)";
    shape_str(sh, sizeof sh, &net->input);
    fprintf(out, "digraph \"%s\" {\n  rankdir=TB;\n  label=\"%s: %lld parameters\";\n"
                 "  labelloc=t;\n  fontname=\"Helvetica\";\n"
                 "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=10];\n"
                 "  \"(input)\" [label=\"input\", shape=ellipse, fillcolor=\"#ffffff\"];\n",
            net->name, net->name, (long long)net->param_count);
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        strbuf cap = {0};
        layer_caption(&cap, ly);
        fprintf(out, "  \"%s\" [label=\"%s\\n%s", ly->name, ly->name, cap.data);
        if (ly->wcount + ly->bcount)
            fprintf(out, "\\n%lld parameters", (long long)(ly->wcount + ly->bcount));
        fprintf(out, "\", fillcolor=\"%s\"];\n", node_colour(ly->kind));
        shape_str(sh, sizeof sh, &ly->in);
        fprintf(out, "  \"%s\" -> \"%s\" [label=\" %s\"];\n", prev, ly->name, sh);
        sb_free(&cap);
        prev = ly->name;
    }
    shape_str(sh, sizeof sh, &net->layers[net->nlayers - 1].out);
    fprintf(out, "  \"(loss)\" [label=\"%s\", shape=ellipse, fillcolor=\"#ffffff\"];\n"
                 "  \"%s\" -> \"(loss)\" [label=\" %s\"];\n}\n",
            net->loss == LOSS_MSE ? "mse" : "softmax_cross_entropy", prev, sh);
}
