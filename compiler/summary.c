/* summary.c - what cnnc shows a person about a checked network: the IR
 * dump (-d), the --summary table and the --emit=dot picture. */
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

static void human(char *buf, size_t len, double v)
{
    const char *unit[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, u ? "%.2f%s" : "%.0f%s", v, unit[u]);
}

/* One row per layer: name, kind, output shape, parameters, forward FLOPs
 * and activation memory at the spec's batch; then the totals. */
void print_summary(FILE *out, const ir_net *net)
{
    char sh[96], fl[32], mem[32];
    int64_t params = 0, flops = 0, acts = 0;
    shape_str(sh, sizeof sh, &net->input);
    fprintf(out, "network %s (batch %lld)\n", net->name, (long long)net->batch);
    fprintf(out, "%-12s %-8s %-18s %12s %12s %12s\n", "layer", "kind", "output", "params",
            "FLOPs", "act. memory");
    fprintf(out, "%-12s %-8s %-18s %12s %12s %12s\n", "input", "", sh, "0", "0", "");
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        int64_t p = ly->wcount + ly->bcount;
        int64_t bytes = ly->kind == LK_FLATTEN ? 0 : shape_count(&ly->out) * net->batch * 4;
        shape_str(sh, sizeof sh, &ly->out);
        human(fl, sizeof fl, (double)ly->flops);
        human(mem, sizeof mem, (double)bytes);
        fprintf(out, "%-12s %-8s %-18s %12lld %12s %11sB\n", ly->name, layer_table[ly->kind].name,
                sh, (long long)p, fl, mem);
        params += p;
        flops += ly->flops;
        acts += bytes;
    }
    human(fl, sizeof fl, (double)flops);
    human(mem, sizeof mem, (double)acts);
    fprintf(out, "total: %lld parameters, %s forward FLOPs per sample, %sB of activations "
            "at batch %lld\n", (long long)params, fl, mem, (long long)net->batch);
}

void print_dot(FILE *out, const ir_net *net)
{
    char sh[96];
    fprintf(out, "digraph \"%s\" {\n  rankdir=TB;\n  node [shape=box, style=rounded];\n",
            net->name);
    shape_str(sh, sizeof sh, &net->input);
    fprintf(out, "  input [label=\"input\", shape=ellipse];\n");
    const char *prev = "input";
    for (int i = 0; i < net->nlayers; i++) {
        const ir_layer *ly = &net->layers[i];
        fprintf(out, "  \"%s\" [label=\"%s\\n%s\"];\n", ly->name, ly->name,
                layer_table[ly->kind].name);
        shape_str(sh, sizeof sh, &ly->in);
        fprintf(out, "  \"%s\" -> \"%s\" [label=\"%s\"];\n", prev, ly->name, sh);
        prev = ly->name;
    }
    shape_str(sh, sizeof sh, &net->layers[net->nlayers - 1].out);
    fprintf(out, "  loss [label=\"%s\", shape=ellipse];\n  \"%s\" -> loss [label=\"%s\"];\n}\n",
            net->loss == LOSS_MSE ? "mse" : "softmax_cross_entropy", prev, sh);
}
