"""Render the sample wiki's Commons files as real JPEG, PNG and SVG images.

Images of one topic share a palette, a background texture and a shape vocabulary, with
per-image jitter (colours, counts, positions, texture phase), so a visual recommender has
real signal: nearest neighbours of a "birds" image are mostly other "birds" images, while
"maps" and "ships" are clearly apart.  Shared icons (flags, "Map_icon.png", "Noimage.png")
are flat, simple pictures, as on Wikimedia.

Everything is a pure function of a :class:`RenderSpec`; the same spec gives the same bytes
(Pillow's encoders are deterministic for fixed settings).  SVG files are written as SVG
text, and :func:`rasterize` draws the same shape list with Pillow, so the mirror's thumbnail
server can render ``…/<W>px-<Name>.svg.png`` without an SVG library.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

#: bump when the drawing changes: it is part of the on-disk cache key
RENDERER_VERSION = 2

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class TopicStyle:
    """What images of one topic have in common."""

    palette: tuple[RGB, ...]  # background top, background bottom, then shape colours
    texture: str  # stripes_h | stripes_v | rings | noise | checker | dots | waves | grid | flat
    shape: str  # ellipse | triangle | rect | hull | petals | bug | stroke | arc | car | region | flag
    shape_count: tuple[int, int]


TOPIC_STYLES: dict[str, TopicStyle] = {
    "birds": TopicStyle(
        ((135, 196, 235), (230, 244, 252), (250, 140, 40), (60, 60, 70), (245, 245, 245)), "flat", "ellipse", (2, 5)
    ),
    "mountains": TopicStyle(
        ((90, 120, 170), (200, 210, 225), (110, 110, 120), (245, 248, 255), (70, 90, 80)), "noise", "triangle", (3, 7)
    ),
    "architecture": TopicStyle(
        ((200, 185, 150), (150, 130, 100), (120, 70, 50), (230, 220, 200), (80, 80, 85)), "stripes_v", "rect", (4, 9)
    ),
    "ships": TopicStyle(
        ((20, 50, 110), (40, 110, 170), (240, 240, 240), (150, 30, 30), (30, 30, 40)), "waves", "hull", (1, 3)
    ),
    "flowers": TopicStyle(
        ((60, 130, 60), (120, 180, 90), (235, 60, 120), (250, 200, 220), (250, 220, 40)), "dots", "petals", (2, 6)
    ),
    "insects": TopicStyle(
        ((160, 190, 80), (90, 120, 40), (40, 30, 20), (180, 120, 40), (20, 20, 20)), "noise", "bug", (3, 8)
    ),
    "paintings": TopicStyle(
        ((110, 60, 30), (60, 30, 20), (200, 160, 60), (150, 20, 30), (230, 200, 140)), "rings", "stroke", (12, 30)
    ),
    "bridges": TopicStyle(
        ((170, 190, 210), (100, 120, 140), (70, 75, 80), (180, 180, 185), (40, 60, 90)), "stripes_h", "arc", (1, 4)
    ),
    "cars": TopicStyle(
        ((210, 210, 215), (150, 150, 160), (200, 20, 30), (20, 20, 25), (190, 195, 200)), "checker", "car", (1, 2)
    ),
    "maps": TopicStyle(
        ((245, 235, 190), (225, 215, 170), (120, 170, 110), (90, 140, 200), (200, 120, 80)), "grid", "region", (3, 7)
    ),
    "icons": TopicStyle(
        ((255, 255, 255), (255, 255, 255), (51, 102, 204), (200, 30, 40), (40, 40, 40)), "flat", "flag", (1, 1)
    ),
}


@dataclass(frozen=True)
class RenderSpec:
    """Everything that determines one file version's bytes."""

    name: str
    topic: str
    fmt: str  # "jpeg" | "png" | "svg"
    width: int
    height: int
    seed: int  # per file *version*: an overwrite gets a new seed, hence new bytes and sha1

    def cache_key(self) -> str:
        return f"r{RENDERER_VERSION}-{self.topic}-{self.fmt}-{self.width}x{self.height}-{self.seed}"


Shape = tuple[Any, ...]  # ("ellipse"|"polygon"|"rect"|"line", coords, colour, extra)


def _jitter(rng: random.Random, colour: RGB, amount: int = 28) -> RGB:
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)
    return (r, g, b)


def _shapes(spec: RenderSpec, rng: random.Random) -> list[Shape]:
    """The foreground as a list of primitive shapes (shared by raster and SVG output)."""
    style = TOPIC_STYLES[spec.topic]
    w, h = spec.width, spec.height
    colours = style.palette[2:]
    out: list[Shape] = []
    n = rng.randint(*style.shape_count)
    for _ in range(n):
        c = _jitter(rng, rng.choice(colours))
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.2, 0.85) * h
        s = rng.uniform(0.08, 0.22) * min(w, h)
        if style.shape == "ellipse":  # birds: body + head + wing
            out.append(("ellipse", (cx - s, cy - s * 0.6, cx + s, cy + s * 0.6), c, None))
            out.append(("ellipse", (cx + s * 0.7, cy - s * 0.9, cx + s * 1.3, cy - s * 0.3), c, None))
            out.append(
                (
                    "polygon",
                    ((cx - s * 0.5, cy), (cx + s * 0.2, cy), (cx - s * 0.9, cy - s * 1.2)),
                    _jitter(rng, colours[1]),
                    None,
                )
            )
        elif style.shape == "triangle":  # mountains with snow caps
            base = h * rng.uniform(0.75, 1.0)
            peak = (cx, cy - s)
            out.append(("polygon", ((cx - 2.2 * s, base), peak, (cx + 2.2 * s, base)), c, None))
            out.append(
                ("polygon", ((cx - 0.5 * s, cy - 0.55 * s), peak, (cx + 0.5 * s, cy - 0.55 * s)), (245, 248, 255), None)
            )
        elif style.shape == "rect":  # facades with windows
            x0, y0 = cx - s * 0.6, cy - s * 1.5
            out.append(("rect", (x0, y0, cx + s * 0.6, h), c, None))
            for k in range(3):
                wy = y0 + s * (0.3 + 0.8 * k)
                out.append(("rect", (x0 + s * 0.2, wy, x0 + s * 0.5, wy + s * 0.4), _jitter(rng, colours[1]), None))
        elif style.shape == "hull":  # ships: hull + sail
            y = h * rng.uniform(0.55, 0.7)
            out.append(
                (
                    "polygon",
                    ((cx - 2 * s, y), (cx + 2 * s, y), (cx + 1.5 * s, y + 0.7 * s), (cx - 1.5 * s, y + 0.7 * s)),
                    _jitter(rng, colours[2]),
                    None,
                )
            )
            out.append(("polygon", ((cx, y - 2.2 * s), (cx, y - 0.1 * s), (cx + 1.4 * s, y - 0.1 * s)), c, None))
        elif style.shape == "petals":
            for k in range(6):
                ang = k * np.pi / 3 + rng.uniform(0, 0.3)
                px, py = cx + np.cos(ang) * s * 0.7, cy + np.sin(ang) * s * 0.7
                out.append(("ellipse", (px - s * 0.45, py - s * 0.45, px + s * 0.45, py + s * 0.45), c, None))
            out.append(
                (
                    "ellipse",
                    (cx - s * 0.35, cy - s * 0.35, cx + s * 0.35, cy + s * 0.35),
                    _jitter(rng, colours[2]),
                    None,
                )
            )
        elif style.shape == "bug":
            s *= 0.5
            out.append(("ellipse", (cx - s, cy - s * 1.6, cx + s, cy + s * 1.6), c, None))
            out.append(
                ("ellipse", (cx - s * 0.6, cy - s * 2.4, cx + s * 0.6, cy - s * 1.4), _jitter(rng, colours[2]), None)
            )
            for k in (-1, 1):
                out.append(("line", ((cx, cy), (cx + k * s * 2.2, cy - s)), _jitter(rng, colours[2]), 3))
                out.append(
                    ("line", ((cx, cy + s * 0.5), (cx + k * s * 2.2, cy + s * 1.6)), _jitter(rng, colours[2]), 3)
                )
        elif style.shape == "stroke":  # paintings: brush strokes
            x2, y2 = cx + rng.uniform(-2, 2) * s, cy + rng.uniform(-1, 1) * s
            out.append(("line", ((cx, cy), (x2, y2)), c, max(4, int(s * 0.25))))
        elif style.shape == "arc":  # bridges: deck + arches
            y = h * rng.uniform(0.4, 0.55)
            out.append(("rect", (0, y, w, y + s * 0.2), c, None))
            span = w / (n + 1)
            for k in range(n + 1):
                x0 = k * span
                out.append(("arc", (x0, y, x0 + span, y + span * 0.8), _jitter(rng, colours[0]), max(4, int(s * 0.12))))
            break
        elif style.shape == "car":
            y = h * rng.uniform(0.5, 0.65)
            out.append(("rect", (cx - 2.2 * s, y - 0.6 * s, cx + 2.2 * s, y + 0.4 * s), c, None))
            out.append(
                (
                    "polygon",
                    (
                        (cx - 1.2 * s, y - 0.6 * s),
                        (cx - 0.7 * s, y - 1.3 * s),
                        (cx + 0.9 * s, y - 1.3 * s),
                        (cx + 1.4 * s, y - 0.6 * s),
                    ),
                    c,
                    None,
                )
            )
            for k in (-1, 1):
                wx = cx + k * 1.3 * s
                out.append(("ellipse", (wx - 0.5 * s, y + 0.1 * s, wx + 0.5 * s, y + 1.1 * s), (20, 20, 25), None))
        elif style.shape == "region":  # maps: irregular land masses
            pts = []
            for k in range(9):
                ang = 2 * np.pi * k / 9
                rad = s * rng.uniform(1.0, 2.0)
                pts.append((cx + np.cos(ang) * rad, cy + np.sin(ang) * rad))
            out.append(("polygon", tuple(pts), c, (60, 60, 60)))
        elif style.shape == "flag":  # icons: bands + emblem
            bands = rng.randint(2, 3)
            cols = [_jitter(rng, rng.choice((*colours, (250, 250, 250), (240, 200, 0))), 0) for _ in range(bands)]
            vertical = rng.random() < 0.5
            for k, col in enumerate(cols):
                if vertical:
                    out.append(("rect", (k * w / bands, 0, (k + 1) * w / bands, h), col, None))
                else:
                    out.append(("rect", (0, k * h / bands, w, (k + 1) * h / bands), col, None))
            if rng.random() < 0.5:
                r = min(w, h) * 0.18
                out.append(("ellipse", (w / 2 - r, h / 2 - r, w / 2 + r, h / 2 + r), _jitter(rng, colours[0], 0), None))
    return [_round_shape(sh) for sh in out]


def _round_shape(shape: Shape) -> Shape:
    kind, coords, colour, extra = shape
    if kind in ("ellipse", "rect", "arc"):
        coords = tuple(round(float(v), 1) for v in coords)
    else:
        coords = tuple((round(float(x), 1), round(float(y), 1)) for x, y in coords)
    return (kind, coords, colour, extra)


def _background(spec: RenderSpec, rng: random.Random) -> np.ndarray:
    """Gradient + topic texture as an HxWx3 uint8 array (vectorised, a few ms)."""
    style = TOPIC_STYLES[spec.topic]
    # computed at half resolution and upscaled: 4x cheaper, and the soft texture keeps
    # JPEG/PNG files small
    w, h = max(2, spec.width // 2), max(2, spec.height // 2)
    top = np.array(_jitter(rng, style.palette[0], 18), dtype=np.float32)
    bottom = np.array(_jitter(rng, style.palette[1], 18), dtype=np.float32)
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = top * (1 - t) + bottom * t
    img = np.broadcast_to(img, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    period = rng.uniform(7, 15)
    tex = style.texture
    if tex == "stripes_h":
        mod = np.sin(yy / period * 2 * np.pi + phase)
    elif tex == "stripes_v":
        mod = np.sign(np.sin(xx / period * 2 * np.pi + phase))
    elif tex == "rings":
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        mod = np.sin(np.hypot(xx - cx, yy - cy) / period * 2 * np.pi + phase)
    elif tex == "checker":
        mod = np.sign(np.sin(xx / period * np.pi + phase) * np.sin(yy / period * np.pi))
    elif tex == "dots":
        mod = (np.sin(xx / period * 2 * np.pi + phase) * np.sin(yy / period * 2 * np.pi) > 0.7).astype(
            np.float32
        ) * 2 - 1
    elif tex == "waves":
        mod = np.sin(yy / (period * 0.6) * 2 * np.pi + np.sin(xx / (period * 3) + phase) * 2)
    elif tex == "grid":
        mod = ((xx % (period * 3) < 1) | (yy % (period * 3) < 1)).astype(np.float32) * -2
    elif tex == "noise":
        nrng = np.random.default_rng(spec.seed)
        small = nrng.uniform(-1, 1, size=(max(2, h // 8), max(2, w // 8))).astype(np.float32)
        big = Image.fromarray(((small + 1) * 127.5).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
        mod = np.asarray(big, dtype=np.float32) / 127.5 - 1
    else:
        mod = np.zeros((h, w), dtype=np.float32)
    img += (mod * 18.0)[:, :, None]
    half = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    return np.asarray(half.resize((spec.width, spec.height), Image.Resampling.BILINEAR))


def _draw(draw: ImageDraw.ImageDraw, shapes: list[Shape], scale: float = 1.0) -> None:
    for kind, coords, colour, extra in shapes:
        if kind in ("ellipse", "rect", "arc"):
            box = [v * scale for v in coords]
            if kind == "ellipse":
                draw.ellipse(box, fill=colour)
            elif kind == "rect":
                draw.rectangle(box, fill=colour)
            else:
                draw.arc(box, 180, 360, fill=colour, width=max(1, int(extra * scale)))
        else:
            pts = [(x * scale, y * scale) for x, y in coords]
            if kind == "polygon":
                draw.polygon(pts, fill=colour, outline=extra)
            else:
                draw.line(pts, fill=colour, width=max(1, int(extra * scale)))


def _svg(spec: RenderSpec, background: RGB, shapes: list[Shape]) -> bytes:
    def hexc(c: RGB) -> str:
        return "#{:02x}{:02x}{:02x}".format(*c)

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{spec.width}" height="{spec.height}" '
        f'viewBox="0 0 {spec.width} {spec.height}">',
        f'<rect x="0" y="0" width="{spec.width}" height="{spec.height}" fill="{hexc(background)}"/>',
    ]
    for kind, coords, colour, extra in shapes:
        if kind == "ellipse":
            x0, y0, x1, y1 = coords
            parts.append(
                f'<ellipse cx="{(x0 + x1) / 2:g}" cy="{(y0 + y1) / 2:g}" rx="{(x1 - x0) / 2:g}" '
                f'ry="{(y1 - y0) / 2:g}" fill="{hexc(colour)}"/>'
            )
        elif kind == "rect":
            x0, y0, x1, y1 = coords
            parts.append(
                f'<rect x="{x0:g}" y="{y0:g}" width="{x1 - x0:g}" height="{y1 - y0:g}" fill="{hexc(colour)}"/>'
            )
        elif kind == "arc":
            x0, y0, x1, y1 = coords
            parts.append(
                f'<path d="M {x0:g} {(y0 + y1) / 2:g} A {(x1 - x0) / 2:g} {(y1 - y0) / 2:g} 0 0 1 {x1:g} '
                f'{(y0 + y1) / 2:g}" fill="none" stroke="{hexc(colour)}" stroke-width="{extra}"/>'
            )
        else:
            pts = " ".join(f"{x:g},{y:g}" for x, y in coords)
            if kind == "polygon":
                stroke = f' stroke="{hexc(extra)}"' if extra else ""
                parts.append(f'<polygon points="{pts}" fill="{hexc(colour)}"{stroke}/>')
            else:
                parts.append(f'<polyline points="{pts}" fill="none" stroke="{hexc(colour)}" stroke-width="{extra}"/>')
    parts.append("</svg>\n")
    return "\n".join(parts).encode("utf-8")


def _svg_background(spec: RenderSpec, rng: random.Random) -> RGB:
    return _jitter(rng, TOPIC_STYLES[spec.topic].palette[0], 10)


def render(spec: RenderSpec) -> bytes:
    """The file's bytes (JPEG, PNG or SVG text)."""
    rng = random.Random(spec.seed)
    if spec.fmt == "svg":
        background = _svg_background(spec, rng)
        return _svg(spec, background, _shapes(spec, rng))
    img = Image.fromarray(_background(spec, rng), "RGB")
    _draw(ImageDraw.Draw(img), _shapes(spec, rng))
    buf = io.BytesIO()
    if spec.fmt == "jpeg":
        img.save(buf, format="JPEG", quality=82, optimize=False)
    else:
        img = img.quantize(colors=64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def rasterize(spec: RenderSpec) -> Image.Image:
    """An RGB Pillow image of the file (SVGs drawn from the same shape list)."""
    if spec.fmt != "svg":
        return Image.open(io.BytesIO(render(spec))).convert("RGB")
    rng = random.Random(spec.seed)
    background = _svg_background(spec, rng)
    img = Image.new("RGB", (spec.width, spec.height), background)
    _draw(ImageDraw.Draw(img), _shapes(spec, rng))
    return img


#: named colours for captions (nearest by RGB distance)
COLOUR_NAMES: dict[str, RGB] = {
    "red": (200, 30, 40), "orange": (245, 140, 40), "yellow": (240, 210, 40), "green": (70, 150, 60),
    "blue": (50, 100, 190), "pink": (235, 120, 170), "brown": (130, 80, 40), "grey": (140, 140, 145),
    "black": (25, 25, 30), "white": (245, 245, 245),
}


@dataclass(frozen=True)
class VisualFacts:
    """What a rendered image shows, in words: how many foreground objects, their main colour
    (by drawn area) and whether the background is light or dark."""

    topic: str
    count: int
    colour: str
    tone: str  # light | dark


def colour_name(colour: RGB) -> str:
    return min(COLOUR_NAMES, key=lambda n: sum((a - b) ** 2 for a, b in zip(COLOUR_NAMES[n], colour, strict=True)))


def _area(kind: str, coords: Any) -> float:
    if kind in ("ellipse", "rect"):
        x0, y0, x1, y1 = (float(v) for v in coords)
        return abs((x1 - x0) * (y1 - y0)) * (0.785 if kind == "ellipse" else 1.0)
    if kind == "polygon":
        pts = [(float(x), float(y)) for x, y in coords]
        return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True))) / 2
    return 1.0


def visual_facts(spec: RenderSpec) -> VisualFacts:
    """Replay the drawing of ``spec`` (same random stream as :func:`render`) and describe it.

    Captions of the sample wiki are built from these facts, so a caption says what its
    image shows (a model that matches images and captions has something to learn)."""
    rng = random.Random(spec.seed)
    if spec.fmt == "svg":
        bg = _svg_background(spec, rng)
        brightness = sum(bg) / 3
    else:  # the draws of _background in its order, without drawing (the texture averages out)
        style = TOPIC_STYLES[spec.topic]
        top, bottom = _jitter(rng, style.palette[0], 18), _jitter(rng, style.palette[1], 18)
        rng.uniform(0, 2 * np.pi)
        rng.uniform(7, 15)
        if style.texture == "rings":
            rng.uniform(0, max(2, spec.width // 2))
            rng.uniform(0, max(2, spec.height // 2))
        brightness = (sum(top) + sum(bottom)) / 6
    state = rng.getstate()
    count = rng.randint(*TOPIC_STYLES[spec.topic].shape_count)
    rng.setstate(state)
    areas: dict[str, float] = {}
    for kind, coords, colour, _ in _shapes(spec, rng):
        name = colour_name(colour)
        areas[name] = areas.get(name, 0.0) + _area(kind, coords)
    colour = max(sorted(areas), key=lambda n: areas[n]) if areas else "grey"
    return VisualFacts(spec.topic, count, colour, "light" if brightness >= 128 else "dark")
