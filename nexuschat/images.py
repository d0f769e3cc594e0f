"""Turn uploaded image bytes into small, metadata-free JPEG/PNG content parts for vision APIs."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pillow_heif
from PIL import ExifTags, Image, ImageChops, ImageCms

from nexuschat.errors import Problem
from nexuschat.machine import cpu_cores

pillow_heif.register_heif_opener()


@dataclass(frozen=True)
class Preset:
    """How far to shrink an image before sending."""

    name: str
    max_long_edge: int | None
    max_pixels: int | None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("original", 8000, None),
        Preset("balanced", 1568, 1_150_000),
        Preset("economy", 768, 400_000),
    )
}
DEFAULT_PRESET = "balanced"
MAX_INPUT_PIXELS = 80_000_000
MAX_IMAGE_BYTES = 5 * 1024 * 1024
ACCEPTED_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff", "tif", "heic", "heif",
                       "avif")

# Only these decoders may run: Image.open would otherwise also try e.g. EPS (Ghostscript) or PSD.
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF")  # AVIF: Pillow 13
# Anthropic checks its 5 MB limit against the base64 text, which is 4/3 of the raw bytes.
_MAX_RAW_BYTES = MAX_IMAGE_BYTES * 3 // 4
_JPEG_QUALITY = 85
_MIN_JPEG_QUALITY = 55
_SHRINK_STEPS = 12
_MAX_WORKERS = 4
_CPUS = cpu_cores()
_BANDS = min(4, _CPUS)
_BAND_MIN_PIXELS = 1_000_000
# Resizing threads are shared by all callers; Pillow releases the GIL inside resize.
_BAND_POOL = ThreadPoolExecutor(max_workers=max(1, _BANDS - 1), thread_name_prefix="nexuschat-band")
# Measured on the <2x step left after draft/reduce (2000x1500 -> 1238x928), against a LANCZOS
# resize of the full image: on photos BICUBIC equals LANCZOS (46 dB; no difference once JPEG'd),
# on small text it is 5 dB behind LANCZOS but 3-6 dB ahead of HAMMING/BILINEAR; it takes 22 ms,
# LANCZOS 30, HAMMING/BILINEAR 14.
_RESAMPLE = Image.Resampling.BICUBIC
_REDUCING_GAP = 1.5
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to send: the compressed bytes and the facts shown to the user."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    name: str
    source_bytes: int
    source_width: int  # as displayed, i.e. after the EXIF orientation
    source_height: int

    @property
    def size_bytes(self) -> int:
        """Size of the encoded image in bytes."""
        return len(self.data)

    @functools.cached_property
    def sha256(self) -> str:
        """The content address of the bytes (computed once per object)."""
        return content_address(self.data)


def content_address(data: bytes) -> str:
    """What an image is stored and exported under: the sha256 of its bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


class ImageError(Problem):
    """An upload that cannot be used."""


def prepare_image(
    data: bytes, name: str = "", preset: str | Preset = DEFAULT_PRESET
) -> PreparedImage:
    """Decode, orient, downscale, strip and re-encode one upload; raises ImageError."""
    return _prepare_guarded(data, name, _resolve(preset), _BANDS)


def prepare_images(
    items: Sequence[tuple[bytes, str]], preset: str | Preset = DEFAULT_PRESET
) -> list[PreparedImage | ImageError]:
    """Prepare the images of one message in parallel; failures are returned in place."""
    preset = _resolve(preset)
    workers = max(1, min(len(items), _CPUS, _MAX_WORKERS))
    bands = max(1, _BANDS // workers)  # the images already share out the cores

    def one(item: tuple[bytes, str]) -> PreparedImage | ImageError:
        try:
            return _prepare_guarded(item[0], item[1], preset, bands)
        except ImageError as e:
            return e

    if len(items) <= 1:
        return [one(item) for item in items]
    # Pillow releases the GIL while decoding, resizing and encoding, so threads scale.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nexuschat-img") as pool:
        return list(pool.map(one, items))


def image_part(data: bytes, mime: str) -> dict:
    """OpenAI-style `image_url` content part carrying the image as a base64 data URL."""
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def thumbnail(data: bytes, max_width: int) -> tuple[bytes, str]:
    """A small copy for display (JPEG or PNG as the original), or the bytes as they are if small.

    Prepared images are already upright, sRGB and metadata-free, so this only shrinks.
    """
    with Image.open(io.BytesIO(data)) as img:
        if img.width <= max_width:
            return data, Image.MIME.get(img.format or "", "image/jpeg")
        height = max(1, round(img.height * max_width / img.width))
        small = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
        small = small.resize((max_width, height), Image.Resampling.BICUBIC, reducing_gap=2.0)
        if small.mode == "RGBA":
            return _save(small, "PNG"), "image/png"
        return _save(small, "JPEG", quality=85), "image/jpeg"


def estimate_tokens(width: int, height: int, model: str = "") -> int:
    """Rough input-token cost of an image of this size for the given model."""
    if "qwen" in model.lower():
        return math.ceil(width / 28) * math.ceil(height / 28) + 2
    return math.ceil(width * height / 750)


def _resolve(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown image preset {preset!r}") from None


def _too_many_pixels(name: str, pixels: int) -> ImageError:
    return ImageError(
        "image.error.too_many_pixels",
        name=name,
        megapixels=round(pixels / 1e6, 1),
        limit=MAX_INPUT_PIXELS // 1_000_000,
    )


def _prepare_guarded(data: bytes, name: str, preset: Preset, bands: int) -> PreparedImage:
    if not data:
        raise ImageError("image.error.empty", name=name)
    try:
        return _prepare(data, name, preset, bands)
    except ImageError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own bound, hit inside Image.open
        found = re.search(r"\((\d+) pixels\)", str(e))
        pixels = int(found[1]) if found else 2 * Image.MAX_IMAGE_PIXELS
        raise _too_many_pixels(name, pixels) from e
    except MemoryError as e:  # a readable image this server has no room to decode now
        raise ImageError("image.error.no_memory", name=name) from e
    except Exception as e:  # corrupt, truncated or unsupported: all the same to the user
        raise ImageError("image.error.unreadable", name=name) from e


def _prepare(data: bytes, name: str, preset: Preset, bands: int) -> PreparedImage:
    img = Image.open(io.BytesIO(data), formats=_FORMATS)
    src_w, src_h = img.size
    if src_w * src_h > MAX_INPUT_PIXELS:  # from the header alone, nothing decoded yet
        raise _too_many_pixels(name, src_w * src_h)
    target = _fit(img.size, preset)  # the limits are rotation-symmetric: orient later
    if target != img.size:
        img.draft("RGB", target)  # JPEG: DCT-domain downscale; HEIF: a big enough thumbnail
    img.load()  # truncated data raises here (LOAD_TRUNCATED_IMAGES stays off)
    orientation = _orientation(img)
    profile = _foreign_profile(img)
    img = _to_standard_mode(img, profile)
    if img.size != target:
        img = _resize(img, target, bands)
    if orientation in _TRANSPOSE:  # after the resize: transposing fewer pixels is cheaper
        img = img.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            src_w, src_h = src_h, src_w
    if img.mode in ("LA", "RGBA"):
        if img.getchannel("A").getextrema()[0] == 255:
            img = img.convert(img.mode[:-1])
        elif img.mode == "LA":
            img = img.convert("RGBA")
    if profile is not None and img.mode in ("RGB", "RGBA"):
        img = _to_srgb(img, profile)
    img.info = {}  # nothing from the source (EXIF, GPS, XMP, ICC, comments, text) is written
    img, out, mime = _encode_capped(img, name, bands)
    return PreparedImage(out, mime, img.width, img.height, name, len(data), src_w, src_h)


def _fit(size: tuple[int, int], preset: Preset) -> tuple[int, int]:
    w, h = size
    scale = 1.0
    if preset.max_long_edge:
        scale = min(scale, preset.max_long_edge / max(w, h))
    if preset.max_pixels:
        scale = min(scale, math.sqrt(preset.max_pixels / (w * h)))
    if scale >= 1:
        return size
    # Round down (the epsilon only absorbs float error) so both limits hold exactly.
    return max(1, int(w * scale + 1e-6)), max(1, int(h * scale + 1e-6))


def _resize(img: Image.Image, size: tuple[int, int], bands: int) -> Image.Image:
    """Box-reduce by a whole factor, then resample the rest; big ones in bands on threads."""
    factor = int(min(img.width / size[0], img.height / size[1]) / _REDUCING_GAP)
    if factor > 1:
        img = img.reduce(factor)
    if bands < 2 or img.mode not in ("L", "RGB") or img.width * img.height < _BAND_MIN_PIXELS:
        return img.resize(size, _RESAMPLE)  # (RGBA/LA resize premultiplies alpha by itself)
    # A band resized with its source box reads the filter support beyond the box, so the
    # stitched bands equal one whole resize (to float rounding, <= 1 level) in half the time.
    w, h = size
    cuts = [h * i // bands for i in range(bands + 1)]
    sy = img.height / h

    def band(i: int) -> Image.Image:
        box = (0, cuts[i] * sy, img.width, cuts[i + 1] * sy)
        return img.resize((w, cuts[i + 1] - cuts[i]), _RESAMPLE, box=box)

    later = [_BAND_POOL.submit(band, i) for i in range(1, bands)]
    out = Image.new(img.mode, size)
    out.paste(band(0), (0, 0))
    for i, future in enumerate(later, 1):
        out.paste(future.result(), (0, cuts[i]))
    return out


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # a damaged EXIF block should not cost the user the picture
        return 1


def _foreign_profile(img: Image.Image) -> ImageCms.ImageCmsProfile | None:
    """The embedded ICC profile if pixels must be converted to sRGB, else None."""
    icc = img.info.get("icc_profile")
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = profile.profile.profile_description or ""
        space = profile.profile.xcolor_space.strip()
    except Exception:  # a broken profile is dropped; the pixels are used as they are
        return None
    if "srgb" in description.lower() or space not in ("RGB", "CMYK"):
        return None
    return profile if (space == "CMYK") == (img.mode == "CMYK") else None


def _to_srgb(img: Image.Image, profile: ImageCms.ImageCmsProfile) -> Image.Image:
    out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
    try:
        srgb = ImageCms.createProfile("sRGB")  # per call: lcms profile handles are not thread-safe
        transform = ImageCms.buildTransform(profile, srgb, img.mode, out_mode)
        return ImageCms.applyTransform(img, transform)
    except Exception:  # an unusable profile: better slightly-off colours than no image
        return img if img.mode in ("RGB", "RGBA") else img.convert("RGB")


def _to_standard_mode(img: Image.Image, profile: ImageCms.ImageCmsProfile | None) -> Image.Image:
    """Any decoded mode as 8-bit L, LA, RGB or RGBA."""
    mode = img.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return img
    if mode == "CMYK":  # Pillow already un-inverts Adobe CMYK JPEGs while decoding
        return _to_srgb(img, profile) if profile is not None else img.convert("RGB")
    if mode == "I" or mode.startswith("I;16") or mode == "F":
        return _high_depth_to_l(img)
    if mode in ("P", "PA"):
        return img.convert("RGBA" if img.has_transparency_data else "RGB")
    return img.convert({"1": "L", "La": "LA"}.get(mode, "RGBA" if mode[-1] in "Aa" else "RGB"))


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit / float grey scaled (not clipped) to 8 bits."""
    if img.mode != "F":
        img = img.convert("I")
    lo, hi = img.getextrema()
    if img.mode == "F" and lo >= 0 and hi <= 1:
        scale, offset = 255.0, 0.0
    elif img.mode == "I" and lo >= 0 and hi <= 65535:
        scale, offset = 1 / 257, 0.0
    else:
        scale = 255 / (hi - lo) if hi > lo else 0.0
        offset = -lo * scale
    # point() keeps I/F and truncates; +0.5 rounds, convert("L") clips.
    return img.point(lambda v: v * scale + offset + 0.5).convert("L")


def _encode_capped(img: Image.Image, name: str, bands: int) -> tuple[Image.Image, bytes, str]:
    """Encode; if too big, lower JPEG quality, then shrink, a bounded number of times."""
    quality = _JPEG_QUALITY
    for _ in range(_SHRINK_STEPS):
        out, mime = _encode(img, quality)
        if len(out) <= _MAX_RAW_BYTES:
            return img, out, mime
        if mime == "image/jpeg" and quality > _MIN_JPEG_QUALITY:
            quality -= 15
            continue
        if img.width == img.height == 1:
            break
        f = min(0.9, 0.95 * math.sqrt(_MAX_RAW_BYTES / len(out)))
        size = (max(1, int(img.width * f)), max(1, int(img.height * f)))
        img = _resize(img, size, bands)
    raise ImageError("image.error.too_big", name=name)


def _encode(img: Image.Image, quality: int) -> tuple[bytes, str]:
    """PNG for transparency; for graphics the smaller of PNG and JPEG; JPEG for photos."""
    if img.mode == "RGBA":
        return _save(img, "PNG"), "image/png"
    colors = img.getcolors(256)  # stops counting past 256, so cheap on photos
    # Baseline JPEG without Huffman optimisation: "optimize" took 2.5x the encode time (+4 ms per
    # 1.15 MP) for 5% fewer bytes, "progressive" 5.5x for 7%; the encode is on the critical path.
    jpeg = _save(img, "JPEG", quality=quality)
    if colors is None or (img.mode == "L" and not _mostly_few_greys(img)):
        return jpeg, "image/jpeg"
    if img.mode == "RGB":
        img = _exact_palette(img, len(colors))
    # compress_level 6 (zlib default): "optimize" (level 9) took 8x as long for 6% smaller files.
    png = _save(img, "PNG")
    return (png, "image/png") if len(png) <= len(jpeg) else (jpeg, "image/jpeg")


def _mostly_few_greys(img: Image.Image) -> bool:
    """Grey graphics (ink on a background): 16 levels cover most pixels; photos spread out."""
    # Every L image has <= 256 colours, and a PNG of a grey photo costs 35x its JPEG to encode.
    return sum(sorted(img.histogram(), reverse=True)[:16]) >= img.width * img.height // 2


def _exact_palette(img: Image.Image, n: int) -> Image.Image:
    """RGB with n <= 256 colours as a lossless palette image (a third of the PNG size)."""
    pal = img.quantize(n, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    return pal if ImageChops.difference(pal.convert("RGB"), img).getbbox() is None else img


def _save(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()
