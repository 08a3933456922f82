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
#define TS_HOT TS_FN
#define TS_TABLE static __constant__ const /* a constant table, in constant memory */
#define TS_SQRTF(x) sqrtf(x) /* IEEE correctly rounded under --prec-sqrt=true */
typedef unsigned int ts_u32;
typedef unsigned long long ts_u64;
typedef int ts_i32;
#else
#include <stdint.h>
#define TS_FN static inline
/* The hot functions that take or return vectors, inlined into their callers: GCC passes a 3-float struct
 * in two SSE registers and builds them through memory, stalling store forwarding at every call. */
#define TS_HOT static inline __attribute__((always_inline))
#define TS_TABLE static const
#define TS_SQRTF(x) __builtin_sqrtf(x) /* IEEE correctly rounded (sqrtss); no libm */
typedef uint32_t ts_u32;
typedef uint64_t ts_u64;
typedef int32_t ts_i32;
#endif

#define TS_PI 3.14159265358979323846f
#define TS_INV_PI 0.31830988618379067154f
#define TS_STACK 128 /* 4-wide BVH of at most 40 levels (bvh.rs): at most 3 more pushes than pops a level */

/* Texture slots of a material. */
#define TS_SLOT_BASE 0u
#define TS_SLOT_MR 1u
#define TS_SLOT_EMISSIVE 2u
#define TS_SLOT_NORMAL 3u
#define TS_SLOT_TRANSMISSION 4u
#define TS_SLOT_CLEARCOAT 5u           /* KHR_materials_clearcoat: factor (R) */
#define TS_SLOT_CLEARCOAT_ROUGHNESS 6u /* roughness (G) */
#define TS_SLOT_CLEARCOAT_NORMAL 7u    /* the coat's normal map */
#define TS_SLOT_SHEEN_COLOR 8u         /* KHR_materials_sheen: colour (RGB) */
#define TS_SLOT_SHEEN_ROUGHNESS 9u     /* roughness (A) */

/* Texel formats: linear RGBA floats (16 bytes a texel; environment maps), or 8-bit RGBA in one 32-bit word
 * (R in the low byte) whose RGB is sRGB-encoded colour (base colour, emissive, sheen colour) or linear data
 * (the others); alpha is always linear. The words sit in the float array as raw bits (some are NaN
 * patterns): they are only ever copied and read back with ts_bits, which x86-64, AArch64 and CUDA loads
 * and moves preserve. */
#define TS_TEXF_FLOAT 0u
#define TS_TEXF_SRGB8 1u
#define TS_TEXF_UNORM8 2u

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
#define TS_FLAG_UNLIT 2u /* some material is unlit: ray casts other than the camera's pass through it */

/* Material flags (bits of the float at TS_MAT_FLAGS). */
#define TS_MATF_VOLUME 1u /* KHR_materials_volume thickness > 0: the surface bounds a refracting volume */
#define TS_MATF_UNLIT 2u  /* KHR_materials_unlit */

/* Light kinds. */
#define TS_LIGHT_POINT 0u
#define TS_LIGHT_SPOT 1u
#define TS_LIGHT_DIRECTIONAL 2u

/* Floats per record in the flat arrays. */
#define TS_NODE_FLOATS 32u /* 4 children side by side: lo x, lo y, lo z, hi x, hi y, hi z (4 each), reference (bits: node, or first pack; 0xffffffff empty), count (bits; 0 = node) */
#define TS_TRI_FLOATS 9u   /* v0, e1 = v1 - v0, e2 = v2 - v0 */
#define TS_PACK_FLOATS 40u /* four triangles side by side: v0 x, y, z, e1 x, y, z, e2 x, y, z (4 each), first triangle (bits), pad (3) */
#define TS_PACK_FIRST 36u  /* offset of a pack's first triangle */
#define TS_SHADE_FLOATS 28u /* n0 n1 n2 (9), uv0 uv1 uv2 (6), tangent xyz + sign (4), geometric normal (3), material (bits), area, emitter slot (bits), extra (bits), pad (2) */
#define TS_EXTRA_FLOATS 18u /* per-vertex TEXCOORD_1 (3 x 2) and COLOR_0 rgba (3 x 4) of a triangle that has them */
#define TS_MAT_FLOATS 112u /* base rgba, metallic, roughness, emissive rgb, normal_scale, specular, alpha mode (bits), alpha cutoff, transmission, dielectric F0 (from the IOR), ior, texture slots at TS_MAT_SLOTS (10 x 8), then at TS_MAT_FLAGS: flags (bits), clearcoat, clearcoat roughness, clearcoat normal scale, sheen colour rgb, sheen roughness, attenuation colour rgb, attenuation distance, pad */
#define TS_MAT_SLOTS 16u   /* offset of the first texture slot in a material */
#define TS_MAT_FLAGS 96u   /* offset of the flags, after the slots; the coat and sheen factors follow */
#define TS_SLOT_FLOATS 8u  /* texture (bits), flags (bits: UV set, wrap S, wrap T), uv transform a b c d e f (u' = a u + b v + c, v' = d u + e v + f) */
#define TS_TEX_U32 4u      /* width, height, offset (in texels' 32-bit words), format (TS_TEXF_*) */
#define TS_LIGHT_FLOATS 16u /* kind, pos xyz, dir xyz, color rgb (W/sr, or W/m^2 directional), cos_outer, spot_smooth, pad x4 */

typedef struct ts_scene {
    const float *nodes;        /* BVH nodes, depth-first, node 0 the root */
    const float *tris;         /* the emissive triangles' v0, e1, e2 (TS_TRI_FLOATS), in emitter slot order */
    const float *packs;        /* the leaves' triangles, four side by side (TS_PACK_FLOATS) */
    const float *shade;        /* shading records, same order, then the extra records they point to */
    const float *materials;
    const ts_u32 *textures;    /* per texture: width, height, offset into texels, pad */
    const float *texels;       /* linear RGBA */
    const float *lights;       /* punctual lights */
    const ts_u32 *emitters;    /* triangle indices of emissive triangles */
    const float *emitter_cdf;  /* cumulative selection probability, last = 1 */
    ts_u32 node_count, tri_count /* triangles in the scene */, material_count, texture_count;
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

/* The key of one pixel: lowbias32 chained over the pixel and the seed, computed once per pixel. */
TS_FN ts_u32 ts_pixel_key(const ts_scene *s, ts_u32 pixel) {
    ts_u32 h = ts_mix(pixel ^ 0x9e3779b9u);
    h = ts_mix(h ^ s->seed_lo);
    return ts_mix(h ^ s->seed_hi);
}

/* The key of sample `sample` of the pixel with key `pixel_key`: two more rounds over the pixel's key xor the
 * sample times an odd constant (distinct samples give distinct inputs; two pixels whose keys differ share a
 * sample's input only for sporadic pairs of samples, never for a run of them, as an offset would). */
TS_FN ts_u32 ts_sample_key(ts_u32 pixel_key, ts_u32 sample) {
    return ts_mix(ts_mix(pixel_key ^ (sample * 0x85ebca6bu)));
}

/* The key of dimension `dim` of a sample's stream: two more rounds over the sample's key offset by dim
 * times the golden ratio (distinct dimensions give distinct inputs: the factor is odd, a bijection). */
TS_FN ts_u32 ts_dim_key(ts_u32 sample_key, ts_u32 dim) { return ts_mix(ts_mix(sample_key + dim * 0x9e3779b9u)); }

/* A 24-bit uniform float in [0, 1) from a hash. */
TS_FN float ts_unit(ts_u32 h) { return (float)(h >> 8) * (1.0f / 16777216.0f); }

/* Uniform number `dim` of the sample with key `sample_key`. */
TS_FN float ts_rnd(ts_u32 sample_key, ts_u32 dim) { return ts_unit(ts_dim_key(sample_key, dim)); }

TS_FN float ts_rand(const ts_scene *s, ts_u32 pixel, ts_u32 sample, ts_u32 dim) {
    return ts_rnd(ts_sample_key(ts_pixel_key(s, pixel), sample), dim);
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

TS_FN float ts_from_bits(ts_u32 u) {
    union { ts_u32 u; float f; } c;
    c.u = u;
    return c.f;
}

/* log2(x) for finite x > 0 (x <= 0 gives -126, the kernel never asks): the exponent from the bits, and the
 * mantissa m in [sqrt(1/2), sqrt(2)) by ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, summed to
 * s^9 (error below 4e-9 before rounding). */
TS_FN float ts_log2(float x) {
    if (!(x > 0.0f)) return -126.0f;
    ts_u32 b;
    ts_i32 e = 0;
    if (x < 1.17549435e-38f) { /* subnormal: scale into the normal range first */
        x = x * 8388608.0f;
        e = -23;
    }
    b = ts_bits(x);
    e += (ts_i32)((b >> 23) & 0xffu) - 127;
    float m = ts_from_bits((b & 0x007fffffu) | 0x3f800000u);
    if (m > 1.41421356f) {
        m = m * 0.5f;
        e += 1;
    }
    float sx = (m - 1.0f) / (m + 1.0f), s2 = sx * sx;
    float ln = 2.0f * sx * (1.0f + s2 * (1.0f / 3.0f + s2 * (1.0f / 5.0f + s2 * (1.0f / 7.0f + s2 * (1.0f / 9.0f)))));
    return (float)e + ln * 1.44269504088896340736f;
}

/* 2^y: 0 below -126 (and for NaN), capped at 2^127; the integer part n from the nearest integer, 2^n built
 * from the bits, 2^f for f in [-1/2, 1/2] by the Taylor series of e^(f ln 2) to the 8th power (error below
 * 1e-8 before rounding). */
TS_FN float ts_exp2(float y) {
    if (!(y > -126.0f)) return 0.0f;
    if (y > 127.0f) y = 127.0f;
    float n = ts_floor(y + 0.5f);
    float t = (y - n) * 0.69314718055994530942f;
    float p = 1.0f + t * (1.0f + t * (0.5f + t * (1.0f / 6.0f + t * (1.0f / 24.0f + t * (1.0f / 120.0f +
              t * (1.0f / 720.0f + t * (1.0f / 5040.0f + t * (1.0f / 40320.0f))))))));
    return p * ts_from_bits((ts_u32)((ts_i32)n + 127) << 23);
}

/* x^y for x >= 0: 2^(y log2 x); 0 for x = 0. */
TS_FN float ts_pow(float x, float y) { return x > 0.0f ? ts_exp2(y * ts_log2(x)) : 0.0f; }

/* e^x. */
TS_FN float ts_exp(float x) { return ts_exp2(x * 1.44269504088896340736f); }

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

/* The linear value of each 8-bit sRGB code (IEC 61966-2-1), computed once in double precision and rounded
 * to float (a test recomputes it), so that no platform's powf enters the renderer. */
TS_TABLE float TS_SRGB[256] = {
    0.000000000e+00f, 3.035269835e-04f, 6.070539671e-04f, 9.105809506e-04f, 1.214107934e-03f, 1.517634918e-03f, 1.821161901e-03f, 2.124688885e-03f,
    2.428215868e-03f, 2.731742852e-03f, 3.035269835e-03f, 3.346535764e-03f, 3.676507324e-03f, 4.024717018e-03f, 4.391442037e-03f, 4.776953481e-03f,
    5.181516702e-03f, 5.605391624e-03f, 6.048833023e-03f, 6.512090793e-03f, 6.995410187e-03f, 7.499032043e-03f, 8.023192985e-03f, 8.568125618e-03f,
    9.134058702e-03f, 9.721217320e-03f, 1.032982303e-02f, 1.096009401e-02f, 1.161224518e-02f, 1.228648836e-02f, 1.298303234e-02f, 1.370208305e-02f,
    1.444384360e-02f, 1.520851442e-02f, 1.599629337e-02f, 1.680737575e-02f, 1.764195449e-02f, 1.850022013e-02f, 1.938236096e-02f, 2.028856306e-02f,
    2.121901038e-02f, 2.217388479e-02f, 2.315336618e-02f, 2.415763245e-02f, 2.518685963e-02f, 2.624122189e-02f, 2.732089164e-02f, 2.842603950e-02f,
    2.955683444e-02f, 3.071344373e-02f, 3.189603307e-02f, 3.310476657e-02f, 3.433980681e-02f, 3.560131488e-02f, 3.688945040e-02f, 3.820437160e-02f,
    3.954623528e-02f, 4.091519691e-02f, 4.231141062e-02f, 4.373502926e-02f, 4.518620439e-02f, 4.666508634e-02f, 4.817182423e-02f, 4.970656598e-02f,
    5.126945837e-02f, 5.286064702e-02f, 5.448027644e-02f, 5.612849005e-02f, 5.780543019e-02f, 5.951123816e-02f, 6.124605423e-02f, 6.301001765e-02f,
    6.480326669e-02f, 6.662593864e-02f, 6.847816984e-02f, 7.036009570e-02f, 7.227185068e-02f, 7.421356838e-02f, 7.618538148e-02f, 7.818742181e-02f,
    8.021982031e-02f, 8.228270713e-02f, 8.437621154e-02f, 8.650046204e-02f, 8.865558629e-02f, 9.084171118e-02f, 9.305896285e-02f, 9.530746663e-02f,
    9.758734714e-02f, 9.989872825e-02f, 1.022417331e-01f, 1.046164841e-01f, 1.070231030e-01f, 1.094617108e-01f, 1.119324278e-01f, 1.144353738e-01f,
    1.169706678e-01f, 1.195384280e-01f, 1.221387722e-01f, 1.247718176e-01f, 1.274376804e-01f, 1.301364767e-01f, 1.328683216e-01f, 1.356333297e-01f,
    1.384316150e-01f, 1.412632911e-01f, 1.441284709e-01f, 1.470272665e-01f, 1.499597898e-01f, 1.529261520e-01f, 1.559264637e-01f, 1.589608351e-01f,
    1.620293756e-01f, 1.651321945e-01f, 1.682694002e-01f, 1.714411007e-01f, 1.746474037e-01f, 1.778884160e-01f, 1.811642442e-01f, 1.844749945e-01f,
    1.878207723e-01f, 1.912016827e-01f, 1.946178304e-01f, 1.980693196e-01f, 2.015562538e-01f, 2.050787364e-01f, 2.086368701e-01f, 2.122307574e-01f,
    2.158605001e-01f, 2.195261997e-01f, 2.232279573e-01f, 2.269658735e-01f, 2.307400485e-01f, 2.345505822e-01f, 2.383975738e-01f, 2.422811225e-01f,
    2.462013267e-01f, 2.501582847e-01f, 2.541520943e-01f, 2.581828529e-01f, 2.622506575e-01f, 2.663556048e-01f, 2.704977910e-01f, 2.746773121e-01f,
    2.788942635e-01f, 2.831487404e-01f, 2.874408377e-01f, 2.917706498e-01f, 2.961382708e-01f, 3.005437944e-01f, 3.049873141e-01f, 3.094689228e-01f,
    3.139887134e-01f, 3.185467781e-01f, 3.231432091e-01f, 3.277780981e-01f, 3.324515363e-01f, 3.371636150e-01f, 3.419144249e-01f, 3.467040564e-01f,
    3.515325995e-01f, 3.564001441e-01f, 3.613067798e-01f, 3.662525956e-01f, 3.712376805e-01f, 3.762621230e-01f, 3.813260114e-01f, 3.864294338e-01f,
    3.915724777e-01f, 3.967552307e-01f, 4.019777798e-01f, 4.072402119e-01f, 4.125426135e-01f, 4.178850708e-01f, 4.232676700e-01f, 4.286904966e-01f,
    4.341536362e-01f, 4.396571738e-01f, 4.452011945e-01f, 4.507857828e-01f, 4.564110232e-01f, 4.620769997e-01f, 4.677837961e-01f, 4.735314961e-01f,
    4.793201831e-01f, 4.851499401e-01f, 4.910208498e-01f, 4.969329951e-01f, 5.028864580e-01f, 5.088813209e-01f, 5.149176654e-01f, 5.209955732e-01f,
    5.271151257e-01f, 5.332764040e-01f, 5.394794890e-01f, 5.457244614e-01f, 5.520114015e-01f, 5.583403896e-01f, 5.647115057e-01f, 5.711248295e-01f,
    5.775804404e-01f, 5.840784179e-01f, 5.906188409e-01f, 5.972017884e-01f, 6.038273389e-01f, 6.104955708e-01f, 6.172065624e-01f, 6.239603917e-01f,
    6.307571363e-01f, 6.375968740e-01f, 6.444796820e-01f, 6.514056374e-01f, 6.583748173e-01f, 6.653872983e-01f, 6.724431570e-01f, 6.795424696e-01f,
    6.866853124e-01f, 6.938717613e-01f, 7.011018919e-01f, 7.083757799e-01f, 7.156935005e-01f, 7.230551289e-01f, 7.304607401e-01f, 7.379104088e-01f,
    7.454042095e-01f, 7.529422168e-01f, 7.605245047e-01f, 7.681511472e-01f, 7.758222183e-01f, 7.835377915e-01f, 7.912979403e-01f, 7.991027380e-01f,
    8.069522577e-01f, 8.148465722e-01f, 8.227857544e-01f, 8.307698768e-01f, 8.387990117e-01f, 8.468732315e-01f, 8.549926081e-01f, 8.631572135e-01f,
    8.713671192e-01f, 8.796223969e-01f, 8.879231179e-01f, 8.962693534e-01f, 9.046611744e-01f, 9.130986518e-01f, 9.215818563e-01f, 9.301108584e-01f,
    9.386857285e-01f, 9.473065367e-01f, 9.559733532e-01f, 9.646862479e-01f, 9.734452904e-01f, 9.822505503e-01f, 9.911020971e-01f, 1.000000000e+00f,
};

/* Texel i of a texture of format fmt whose data starts at px, as linear RGBA. An 8-bit channel c becomes
 * TS_SRGB[c] or c * (1/255): the values the host once decoded these textures to, bit for bit. */
TS_FN void ts_texel(const float *px, ts_u32 fmt, ts_u32 i, float out[4]) {
    if (fmt == TS_TEXF_FLOAT) {
        for (int c = 0; c < 4; ++c) out[c] = px[i * 4u + c];
        return;
    }
    ts_u32 v = ts_bits(px[i]);
    for (int c = 0; c < 3; ++c) {
        ts_u32 b = (v >> (8u * (ts_u32)c)) & 255u;
        out[c] = fmt == TS_TEXF_SRGB8 ? TS_SRGB[b] : (float)b * (1.0f / 255.0f);
    }
    out[3] = (float)(v >> 24) * (1.0f / 255.0f);
}

/* Bilinear lookup of a texture at (u, v) as linear RGBA, texel centres at half-integers, with the wrap modes
 * of the two axes. */
TS_FN void ts_tex_wrap(const ts_scene *s, ts_u32 tex, float u, float v, ts_u32 wrap_u, ts_u32 wrap_v, float out[4]) {
    const ts_u32 *h = s->textures + tex * TS_TEX_U32;
    ts_u32 w = h[0], hh = h[1], fmt = h[3];
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
    float a[4], b[4], d[4], e[4];
    ts_texel(px, fmt, (ts_u32)ys[0] * w + (ts_u32)xs[0], a);
    ts_texel(px, fmt, (ts_u32)ys[0] * w + (ts_u32)xs[1], b);
    ts_texel(px, fmt, (ts_u32)ys[1] * w + (ts_u32)xs[0], d);
    ts_texel(px, fmt, (ts_u32)ys[1] * w + (ts_u32)xs[1], e);
    for (int c = 0; c < 4; ++c) {
        float top = a[c] + (b[c] - a[c]) * ax;
        float bot = d[c] + (e[c] - d[c]) * ax;
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

/* Whether the ray with random key `key` stops at triangle `tri` hit at barycentrics (b1, b2): never for an
 * unlit material unless the ray is the camera's (`camera`; Blender imports KHR_materials_unlit as emission
 * seen by camera rays only, transparent to every other ray); always for an opaque material; for MASK where
 * alpha (base factor x base texture x COLOR_0) reaches the cutoff; for BLEND with probability alpha, decided
 * by a hash of the key and the triangle (the same answer wherever the traversal meets it, on every
 * backend). */
TS_FN int ts_stops(const ts_scene *s, ts_u32 tri, float b1, float b2, ts_u32 key, int camera) {
    const float *sh = s->shade + tri * TS_SHADE_FLOATS;
    const float *m = s->materials + ts_bits(sh[22]) * TS_MAT_FLOATS;
    if (!camera && (ts_bits(m[TS_MAT_FLAGS]) & TS_MATF_UNLIT)) return 0;
    ts_u32 mode = ts_bits(m[11]);
    if (mode == TS_ALPHA_OPAQUE) return 1;
    float uv[4], col[4], t[4];
    ts_attributes(s, sh, b1, b2, uv, col);
    float a = m[3] * col[3];
    if (ts_tex_slot(s, m, TS_SLOT_BASE, uv, t)) a = a * t[3];
    if (mode == TS_ALPHA_MASK) return a >= m[12];
    return ts_unit(ts_mix(key ^ ts_mix(tri))) < a;
}

/* The triangles of a leaf (`count` of them, in packs of four from `pack`) against the ray: the closest hit
 * so far in *hit, or 1 at the first hit when any_hit. The four lanes of a pack are tested in one loop the CPU
 * compiler vectorizes, each lane one Moller-Trumbore test (edges e1, e2 from v0; determinant, barycentrics
 * u and v, distance t, each scaled by the determinant's reciprocal) against the closest hit at the pack's
 * start; the lanes that pass are then taken in order against the closest hit since, which is what testing
 * the triangles one at a time decides (a lane passes against a nearer bound only if it passes against the
 * pack's). */
TS_HOT int ts_leaf(const ts_scene *s, ts_u32 pack, ts_u32 count, ts_v3 o, ts_v3 d, int any_hit, int camera,
                  ts_u32 key, ts_hit *hit, int *found) {
    for (ts_u32 j = 0; j * 4u < count; ++j) {
        const float *P = s->packs + (pack + j) * TS_PACK_FLOATS;
        ts_u32 first = ts_bits(P[TS_PACK_FIRST]);
        ts_u32 lanes = count - j * 4u < 4u ? count - j * 4u : 4u;
        float tmax = hit->t;
        float tt[4], uu[4], vv[4];
        int ok[4];
        for (int k = 0; k < 4; ++k) {
            ts_v3 v0 = v3(P[k], P[4 + k], P[8 + k]), e1 = v3(P[12 + k], P[16 + k], P[20 + k]);
            ts_v3 e2 = v3(P[24 + k], P[28 + k], P[32 + k]);
            ts_v3 p = v3_cross(d, e2);
            float det = v3_dot(e1, p);
            float inv = 1.0f / det;
            ts_v3 tv = v3_sub(o, v0);
            float u = v3_dot(tv, p) * inv;
            ts_v3 q = v3_cross(tv, e1);
            float v = v3_dot(d, q) * inv;
            float t = v3_dot(e2, q) * inv;
            /* A lane in use, a determinant not 0, u in [0, 1], v >= 0, u + v <= 1 (a NaN barycentric passes
             * these, as renderer 0.3's one-at-a-time test let it) and t in (0, tmax) (a NaN t does not). */
            ok[k] = ((ts_u32)k < lanes) & (det != 0.0f) & !(u < 0.0f) & !(u > 1.0f) & !(v < 0.0f) &
                    !(u + v > 1.0f) & (t > 0.0f) & (t < tmax);
            tt[k] = t;
            uu[k] = u;
            vv[k] = v;
        }
        for (int k = 0; k < 4; ++k) {
            if (!ok[k] || !(tt[k] < hit->t)) continue;
            ts_u32 tri = first + (ts_u32)k;
            if ((s->flags & (TS_FLAG_ALPHA | TS_FLAG_UNLIT)) && !ts_stops(s, tri, uu[k], vv[k], key, camera))
                continue;
            hit->t = tt[k];
            hit->u = uu[k];
            hit->v = vv[k];
            hit->tri = tri;
            *found = 1;
            if (any_hit) return 1;
        }
    }
    return 0;
}

/* Closest hit (any_hit = 0) or any hit before tmax (any_hit = 1); surfaces that alpha makes transparent at
 * the hit, and unlit ones unless `camera`, are passed through (ts_stops, with the ray's random key).
 *
 * The BVH is 4-wide (bvh.rs): a node holds its four children's boxes side by side, tested in one loop the
 * CPU compiler vectorizes (the same operations per lane as one box at a time: the bits do not depend on
 * it). Leaf children are intersected at once, in slot order; inner children are visited nearest first,
 * the others deferred with the distance at which the ray enters their box, and skipped when popped if that
 * lies beyond the closest hit found since (the decision a second box test would make: only tmax shrinks). */
TS_HOT int ts_trace(const ts_scene *s, ts_v3 o, ts_v3 d, float tmax, int any_hit, int camera, ts_u32 key,
                   ts_hit *hit) {
    hit->t = tmax;
    hit->u = 0.0f;
    hit->v = 0.0f;
    hit->tri = 0u;
    if (s->node_count == 0) return 0;
    ts_v3 inv = v3(1.0f / d.x, 1.0f / d.y, 1.0f / d.z);
    ts_u32 stack[TS_STACK];
    float stack_t[TS_STACK];
    int sp = 0;
    ts_u32 node = 0;
    int found = 0;
    for (;;) {
        const float *n = s->nodes + node * TS_NODE_FLOATS;
        float tn[4];
        int in[4];
        float t = hit->t;
        for (int k = 0; k < 4; ++k) {
            float tx0 = (n[k] - o.x) * inv.x, tx1 = (n[12 + k] - o.x) * inv.x;
            float ty0 = (n[4 + k] - o.y) * inv.y, ty1 = (n[16 + k] - o.y) * inv.y;
            float tz0 = (n[8 + k] - o.z) * inv.z, tz1 = (n[20 + k] - o.z) * inv.z;
            float lo = ts_max(ts_max(ts_min(tx0, tx1), ts_min(ty0, ty1)), ts_max(ts_min(tz0, tz1), 0.0f));
            float hi = ts_min(ts_min(ts_max(tx0, tx1), ts_max(ty0, ty1)), ts_min(ts_max(tz0, tz1), t));
            tn[k] = lo;
            in[k] = lo <= hi;
        }
        ts_u32 next[4];
        float next_t[4];
        int m = 0;
        for (int k = 0; k < 4; ++k) {
            if (!in[k]) continue;
            ts_u32 ref = ts_bits(n[24 + k]), count = ts_bits(n[28 + k]);
            if (ref == 0xffffffffu) continue;
            if (count > 0) {
                if (tn[k] <= hit->t && ts_leaf(s, ref, count, o, d, any_hit, camera, key, hit, &found)) return 1;
            } else if (any_hit) {
                /* Any hit ends the cast, wherever it is: slot order, no sorting (the answer is the same). */
                next[m] = ref;
                next_t[m] = tn[k];
                ++m;
            } else {
                /* Insertion by entry distance, ties in slot order. */
                int j = m++;
                while (j > 0 && next_t[j - 1] > tn[k]) {
                    next[j] = next[j - 1];
                    next_t[j] = next_t[j - 1];
                    --j;
                }
                next[j] = ref;
                next_t[j] = tn[k];
            }
        }
        /* The others farthest first onto the stack, and on to the nearest (unless a leaf of this node has
         * already hit closer: then the pop below makes the decision). */
        for (int j = m - 1; j >= 1; --j) {
            if (sp < TS_STACK) {
                stack[sp] = next[j];
                stack_t[sp] = next_t[j];
                ++sp;
            }
        }
        if (m > 0 && next_t[0] <= hit->t) {
            node = next[0];
            continue;
        }
        /* Pop, skipping nodes now farther than the closest hit. */
        for (;;) {
            if (sp == 0) return found;
            --sp;
            if (stack_t[sp] <= hit->t) {
                node = stack[sp];
                break;
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Materials: glTF metallic-roughness. Lambert diffuse weighted by (1 - F) plus a GGX specular lobe       */
/* (Smith height-correlated visibility, Schlick Fresnel); KHR_materials_specular scales the lobe;         */
/* KHR_materials_sheen adds a Charlie sheen lobe over it, KHR_materials_clearcoat a GGX coat over all.    */
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
    ts_v3 sigma;        /* the volume's absorption coefficient per unit length, from its attenuation (0 outside) */
    int front;          /* whether the ray hit the front face */
    int unlit;          /* KHR_materials_unlit: emission is the base colour, nothing scatters */
    float clearcoat;    /* KHR_materials_clearcoat factor (x texture R); 0 without a coat */
    float cc_alpha;     /* the coat's GGX alpha, clearcoat roughness squared */
    ts_v3 ncc;          /* the coat's shading normal (facing the incoming ray) */
    ts_v3 sheen;        /* KHR_materials_sheen colour (x texture RGB); 0 without sheen */
    float sheen_r;      /* sheen roughness in [0.07, 1] */
    float ps;           /* probability of sampling the specular lobe (ts_spec_prob) towards the viewer */
} ts_surface;

/* The shading normal n of triangle record sh perturbed by the normal map in texture slot `slot` of material
 * m, with the map's scale (glTF 2.0 §3.9.3: tangent-space, x and y scaled); n itself without a map. */
TS_FN ts_v3 ts_normal_map(const ts_scene *s, const float *m, ts_u32 slot, float scale, const float uv[4],
                          const float *sh, ts_v3 n) {
    float texel[4];
    if (!ts_tex_slot(s, m, slot, uv, texel)) return n;
    ts_v3 tn = v3((texel[0] * 2.0f - 1.0f) * scale, (texel[1] * 2.0f - 1.0f) * scale, texel[2] * 2.0f - 1.0f);
    ts_v3 t = ts_load3(sh + 15);
    t = v3_norm(v3_sub(t, v3_scale(n, v3_dot(n, t))));
    ts_v3 b = v3_scale(v3_cross(n, t), sh[18]);
    return v3_norm(v3_add(v3_add(v3_scale(t, tn.x), v3_scale(b, tn.y)), v3_scale(n, tn.z)));
}

/* KHR_materials_clearcoat's Fresnel weight of a coat of factor cc seen at cosine c to its normal: Schlick at
 * IOR 1.5 (F0 = 0.04), times the factor: the share of light the coat takes, the rest reaching (or leaving)
 * the layers under it. */
TS_FN float ts_coat_fresnel(float cc, float c) {
    float m = 1.0f - ts_clamp(c, 0.0f, 1.0f);
    float m5 = m * m * m * m * m;
    return cc * (0.04f + 0.96f * m5);
}

/* KHR_materials_clearcoat over emission: what of the emission of material m at uv leaves through its coat
 * towards a direction at cosine c to the surface (the geometric normal stands for the coat's). */
TS_FN float ts_coat_over_emission(const ts_scene *s, const float *m, const float uv[4], float c) {
    float cc = m[TS_MAT_FLAGS + 1];
    if (!(cc > 0.0f)) return 1.0f;
    float texel[4];
    if (ts_tex_slot(s, m, TS_SLOT_CLEARCOAT, uv, texel)) cc = cc * texel[0];
    return 1.0f - ts_coat_fresnel(ts_clamp(cc, 0.0f, 1.0f), c);
}

/* A shading normal turned to face the incoming ray with the geometric one (`flip`) and kept in ng's
 * hemisphere. */
TS_FN ts_v3 ts_facing(ts_v3 n, ts_v3 ng, int flip) {
    if (flip) n = v3_scale(n, -1.0f);
    if (v3_dot(n, ng) < 0.05f) n = v3_norm(v3_add(n, v3_scale(ng, 0.05f - v3_dot(n, ng))));
    return n;
}

TS_HOT void ts_surface_at(const ts_scene *s, const ts_hit *h, ts_v3 o, ts_v3 d, ts_surface *sf) {
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
    ts_u32 flags = ts_bits(m[TS_MAT_FLAGS]);
    sf->front = v3_dot(ng, d) < 0.0f;
    sf->p = v3_add(o, v3_scale(d, h->t));
    sf->unlit = (int)((flags & TS_MATF_UNLIT) >> 1);
    /* No coat and no sheen unless the material has them (set below). */
    sf->clearcoat = 0.0f;
    sf->cc_alpha = 1.0f;
    sf->sheen = v3(0.0f, 0.0f, 0.0f);
    sf->sheen_r = 1.0f;
    if (sf->unlit) {
        /* KHR_materials_unlit: the base colour (factor x texture x COLOR_0) is the surface's radiance; the
         * rest describes a black surface that scatters nothing (the path ends there anyway). */
        sf->emission = sf->base;
        sf->ng = sf->front ? ng : v3_scale(ng, -1.0f);
        sf->n = sf->ng;
        sf->ncc = sf->ng;
        sf->metallic = 0.0f;
        sf->alpha = 1.0f;
        sf->specular = 0.0f;
        sf->f0 = 0.0f;
        sf->transmission = 0.0f;
        sf->ior = 1.0f;
        sf->volume = 0;
        sf->sigma = v3(0.0f, 0.0f, 0.0f);
        return;
    }
    float metallic = m[4], rough = m[5];
    if (ts_tex_slot(s, m, TS_SLOT_MR, uv, texel)) {
        rough = rough * texel[1];
        metallic = metallic * texel[2];
    }
    sf->emission = v3(m[6], m[7], m[8]);
    if (ts_tex_slot(s, m, TS_SLOT_EMISSIVE, uv, texel))
        sf->emission = v3_mul(sf->emission, v3(texel[0], texel[1], texel[2]));
    sf->emission = v3_scale(sf->emission, ts_coat_over_emission(s, m, uv, ts_abs(v3_dot(ng, d))));
    ts_v3 n_mesh = n;
    n = ts_normal_map(s, m, TS_SLOT_NORMAL, m[9], uv, sh, n);
    sf->metallic = ts_clamp(metallic, 0.0f, 1.0f);
    rough = ts_clamp(rough, 0.02f, 1.0f);
    sf->alpha = rough * rough;
    sf->specular = m[10];
    float tr = m[13];
    if (ts_tex_slot(s, m, TS_SLOT_TRANSMISSION, uv, texel)) tr = tr * texel[0];
    sf->transmission = ts_clamp(tr, 0.0f, 1.0f);
    sf->f0 = m[14];
    sf->ior = m[15];
    sf->volume = (int)(flags & TS_MATF_VOLUME);
    /* KHR_materials_volume's Beer-Lambert attenuation: light left after distance x is c^(x / d), so
     * sigma = -ln(c) / d per channel (0 for c = 1 or d = infinity). */
    sf->sigma = v3(0.0f, 0.0f, 0.0f);
    if (sf->volume) {
        float dist = m[TS_MAT_FLAGS + 11];
        for (int c = 0; c < 3; ++c) {
            float col = m[TS_MAT_FLAGS + 8 + c];
            /* A colour of 0 absorbs everything: ts_log2 is not asked about 0. */
            float sg = col <= 0.0f ? 1e30f : (col < 1.0f ? -ts_log2(col) * 0.69314718055994530942f / dist : 0.0f);
            if (c == 0) sf->sigma.x = sg;
            else if (c == 1) sf->sigma.y = sg;
            else sf->sigma.z = sg;
        }
    }
    if (!sf->front) ng = v3_scale(ng, -1.0f);
    sf->n = ts_facing(n, ng, !sf->front);
    sf->ng = ng;
    sf->ncc = sf->n;
    /* KHR_materials_clearcoat: factor x texture R, roughness x texture G, the coat's own normal map (the
     * mesh normal without one). */
    float cc = m[TS_MAT_FLAGS + 1];
    if (cc > 0.0f) {
        if (ts_tex_slot(s, m, TS_SLOT_CLEARCOAT, uv, texel)) cc = cc * texel[0];
        float ccr = m[TS_MAT_FLAGS + 2];
        if (ts_tex_slot(s, m, TS_SLOT_CLEARCOAT_ROUGHNESS, uv, texel)) ccr = ccr * texel[1];
        ccr = ts_clamp(ccr, 0.02f, 1.0f);
        sf->clearcoat = ts_clamp(cc, 0.0f, 1.0f);
        sf->cc_alpha = ccr * ccr;
        sf->ncc = ts_facing(ts_normal_map(s, m, TS_SLOT_CLEARCOAT_NORMAL, m[TS_MAT_FLAGS + 3], uv, sh, n_mesh), ng,
                            !sf->front);
    }
    /* KHR_materials_sheen: colour x texture RGB, roughness x texture A. */
    sf->sheen = v3(m[TS_MAT_FLAGS + 4], m[TS_MAT_FLAGS + 5], m[TS_MAT_FLAGS + 6]);
    if (ts_maxc(sf->sheen) > 0.0f) {
        if (ts_tex_slot(s, m, TS_SLOT_SHEEN_COLOR, uv, texel))
            sf->sheen = v3_mul(sf->sheen, v3(texel[0], texel[1], texel[2]));
        float sr = m[TS_MAT_FLAGS + 7];
        if (ts_tex_slot(s, m, TS_SLOT_SHEEN_ROUGHNESS, uv, texel)) sr = sr * texel[3];
        sf->sheen_r = ts_clamp(sr, 0.07f, 1.0f);
    }
}

/* The directional albedo E(mu, r) of a white sheen lobe (ts_sheen) at view cosine mu = i / 31 (columns) and
 * sheen roughness r = j / 15 (rows). */
TS_TABLE float TS_SHEEN_E[512] = { /* scripts/sheen-albedo.py */
    /* r = 0/15 */ 1.571942f, 1.147538f, 0.717431f, 0.424838f, 0.237126f, 0.125483f, 0.064356f, 0.031890f, 0.015188f, 0.006918f, 0.003000f, 0.001232f, 0.000477f, 0.000173f, 0.000058f, 0.000018f, 0.000005f, 0.000001f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f,
    /* r = 1/15 */ 1.571942f, 1.147538f, 0.717431f, 0.424838f, 0.237126f, 0.125483f, 0.064356f, 0.031890f, 0.015188f, 0.006918f, 0.003000f, 0.001232f, 0.000477f, 0.000173f, 0.000058f, 0.000018f, 0.000005f, 0.000001f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f, 0.000000f,
    /* r = 2/15 */ 1.087295f, 1.002192f, 0.761153f, 0.567927f, 0.417278f, 0.303329f, 0.219839f, 0.158598f, 0.113607f, 0.080636f, 0.056608f, 0.039235f, 0.026803f, 0.018013f, 0.011887f, 0.007685f, 0.004857f, 0.002994f, 0.001795f, 0.001041f, 0.000582f, 0.000312f, 0.000159f, 0.000076f, 0.000034f, 0.000014f, 0.000005f, 0.000002f, 0.000000f, 0.000000f, 0.000000f, 0.000000f,
    /* r = 3/15 */ 0.833983f, 0.847041f, 0.694533f, 0.565027f, 0.457226f, 0.368920f, 0.298039f, 0.240913f, 0.194496f, 0.156605f, 0.125612f, 0.100259f, 0.079551f, 0.062685f, 0.049003f, 0.037962f, 0.029115f, 0.022099f, 0.016573f, 0.012253f, 0.008910f, 0.006353f, 0.004426f, 0.002999f, 0.001965f, 0.001235f, 0.000736f, 0.000409f, 0.000206f, 0.000089f, 0.000029f, 0.000004f,
    /* r = 4/15 */ 0.700385f, 0.752024f, 0.643273f, 0.547902f, 0.465735f, 0.395625f, 0.336623f, 0.287018f, 0.244864f, 0.208781f, 0.177745f, 0.150971f, 0.127839f, 0.107844f, 0.090572f, 0.075672f, 0.062864f, 0.051950f, 0.042660f, 0.034761f, 0.028060f, 0.022398f, 0.017640f, 0.013669f, 0.010386f, 0.007701f, 0.005535f, 0.003820f, 0.002492f, 0.001493f, 0.000771f, 0.000281f,
    /* r = 5/15 */ 0.626680f, 0.698579f, 0.614379f, 0.538823f, 0.472234f, 0.413890f, 0.363199f, 0.319480f, 0.281401f, 0.247941f, 0.218354f, 0.192075f, 0.168662f, 0.147760f, 0.129079f, 0.112378f, 0.097478f, 0.084318f, 0.072675f, 0.062348f, 0.053176f, 0.045027f, 0.037794f, 0.031387f, 0.025729f, 0.020755f, 0.016407f, 0.012634f, 0.009389f, 0.006631f, 0.004320f, 0.002419f,
    /* r = 6/15 */ 0.587451f, 0.672502f, 0.603304f, 0.540074f, 0.483416f, 0.432795f, 0.387776f, 0.348091f, 0.313006f, 0.281682f, 0.253511f, 0.228037f, 0.204907f, 0.183845f, 0.164624f, 0.147060f, 0.131037f, 0.116595f, 0.103537f, 0.091674f, 0.080858f, 0.070968f, 0.061911f, 0.053608f, 0.045998f, 0.039027f, 0.032653f, 0.026839f, 0.021552f, 0.016765f, 0.012453f, 0.008589f,
    /* r = 7/15 */ 0.570280f, 0.664992f, 0.605473f, 0.550303f, 0.500240f, 0.454838f, 0.413745f, 0.376736f, 0.343615f, 0.313744f, 0.286585f, 0.261739f, 0.238903f, 0.217837f, 0.198351f, 0.180290f, 0.163576f, 0.148330f, 0.134368f, 0.121500f, 0.109580f, 0.098489f, 0.088138f, 0.078450f, 0.069368f, 0.060844f, 0.052841f, 0.045326f, 0.038274f, 0.031664f, 0.025479f, 0.019694f,
    /* r = 8/15 */ 0.568229f, 0.670216f, 0.617150f, 0.567426f, 0.521885f, 0.480105f, 0.441754f, 0.406642f, 0.374669f, 0.345631f, 0.319042f, 0.294532f, 0.271822f, 0.250693f, 0.230973f, 0.212523f, 0.195289f, 0.179456f, 0.164845f, 0.151263f, 0.138558f, 0.126612f, 0.115331f, 0.104640f, 0.094479f, 0.084803f, 0.075572f, 0.066759f, 0.058338f, 0.050292f, 0.042605f, 0.035252f,
    /* r = 9/15 */ 0.576775f, 0.683835f, 0.635119f, 0.589147f, 0.546781f, 0.507581f, 0.471199f, 0.437450f, 0.406233f, 0.377533f, 0.351135f, 0.326681f, 0.303903f, 0.282593f, 0.262587f, 0.243756f, 0.226060f, 0.209735f, 0.194603f, 0.180464f, 0.167162f, 0.154575f, 0.142605f, 0.131176f, 0.120228f, 0.109712f, 0.099589f, 0.089832f, 0.080416f, 0.071324f, 0.062544f, 0.054047f,
    /* r = 10/15 */ 0.592332f, 0.702170f, 0.656376f, 0.613021f, 0.572928f, 0.535615f, 0.500700f, 0.467976f, 0.437350f, 0.408783f, 0.382298f, 0.357689f, 0.334692f, 0.313101f, 0.292759f, 0.273537f, 0.255408f, 0.238645f, 0.223068f, 0.208472f, 0.194695f, 0.181612f, 0.169123f, 0.157148f, 0.145626f, 0.134507f, 0.123753f, 0.113336f, 0.103231f, 0.093425f, 0.083906f, 0.074646f,
    /* r = 11/15 */ 0.611464f, 0.721798f, 0.677965f, 0.636473f, 0.598055f, 0.562176f, 0.528414f, 0.496528f, 0.466409f, 0.438032f, 0.411391f, 0.386520f, 0.363234f, 0.341328f, 0.320645f, 0.301058f, 0.282546f, 0.265409f, 0.249466f, 0.234506f, 0.220362f, 0.206906f, 0.194036f, 0.181671f, 0.169747f, 0.158215f, 0.147038f, 0.136186f, 0.125638f, 0.115380f, 0.105405f, 0.095687f,
    /* r = 12/15 */ 0.630483f, 0.739381f, 0.696926f, 0.656839f, 0.619736f, 0.585027f, 0.552250f, 0.521131f, 0.491539f, 0.463440f, 0.436844f, 0.411769f, 0.388237f, 0.366076f, 0.345129f, 0.325269f, 0.306477f, 0.289076f, 0.272881f, 0.257676f, 0.243292f, 0.229598f, 0.216489f, 0.203885f, 0.191721f, 0.179948f, 0.168529f, 0.157433f, 0.146643f, 0.136145f, 0.125937f, 0.115995f,
    /* r = 13/15 */ 0.645295f, 0.751627f, 0.710305f, 0.671426f, 0.635490f, 0.601855f, 0.570027f, 0.539709f, 0.510749f, 0.483098f, 0.456768f, 0.431788f, 0.408189f, 0.385951f, 0.364919f, 0.344966f, 0.326077f, 0.308587f, 0.292312f, 0.277032f, 0.262577f, 0.248813f, 0.235636f, 0.222964f, 0.210733f, 0.198893f, 0.187408f, 0.176249f, 0.165398f, 0.154845f, 0.144590f, 0.134613f,
    /* r = 14/15 */ 0.651522f, 0.755295f, 0.715176f, 0.677549f, 0.642823f, 0.610323f, 0.579541f, 0.550162f, 0.522024f, 0.495066f, 0.469294f, 0.444745f, 0.421446f, 0.399438f, 0.378615f, 0.358851f, 0.340134f, 0.322812f, 0.306700f, 0.291579f, 0.277278f, 0.263663f, 0.250630f, 0.238097f, 0.226000f, 0.214290f, 0.202930f, 0.191895f, 0.181165f, 0.170733f, 0.160604f, 0.150760f,
    /* r = 15/15 */ 0.644832f, 0.747188f, 0.708619f, 0.672498f, 0.639199f, 0.608048f, 0.578534f, 0.550343f, 0.523309f, 0.497368f, 0.472523f, 0.448812f, 0.426264f, 0.404925f, 0.384722f, 0.365534f, 0.347353f, 0.330540f, 0.314914f, 0.300257f, 0.286401f, 0.273213f, 0.260588f, 0.248447f, 0.236726f, 0.225377f, 0.214364f, 0.203662f, 0.193253f, 0.183133f, 0.173308f, 0.163767f,
};

/* E(mu, r) interpolated bilinearly in the table. */
TS_FN float ts_sheen_albedo(float mu, float r) {
    float x = ts_clamp(mu, 0.0f, 1.0f) * 31.0f, y = ts_clamp(r, 0.0f, 1.0f) * 15.0f;
    ts_u32 i = (ts_u32)x, j = (ts_u32)y;
    if (i > 30u) i = 30u;
    if (j > 14u) j = 14u;
    float ax = x - (float)i, ay = y - (float)j;
    const float *r0 = TS_SHEEN_E + j * 32u + i;
    float top = r0[0] + (r0[1] - r0[0]) * ax;
    float bot = r0[32] + (r0[33] - r0[32]) * ax;
    return top + (bot - top) * ay;
}

/* Estevez and Kulla's fitted Lambda of the Charlie visibility at cosine c, sheen alpha a (their fit's
 * parameters at alpha 0 and 1, mixed by (1 - a)^2, as the glTF Sample Viewer does). */
TS_FN float ts_sheen_l(float x, float a) {
    float t = (1.0f - a) * (1.0f - a);
    float pa = 21.5473f + (25.3245f - 21.5473f) * t;
    float pb = 3.82987f + (3.32435f - 3.82987f) * t;
    float pc = 0.19823f + (0.16801f - 0.19823f) * t;
    float pd = -1.97760f + (-1.27393f + 1.97760f) * t;
    float pe = -4.32054f + (-4.85967f + 4.32054f) * t;
    return pa / (1.0f + pb * ts_pow(x, pc)) + pd * x + pe;
}

TS_FN float ts_sheen_lambda(float c, float a) {
    if (c < 0.5f) return ts_exp(ts_sheen_l(c, a));
    return ts_exp(2.0f * ts_sheen_l(0.5f, a) - ts_sheen_l(1.0f - c, a));
}

/* The sheen lobe of KHR_materials_sheen times n.l, for white sheen: the Charlie distribution
 * D = (2 + 1/a) sin(theta_h)^(1/a) / 2pi, a = r^2, times the Charlie visibility
 * V = 1 / ((1 + Lambda(n.v) + Lambda(n.l)) 4 n.v n.l) clamped to [0, 1] (Estevez and Kulla 2017; the
 * extension's reference). */
TS_FN float ts_sheen(float nh, float nl, float nv, float r) {
    float a = r * r;
    float sin2 = ts_max(1.0f - nh * nh, 0.0f);
    float d = (2.0f + 1.0f / a) * ts_pow(sin2, 0.5f / a) * (0.5f * TS_INV_PI);
    float v = 1.0f / ((1.0f + ts_sheen_lambda(nv, a) + ts_sheen_lambda(nl, a)) * (4.0f * nv * nl));
    return d * ts_clamp(v, 0.0f, 1.0f) * nl;
}

/* The coat's Fresnel weight at surface sf seen at cosine c to the coat's normal (ts_coat_fresnel). */
TS_FN float ts_coat_weight(const ts_surface *sf, float c) { return ts_coat_fresnel(sf->clearcoat, c); }

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
    /* The cosine-sampled branch also samples the sheen lobe. */
    if (ts_maxc(sf->sheen) > 0.0f) fd = fd + ts_lum(sf->sheen);
    if (!(fs > 0.0f)) return 0.0f;
    if (!(fd > 0.0f)) return 1.0f;
    return ts_clamp(fs / (fs + fd), 0.05f, 0.95f);
}

/* BSDF value times |cos(wi)| and the sampling pdf of wi, for outgoing wo (towards the viewer). */
TS_HOT ts_v3 ts_bsdf(const ts_surface *sf, ts_v3 wo, ts_v3 wi, float *pdf) {
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
    float ps = sf->ps;
    /* Visible-normal-free GGX sampling: pdf(h) = D * nh; pdf(wi) = D * nh / (4 * vh). */
    float pdf_spec = vh > 0.0f ? d * nh / (4.0f * vh) : 0.0f;
    float pdf_diff = nl * TS_INV_PI;
    /* The non-specular branch samples the delta transmission with probability `transmission`: only the rest
     * of it has a density over directions. */
    *pdf = ps * pdf_spec + (1.0f - ps) * (1.0f - sf->transmission) * pdf_diff;
    ts_v3 val = v3_add(spec, diff);
    if (ts_maxc(sf->sheen) > 0.0f) {
        /* The sheen lobe over the rest, which it scales by 1 - max(sheen) E(cos) at the larger albedo of the
         * two directions (KHR_materials_sheen's albedo scaling). */
        float e = ts_max(ts_sheen_albedo(nv, sf->sheen_r), ts_sheen_albedo(nl, sf->sheen_r));
        val = v3_scale(val, ts_max(1.0f - ts_maxc(sf->sheen) * e, 0.0f));
        val = v3_add(val, v3_scale(sf->sheen, ts_sheen(nh, nl, nv, sf->sheen_r)));
    }
    if (sf->clearcoat > 0.0f) {
        /* The coat over everything: the layers under it weighted by 1 - its Fresnel weight, its own GGX
         * lobe (F0 0.04) about its normal, sampled with probability equal to that weight. */
        float nvc = v3_dot(sf->ncc, wo), nlc = v3_dot(sf->ncc, wi);
        float wc = ts_coat_weight(sf, nvc);
        val = v3_scale(val, 1.0f - wc);
        /* The coat's sampling density counts wherever its sampler can produce wi, whichever side of the
         * coat's normal wi lies on; its value only where both directions are above the coat. */
        float nhc = ts_max(v3_dot(sf->ncc, h), 0.0f);
        float a2c = sf->cc_alpha * sf->cc_alpha;
        float dc = ts_ggx_d(nhc, a2c);
        float pdf_c = vh > 0.0f ? dc * nhc / (4.0f * vh) : 0.0f;
        if (nvc > 0.0f && nlc > 0.0f) {
            float coat = wc * dc * ts_smith_g1(nlc, a2c) * ts_smith_g1(nvc, a2c) / (4.0f * nvc);
            val = v3_add(val, v3(coat, coat, coat));
        }
        *pdf = wc * pdf_c + (1.0f - wc) * *pdf;
    }
    return val;
}

/* Samples wi: returns 0 when the sample is below the surface (the path ends), 1 for a direction of the
 * continuous lobes (weigh it with ts_bsdf), 2 for the delta transmission lobe, whose weight (value over
 * probability) goes to *weight. Transmission (KHR_materials_transmission) takes the dielectric's light that
 * is neither reflected by the specular layer nor diffused: through a thin wall straight on, into or out of a
 * volume (KHR_materials_volume) refracted by Snell's law, with total internal reflection past the critical
 * angle; the surface is smooth for it. */
TS_HOT int ts_bsdf_sample(const ts_surface *sf, ts_v3 wo, float u0, float u1, float u2, ts_v3 *wi, ts_v3 *weight) {
    ts_v3 t, b;
    float sn, cs;
    if (sf->clearcoat > 0.0f) {
        /* The coat's lobe with probability equal to its Fresnel weight; the layers under it otherwise, with
         * u0 rescaled to [0, 1) (their weights lose the factor 1 - weight in value and probability alike). */
        float wc = ts_coat_weight(sf, v3_dot(sf->ncc, wo));
        if (u0 < wc) {
            ts_basis(sf->ncc, &t, &b);
            float a2 = sf->cc_alpha * sf->cc_alpha;
            float cos2 = (1.0f - u1) / (1.0f + (a2 - 1.0f) * u1);
            float ct = ts_sqrt(cos2), st = ts_sqrt(1.0f - cos2);
            ts_sincos_turns(u2, &sn, &cs);
            ts_v3 h = v3_add(v3_add(v3_scale(t, st * cs), v3_scale(b, st * sn)), v3_scale(sf->ncc, ct));
            *wi = v3_norm(v3_sub(v3_scale(h, 2.0f * v3_dot(wo, h)), wo));
            return v3_dot(*wi, sf->n) > 0.0f && v3_dot(*wi, sf->ng) > 0.0f;
        }
        u0 = (u0 - wc) / (1.0f - wc);
    }
    ts_basis(sf->n, &t, &b);
    float nv = v3_dot(sf->n, wo);
    float ps = sf->ps;
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
        if (ts_maxc(sf->sheen) > 0.0f) w = w * ts_max(1.0f - ts_maxc(sf->sheen) * ts_sheen_albedo(c, sf->sheen_r), 0.0f);
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

/* Beer-Lambert transmittance over distance t in a medium of absorption sigma. */
TS_FN ts_v3 ts_transmittance(ts_v3 sigma, float t) {
    return v3(ts_exp(-sigma.x * t), ts_exp(-sigma.y * t), ts_exp(-sigma.z * t));
}

/* Direct light at sf from one light chosen at random, with MIS against BSDF sampling for area lights; in a
 * volume of absorption `medium` (0 outside) attenuated along the way as BSDF-sampled paths are. */
TS_HOT ts_v3 ts_direct(const ts_scene *s, const ts_surface *sf, ts_v3 wo, float u0, float u1, float u2, ts_u32 key,
                      ts_v3 medium, ts_u32 *rays) {
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
        if (ts_trace(s, o, wi, dist * 0.9999f, 1, 0, key, &h)) return zero;
        if (ts_maxc(medium) > 0.0f) color = v3_mul(color, ts_transmittance(medium, dist));
        return v3_scale(v3_mul(f, color), 1.0f / p_punctual * (float)s->light_count);
    }
    /* Emissive triangle, picked by power, point uniform on it. */
    float ua = (u0 - p_punctual) / (1.0f - p_punctual);
    ts_u32 slot = ts_pick_emitter(s, ua);
    ts_u32 tri = s->emitters[slot];
    const float *T = s->tris + slot * TS_TRI_FLOATS;
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
    if ((s->flags & TS_FLAG_ALPHA) && !ts_stops(s, tri, b1, b2, key, 0)) return zero;
    if (ts_trace(s, o, wi, dist * 0.999f, 1, 0, key, &h)) return zero;
    const float *m = s->materials + ts_bits(sh[22]) * TS_MAT_FLOATS;
    ts_v3 le = v3(m[6], m[7], m[8]);
    float uv[4], col[4], texel[4];
    ts_attributes(s, sh, b1, b2, uv, col);
    if (ts_tex_slot(s, m, TS_SLOT_EMISSIVE, uv, texel)) le = v3_mul(le, v3(texel[0], texel[1], texel[2]));
    le = v3_scale(le, ts_coat_over_emission(s, m, uv, cos_l));
    if (ts_maxc(medium) > 0.0f) le = v3_mul(le, ts_transmittance(medium, dist));
    float pdf_light = ts_emitter_pdf(s, slot, sh[23], dist, cos_l);
    if (!(pdf_light > 0.0f)) return zero;
    float w = ts_power_heuristic(pdf_light, pdf_bsdf);
    return v3_scale(v3_mul(f, le), w / pdf_light);
}

/* ---------------------------------------------------------------------------------------------------- */
/* The integrator: unidirectional path tracing with next-event estimation, MIS and Russian roulette.      */
/* ---------------------------------------------------------------------------------------------------- */

/* What the samples of pixel (px, py) share: its key, and 2 / width and 2 / height for its camera rays. */
typedef struct {
    ts_u32 px, py, key;
    float two_w, two_h;
} ts_pixel;

TS_FN ts_pixel ts_pixel_at(const ts_scene *s, ts_u32 px, ts_u32 py) {
    ts_pixel p;
    p.px = px;
    p.py = py;
    p.key = ts_pixel_key(s, py * s->width + px);
    p.two_w = 2.0f / (float)s->width;
    p.two_h = 2.0f / (float)s->height;
    return p;
}

TS_FN ts_v3 ts_radiance(const ts_scene *s, const ts_pixel *pix, ts_u32 sample, ts_u32 *rays) {
    ts_u32 sk = ts_sample_key(pix->key, sample);
    float jx = ts_rnd(sk, 0), jy = ts_rnd(sk, 1);
    float sx = (((float)pix->px + jx) * pix->two_w - 1.0f) * s->cam_tan_half_x;
    float sy = (1.0f - ((float)pix->py + jy) * pix->two_h) * s->cam_tan_half_y;
    ts_v3 o = ts_load3(s->cam_pos);
    ts_v3 d = v3_norm(v3_add(v3_add(v3_scale(ts_load3(s->cam_right), sx), v3_scale(ts_load3(s->cam_up), sy)),
                             ts_load3(s->cam_forward)));
    ts_v3 L = v3(0.0f, 0.0f, 0.0f), beta = v3(1.0f, 1.0f, 1.0f);
    /* The absorption of the volume the path is inside (KHR_materials_volume), 0 outside: entered through a
     * volume's front face by transmission, left through a back face. One level: volumes do not nest. */
    ts_v3 medium = v3(0.0f, 0.0f, 0.0f);
    float prev_pdf = 0.0f; /* 0: the previous vertex was the camera (or a delta event) */
    ts_v3 prev_p = o;
    for (ts_u32 bounce = 0;; ++bounce) {
        ts_u32 dim = 2u + bounce * 8u;
        ts_hit hit;
        *rays += 1u;
        /* dims 0..6 of the bounce are the samples below; 7 keys this bounce's alpha decisions. */
        ts_u32 key = ts_dim_key(sk, dim + 7u);
        int found = ts_trace(s, o, d, 1e30f, 0, bounce == 0u, key, &hit);
        if (ts_maxc(medium) > 0.0f) {
            /* Beer-Lambert along the segment inside the volume (nothing escapes an open one). */
            beta = v3_mul(beta, ts_transmittance(medium, hit.t));
        }
        if (!found) {
            L = v3_add(L, v3_mul(beta, ts_env(s, d)));
            break;
        }
        ts_surface sf;
        ts_surface_at(s, &hit, o, d, &sf);
        ts_v3 wo = v3_scale(d, -1.0f);
        if ((sf.front || sf.unlit) && ts_maxc(sf.emission) > 0.0f) {
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
        /* An unlit surface (seen by camera rays only) shows its colour on either face and scatters nothing. */
        if (sf.unlit || bounce >= s->max_bounces) break;
        /* Every BSDF evaluation and sample at this vertex looks towards wo: its lobe choice once. */
        sf.ps = ts_spec_prob(&sf, v3_dot(sf.n, wo));
        ts_v3 ld = ts_direct(s, &sf, wo, ts_rnd(sk, dim), ts_rnd(sk, dim + 1), ts_rnd(sk, dim + 2),
                             ts_mix(key ^ 0x5bd1e995u), medium, rays);
        L = v3_add(L, v3_mul(beta, ld));
        ts_v3 wi, weight;
        int kind = ts_bsdf_sample(&sf, wo, ts_rnd(sk, dim + 3), ts_rnd(sk, dim + 4), ts_rnd(sk, dim + 5), &wi,
                                  &weight);
        if (!kind) break;
        float pdf = 0.0f; /* 0 after a delta event: an emitter hit next takes its full weight */
        if (kind == 2) {
            if (!(ts_maxc(weight) > 0.0f)) break;
            beta = v3_mul(beta, weight);
            /* Crossing a volume's boundary (not a total internal reflection) enters or leaves it. */
            if (sf.volume && v3_dot(wi, sf.ng) < 0.0f) medium = sf.front ? sf.sigma : v3(0.0f, 0.0f, 0.0f);
        } else {
            ts_v3 f = ts_bsdf(&sf, wo, wi, &pdf);
            if (!(pdf > 0.0f) || !(ts_maxc(f) > 0.0f)) break;
            beta = v3_mul(beta, v3_scale(f, 1.0f / pdf));
        }
        if (bounce >= 3u) {
            float q = ts_max(0.05f, 1.0f - ts_maxc(beta));
            if (ts_rnd(sk, dim + 6) < q) break;
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
    ts_pixel pix = ts_pixel_at(s, px, py);
    for (ts_u32 k = 0; k < s->spp; ++k) sum = v3_add(sum, ts_radiance(s, &pix, k, &rays));
    float inv = 1.0f / (float)s->spp;
    out[0] = sum.x * inv;
    out[1] = sum.y * inv;
    out[2] = sum.z * inv;
    return rays;
}

#endif /* TESSERA_PATHTRACE_H */
