/* test_parser.c - parse(): the tree it builds for LANGUAGE.md's LeNet and
 * for every value and statement form, the spans on its nodes, ast_dump(),
 * every syntax error's exact message and location, error recovery, and
 * survival of garbage input. */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ast.h"

/* ---- stderr capture: diagnostics go to fd 2, so swap fd 2 for a file ---- */
typedef struct { int saved; FILE *tmp; } capture;

static void capture_begin(capture *c)
{
    fflush(stderr);
    c->tmp = tmpfile();
    ck_assert_ptr_nonnull(c->tmp);
    c->saved = dup(2);
    dup2(fileno(c->tmp), 2);
}

static char *capture_end(capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    off_t n = lseek(fileno(c->tmp), 0, SEEK_END);   /* fd 2 wrote here */
    ck_assert_int_ge(n, 0);
    char *s = calloc(1, (size_t)n + 1);
    rewind(c->tmp);
    ck_assert_int_eq(fread(s, 1, (size_t)n, c->tmp), (size_t)n);
    fclose(c->tmp);
    return s;
}

/* ---- parsing a string ----
 * One arena per test, freed by the fixture, so the tests are leak-free
 * under `make SANITIZE=1` as well. */
static arena *a;
static char *errs;              /* what the last parse() printed */
static source *src;

static void setup(void)
{
    a = arena_new();
}

static void teardown(void)
{
    arena_free(a);
    free(errs);
    errs = NULL;
}

static ast_network *parse_bytes(const char *text, size_t len)
{
    free(errs);
    src = arena_alloc(a, sizeof *src);
    src->name = "t.net";
    src->text = arena_strndup(a, text, len);
    src->len = len;
    capture c;
    capture_begin(&c);
    ast_network *net = parse(src, a);
    errs = capture_end(&c);
    return net;
}

static ast_network *parse_text(const char *text)
{
    return parse_bytes(text, strlen(text));
}

/* Parses text that must be wrong and checks the whole of stderr. */
static void assert_error(const char *text, const char *want)
{
    ast_network *net = parse_text(text);
    ck_assert_ptr_null(net);
    ck_assert_str_eq(errs, want);
}

static void assert_span(span s, int line, int col, int len)
{
    ck_assert_int_eq(s.line, line);
    ck_assert_int_eq(s.col, col);
    ck_assert_int_eq(s.len, len);
}

static const char lenet[] =
    "// LeNet-5 (LeCun et al., 1989) for 28x28 grayscale images.\n"
    "network lenet {\n"
    "    input [1, 28, 28];                      // channels, height, width\n"
    "\n"
    "    conv    c1 (filters = 6, kernel = 5, padding = zero(2), activation = relu);\n"
    "    maxpool s2 (size = 2, stride = 2);\n"
    "    conv    c3 (filters = 16, kernel = 5, activation = relu);\n"
    "    maxpool s4 (size = 2);\n"
    "    flatten;\n"
    "    dense   f5 (units = 120, activation = relu);\n"
    "    dense   f6 (units = 84, activation = relu);\n"
    "    dense   out (units = 10);\n"
    "\n"
    "    loss  softmax_cross_entropy;\n"
    "    train (optimizer = sgd, lr = 0.01, momentum = 0.9, batch = 64, epochs = 10, seed = 1);\n"
    "}\n";

/* ---- the LeNet example ---- */

START_TEST(lenet_network)
{
    ast_network *net = parse_text(lenet);
    ck_assert_ptr_nonnull(net);
    ck_assert_str_eq(errs, "");
    ck_assert_str_eq(net->name, "lenet");
    assert_span(net->name_loc, 2, 9, 5);
    assert_span(net->close_loc, 16, 1, 1);
    ck_assert_int_eq(net->nstmts, 11);
    static const ast_stmt_kind kinds[] = {
        STMT_INPUT, STMT_LAYER, STMT_LAYER, STMT_LAYER, STMT_LAYER, STMT_LAYER,
        STMT_LAYER, STMT_LAYER, STMT_LAYER, STMT_LOSS, STMT_TRAIN,
    };
    for (int i = 0; i < 11; i++)
        ck_assert_int_eq(net->stmts[i]->kind, kinds[i]);
}
END_TEST

START_TEST(lenet_input)
{
    ast_stmt *in = parse_text(lenet)->stmts[0];
    assert_span(in->loc, 3, 5, 5);
    ast_value *dims = in->u.input.dims;
    ck_assert_int_eq(dims->kind, VAL_LIST);
    assert_span(dims->loc, 3, 11, 11);
    ck_assert_int_eq(dims->u.list.n, 3);
    static const int64_t want[] = { 1, 28, 28 };
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(dims->u.list.items[i]->kind, VAL_INT);
        ck_assert_int_eq(dims->u.list.items[i]->u.i, want[i]);
    }
    assert_span(dims->u.list.items[2]->loc, 3, 19, 2);
}
END_TEST

START_TEST(lenet_conv)
{
    ast_stmt *c1 = parse_text(lenet)->stmts[1];
    ck_assert_str_eq(c1->u.layer.kind, "conv");
    assert_span(c1->u.layer.kind_loc, 5, 5, 4);
    assert_span(c1->loc, 5, 5, 4);
    ck_assert_str_eq(c1->u.layer.name, "c1");
    assert_span(c1->u.layer.name_loc, 5, 13, 2);
    const ast_attrs *at = &c1->u.layer.attrs;
    assert_span(at->loc, 5, 16, 63);
    ck_assert_int_eq(at->n, 4);
    static const char *const keys[] = { "filters", "kernel", "padding", "activation" };
    static const int cols[] = { 17, 30, 42, 61 };
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(at->items[i].key, keys[i]);
        assert_span(at->items[i].key_loc, 5, cols[i], (int)strlen(keys[i]));
    }
    ck_assert_int_eq(at->items[0].val->u.i, 6);
    assert_span(at->items[0].val->loc, 5, 27, 1);
    ast_value *pad = at->items[2].val;
    ck_assert_int_eq(pad->kind, VAL_CALL);
    ck_assert_str_eq(pad->u.call.fn, "zero");
    assert_span(pad->loc, 5, 52, 7);
    assert_span(pad->u.call.fn_loc, 5, 52, 4);
    ck_assert_int_eq(pad->u.call.arg->u.i, 2);
    assert_span(pad->u.call.arg->loc, 5, 57, 1);
    ck_assert_int_eq(at->items[3].val->kind, VAL_IDENT);
    ck_assert_str_eq(at->items[3].val->u.id, "relu");
}
END_TEST

START_TEST(lenet_flatten_loss_train)
{
    ast_network *net = parse_text(lenet);
    ast_stmt *fl = net->stmts[5];
    ck_assert_str_eq(fl->u.layer.kind, "flatten");
    ck_assert_ptr_null(fl->u.layer.name);
    assert_span(fl->u.layer.name_loc, 0, 0, 0);
    ck_assert_int_eq(fl->u.layer.attrs.n, 0);
    assert_span(fl->u.layer.attrs.loc, 0, 0, 0);
    ast_stmt *loss = net->stmts[9];
    ck_assert_str_eq(loss->u.loss.name, "softmax_cross_entropy");
    assert_span(loss->loc, 14, 5, 4);
    assert_span(loss->u.loss.name_loc, 14, 11, 21);
    ast_stmt *tr = net->stmts[10];
    assert_span(tr->loc, 15, 5, 5);
    ck_assert_int_eq(tr->u.train.attrs.n, 6);
    ast_attr *lr = &tr->u.train.attrs.items[1];
    ck_assert_str_eq(lr->key, "lr");
    assert_span(lr->key_loc, 15, 29, 2);
    ck_assert_int_eq(lr->val->kind, VAL_FLOAT);
    ck_assert(lr->val->u.f == 0.01);
    assert_span(lr->val->loc, 15, 34, 4);
    ck_assert_str_eq(tr->u.train.attrs.items[5].key, "seed");
    ck_assert_int_eq(tr->u.train.attrs.items[5].val->u.i, 1);
}
END_TEST

START_TEST(lenet_dump)
{
    ast_network *net = parse_text(lenet);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ast_dump(f, net);
    fclose(f);
    ck_assert_str_eq(out,
        "network lenet <2:9>\n"
        "  input [1, 28, 28] <3:5>\n"
        "  layer conv c1 <5:5>\n"
        "    filters = 6 <5:17>\n"
        "    kernel = 5 <5:30>\n"
        "    padding = zero(2) <5:42>\n"
        "    activation = relu <5:61>\n"
        "  layer maxpool s2 <6:5>\n"
        "    size = 2 <6:17>\n"
        "    stride = 2 <6:27>\n"
        "  layer conv c3 <7:5>\n"
        "    filters = 16 <7:17>\n"
        "    kernel = 5 <7:31>\n"
        "    activation = relu <7:43>\n"
        "  layer maxpool s4 <8:5>\n"
        "    size = 2 <8:17>\n"
        "  layer flatten <9:5>\n"
        "  layer dense f5 <10:5>\n"
        "    units = 120 <10:17>\n"
        "    activation = relu <10:30>\n"
        "  layer dense f6 <11:5>\n"
        "    units = 84 <11:17>\n"
        "    activation = relu <11:29>\n"
        "  layer dense out <12:5>\n"
        "    units = 10 <12:18>\n"
        "  loss softmax_cross_entropy <14:5>\n"
        "  train <15:5>\n"
        "    optimizer = sgd <15:12>\n"
        "    lr = 0.01 <15:29>\n"
        "    momentum = 0.9 <15:40>\n"
        "    batch = 64 <15:56>\n"
        "    epochs = 10 <15:68>\n"
        "    seed = 1 <15:81>\n");
    free(out);
}
END_TEST

/* ---- every value form, with its span ---- */

static const char values_src[] =
    "network v {\n"
    "  t (a = 5, b = -3, c = - 3, d = 0.5, e = -1e-3, f = true, g = false,\n"
    "     h = relu, i = zero(2), j = replicate([1, 2]), k = [[0, 1],\n"
    "     [2]], l = -.5);\n"
    "}\n";

static ast_value *attr_value(ast_network *net, int i)
{
    return net->stmts[0]->u.layer.attrs.items[i].val;
}

START_TEST(scalar_values)
{
    ast_network *net = parse_text(values_src);
    ck_assert_ptr_nonnull(net);
    ast_value *v = attr_value(net, 0);
    ck_assert_int_eq(v->kind, VAL_INT);
    ck_assert_int_eq(v->u.i, 5);
    assert_span(v->loc, 2, 10, 1);
    v = attr_value(net, 1);                 /* -3: the minus is in the span */
    ck_assert_int_eq(v->u.i, -3);
    assert_span(v->loc, 2, 17, 2);
    v = attr_value(net, 2);                 /* - 3 */
    ck_assert_int_eq(v->u.i, -3);
    assert_span(v->loc, 2, 25, 3);
    v = attr_value(net, 3);
    ck_assert_int_eq(v->kind, VAL_FLOAT);
    ck_assert(v->u.f == 0.5);
    v = attr_value(net, 4);
    ck_assert(v->u.f == -1e-3);
    assert_span(v->loc, 2, 43, 5);
    v = attr_value(net, 5);
    ck_assert_int_eq(v->kind, VAL_BOOL);
    ck_assert(v->u.b);
    assert_span(v->loc, 2, 54, 4);
    ck_assert(!attr_value(net, 6)->u.b);
    v = attr_value(net, 7);
    ck_assert_int_eq(v->kind, VAL_IDENT);
    ck_assert_str_eq(v->u.id, "relu");
    assert_span(v->loc, 3, 10, 4);
    v = attr_value(net, 11);
    ck_assert(v->u.f == -0.5);
    assert_span(v->loc, 4, 16, 3);
}
END_TEST

START_TEST(call_and_list_values)
{
    ast_network *net = parse_text(values_src);
    ast_value *v = attr_value(net, 8);      /* zero(2) */
    ck_assert_int_eq(v->kind, VAL_CALL);
    assert_span(v->loc, 3, 20, 7);
    v = attr_value(net, 9);                 /* replicate([1, 2]) */
    ck_assert_str_eq(v->u.call.fn, "replicate");
    assert_span(v->loc, 3, 33, 17);
    assert_span(v->u.call.fn_loc, 3, 33, 9);
    ast_value *arg = v->u.call.arg;
    ck_assert_int_eq(arg->kind, VAL_LIST);
    ck_assert_int_eq(arg->u.list.n, 2);
    assert_span(arg->loc, 3, 43, 6);
    ck_assert_int_eq(arg->u.list.items[1]->u.i, 2);
    v = attr_value(net, 10);                /* [[0, 1],\n [2]]: spans lines */
    ck_assert_int_eq(v->u.list.n, 2);
    assert_span(v->loc, 3, 56, 18);   /* to the end, past the newline */
    assert_span(v->u.list.items[0]->loc, 3, 57, 6);
    assert_span(v->u.list.items[1]->loc, 4, 6, 3);
    ck_assert_int_eq(v->u.list.items[1]->u.list.items[0]->u.i, 2);
}
END_TEST

START_TEST(value_dump)
{
    ast_network *net = parse_text(values_src);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (int i = 0; i < net->stmts[0]->u.layer.attrs.n; i++) {
        ast_dump_value(f, attr_value(net, i));
        fputc(' ', f);
    }
    fclose(f);
    ck_assert_str_eq(out, "5 -3 -3 0.5 -0.001 true false relu zero(2) "
                          "replicate([1, 2]) [[0, 1], [2]] -0.5 ");
    free(out);
}
END_TEST

/* ---- statement forms ---- */

START_TEST(layer_forms)
{
    ast_network *net = parse_text(
        "network n { relu; conv c; conv (); conv c (); dense (units = 3); }");
    ck_assert_ptr_nonnull(net);
    ck_assert_int_eq(net->nstmts, 5);
    ast_stmt **s = net->stmts;
    ck_assert_ptr_null(s[0]->u.layer.name);
    ck_assert_str_eq(s[1]->u.layer.name, "c");
    assert_span(s[1]->u.layer.name_loc, 1, 24, 1);
    ck_assert_ptr_null(s[2]->u.layer.name);
    ck_assert_int_eq(s[2]->u.layer.attrs.n, 0);
    assert_span(s[2]->u.layer.attrs.loc, 1, 32, 2);   /* "()" is present */
    ck_assert_str_eq(s[3]->u.layer.name, "c");
    assert_span(s[3]->u.layer.attrs.loc, 1, 43, 2);
    ck_assert_ptr_null(s[4]->u.layer.name);
    ck_assert_int_eq(s[4]->u.layer.attrs.n, 1);
    assert_span(s[4]->u.layer.attrs.loc, 1, 53, 11);
}
END_TEST

/* The parser accepts any value after `input`; lower() demands a list. */
START_TEST(other_statements)
{
    ast_network *net = parse_text(
        "network n {\n input 784;\n loss mse;\n train;\n train ();\n}");
    ck_assert_ptr_nonnull(net);
    ck_assert_int_eq(net->nstmts, 4);
    ck_assert_int_eq(net->stmts[0]->u.input.dims->kind, VAL_INT);
    assert_span(net->stmts[0]->u.input.dims->loc, 2, 8, 3);
    ck_assert_str_eq(net->stmts[1]->u.loss.name, "mse");
    ck_assert_int_eq(net->stmts[2]->u.train.attrs.n, 0);
    assert_span(net->stmts[2]->u.train.attrs.loc, 0, 0, 0);
    assert_span(net->stmts[3]->u.train.attrs.loc, 5, 8, 2);
    assert_span(net->close_loc, 6, 1, 1);
}
END_TEST

START_TEST(empty_network)
{
    ast_network *net = parse_text("network n{}");
    ck_assert_ptr_nonnull(net);
    ck_assert_int_eq(net->nstmts, 0);
    ck_assert_ptr_null(net->stmts);
}
END_TEST

/* ---- syntax errors: wording and location ---- */

START_TEST(missing_semicolon)
{
    assert_error("network n {\n  conv c1 (filters = 6)\n  maxpool s2;\n}\n",
        "t.net:3:3: error: expected ';' before 'maxpool'\n"
        "    3 |   maxpool s2;\n"
        "      |   ^~~~~~~\n");
}
END_TEST

START_TEST(unclosed_brace)
{
    assert_error("network n {\n  flatten;\n\n// the end\n",
        "t.net:2:11: error: expected '}' at end of file\n"
        "    2 |   flatten;\n"
        "      |           ^\n");
}
END_TEST

START_TEST(empty_file)
{
    assert_error("",
        "t.net:1:1: error: expected 'network' at end of file\n"
        "    1 | \n"
        "      | ^\n");
    assert_error("\n// nothing\n",
        "t.net:1:1: error: expected 'network' at end of file\n"
        "    1 | \n"
        "      | ^\n");
}
END_TEST

START_TEST(header_errors)
{
    assert_error("net lenet {}",
        "t.net:1:1: error: expected 'network' before 'net'\n"
        "    1 | net lenet {}\n"
        "      | ^~~\n");
    assert_error("network {}",
        "t.net:1:9: error: expected identifier before '{'\n"
        "    1 | network {}\n"
        "      |         ^\n");
    assert_error("network n ( }",
        "t.net:1:11: error: expected '{' before '('\n"
        "    1 | network n ( }\n"
        "      |           ^\n");
}
END_TEST

START_TEST(trailing_garbage)
{
    assert_error("network n {\n}\nnetwork m {}\n",
        "t.net:3:1: error: expected end of file before 'network' (a file holds one network)\n"
        "    3 | network m {}\n"
        "      | ^~~~~~~\n");
}
END_TEST

START_TEST(statement_errors)
{
    assert_error("network n { [1]; }",
        "t.net:1:13: error: expected statement or '}' before '['\n"
        "    1 | network n { [1]; }\n"
        "      |             ^\n");
    assert_error("network n { conv c1 c2; }",
        "t.net:1:21: error: expected '(' or ';' before 'c2'\n"
        "    1 | network n { conv c1 c2; }\n"
        "      |                     ^~\n");
    assert_error("network n { conv = 3; }",
        "t.net:1:18: error: expected identifier, '(' or ';' before '='\n"
        "    1 | network n { conv = 3; }\n"
        "      |                  ^\n");
    assert_error("network n { loss; }",
        "t.net:1:17: error: expected identifier before ';'\n"
        "    1 | network n { loss; }\n"
        "      |                 ^\n");
}
END_TEST

START_TEST(attribute_errors)
{
    assert_error("network n { conv (filters 6); }",
        "t.net:1:27: error: expected '=' before '6'\n"
        "    1 | network n { conv (filters 6); }\n"
        "      |                           ^\n");
    assert_error("network n { conv (a = 1; }",
        "t.net:1:24: error: expected ',' or ')' before ';'\n"
        "    1 | network n { conv (a = 1; }\n"
        "      |                        ^\n");
    assert_error("network n { conv (a = 1,); }",
        "t.net:1:25: error: expected identifier before ')'\n"
        "    1 | network n { conv (a = 1,); }\n"
        "      |                         ^\n");
    assert_error("network n { conv (a = relu x); }",
        "t.net:1:28: error: expected '(', ',' or ')' before 'x'\n"
        "    1 | network n { conv (a = relu x); }\n"
        "      |                            ^\n");
}
END_TEST

/* `[]` parses (lower() says what is missing), with the brackets as its span. */
START_TEST(empty_list)
{
    ast_network *net = parse_text("network n {\n  c (k = [], t = [[0], []]);\n}");
    ck_assert_ptr_nonnull(net);
    ast_value *v = attr_value(net, 0);
    ck_assert_int_eq(v->kind, VAL_LIST);
    ck_assert_int_eq(v->u.list.n, 0);
    assert_span(v->loc, 2, 10, 2);
    v = attr_value(net, 1);
    ck_assert_int_eq(v->u.list.n, 2);
    ck_assert_int_eq(v->u.list.items[1]->u.list.n, 0);
    assert_span(v->u.list.items[1]->loc, 2, 24, 2);
}
END_TEST

START_TEST(value_errors)
{
    assert_error("network n { input [,]; }",
        "t.net:1:20: error: expected value or ']' before ','\n"
        "    1 | network n { input [,]; }\n"
        "      |                    ^\n");
    assert_error("network n { input [1 2]; }",
        "t.net:1:22: error: expected ',' or ']' before '2'\n"
        "    1 | network n { input [1 2]; }\n"
        "      |                      ^\n");
    assert_error("network n { input -x; }",
        "t.net:1:20: error: expected number before 'x'\n"
        "    1 | network n { input -x; }\n"
        "      |                    ^\n");
    assert_error("network n { conv (p = zero(1, 2)); }",
        "t.net:1:29: error: expected ')' before ','\n"
        "    1 | network n { conv (p = zero(1, 2)); }\n"
        "      |                             ^\n");
}
END_TEST

START_TEST(long_token_is_shortened)
{
    assert_error("network n m_123456789_123456789_123456789_123456789 {}",
        "t.net:1:11: error: expected '{' before 'm_123456789_123456789_123456789_12345...'\n"
        "    1 | network n m_123456789_123456789_123456789_123456789 {}\n"
        "      |           ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
}
END_TEST

/* ---- recovery ---- */

/* Each broken statement is reported and skipped up to its ';'. */
START_TEST(errors_in_several_statements)
{
    assert_error("network n {\n conv c1 (filters 6);\n dense (units = );\n"
                 " loss ;\n flatten;\n}\n",
        "t.net:2:19: error: expected '=' before '6'\n"
        "    2 |  conv c1 (filters 6);\n"
        "      |                   ^\n"
        "t.net:3:17: error: expected value before ')'\n"
        "    3 |  dense (units = );\n"
        "      |                 ^\n"
        "t.net:4:7: error: expected identifier before ';'\n"
        "    4 |  loss ;\n"
        "      |       ^\n");
    ck_assert_int_eq(src->nerrors, 3);
}
END_TEST

/* A lexical error alone makes parse() fail, though the tokens parse. */
START_TEST(lexical_error_fails_parse)
{
    assert_error("network n { conv (a = 1$); }",
        "t.net:1:24: error: stray '$' in program\n"
        "    1 | network n { conv (a = 1$); }\n"
        "      |                        ^\n");
}
END_TEST

/* The unterminated comment explains the early end of file: no second,
 * confusing "expected '}'". */
START_TEST(unterminated_comment_alone)
{
    assert_error("network n {\n  flatten; /* to do\n\n",
        "t.net:2:12: error: unterminated comment\n"
        "    2 |   flatten; /* to do\n"
        "      |            ^~\n");
}
END_TEST

START_TEST(deep_nesting)
{
    enum { DEPTH = 20000 };
    char *text = malloc(DEPTH + 64);
    strcpy(text, "network n { input ");
    memset(text + strlen(text), '[', DEPTH);
    strcpy(text + 18 + DEPTH, "1; }");
    ck_assert_ptr_null(parse_text(text));
    ck_assert_ptr_nonnull(strstr(errs, "error: value nested too deeply\n"));
    free(text);
}
END_TEST

/* The 21st error prints one line and parsing stops: parse() returns NULL,
 * nothing exits, and nothing more is printed. */
START_TEST(too_many_errors_output)
{
    char text[2048] = "network n {\n";
    for (int i = 0; i < 30; i++)
        strcat(text, " conv (a 1);\n");
    ck_assert_ptr_null(parse_text(text));
    int n = 0;
    for (const char *p = errs; (p = strstr(p, ": error: expected '='")); p++)
        n++;
    ck_assert_int_eq(n, 20);
    const char *tail = "      |          ^\nt.net: error: too many errors, stopping\n";
    ck_assert_uint_ge(strlen(errs), strlen(tail));
    ck_assert_str_eq(errs + strlen(errs) - strlen(tail), tail);
    ck_assert_int_gt(src->nerrors, 20);
}
END_TEST

/* ---- garbage never crashes ---- */

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* Parses in a child so "too many errors" (exit 1) cannot end the test; a
 * crash shows as a signal. */
static void parse_in_child(const char *text, size_t len)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        source s = { .name = "t.net", .text = text, .len = len };
        ast_network *net = parse(&s, a);
        if (net) {
            FILE *f = fopen("/dev/null", "w");
            ast_dump(f, net);
            fclose(f);
        }
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) <= 1,
                  "parse crashed on %zu bytes (status %d)", len, status);
}

START_TEST(random_bytes)
{
    char buf[257];
    for (int iter = 0; iter < 300; iter++) {
        size_t len = rng() % 256;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)rng();
        buf[len] = '\0';
        parse_in_child(buf, len);
    }
}
END_TEST

/* LeNet with a few bytes replaced, deleted or duplicated: near-valid input
 * reaches the deep corners of the grammar that random bytes do not. */
START_TEST(mutated_lenet)
{
    static const char alphabet[] = "{}[](),;=-.e0129 \n/*#ax\"\001";
    char buf[sizeof lenet + 16];
    for (int iter = 0; iter < 300; iter++) {
        size_t len = sizeof lenet - 1;
        memcpy(buf, lenet, len);
        for (int m = 0; m < 3; m++) {
            size_t at = rng() % len;
            if (rng() % 2)
                buf[at] = alphabet[rng() % (sizeof alphabet - 1)];
            else
                memmove(buf + at, buf + at + 1, len-- - at - 1);
        }
        buf[len] = '\0';
        parse_in_child(buf, len);
    }
}
END_TEST

static Suite *parser_suite(void)
{
    Suite *s = suite_create("parser");
    TCase *tree = tcase_create("tree");
    tcase_add_checked_fixture(tree, setup, teardown);
    tcase_add_test(tree, lenet_network);
    tcase_add_test(tree, lenet_input);
    tcase_add_test(tree, lenet_conv);
    tcase_add_test(tree, lenet_flatten_loss_train);
    tcase_add_test(tree, lenet_dump);
    tcase_add_test(tree, scalar_values);
    tcase_add_test(tree, call_and_list_values);
    tcase_add_test(tree, value_dump);
    tcase_add_test(tree, empty_list);
    tcase_add_test(tree, layer_forms);
    tcase_add_test(tree, other_statements);
    tcase_add_test(tree, empty_network);
    suite_add_tcase(s, tree);
    TCase *err = tcase_create("errors");
    tcase_add_checked_fixture(err, setup, teardown);
    tcase_add_test(err, missing_semicolon);
    tcase_add_test(err, unclosed_brace);
    tcase_add_test(err, empty_file);
    tcase_add_test(err, header_errors);
    tcase_add_test(err, trailing_garbage);
    tcase_add_test(err, statement_errors);
    tcase_add_test(err, attribute_errors);
    tcase_add_test(err, value_errors);
    tcase_add_test(err, long_token_is_shortened);
    tcase_add_test(err, errors_in_several_statements);
    tcase_add_test(err, lexical_error_fails_parse);
    tcase_add_test(err, unterminated_comment_alone);
    tcase_add_test(err, deep_nesting);
    tcase_add_test(err, too_many_errors_output);
    suite_add_tcase(s, err);
    TCase *fuzz = tcase_create("garbage");
    tcase_add_checked_fixture(fuzz, setup, teardown);
    tcase_set_timeout(fuzz, 60);
    tcase_add_test(fuzz, random_bytes);
    tcase_add_test(fuzz, mutated_lenet);
    suite_add_tcase(s, fuzz);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parser_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
