"""The add-on under Blender 4.x's API, without a network: run by scripts/blender-4x-check.sh with PyPI's
`bpy` module (Blender as a Python module). Registers the add-on from the source tree, builds the end-to-end
test's scene (4.x socket names), has Check name a volume shader and Submit refuse it, exports with the
exporter's 4.x option names (none dropped), reads the export's frame rate back, runs Estimate through the
CLI, checks the session-only password and the output naming, and unregisters.

Environment: TESSERA_CLI (the tessera binary).
"""

import os
import sys
import tempfile

import bpy  # first: it puts Blender's script modules on the path

import addon_utils  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "blender"))
addon_utils.enable("io_scene_gltf2", default_set=True)
import tessera_blender  # noqa: E402
from tessera_blender import check  # noqa: E402

work = tempfile.mkdtemp(prefix="tessera-bpy4-")
os.environ["TESSERA_TEST_DIR"] = work
os.environ.setdefault("TESSERA_ADDON_ZIP", "unused")
source = open(os.path.join(here, "addon_test.py")).read().split("\ntry:\n    main()")[0]
test = {"__name__": "addon_test"}
exec(compile(source, "addon_test.py", "exec"), test)


def expect(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")


print("blender", bpy.app.version_string)
tessera_blender.register()
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(work, "shot.blend"))
scene, ball, cam = test["build_scene"]()
test["check_names_a_volume"](tessera_blender, scene, ball)
known = set(bpy.ops.export_scene.gltf.get_rna_type().properties.keys())
expect("export_import_convert_lighting_mode" in known, "the 4.x lighting option exists")
expect(all(k in known for k in check.export_options()), "every option passed is known")
s = tessera_blender.ops.session(scene)
expect(bpy.ops.tessera.check() == {"FINISHED"} and not s.findings, f"Check: {[str(f) for f in s.findings]}")
expect(abs(s.fps - 24.0) < 1e-6, f"the export's frame rate: {s.fps}")
scene.tessera.pricing, scene.tessera.reward = "REWARD", "0.002"
expect(bpy.ops.tessera.estimate() == {"FINISHED"}, "Estimate started")
tessera_blender.cli.wait(timeout=120)
expect(not s.error and s.estimate and s.estimate["tasks"] == 4, f"Estimate: {s.error} {s.estimate}")
bpy.context.window_manager.tessera_password = "pw"
expect(bpy.context.window_manager.tessera_password == "pw", "the password field")
expect("tessera_password" not in bpy.context.window_manager.keys(), "no ID property holds the password")
expect(tessera_blender.ops.output_path(scene, 7, ".exr").endswith("render/shot_0007.exr"), "output naming")
tessera_blender.unregister()
print("bpy4 check passed")
