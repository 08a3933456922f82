"""The panel's operators: Check, Estimate, Submit, Watch, Fetch, Cancel, Accept, Withdraw.

Each chain or IPFS step is one `tessera --json` command started through `cli` (never a blocking call on the
UI thread); its documents update the scene's `Session`, which the panel draws.
"""

import math
import os
import re
import shutil
import tempfile
import time
from decimal import Decimal, InvalidOperation

import bpy

from . import check, cli, settings


class Session:
    """What the add-on knows about a scene in this Blender session (never saved)."""

    def __init__(self):
        self.findings = None  # list of check.Finding after Check
        self.glb = None  # the last export
        self.fps = None  # the frame rate the export keyed the animation at
        self.job = None  # the job the tasks below belong to
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
    """The scene's Session, keyed by the scene itself (its address: a rename keeps it, another file's scene
    of the same name does not get it; `SESSIONS` is emptied when a file is loaded)."""
    return SESSIONS.setdefault(scene.as_pointer(), Session())


def scene_by_key(key):
    """The scene a command was started for, or None when it is gone (deleted, another file loaded)."""
    for scene in bpy.data.scenes:
        if scene.as_pointer() == key:
            return scene
    return None


#: Commands that send transactions: once started they are left to finish (a job posted, a cancel sent),
#: also when another file is loaded or Blender quits; their outcome is printed to the console as well.
WRITERS = ("Submit", "Cancel job", "Accept task", "Withdraw")


def forget_all():
    """Stops every read-only command and forgets every Session (before another file is loaded, on quit)."""
    cli.stop_all(keep=WRITERS)
    SESSIONS.clear()


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
        return decimal_amount(t.reward, "the reward per task")
    width, height, spp, _, _, frames, _ = render_shape(scene)
    tasks = frames * t.regions_x * t.regions_y
    gwei = math.ceil(Decimal(width * height * spp * frames) / Decimal(10**6) / tasks * Decimal(repr(t.price_gwei)))
    return format(Decimal(max(gwei, 1)) / Decimal(10**9), "f")


def decimal_amount(text, what):
    """`text` as a positive decimal amount (ether or whole token units), or a ValueError naming `what`."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a decimal number (e.g. 0.002)") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{what} must be a positive amount, not {text!r}")
    return format(value, "f")


def shape_args(scene, override=None):
    """The CLI's shape and look flags; `override` is the frame rate the export keyed the animation at."""
    width, height, spp, bounces, _, frames, fps = render_shape(scene)
    t = scene.tessera
    if override is not None:
        fps = override
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
    return (cli.find_cli(prefs.cli if prefs else ""),
            cli.environment(network, context.scene.tessera.keystore, settings.password()))


def run_cli(context, label, args, on_doc=None, on_ok=None):
    """Starts `tessera --json ARGS` for the context's scene; the outcome lands in its Session."""
    scene = context.scene
    s = session(scene)
    if s.busy(label):
        raise ValueError(f"{label} is already running for this scene")
    exe, env = _cli_env(context)

    def done(error):
        if s.runs.get(label) is not run:
            return  # replaced or forgotten: nothing to report to the scene
        s.runs.pop(label)
        if error:
            s.error = f"{label}: {error}"
        elif on_ok is not None:
            on_ok()

    def doc(d):
        if label in WRITERS:
            print(f"tessera: {label}: {d}")
        # A run that was replaced (a Watch of another job) no longer speaks for the scene.
        if s.runs.get(label) is run and on_doc is not None:
            on_doc(d)

    s.error = ""
    run = cli.Run(label, [exe, "--json", *args], env, on_doc=doc, on_done=done)
    s.runs[label] = run
    try:
        cli.start(run)
    except Exception as e:
        s.runs.pop(label, None)
        raise cli.CliError(f"{label} could not start: {e}") from e
    return run


def do_check(context):
    """Exports the scene and lists the findings; returns the Session."""
    scene = context.scene
    s = session(scene)
    s.findings = check.findings(scene)
    # A file per export: a command still reading the last one (an upload) keeps it.
    s.glb = check.export(scene, os.path.join(export_dir(scene), f"scene-{time.time_ns()}.glb"))
    s.fps = check.exported_fps(s.glb, scene)
    errors = sum(f.severity == "error" for f in s.findings)
    s.message = (f"exported {os.path.basename(s.glb)} ({os.path.getsize(s.glb)} bytes); "
                 f"{errors} error(s), {len(s.findings) - errors} note(s)")
    return s


class _Operator(bpy.types.Operator):
    bl_options = {"REGISTER"}

    def execute(self, context):
        try:
            return self.run(context)
        except (cli.CliError, RuntimeError, ValueError, OSError) as e:
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
        bill = (["--reward", decimal_amount(t.reward, "the reward per task")] if t.pricing == "REWARD"
                else ["--price-gwei-per-msample", repr(float(t.price_gwei))])

        def on_doc(doc):
            if doc.get("kind") == "estimate":
                s.estimate = doc
                s.message = "estimate ready"

        run_cli(context, "Estimate", ["job", "estimate", s.glb, *shape_args(scene, s.fps), *bill,
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
        args = ["job", "submit", s.glb, *shape_args(scene, s.fps), "--frame-start", str(first),
                "--reward", reward_per_task(scene), "--deadline", t.deadline, "--quorum", str(t.quorum),
                "--verifier-fee-bps", str(t.verifier_fee_bps), "--challenge-window", t.challenge_window,
                "--stake", t.stake, "--cell-size", str(t.cell_size)]
        if t.token.strip():
            args += ["--token", t.token.strip()]
        if t.optimistic:
            args.append("--optimistic")
        key = scene.as_pointer()

        def on_doc(doc):
            if doc.get("kind") == "submitted":
                target = scene_by_key(key)
                if target is not None:
                    target.tessera.job_id = int(doc["jobId"])
                s.tasks, s.settled, s.frames = {}, False, []
                s.task_count = int(doc["tasks"])
                s.message = f"job {doc['jobId']} posted: {doc['tasks']} tasks, scene {doc['sceneCid']}"

        def on_ok():
            target = scene_by_key(key)
            if target is not None and target.tessera.job_id:
                try:
                    start_watch(bpy.context, target)
                except (cli.CliError, ValueError) as e:
                    s.error = f"Watch: {e}"

        run_cli(context, "Submit", args, on_doc, on_ok)
        return {"FINISHED"}


def start_watch(context, scene):
    """Follows the scene's job (`job status --watch --json`) into its Session until every task settles."""
    s = session(scene)
    job = scene.tessera.job_id
    current = s.runs.get("Watch")
    if current is not None and not current.finished:
        if getattr(current, "job", None) == job:
            return current
        current.stop()  # another job's watch: this one replaces it
        s.runs.pop("Watch")
    if getattr(s, "job", None) != job:
        s.tasks, s.task_count, s.settled = {}, 0, False
    s.job = job

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
    run = run_cli(override, "Watch", ["job", "status", str(job), "--watch"], on_doc)
    run.job = job
    return run


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
    """Where Blender writes `frame` of an image sequence, as `ext`: the output path with its last run of `#`
    replaced by the frame number padded to the run's length, or the 4-digit frame appended when it has none.

    A `//` path needs a saved .blend (it is relative to the file); a ValueError says so.
    """
    raw = scene.render.filepath
    if raw.startswith("//") and not bpy.data.filepath:
        raise ValueError(f"the output path {raw} is relative to the .blend, which is not saved yet: save it "
                         "or set an absolute output path")
    path = bpy.path.abspath(raw)
    head, tail = os.path.split(path)
    if scene.render.use_file_extension:
        # Blender writes the format's extension in place of any image extension the path ends with.
        stem, old = os.path.splitext(tail)
        if old.lower() in IMAGE_EXTENSIONS:
            tail = stem
    runs = list(re.finditer(r"#+", tail))
    if runs:
        r = runs[-1]
        tail = f"{tail[:r.start()]}{frame:0{len(r.group())}d}{tail[r.end():]}"
    else:
        tail = f"{tail}{frame:04d}"
    return os.path.join(head, tail) + ext


IMAGE_EXTENSIONS = {".png", ".exr", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".tga", ".hdr", ".webp", ".jp2",
                    ".j2c", ".dpx", ".cin", ".rgb", ".sgi"}


def place_frames(scene, fetched):
    """Copies the frames of a `fetched` document whose every task is paid (verified, or accepted by the
    artist) to the scene's output path; returns (the paths written, the frames held back as not yet verified).

    `job fetch` checks each task's data against the root its worker committed; only payment says that the
    verification (or the artist) accepted it, so a frame with a task still submitted stays out."""
    unpaid = {int(t["frame"]) for t in fetched.get("tasks", []) if t.get("state") != "paid"}
    written, held = [], []
    for f in fetched.get("frames", []):
        if int(f["frame"]) in unpaid:
            held.append(int(f["frame"]))
            continue
        for key, ext in (("png", ".png"), ("exr", ".exr")):
            src = f.get(key)
            if src:
                dst = output_path(scene, int(f["frame"]), ext)
                os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
                shutil.copyfile(src, dst)
                written.append(dst)
    return written, held


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
        output_path(scene, scene.frame_start, ".png")  # a relative path on an unsaved file fails here
        tmp = os.path.join(export_dir(scene), f"job-{job}-{time.time_ns()}")
        args = ["job", "fetch", str(job), "-o", tmp]
        if scene.tessera.exr:
            args.append("--exr")
        key = scene.as_pointer()

        def on_doc(doc):
            if doc.get("kind") != "fetched":
                return
            target = scene_by_key(key)
            if target is None:
                return
            s.frames, held = place_frames(target, doc)
            pngs = [p for p in s.frames if p.endswith(".png")]
            missing = doc["taskCount"] - len(doc["tasks"])
            s.message = (f"{len(pngs)} verified frame(s) written to {os.path.dirname(pngs[0]) if pngs else '-'}"
                         + (f"; frame(s) {', '.join(map(str, held))} not written: a task is still being "
                            "verified" if held else "")
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
        # The operator's Python object is gone once execute returns: keep the plain function.
        describe = type(self).describe

        def on_doc(doc):
            s.message = describe(doc)

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

    @staticmethod
    def describe(doc):
        return f"job {doc['jobId']} cancelled; {_eth(doc['creditedWei'])} credited (Withdraw to collect it)"

    def invoke(self, context, event):
        return context.window_manager.invoke_confirm(self, event)


class TESSERA_OT_accept(_Action):
    bl_idname = "tessera.accept"
    bl_label = "Accept task"
    bl_description = "Pay a submitted task now, without waiting for its verification"

    def args(self, scene):
        return ["job", "accept", str(scene.tessera.job_id), str(scene.tessera.accept_task)]

    @staticmethod
    def describe(doc):
        return f"task {doc['task']} of job {doc['jobId']} accepted and paid"


class TESSERA_OT_withdraw(_Action):
    bl_idname = "tessera.withdraw"
    bl_label = "Withdraw"
    bl_description = "Withdraw the account's credited refunds and payouts (in the job's token when one is set)"
    needs_job = False

    def args(self, scene):
        token = scene.tessera.token.strip()
        return ["withdraw", *(["--token", token] if token else [])]

    @staticmethod
    def describe(doc):
        return f"withdrew {_eth(doc['amountWei'])}"


CLASSES = (TESSERA_OT_check, TESSERA_OT_estimate, TESSERA_OT_submit, TESSERA_OT_watch, TESSERA_OT_fetch,
           TESSERA_OT_cancel, TESSERA_OT_accept, TESSERA_OT_withdraw)


_register, _unregister = bpy.utils.register_classes_factory(CLASSES)


def register():
    _register()


def unregister():
    _unregister()
    forget_all()
