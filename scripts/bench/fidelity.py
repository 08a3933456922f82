"""Render one scene of the fidelity suite with Blender Cycles (CPU) the way tessera-render renders it, as a
linear OpenEXR, and print the time of the render call.

blender -b --factory-startup --python scripts/bench/fidelity.py -- SCENE.glb FRAME WIDTH HEIGHT SPP BOUNCES OUT.exr [MODE]
python -- scripts/bench/fidelity.py -- ...   (the same, with PyPI's `bpy` module: Blender 4.5 LTS)

MODE "import" (default) renders the scene as Blender's glTF importer makes it; "lambert" is the control run:
every material the glTF model makes a pure Lambertian (dielectric, opaque, not emissive, no transmission,
specular factor 0) gets Cycles' Diffuse BSDF instead of the Principled BSDF, whose diffuse (Burley's) is not
Lambert's.

What tessera renders by the glTF specification and its own job look is set up here explicitly, so that
both sides render the same scene:
- the look the GLB carries (asset.extras.tessera: frame rate, sky radiance, environment map) becomes the
  scene's frame rate (set before the import, which keys animations at it) and the world;
- KHR_lights_punctual intensities are converted by the importer itself (its default "Standard" lighting
  mode: point and spot 4πI/683 W, sun E/683 W/m²), as tessera converts them;
- punctual lights are points: radius and sun angle 0;
- KHR_materials_specular's factor, which Debian's Blender 3.4 importer ignores, becomes the Principled
  BSDF's Specular (0.5 x factor: Blender's 0.5 is glTF's F0 of 0.04); Blender 4.x's importer reads the
  extension itself (into "Specular IOR Level");
- a box pixel filter one pixel wide, no sample clamping, no denoising, the bounce limit on every kind.
"""
import importlib.util
import os
import sys
import tempfile
import time

import numpy

if not hasattr(numpy, "bool"):
    numpy.bool = numpy.bool_  # Debian's Blender 3.4 glTF importer still uses numpy.bool

# Run as a script by Python (the bpy module), this folder is first on sys.path, and its cycles.py would
# shadow the Cycles add-on: it is taken off before bpy loads its add-ons.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import bpy  # noqa: E402

# Loaded by path, not through sys.path: this folder's cycles.py would shadow the Cycles add-on (the bpy
# module enables add-ons when the factory settings are read, after the script starts).
_spec = importlib.util.spec_from_file_location("glb", os.path.join(_here, "glb.py"))
glb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(glb)

args = sys.argv[sys.argv.index("--") + 1 :]
scene_path, frame, width, height, spp, bounces, out = args[:7]
mode = args[7] if len(args) > 7 else "import"
frame, width, height, spp, bounces = int(frame), int(width), int(height), int(spp), int(bounces)

gltf, bin_chunk = glb.read(scene_path)
look = gltf.get("asset", {}).get("extras", {})
look = look.get("tessera", {}) if isinstance(look, dict) else {}
fps = float(look.get("fps", 24.0))
env = look.get("environment", [0.05, 0.05, 0.06])
camera_node = glb.first_camera_name(gltf)

bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
# The importer keys animations at the scene's frame rate: set it first (fps_base for fractional rates).
scene.render.fps = max(1, round(fps))
scene.render.fps_base = scene.render.fps / fps
bpy.ops.import_scene.gltf(filepath=scene_path)
scene = bpy.context.scene
chosen = glb.use_camera(scene, camera_node)
# tessera keeps the camera's vertical field of view and widens the horizontal one with the image.
chosen.data.sensor_fit = "VERTICAL"
scene.frame_set(frame)

for light in bpy.data.lights:
    if light.type in ("POINT", "SPOT"):
        light.shadow_soft_size = 0.0
    if light.type == "SUN":
        light.angle = 0.0

# Materials as the file defines them (the importer names an unnamed material i "Material_i").
for i, m in enumerate(gltf.get("materials", [])):
    mat = bpy.data.materials.get(m.get("name", f"Material_{i}"))
    if mat is None or not mat.use_nodes:
        continue
    ext = m.get("extensions", {})
    factor = ext.get("KHR_materials_specular", {}).get("specularFactor", 1.0)
    pbr = m.get("pbrMetallicRoughness", {})
    lambertian = (
        factor == 0.0
        and pbr.get("metallicFactor", 1.0) == 0.0
        and ext.get("KHR_materials_transmission", {}).get("transmissionFactor", 0.0) == 0.0
        and m.get("alphaMode", "OPAQUE") == "OPAQUE"
        and "emissiveTexture" not in m
        and not any(m.get("emissiveFactor", [0, 0, 0]))
        and not any(k in ext for k in ("KHR_materials_clearcoat", "KHR_materials_sheen", "KHR_materials_unlit"))
    )
    nt = mat.node_tree
    for n in list(nt.nodes):
        if n.type != "BSDF_PRINCIPLED":
            continue
        if "Specular" in n.inputs:  # Blender 3.x; 4.x's importer sets "Specular IOR Level" from the file
            n.inputs["Specular"].default_value = 0.5 * factor
        if mode == "lambert" and lambertian:
            d = nt.nodes.new("ShaderNodeBsdfDiffuse")
            d.inputs["Roughness"].default_value = 0.0
            src = n.inputs["Base Color"]
            if src.is_linked:
                nt.links.new(src.links[0].from_socket, d.inputs["Color"])
            else:
                d.inputs["Color"].default_value = src.default_value
            out_links = list(n.outputs["BSDF"].links)
            for link in out_links:
                nt.links.new(d.outputs["BSDF"], link.to_socket)

world = bpy.data.worlds.new("tessera-look")
world.use_nodes = True
nt = world.node_tree
background = nt.nodes["Background"]
background.inputs[1].default_value = 1.0
env_map = look.get("environmentMap")
if env_map is not None:
    view = gltf["bufferViews"][env_map["bufferView"]]
    start = view.get("byteOffset", 0)
    hdr = bin_chunk[start : start + view["byteLength"]]
    path = os.path.join(tempfile.mkdtemp(), "environment.hdr")
    with open(path, "wb") as f:
        f.write(hdr)
    tex = nt.nodes.new("ShaderNodeTexEnvironment")
    tex.image = bpy.data.images.load(path)
    tex.interpolation = "Linear"
    mix = nt.nodes.new("ShaderNodeMixRGB")
    mix.blend_type = "MULTIPLY"
    mix.inputs[0].default_value = 1.0
    mix.inputs[2].default_value = (env[0], env[1], env[2], 1.0)
    nt.links.new(tex.outputs["Color"], mix.inputs[1])
    nt.links.new(mix.outputs["Color"], background.inputs[0])
else:
    background.inputs[0].default_value = (env[0], env[1], env[2], 1.0)
scene.world = world

scene.render.engine = "CYCLES"
c = scene.cycles
c.device = "CPU"
c.samples = spp
c.use_adaptive_sampling = False
c.use_denoising = False
c.max_bounces = bounces
c.diffuse_bounces = bounces
c.glossy_bounces = bounces
c.transmission_bounces = bounces
c.transparent_max_bounces = 64
c.caustics_reflective = True
c.caustics_refractive = True
c.sample_clamp_direct = 0.0
c.sample_clamp_indirect = 0.0
c.light_sampling_threshold = 0.0
c.pixel_filter_type = "BOX"
c.filter_width = 1.0
scene.render.film_transparent = False
scene.render.resolution_x = width
scene.render.resolution_y = height
scene.render.resolution_percentage = 100
scene.render.image_settings.file_format = "OPEN_EXR"
scene.render.image_settings.color_depth = "32"
scene.render.image_settings.exr_codec = "ZIP"
scene.render.filepath = out

t0 = time.perf_counter()
bpy.ops.render.render(write_still=True)
secs = time.perf_counter() - t0
print(f"CYCLES_RENDER_SECONDS {secs:.3f}")
