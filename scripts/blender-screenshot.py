"""The Tessera panel's screenshot for docs/blender.md, taken in a real Blender window (run by
scripts/blender-screenshot.sh under Xvfb): a scene with an area light and a procedural texture, after Check
and Estimate, the panel in a Properties editor that fills the window.

Environment: TESSERA_ADDON_ZIP, TESSERA_CLI, SHOT_OUT (the PNG to write).
"""

import os

import bpy

bpy.ops.preferences.addon_install(filepath=os.environ["TESSERA_ADDON_ZIP"], overwrite=True)
bpy.ops.preferences.addon_enable(module="tessera_blender")
import tessera_blender  # noqa: E402

bpy.context.preferences.addons["tessera_blender"].preferences.cli = os.environ["TESSERA_CLI"]
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.samples = 64
scene.frame_start, scene.frame_end = 1, 24
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1280, 720, 50
scene.tessera.regions_x = scene.tessera.regions_y = 2
mat = bpy.data.materials["Material"]
noise = mat.node_tree.nodes.new("ShaderNodeTexNoise")
mat.node_tree.links.new(noise.outputs["Color"], mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"])
bpy.data.lights["Light"].type = "AREA"


def window_area():
    win = bpy.context.window_manager.windows[0]
    return win, max(win.screen.areas, key=lambda a: a.width * a.height)


def layout():
    _, area = window_area()
    area.type = "PROPERTIES"
    bpy.app.timers.register(lambda: setattr(area.spaces.active, "context", "RENDER"), first_interval=0.3)


def act():
    win, area = window_area()
    with bpy.context.temp_override(window=win, area=area, scene=scene):
        bpy.ops.tessera.check()
        bpy.ops.tessera.estimate()


def shoot():
    if tessera_blender.cli.RUNS:
        return 0.5
    win, area = window_area()
    area.tag_redraw()

    def final():
        with bpy.context.temp_override(window=win, area=area):
            bpy.ops.screen.screenshot_area(filepath=os.environ["SHOT_OUT"])
        bpy.ops.wm.quit_blender()

    bpy.app.timers.register(final, first_interval=1.5)


bpy.app.timers.register(layout, first_interval=1.0)
bpy.app.timers.register(act, first_interval=2.0)
bpy.app.timers.register(shoot, first_interval=4.0)
