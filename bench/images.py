"""Benchmark image preparation on 12 MP uploads; run as `python -m bench.images` from the repo."""

from __future__ import annotations

import base64
import datetime
import io
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pillow_heif
from PIL import Image, ImageDraw, ImageFilter

from nexuschat.images import prepare_image, prepare_images

SIZE = (4000, 3000)
SEED = 20240601
REPEAT = 7
GOAL_FLOOR_RATIO = 2.5  # ours / bare draft decode, at most
GOAL_FULL_RATIO = 2.0  # full decode + resize / ours, at least
DOC = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"
SECTION = "## Image preparation"


def photo_like(size: tuple[int, int] = SIZE, seed: int = SEED) -> Image.Image:
    """A deterministic photo stand-in: soft gradients, blurred shapes and two scales of grain."""
    rnd = random.Random(seed)
    w, h = size
    base = Image.new("RGB", (6, 5))
    base.putdata([tuple(rnd.randrange(256) for _ in range(3)) for _ in range(30)])
    img = base.resize(size, Image.Resampling.BICUBIC)
    shapes = img.copy()
    draw = ImageDraw.Draw(shapes)
    for _ in range(40):
        x, y, r = rnd.randrange(w), rnd.randrange(h), rnd.randrange(w // 40, w // 7)
        box = (x - r, y - r, x + r, y + int(r * rnd.uniform(0.3, 1.5)))
        fill = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.6 else draw.rectangle)(box, fill=fill)
    img = Image.blend(img, shapes.filter(ImageFilter.GaussianBlur(2)), 0.7)
    fine = Image.frombytes("RGB", size, rnd.randbytes(w * h * 3))
    coarse = Image.frombytes("RGB", (w // 4, h // 4), rnd.randbytes(w * h * 3 // 16))
    grain = Image.blend(fine, coarse.resize(size, Image.Resampling.BICUBIC), 0.5)
    return Image.blend(img, grain, 0.25)


def median_ms(funcs: dict[str, Callable[[], object]], repeat: int = REPEAT) -> dict[str, float]:
    """Median wall time of each function; one warm-up, then rounds that interleave them."""
    times: dict[str, list[float]] = {k: [] for k in funcs}
    for f in funcs.values():
        f()
    for _ in range(repeat):
        for k, f in funcs.items():
            t = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def draft_decode(data: bytes, size: tuple[int, int]) -> Image.Image:
    """Pillow's floor: open, DCT-scaled decode to cover `size`, nothing else."""
    img = Image.open(io.BytesIO(data))
    img.draft("RGB", size)
    img.load()
    return img


def full_decode_resize(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The straightforward way: decode every pixel, then LANCZOS to the final size."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return img.resize(size, Image.Resampling.LANCZOS)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found[1].strip() if found else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (`nproc` {len(os.sched_getaffinity(0))}), {cpu}"


def write_section(text: str) -> None:
    """Replace (or add) this benchmark's section of docs/PERFORMANCE.md, leaving others alone."""
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text, doc, count=1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(doc.rstrip("\n") + "\n")


def main() -> int:
    print("generating 12 MP test images ...", flush=True)
    photo = photo_like()
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="nexuschat-bench-") as tmp:
        for label, fmt, params in (
            ("JPEG", "JPEG", {"quality": 92}),
            ("PNG", "PNG", {}),
            ("HEIC", "HEIF", {"quality": 90}),
        ):
            path = Path(tmp) / f"photo.{label.lower()}"
            photo.save(path, fmt, **params)
            files[label] = path.read_bytes()

    rows = []
    for label, data in files.items():
        out = prepare_image(data, f"photo.{label.lower()}")
        t = median_ms({
            "ours": lambda d=data: prepare_image(d),
            "naive": lambda d=data: base64.b64encode(d),
        })
        rows.append((label, data, out, t))

    jpeg = files["JPEG"]
    final = (rows[0][2].width, rows[0][2].height)
    j = median_ms({
        "ours": lambda: prepare_image(jpeg),
        "draft": lambda: draft_decode(jpeg, final),
        "full": lambda: full_decode_resize(jpeg, final),
    })
    four = [(jpeg, f"{i}.jpg") for i in range(4)]
    par = median_ms({
        "parallel": lambda: prepare_images(four),
        "sequential": lambda: [prepare_image(d, n) for d, n in four],
    }, repeat=5)

    floor_ratio, full_ratio = j["ours"] / j["draft"], j["full"] / j["ours"]
    ok = floor_ratio <= GOAL_FLOOR_RATIO and full_ratio >= GOAL_FULL_RATIO

    def mb(n: int) -> str:
        return f"{n / 1e6:.2f} MB"

    table = [
        "| input (12 MP, 4000×3000) | file | naive: base64 of the file | ours: `prepare_image` "
        "(balanced) | output |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for label, data, out, t in rows:
        table.append(
            f"| {label} | {mb(len(data))} | {mb(4 * -(-len(data) // 3))} in {t['naive']:.0f} ms "
            f"| {t['ours']:.0f} ms | {out.width}×{out.height} {out.mime}, {out.size_bytes / 1e3:.0f} kB "
            f"({mb(4 * -(-out.size_bytes // 3))} as base64) |"
        )
    verdict = "met" if ok else "NOT met"
    table += [
        "",
        "| JPEG, same run | ms |",
        "| --- | ---: |",
        f"| bare draft decode (`open` + `draft` + `load`), the floor | {j['draft']:.0f} |",
        f"| full decode + LANCZOS to {final[0]}×{final[1]} | {j['full']:.0f} |",
        f"| ours (`prepare_image`) | {j['ours']:.0f} |",
        f"| ours / floor (goal ≤ {GOAL_FLOOR_RATIO}) | {floor_ratio:.2f} |",
        f"| full / ours (goal ≥ {GOAL_FULL_RATIO}) | {full_ratio:.2f} |",
        f"| 4 JPEGs: `prepare_images` (threads) | {par['parallel']:.0f} |",
        f"| 4 JPEGs: 4 sequential `prepare_image` | {par['sequential']:.0f} |",
    ]
    print("\n".join(table))
    print(f"\nJPEG goals {verdict}: ours/floor {floor_ratio:.2f} ≤ {GOAL_FLOOR_RATIO}, "
          f"full/ours {full_ratio:.2f} ≥ {GOAL_FULL_RATIO}")

    write_section("\n".join([
        SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}, Python "
        f"{platform.python_version()}, Pillow {Image.__version__}, pillow-heif "
        f"{pillow_heif.__version__}; median of {REPEAT} runs after a warm-up. The inputs are a "
        "generated photo-like 12 MP image saved as JPEG (quality 92), PNG and HEIC (quality 90).",
        "",
        *table,
        "",
        f"Goals for the JPEG path: ours at most {GOAL_FLOOR_RATIO}× Pillow's bare draft decode, "
        f"and at least {GOAL_FULL_RATIO}× faster than full decode + resize. **{verdict}**.",
        "",
        "Reproduce: `.venv/bin/python -m bench.images` (from the repository root; it rewrites "
        "this section).",
    ]) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
