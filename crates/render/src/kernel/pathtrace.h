/*
 * Tessera path tracer: the one kernel source shared by the CPU backend (compiled by the C compiler through
 * build.rs) and the CUDA backend (compiled at run time by NVRTC). Both compile it with IEEE-754 single
 * precision, no FMA contraction, no fast-math, no flush-to-zero, correctly rounded division and sqrt, and it
 * calls no library transcendental: the functions below are polynomials built from + - * / and sqrt only.
 * Hence every cell's accumulation buffer is bit-identical on every machine and on either backend
 * (docs/render-determinism.md).
 *
 * Layout of the scene buffers is defined by `ts_scene` and mirrored in Rust (`kernel::SceneView`).
 */
#ifndef TESSERA_PATHTRACE_H
#define TESSERA_PATHTRACE_H

#if defined(__CUDACC__)
#define TS_FN __device__ static inline
#define TS_SQRTF(x) sqrtf(x) /* IEEE correctly rounded under --prec-sqrt=true */
typedef unsigned int ts_u32;
typedef unsigned long long ts_u64;
typedef int ts_i32;
#else
#include <stdint.h>
#define TS_FN static inline
#define TS_SQRTF(x) __builtin_sqrtf(x) /* IEEE correctly rounded (sqrtss); no libm */
typedef uint32_t ts_u32;
typedef uint64_t ts_u64;
typedef int32_t ts_i32;
#endif

#define TS_PI 3.14159265358979323846f
#define TS_INV_PI 0.31830988618379067154f
#define TS_STACK 64

/* Texture slots of a material. */
#define TS_SLOT_BASE 0u
#define TS_SLOT_MR 1u
#define TS_SLOT_EMISSIVE 2u
#define TS_SLOT_NORMAL 3u
#define TS_SLOT_TRANSMISSION 4u

/* Sampler wrap modes (glTF REPEAT, CLAMP_TO_EDGE, MIRRORED_REPEAT). */
#define TS_WRAP_REPEAT 0u
#define TS_WRAP_CLAMP 1u
#define TS_WRAP_MIRROR 2u

/* Alpha modes (glTF OPAQUE, MASK, BLEND). */
#define TS_ALPHA_OPAQUE 0u
#define TS_ALPHA_MASK 1u
#define TS_ALPHA_BLEND 2u

/* Scene flags. */
#define TS_FLAG_ALPHA 1u /* some material is not opaque: ray casts test alpha */

/* Light kinds. */
#define TS_LIGHT_POINT 0u
#define TS_LIGHT_SPOT 1u
#define TS_LIGHT_DIRECTIONAL 2u

/* Floats per record in the flat arrays. */
#define TS_NODE_FLOATS 8u  /* bmin xyz, bmax xyz, left-or-first (bits), count (bits; 0 = inner) */
#define TS_TRI_FLOATS 9u   /* v0, e1 = v1 - v0, e2 = v2 - v0 */
#define TS_SHADE_FLOATS 28u /* n0 n1 n2 (9), uv0 uv1 uv2 (6), tangent xyz + sign (4), geometric normal (3), material (bits), area, emitter slot (bits), extra (bits), pad (2) */
#define TS_EXTRA_FLOATS 18u /* per-vertex TEXCOORD_1 (3 x 2) and COLOR_0 rgba (3 x 4) of a triangle that has them */
#define TS_MAT_FLOATS 64u  /* base rgba, metallic, roughness, emissive rgb, normal_scale, specular, alpha mode (bits), alpha cutoff, transmission, dielectric F0 (from the IOR), ior, texture slots at TS_MAT_SLOTS (5 x 8), volume flag (bits, at 56), pad */
#define TS_MAT_SLOTS 16u   /* offset of the first texture slot in a material */
#define TS_SLOT_FLOATS 8u  /* texture (bits), flags (bits: UV set, wrap S, wrap T), uv transform a b c d e f (u' = a u + b v + c, v' = d u + e v + f) */
#define TS_TEX_U32 4u      /* width, height, offset (floats), pad */
#define TS_LIGHT_FLOATS 16u /* kind, pos xyz, dir xyz, color rgb (W/sr, or W/m^2 directional), cos_outer, spot_smooth, pad x4 */

typedef struct ts_scene {
    const float *nodes;        /* BVH nodes, depth-first, node 0 the root */
    const float *tris;         /* intersection records, in BVH leaf order */
    const float *shade;        /* shading records, same order, then the extra records they point to */
    const float *materials;
    const ts_u32 *textures;    /* per texture: width, height, offset into texels, pad */
    const float *texels;       /* linear RGBA */
    const float *lights;       /* punctual lights */
    const ts_u32 *emitters;    /* triangle indices of emissive triangles */
    const float *emitter_cdf;  /* cumulative selection probability, last = 1 */
    ts_u32 node_count, tri_count, material_count, texture_count;
    ts_u32 light_count, emitter_count, width, height;
    ts_u32 spp, max_bounces, seed_lo, seed_hi;
    float cam_pos[3], cam_right[3], cam_up[3], cam_forward[3];
    float cam_tan_half_x, cam_tan_half_y;
    float env[3];                /* constant environment radiance, or the multiplier of the map */
    float light_select_punctual; /* probability of picking a punctual light over an emissive triangle */
    ts_u32 env_tex;              /* equirectangular environment texture, 0xffffffff for none */
    ts_u32 flags;                /* TS_FLAG_* */
} ts_scene;

/* ---------------------------------------------------------------------------------------------------- */
/* Counter-based random numbers: a pure function of (seed, pixel, sample, dimension).                   */
/* ---------------------------------------------------------------------------------------------------- */

TS_FN ts_u32 ts_mix(ts_u32 x) {
    /* lowbias32 (Chris Wellons): a well-tested 32-bit integer hash. */
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

TS_FN ts_u32 ts_key(const ts_scene *s, ts_u32 pixel, ts_u32 sample, ts_u32 dim) {
    ts_u32 h = ts_mix(dim ^ 0x9e3779b9u);
    h = ts_mix(h ^ sample);
    h = ts_mix(h ^ pixel);
    h = ts_mix(h ^ s->seed_lo);
    return ts_mix(h ^ s->seed_hi);
}

/* A 24-bit uniform float in [0, 1) from a hash. */
TS_FN float ts_unit(ts_u32 h) { return (float)(h >> 8) * (1.0f / 16777216.0f); }

TS_FN float ts_rand(const ts_scene *s, ts_u32 pixel, ts_u32 sample, ts_u32 dim) {
    return ts_unit(ts_key(s, pixel, sample, dim));
}

/* ---------------------------------------------------------------------------------------------------- */
/* Deterministic math (no library transcendentals).                                                      */
/* ---------------------------------------------------------------------------------------------------- */

typedef struct { float x, y, z; } ts_v3;

TS_FN ts_v3 v3(float x, float y, float z) { ts_v3 r; r.x = x; r.y = y; r.z = z; return r; }
TS_FN ts_v3 v3_add(ts_v3 a, ts_v3 b) { return v3(a.x + b.x, a.y + b.y, a.z + b.z); }
TS_FN ts_v3 v3_sub(ts_v3 a, ts_v3 b) { return v3(a.x - b.x, a.y - b.y, a.z - b.z); }
TS_FN ts_v3 v3_mul(ts_v3 a, ts_v3 b) { return v3(a.x * b.x, a.y * b.y, a.z * b.z); }
TS_FN ts_v3 v3_scale(ts_v3 a, float k) { return v3(a.x * k, a.y * k, a.z * k); }
TS_FN float v3_dot(ts_v3 a, ts_v3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
TS_FN ts_v3 v3_cross(ts_v3 a, ts_v3 b) {
    return v3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
TS_FN float ts_sqrt(float x) { return x > 0.0f ? TS_SQRTF(x) : 0.0f; }
TS_FN ts_v3 v3_norm(ts_v3 a) {
    float l2 = v3_dot(a, a);
    if (!(l2 > 0.0f)) return v3(0.0f, 0.0f, 1.0f);
    return v3_scale(a, 1.0f / TS_SQRTF(l2));
}
TS_FN float ts_max(float a, float b) { return a > b ? a : b; }
TS_FN float ts_min(float a, float b) { return a < b ? a : b; }
TS_FN float ts_clamp(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
TS_FN float ts_abs(float x) { return x < 0.0f ? -x : x; }
TS_FN float ts_floor(float x) {
    /* Exact for |x| < 2^23; larger floats are integers already. */
    if (!(ts_abs(x) < 8388608.0f)) return x;
    float t = (float)(ts_i32)x;
    return t > x ? t - 1.0f : t;
}
TS_FN float ts_lum(ts_v3 c) { return 0.2126f * c.x + 0.7152f * c.y + 0.0722f * c.z; }
TS_FN float ts_maxc(ts_v3 c) { return ts_max(c.x, ts_max(c.y, c.z)); }

/* sin and cos of 2*pi*t, t in [0, 1): quadrant reduction plus minimax-style Taylor polynomials on
 * [-pi/4, pi/4] (error below 1e-7). */
TS_FN void ts_sincos_turns(float t, float *sn, float *cs) {
    float q = ts_floor(t * 4.0f + 0.5f);       /* nearest quarter turn */
    float r = (t * 4.0f - q) * (TS_PI * 0.5f); /* remainder angle in [-pi/4, pi/4] */
    float r2 = r * r;
    float s = r * (1.0f + r2 * (-1.0f / 6.0f + r2 * (1.0f / 120.0f + r2 * (-1.0f / 5040.0f + r2 * (1.0f / 362880.0f)))));
    float c = 1.0f + r2 * (-0.5f + r2 * (1.0f / 24.0f + r2 * (-1.0f / 720.0f + r2 * (1.0f / 40320.0f))));
    ts_i32 k = ((ts_i32)q) & 3;
    if (k == 0) { *sn = s; *cs = c; }
    else if (k == 1) { *sn = c; *cs = -s; }
    else if (k == 2) { *sn = -s; *cs = -c; }
    else { *sn = -c; *cs = s; }
}

/* atan(x) for x in [-1, 1]: odd minimax polynomial (|error| < 1e-5 rad before rounding). */
TS_FN float ts_atan_unit(float x) {
    float x2 = x * x;
    return x * (0.99997726f + x2 * (-0.33262347f + x2 * (0.19354346f + x2 * (-0.11643287f + x2 * (0.05265332f + x2 * -0.01172120f)))));
}

/* atan2(y, x) in (-pi, pi], from ts_atan_unit by octant. */
TS_FN float ts_atan2(float y, float x) {
    float ax = x < 0.0f ? -x : x, ay = y < 0.0f ? -y : y;
    if (ax == 0.0f && ay == 0.0f) return 0.0f;
    float a = ax >= ay ? ts_atan_unit(ay / ax) : TS_PI * 0.5f - ts_atan_unit(ax / ay);
    if (x < 0.0f) a = TS_PI - a;
    return y < 0.0f ? -a : a;
}

/* acos(x) on [-1, 1] (Abramowitz & Stegun 4.4.46), the same polynomial as the host's math::acos. */
TS_FN float ts_acos(float x) {
    x = x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x);
    float a = x < 0.0f ? -x : x;
    float p = 1.57079632679489661923f + a * (-0.2145988f + a * (0.08897874f + a * (-0.0501743f + a * (0.03089188f + a * (-0.0170881f + a * (0.00667009f + a * -0.00126249f))))));
    float r = ts_sqrt(1.0f - a) * p;
    return x < 0.0f ? TS_PI - r : r;
}

/* An orthonormal basis around n (Duff et al. 2017). */
TS_FN void ts_basis(ts_v3 n, ts_v3 *t, ts_v3 *b) {
    float sign = n.z >= 0.0f ? 1.0f : -1.0f;
    float a = -1.0f / (sign + n.z);
    float bb = n.x * n.y * a;
    *t = v3(1.0f + sign * n.x * n.x * a, sign * bb, -sign * n.x);
    *b = v3(bb, sign + n.y * n.y * a, -n.y);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Scene access.                                                                                         */
/* ---------------------------------------------------------------------------------------------------- */

TS_FN ts_u32 ts_bits(float f) {
    union { float f; ts_u32 u; } c;
    c.f = f;
    return c.u;
}

TS_FN ts_v3 ts_load3(const float *p) { return v3(p[0], p[1], p[2]); }

/* A coordinate reduced to one period of its wrap mode: [0, 1] for repeat and clamp-to-edge, [0, 2] for
 * mirrored repeat. A non-finite or out-of-range result becomes 0, so that every backend forms the same texel
 * indices from any input (a float-to-int conversion of NaN or infinity differs between them). */
TS_FN float ts_wrap_coord(float x, ts_u32 mode) {
    float r;
    if (mode == TS_WRAP_CLAMP) r = ts_clamp(x, 0.0f, 1.0f);
    else if (mode == TS_WRAP_MIRROR) r = x - 2.0f * ts_floor(x * 0.5f);
    else r = x - ts_floor(x);
    return (r >= 0.0f && r <= 2.0f) ? r : 0.0f;
}

/* The texel index along an axis of n texels of integer coordinate i in [-1, 2n], under the wrap mode. */
TS_FN ts_i32 ts_wrap_index(ts_i32 i, ts_i32 n, ts_u32 mode) {
    if (mode == TS_WRAP_CLAMP) return i < 0 ? 0 : (i >= n ? n - 1 : i);
    if (mode == TS_WRAP_MIRROR) {
        ts_i32 p = 2 * n;
        i = i < 0 ? i + p : (i >= p ? i - p : i);
        return i < n ? i : p - 1 - i;
    }
    return i < 0 ? i + n : (i >= n ? i - n : i);
}

/* Bilinear lookup of a linear RGBA texture at (u, v), texel centres at half-integers, with the wrap modes of
 * the two axes. */
TS_FN void ts_tex_wrap(const ts_scene *s, ts_u32 tex, float u, float v, ts_u32 wrap_u, ts_u32 wrap_v, float out[4]) {
    const ts_u32 *h = s->textures + tex * TS_TEX_U32;
    ts_u32 w = h[0], hh = h[1];
    const float *px = s->texels + h[2];
    float fx = ts_wrap_coord(u, wrap_u) * (float)w - 0.5f;
    float fy = ts_wrap_coord(v, wrap_v) * (float)hh - 0.5f;
    float x0f = ts_floor(fx), y0f = ts_floor(fy);
    float ax = fx - x0f, ay = fy - y0f;
    ts_i32 x0 = (ts_i32)x0f, y0 = (ts_i32)y0f;
    ts_i32 xs[2], ys[2];
    xs[0] = ts_wrap_index(x0, (ts_i32)w, wrap_u);
    xs[1] = ts_wrap_index(x0 + 1, (ts_i32)w, wrap_u);
    ys[0] = ts_wrap_index(y0, (ts_i32)hh, wrap_v);
    ys[1] = ts_wrap_index(y0 + 1, (ts_i32)hh, wrap_v);
    for (int c = 0; c < 4; ++c) {
        float a = px[((ts_u32)ys[0] * w + (ts_u32)xs[0]) * 4u + c];
        float b = px[((ts_u32)ys[0] * w + (ts_u32)xs[1]) * 4u + c];
        float d = px[((ts_u32)ys[1] * w + (ts_u32)xs[0]) * 4u + c];
        float e = px[((ts_u32)ys[1] * w + (ts_u32)xs[1]) * 4u + c];
        float top = a + (b - a) * ax;
        float bot = d + (e - d) * ax;
        out[c] = top + (bot - top) * ay;
    }
}

/* Texture slot k of material m looked up at the slot's UV set (uv: TEXCOORD_0 then TEXCOORD_1), through its
 * KHR_texture_transform and with its sampler's wrap modes; 0 (out untouched) when the slot is empty. */
TS_FN int ts_tex_slot(const ts_scene *s, const float *m, ts_u32 k, const float uv[4], float out[4]) {
    const float *t = m + TS_MAT_SLOTS + k * TS_SLOT_FLOATS;
    ts_u32 tex = ts_bits(t[0]);
    if (tex == 0xffffffffu) return 0;
    ts_u32 f = ts_bits(t[1]);
    float u = uv[(f & 1u) * 2u], v = uv[(f & 1u) * 2u + 1u];
    float tu = t[2] * u + t[3] * v + t[4];
    float tv = t[5] * u + t[6] * v + t[7];
    ts_tex_wrap(s, tex, tu, tv, (f >> 1) & 3u, (f >> 3) & 3u, out);
    return 1;
}

/* The interpolated attributes of triangle record sh at barycentrics (b1, b2): uv = TEXCOORD_0 u v, TEXCOORD_1
 * u v (0 without one); col = COLOR_0 rgba (1 without one). */
TS_FN void ts_attributes(const ts_scene *s, const float *sh, float b1, float b2, float uv[4], float col[4]) {
    float w = 1.0f - b1 - b2;
    uv[0] = sh[9] * w + sh[11] * b1 + sh[13] * b2;
    uv[1] = sh[10] * w + sh[12] * b1 + sh[14] * b2;
    ts_u32 extra = ts_bits(sh[25]);
    if (extra == 0xffffffffu) {
        uv[2] = 0.0f;
        uv[3] = 0.0f;
        col[0] = col[1] = col[2] = col[3] = 1.0f;
        return;
    }
    const float *x = s->shade + extra;
    uv[2] = x[0] * w + x[2] * b1 + x[4] * b2;
    uv[3] = x[1] * w + x[3] * b1 + x[5] * b2;
    for (int c = 0; c < 4; ++c) col[c] = x[6 + c] * w + x[10 + c] * b1 + x[14 + c] * b2;
}

/* Environment radiance seen along direction d: the constant, times the equirectangular map if any
 * (u = 0.5 + atan2(d.x, -d.z) / 2pi, v = acos(d.y) / pi; +Y up, the map's centre towards -Z). */
TS_FN ts_v3 ts_env(const ts_scene *s, ts_v3 d) {
    ts_v3 e = ts_load3(s->env);
    if (s->env_tex == 0xffffffffu) return e;
    float u = 0.5f + ts_atan2(d.x, -d.z) * (0.5f * TS_INV_PI);
    float v = ts_acos(d.y) * TS_INV_PI;
    float t[4];
    ts_tex_wrap(s, s->env_tex, u, v, TS_WRAP_REPEAT, TS_WRAP_CLAMP, t);
    return v3_mul(e, v3(t[0], t[1], t[2]));
}

/* ---------------------------------------------------------------------------------------------------- */
/* Ray casting: BVH traversal with a fixed child order, Moller-Trumbore triangles.                       */
/* ---------------------------------------------------------------------------------------------------- */

typedef struct {
    float t, u, v;
    ts_u32 tri;
} ts_hit;

TS_FN int ts_box(const float *n, ts_v3 o, ts_v3 inv, float tmax, float *tnear) {
    float tx0 = (n[0] - o.x) * inv.x, tx1 = (n[3] - o.x) * inv.x;
    float ty0 = (n[1] - o.y) * inv.y, ty1 = (n[4] - o.y) * inv.y;
    float tz0 = (n[2] - o.z) * inv.z, tz1 = (n[5] - o.z) * inv.z;
    float lo = ts_max(ts_max(ts_min(tx0, tx1), ts_min(ty0, ty1)), ts_max(ts_min(tz0, tz1), 0.0f));
    float hi = ts_min(ts_min(ts_max(tx0, tx1), ts_max(ty0, ty1)), ts_min(ts_max(tz0, tz1), tmax));
    *tnear = lo;
    return lo <= hi;
}

TS_FN int ts_tri(const float *t, ts_v3 o, ts_v3 d, float tmax, ts_hit *hit) {
    ts_v3 v0 = ts_load3(t), e1 = ts_load3(t + 3), e2 = ts_load3(t + 6);
    ts_v3 p = v3_cross(d, e2);
    float det = v3_dot(e1, p);
    if (det == 0.0f) return 0;
    float inv = 1.0f / det;
    ts_v3 tv = v3_sub(o, v0);
    float u = v3_dot(tv, p) * inv;
    if (u < 0.0f || u > 1.0f) return 0;
    ts_v3 q = v3_cross(tv, e1);
    float v = v3_dot(d, q) * inv;
    if (v < 0.0f || u + v > 1.0f) return 0;
    float tt = v3_dot(e2, q) * inv;
    if (!(tt > 0.0f) || !(tt < tmax)) return 0;
    hit->t = tt;
    hit->u = u;
    hit->v = v;
    return 1;
}

/* Whether the ray with random key `key` stops at triangle `tri` hit at barycentrics (b1, b2): always for an
 * opaque material; for MASK where alpha (base factor x base texture x COLOR_0) reaches the cutoff; for BLEND
 * with probability alpha, decided by a hash of the key and the triangle (the same answer wherever the
 * traversal meets it, on every backend). */
TS_FN int ts_stops(const ts_scene *s, ts_u32 tri, float b1, float b2, ts_u32 key) {
    const float *sh = s->shade + tri * TS_SHADE_FLOATS;
    const float *m = s->materials + ts_bits(sh[22]) * TS_MAT_FLOATS;
    ts_u32 mode = ts_bits(m[11]);
    if (mode == TS_ALPHA_OPAQUE) return 1;
    float uv[4], col[4], t[4];
    ts_attributes(s, sh, b1, b2, uv, col);
    float a = m[3] * col[3];
    if (ts_tex_slot(s, m, TS_SLOT_BASE, uv, t)) a = a * t[3];
    if (mode == TS_ALPHA_MASK) return a >= m[12];
    return ts_unit(ts_mix(key ^ ts_mix(tri))) < a;
}

/* Closest hit (any_hit = 0) or any hit before tmax (any_hit = 1); surfaces that alpha makes transparent at
 * the hit are passed through (ts_stops, with the ray's random key). */
TS_FN int ts_trace(const ts_scene *s, ts_v3 o, ts_v3 d, float tmax, int any_hit, ts_u32 key, ts_hit *hit) {
    if (s->node_count == 0) return 0;
    ts_v3 inv = v3(1.0f / d.x, 1.0f / d.y, 1.0f / d.z);
    ts_u32 stack[TS_STACK];
    int sp = 0;
    ts_u32 node = 0;
    int found = 0;
    hit->t = tmax;
    hit->u = 0.0f;
    hit->v = 0.0f;
    hit->tri = 0u;
    for (;;) {
        const float *n = s->nodes + node * TS_NODE_FLOATS;
        ts_u32 count = ts_bits(n[7]);
        ts_u32 first = ts_bits(n[6]);
        if (count > 0) {
            for (ts_u32 i = 0; i < count; ++i) {
                ts_hit h;
                if (ts_tri(s->tris + (first + i) * TS_TRI_FLOATS, o, d, hit->t, &h)) {
                    if ((s->flags & TS_FLAG_ALPHA) && !ts_stops(s, first + i, h.u, h.v, key)) continue;
                    h.tri = first + i;
                    *hit = h;
                    found = 1;
                    if (any_hit) return 1;
                }
            }
        } else {
            /* Inner node: left child follows it, right child at `first`. Visit the nearer first. */
            ts_u32 a = node + 1, b = first;
            float ta, tb;
            int ha = ts_box(s->nodes + a * TS_NODE_FLOATS, o, inv, hit->t, &ta);
            int hb = ts_box(s->nodes + b * TS_NODE_FLOATS, o, inv, hit->t, &tb);
            if (ha && hb) {
                if (tb < ta) { ts_u32 x = a; a = b; b = x; }
                if (sp < TS_STACK) stack[sp++] = b;
                node = a;
                continue;
            }
            if (ha) { node = a; continue; }
            if (hb) { node = b; continue; }
        }
        /* Pop, skipping nodes now farther than the closest hit. */
        for (;;) {
            if (sp == 0) return found;
            node = stack[--sp];
            float tn;
            if (ts_box(s->nodes + node * TS_NODE_FLOATS, o, inv, hit->t, &tn)) break;
        }
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Materials: glTF metallic-roughness. Lambert diffuse weighted by (1 - F) plus a GGX specular lobe       */
/* (Smith height-correlated visibility, Schlick Fresnel); KHR_materials_specular scales the lobe.         */
/* ---------------------------------------------------------------------------------------------------- */

typedef struct {
    ts_v3 p, n, ng;   /* position, shading normal, geometric normal (both facing the incoming ray) */
    ts_v3 base;
    ts_v3 emission;
    float metallic, alpha, specular;
    float f0;           /* dielectric reflectance at normal incidence, ((ior - 1) / (ior + 1))^2 */
    float transmission; /* KHR_materials_transmission: share of the dielectric's non-reflected light transmitted */
    float ior;
    int volume;         /* KHR_materials_volume thickness > 0: the surface bounds a refracting volume; else thin */
    int front;         /* whether the ray hit the front face */
} ts_surface;

TS_FN void ts_surface_at(const ts_scene *s, const ts_hit *h, ts_v3 o, ts_v3 d, ts_surface *sf) {
    const float *sh = s->shade + h->tri * TS_SHADE_FLOATS;
    float w = 1.0f - h->u - h->v;
    ts_v3 ng = ts_load3(sh + 19);
    ts_v3 n = v3_norm(v3_add(v3_add(v3_scale(ts_load3(sh), w), v3_scale(ts_load3(sh + 3), h->u)),
                             v3_scale(ts_load3(sh + 6), h->v)));
    float uv[4], col[4];
    ts_attributes(s, sh, h->u, h->v, uv, col);
    const float *m = s->materials + ts_bits(sh[22]) * TS_MAT_FLOATS;
    float texel[4];
    sf->base = v3_mul(v3(m[0], m[1], m[2]), v3(col[0], col[1], col[2]));
    if (ts_tex_slot(s, m, TS_SLOT_BASE, uv, texel)) sf->base = v3_mul(sf->base, v3(texel[0], texel[1], texel[2]));
    float metallic = m[4], rough = m[5];
    if (ts_tex_slot(s, m, TS_SLOT_MR, uv, texel)) {
        rough = rough * texel[1];
        metallic = metallic * texel[2];
    }
    sf->emission = v3(m[6], m[7], m[8]);
    if (ts_tex_slot(s, m, TS_SLOT_EMISSIVE, uv, texel))
        sf->emission = v3_mul(sf->emission, v3(texel[0], texel[1], texel[2]));
    if (ts_tex_slot(s, m, TS_SLOT_NORMAL, uv, texel)) {
        float scale = m[9];
        ts_v3 tn = v3((texel[0] * 2.0f - 1.0f) * scale, (texel[1] * 2.0f - 1.0f) * scale, texel[2] * 2.0f - 1.0f);
        ts_v3 t = ts_load3(sh + 15);
        t = v3_norm(v3_sub(t, v3_scale(n, v3_dot(n, t))));
        ts_v3 b = v3_scale(v3_cross(n, t), sh[18]);
        n = v3_norm(v3_add(v3_add(v3_scale(t, tn.x), v3_scale(b, tn.y)), v3_scale(n, tn.z)));
    }
    sf->metallic = ts_clamp(metallic, 0.0f, 1.0f);
    rough = ts_clamp(rough, 0.02f, 1.0f);
    sf->alpha = rough * rough;
    sf->specular = m[10];
    float tr = m[13];
    if (ts_tex_slot(s, m, TS_SLOT_TRANSMISSION, uv, texel)) tr = tr * texel[0];
    sf->transmission = ts_clamp(tr, 0.0f, 1.0f);
    sf->f0 = m[14];
    sf->ior = m[15];
    sf->volume = (int)(ts_bits(m[56]) & 1u);
    sf->front = v3_dot(ng, d) < 0.0f;
    if (!sf->front) {
        ng = v3_scale(ng, -1.0f);
        n = v3_scale(n, -1.0f);
    }
    /* Keep the shading normal in the hemisphere of the geometric one. */
    if (v3_dot(n, ng) < 0.05f) n = v3_norm(v3_add(n, v3_scale(ng, 0.05f - v3_dot(n, ng))));
    sf->ng = ng;
    sf->n = n;
    sf->p = v3_add(o, v3_scale(d, h->t));
}

TS_FN ts_v3 ts_schlick(ts_v3 f0, float c) {
    float m = 1.0f - ts_clamp(c, 0.0f, 1.0f);
    float m5 = m * m * m * m * m;
    return v3_add(f0, v3_scale(v3_sub(v3(1.0f, 1.0f, 1.0f), f0), m5));
}

/* Fresnel of the dielectric layer (KHR_materials_specular: scaled by the specular factor) and of the metal,
 * mixed by metalness; *fd receives the dielectric part, which also weights the diffuse lobe. */
TS_FN ts_v3 ts_fresnel(const ts_surface *sf, float c, float *fd) {
    float m = 1.0f - ts_clamp(c, 0.0f, 1.0f);
    float m5 = m * m * m * m * m;
    float dielectric = sf->specular * (sf->f0 + (1.0f - sf->f0) * m5);
    *fd = dielectric;
    ts_v3 metal = ts_schlick(sf->base, c);
    ts_v3 d = v3(dielectric, dielectric, dielectric);
    return v3_add(v3_scale(d, 1.0f - sf->metallic), v3_scale(metal, sf->metallic));
}

TS_FN float ts_ggx_d(float nh, float a2) {
    float k = nh * nh * (a2 - 1.0f) + 1.0f;
    return a2 / (TS_PI * k * k);
}

TS_FN float ts_smith_g1(float nv, float a2) {
    return 2.0f * nv / (nv + ts_sqrt(a2 + (1.0f - a2) * nv * nv));
}

/* Probability of sampling the specular lobe: by the lobes' estimated weights; exactly 0 or 1 when one lobe
 * is absent, so a pure Lambertian surface is sampled by its cosine alone. */
TS_FN float ts_spec_prob(const ts_surface *sf, float nv) {
    float fdiel;
    float fs = ts_lum(ts_fresnel(sf, nv, &fdiel));
    float fd = ts_lum(sf->base) * (1.0f - sf->metallic) * (1.0f - fdiel);
    if (!(fs > 0.0f)) return 0.0f;
    if (!(fd > 0.0f)) return 1.0f;
    return ts_clamp(fs / (fs + fd), 0.05f, 0.95f);
}

/* BSDF value times |cos(wi)| and the sampling pdf of wi, for outgoing wo (towards the viewer). */
TS_FN ts_v3 ts_bsdf(const ts_surface *sf, ts_v3 wo, ts_v3 wi, float *pdf) {
    ts_v3 n = sf->n;
    float nl = v3_dot(n, wi), nv = v3_dot(n, wo);
    *pdf = 0.0f;
    if (nl <= 0.0f || nv <= 0.0f || v3_dot(sf->ng, wi) <= 0.0f) return v3(0.0f, 0.0f, 0.0f);
    ts_v3 h = v3_norm(v3_add(wo, wi));
    float nh = ts_max(v3_dot(n, h), 0.0f), vh = ts_max(v3_dot(wo, h), 0.0f);
    float a2 = sf->alpha * sf->alpha;
    float fdiel;
    ts_v3 f = ts_fresnel(sf, vh, &fdiel);
    float d = ts_ggx_d(nh, a2);
    float g = ts_smith_g1(nl, a2) * ts_smith_g1(nv, a2);
    ts_v3 spec = v3_scale(f, d * g / (4.0f * nv));          /* times nl: the nl cancels */
    float kd = (1.0f - fdiel) * (1.0f - sf->metallic) * (1.0f - sf->transmission);
    ts_v3 diff = v3_scale(sf->base, kd * TS_INV_PI * nl);
    float ps = ts_spec_prob(sf, nv);
    /* Visible-normal-free GGX sampling: pdf(h) = D * nh; pdf(wi) = D * nh / (4 * vh). */
    float pdf_spec = vh > 0.0f ? d * nh / (4.0f * vh) : 0.0f;
    float pdf_diff = nl * TS_INV_PI;
    /* The non-specular branch samples the delta transmission with probability `transmission`: only the rest
     * of it has a density over directions. */
    *pdf = ps * pdf_spec + (1.0f - ps) * (1.0f - sf->transmission) * pdf_diff;
    return v3_add(spec, diff);
}

/* Samples wi: returns 0 when the sample is below the surface (the path ends), 1 for a direction of the
 * continuous lobes (weigh it with ts_bsdf), 2 for the delta transmission lobe, whose weight (value over
 * probability) goes to *weight. Transmission (KHR_materials_transmission) takes the dielectric's light that
 * is neither reflected by the specular layer nor diffused: through a thin wall straight on, into or out of a
 * volume (KHR_materials_volume) refracted by Snell's law, with total internal reflection past the critical
 * angle; the surface is smooth for it. */
TS_FN int ts_bsdf_sample(const ts_surface *sf, ts_v3 wo, float u0, float u1, float u2, ts_v3 *wi, ts_v3 *weight) {
    ts_v3 t, b;
    ts_basis(sf->n, &t, &b);
    float nv = v3_dot(sf->n, wo);
    float sn, cs;
    float ps = ts_spec_prob(sf, nv);
    if (u0 < ps) {
        float a2 = sf->alpha * sf->alpha;
        float cos2 = (1.0f - u1) / (1.0f + (a2 - 1.0f) * u1);
        float ct = ts_sqrt(cos2), st = ts_sqrt(1.0f - cos2);
        ts_sincos_turns(u2, &sn, &cs);
        ts_v3 h = v3_add(v3_add(v3_scale(t, st * cs), v3_scale(b, st * sn)), v3_scale(sf->n, ct));
        *wi = v3_sub(v3_scale(h, 2.0f * v3_dot(wo, h)), wo);
    } else if (sf->transmission > 0.0f && (u0 - ps) < (1.0f - ps) * sf->transmission) {
        float c = ts_clamp(nv, 0.0f, 1.0f);
        ts_v3 dir = v3_scale(wo, -1.0f);
        float fc = c; /* the cosine on the outer side, for Fresnel */
        if (sf->volume) {
            float eta = sf->front ? 1.0f / sf->ior : sf->ior;
            float k = 1.0f - eta * eta * (1.0f - c * c);
            if (k < 0.0f) {
                dir = v3_sub(v3_scale(sf->n, 2.0f * c), wo); /* total internal reflection */
            } else {
                float ck = TS_SQRTF(k);
                dir = v3_add(v3_scale(dir, eta), v3_scale(sf->n, eta * c - ck));
                if (!sf->front) fc = ck;
            }
        }
        *wi = v3_norm(dir);
        float fdiel;
        ts_fresnel(sf, fc, &fdiel);
        float w = (1.0f - sf->metallic) * (1.0f - fdiel) / (1.0f - ps);
        *weight = v3_scale(sf->base, w);
        return 2;
    } else {
        float r = ts_sqrt(u1);
        ts_sincos_turns(u2, &sn, &cs);
        float z = ts_sqrt(1.0f - u1);
        *wi = v3_add(v3_add(v3_scale(t, r * cs), v3_scale(b, r * sn)), v3_scale(sf->n, z));
    }
    *wi = v3_norm(*wi);
    return v3_dot(*wi, sf->n) > 0.0f && v3_dot(*wi, sf->ng) > 0.0f;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Lights.                                                                                                */
/* ---------------------------------------------------------------------------------------------------- */

TS_FN float ts_power_heuristic(float a, float b) {
    float a2 = a * a, b2 = b * b;
    return a2 + b2 > 0.0f ? a2 / (a2 + b2) : 0.0f;
}

/* Probability (per solid angle) that next-event estimation picks the emissive triangle `tri` at distance
 * `dist` seen under cosine `cos_l` along the light direction. */
TS_FN float ts_emitter_pdf(const ts_scene *s, ts_u32 emitter_slot, float area, float dist, float cos_l) {
    if (s->emitter_count == 0 || !(cos_l > 0.0f) || !(area > 0.0f)) return 0.0f;
    float prev = emitter_slot == 0 ? 0.0f : s->emitter_cdf[emitter_slot - 1];
    float pick = (s->emitter_cdf[emitter_slot] - prev) * (1.0f - s->light_select_punctual);
    return pick * dist * dist / (cos_l * area);
}

/* Binary search of the emitter CDF: the slot whose interval holds u. */
TS_FN ts_u32 ts_pick_emitter(const ts_scene *s, float u) {
    ts_u32 lo = 0, hi = s->emitter_count - 1;
    while (lo < hi) {
        ts_u32 mid = (lo + hi) / 2u;
        if (u < s->emitter_cdf[mid]) hi = mid;
        else lo = mid + 1u;
    }
    return lo;
}

/* The emitter slot of triangle `tri`, stored in its shading record (0xffffffff: not an emitter). */
TS_FN ts_u32 ts_emitter_slot(const ts_scene *s, ts_u32 tri) { return ts_bits(s->shade[tri * TS_SHADE_FLOATS + 24]); }

/* Direct light at sf from one light chosen at random, with MIS against BSDF sampling for area lights. */
TS_FN ts_v3 ts_direct(const ts_scene *s, const ts_surface *sf, ts_v3 wo, float u0, float u1, float u2, ts_u32 key,
                      ts_u32 *rays) {
    ts_v3 zero = v3(0.0f, 0.0f, 0.0f);
    ts_v3 o = v3_add(sf->p, v3_scale(sf->ng, 1e-4f));
    if (s->light_count == 0 && s->emitter_count == 0) return zero;
    /* The host sets this to 1 without emitters and 0 without punctual lights. */
    float p_punctual = s->light_select_punctual;
    if (u0 < p_punctual) {
        /* Punctual light: a delta distribution, no MIS. */
        float uu = u0 / p_punctual;
        ts_u32 li = (ts_u32)(uu * (float)s->light_count);
        if (li >= s->light_count) li = s->light_count - 1u;
        const float *L = s->lights + li * TS_LIGHT_FLOATS;
        ts_u32 kind = ts_bits(L[0]);
        ts_v3 color = ts_load3(L + 7);
        ts_v3 wi;
        float dist;
        if (kind == TS_LIGHT_DIRECTIONAL) {
            wi = v3_scale(ts_load3(L + 4), -1.0f);
            dist = 1e30f;
        } else {
            ts_v3 dv = v3_sub(ts_load3(L + 1), o);
            float d2 = v3_dot(dv, dv);
            if (!(d2 > 0.0f)) return zero;
            dist = TS_SQRTF(d2);
            wi = v3_scale(dv, 1.0f / dist);
            color = v3_scale(color, 1.0f / d2);
            if (kind == TS_LIGHT_SPOT) {
                float cd = -v3_dot(wi, ts_load3(L + 4));
                /* Cycles' spot falloff: smoothstep over the cone's edge, L[11] = 1 / its width. */
                float cos_outer = L[10];
                if (cd <= cos_outer) return zero;
                float x = (cd - cos_outer) * L[11];
                if (x < 1.0f) color = v3_scale(color, x * x * (3.0f - 2.0f * x));
            }
        }
        float pdf;
        ts_v3 f = ts_bsdf(sf, wo, wi, &pdf);
        if (!(ts_maxc(f) > 0.0f)) return zero;
        ts_hit h;
        *rays += 1u;
        if (ts_trace(s, o, wi, dist * 0.9999f, 1, key, &h)) return zero;
        return v3_scale(v3_mul(f, color), 1.0f / p_punctual * (float)s->light_count);
    }
    /* Emissive triangle, picked by power, point uniform on it. */
    float ua = (u0 - p_punctual) / (1.0f - p_punctual);
    ts_u32 slot = ts_pick_emitter(s, ua);
    ts_u32 tri = s->emitters[slot];
    const float *T = s->tris + tri * TS_TRI_FLOATS;
    float su = ts_sqrt(u1);
    float b1 = 1.0f - su, b2 = u2 * su;
    ts_v3 q = v3_add(ts_load3(T), v3_add(v3_scale(ts_load3(T + 3), b1), v3_scale(ts_load3(T + 6), b2)));
    ts_v3 dv = v3_sub(q, o);
    float d2 = v3_dot(dv, dv);
    if (!(d2 > 0.0f)) return zero;
    float dist = TS_SQRTF(d2);
    ts_v3 wi = v3_scale(dv, 1.0f / dist);
    const float *sh = s->shade + tri * TS_SHADE_FLOATS;
    float cos_l = -v3_dot(ts_load3(sh + 19), wi);
    if (!(cos_l > 0.0f)) return zero; /* emitters are one-sided: front faces only */
    float pdf_bsdf;
    ts_v3 f = ts_bsdf(sf, wo, wi, &pdf_bsdf);
    if (!(ts_maxc(f) > 0.0f)) return zero;
    ts_hit h;
    *rays += 1u;
    /* The emitter's point is light only where alpha keeps it (the key decides BLEND as a ray to it would). */
    if ((s->flags & TS_FLAG_ALPHA) && !ts_stops(s, tri, b1, b2, key)) return zero;
    if (ts_trace(s, o, wi, dist * 0.999f, 1, key, &h)) return zero;
    const float *m = s->materials + ts_bits(sh[22]) * TS_MAT_FLOATS;
    ts_v3 le = v3(m[6], m[7], m[8]);
    float uv[4], col[4], texel[4];
    ts_attributes(s, sh, b1, b2, uv, col);
    if (ts_tex_slot(s, m, TS_SLOT_EMISSIVE, uv, texel)) le = v3_mul(le, v3(texel[0], texel[1], texel[2]));
    float pdf_light = ts_emitter_pdf(s, slot, sh[23], dist, cos_l);
    if (!(pdf_light > 0.0f)) return zero;
    float w = ts_power_heuristic(pdf_light, pdf_bsdf);
    return v3_scale(v3_mul(f, le), w / pdf_light);
}

/* ---------------------------------------------------------------------------------------------------- */
/* The integrator: unidirectional path tracing with next-event estimation, MIS and Russian roulette.      */
/* ---------------------------------------------------------------------------------------------------- */

TS_FN ts_v3 ts_radiance(const ts_scene *s, ts_u32 px, ts_u32 py, ts_u32 sample, ts_u32 *rays) {
    ts_u32 pixel = py * s->width + px;
    float jx = ts_rand(s, pixel, sample, 0), jy = ts_rand(s, pixel, sample, 1);
    float sx = (2.0f * (((float)px + jx) / (float)s->width) - 1.0f) * s->cam_tan_half_x;
    float sy = (1.0f - 2.0f * (((float)py + jy) / (float)s->height)) * s->cam_tan_half_y;
    ts_v3 o = ts_load3(s->cam_pos);
    ts_v3 d = v3_norm(v3_add(v3_add(v3_scale(ts_load3(s->cam_right), sx), v3_scale(ts_load3(s->cam_up), sy)),
                             ts_load3(s->cam_forward)));
    ts_v3 L = v3(0.0f, 0.0f, 0.0f), beta = v3(1.0f, 1.0f, 1.0f);
    float prev_pdf = 0.0f; /* 0: the previous vertex was the camera (or a delta event) */
    ts_v3 prev_p = o;
    for (ts_u32 bounce = 0;; ++bounce) {
        ts_u32 dim = 2u + bounce * 8u;
        ts_hit hit;
        *rays += 1u;
        /* dims 0..6 of the bounce are the samples below; 7 keys this bounce's alpha decisions. */
        ts_u32 key = ts_key(s, pixel, sample, dim + 7u);
        if (!ts_trace(s, o, d, 1e30f, 0, key, &hit)) {
            L = v3_add(L, v3_mul(beta, ts_env(s, d)));
            break;
        }
        ts_surface sf;
        ts_surface_at(s, &hit, o, d, &sf);
        ts_v3 wo = v3_scale(d, -1.0f);
        if (sf.front && ts_maxc(sf.emission) > 0.0f) {
            float w = 1.0f;
            ts_u32 slot = ts_emitter_slot(s, hit.tri);
            if (prev_pdf > 0.0f && slot != 0xffffffffu) {
                ts_v3 dv = v3_sub(sf.p, prev_p);
                float dist = ts_sqrt(v3_dot(dv, dv));
                float pl = ts_emitter_pdf(s, slot, s->shade[hit.tri * TS_SHADE_FLOATS + 23], dist, v3_dot(sf.ng, wo));
                w = ts_power_heuristic(prev_pdf, pl);
            }
            L = v3_add(L, v3_scale(v3_mul(beta, sf.emission), w));
        }
        if (bounce >= s->max_bounces) break;
        ts_v3 ld = ts_direct(s, &sf, wo, ts_rand(s, pixel, sample, dim), ts_rand(s, pixel, sample, dim + 1),
                             ts_rand(s, pixel, sample, dim + 2), ts_mix(key ^ 0x5bd1e995u), rays);
        L = v3_add(L, v3_mul(beta, ld));
        ts_v3 wi, weight;
        int kind = ts_bsdf_sample(&sf, wo, ts_rand(s, pixel, sample, dim + 3), ts_rand(s, pixel, sample, dim + 4),
                                  ts_rand(s, pixel, sample, dim + 5), &wi, &weight);
        if (!kind) break;
        float pdf = 0.0f; /* 0 after a delta event: an emitter hit next takes its full weight */
        if (kind == 2) {
            if (!(ts_maxc(weight) > 0.0f)) break;
            beta = v3_mul(beta, weight);
        } else {
            ts_v3 f = ts_bsdf(&sf, wo, wi, &pdf);
            if (!(pdf > 0.0f) || !(ts_maxc(f) > 0.0f)) break;
            beta = v3_mul(beta, v3_scale(f, 1.0f / pdf));
        }
        if (bounce >= 3u) {
            float q = ts_max(0.05f, 1.0f - ts_maxc(beta));
            if (ts_rand(s, pixel, sample, dim + 6) < q) break;
            beta = v3_scale(beta, 1.0f / (1.0f - q));
        }
        prev_pdf = pdf;
        prev_p = sf.p;
        /* Leave the surface on the side the new direction goes to (transmission crosses it). */
        o = v3_add(sf.p, v3_scale(sf.ng, v3_dot(wi, sf.ng) < 0.0f ? -1e-4f : 1e-4f));
        d = wi;
    }
    /* Guard the accumulation against non-finite samples (degenerate geometry). */
    if (!(L.x == L.x) || !(L.y == L.y) || !(L.z == L.z) || L.x > 3e38f || L.y > 3e38f || L.z > 3e38f)
        return v3(0.0f, 0.0f, 0.0f);
    return L;
}

/* Mean of the pixel's samples, summed in sample order. out: 3 floats (linear RGB); returns rays cast. */
TS_FN ts_u32 ts_render_pixel(const ts_scene *s, ts_u32 px, ts_u32 py, float *out) {
    ts_v3 sum = v3(0.0f, 0.0f, 0.0f);
    ts_u32 rays = 0;
    for (ts_u32 k = 0; k < s->spp; ++k) sum = v3_add(sum, ts_radiance(s, px, py, k, &rays));
    float inv = 1.0f / (float)s->spp;
    out[0] = sum.x * inv;
    out[1] = sum.y * inv;
    out[2] = sum.z * inv;
    return rays;
}

#endif /* TESSERA_PATHTRACE_H */
