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

import bpy
from bpy.app.handlers import persistent

from . import ops, settings, ui

_stash = {}


@persistent
def _before_save(*_args):
    # The password lives on the window manager, which a .blend also stores: blank it while saving.
    wm = bpy.context.window_manager
    if wm is not None and getattr(wm, "tessera_password", ""):
        _stash["password"] = wm.tessera_password
        wm.tessera_password = ""


@persistent
def _after_save(*_args):
    wm = bpy.context.window_manager
    if wm is not None and "password" in _stash:
        wm.tessera_password = _stash.pop("password")


def register():
    settings.register()
    ops.register()
    ui.register()
    bpy.app.handlers.save_pre.append(_before_save)
    bpy.app.handlers.save_post.append(_after_save)


def unregister():
    for handlers, fn in ((bpy.app.handlers.save_pre, _before_save), (bpy.app.handlers.save_post, _after_save)):
        if fn in handlers:
            handlers.remove(fn)
    ui.unregister()
    ops.unregister()
    settings.unregister()
