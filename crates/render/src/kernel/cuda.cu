/* CUDA entry point of the shared kernel (see pathtrace.h). Compiled at run time by NVRTC with
 * --fmad=false --ftz=false --prec-div=true --prec-sqrt=true. */
#include "pathtrace.h"

/* One thread per pixel of the w x h rectangle at (x, y); out is row-major, 3 floats per pixel; rays[i] is
 * the number of rays pixel i cast. */
extern "C" __global__ void ts_render_rect_kernel(ts_scene s, ts_u32 x, ts_u32 y, ts_u32 w, ts_u32 h, float *out,
                                                 ts_u32 *rays) {
    ts_u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= w * h) return;
    ts_u32 px = i % w, py = i / w;
    rays[i] = ts_render_pixel(&s, x + px, y + py, out + i * 3u);
}
