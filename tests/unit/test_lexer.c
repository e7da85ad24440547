/* test_lexer.c - the flex scanner alone: token kinds, values, line:col
 * locations and byte ranges, comments, and every lexical error with its
 * exact message.  The scanner is driven directly, as parser.y does. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"
#include "parser.h"
#include "lexer.h"

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

/* ---- driving the scanner ---- */
typedef struct { int kind; YYSTYPE val; cnnc_loc loc; } tok;

enum { MAXTOK = 64 };
static tok toks[MAXTOK];
static int ntoks;
static arena *a;                /* one per test, freed by the fixture */
static char *errs;              /* everything the last scan printed */
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

/* Scans `len` bytes of `text` (NULs allowed) into toks[], through the
 * end-of-file token, which is stored too. */
static void lex_bytes(const char *text, size_t len)
{
    free(errs);
    src = arena_alloc(a, sizeof *src);
    src->name = "t.net";
    src->text = arena_strndup(a, text, len);
    src->len = len;
    parse_state ps = { .src = src, .a = a, .line = 1, .col = 1 };
    yyscan_t scanner;
    ck_assert_int_eq(yylex_init_extra(&ps, &scanner), 0);
    YY_BUFFER_STATE buf = yy_scan_bytes(src->text, (int)len, scanner);
    capture c;
    capture_begin(&c);
    ntoks = 0;
    do {
        ck_assert_int_lt(ntoks, MAXTOK);
        tok *t = &toks[ntoks++];
        t->kind = yylex(&t->val, &t->loc, scanner);
    } while (toks[ntoks - 1].kind != TOK_YYEOF);
    errs = capture_end(&c);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
}

static void lex(const char *text)
{
    lex_bytes(text, strlen(text));
}

static void assert_tok(int i, int kind, int line, int col, size_t begin, size_t end)
{
    ck_assert_int_lt(i, ntoks);
    ck_assert_int_eq(toks[i].kind, kind);
    ck_assert_int_eq(toks[i].loc.line, line);
    ck_assert_int_eq(toks[i].loc.col, col);
    ck_assert_uint_eq(toks[i].loc.begin, begin);
    ck_assert_uint_eq(toks[i].loc.end, end);
}

/* ---- tokens ---- */

START_TEST(keywords_and_punctuation)
{
    lex("network input loss train true false { } [ ] ( ) , ; = -");
    static const int kinds[] = {
        TOK_NETWORK, TOK_INPUT, TOK_LOSS, TOK_TRAIN, TOK_TRUE, TOK_FALSE,
        TOK_LBRACE, TOK_RBRACE, TOK_LBRACKET, TOK_RBRACKET, TOK_LPAREN,
        TOK_RPAREN, TOK_COMMA, TOK_SEMI, TOK_EQUALS, TOK_MINUS, TOK_YYEOF,
    };
    ck_assert_int_eq(ntoks, 17);
    for (int i = 0; i < ntoks; i++)
        ck_assert_int_eq(toks[i].kind, kinds[i]);
    assert_tok(1, TOK_INPUT, 1, 9, 8, 13);
    assert_tok(6, TOK_LBRACE, 1, 37, 36, 37);
    assert_tok(15, TOK_MINUS, 1, 55, 54, 55);
    ck_assert_str_eq(errs, "");
}
END_TEST

/* Layer kinds are identifiers; a keyword is only the whole word. */
START_TEST(identifiers)
{
    lex("conv c1 _x A_9 networks input2 relu");
    static const char *const ids[] = { "conv", "c1", "_x", "A_9", "networks", "input2", "relu" };
    ck_assert_int_eq(ntoks, 8);
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(toks[i].kind, TOK_IDENT);
        ck_assert_str_eq(toks[i].val.id, ids[i]);
    }
    assert_tok(4, TOK_IDENT, 1, 16, 15, 23);
}
END_TEST

START_TEST(integers)
{
    lex("0 42 007 9223372036854775807");
    ck_assert_int_eq(ntoks, 5);
    ck_assert_int_eq(toks[0].val.i, 0);
    ck_assert_int_eq(toks[1].val.i, 42);
    ck_assert_int_eq(toks[2].val.i, 7);
    ck_assert_int_eq(toks[3].val.i, INT64_MAX);
    assert_tok(3, TOK_INT, 1, 10, 9, 28);
    ck_assert_str_eq(errs, "");
}
END_TEST

START_TEST(decimals)
{
    lex("0.01 1e-3 2.5E+4 .5 5. 1E3 3.25e2");
    static const double want[] = { 0.01, 1e-3, 2.5E+4, .5, 5., 1E3, 3.25e2 };
    ck_assert_int_eq(ntoks, 8);
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(toks[i].kind, TOK_FLOAT);
        ck_assert(toks[i].val.f == want[i]);
    }
    assert_tok(2, TOK_FLOAT, 1, 11, 10, 16);
    ck_assert_str_eq(errs, "");
}
END_TEST

/* There are no negative literals: the parser joins "-" and the number. */
START_TEST(minus_is_a_token)
{
    lex("-3 -0.5");
    ck_assert_int_eq(ntoks, 5);
    assert_tok(0, TOK_MINUS, 1, 1, 0, 1);
    assert_tok(1, TOK_INT, 1, 2, 1, 2);
    assert_tok(2, TOK_MINUS, 1, 4, 3, 4);
    assert_tok(3, TOK_FLOAT, 1, 5, 4, 7);
}
END_TEST

/* Columns are 1-based bytes: a tab is one column, a newline resets it. */
START_TEST(lines_and_columns)
{
    lex("network\n  x\t{\r\n\n\t}");
    ck_assert_int_eq(ntoks, 5);
    assert_tok(0, TOK_NETWORK, 1, 1, 0, 7);
    assert_tok(1, TOK_IDENT, 2, 3, 10, 11);
    assert_tok(2, TOK_LBRACE, 2, 5, 12, 13);
    assert_tok(3, TOK_RBRACE, 4, 2, 17, 18);
}
END_TEST

START_TEST(comments)
{
    lex("// line comment { \n# hash comment ;\n/* block\n * { ; **/ x /**/y");
    ck_assert_int_eq(ntoks, 3);
    assert_tok(0, TOK_IDENT, 4, 12, 56, 57);
    ck_assert_str_eq(toks[0].val.id, "x");
    assert_tok(1, TOK_IDENT, 4, 18, 62, 63);
    ck_assert_str_eq(errs, "");
}
END_TEST

/* End of file sits just after the last token, not on trailing blank lines
 * or comments, so "expected '}'" points where the brace belongs. */
START_TEST(eof_location)
{
    lex("network x\n\n  // done\n\n");
    ck_assert_int_eq(ntoks, 3);
    assert_tok(2, TOK_YYEOF, 1, 10, 9, 10);
    lex("");
    ck_assert_int_eq(ntoks, 1);
    assert_tok(0, TOK_YYEOF, 1, 1, 0, 1);
    lex("  # only a comment\n");
    assert_tok(0, TOK_YYEOF, 1, 1, 0, 1);
}
END_TEST

/* ---- lexical errors: reported, and scanning goes on ---- */

START_TEST(integer_too_large)
{
    lex("x = 9223372036854775808;");
    ck_assert_int_eq(ntoks, 5);
    assert_tok(2, TOK_INT, 1, 5, 4, 23);
    ck_assert_str_eq(errs,
        "t.net:1:5: error: integer constant '9223372036854775808' is too large\n"
        "    1 | x = 9223372036854775808;\n"
        "      |     ^~~~~~~~~~~~~~~~~~~\n");
    ck_assert_int_eq(toks[3].kind, TOK_SEMI);
    ck_assert_int_eq(src->nerrors, 1);
}
END_TEST

START_TEST(decimal_out_of_range)
{
    lex("1e999 1e-999 4.9e-324");
    ck_assert_int_eq(ntoks, 4);
    ck_assert(toks[2].val.f > 0);           /* a denormal is kept */
    ck_assert_str_eq(errs,
        "t.net:1:1: error: decimal constant '1e999' is too large\n"
        "    1 | 1e999 1e-999 4.9e-324\n"
        "      | ^~~~~\n"
        "t.net:1:7: error: decimal constant '1e-999' is too small\n"
        "    1 | 1e999 1e-999 4.9e-324\n"
        "      |       ^~~~~~\n");
}
END_TEST

START_TEST(bad_numbers)
{
    lex("1e 2.5E+ 3x3 5px 1e5x 1ex;");
    ck_assert_int_eq(ntoks, 8);
    assert_tok(2, TOK_INT, 1, 10, 9, 12);
    ck_assert_int_eq(toks[6].kind, TOK_SEMI);
    ck_assert_str_eq(errs,
        "t.net:1:1: error: exponent has no digits in '1e'\n"
        "    1 | 1e 2.5E+ 3x3 5px 1e5x 1ex;\n"
        "      | ^~\n"
        "t.net:1:4: error: exponent has no digits in '2.5E+'\n"
        "    1 | 1e 2.5E+ 3x3 5px 1e5x 1ex;\n"
        "      |    ^~~~~\n"
        "t.net:1:10: error: invalid suffix 'x3' on number '3'\n"
        "    1 | 1e 2.5E+ 3x3 5px 1e5x 1ex;\n"
        "      |          ^~~\n"
        "t.net:1:14: error: invalid suffix 'px' on number '5'\n"
        "    1 | 1e 2.5E+ 3x3 5px 1e5x 1ex;\n"
        "      |              ^~~\n"
        "t.net:1:18: error: invalid suffix 'x' on number '1e5'\n"
        "    1 | 1e 2.5E+ 3x3 5px 1e5x 1ex;\n"
        "      |                  ^~~~\n"
        "t.net:1:23: error: invalid suffix 'ex' on number '1'\n"
        "    1 | 1e 2.5E+ 3x3 5px 1e5x 1ex;\n"
        "      |                       ^~~\n");
}
END_TEST

START_TEST(unterminated_comment)
{
    lex("x\n  /* never\n closed");
    ck_assert_int_eq(ntoks, 2);
    ck_assert_int_eq(toks[1].kind, TOK_YYEOF);
    ck_assert_str_eq(errs,
        "t.net:2:3: error: unterminated comment\n"
        "    2 |   /* never\n"
        "      |   ^~\n");
}
END_TEST

/* A stray byte yields no token: the tokens around it come through. */
START_TEST(stray_characters)
{
    lex("a $b @");
    ck_assert_int_eq(ntoks, 3);
    assert_tok(1, TOK_IDENT, 1, 4, 3, 4);
    ck_assert_str_eq(errs,
        "t.net:1:3: error: stray '$' in program\n"
        "    1 | a $b @\n"
        "      |   ^\n"
        "t.net:1:6: error: stray '@' in program\n"
        "    1 | a $b @\n"
        "      |      ^\n");
}
END_TEST

/* Control and non-UTF-8 bytes are named by value and shown as '?' in the
 * source line; a whole UTF-8 character is shown as itself. */
START_TEST(stray_bytes)
{
    lex_bytes("\x01 \0x\xff \xc3\xa9;", 9);
    ck_assert_int_eq(ntoks, 3);
    assert_tok(0, TOK_IDENT, 1, 4, 3, 4);
    assert_tok(1, TOK_SEMI, 1, 9, 8, 9);
    ck_assert_str_eq(errs,
        "t.net:1:1: error: stray byte 0x01 in program\n"
        "    1 | ? ?x\xff \xc3\xa9;\n"
        "      | ^\n"
        "t.net:1:3: error: stray byte 0x00 in program\n"
        "    1 | ? ?x\xff \xc3\xa9;\n"
        "      |   ^\n"
        "t.net:1:5: error: stray byte 0xff in program\n"
        "    1 | ? ?x\xff \xc3\xa9;\n"
        "      |     ^\n"
        "t.net:1:7: error: stray '\xc3\xa9' in program\n"
        "    1 | ? ?x\xff \xc3\xa9;\n"
        "      |       ^\n");
    ck_assert_int_eq(src->nerrors, 4);
}
END_TEST

static Suite *lexer_suite(void)
{
    Suite *s = suite_create("lexer");
    TCase *tokens = tcase_create("tokens");
    tcase_add_checked_fixture(tokens, setup, teardown);
    tcase_add_test(tokens, keywords_and_punctuation);
    tcase_add_test(tokens, identifiers);
    tcase_add_test(tokens, integers);
    tcase_add_test(tokens, decimals);
    tcase_add_test(tokens, minus_is_a_token);
    tcase_add_test(tokens, lines_and_columns);
    tcase_add_test(tokens, comments);
    tcase_add_test(tokens, eof_location);
    suite_add_tcase(s, tokens);
    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, setup, teardown);
    tcase_add_test(errors, integer_too_large);
    tcase_add_test(errors, decimal_out_of_range);
    tcase_add_test(errors, bad_numbers);
    tcase_add_test(errors, unterminated_comment);
    tcase_add_test(errors, stray_characters);
    tcase_add_test(errors, stray_bytes);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lexer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
