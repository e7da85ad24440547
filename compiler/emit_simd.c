/* emit_simd.c - the SIMD flavours of the generated kernels, as tables of
 * intrinsic templates.  A template is C text with $1, $2, $3 standing for
 * its operands (loadn: the first $2 floats at $1, zeros after, never
 * touching memory past them; NULL where the flavour has no masked load, and
 * the kernels then finish with scalars; pos: $2 where $1 > 0, else 0, NaN
 * in $1 giving 0, as the scalar `$1 > 0.0f ? $2 : 0.0f`); the kernels in
 * emit_fast.c, emit_convwg.c, emit_fastdense.c and emit_fastpool.c are
 * written once against these and never test which flavour they emit
 * (emit.h says what each template does).
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
        .name = "avx512", .width = 16, .regs = 32, .pin = "__asm__(\"\" : \"+v\"($1));",
        .prelude = "#include <immintrin.h>\n"
                   "#define CNNC_KERNEL __attribute__((target(\"avx512f,avx512vl,avx2,fma\")))\n",
        .cpu_check = "__builtin_cpu_supports(\"avx512f\") && __builtin_cpu_supports(\"avx512vl\")",
        .fpenv_on = "const unsigned fpenv = _mm_getcsr(); _mm_setcsr(fpenv | (c->fast ? 0x8040u : 0x8000u));",
        .fpenv_off = "_mm_setcsr(fpenv);",
        .vec = "__m512", .zero = "_mm512_setzero_ps()", .load = "_mm512_loadu_ps($1)",
        .store = "_mm512_storeu_ps($1, $2);", .splat = "_mm512_set1_ps($1)",
        .fma = "_mm512_fmadd_ps($1, $2, $3)", .add = "_mm512_add_ps($1, $2)", .sub = "_mm512_sub_ps($1, $2)",
        .cat_lo = "_mm512_shuffle_f32x4($1, $2, 0x44)",
        .hsum = "_mm512_reduce_add_ps($1)",
        .loadn = "_mm512_maskz_loadu_ps((__mmask16)((1u << $2) - 1u), $1)",
        .loadm = "_mm512_maskz_loadu_ps((__mmask16)$2, $1)",
        .storem = "_mm512_mask_storeu_ps($1, (__mmask16)$3, $2);",
        .nzmask = "(unsigned)_mm512_cmp_ps_mask($1, _mm512_setzero_ps(), _CMP_NEQ_UQ)",
        .storen = "_mm512_mask_storeu_ps($1, (__mmask16)((1u << $3) - 1u), $2);",
        .pos = "_mm512_maskz_mov_ps(_mm512_cmp_ps_mask($1, _mm512_setzero_ps(), _CMP_GT_OQ), $2)",
        .pick2 = "_mm512_permutex2var_ps($1, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, "
                 "17, 19, 21, 23, 25, 27, 29, 31), $2)",
        .zip_lo = "_mm512_permutex2var_ps($1, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, "
                  "4, 20, 5, 21, 6, 22, 7, 23), $2)",
        .zip_hi = "_mm512_permutex2var_ps($1, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, "
                  "12, 28, 13, 29, 14, 30, 15, 31), $2)",
        .div = "_mm512_div_ps($1, $2)",
        .mask = "__mmask16", .gt = "_mm512_cmp_ps_mask($1, $2, _CMP_GT_OQ)",
        .blend = "_mm512_mask_blend_ps($1, $3, $2)",
        .ivec = "__m512i", .isplat = "_mm512_set1_epi32($1)", .iset = "_mm512_setr_epi32($1)",
        .iadd = "_mm512_add_epi32($1, $2)", .ieq = "_mm512_cmpeq_epi32_mask($1, $2)",
        .iblend = "_mm512_mask_blend_epi32($1, $3, $2)",
        .iload = "_mm512_loadu_si512((const void *)($1))",
        .istore = "_mm512_storeu_si512((void *)($1), $2);",
        .iloadn = "_mm512_maskz_loadu_epi32((__mmask16)((1u << $2) - 1u), $1)",
        .istoren = "_mm512_mask_storeu_epi32($1, (__mmask16)((1u << $3) - 1u), $2);",
        .cmpi = "_mm512_maskz_compress_epi32((__mmask16)($1), $2)",
        .igt = "_mm512_cmpgt_epi32_mask($1, $2)",
        .cmpf = "_mm512_maskz_compress_ps((__mmask16)($1), $2)",
        .rwidth = 8, .rvec = "__m256", .rzero = "_mm256_setzero_ps()", .rsplat = "_mm256_set1_ps($1)",
        .rfma = "_mm256_fmadd_ps($1, $2, $3)", .radd = "_mm256_add_ps($1, $2)", .rload = "_mm256_loadu_ps($1)",
        .rstore = "_mm256_storeu_ps($1, $2);", .rloadm = "_mm256_maskz_loadu_ps((__mmask8)$2, $1)",
        .perm = "_mm512_permutexvar_ps($1, $2)",
        .perm2 = "_mm512_permutex2var_ps($1, $2, $3)",
    },
    {
        .name = "avx2", .width = 8, .regs = 16, .pin = "__asm__(\"\" : \"+x\"($1));",
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
        .fpenv_on = "const unsigned fpenv = _mm_getcsr(); _mm_setcsr(fpenv | (c->fast ? 0x8040u : 0x8000u));",
        .fpenv_off = "_mm_setcsr(fpenv);",
        .vec = "__m256", .zero = "_mm256_setzero_ps()", .load = "_mm256_loadu_ps($1)",
        .store = "_mm256_storeu_ps($1, $2);", .splat = "_mm256_set1_ps($1)",
        .fma = "_mm256_fmadd_ps($1, $2, $3)", .add = "_mm256_add_ps($1, $2)", .sub = "_mm256_sub_ps($1, $2)",
        .cat_lo = "_mm256_permute2f128_ps($1, $2, 0x20)",
        .hsum = "cnnc_hsum($1)",
        .loadn = "_mm256_maskload_ps($1, _mm256_cmpgt_epi32(_mm256_set1_epi32($2), "
                 "_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))",
        .storen = "_mm256_maskstore_ps($1, _mm256_cmpgt_epi32(_mm256_set1_epi32($3), "
                  "_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), $2);",
        .pos = "_mm256_and_ps(_mm256_cmp_ps($1, _mm256_setzero_ps(), _CMP_GT_OQ), $2)",
        .pick2 = "_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps($1, $2, "
                 "0xD8)), 0xD8))",
        .zip_lo = "_mm256_permute2f128_ps(_mm256_unpacklo_ps($1, $2), _mm256_unpackhi_ps($1, $2), 0x20)",
        .zip_hi = "_mm256_permute2f128_ps(_mm256_unpacklo_ps($1, $2), _mm256_unpackhi_ps($1, $2), 0x31)",
        .div = "_mm256_div_ps($1, $2)",
        .mask = "__m256", .gt = "_mm256_cmp_ps($1, $2, _CMP_GT_OQ)",
        .blend = "_mm256_blendv_ps($3, $2, $1)",
        .ivec = "__m256i", .isplat = "_mm256_set1_epi32($1)", .iset = "_mm256_setr_epi32($1)",
        .iadd = "_mm256_add_epi32($1, $2)",
        .ieq = "_mm256_castsi256_ps(_mm256_cmpeq_epi32($1, $2))",
        .iblend = "_mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps($3), "
                  "_mm256_castsi256_ps($2), $1))",
        .iload = "_mm256_loadu_si256((const __m256i *)(const void *)($1))",
        .istore = "_mm256_storeu_si256((__m256i *)(void *)($1), $2);",
        .iloadn = "_mm256_maskload_epi32($1, _mm256_cmpgt_epi32(_mm256_set1_epi32($2), "
                  "_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))",
        .istoren = "_mm256_maskstore_epi32($1, _mm256_cmpgt_epi32(_mm256_set1_epi32($3), "
                   "_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), $2);",
    },
    {
        .name = "sse2", .width = 4, .regs = 16, .pin = "__asm__(\"\" : \"+x\"($1));",
        .prelude = "#include <emmintrin.h>\n"
                   "#define CNNC_KERNEL\n"
                   "__attribute__((unused)) static inline float cnnc_hsum(__m128 v)\n"
                   "{\n"
                   "    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));\n"
                   "    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));\n"
                   "    return _mm_cvtss_f32(s);\n"
                   "}\n",
        .cpu_check = "1",
        .fpenv_on = "const unsigned fpenv = _mm_getcsr(); _mm_setcsr(fpenv | 0x8000u);",
        .fpenv_off = "_mm_setcsr(fpenv);",
        .vec = "__m128", .zero = "_mm_setzero_ps()", .load = "_mm_loadu_ps($1)",
        .store = "_mm_storeu_ps($1, $2);", .splat = "_mm_set1_ps($1)",
        .fma = "_mm_add_ps(_mm_mul_ps($1, $2), $3)", .add = "_mm_add_ps($1, $2)", .sub = "_mm_sub_ps($1, $2)",
        .cat_lo = "_mm_movelh_ps($1, $2)",
        .hsum = "cnnc_hsum($1)",
        .pos = "_mm_and_ps(_mm_cmpgt_ps($1, _mm_setzero_ps()), $2)",
        .pick2 = "_mm_shuffle_ps($1, $2, 0xD8)",
        .zip_lo = "_mm_unpacklo_ps($1, $2)", .zip_hi = "_mm_unpackhi_ps($1, $2)",
        .div = "_mm_div_ps($1, $2)",
        .mask = "__m128", .gt = "_mm_cmpgt_ps($1, $2)",
        .blend = "_mm_or_ps(_mm_and_ps($1, $2), _mm_andnot_ps($1, $3))",
        .ivec = "__m128i", .isplat = "_mm_set1_epi32($1)", .iset = "_mm_setr_epi32($1)",
        .iadd = "_mm_add_epi32($1, $2)", .ieq = "_mm_castsi128_ps(_mm_cmpeq_epi32($1, $2))",
        .iblend = "_mm_or_si128(_mm_and_si128(_mm_castps_si128($1), $2), "
                  "_mm_andnot_si128(_mm_castps_si128($1), $3))",
        .iload = "_mm_loadu_si128((const __m128i *)(const void *)($1))",
        .istore = "_mm_storeu_si128((__m128i *)(void *)($1), $2);",
    },
    {
        .name = "neon", .width = 4, .regs = 32, .pin = "__asm__(\"\" : \"+w\"($1));",
        .prelude = "#include <arm_neon.h>\n"
                   "#define CNNC_KERNEL\n",
        .cpu_check = "1",
        .vec = "float32x4_t", .zero = "vdupq_n_f32(0.0f)", .load = "vld1q_f32($1)",
        .store = "vst1q_f32($1, $2);", .splat = "vdupq_n_f32($1)",
        .fma = "vfmaq_f32($3, $1, $2)", .add = "vaddq_f32($1, $2)", .sub = "vsubq_f32($1, $2)",
        .cat_lo = "vcombine_f32(vget_low_f32($1), vget_low_f32($2))",
        .hsum = "vaddvq_f32($1)",
        .pos = "vreinterpretq_f32_u32(vandq_u32(vcgtq_f32($1, vdupq_n_f32(0.0f)), vreinterpretq_u32_f32($2)))",
        .pick2 = "vcombine_f32(vget_low_f32(vuzp1q_f32($1, $1)), vget_high_f32(vuzp2q_f32($2, $2)))",
        .zip_lo = "vzip1q_f32($1, $2)", .zip_hi = "vzip2q_f32($1, $2)",
        .div = "vdivq_f32($1, $2)",
        .mask = "uint32x4_t", .gt = "vcgtq_f32($1, $2)", .blend = "vbslq_f32($1, $2, $3)",
        .ivec = "int32x4_t", .isplat = "vdupq_n_s32($1)", .iset = "vld1q_s32(((const int32_t[]){$1}))",
        .iadd = "vaddq_s32($1, $2)", .ieq = "vceqq_s32($1, $2)", .iblend = "vbslq_s32($1, $2, $3)",
        .iload = "vld1q_s32($1)", .istore = "vst1q_s32($1, $2);",
    },
    {
        .name = "generic", .width = 1, .regs = 16,
        .prelude = "#define CNNC_KERNEL\n",
        .cpu_check = "1",
        .vec = "float", .zero = "0.0f", .load = "(*($1))",
        .store = "*($1) = $2;", .splat = "($1)",
        .fma = "($1) * ($2) + ($3)", .add = "($1) + ($2)", .sub = "($1) - ($2)",
        .hsum = "($1)",
        .pos = "(($1) > 0.0f ? ($2) : 0.0f)",
        .pick2 = "($1)", .zip_lo = "($1)", .zip_hi = "($2)",
        .div = "($1) / ($2)",
        .mask = "int", .gt = "($1) > ($2)", .blend = "($1) ? ($2) : ($3)",
        .ivec = "int32_t", .isplat = "($1)", .iset = "($1)",
        .iadd = "($1) + ($2)", .ieq = "($1) == ($2)", .iblend = "($1) ? ($2) : ($3)",
        .iload = "(*($1))", .istore = "*($1) = $2;",
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

/* "0, s, 2s, ..": n lanes of a ramp, the operand of iset. */
const char *simd_ramp(int n, int64_t step)
{
    strbuf b = {0};
    for (int j = 0; j < n; j++)
        sb_printf(&b, "%s%lld", j ? ", " : "", (long long)(j * step));
    const char *r = arena_strdup(emit_arena, b.data);
    sb_free(&b);
    return r;
}
