/* cnnrt_rng.c - xoshiro256** (Blackman & Vigna) seeded by splitmix64, and
 * PyTorch's default parameter initialisation built on it. */
#include "cnnrt.h"

#include <math.h>
#include <string.h>

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void cnnrt_rng_seed(cnnrt_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t cnnrt_rng_next(cnnrt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cnnrt_rng_double(cnnrt_rng *r)
{
    return (double)(cnnrt_rng_next(r) >> 11) * 0x1.0p-53;
}

float cnnrt_rng_uniform(cnnrt_rng *r, float a, float b)
{
    float u = (float)(cnnrt_rng_next(r) >> 40) * 0x1.0p-24f;   /* exact, in [0, 1) */
    float x = a + (b - a) * u;
    return x < b ? x : a;   /* rounding can reach b; keep the interval half-open */
}

uint64_t cnnrt_rng_below(cnnrt_rng *r, uint64_t n)
{
    uint64_t threshold, x;
    if (n <= 1)
        return 0;
    threshold = (0 - n) % n;   /* 2^64 mod n: reject the uneven tail */
    do
        x = cnnrt_rng_next(r);
    while (x < threshold);
    return x % n;
}

void cnnrt_rng_permutation(cnnrt_rng *r, int64_t *perm, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)cnnrt_rng_below(r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void cnnrt_rng_get_state(const cnnrt_rng *r, uint64_t state[4])
{
    memcpy(state, r->s, sizeof r->s);
}

int cnnrt_rng_set_state(cnnrt_rng *r, const uint64_t state[4])
{
    if ((state[0] | state[1] | state[2] | state[3]) == 0)
        return -1;   /* xoshiro's one forbidden state */
    memcpy(r->s, state, sizeof r->s);
    return 0;
}

void cnnrt_init_params(const cnnrt_model *m, void *ctx, uint64_t seed)
{
    cnnrt_rng r;
    float *params = m->param_block(ctx);
    cnnrt_rng_seed(&r, seed);
    for (int i = 0; i < m->nparams; i++) {
        const cnnrt_param_info *p = &m->params[i];
        float bound = p->fan_in > 0 ? (float)(1.0 / sqrt((double)p->fan_in)) : 0.0f;
        float *w = params + p->offset;
        for (size_t j = 0; j < p->count; j++)
            w[j] = bound > 0 ? cnnrt_rng_uniform(&r, -bound, bound) : 0.0f;
    }
    if (m->constrain)
        m->constrain(ctx);
}
