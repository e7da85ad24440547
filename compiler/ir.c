/* ir.c - lower(): from the syntax tree to the IR.  Kinds and attribute keys
 * are looked up in layers.def / attrs.def, values are type-checked, and the
 * defaults of LANGUAGE.md are filled in.  Shapes come later, in check(). */
#include <math.h>
#include <string.h>
#include "ir.h"

const layer_info layer_table[LK_COUNT] = {
#define LAYER(id, nm, allowed, required, minr, maxr) \
    [LK_##id] = {#nm, allowed, required, minr, maxr},
#include "layers.def"
#undef LAYER
};

const attr_info attr_table[ATTR_COUNT] = {
#define ATTR(id, nm, type) [ATTR_##id] = {#nm, type},
#include "attrs.def"
#undef ATTR
};

typedef struct lowerer {
    source *src;
    arena *a;
    ir_net *net;
} lowerer;

/* Nearest of `n` names to `word` for "did you mean", or NULL if none is close. */
static const char *nearest(const char *word, const char *const *names, int n)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < n; i++) /* batch_size -> batch */
        if (strlen(names[i]) >= 3 && strncmp(word, names[i], strlen(names[i])) == 0)
            return names[i];
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, names[i]);
        if (d < best_d && d <= (int)strlen(names[i]) / 2 + 1) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

static void error_unknown(lowerer *l, span at, const char *what, const char *word,
                          const char *const *names, int n)
{
    const char *s = nearest(word, names, n);
    if (s)
        error_at(l->src, at, "unknown %s '%s'; did you mean '%s'?", what, word, s);
    else
        error_at(l->src, at, "unknown %s '%s'", what, word);
}

static const char *val_type_name(const ast_value *v)
{
    switch (v->kind) {
    case VAL_INT: return "an integer";
    case VAL_FLOAT: return "a decimal number";
    case VAL_BOOL: return "a boolean";
    case VAL_IDENT: return "a name";
    case VAL_LIST: return "a list";
    case VAL_CALL: return "a call";
    }
    unreachable();
}

/* A non-negative or positive integer attribute value, below 2^31 (the
 * documented size limit: sums and products of sizes then fit in int64). */
static bool get_int(lowerer *l, const ast_value *v, const char *key, int64_t min,
                    int64_t *out)
{
    if (v->kind != VAL_INT) {
        error_at(l->src, v->loc, "'%s' must be an integer, not %s", key, val_type_name(v));
        return false;
    }
    if (v->u.i >= TENSOR_LIMIT && strcmp(key, "seed") != 0) {
        error_at(l->src, v->loc, "'%s' is too large: %lld (sizes must be below 2^31)", key,
                 (long long)v->u.i);
        return false;
    }
    if (v->u.i < min) {
        error_at(l->src, v->loc, "'%s' must be %s, got %lld", key,
                 min > 0 ? "positive" : "non-negative", (long long)v->u.i);
        return false;
    }
    *out = v->u.i;
    return true;
}

/* An int or a per-axis list of ints: kernel = 5, stride = [1, 2].  *count
 * is 0 for an int (every axis), else the number of values listed, which
 * check() holds to the input's spatial rank (kernel = [3] on an image is
 * an error, not a kernel of 3 by nothing). */
static bool get_ints(lowerer *l, const ast_value *v, const char *key, int64_t min,
                     int64_t out[MAX_SPATIAL], int *count)
{
    if (v->kind != VAL_LIST && v->kind != VAL_INT) {
        error_at(l->src, v->loc, "'%s' must be an integer or a list of integers, not %s", key,
                 val_type_name(v));
        return false;
    }
    if (v->kind != VAL_LIST) {
        if (!get_int(l, v, key, min, &out[0]))
            return false;
        for (int i = 1; i < MAX_SPATIAL; i++)
            out[i] = out[0];
        *count = 0;             /* a scalar: every axis */
        return true;
    }
    if (v->u.list.n < 1 || v->u.list.n > MAX_SPATIAL) {
        error_at(l->src, v->loc, "'%s' needs 1 to %d values (one per spatial axis), got %d",
                 key, MAX_SPATIAL, v->u.list.n);
        return false;
    }
    for (int i = 0; i < v->u.list.n; i++)
        if (!get_int(l, v->u.list.items[i], key, min, &out[i]))
            return false;
    *count = v->u.list.n;
    return true;
}

static bool get_bool(lowerer *l, const ast_value *v, const char *key, bool *out)
{
    if (v->kind != VAL_BOOL) {
        error_at(l->src, v->loc, "'%s' must be true or false, not %s", key, val_type_name(v));
        return false;
    }
    *out = v->u.b;
    return true;
}

static const char *const act_names[] = {"none", "relu", "sigmoid", "tanh"};
static const char *const pad_names[] = {"valid", "same", "zero", "replicate", "reflect", "circular"};

const char *act_name(act_kind a) { return act_names[a]; }
const char *pad_name(pad_kind p) { return pad_names[p]; }

static int lookup(const char *word, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(word, names[i]) == 0)
            return i;
    return -1;
}

static bool get_activation(lowerer *l, const ast_value *v, act_kind *out)
{
    if (v->kind != VAL_IDENT) {
        error_at(l->src, v->loc, "'activation' must be one of none, relu, sigmoid, tanh, not %s",
                 val_type_name(v));
        return false;
    }
    int i = lookup(v->u.id, act_names, 4);
    if (i < 0 && strcmp(v->u.id, "softmax") == 0) {
        error_at(l->src, v->loc, "unknown activation 'softmax' (none, relu, sigmoid or tanh); "
                 "softmax is part of 'loss softmax_cross_entropy'");
        return false;
    }
    if (i < 0) {
        error_unknown(l, v->loc, "activation", v->u.id, act_names, 4);
        return false;
    }
    *out = (act_kind)i;
    return true;
}

/* padding = valid | same | zero(N) | replicate(N) | reflect(N) | circular(N) */
static bool get_padding(lowerer *l, const ast_value *v, ir_layer *ly)
{
    const char *word = v->kind == VAL_IDENT ? v->u.id : v->kind == VAL_CALL ? v->u.call.fn : NULL;
    span at = v->kind == VAL_CALL ? v->u.call.fn_loc : v->loc;
    if (!word) {
        error_at(l->src, v->loc, "'padding' must be valid, same, zero(N), replicate(N), "
                 "reflect(N) or circular(N), not %s", val_type_name(v));
        return false;
    }
    int i = lookup(word, pad_names, 6);
    if (i < 0) {
        error_unknown(l, at, "padding", word, pad_names, 6);
        return false;
    }
    ly->pad = (pad_kind)i;
    bool takes_arg = i >= PAD_ZERO;
    if (takes_arg && v->kind != VAL_CALL) {
        error_at(l->src, v->loc, "padding '%s' needs a size, e.g. %s(1)", word, word);
        return false;
    }
    if (!takes_arg && v->kind == VAL_CALL) {
        error_at(l->src, v->loc, "padding '%s' takes no size", word);
        return false;
    }
    if (!takes_arg)
        return true;
    if (!get_ints(l, v->u.call.arg, "padding", 0, ly->pad_lo, &ly->npad))
        return false;
    memcpy(ly->pad_hi, ly->pad_lo, sizeof ly->pad_lo);
    return true;
}

/* connect = [[0, 1, 2], [1, 2, 3], ...]: one list of input maps per filter. */
static bool get_connect(lowerer *l, const ast_value *v, ir_layer *ly)
{
    if (v->kind != VAL_LIST) {
        error_at(l->src, v->loc, "'connect' must be a list of lists of input maps, not %s",
                 val_type_name(v));
        return false;
    }
    int n = v->u.list.n;
    ly->nconnect = n;
    ly->connect = arena_alloc(l->a, sizeof *ly->connect * (size_t)(n ? n : 1));
    ly->nconnect_row = arena_alloc(l->a, sizeof *ly->nconnect_row * (size_t)(n ? n : 1));
    for (int o = 0; o < n; o++) {
        const ast_value *row = v->u.list.items[o];
        if (row->kind != VAL_LIST) {
            error_at(l->src, row->loc, "'connect' row %d must be a list of input maps, not %s",
                     o, val_type_name(row));
            return false;
        }
        ly->nconnect_row[o] = row->u.list.n;
        ly->connect[o] = arena_alloc(l->a, sizeof(int64_t) * (size_t)(row->u.list.n + 1));
        for (int j = 0; j < row->u.list.n; j++)
            if (!get_int(l, row->u.list.items[j], "connect", 0, &ly->connect[o][j]))
                return false;
        ly->connect[o][row->u.list.n] = -1;
    }
    return true;
}

static bool lower_attr_value(lowerer *l, ir_layer *ly, attr_id id, const ast_value *v)
{
    const char *key = attr_table[id].name;
    switch (id) {
    case ATTR_FILTERS: return get_int(l, v, key, 1, &ly->filters);
    case ATTR_UNITS: return get_int(l, v, key, 1, &ly->units);
    case ATTR_KERNEL:
    case ATTR_SIZE: return get_ints(l, v, key, 1, ly->kernel, &ly->nkernel);
    case ATTR_STRIDE: return get_ints(l, v, key, 1, ly->stride, &ly->nstride);
    case ATTR_DILATION: return get_ints(l, v, key, 1, ly->dilation, &ly->ndilation);
    case ATTR_PADDING: return get_padding(l, v, ly);
    case ATTR_ACTIVATION: return get_activation(l, v, &ly->act);
    case ATTR_BIAS: return get_bool(l, v, key, &ly->bias);
    case ATTR_SYMMETRIC: return get_bool(l, v, key, &ly->symmetric);
    case ATTR_CONNECT: return get_connect(l, v, ly);
    case ATTR_COUNT: break;
    }
    unreachable();
}

static const char *attr_names[ATTR_COUNT];

static int find_attr(const char *key)
{
    for (int i = 0; i < ATTR_COUNT; i++)
        if (strcmp(key, attr_table[i].name) == 0)
            return i;
    return -1;
}

/* Names of the attributes a layer kind takes, for "did you mean". */
static int allowed_names(layer_kind k, const char **out)
{
    int n = 0;
    for (int i = 0; i < ATTR_COUNT; i++)
        if (layer_table[k].allowed & (1u << i))
            out[n++] = attr_table[i].name;
    return n;
}

/* The same idea under another kind's name: units/filters, size/kernel. */
static int counterpart(int id)
{
    switch (id) {
    case ATTR_UNITS: return ATTR_FILTERS;
    case ATTR_FILTERS: return ATTR_UNITS;
    case ATTR_SIZE: return ATTR_KERNEL;
    case ATTR_KERNEL: return ATTR_SIZE;
    default: return -1;
    }
}

static void error_bad_key(lowerer *l, const ir_layer *ly, const ast_attr *at, int id)
{
    const char *kind = layer_table[ly->kind].name;
    int n = allowed_names(ly->kind, attr_names);
    int other = id >= 0 ? counterpart(id) : -1;
    if (n == 0)
        error_at(l->src, at->key_loc, "%s takes no attributes", kind);
    else if (other >= 0 && (layer_table[ly->kind].allowed & (1u << other)))
        error_at(l->src, at->key_loc, "%s does not take '%s'; did you mean '%s'?", kind,
                 at->key, attr_table[other].name);
    else if (id >= 0)
        error_at(l->src, at->key_loc, "%s does not take '%s'", kind, at->key);
    else
        error_unknown(l, at->key_loc, "attribute", at->key, attr_names, n);
}

/* Returns false after reporting; *bad_key tells that a key itself was
 * wrong, so "needs ..." would only repeat the same mistake. */
static bool lower_attrs(lowerer *l, ir_layer *ly, const ast_attrs *attrs, bool *bad_key)
{
    bool ok = true;
    for (int i = 0; i < attrs->n; i++) {
        const ast_attr *at = &attrs->items[i];
        int id = find_attr(at->key);
        if (id < 0 || !(layer_table[ly->kind].allowed & (1u << id))) {
            error_bad_key(l, ly, at, id);
            *bad_key = true;
            ok = false;
            continue;
        }
        if (ly->has[id]) {
            error_at(l->src, at->key_loc, "'%s' given twice", at->key);
            note_at(l->src, ly->attr_loc[id], "first given here");
            ok = false;
            continue;
        }
        ly->has[id] = true;
        ly->attr_loc[id] = at->key_loc;
        ly->attr_val[id] = at->val;
        ok = lower_attr_value(l, ly, (attr_id)id, at->val) && ok;
    }
    return ok;
}

static void layer_defaults(ir_layer *ly)
{
    for (int i = 0; i < MAX_SPATIAL; i++) {
        ly->stride[i] = 0; /* 0 = "as the layer's default", fixed in check() */
        ly->dilation[i] = 1;
    }
    ly->pad = PAD_VALID;
    ly->act = ACT_NONE;
    ly->bias = true;
}

static bool missing_required(lowerer *l, ir_layer *ly, const ast_stmt *st)
{
    bool ok = true;
    for (int i = 0; i < ATTR_COUNT; i++) {
        if ((layer_table[ly->kind].required & (1u << i)) && !ly->has[i]) {
            span at = st->u.layer.attrs.loc.line ? st->u.layer.attrs.loc : st->u.layer.kind_loc;
            error_at(l->src, at, "%s '%s' needs '%s'", layer_table[ly->kind].name, ly->name,
                     attr_table[i].name);
            ok = false;
        }
    }
    return ok;
}

/* ly's name repeats that of the earlier layer `first`.  A default name
 * (kind plus index) the user never wrote is explained where it comes from. */
static void error_name_clash(lowerer *l, const ir_layer *ly, const ir_layer *first)
{
    if (ly->default_name)
        error_at(l->src, ly->name_loc, "layer name '%s', the default name of this layer "
                 "(kind plus index), is already used; give it a name", ly->name);
    else
        error_at(l->src, ly->name_loc, "layer name '%s' is already used", ly->name);
    if (first->default_name)
        note_at(l->src, first->name_loc, "'%s' is the default name of this layer "
                "(kind plus index)", first->name);
    else
        note_at(l->src, first->name_loc, "'%s' was first used here", first->name);
}

/* ly's name against the layers before it, so that the error comes in
 * source order: after an unknown kind, before the attributes. */
static bool unique_name(lowerer *l, const ir_layer *ly)
{
    for (const ir_layer *first = l->net->layers; first < ly; first++)
        if (strcmp(first->name, ly->name) == 0) {
            error_name_clash(l, ly, first);
            return false;
        }
    return true;
}

static const char *kind_names[LK_COUNT];

/* Fills *ly even when reporting errors (later layers check their names
 * against it); errors come in source order: kind, name, attributes.
 * Returns false after reporting. */
static bool lower_layer(lowerer *l, const ast_stmt *st, int index, ir_layer *ly)
{
    int k;
    memset(ly, 0, sizeof *ly);
    ly->loc = st->u.layer.kind_loc;
    ly->name_loc = st->u.layer.name ? st->u.layer.name_loc : st->u.layer.kind_loc;
    ly->default_name = !st->u.layer.name;
    ly->name = st->u.layer.name ? st->u.layer.name
                                : arena_printf(l->a, "%s%d", st->u.layer.kind, index);
    for (k = 0; k < LK_COUNT; k++)
        kind_names[k] = layer_table[k].name;
    for (k = 0; k < LK_COUNT; k++)
        if (strcmp(st->u.layer.kind, layer_table[k].name) == 0)
            break;
    if (k == LK_COUNT)
        error_unknown(l, st->u.layer.kind_loc, "layer kind", st->u.layer.kind, kind_names,
                      LK_COUNT);
    bool named = unique_name(l, ly);
    if (k == LK_COUNT)
        return false;
    ly->kind = (layer_kind)k;
    layer_defaults(ly);
    bool bad_key = false;
    bool ok = lower_attrs(l, ly, &st->u.layer.attrs, &bad_key);
    return (bad_key || missing_required(l, ly, st)) && ok && named;
}

/* input [C, W] | [C, H, W] | [C, D, H, W] | [N] */
static bool lower_input(lowerer *l, const ast_stmt *st)
{
    const ast_value *v = st->u.input.dims;
    ir_net *net = l->net;
    if (v->kind != VAL_LIST) {
        error_at(l->src, v->loc, "input needs a shape in brackets, e.g. [1, 28, 28]");
        return false;
    }
    if (v->u.list.n < 1 || v->u.list.n > MAX_DIMS) {
        error_at(l->src, v->loc, "input shape must have 1 to %d sizes "
                 "([N], [C, W], [C, H, W] or [C, D, H, W]), got %d", MAX_DIMS, v->u.list.n);
        return false;
    }
    net->input.rank = v->u.list.n;
    for (int i = 0; i < v->u.list.n; i++)
        if (!get_int(l, v->u.list.items[i], "input", 1, &net->input.d[i]))
            return false;
    net->input_loc = v->loc;
    return true;
}

static bool lower_loss(lowerer *l, const ast_stmt *st)
{
    static const char *const names[] = {"softmax_cross_entropy", "mse"};
    int i = lookup(st->u.loss.name, names, 2);
    if (i < 0) {
        error_unknown(l, st->u.loss.name_loc, "loss", st->u.loss.name, names, 2);
        return false;
    }
    l->net->loss = (loss_kind)i;
    l->net->loss_loc = st->u.loss.name_loc;
    return true;
}

/* A learning rate and friends: any non-negative number. */
static bool get_real(lowerer *l, const ast_value *v, const char *key, double *out)
{
    if (v->kind != VAL_INT && v->kind != VAL_FLOAT) {
        error_at(l->src, v->loc, "'%s' must be a number, not %s", key, val_type_name(v));
        return false;
    }
    double x = v->kind == VAL_INT ? (double)v->u.i : v->u.f;
    if (!(x >= 0) || !isfinite(x)) {
        error_at(l->src, v->loc, "'%s' must be a non-negative number", key);
        return false;
    }
    *out = x;
    return true;
}

static bool lower_train_attr(lowerer *l, const ast_attr *at)
{
    static const char *const keys[] = {"optimizer", "lr", "momentum", "weight_decay",
                                       "batch", "epochs", "seed"};
    ir_net *net = l->net;
    const ast_value *v = at->val;
    switch (lookup(at->key, keys, 7)) {
    case 0:
        if (v->kind == VAL_IDENT && strcmp(v->u.id, "sgd") == 0)
            return true;
        if (v->kind == VAL_IDENT)
            error_at(l->src, v->loc, "unknown optimizer '%s'; the only optimizer is 'sgd'",
                     v->u.id);
        else
            error_at(l->src, v->loc, "'optimizer' must be a name ('sgd'), not %s",
                     val_type_name(v));
        return false;
    case 1: return get_real(l, v, "lr", &net->lr);
    case 2: return get_real(l, v, "momentum", &net->momentum);
    case 3: return get_real(l, v, "weight_decay", &net->weight_decay);
    case 4: return get_int(l, v, "batch", 1, &net->batch);
    case 5: return get_int(l, v, "epochs", 1, &net->epochs);
    case 6: return get_int(l, v, "seed", 0, &net->seed);
    default:
        error_unknown(l, at->key_loc, "train setting", at->key, keys, 7);
        return false;
    }
}

static bool lower_train(lowerer *l, const ast_stmt *st)
{
    const ast_attrs *attrs = &st->u.train.attrs;
    bool ok = true;
    for (int i = 0; i < attrs->n; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(attrs->items[i].key, attrs->items[j].key) == 0) {
                error_at(l->src, attrs->items[i].key_loc, "'%s' given twice", attrs->items[i].key);
                note_at(l->src, attrs->items[j].key_loc, "first given here");
                ok = false;
                break;
            }
        ok = lower_train_attr(l, &attrs->items[i]) && ok;
    }
    return ok;
}

/* Statements that may appear only once: input, loss, train. */
static bool once(lowerer *l, const ast_stmt *st, span *first, const char *what)
{
    if (first->line) {
        error_at(l->src, st->loc, "a network has one '%s' statement", what);
        note_at(l->src, *first, "the first is here");
        return false;
    }
    *first = st->loc;
    return true;
}

static bool lower_stmt(lowerer *l, const ast_stmt *st, span seen[3], int *index)
{
    ir_net *net = l->net;
    switch (st->kind) {
    case STMT_INPUT:
        /* after a layer it was already reported at that layer */
        return once(l, st, &seen[0], "input") && net->nlayers == 0 && lower_input(l, st);
    case STMT_LAYER:
        ++*index;
        if (!seen[0].line && net->nlayers == 0)
            error_at(l->src, st->loc, "layer before 'input': the network's first statement "
                     "must be its input shape, e.g. input [1, 28, 28];");
        return lower_layer(l, st, *index, &net->layers[net->nlayers++]) && seen[0].line;
    case STMT_LOSS:
        return once(l, st, &seen[1], "loss") && lower_loss(l, st);
    case STMT_TRAIN:
        return once(l, st, &seen[2], "train") && lower_train(l, st);
    }
    unreachable();
}

static void train_defaults(ir_net *net)
{
    net->lr = 0.01;
    net->momentum = 0;
    net->weight_decay = 0;
    net->batch = 32;
    net->epochs = 1;
    net->seed = 0;
}

ir_net *lower(const ast_network *ast, source *src, arena *a)
{
    lowerer l = {src, a, arena_alloc(a, sizeof(ir_net))};
    ir_net *net = l.net;
    net->name = ast->name;
    net->src = src;
    net->close_loc = ast->close_loc;
    net->layers = arena_alloc(a, sizeof(ir_layer) * (size_t)(ast->nstmts + 1));
    train_defaults(net);
    span seen[3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    int index = 0;
    bool ok = true;
    for (int i = 0; i < ast->nstmts; i++)
        ok = lower_stmt(&l, ast->stmts[i], seen, &index) && ok;
    if (!seen[0].line && net->nlayers == 0) {
        error_at(src, ast->close_loc, "network '%s' has no 'input' statement", net->name);
        ok = false;
    } else if (net->nlayers == 0 && ok) {
        error_at(src, ast->close_loc, "network '%s' has no layers", net->name);
        ok = false;
    }
    if (ok && !seen[1].line) {
        error_at(src, ast->close_loc, "network '%s' has no 'loss' statement "
                 "(loss softmax_cross_entropy; or loss mse;)", net->name);
        ok = false;
    }
    return ok ? net : NULL;
}
