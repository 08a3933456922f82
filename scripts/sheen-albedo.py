#!/usr/bin/env python3
"""The directional albedo table of the sheen lobe, as pathtrace.h holds it (TS_SHEEN_E).

KHR_materials_sheen scales the layer under the sheen by 1 - max(sheenColor) * E, where E(mu, r) is the
albedo of a white sheen lobe seen at cosine mu with sheen roughness r. The lobe is the one the kernel
evaluates (ts_sheen in pathtrace.h): the Charlie distribution times the Charlie visibility (Estevez and
Kulla, "Production Friendly Microfacet Sheen BRDF", 2017, with their fitted Lambda), the visibility clamped
to [0, 1] as the Khronos glTF Sample Viewer does, with a = max(r, 0.07)^2:

    D(n.h) = (2 + 1/a) sin(theta_h)^(1/a) / (2 pi)
    V      = 1 / ((1 + Lambda(n.v) + Lambda(n.l)) 4 n.v n.l)
    E(mu)  = integral over the hemisphere of D V n.l

Rows are 16 roughness values r = j / 15, columns 32 cosines mu = i / 31 (mu = 0 evaluated at 1e-4); the
kernel interpolates bilinearly. Integrated by the midpoint rule over (cos theta_l, phi_l), 512 x 256 points.
Needs numpy.

    python3 scripts/sheen-albedo.py            print the C table
    python3 scripts/sheen-albedo.py --check F  exit 1 unless file F holds this table
"""
import sys

import numpy as np

ROWS, COLS = 16, 32
MIN_ROUGHNESS = 0.07
# Estevez and Kulla's fit of Lambda (a, b, c, d, e) at alpha 1 and at alpha 0, mixed by (1 - alpha)^2.
FIT_1 = (21.5473, 3.82987, 0.19823, -1.97760, -4.32054)
FIT_0 = (25.3245, 3.32435, 0.16801, -1.27393, -4.85967)


def fit_l(x, a):
    t = (1.0 - a) ** 2
    p = [p1 + (p0 - p1) * t for p0, p1 in zip(FIT_0, FIT_1)]
    return p[0] / (1.0 + p[1] * x ** p[2]) + p[3] * x + p[4]


def lam(c, a):
    c = np.asarray(c, dtype=float)
    return np.where(c < 0.5, np.exp(fit_l(c, a)), np.exp(2.0 * fit_l(0.5, a) - fit_l(1.0 - c, a)))


def albedo(mu, r):
    a = max(r, MIN_ROUGHNESS) ** 2
    n_t, n_p = 512, 256
    cl = (np.arange(n_t) + 0.5) / n_t  # cos(theta_l), uniform: d omega = d(cos) d(phi)
    ph = (np.arange(n_p) + 0.5) / n_p * 2.0 * np.pi
    cl, ph = np.meshgrid(cl, ph, indexing="ij")
    sl = np.sqrt(1.0 - cl * cl)
    l = np.stack([sl * np.cos(ph), sl * np.sin(ph), cl], axis=-1)
    v = np.array([np.sqrt(max(0.0, 1.0 - mu * mu)), 0.0, mu])
    h = l + v
    h /= np.linalg.norm(h, axis=-1, keepdims=True)
    sin2 = np.clip(1.0 - h[..., 2] ** 2, 0.0, 1.0)
    d = (2.0 + 1.0 / a) * sin2 ** (0.5 / a) / (2.0 * np.pi)
    vis = np.clip(1.0 / ((1.0 + lam(mu, a) + lam(cl, a)) * 4.0 * mu * cl), 0.0, 1.0)
    f = d * vis * cl
    return float(f.sum() * (1.0 / n_t) * (2.0 * np.pi / n_p))


def table():
    return [[albedo(max(i / (COLS - 1), 1e-4), j / (ROWS - 1)) for i in range(COLS)] for j in range(ROWS)]


def render(rows):
    out = [f"TS_TABLE float TS_SHEEN_E[{ROWS * COLS}] = {{ /* scripts/sheen-albedo.py */"]
    for j, row in enumerate(rows):
        vals = ", ".join(f"{x:.6f}f" for x in row)
        out.append(f"    /* r = {j}/{ROWS - 1} */ {vals},")
    out.append("};")
    return "\n".join(out)


def main():
    text = render(table())
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2], encoding="utf-8") as f:
            if text not in f.read():
                sys.exit(f"{sys.argv[2]} does not hold scripts/sheen-albedo.py's table: run it and paste the output")
        return
    print(text)


if __name__ == "__main__":
    main()
