/* CPU entry point of the shared kernel (see pathtrace.h). Built by build.rs with the C compiler. */
#include "pathtrace.h"

/* The entry points carry the build's suffix (build.rs: none for the baseline build, _avx2 for the AVX2 one). */
#ifdef TS_CPU_SUFFIX
#define TS_CPU_VARIANT 1 /* a build besides the baseline: only the render entry points */
#else
#define TS_CPU_SUFFIX
#endif
#define TS_CAT2(a, b) a##b
#define TS_CAT(a, b) TS_CAT2(a, b)
#define TS_CPU(name) TS_CAT(name, TS_CPU_SUFFIX)

/* Renders the w x h pixels at (x, y) into out (row-major, 3 floats per pixel); returns the rays cast. */
ts_u64 TS_CPU(ts_render_rect)(const ts_scene *s, ts_u32 x, ts_u32 y, ts_u32 w, ts_u32 h, float *out) {
    ts_u64 rays = 0;
    for (ts_u32 j = 0; j < h; ++j)
        for (ts_u32 i = 0; i < w; ++i) rays += ts_render_pixel(s, x + i, y + j, out + (j * w + i) * 3u);
    return rays;
}

/* Renders like ts_render_rect and also writes the audit sums of the verification protocol
 * (docs/verification.md): per pixel, the sum of the pixel's sample radiances in sample order, each entering with
 * sign - when bit (k mod 64) of `mask` is set and + otherwise. The means in `out` are computed exactly as
 * ts_render_pixel computes them (same operations, same order), so they are bit-identical to a plain render;
 * the audit sums need every sample, and no published output determines them. */
ts_u64 TS_CPU(ts_render_rect_audit)(const ts_scene *s, ts_u32 x, ts_u32 y, ts_u32 w, ts_u32 h, ts_u64 mask, float *out,
                            float *audit) {
    ts_u64 rays_total = 0;
    for (ts_u32 j = 0; j < h; ++j)
        for (ts_u32 i = 0; i < w; ++i) {
            ts_v3 sum = v3(0.0f, 0.0f, 0.0f);
            ts_v3 aud = v3(0.0f, 0.0f, 0.0f);
            ts_u32 rays = 0;
            ts_pixel pix = ts_pixel_at(s, x + i, y + j);
            for (ts_u32 k = 0; k < s->spp; ++k) {
                ts_v3 L = ts_radiance(s, &pix, k, &rays);
                sum = v3_add(sum, L);
                aud = ((mask >> (k & 63u)) & 1u) ? v3_sub(aud, L) : v3_add(aud, L);
            }
            float inv = 1.0f / (float)s->spp;
            float *o = out + (j * w + i) * 3u;
            float *a = audit + (j * w + i) * 3u;
            o[0] = sum.x * inv;
            o[1] = sum.y * inv;
            o[2] = sum.z * inv;
            a[0] = aud.x;
            a[1] = aud.y;
            a[2] = aud.z;
            rays_total += rays;
        }
    return rays_total;
}

#ifndef TS_CPU_VARIANT
/* Exposed for the conformance tests of the deterministic math. */
void ts_sincos_turns_c(float t, float *s, float *c) { ts_sincos_turns(t, s, c); }
float ts_pow_c(float x, float y) { return ts_pow(x, y); }
float ts_rand_c(const ts_scene *s, ts_u32 pixel, ts_u32 sample, ts_u32 dim) { return ts_rand(s, pixel, sample, dim); }
#endif
