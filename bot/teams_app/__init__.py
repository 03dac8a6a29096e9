"""The Teams app package: the shipped manifest template, icons drawn in code, zipped for upload."""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from importlib import resources
from typing import Any

from incident_core.errors import ValidationError

ACCENT = (0xB3, 0x26, 0x1E)
COLOR_SIZE, OUTLINE_SIZE = 192, 32
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
Pixel = Callable[[float, float], float]


def png(size: int, coverage: Pixel, ink: tuple[int, int, int], paper: tuple[int, int, int, int]) -> bytes:
    """An RGBA PNG: `coverage(x, y)` in 0..1 (x, y in 0..1) blends `ink` over `paper`, 4×4 supersampled."""
    rows = bytearray()
    for py in range(size):
        rows.append(0)  # filter: none
        for px in range(size):
            hits = sum(coverage((px + (i + 0.5) / 4) / size, (py + (j + 0.5) / 4) / size)
                       for i in range(4) for j in range(4)) / 16
            r, g, b, a = paper
            alpha = hits + (a / 255) * (1 - hits)
            mix = [round(ink[k] * hits + (r, g, b)[k] * (a / 255) * (1 - hits)) for k in range(3)]
            rgb = [round(c / alpha) if alpha else 0 for c in mix]
            rows.extend([*(min(255, c) for c in rgb), round(alpha * 255)])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + \
        chunk(b"IEND", b"")


def beacon(x: float, y: float, scale: float = 1.0) -> float:
    """A ring around a dot — a beacon — centred in the unit square (1 inside, 0 outside)."""
    d = ((x - 0.5) ** 2 + (y - 0.5) ** 2) ** 0.5 / scale
    return 1.0 if d <= 0.13 or 0.25 <= d <= 0.36 else 0.0


def color_icon() -> bytes:
    """192×192: a white beacon on the accent colour."""
    return png(COLOR_SIZE, beacon, (255, 255, 255), (*ACCENT, 255))


def outline_icon() -> bytes:
    """32×32: the beacon in white on a transparent background (what Teams requires)."""
    return png(OUTLINE_SIZE, lambda x, y: beacon(x, y, 1.3), (255, 255, 255), (0, 0, 0, 0))


def manifest(app_id: str, website: str) -> dict[str, Any]:
    """The shipped manifest with the bot's app id (a GUID) and the developer's https website filled in."""
    if not _GUID.match(app_id or ""):
        raise ValidationError(f"the app id must be the bot's Microsoft App ID, a GUID (got {app_id!r}); pass "
                              "--app-id or set MICROSOFT_APP_ID")
    if not website.startswith("https://"):
        raise ValidationError(f"--website must be an https:// URL (got {website!r}); Teams refuses others")
    template = resources.files("bot.teams_app").joinpath("manifest.json").read_text()
    filled = template.replace("{{APP_ID}}", app_id).replace("{{WEBSITE}}", website.rstrip("/"))
    return dict(json.loads(filled))


def build_package(app_id: str, website: str) -> bytes:
    """The zip Teams uploads: manifest.json, color.png and outline.png at its root."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest(app_id, website), indent=2))
        zf.writestr("color.png", color_icon())
        zf.writestr("outline.png", outline_icon())
    return out.getvalue()
