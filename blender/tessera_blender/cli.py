"""The `tessera` command line, run without blocking Blender.

The add-on reaches the chain, IPFS and keys only through the CLI (docs/cli.md): it holds no secrets and no
Ethereum code of its own. Each command runs as a child process with `--json`, whose stdout is one JSON
document per line; reader threads collect the documents and the stderr lines, and the main thread takes them
in `Run.poll`, called by a `bpy.app.timers` timer in the UI (every 0.25 s) or by `wait` in background mode.
Nothing here touches `bpy` data from a thread.
"""

import json
import os
import queue
import shutil
import subprocess
import threading
import time

#: Environment variables the CLI reads for its network settings (docs/cli.md).
NETWORK_ENV = {
    "rpc_url": "TESSERA_RPC_URL",
    "deployment": "TESSERA_DEPLOYMENT",
    "indexer_url": "TESSERA_INDEXER_URL",
    "ipfs_api": "TESSERA_IPFS_API",
}


def resolve(path):
    """A path as the artist typed or picked it: Blender's `//` (relative to the .blend) made absolute."""
    try:
        import bpy

        return bpy.path.abspath(path)
    except ImportError:
        return path


class CliError(Exception):
    """A CLI that cannot be started, or a command that failed; the message is the CLI's own words."""


def find_cli(configured=""):
    """The `tessera` executable: the add-on preference, else `$TESSERA_CLI`, else `tessera` on `PATH`.

    Raises `CliError` naming what was tried when none is found.
    """
    for candidate in (configured, os.environ.get("TESSERA_CLI", "")):
        if candidate:
            path = os.path.abspath(os.path.expanduser(resolve(candidate)))
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
            raise CliError(f"the tessera CLI at {path} does not exist or is not executable")
    found = shutil.which("tessera")
    if found:
        return found
    raise CliError(
        "the tessera CLI was not found: install it (cargo install --path crates/cli) and put it on PATH, "
        "or set its path in the add-on's preferences"
    )


def environment(network, keystore="", password=""):
    """The CLI's environment: Blender's own, with the network settings given (non-empty values of
    `network`, keyed as `NETWORK_ENV`), the keystore path and the keystore password.

    The password goes through the environment, never the command line (which other users can list); when
    one is given it replaces a password file named by `TESSERA_KEYSTORE_PASSWORD_FILE`.
    """
    env = dict(os.environ)
    for key, var in NETWORK_ENV.items():
        value = (network.get(key) or "").strip()
        if value:
            env[var] = resolve(value) if key == "deployment" else value
    if keystore:
        env["TESSERA_KEYSTORE"] = os.path.abspath(os.path.expanduser(resolve(keystore)))
    if password:
        env["TESSERA_KEYSTORE_PASSWORD"] = password
        env.pop("TESSERA_KEYSTORE_PASSWORD_FILE", None)
    return env


class Run:
    """One CLI command in a child process.

    `on_doc(doc)` is called on the main thread for each JSON document but error documents, in order;
    `on_done(error)` once at the end, with `None` on success or the CLI's error message. Stdin is closed,
    and the child has no controlling terminal (a session of its own), so a command that would prompt gets
    no answer and fails with its own message instead of hanging (under `--json` the CLI never prompts).
    """

    def __init__(self, label, argv, env, on_doc=None, on_done=None):
        self.label = label
        self.argv = list(argv)
        self.env = env
        self.on_doc = on_doc or (lambda doc: None)
        self.on_done = on_done or (lambda error: None)
        self.log = []  # stderr lines, for the panel and for error messages
        self.error = None
        self.finished = False
        self._events = queue.Queue()
        self._proc = None

    def start(self):
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                # Its own session: no controlling terminal, so nothing can wait on a prompt there.
                start_new_session=os.name == "posix",
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as e:
            raise CliError(f"cannot run {self.argv[0]}: {e}") from e
        threading.Thread(target=self._read, args=(self._proc.stdout, "out"), daemon=True).start()
        threading.Thread(target=self._read, args=(self._proc.stderr, "err"), daemon=True).start()
        threading.Thread(target=self._wait, daemon=True).start()
        return self

    def _read(self, stream, which):
        for line in stream:
            self._events.put((which, line.rstrip("\n")))
        self._events.put((which + "-eof", None))

    def _wait(self):
        code = self._proc.wait()
        self._events.put(("exit", code))

    def poll(self):
        """Takes what the threads collected; returns whether the command has finished (and `on_done` ran)."""
        while not self.finished:
            try:
                kind, value = self._events.get_nowait()
            except queue.Empty:
                break
            if kind == "out":
                self._document(value)
            elif kind == "err":
                if value.strip():
                    self.log.append(value)
                    del self.log[:-200]
            elif kind == "exit":
                self._exit_code = value
            self._maybe_finish(kind)
        return self.finished

    def _document(self, line):
        if not line.strip():
            return
        try:
            doc = json.loads(line)
        except ValueError:
            self.log.append(line)
            return
        if not isinstance(doc, dict):
            self.log.append(line)
            return
        if doc.get("kind") == "error":
            self.error = str(doc.get("error", "failed"))
            return
        try:
            self.on_doc(doc)
        except Exception as e:  # a document the add-on cannot use must not stall the other commands
            self.error = self.error or f"unexpected output from the CLI ({type(e).__name__}: {e}): {line[:200]}"
            self.stop()

    _eofs = 0
    _exit_code = None

    def _maybe_finish(self, kind):
        if kind in ("out-eof", "err-eof"):
            self._eofs += 1
        if self._eofs < 2 or self._exit_code is None:
            return
        self.finished = True
        if self._exit_code != 0 and self.error is None:
            tail = [line for line in self.log if line.startswith("error:")] or self.log[-1:]
            text = tail[-1] if tail else f"exit status {self._exit_code}"
            self.error = text[len("error:"):].strip() if text.startswith("error:") else text
        try:
            self.on_done(self.error)
        except Exception as e:
            print(f"tessera: {self.label}: {type(e).__name__}: {e}")

    def stop(self):
        """Ends the child process (the command's effect on the chain, if it already sent one, stays)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()


#: Commands in flight, polled by the timer.
RUNS = []


def start(run):
    """Starts `run` and has it polled until it ends (a timer in the UI; `wait` in background mode)."""
    run.start()
    RUNS.append(run)
    try:
        import bpy

        if not bpy.app.background and not bpy.app.timers.is_registered(_tick):
            bpy.app.timers.register(_tick, first_interval=0.1, persistent=True)
    except ImportError:  # outside Blender (unit tests of this module)
        pass
    return run


def _tick():
    poll_all()
    try:
        import bpy

        for window in bpy.context.window_manager.windows:
            for area in window.screen.areas:
                if area.type == "PROPERTIES":
                    area.tag_redraw()
    except (ImportError, AttributeError, ReferenceError):
        pass
    return 0.25 if RUNS else None


def poll_all():
    for run in list(RUNS):
        try:
            done = run.poll()
        except Exception as e:  # never let one command stop the timer that polls the others
            run.error = run.error or f"{type(e).__name__}: {e}"
            run.stop()
            run.finished = done = True
            try:
                run.on_done(run.error)
            except Exception as e2:
                print(f"tessera: {run.label}: {type(e2).__name__}: {e2}")
        if done:
            RUNS.remove(run)


def stop_all(keep=()):
    """Ends every command in flight but those labelled in `keep` (on quit, on loading another file, on
    disabling the add-on)."""
    for run in list(RUNS):
        if run.label not in keep:
            run.stop()
            RUNS.remove(run)


def wait(run=None, timeout=600.0):
    """Polls until `run` (or every command in flight) has finished: for background mode and scripts, where
    no timer fires while a script runs. Raises `CliError` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (run is not None and not run.finished) or (run is None and RUNS):
        if time.monotonic() > deadline:
            raise CliError(f"{(run.label if run else 'the CLI')} did not finish in {timeout:.0f} s")
        poll_all()
        time.sleep(0.05)
    poll_all()
