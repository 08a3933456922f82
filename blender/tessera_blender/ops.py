"""The panel's operators: Check, Estimate, Submit, Watch, Fetch, Cancel, Accept, Withdraw.

Each chain or IPFS step is one `tessera --json` command started through `cli` (never a blocking call on the
UI thread); its documents update the scene's `Session`, which the panel draws.
"""

import math
import os
import shutil
import tempfile
from decimal import Decimal

import bpy

from . import check, cli, settings


class Session:
    """What the add-on knows about a scene in this Blender session (never saved)."""

    def __init__(self):
        self.findings = None  # list of check.Finding after Check
        self.glb = None  # the last export
        self.estimate = None  # the `estimate` document
        self.tasks = {}  # task index -> the task document of `job status --json`
        self.task_count = 0
        self.settled = False
        self.message = ""  # the last outcome, in words
        self.error = ""  # the last failure, in the CLI's words
        self.runs = {}  # label -> cli.Run in flight
        self.frames = []  # paths written by Fetch

    def busy(self, label=None):
        runs = [r for r in self.runs.values() if not r.finished]
        return any(r.label == label for r in runs) if label else bool(runs)


SESSIONS = {}


def session(scene):
    return SESSIONS.setdefault(scene.name_full, Session())


def render_shape(scene):
    """(width, height, spp, bounces, first frame, frame count, fps) from the scene's render settings."""
    r = scene.render
    width = max(1, r.resolution_x * r.resolution_percentage // 100)
    height = max(1, r.resolution_y * r.resolution_percentage // 100)
    t = scene.tessera
    cycles = getattr(scene, "cycles", None) if r.engine == "CYCLES" else None
    spp = t.samples or (cycles.samples if cycles is not None else 64)
    bounces = t.bounces or (cycles.max_bounces if cycles is not None else 8)
    frames = scene.frame_end - scene.frame_start + 1
    fps = r.fps / r.fps_base
    return width, height, spp, bounces, scene.frame_start, frames, fps


def reward_per_task(scene):
    """The reward per task as the CLI's `--reward` takes it (a decimal in ether or whole token units).

    With a price per Msample: ceil(width x height x spp x frames / 10^6 / tasks x price) gwei, as
    `tessera job estimate` computes it (docs/cli.md).
    """
    t = scene.tessera
    if t.pricing == "REWARD":
        return t.reward.strip()
    width, height, spp, _, _, frames, _ = render_shape(scene)
    tasks = frames * t.regions_x * t.regions_y
    gwei = math.ceil(Decimal(width * height * spp * frames) / Decimal(10**6) / tasks * Decimal(repr(t.price_gwei)))
    return format(Decimal(max(gwei, 1)) / Decimal(10**9), "f")


def shape_args(scene):
    width, height, spp, bounces, _, frames, fps = render_shape(scene)
    t = scene.tessera
    args = ["--width", str(width), "--height", str(height), "--spp", str(spp), "--bounces", str(bounces),
            "--frames", str(frames), "--regions", f"{t.regions_x}x{t.regions_y}", "--fps", repr(float(fps))]
    rgb, hdr = check.look(scene.world)
    args += ["--env", ",".join(repr(float(c)) for c in rgb)]
    if hdr:
        args += ["--env-map", hdr]
    return args


def export_dir(scene):
    base = bpy.app.tempdir or tempfile.gettempdir()
    return os.path.join(base, "tessera", bpy.path.clean_name(scene.name_full))


def _cli_env(context):
    prefs = settings.preferences(context)
    network = prefs.network() if prefs else {}
    password = getattr(context.window_manager, "tessera_password", "")
    return cli.find_cli(prefs.cli if prefs else ""), cli.environment(network, context.scene.tessera.keystore, password)


def run_cli(context, label, args, on_doc=None, on_ok=None):
    """Starts `tessera --json ARGS` for the context's scene; the outcome lands in its Session."""
    scene = context.scene
    s = session(scene)
    exe, env = _cli_env(context)

    def done(error):
        s.runs.pop(label, None)
        if error:
            s.error = f"{label}: {error}"
        elif on_ok is not None:
            on_ok()

    s.error = ""
    run = cli.Run(label, [exe, "--json", *args], env, on_doc=on_doc, on_done=done)
    s.runs[label] = run
    try:
        cli.start(run)
    except cli.CliError:
        s.runs.pop(label, None)
        raise
    return run


def do_check(context):
    """Exports the scene and lists the findings; returns the Session."""
    scene = context.scene
    s = session(scene)
    s.findings = check.findings(scene)
    s.glb = check.export(scene, os.path.join(export_dir(scene), "scene.glb"))
    errors = sum(f.severity == "error" for f in s.findings)
    s.message = (f"exported {os.path.basename(s.glb)} ({os.path.getsize(s.glb)} bytes); "
                 f"{errors} error(s), {len(s.findings) - errors} note(s)")
    return s


class _Operator(bpy.types.Operator):
    bl_options = {"REGISTER"}

    def execute(self, context):
        try:
            return self.run(context)
        except (cli.CliError, RuntimeError, ValueError) as e:
            session(context.scene).error = str(e)
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}


class TESSERA_OT_check(_Operator):
    bl_idname = "tessera.check"
    bl_label = "Check"
    bl_description = "Export the scene to glTF as Tessera renders it and list what will not render as in Cycles"

    def run(self, context):
        s = do_check(context)
        for f in s.findings:
            self.report({"WARNING" if f.severity == "error" else "INFO"}, str(f))
        self.report({"INFO"}, s.message)
        return {"FINISHED"}


class TESSERA_OT_estimate(_Operator):
    bl_idname = "tessera.estimate"
    bl_label = "Estimate"
    bl_description = "Export, then measure a preview render here: tasks, Msamples, time and the bounty"

    def run(self, context):
        scene = context.scene
        s = do_check(context)
        t = scene.tessera
        price = t.price_gwei
        if t.pricing == "REWARD":
            # The reward per task as a price, so that the estimate's bounty is the one submitted.
            width, height, spp, _, _, frames, _ = render_shape(scene)
            per_task = width * height * spp * frames / 1e6 / (frames * t.regions_x * t.regions_y)
            price = float(Decimal(t.reward) * Decimal(10**9)) / max(per_task, 1e-12)

        def on_doc(doc):
            if doc.get("kind") == "estimate":
                s.estimate = doc
                s.message = "estimate ready"

        run_cli(context, "Estimate", ["job", "estimate", s.glb, *shape_args(scene),
                                      "--price-gwei-per-msample", repr(price),
                                      "--verifier-fee-bps", str(t.verifier_fee_bps)], on_doc)
        return {"FINISHED"}


class TESSERA_OT_submit(_Operator):
    bl_idname = "tessera.submit"
    bl_label = "Submit"
    bl_description = "Export, upload the scene to IPFS and post the job with its escrow (signs with the keystore)"

    def run(self, context):
        scene = context.scene
        t = scene.tessera
        s = do_check(context)
        errors = [f for f in s.findings if f.severity == "error"]
        if errors and not t.allow_findings:
            raise ValueError(f"not submitted: Check found {len(errors)} thing(s) that will not render as in "
                             f"Cycles, first: {errors[0]} (fix them, or tick 'Submit despite findings')")
        if s.busy("Submit"):
            raise ValueError("a submission is already under way")
        first = scene.frame_start
        if first < 0:
            raise ValueError(f"the frame range starts at {first}; Tessera's frames start at 0")
        args = ["job", "submit", s.glb, *shape_args(scene), "--frame-start", str(first),
                "--reward", reward_per_task(scene), "--deadline", t.deadline, "--quorum", str(t.quorum),
                "--verifier-fee-bps", str(t.verifier_fee_bps), "--challenge-window", t.challenge_window,
                "--stake", t.stake, "--cell-size", str(t.cell_size)]
        if t.token.strip():
            args += ["--token", t.token.strip()]
        if t.optimistic:
            args.append("--optimistic")
        scene_name = scene.name_full

        def on_doc(doc):
            if doc.get("kind") == "submitted":
                target = bpy.data.scenes.get(scene_name)
                if target is not None:
                    target.tessera.job_id = int(doc["jobId"])
                s.tasks, s.settled, s.frames = {}, False, []
                s.task_count = int(doc["tasks"])
                s.message = f"job {doc['jobId']} posted: {doc['tasks']} tasks, scene {doc['sceneCid']}"

        def on_ok():
            target = bpy.data.scenes.get(scene_name)
            if target is not None and target.tessera.job_id:
                start_watch(bpy.context, target)

        run_cli(context, "Submit", args, on_doc, on_ok)
        return {"FINISHED"}


def start_watch(context, scene):
    """Follows the scene's job (`job status --watch --json`) into its Session until every task settles."""
    s = session(scene)
    job = scene.tessera.job_id
    if s.busy("Watch"):
        return s.runs["Watch"]

    def on_doc(doc):
        kind = doc.get("kind")
        if kind == "status":
            s.task_count = int(doc.get("job", {}).get("taskCount") or len(doc.get("tasks", [])))
            s.tasks = {int(t["task"]): t for t in doc.get("tasks", [])}
            s.settled = bool(doc.get("settled"))
        elif kind == "task":
            t = doc["task"]
            s.tasks[int(t["task"])] = t
        elif kind == "settled":
            s.settled = True
            s.message = f"job {job} settled: " + ", ".join(f"{n} {k}" for k, n in sorted(doc["counts"].items()))

    # The context may be a timer's, without a scene of its own: run for this scene explicitly.
    override = _SceneContext(context, scene)
    return run_cli(override, "Watch", ["job", "status", str(job), "--watch"], on_doc)


class _SceneContext:
    """The pieces of a context `run_cli` reads, for a given scene."""

    def __init__(self, context, scene):
        self.scene = scene
        self.window_manager = context.window_manager
        self.preferences = context.preferences


class TESSERA_OT_watch(_Operator):
    bl_idname = "tessera.watch"
    bl_label = "Watch"
    bl_description = "Follow the job's tasks live (claims, results, committees, payments)"

    def run(self, context):
        if not context.scene.tessera.job_id:
            raise ValueError("no job: submit one first, or enter its id")
        start_watch(context, context.scene)
        return {"FINISHED"}


def output_path(scene, frame, ext):
    """Where Blender would write `frame` (the output path with its `#` run or a 4-digit number), as `ext`."""
    path = scene.render.frame_path(frame=frame)
    if scene.render.use_file_extension:
        root, old = os.path.splitext(path)
        if old:
            path = root
    return path + ext


def place_frames(scene, fetched):
    """Copies the verified frames of a `fetched` document to the scene's output path; returns the paths."""
    written = []
    for f in fetched.get("frames", []):
        for key, ext in (("png", ".png"), ("exr", ".exr")):
            src = f.get(key)
            if src:
                dst = output_path(scene, int(f["frame"]), ext)
                os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
                shutil.copyfile(src, dst)
                written.append(dst)
    return written


def show_image(path):
    """Loads `path` and shows it in an Image Editor when the screen has one."""
    img = bpy.data.images.load(path, check_existing=True)
    img.reload()
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type == "IMAGE_EDITOR":
                area.spaces.active.image = img
                return img
    return img


class TESSERA_OT_fetch(_Operator):
    bl_idname = "tessera.fetch"
    bl_label = "Fetch"
    bl_description = ("Download the job's frames, check every cell against the roots on-chain, write them to "
                      "the output path (####) as PNG and EXR, and open the first")

    def run(self, context):
        scene = context.scene
        job = scene.tessera.job_id
        if not job:
            raise ValueError("no job: submit one first, or enter its id")
        s = session(scene)
        tmp = os.path.join(export_dir(scene), f"job-{job}")
        args = ["job", "fetch", str(job), "-o", tmp]
        if scene.tessera.exr:
            args.append("--exr")
        scene_name = scene.name_full

        def on_doc(doc):
            if doc.get("kind") != "fetched":
                return
            target = bpy.data.scenes.get(scene_name)
            if target is None:
                return
            s.frames = place_frames(target, doc)
            pngs = [p for p in s.frames if p.endswith(".png")]
            missing = doc["taskCount"] - len(doc["tasks"])
            s.message = (f"{len(doc['frames'])} verified frame(s) written to "
                         f"{os.path.dirname(pngs[0]) if pngs else '-'}"
                         + (f"; {missing} task(s) without a result yet" if missing else ""))
            if pngs:
                show_image(pngs[0])

        run_cli(context, "Fetch", args, on_doc)
        return {"FINISHED"}


class _Action(_Operator):
    def run(self, context):
        scene = context.scene
        job = scene.tessera.job_id
        if not job and self.needs_job:
            raise ValueError("no job: submit one first, or enter its id")
        s = session(scene)

        def on_doc(doc):
            s.message = self.describe(doc)

        run_cli(context, self.bl_label, self.args(scene), on_doc)
        return {"FINISHED"}

    needs_job = True


def _eth(wei):
    return format(Decimal(int(wei)) / Decimal(10**18), "f")


class TESSERA_OT_cancel(_Action):
    bl_idname = "tessera.cancel"
    bl_label = "Cancel job"
    bl_description = "Cancel the job: the escrow of its open tasks is credited back (then Withdraw)"

    def args(self, scene):
        return ["job", "cancel", str(scene.tessera.job_id)]

    def describe(self, doc):
        return f"job {doc['jobId']} cancelled; {_eth(doc['creditedWei'])} credited (Withdraw to collect it)"

    def invoke(self, context, event):
        return context.window_manager.invoke_confirm(self, event)


class TESSERA_OT_accept(_Action):
    bl_idname = "tessera.accept"
    bl_label = "Accept task"
    bl_description = "Pay a submitted task now, without waiting for its verification"

    def args(self, scene):
        return ["job", "accept", str(scene.tessera.job_id), str(scene.tessera.accept_task)]

    def describe(self, doc):
        return f"task {doc['task']} of job {doc['jobId']} accepted and paid"


class TESSERA_OT_withdraw(_Action):
    bl_idname = "tessera.withdraw"
    bl_label = "Withdraw"
    bl_description = "Withdraw the account's credited refunds and payouts (in the job's token when one is set)"
    needs_job = False

    def args(self, scene):
        token = scene.tessera.token.strip()
        return ["withdraw", *(["--token", token] if token else [])]

    def describe(self, doc):
        return f"withdrew {_eth(doc['amountWei'])}"


CLASSES = (TESSERA_OT_check, TESSERA_OT_estimate, TESSERA_OT_submit, TESSERA_OT_watch, TESSERA_OT_fetch,
           TESSERA_OT_cancel, TESSERA_OT_accept, TESSERA_OT_withdraw)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    for s in SESSIONS.values():
        for run in s.runs.values():
            run.stop()
    SESSIONS.clear()
