"""The Blender add-on end to end, run by tests/e2e/blender.rs inside `blender -b --factory-startup`:

installs the add-on from its zip, builds a small animated scene with bpy (a camera, a light, a moving
textured sphere, 4 frames), checks that Check names an unsupported feature (a volume shader) and that Submit
refuses it before anything is paid, then runs Check, Estimate, Submit (which starts Watch) and Fetch against
the local network whose settings are in the environment, and asserts that the 4 frames arrive in the output
path, verified and paid, with the sphere where the scene's own animation puts it on each frame.

Environment: TESSERA_ADDON_ZIP, TESSERA_CLI, TESSERA_TEST_DIR, the CLI's network variables, TESSERA_KEYSTORE
and TESSERA_KEYSTORE_PASSWORD_FILE (moved into the panel's keystore and password fields).
"""

import math
import os
import sys

import bpy
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

ZIP = os.environ["TESSERA_ADDON_ZIP"]
DIR = os.environ["TESSERA_TEST_DIR"]
FRAMES = range(1, 5)
WIDTH, HEIGHT = 96, 64


def step(text):
    print(f"[addon-test] {text}", flush=True)


def install():
    bpy.ops.preferences.addon_install(filepath=ZIP, overwrite=True)
    bpy.ops.preferences.addon_enable(module="tessera_blender")
    import tessera_blender  # noqa: F401

    prefs = bpy.context.preferences.addons["tessera_blender"].preferences
    prefs.cli = os.environ["TESSERA_CLI"]
    return sys.modules["tessera_blender"]


def checker(name, size=16):
    img = bpy.data.images.new(name, size, size)
    px = []
    for y in range(size):
        for x in range(size):
            on = (x // 4 + y // 4) % 2
            px += [1.0, 0.55 + 0.45 * on, 0.2, 1.0]
    img.pixels = px
    img.filepath_raw = os.path.join(DIR, f"{name}.png")
    img.file_format = "PNG"
    img.save()
    return img


def build_scene():
    scene = bpy.context.scene
    for obj in list(scene.objects):
        bpy.data.objects.remove(obj, do_unlink=True)
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 8
    scene.cycles.max_bounces = 2
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    scene.render.resolution_percentage = 100
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.frame_start, scene.frame_end = FRAMES[0], FRAMES[-1]
    scene.render.filepath = "//render/shot_####"
    scene.world = bpy.data.worlds.new("Night")
    scene.world.use_nodes = True
    bg = scene.world.node_tree.nodes["Background"]
    bg.inputs["Color"].default_value = (0.01, 0.01, 0.012, 1.0)
    bg.inputs["Strength"].default_value = 1.0

    cam_data = bpy.data.cameras.new("Camera")
    cam_data.lens = 35
    cam = bpy.data.objects.new("Camera", cam_data)
    scene.collection.objects.link(cam)
    cam.location = (0.0, -8.0, 1.0)
    cam.rotation_euler = (math.radians(83), 0.0, 0.0)
    scene.camera = cam

    sun_data = bpy.data.lights.new("Sun", "SUN")
    sun_data.energy = 3.0
    sun = bpy.data.objects.new("Sun", sun_data)
    sun.rotation_euler = (math.radians(40), math.radians(20), 0.0)
    scene.collection.objects.link(sun)

    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.6, segments=32, ring_count=16, location=(0, 0, 0))
    ball = bpy.context.active_object
    ball.name = "Ball"
    mat = bpy.data.materials.new("Checker")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    bsdf = nodes["Principled BSDF"]
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = checker("checker")
    mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    # Self-lit, so that every visible pixel of the ball stands out from the night sky.
    emission = bsdf.inputs.get("Emission Color") or bsdf.inputs["Emission"]
    mat.node_tree.links.new(tex.outputs["Color"], emission)
    if "Emission Strength" in bsdf.inputs:
        bsdf.inputs["Emission Strength"].default_value = 1.0
    ball.data.materials.append(mat)
    # Left to right and up across the frame range, linearly.
    for f, x, z in ((FRAMES[0], -2.0, -0.4), (FRAMES[-1], 2.0, 0.8)):
        ball.location = (x, 0.0, z)
        ball.keyframe_insert("location", frame=f)
    for fc in ball.animation_data.action.fcurves:
        for k in fc.keyframe_points:
            k.interpolation = "LINEAR"
    scene.frame_set(FRAMES[0])
    return scene, ball, cam


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def check_names_a_volume(addon, scene, ball):
    """Check names a volume shader before anything is paid; Submit refuses it."""
    ops = addon.ops
    fog = bpy.data.materials.new("Fog")
    fog.use_nodes = True
    nodes = fog.node_tree.nodes
    vol = nodes.new("ShaderNodeVolumePrincipled")
    fog.node_tree.links.new(vol.outputs["Volume"], nodes["Material Output"].inputs["Volume"])
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, 3, 0))
    cube = bpy.context.active_object
    cube.name = "FogBox"
    cube.data.materials.append(fog)
    expect(bpy.ops.tessera.check() == {"FINISHED"}, "Check ran")
    s = ops.session(scene)
    named = [str(f) for f in s.findings if f.severity == "error" and "volume" in f.message]
    expect(named and "'Fog'" in named[0] and "FogBox" in named[0], f"Check names the volume: {named}")
    step(f"Check named it: {named[0]}")
    # An operator that reports an error raises it in background mode.
    try:
        bpy.ops.tessera.submit()
        raise AssertionError("Submit accepted a scene with findings")
    except RuntimeError as e:
        expect("not submitted" in str(e), f"Submit says why: {e}")
    expect("not submitted" in s.error and scene.tessera.job_id == 0, f"nothing submitted: {s.error!r}")
    expect(not s.runs, "no CLI started")
    bpy.data.objects.remove(cube, do_unlink=True)
    bpy.data.materials.remove(fog)


def centroid(path, threshold=0.08):
    """Centroid (x, y) in pixels from the bottom-left of the pixels brighter than `threshold`, and their count."""
    img = bpy.data.images.load(path, check_existing=False)
    w, h = img.size
    px = list(img.pixels)
    sx = sy = n = 0
    for y in range(h):
        for x in range(w):
            i = (y * w + x) * 4
            if (px[i] + px[i + 1] + px[i + 2]) / 3 > threshold:
                sx, sy, n = sx + x + 0.5, sy + y + 0.5, n + 1
    bpy.data.images.remove(img)
    return (sx / n, sy / n, n) if n else (None, None, 0)


def main():
    os.makedirs(DIR, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(DIR, "shot.blend"))
    addon = install()
    step("add-on installed and enabled")
    scene, ball, cam = build_scene()
    check_names_a_volume(addon, scene, ball)
    ops, cli = addon.ops, addon.cli

    t = scene.tessera
    t.pricing = "REWARD"
    t.reward = "0.002"
    t.stake = "0.001"
    t.challenge_window = "20s"
    t.quorum = 3
    t.cell_size = 8
    t.keystore = os.environ.pop("TESSERA_KEYSTORE")
    with open(os.environ.pop("TESSERA_KEYSTORE_PASSWORD_FILE")) as f:
        password = f.read().strip()
    bpy.context.window_manager.tessera_password = password
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(DIR, "shot.blend"))
    with open(os.path.join(DIR, "shot.blend"), "rb") as f:
        expect(password.encode() not in f.read(), "the password is not saved in the .blend")
    expect(bpy.context.window_manager.tessera_password == password, "the password survives a save")

    s = ops.session(scene)
    expect(bpy.ops.tessera.check() == {"FINISHED"}, "Check ran")
    expect(not [f for f in s.findings if f.severity == "error"], f"no errors: {[str(f) for f in s.findings]}")
    step(f"Check: {s.message}")

    expect(bpy.ops.tessera.estimate() == {"FINISHED"}, f"Estimate started: {s.error}")
    cli.wait(timeout=300)
    expect(not s.error and s.estimate, f"estimate: {s.error}")
    e = s.estimate
    expect(e["tasks"] == 4 and e["frames"] == 4, f"4 tasks of 4 frames: {e}")
    expect(abs(e["msamples"] - WIDTH * HEIGHT * 8 * 4 / 1e6) < 1e-9, f"Msamples: {e}")
    step(f"Estimate: {e['tasks']} tasks, {e['msamples']:.3f} Msamples, bounty {e['bountyWei']} wei")

    expect(bpy.ops.tessera.submit() == {"FINISHED"}, f"Submit started: {s.error}")
    submit = s.runs["Submit"]
    cli.wait(submit, timeout=300)
    expect(not s.error and t.job_id > 0, f"submitted: {s.error} {submit.log[-5:]}")
    step(f"Submit: {s.message}")
    # Submit's success started Watch, which follows the job until every task settles.
    watch = s.runs.get("Watch")
    expect(watch is not None, "Watch follows the job")
    cli.wait(watch, timeout=600)
    expect(not s.error, f"watch: {s.error} {watch.log[-5:]}")
    states = {i: task["state"] for i, task in s.tasks.items()}
    expect(s.settled and states == {i: "paid" for i in range(4)}, f"every task paid: {states}")
    step(f"Watch: {s.message}")

    expect(bpy.ops.tessera.fetch() == {"FINISHED"}, f"Fetch started: {s.error}")
    cli.wait(timeout=300)
    expect(not s.error, f"fetch: {s.error}")
    step(f"Fetch: {s.message}")
    for f in FRAMES:
        for ext in (".png", ".exr"):
            path = bpy.path.abspath(f"//render/shot_{f:04d}{ext}")
            expect(os.path.isfile(path) and path in s.frames, f"frame {f} at {path}")
    expect(bpy.path.abspath("//render/shot_0001.png") in [i.filepath for i in bpy.data.images]
           or any(os.path.basename(i.filepath) == "shot_0001.png" for i in bpy.data.images),
           "the first frame is loaded for the Image Editor")

    # The ball where the scene's animation puts it, frame by frame.
    for f in FRAMES:
        scene.frame_set(f)
        p = world_to_camera_view(scene, cam, ball.matrix_world.translation)
        want = (p.x * WIDTH, p.y * HEIGHT)
        x, y, n = centroid(bpy.path.abspath(f"//render/shot_{f:04d}.png"))
        step(f"frame {f}: ball at ({x}, {y}) over {n} px, the animation says ({want[0]:.2f}, {want[1]:.2f})")
        expect(n > 30, f"frame {f}: the ball is visible ({n} px)")
        expect(math.hypot(x - want[0], y - want[1]) < 1.5, f"frame {f}: ball at ({x:.2f}, {y:.2f}), not {want}")
    step("all frames verified, in place and right")

    # Nothing credited yet: Withdraw fails with the CLI's words, shown in the panel.
    expect(bpy.ops.tessera.withdraw() == {"FINISHED"}, "Withdraw started")
    cli.wait(timeout=120)
    expect("nothing to withdraw" in s.error, f"Withdraw says why: {s.error!r}")
    # A second job, cancelled at once: its open tasks' escrow is credited, then withdrawn.
    first_job = t.job_id
    expect(bpy.ops.tessera.submit() == {"FINISHED"}, f"second Submit started: {s.error}")
    cli.wait(s.runs["Submit"], timeout=300)
    expect(not s.error and t.job_id > first_job, f"second job: {s.error}")
    expect(s.runs.get("Watch") is not None and s.runs["Watch"].job == t.job_id, "Watch follows the new job")
    expect(bpy.ops.tessera.cancel() == {"FINISHED"}, f"Cancel started: {s.error}")
    cli.wait(s.runs["Cancel job"], timeout=120)
    expect(not s.error and f"job {t.job_id} cancelled" in s.message, f"cancelled: {s.error!r} {s.message!r}")
    step(f"Cancel: {s.message}")
    expect(bpy.ops.tessera.withdraw() == {"FINISHED"}, "Withdraw started")
    cli.wait(s.runs["Withdraw"], timeout=120)
    expect(not s.error and s.message.startswith("withdrew "), f"withdrawn: {s.error!r} {s.message!r}")
    step(f"Withdraw: {s.message}")
    cli.stop_all()
    step("done")


try:
    main()
except Exception:
    import traceback

    traceback.print_exc()
    sys.exit(1)
