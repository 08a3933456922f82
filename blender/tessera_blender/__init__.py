"""Tessera for Blender: render the open .blend on the Tessera market from Render Properties.

Check exports the scene to glTF the way Tessera renders it and lists what will not render as in Cycles;
Estimate, Submit, Watch, Fetch, Cancel, Accept and Withdraw run the `tessera` CLI (docs/cli.md) in the
background. See docs/blender.md.
"""

bl_info = {
    "name": "Tessera render market",
    "author": "Tessera",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Properties > Render > Tessera",
    "description": "Render on the Tessera decentralized render market: check, estimate, submit, watch, fetch",
    "doc_url": "https://github.com/tessera-render/tessera/blob/main/docs/blender.md",
    "category": "Render",
}

import atexit

import bpy
from bpy.app.handlers import persistent

from . import ops, settings, ui


@persistent
def _before_load(*_args):
    # Another file: its scenes are not these, and nothing of this one should keep running.
    ops.forget_all()


def register():
    settings.register()
    ops.register()
    ui.register()
    bpy.app.handlers.load_pre.append(_before_load)
    atexit.register(ops.forget_all)


def unregister():
    if _before_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_before_load)
    atexit.unregister(ops.forget_all)
    ui.unregister()
    ops.unregister()
    settings.unregister()
