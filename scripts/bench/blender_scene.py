"""A scene made in Blender and exported the way the Blender add-on exports it, for the fidelity suite.

blender -b --factory-startup --python scripts/bench/blender_scene.py -- OUT.glb

Built with bpy from Blender's own units and materials — a point light (W), a spot light (W, cone and
blend), a sun (W/m²), Principled BSDF materials (a rough dielectric, a metal, an image texture, an emitter
with an emission strength above 1) on a floor, two spheres, a cube and a small ball — then written by the
add-on's own export (`blender/tessera_blender/check.py`: `export_options`, the exporter's physically based
light units), so that the fidelity benchmark checks the add-on's path from Blender's units to tessera's
picture against Cycles on the same exported scene.
"""

import math
import os
import sys

import bpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "blender"))
from tessera_blender import check  # noqa: E402

out = sys.argv[sys.argv.index("--") + 1]


def principled(name, color, roughness, metallic=0.0):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    return mat, bsdf


def add(obj, mat):
    obj.data.materials.append(mat)
    return obj


scene = bpy.context.scene
for obj in list(scene.objects):
    bpy.data.objects.remove(obj, do_unlink=True)
scene.render.resolution_x = scene.render.resolution_y = 200
scene.render.resolution_percentage = 100
scene.frame_start = scene.frame_end = 0

bpy.ops.mesh.primitive_plane_add(size=12, location=(0, 0, 0))
add(bpy.context.active_object, principled("Floor", (0.55, 0.55, 0.55), 0.6)[0])
bpy.ops.mesh.primitive_uv_sphere_add(radius=0.8, segments=48, ring_count=24, location=(-1.3, 0.3, 0.8))
bpy.ops.object.shade_smooth()
add(bpy.context.active_object, principled("RedPlastic", (0.7, 0.08, 0.05), 0.35)[0])
bpy.ops.mesh.primitive_uv_sphere_add(radius=0.7, segments=48, ring_count=24, location=(1.2, 0.8, 0.7))
bpy.ops.object.shade_smooth()
add(bpy.context.active_object, principled("Gold", (1.0, 0.77, 0.34), 0.3, metallic=1.0)[0])

bpy.ops.mesh.primitive_cube_add(size=0.9, location=(0.4, -1.2, 0.45), rotation=(0, 0, math.radians(30)))
cube = bpy.context.active_object
mat, bsdf = principled("Checker", (1, 1, 1), 0.5)
img = bpy.data.images.new("checker", 64, 64)
px = []
for y in range(64):
    for x in range(64):
        c = (0.85, 0.8, 0.2) if (x // 8 + y // 8) % 2 else (0.1, 0.25, 0.7)
        px += [*c, 1.0]
img.pixels = px
img.pack()
tex = mat.node_tree.nodes.new("ShaderNodeTexImage")
tex.image = img
mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
add(cube, mat)

bpy.ops.mesh.primitive_uv_sphere_add(radius=0.25, location=(-0.3, 1.6, 0.25))
mat, bsdf = principled("Ember", (0.0, 0.0, 0.0), 0.5)
bsdf.inputs["Emission"].default_value = (1.0, 0.55, 0.2, 1.0)
bsdf.inputs["Emission Strength"].default_value = 4.0
add(bpy.context.active_object, mat)


def light(kind, name, energy, location, rotation=(0, 0, 0)):
    data = bpy.data.lights.new(name, kind)
    data.energy = energy
    if kind in ("POINT", "SPOT"):
        data.shadow_soft_size = 0.0
    else:
        data.angle = 0.0
    obj = bpy.data.objects.new(name, data)
    obj.location = location
    obj.rotation_euler = rotation
    scene.collection.objects.link(obj)
    return data


light("POINT", "Point", 250.0, (2.5, -2.0, 3.0))
spot = light("SPOT", "Spot", 500.0, (-3.0, -2.5, 4.0), (math.radians(40), 0, math.radians(-50)))
spot.spot_size = math.radians(55)
spot.spot_blend = 0.25
light("SUN", "Sun", 1.2, (0, 0, 10), (math.radians(50), 0, math.radians(30)))

cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
cam.data.lens = 35
cam.location = (0.0, -7.5, 3.8)
cam.rotation_euler = (math.radians(65), 0, 0)
scene.collection.objects.link(cam)
scene.camera = cam

found = [str(f) for f in check.findings(scene) if f.severity == "error"]
if found:
    raise SystemExit(f"the scene has findings: {found}")
check.export(scene, os.path.abspath(out))
print(f"exported {out}")
