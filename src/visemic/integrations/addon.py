"""``visemic blender-addon``: the Blender add-on (``blender/visemic_blender``) as an installable
zip, written atomically. The zip is the same bytes for the same add-on (fixed file times)."""

from __future__ import annotations

import argparse
import io
import os
import zipfile
from pathlib import Path
from typing import Any

from visemic.errors import VisemicError
from visemic.outputs import atomic

ADDON_DIR = Path(__file__).parent / "blender" / "visemic_blender"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def addon_files() -> list[Path]:
    """The add-on's source files, in a stable order."""
    return sorted(p for p in ADDON_DIR.glob("*.py") if p.is_file())


def addon_zip() -> bytes:
    """The zip Blender installs (Preferences → Add-ons → Install…): one folder, visemic_blender."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in addon_files():
            info = zipfile.ZipInfo(f"{ADDON_DIR.name}/{path.name}", _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, path.read_bytes())
    return buf.getvalue()


def write_addon(path: str | os.PathLike[str]) -> Path:
    final = Path(path)
    if final.is_dir():
        raise VisemicError(f"{final} is a directory; give a file name such as visemic_addon.zip")
    if final.suffix.lower() != ".zip":
        raise VisemicError(f"the add-on is a zip: give -o NAME.zip, not {os.fspath(path)!r}")
    data = addon_zip()
    try:
        with atomic.atomic_path(final) as tmp:
            tmp.write_bytes(data)
    except OSError as e:
        raise VisemicError(f"cannot write {final}: {e.strerror or e}") from e
    return final


def add_blender_addon(sub: Any) -> None:
    p = sub.add_parser(
        "blender-addon", help="write the Blender add-on (a zip to install in Blender)",
        description="Write visemic's Blender add-on as a zip: in Blender, Edit > Preferences > "
                    "Add-ons > Install..., then the 3D view's sidebar (N) > visemic keys the "
                    "selected mesh's shape keys from speech (ARKit, VRM, VRoid, Oculus or "
                    "Rhubarb-style keys).")
    p.add_argument("-o", "--output", metavar="ZIP", default="visemic_addon.zip",
                   help="the zip to write (default: visemic_addon.zip)")
    p.set_defaults(run=run_blender_addon)


def run_blender_addon(args: argparse.Namespace) -> int:
    written = write_addon(args.output)
    print(f"wrote {written} (Blender: Edit > Preferences > Add-ons > Install...)")
    return 0
