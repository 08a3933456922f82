"""The add-on's settings: per scene (saved in the .blend: nothing secret), per session (never saved), and
the add-on preferences (the CLI and the network, saved in Blender's user preferences)."""

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

ADDON = __package__


class TesseraPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON

    cli: StringProperty(
        name="Tessera CLI",
        subtype="FILE_PATH",
        description="The tessera executable (empty: $TESSERA_CLI, else tessera on PATH)",
    )
    rpc_url: StringProperty(name="RPC URL", description="Chain JSON-RPC URL (empty: $TESSERA_RPC_URL or the CLI's default)")
    deployment: StringProperty(
        name="Deployment", subtype="FILE_PATH",
        description="Deployment file of the market (empty: $TESSERA_DEPLOYMENT or the CLI's default)")
    indexer_url: StringProperty(name="Indexer URL", description="Indexer API URL (empty: $TESSERA_INDEXER_URL)")
    ipfs_api: StringProperty(name="IPFS API", description="Kubo RPC API URL (empty: $TESSERA_IPFS_API)")

    def draw(self, context):
        col = self.layout.column()
        for name in ("cli", "rpc_url", "deployment", "indexer_url", "ipfs_api"):
            col.prop(self, name)

    def network(self):
        return {k: getattr(self, k) for k in ("rpc_url", "deployment", "indexer_url", "ipfs_api")}


def preferences(context=None):
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON)
    return addon.preferences if addon is not None else None


class TesseraSettings(bpy.types.PropertyGroup):
    """What the artist sets in the panel; saved with the .blend."""

    regions_x: IntProperty(name="Columns", default=1, min=1, max=64, description="Regions per frame, across")
    regions_y: IntProperty(name="Rows", default=1, min=1, max=64, description="Regions per frame, down")
    samples: IntProperty(
        name="Samples", default=0, min=0, max=65536,
        description="Samples per pixel (0: Cycles' render samples when Cycles is the engine, else 64)")
    bounces: IntProperty(
        name="Bounces", default=0, min=0, max=64,
        description="Maximum bounces (0: Cycles' max bounces when Cycles is the engine, else 8)")
    pricing: EnumProperty(
        name="Pricing",
        items=(
            ("PRICE", "Price per Msample", "Reward each task at a price per million path samples"),
            ("REWARD", "Reward per task", "The same reward for every task"),
        ),
        default="PRICE",
    )
    price_gwei: FloatProperty(
        name="Price (gwei/Msample)", default=1000.0, min=0.0, soft_max=1e6,
        description="Price per million path samples, in gwei (or 1e-9 token units)")
    reward: StringProperty(
        name="Reward per task", default="0.001",
        description="Reward per task in ether (or whole token units when paying in a token)")
    token: StringProperty(
        name="Token", default="",
        description="Pay in this ERC-20 (0x address; empty: ETH). The approval is sent when needed")
    deadline: StringProperty(name="Deadline", default="1d", description="Time until the deadline: 90m, 12h, 2d")
    quorum: IntProperty(name="Committee", default=3, min=1, max=7,
                        description="Seats of the first verification committee")
    verifier_fee_bps: IntProperty(name="Verifier fee (bps)", default=500, min=0, max=10000,
                                  description="Verifier fee, basis points of the reward")
    optimistic: BoolProperty(name="Optimistic", default=False,
                             description="Pay a result nobody disputes within the window, without a committee")
    challenge_window: StringProperty(name="Verification phase", default="1h",
                                     description="Length of each verification phase (commit, reveal, appeal)")
    stake: StringProperty(name="Worker stake", default="0.001", description="ETH a worker locks per task")
    cell_size: IntProperty(name="Cell size", default=16, min=4, max=256,
                           description="Verification cell size in pixels (a power of two)")
    keystore: StringProperty(name="Keystore", subtype="FILE_PATH",
                             description="The keystore to sign with (empty: $TESSERA_KEYSTORE or the CLI's default)")
    allow_findings: BoolProperty(
        name="Submit despite findings", default=False,
        description="Submit even though Check found things that will not render as in Cycles")
    exr: BoolProperty(name="EXR too", default=True, description="Fetch OpenEXR frames beside the PNGs")
    job_id: IntProperty(name="Job", default=0, min=0, description="The job submitted from this scene (0: none)")
    accept_task: IntProperty(name="Task", default=0, min=0, description="Task index to accept")


_password = [""]


def password():
    """The keystore password typed in the panel this session ("" when none)."""
    return _password[0]


def _get_password(_wm):
    return _password[0]


def _set_password(_wm, value):
    _password[0] = value


def register_session_properties():
    # The value lives in this module, not in an ID property: nothing of it is in a saved .blend, an autosave,
    # the quit file or an undo step.
    bpy.types.WindowManager.tessera_password = StringProperty(
        name="Password", subtype="PASSWORD", get=_get_password, set=_set_password,
        description="Keystore password for this session (never saved; else $TESSERA_KEYSTORE_PASSWORD)")


def unregister_session_properties():
    del bpy.types.WindowManager.tessera_password


CLASSES = (TesseraPreferences, TesseraSettings)


_register, _unregister = bpy.utils.register_classes_factory(CLASSES)


def register():
    _register()
    bpy.types.Scene.tessera = PointerProperty(type=TesseraSettings)
    register_session_properties()


def unregister():
    unregister_session_properties()
    del bpy.types.Scene.tessera
    _unregister()
