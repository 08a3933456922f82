"""The "Tessera" panel in Render Properties."""

import textwrap

import bpy

from . import ops

#: How each task state is drawn in the mosaic.
STATE_ICONS = {
    "open": "CHECKBOX_DEHLT",
    "claimed": "TIME",
    "submitted": "VIEWZOOM",
    "paid": "CHECKMARK",
    "refunded": "CANCEL",
}


def _label(layout, context, text, icon="NONE"):
    """`text` on as many lines as the panel's width needs (labels do not wrap by themselves)."""
    scale = context.preferences.system.ui_scale
    chars = max(24, int(context.region.width / (7.0 * scale)) - 4)
    col = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(text, chars) or [""]):
        col.label(text=line, icon=icon if i == 0 else "BLANK1")


def _eth(wei):
    return f"{int(wei) / 1e18:.9f}".rstrip("0").rstrip(".")


class TESSERA_PT_render(bpy.types.Panel):
    bl_label = "Tessera"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        t = scene.tessera
        s = ops.session(scene)
        width, height, spp, bounces, first, frames, fps = ops.render_shape(scene)

        col = layout.column(align=True)
        col.label(text=f"Frames {first}-{first + frames - 1} at {fps:g} fps, {width}x{height}, {spp} spp, "
                       f"{bounces} bounces", icon="RENDER_ANIMATION")
        row = col.row(align=True)
        row.prop(t, "regions_x")
        row.prop(t, "regions_y")
        row = col.row(align=True)
        row.prop(t, "samples")
        row.prop(t, "bounces")

        box = layout.box()
        box.label(text="Payment", icon="FUND")
        box.prop(t, "pricing", expand=True)
        box.prop(t, "price_gwei" if t.pricing == "PRICE" else "reward")
        box.prop(t, "token")
        row = box.row(align=True)
        row.prop(t, "deadline")
        row.prop(t, "stake")

        box = layout.box()
        box.label(text="Verification", icon="CHECKBOX_HLT")
        row = box.row(align=True)
        row.prop(t, "quorum")
        row.prop(t, "verifier_fee_bps")
        row = box.row(align=True)
        row.prop(t, "challenge_window")
        row.prop(t, "cell_size")
        box.prop(t, "optimistic")

        box = layout.box()
        box.label(text="Signing", icon="LOCKED")
        box.prop(t, "keystore")
        box.prop(context.window_manager, "tessera_password")

        row = layout.row(align=True)
        row.operator("tessera.check", icon="VIEWZOOM")
        row.operator("tessera.estimate", icon="TIME")
        row.operator("tessera.submit", icon="EXPORT")
        layout.prop(t, "allow_findings")

        if s.findings is not None:
            box = layout.box()
            if not s.findings:
                box.label(text="Renders as in Cycles: nothing found", icon="CHECKMARK")
            for f in s.findings:
                _label(box, context, str(f), "ERROR" if f.severity == "error" else "INFO")
        if s.estimate:
            e = s.estimate
            box = layout.box()
            box.label(text=f"{e['tasks']} tasks, {e['msamples']:.1f} Msamples, "
                           f"~{e['renderSeconds']:.0f} s on this CPU", icon="TIME")
            unit = "tokens" if t.token.strip() else "ETH"
            box.label(text=f"bounty {_eth(e['bountyWei'])} {unit} (reward {_eth(e['rewardPerTaskWei'])} "
                           f"+ fee {_eth(e['verifierFeePerTaskWei'])} per task)")

        box = layout.box()
        row = box.row(align=True)
        row.prop(t, "job_id")
        row.operator("tessera.watch", text="", icon="FILE_REFRESH")
        if s.task_count:
            counts = {}
            for task in s.tasks.values():
                counts[task["state"]] = counts.get(task["state"], 0) + 1
            box.label(text=", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "waiting for the indexer")
            grid = box.grid_flow(columns=max(1, t.regions_x), even_columns=True, align=True)
            for i in range(s.task_count):
                task = s.tasks.get(i, {})
                state = task.get("state", "open")
                v = task.get("verification") or {}
                label = f"{i}: {state}" + (f" ({v['phase']})" if v.get("phase") else "")
                grid.label(text=label, icon=STATE_ICONS.get(state, "QUESTION"))
        row = box.row(align=True)
        row.prop(t, "exr")
        row.operator("tessera.fetch", icon="IMPORT")
        row = box.row(align=True)
        row.operator("tessera.cancel", icon="X")
        row.prop(t, "accept_task")
        row.operator("tessera.accept", icon="CHECKMARK")
        row.operator("tessera.withdraw", icon="FUND")

        for label in sorted(s.runs):
            layout.label(text=f"{label} running…", icon="SORTTIME")
        if s.message:
            _label(layout, context, s.message, "INFO")
        if s.error:
            _label(layout, context, s.error, "ERROR")


CLASSES = (TESSERA_PT_render,)


register, unregister = bpy.utils.register_classes_factory(CLASSES)
