"""Render a .glb with Blender Cycles (CPU) under the same settings as tessera-render-bench, and print the
time of the render call (scene sync, BVH build and path tracing; not Blender's start-up or the import).

blender -b --factory-startup --python scripts/bench/cycles.py -- SCENE.glb WIDTH HEIGHT SPP BOUNCES OUT.png
"""
import os
import sys
import time

import numpy

numpy.bool = numpy.bool_  # Debian's Blender 3.4 glTF importer still uses numpy.bool

import bpy  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glb  # noqa: E402

scene_path, width, height, spp, bounces, out = sys.argv[sys.argv.index("--") + 1 :]
width, height, spp, bounces = int(width), int(height), int(spp), int(bounces)

# The camera tessera-render uses: the first camera node met depth-first from the default scene's roots.
gltf, _ = glb.read(scene_path)
camera_node = glb.first_camera_name(gltf)

bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=scene_path)
scene = bpy.context.scene
chosen = glb.use_camera(scene, camera_node)

scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = spp
scene.cycles.use_adaptive_sampling = False
scene.cycles.use_denoising = False
scene.cycles.max_bounces = bounces
scene.cycles.diffuse_bounces = bounces
scene.cycles.glossy_bounces = bounces
scene.cycles.transmission_bounces = bounces
scene.cycles.transparent_max_bounces = bounces
scene.cycles.caustics_reflective = True
scene.cycles.caustics_refractive = True
scene.render.resolution_x = width
scene.render.resolution_y = height
scene.render.resolution_percentage = 100
scene.render.filepath = out
world = bpy.data.worlds.new("tessera-env")
world.use_nodes = True
world.node_tree.nodes["Background"].inputs[0].default_value = (0.05, 0.05, 0.06, 1.0)
world.node_tree.nodes["Background"].inputs[1].default_value = 1.0
scene.world = world

t0 = time.perf_counter()
bpy.ops.render.render(write_still=True)
secs = time.perf_counter() - t0
print(f"CYCLES_RENDER_SECONDS {secs:.3f} camera={chosen.name} threads={scene.render.threads}")
