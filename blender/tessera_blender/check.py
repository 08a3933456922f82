"""Check: the scene exported the way Tessera renders it, and what will not render as in Cycles.

The export is Blender's own glTF exporter (io_scene_gltf2) with the options that match the renderer
(docs/blender.md): the active scene's renderable objects with modifiers applied, the active camera, lights
in the exporter's physically based units (`SPEC`: W to candela and lux, the units the renderer reads, as
Blender's importer reads them back), materials, and the animation sampled on every frame of the frame range.

The findings are what the export or the renderer leaves out, or approximates, found by reading the scene:
each names the object or material, what is wrong and what to do. `error` findings change the picture (a
volume that is dropped, a light that is not exported) and stop Submit unless the artist allows them; `note`
findings are approximations worth knowing.
"""

import json
import os
import struct

import bpy

#: Shader nodes the glTF exporter turns into glTF materials (and the renderer reads); others are dropped.
EXPORTED_NODES = {
    "OUTPUT_MATERIAL", "BSDF_PRINCIPLED", "EMISSION", "TEX_IMAGE", "NORMAL_MAP", "MAPPING", "TEX_COORD",
    "UVMAP", "SEPRGB", "SEPARATE_COLOR", "SEPXYZ", "SEPARATE_XYZ", "BSDF_TRANSPARENT", "MIX_SHADER",
    "ADD_SHADER", "VERTEX_COLOR", "ATTRIBUTE", "REROUTE", "GROUP_INPUT", "GROUP_OUTPUT", "BUMP",
    "MIX_RGB", "MIX", "MATH", "VALUE", "RGB", "LIGHT_PATH", "BSDF_DIFFUSE", "BACKGROUND", "NORMAL",
}

#: Modifiers whose result changes with time through a simulation or an effect that the export applies once,
#: at the current frame (glTF animates transforms, skins and shape keys, not modifier stacks).
SIMULATIONS = {"CLOTH", "SOFT_BODY", "FLUID", "DYNAMIC_PAINT", "OCEAN", "EXPLODE", "WAVE", "MESH_CACHE",
               "MESH_SEQUENCE_CACHE"}

#: Object types the glTF export leaves out (GPENCIL before 4.3, GREASEPENCIL after; CURVES is hair).
NOT_EXPORTED = {"VOLUME", "GPENCIL", "GREASEPENCIL", "META", "POINTCLOUD", "CURVES"}

#: Node groups the glTF exporter itself reads (its settings group); every other group is not entered.
EXPORTER_GROUPS = {"glTF Settings", "glTF Material Output"}


class Finding:
    """One thing that will not render as in Cycles: `severity` is "error" or "note"."""

    def __init__(self, severity, where, message):
        self.severity = severity
        self.where = where
        self.message = message

    def __str__(self):
        return f"{self.where}: {self.message}"


def _material_output(tree):
    """The material output that renders: the active one, else the first."""
    outputs = [n for n in tree.nodes if n.type == "OUTPUT_MATERIAL"]
    return next((n for n in outputs if n.is_active_output), outputs[0] if outputs else None)


def _linked_nodes(tree, socket_names=("Surface",)):
    """Nodes upstream of the material output's named inputs (a node group counts as one node)."""
    out = _material_output(tree)
    if out is None:
        return []
    seen, stack = [], [s for s in out.inputs if s.name in socket_names and s.is_linked]
    while stack:
        socket = stack.pop()
        for link in socket.links:
            node = link.from_node
            if node in seen or link.is_muted:
                continue
            seen.append(node)
            stack.extend(s for s in node.inputs if s.is_linked)
    return seen


def _material_findings(mat, users):
    found = []
    where = f"material '{mat.name}' (on {', '.join(sorted(users))})"
    if not mat.use_nodes or mat.node_tree is None:
        return found
    tree = mat.node_tree
    out = _material_output(tree)
    if out is not None:
        volume = out.inputs.get("Volume")
        if volume is not None and volume.is_linked:
            found.append(Finding(
                "error", where,
                "has a volume shader; glTF has no volumes, so the volume is dropped (bake it into "
                "geometry and textures, or remove it)"))
        displacement = out.inputs.get("Displacement")
        if displacement is not None and displacement.is_linked:
            found.append(Finding(
                "note", where, "has displacement; it is not exported (apply it as geometry to keep it)"))
    for node in _linked_nodes(tree):
        if node.type == "GROUP":
            name = node.node_tree.name if node.node_tree is not None else node.name
            if name not in EXPORTER_GROUPS:
                found.append(Finding(
                    "error", where,
                    f"uses the node group '{name}'; the glTF export does not look inside groups, so what it "
                    "computes is dropped (ungroup it: Ctrl+Alt+G)"))
            continue
        if node.type not in EXPORTED_NODES:
            found.append(Finding(
                "error", where,
                f"uses the '{node.bl_label}' node ({node.bl_idname}), which the glTF export drops; bake it "
                "to an image texture on a Principled BSDF"))
    return found


def _world_findings(world):
    found = []
    if world is None or not world.use_nodes or world.node_tree is None:
        return found
    out = next((n for n in world.node_tree.nodes if n.type == "OUTPUT_WORLD"), None)
    if out is not None:
        volume = out.inputs.get("Volume")
        if volume is not None and volume.is_linked:
            found.append(Finding("error", f"world '{world.name}'", "has a volume shader, which is not rendered"))
    surface = out.inputs.get("Surface") if out is not None else None
    if surface is not None and surface.is_linked and _background(world) is None:
        found.append(Finding(
            "error", f"world '{world.name}'",
            f"is lit by a '{surface.links[0].from_node.bl_label}' node; only a Background node (a colour, or an "
            ".hdr environment texture) is carried with the job, so the sky renders black"))
    bg = _background(world)
    color = bg.inputs.get("Color") if bg is not None else None
    if color is not None and color.is_linked and _world_texture(world) is None:
        found.append(Finding(
            "error", f"world '{world.name}'",
            f"colours its background with a '{color.links[0].from_node.bl_label}' node; only a plain colour or an "
            ".hdr environment texture is carried with the job, so the sky renders black (bake it to an .hdr)"))
    if look(world)[1] is None and _world_texture(world) is not None:
        found.append(Finding(
            "error", f"world '{world.name}'",
            "is lit by an image that is not a Radiance .hdr file; only .hdr environment maps are carried "
            "with the job (save it as .hdr)"))
    return found


def _background(world):
    tree = world.node_tree if world is not None and world.use_nodes else None
    if tree is None:
        return None
    out = next((n for n in tree.nodes if n.type == "OUTPUT_WORLD"), None)
    surface = out.inputs.get("Surface") if out is not None else None
    if surface is None or not surface.is_linked:
        return None
    node = surface.links[0].from_node
    return node if node.type == "BACKGROUND" else None


def _world_texture(world):
    bg = _background(world)
    if bg is None:
        return None
    color = bg.inputs.get("Color")
    if color is None or not color.is_linked:
        return None
    node = color.links[0].from_node
    return node if node.type == "TEX_ENVIRONMENT" and node.image is not None else None


def look(world):
    """The sky the job carries: (r, g, b) radiance and the path of a `.hdr` environment map or None.

    A world's Background node gives them: its colour times its strength, or its environment texture (the
    colour is then the map's multiplier, the strength in each channel). Without nodes, the world colour.
    """
    if world is None:
        return (0.0, 0.0, 0.0), None
    bg = _background(world)
    if bg is None:
        if not world.use_nodes:
            return tuple(world.color), None
        return (0.0, 0.0, 0.0), None
    strength = bg.inputs["Strength"].default_value
    tex = _world_texture(world)
    if tex is not None:
        path = bpy.path.abspath(tex.image.filepath)
        if path.lower().endswith(".hdr") and os.path.isfile(path):
            return (strength, strength, strength), path
        return (strength, strength, strength), None
    color = bg.inputs["Color"].default_value
    return (color[0] * strength, color[1] * strength, color[2] * strength), None


def _render_collections(scene):
    """The collections whose objects render: not hidden from render, not excluded from the view layer,
    and under such collections only."""
    visible = set()
    layer = scene.view_layers[0].layer_collection if scene.view_layers else None

    def walk(collection, lc):
        visible.add(collection)
        for child in collection.children:
            child_lc = lc.children.get(child.name) if lc is not None else None
            if child.hide_render or (child_lc is not None and child_lc.exclude):
                continue
            walk(child, child_lc)

    walk(scene.collection, layer)
    return visible


def renderable(obj, collections):
    return not obj.hide_render and any(c in collections for c in obj.users_collection)


def findings(scene):
    """Everything in `scene` that will not render on Tessera as it does in Cycles."""
    found = []
    if scene.frame_step != 1:
        found.append(Finding("error", f"scene '{scene.name}'",
                             f"renders every {scene.frame_step}th frame; a Tessera job renders every frame of "
                             "its range (set Frame Step to 1)"))
    if scene.camera is None:
        found.append(Finding("error", f"scene '{scene.name}'", "has no active camera; set one"))
    elif scene.camera.type == "CAMERA":
        cam = scene.camera.data
        if cam.type == "PANO":
            found.append(Finding("error", f"camera '{scene.camera.name}'", "is panoramic; use a perspective camera"))
        if cam.dof.use_dof:
            found.append(Finding("note", f"camera '{scene.camera.name}'",
                                 "uses depth of field, which glTF does not carry: the frames are all in focus"))
    if scene.render.use_motion_blur:
        found.append(Finding("note", f"scene '{scene.name}'", "motion blur is not rendered"))
    materials = {}
    collections = _render_collections(scene)
    for obj in scene.objects:
        if not renderable(obj, collections):
            continue
        where = f"object '{obj.name}'"
        if any(c.enabled and not c.mute for c in obj.constraints) and obj.animation_data is None:
            found.append(Finding("note", where,
                                 "moves by constraints only; the export keeps its pose at the current frame "
                                 "(bake the motion: Object > Animation > Bake Action)"))
        if obj.type == "LIGHT":
            light = obj.data
            if light.type == "AREA":
                found.append(Finding("error", where,
                                     "is an area light; glTF has point, spot and sun lights only, so it is "
                                     "not exported (use a spot or point light, or an emissive plane)"))
            elif light.type in ("POINT", "SPOT") and light.shadow_soft_size > 0.25:
                found.append(Finding("note", where,
                                     f"has a {light.shadow_soft_size:.2f} m radius; it renders as a point, "
                                     "with sharper shadows than in Cycles"))
            if light.use_nodes:
                found.append(Finding("note", where, "light nodes are not exported"))
        elif obj.type in NOT_EXPORTED:
            found.append(Finding("error", where, f"is a {obj.type.lower()} object, which is not exported"))
        for mod in getattr(obj, "modifiers", []):
            if mod.type == "PARTICLE_SYSTEM":
                psys = mod.particle_system
                kind = psys.settings.type.lower()
                found.append(Finding("error", where,
                                     f"has the particle system '{psys.name}' ({kind}), which is not exported; "
                                     "convert it to a mesh (Object > Convert, or Make Instances Real)"))
            elif mod.type in SIMULATIONS and mod.show_render:
                found.append(Finding("error", where,
                                     f"has the {mod.type.lower().replace('_', ' ')} modifier '{mod.name}': the "
                                     "export applies it at one frame only, so it does not move; bake it to "
                                     "shape keys or an Alembic-free mesh sequence"))
        for slot in getattr(obj, "material_slots", []):
            if slot.material is not None:
                materials.setdefault(slot.material, set()).add(obj.name)
    for mat, users in materials.items():
        found.extend(_material_findings(mat, users))
    found.extend(_world_findings(scene.world))
    return found


def export_options():
    """The glTF exporter's options for Tessera, as the running Blender names them (3.4 and 4.x)."""
    wanted = {
        "export_format": "GLB",
        "use_active_scene": True,
        "use_renderable": True,
        "use_selection": False,
        "export_apply": True,
        "export_cameras": True,
        "export_lights": True,
        "export_materials": "EXPORT",
        "export_image_format": "AUTO",
        "export_yup": True,
        "export_animations": True,
        "export_frame_range": True,
        "export_force_sampling": True,
        "export_frame_step": 1,
        "export_current_frame": False,
        "export_extras": False,
        "convert_lighting_mode": "SPEC",  # 3.4 - 3.6
        "export_import_convert_lighting_mode": "SPEC",  # 4.x
        "export_draco_mesh_compression_enable": False,
        "check_existing": False,
    }
    known = set(bpy.ops.export_scene.gltf.get_rna_type().properties.keys())
    dropped = sorted(k for k in wanted if k not in known and k not in _RENAMED)
    if dropped:
        print(f"tessera: this Blender's glTF exporter has no option {', '.join(dropped)}; exporting without")
    return {k: v for k, v in wanted.items() if k in known}


#: Options known under another name in other Blender releases: one of each pair is always missing.
_RENAMED = {"convert_lighting_mode", "export_import_convert_lighting_mode"}


def exported_fps(path, scene):
    """The frame rate the export keyed the animation at, read back from the `.glb`: the exporter samples
    every frame of the range, so the times of a sampler input spanning n frames are n - 1 frame lengths
    (accessor `min`/`max` are required on sampler inputs by the glTF specification). Blender releases differ
    on whether `fps_base` counts; this way the job samples frame n where the export put it. Without an
    animation, the scene's own rate."""
    fallback = scene.render.fps / scene.render.fps_base
    frames = scene.frame_end - scene.frame_start + 1
    try:
        with open(path, "rb") as f:
            head = f.read(20)
            if len(head) < 20 or head[:4] != b"glTF":
                return fallback
            length, kind = struct.unpack_from("<II", head, 12)
            if kind != 0x4E4F534A:  # JSON
                return fallback
            doc = json.loads(f.read(length))
        for anim in doc.get("animations", []):
            for sampler in anim.get("samplers", []):
                acc = doc["accessors"][sampler["input"]]
                # Only a channel sampled on every frame of the range (constant channels are cut to two keys).
                if acc.get("count") != frames or frames < 2 or not acc.get("min") or not acc.get("max"):
                    continue
                lo, hi = float(acc["min"][0]), float(acc["max"][0])
                if hi > lo:
                    return (frames - 1) / (hi - lo)
    except (OSError, ValueError, KeyError, IndexError, TypeError, struct.error):
        pass
    return fallback


def export(scene, path):
    """Exports `scene` to the `.glb` at `path` with `export_options`; returns the path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    window = bpy.context.window
    if window is not None and window.scene != scene:
        window.scene = scene
    result = bpy.ops.export_scene.gltf(filepath=path, **export_options())
    if "FINISHED" not in result or not os.path.isfile(path):
        raise RuntimeError(f"the glTF export of scene '{scene.name}' failed")
    return path
