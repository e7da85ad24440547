/* emit_simd.c - the SIMD flavours of the generated kernels, as tables of
 * intrinsic templates.  A template is C text with $1, $2, $3 standing for
 * its operands (loadn: the first $2 floats at $1, zeros after, never
 * touching memory past them; storen: the first $3 lanes of $2 to $1; NULL
 * where the flavour has no masked load or store, and the kernels then finish
 * with scalars; pos: $2 where $1 > 0, else 0, NaN in $1 giving 0, as the
 * scalar `$1 > 0.0f ? $2 : 0.0f`); the kernels in emit_fast.c are written once against these
 * and never test which flavour they emit.
 *
 *   avx512   16 floats, FMA, 32 registers; like avx2 otherwise.
 *   avx2     8 floats, FMA; the kernels carry target("avx2,fma"), so the C
 *            compiles with plain -O2, and create() checks the CPU at run
 *            time (without AVX2 the reference kernels run).
 *   sse2     4 floats, multiply then add (the x86-64 baseline).
 *   neon     4 floats, FMA (the aarch64 baseline).
 *   generic  1 float: the same register-blocked loops in portable C. */
#include <string.h>
#include "emit.h"

static const simd_target targets[] = {
    {
        .name = "avx512", .width = 16, .regs = 32,
        .prelude = "#include <immintrin.h>\n"
                   "#define CNNC_KERNEL __attribute__((target(\"avx512f,avx2,fma\")))\n",
        .cpu_check = "__builtin_cpu_supports(\"avx512f\")",
        .vec = "__m512", .zero = "_mm512_setzero_ps()", .load = "_mm512_loadu_ps($1)",
        .store = "_mm512_storeu_ps($1, $2);", .splat = "_mm512_set1_ps($1)",
        .fma = "_mm512_fmadd_ps($1, $2, $3)", .add = "_mm512_add_ps($1, $2)",
        .hsum = "_mm512_reduce_add_ps($1)",
        .loadn = "_mm512_maskz_loadu_ps((__mmask16)((1u << $2) - 1u), $1)",
        .storen = "_mm512_mask_storeu_ps($1, (__mmask16)((1u << $3) - 1u), $2);",
        .pos = "_mm512_maskz_mov_ps(_mm512_cmp_ps_mask($1, _mm512_setzero_ps(), _CMP_GT_OQ), $2)",
    },
    {
        .name = "avx2", .width = 8, .regs = 16,
        .prelude = "#include <immintrin.h>\n"
                   "#define CNNC_KERNEL __attribute__((target(\"avx2,fma\")))\n"
                   "CNNC_KERNEL __attribute__((unused)) static inline float cnnc_hsum(__m256 v)\n"
                   "{\n"
                   "    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));\n"
                   "    s = _mm_add_ps(s, _mm_movehl_ps(s, s));\n"
                   "    s = _mm_add_ss(s, _mm_movehdup_ps(s));\n"
                   "    return _mm_cvtss_f32(s);\n"
                   "}\n",
        .cpu_check = "__builtin_cpu_supports(\"avx2\") && __builtin_cpu_supports(\"fma\")",
        .vec = "__m256", .zero = "_mm256_setzero_ps()", .load = "_mm256_loadu_ps($1)",
        .store = "_mm256_storeu_ps($1, $2);", .splat = "_mm256_set1_ps($1)",
        .fma = "_mm256_fmadd_ps($1, $2, $3)", .add = "_mm256_add_ps($1, $2)",
        .hsum = "cnnc_hsum($1)",
        .loadn = "_mm256_maskload_ps($1, _mm256_cmpgt_epi32(_mm256_set1_epi32($2), "
                 "_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))",
        .storen = "_mm256_maskstore_ps($1, _mm256_cmpgt_epi32(_mm256_set1_epi32($3), "
                  "_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), $2);",
        .pos = "_mm256_and_ps(_mm256_cmp_ps($1, _mm256_setzero_ps(), _CMP_GT_OQ), $2)",
    },
    {
        .name = "sse2", .width = 4, .regs = 16,
        .prelude = "#include <emmintrin.h>\n"
                   "#define CNNC_KERNEL\n"
                   "__attribute__((unused)) static inline float cnnc_hsum(__m128 v)\n"
                   "{\n"
                   "    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));\n"
                   "    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));\n"
                   "    return _mm_cvtss_f32(s);\n"
                   "}\n",
        .cpu_check = "1",
        .vec = "__m128", .zero = "_mm_setzero_ps()", .load = "_mm_loadu_ps($1)",
        .store = "_mm_storeu_ps($1, $2);", .splat = "_mm_set1_ps($1)",
        .fma = "_mm_add_ps(_mm_mul_ps($1, $2), $3)", .add = "_mm_add_ps($1, $2)",
        .hsum = "cnnc_hsum($1)",
        .pos = "_mm_and_ps(_mm_cmpgt_ps($1, _mm_setzero_ps()), $2)",
    },
    {
        .name = "neon", .width = 4, .regs = 32,
        .prelude = "#include <arm_neon.h>\n"
                   "#define CNNC_KERNEL\n",
        .cpu_check = "1",
        .vec = "float32x4_t", .zero = "vdupq_n_f32(0.0f)", .load = "vld1q_f32($1)",
        .store = "vst1q_f32($1, $2);", .splat = "vdupq_n_f32($1)",
        .fma = "vfmaq_f32($3, $1, $2)", .add = "vaddq_f32($1, $2)",
        .hsum = "vaddvq_f32($1)",
        .pos = "vreinterpretq_f32_u32(vandq_u32(vcgtq_f32($1, vdupq_n_f32(0.0f)), vreinterpretq_u32_f32($2)))",
    },
    {
        .name = "generic", .width = 1, .regs = 16,
        .prelude = "#define CNNC_KERNEL\n",
        .cpu_check = "1",
        .vec = "float", .zero = "0.0f", .load = "(*($1))",
        .store = "*($1) = $2;", .splat = "($1)",
        .fma = "($1) * ($2) + ($3)", .add = "($1) + ($2)",
        .hsum = "($1)",
        .pos = "(($1) > 0.0f ? ($2) : 0.0f)",
    },
};

const simd_target *simd_find(const char *name)
{
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
        if (strcmp(targets[i].name, name) == 0)
            return &targets[i];
    return NULL;
}

/* Template t with $1..$3 replaced by a, b, c. */
const char *simd(const char *t, const char *a, const char *b, const char *c)
{
    strbuf s = {0};
    for (; *t; t++) {
        if (t[0] == '$' && t[1] >= '1' && t[1] <= '3') {
            const char *arg = t[1] == '1' ? a : t[1] == '2' ? b : c;
            sb_puts(&s, arg ? arg : "");
            t++;
        } else {
            sb_printf(&s, "%c", *t);
        }
    }
    const char *r = arena_strdup(emit_arena, s.data ? s.data : "");
    sb_free(&s);
    return r;
}
