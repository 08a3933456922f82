/* CPU entry point of the shared kernel (see pathtrace.h). Built by build.rs with the C compiler. */
#include "pathtrace.h"

/* Renders the w x h pixels at (x, y) into out (row-major, 3 floats per pixel); returns the rays cast. */
ts_u64 ts_render_rect(const ts_scene *s, ts_u32 x, ts_u32 y, ts_u32 w, ts_u32 h, float *out) {
    ts_u64 rays = 0;
    for (ts_u32 j = 0; j < h; ++j)
        for (ts_u32 i = 0; i < w; ++i) rays += ts_render_pixel(s, x + i, y + j, out + (j * w + i) * 3u);
    return rays;
}

/* Exposed for the conformance tests of the deterministic math. */
void ts_sincos_turns_c(float t, float *s, float *c) { ts_sincos_turns(t, s, c); }
float ts_rand_c(const ts_scene *s, ts_u32 pixel, ts_u32 sample, ts_u32 dim) { return ts_rand(s, pixel, sample, dim); }
