/* ast.c - builders the parser's actions call, and ast_dump() for
 * `cnnc -d p`.  Nothing here checks meaning: lower() in ir.c does. */
#include "ast.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- builders ---- */

void ast_vec_push(arena *a, ast_vec *v, void *item)
{
    if (v->n == v->cap) {
        /* The arena cannot realloc: copy into a block twice the size.  The
         * old block is garbage until exit, which the arena accepts. */
        int cap = v->cap ? 2 * v->cap : 4;
        void **items = arena_alloc(a, (size_t)cap * sizeof *items);
        if (v->n)
            memcpy(items, v->items, (size_t)v->n * sizeof *items);
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
}

static ast_value *value_new(arena *a, ast_value_kind kind, span loc)
{
    ast_value *v = arena_alloc(a, sizeof *v);
    v->kind = kind;
    v->loc = loc;
    return v;
}

ast_value *ast_int(arena *a, span loc, int64_t i)
{
    ast_value *v = value_new(a, VAL_INT, loc);
    v->u.i = i;
    return v;
}

ast_value *ast_float(arena *a, span loc, double f)
{
    ast_value *v = value_new(a, VAL_FLOAT, loc);
    v->u.f = f;
    return v;
}

ast_value *ast_bool(arena *a, span loc, bool b)
{
    ast_value *v = value_new(a, VAL_BOOL, loc);
    v->u.b = b;
    return v;
}

ast_value *ast_ident(arena *a, span loc, const char *id)
{
    ast_value *v = value_new(a, VAL_IDENT, loc);
    v->u.id = id;
    return v;
}

ast_value *ast_call(arena *a, span loc, const char *fn, span fn_loc, ast_value *arg)
{
    ast_value *v = value_new(a, VAL_CALL, loc);
    v->u.call.fn = fn;
    v->u.call.fn_loc = fn_loc;
    v->u.call.arg = arg;
    return v;
}

ast_value *ast_list(arena *a, span loc, ast_vec items)
{
    ast_value *v = value_new(a, VAL_LIST, loc);
    v->u.list.items = (ast_value **)items.items;
    v->u.list.n = items.n;
    return v;
}

/* The grammar only negates number literals, so a bug elsewhere is a die().
 * The lexer rejects integers above INT64_MAX, so -i cannot overflow. */
ast_value *ast_negate(ast_value *v, span loc)
{
    if (v->kind == VAL_INT)
        v->u.i = -v->u.i;
    else if (v->kind == VAL_FLOAT)
        v->u.f = -v->u.f;
    else
        unreachable();
    v->loc = loc;
    return v;
}

ast_attr *ast_attr_new(arena *a, const char *key, span key_loc, ast_value *val)
{
    ast_attr *at = arena_alloc(a, sizeof *at);
    at->key = key;
    at->key_loc = key_loc;
    at->val = val;
    return at;
}

/* ast_attrs holds the attributes by value: copy them out of the vector. */
ast_attrs ast_attrs_make(arena *a, span loc, ast_vec attrs)
{
    ast_attrs r = { .n = attrs.n, .loc = loc };
    if (attrs.n)
        r.items = arena_alloc(a, (size_t)attrs.n * sizeof *r.items);
    for (int i = 0; i < attrs.n; i++)
        r.items[i] = *(ast_attr *)attrs.items[i];
    return r;
}

static ast_stmt *stmt_new(arena *a, ast_stmt_kind kind, span loc)
{
    ast_stmt *s = arena_alloc(a, sizeof *s);
    s->kind = kind;
    s->loc = loc;
    return s;
}

ast_stmt *ast_input(arena *a, span loc, ast_value *dims)
{
    ast_stmt *s = stmt_new(a, STMT_INPUT, loc);
    s->u.input.dims = dims;
    return s;
}

ast_stmt *ast_layer(arena *a, const char *kind, span kind_loc,
                    const char *name, span name_loc, ast_attrs attrs)
{
    ast_stmt *s = stmt_new(a, STMT_LAYER, kind_loc);
    s->u.layer.kind = kind;
    s->u.layer.kind_loc = kind_loc;
    s->u.layer.name = name;
    s->u.layer.name_loc = name_loc;
    s->u.layer.attrs = attrs;
    return s;
}

ast_stmt *ast_loss(arena *a, span loc, const char *name, span name_loc)
{
    ast_stmt *s = stmt_new(a, STMT_LOSS, loc);
    s->u.loss.name = name;
    s->u.loss.name_loc = name_loc;
    return s;
}

ast_stmt *ast_train(arena *a, span loc, ast_attrs attrs)
{
    ast_stmt *s = stmt_new(a, STMT_TRAIN, loc);
    s->u.train.attrs = attrs;
    return s;
}

ast_network *ast_network_new(arena *a, const char *name, span name_loc,
                             ast_vec stmts, span close_loc)
{
    ast_network *net = arena_alloc(a, sizeof *net);
    net->name = name;
    net->name_loc = name_loc;
    net->stmts = (ast_stmt **)stmts.items;
    net->nstmts = stmts.n;
    net->close_loc = close_loc;
    return net;
}

/* ---- dump ---- */

/* The shortest %g form that reads back as the same double, with a ".0"
 * added when it would otherwise look like an integer. */
static void dump_float(FILE *out, double f)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, f);
        if (strtod(buf, NULL) == f)
            break;
    }
    fputs(buf, out);
    if (!strpbrk(buf, ".eEn"))          /* 'n': inf and nan */
        fputs(".0", out);
}

void ast_dump_value(FILE *out, const ast_value *v)
{
    switch (v->kind) {
    case VAL_INT:   fprintf(out, "%" PRId64, v->u.i); break;
    case VAL_FLOAT: dump_float(out, v->u.f); break;
    case VAL_BOOL:  fputs(v->u.b ? "true" : "false", out); break;
    case VAL_IDENT: fputs(v->u.id, out); break;
    case VAL_CALL:
        fprintf(out, "%s(", v->u.call.fn);
        ast_dump_value(out, v->u.call.arg);
        fputc(')', out);
        break;
    case VAL_LIST:
        fputc('[', out);
        for (int i = 0; i < v->u.list.n; i++) {
            fputs(i ? ", " : "", out);
            ast_dump_value(out, v->u.list.items[i]);
        }
        fputc(']', out);
        break;
    }
}

static void dump_loc(FILE *out, span loc)
{
    fprintf(out, " <%d:%d>\n", loc.line, loc.col);
}

static void dump_attrs(FILE *out, const ast_attrs *attrs)
{
    for (int i = 0; i < attrs->n; i++) {
        fprintf(out, "    %s = ", attrs->items[i].key);
        ast_dump_value(out, attrs->items[i].val);
        dump_loc(out, attrs->items[i].key_loc);
    }
}

static void dump_stmt(FILE *out, const ast_stmt *s)
{
    switch (s->kind) {
    case STMT_INPUT:
        fputs("  input ", out);
        ast_dump_value(out, s->u.input.dims);
        dump_loc(out, s->loc);
        break;
    case STMT_LAYER:
        fprintf(out, "  layer %s", s->u.layer.kind);
        if (s->u.layer.name)
            fprintf(out, " %s", s->u.layer.name);
        dump_loc(out, s->loc);
        dump_attrs(out, &s->u.layer.attrs);
        break;
    case STMT_LOSS:
        fprintf(out, "  loss %s", s->u.loss.name);
        dump_loc(out, s->loc);
        break;
    case STMT_TRAIN:
        fputs("  train", out);
        dump_loc(out, s->loc);
        dump_attrs(out, &s->u.train.attrs);
        break;
    }
}

void ast_dump(FILE *out, const ast_network *net)
{
    fprintf(out, "network %s", net->name);
    dump_loc(out, net->name_loc);
    for (int i = 0; i < net->nstmts; i++)
        dump_stmt(out, net->stmts[i]);
}
