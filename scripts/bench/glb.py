"""What the Blender-side benchmark scripts read from a .glb themselves: its JSON, its binary chunk, and the
camera tessera-render uses (the first camera node met depth-first from the default scene's roots)."""
import json
import struct


def read(path):
    """(JSON document, binary chunk) of a .glb."""
    with open(path, "rb") as f:
        data = f.read()
    json_len = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + json_len])
    return doc, data[20 + json_len + 8 :]


def first_camera_name(doc):
    """The name Blender's importer gives the camera node tessera-render uses, or None."""
    nodes = doc.get("nodes", [])
    stack = list(reversed(doc["scenes"][doc.get("scene", 0)]["nodes"]))
    while stack:
        i = stack.pop()
        n = nodes[i]
        if "camera" in n:
            return n.get("name", f"node{i}")
        stack.extend(reversed(n.get("children", [])))
    return None


def use_camera(scene, name):
    """Makes the imported camera object `name` (else the first camera) the scene's; exits without one."""
    cams = [o for o in scene.objects if o.type == "CAMERA"]
    chosen = next((o for o in cams if o.name == name), cams[0] if cams else None)
    if chosen is None:
        raise SystemExit("no camera in the scene")
    scene.camera = chosen
    return chosen
