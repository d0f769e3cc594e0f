"""The upload pipeline: every fixture image is generated here, none is committed."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zlib
from pathlib import Path

import pillow_heif
import pytest
from PIL import (
    ExifTags,
    Image,
    ImageChops,
    ImageCms,
    ImageDraw,
    ImageFile,
    ImageOps,
    PngImagePlugin,
)

from nexuschat import images
from nexuschat.images import (
    ACCEPTED_EXTENSIONS,
    MAX_IMAGE_BYTES,
    PRESETS,
    ImageError,
    PreparedImage,
    Preset,
    estimate_tokens,
    image_part,
    prepare_image,
    prepare_images,
)

ROOT = Path(__file__).resolve().parents[2]

RED, BLUE, WHITE = (220, 20, 30), (20, 40, 220), (255, 255, 255)


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def decode(prepared: PreparedImage) -> Image.Image:
    img = Image.open(io.BytesIO(prepared.data))
    img.load()
    return img


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Incompressible pixels: many colours, so the output is a photo (JPEG) unless alpha."""
    return Image.frombytes(mode, size, random.Random(seed).randbytes(size[0] * size[1] * len(mode)))


def close(a, b, tol: int = 6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header for a huge 1-bit image, with no pixel data worth decoding."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def p3_like_icc() -> bytes:
    """A minimal ICC v2 display profile: Display P3 primaries, gamma 2.2, D50 white."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    text = b"Display P3 (test)\0"
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(78)),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    start = 128 + 4 + 12 * len(tags)
    table = body = b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", start + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", start + len(body))
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + body


# --- bad input ---------------------------------------------------------------------------------


def test_empty_bytes():
    with pytest.raises(ImageError) as e:
        prepare_image(b"", "a.png")
    assert e.value.code == "image.error.empty"


def test_random_bytes():
    with pytest.raises(ImageError) as e:
        prepare_image(random.Random(3).randbytes(4096), "x.jpg")
    assert (e.value.code, e.value.params) == ("image.error.unreadable", {"name": "x.jpg"})


def test_truncated_jpeg_is_an_error_not_a_partial_image():
    data = encode(noise((200, 150)), "JPEG", quality=90)
    with pytest.raises(ImageError) as e:
        prepare_image(data[: len(data) * 6 // 10], "cut.jpg")
    assert e.value.code == "image.error.unreadable"


def test_truncated_png():
    data = encode(noise((200, 150)), "PNG")
    with pytest.raises(ImageError) as e:
        prepare_image(data[: len(data) // 2], "cut.png")
    assert e.value.code == "image.error.unreadable"


def test_text_file_named_png():
    with pytest.raises(ImageError) as e:
        prepare_image(b"hello, I am only text\n" * 20, "notes.png")
    assert e.value.code == "image.error.unreadable"


def test_format_outside_the_accepted_list_is_refused():
    with pytest.raises(ImageError) as e:
        prepare_image(encode(noise((8, 8)), "PPM"), "x.ppm")
    assert e.value.code == "image.error.unreadable"


@pytest.mark.parametrize(("side", "megapixels"), [(20000, 400.0), (9000, 81.0)])
def test_decompression_bomb_refused_from_the_header(side, megapixels):
    # 20000² trips Pillow's own bound inside Image.open; 9000² only ours (80 MP).
    data = png_header_only(side, side)
    assert len(data) < 100
    start = time.perf_counter()
    with pytest.raises(ImageError) as e:
        prepare_image(data, "bomb.png")
    assert time.perf_counter() - start < 1
    assert e.value.code == "image.error.too_many_pixels"
    assert e.value.params == {"name": "bomb.png", "megapixels": megapixels, "limit": 80}


def test_image_error_reads_well():
    err = ImageError("image.error.unreadable", name="a.png")
    assert isinstance(err, ValueError)
    assert str(err) == "image.error.unreadable (name='a.png')"
    assert str(ImageError("image.error.empty")) == "image.error.empty"


def test_unknown_preset_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown image preset") as e:
        prepare_image(encode(noise((8, 8)), "PNG"), "a.png", "huge")
    assert not isinstance(e.value, ImageError)


def test_pillow_global_state_is_left_alone():
    def state():
        return Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters)

    before = state()
    prepare_image(encode(noise((64, 48)), "JPEG"), "a.jpg")
    with pytest.raises(ImageError):
        prepare_image(png_header_only(9000, 9000), "bomb.png")
    assert state() == before


# --- modes ---------------------------------------------------------------------------------------


def test_cmyk_jpeg_adobe_inverted_becomes_rgb():
    # Pillow writes CMYK JPEGs the Adobe way (inverted, APP14), like Photoshop.
    data = encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)
    out = decode(prepare_image(data, "cmyk.jpg"))
    assert out.mode in ("RGB", "P")  # one colour: a palette PNG
    assert close(out.convert("RGB").getpixel((32, 24)), (255, 0, 0), 8)


def test_cmyk_tiff_becomes_rgb():
    data = encode(Image.new("CMYK", (40, 30), (255, 0, 255, 0)), "TIFF")
    out = decode(prepare_image(data, "cmyk.tif")).convert("RGB")
    assert out.getpixel((5, 5)) == (0, 255, 0)


def grey_strip(mode: str, values) -> Image.Image:
    """Blocks of 8×8 pixels of the given values, left to right."""
    img = Image.new(mode, (8 * len(values), 8))
    for i, v in enumerate(values):
        img.paste(Image.new(mode, (8, 8), v), (8 * i, 0))  # (paste(int) mangles I;16 > 32767)
    return img


def strip_values(out: Image.Image, n: int) -> list[int]:
    return [out.getpixel((8 * i + 4, 4)) for i in range(n)]


@pytest.mark.parametrize(("mode", "fmt"), [("I;16", "PNG"), ("I;16B", "TIFF"), ("I", "TIFF")])
def test_16_bit_grey_is_scaled_not_clipped(mode, fmt):
    values = [0, 257 * 100, 32768, 65535]
    img = grey_strip(mode, values)
    assert Image.open(io.BytesIO(encode(img, fmt))).mode == mode
    out = decode(prepare_image(encode(img, fmt), "deep"))
    assert out.mode == "L" and out.format == "PNG"
    assert strip_values(out, 4) == [0, 100, 128, 255]


def test_32_bit_grey_outside_16_bits_is_stretched():
    out = decode(prepare_image(encode(grey_strip("I", [-1000, 0, 200_000]), "TIFF"), "i.tif"))
    values = strip_values(out, 3)
    assert values[0] == 0 and values[2] == 255 and 0 < values[1] < 10


def test_float_grey_is_scaled():
    out = decode(prepare_image(encode(grey_strip("F", [0.0, 0.5, 1.0]), "TIFF"), "f.tif"))
    assert out.mode == "L" and strip_values(out, 3) == [0, 128, 255]


def test_palette_without_transparency_becomes_rgb():
    img = Image.new("RGB", (40, 20), RED)
    img.paste(BLUE, (20, 0, 40, 20))
    out = decode(prepare_image(encode(img.quantize(2), "PNG"), "p.png"))
    assert out.mode in ("RGB", "P") and "transparency" not in out.info
    out = out.convert("RGB")
    assert out.getpixel((5, 5)) == RED and out.getpixel((30, 5)) == BLUE


def test_palette_with_transparency_keeps_it():
    img = Image.new("P", (40, 20), 0)
    img.putpalette([*RED, *BLUE])
    img.paste(1, (20, 0, 40, 20))
    out = decode(prepare_image(encode(img, "PNG", transparency=1), "p.png"))
    assert out.format == "PNG" and out.mode == "RGBA"
    assert out.getpixel((5, 5)) == (*RED, 255) and out.getpixel((30, 5))[3] == 0


def test_la_opaque_becomes_l():
    img = Image.merge("LA", (noise((64, 48), "L"), Image.new("L", (64, 48), 255)))
    prepared = prepare_image(encode(img, "PNG"), "la.png")
    assert decode(prepared).mode == "L"


def test_la_translucent_becomes_rgba_png():
    img = Image.new("LA", (64, 48), (90, 255))
    img.paste((90, 100), (0, 0, 32, 48))
    out = decode(prepare_image(encode(img, "PNG"), "la.png"))
    assert out.format == "PNG" and out.mode == "RGBA"
    assert out.getpixel((10, 10)) == (90, 90, 90, 100) and out.getpixel((50, 10))[3] == 255


def test_one_bit_becomes_grey():
    img = Image.new("1", (64, 48), 0)
    img.paste(1, (32, 0, 64, 48))
    out = decode(prepare_image(encode(img, "PNG"), "bw.png"))
    assert out.mode == "L" and out.getpixel((10, 10)) == 0 and out.getpixel((50, 10)) == 255


def test_opaque_rgba_photo_becomes_jpeg():
    img = noise((64, 48)).convert("RGBA")
    prepared = prepare_image(encode(img, "PNG"), "a.png")
    assert prepared.mime == "image/jpeg" and decode(prepared).mode == "RGB"


def test_translucent_rgba_stays_png_with_alpha():
    img = noise((64, 48)).convert("RGBA")
    img.putalpha(128)
    prepared = prepare_image(encode(img, "PNG"), "a.png")
    out = decode(prepared)
    assert prepared.mime == "image/png" and out.mode == "RGBA"
    assert out.getchannel("A").getextrema() == (128, 128)


def test_associated_alpha_tiff_is_unpremultiplied():
    tiff = encode(Image.new("RGBA", (16, 16), (200, 100, 50, 128)), "TIFF")
    # ExtraSamples (338) = 2 (unassociated) -> 1 (associated, i.e. premultiplied RGBa)
    old = struct.pack("<HHII", 338, 3, 1, 2)
    assert tiff.count(old) == 1
    tiff = tiff.replace(old, struct.pack("<HHII", 338, 3, 1, 1))
    out = decode(prepare_image(tiff, "pre.tif"))
    assert out.mode == "RGBA" and close(out.getpixel((8, 8)), (255, 199, 100, 128), 2)


@pytest.mark.parametrize(("mode", "expected"), [("RGBa", "RGBA"), ("La", "LA")])
def test_premultiplied_modes_in_memory(mode, expected):
    img = Image.new(mode, (4, 4), (50, 25, 12, 128)[: len(mode)])
    assert images._to_standard_mode(img, None).mode == expected


# --- orientation ---------------------------------------------------------------------------------


def oriented_jpeg(orientation: int) -> tuple[Image.Image, bytes]:
    img = Image.new("RGB", (80, 40), WHITE)
    img.paste(RED, (0, 0, 20, 20))  # the stored top-left corner
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return img, encode(img, "JPEG", quality=95, exif=exif.tobytes())


def corner_colours(img: Image.Image) -> dict[str, tuple]:
    w, h = img.size
    spots = {"tl": (5, 5), "tr": (w - 6, 5), "bl": (5, h - 6), "br": (w - 6, h - 6)}
    return {k: img.convert("RGB").getpixel(xy) for k, xy in spots.items()}


def red_corner(img: Image.Image) -> str:
    reds = [k for k, c in corner_colours(img).items() if close(c, RED, 40)]
    assert len(reds) == 1, corner_colours(img)
    return reds[0]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation(orientation):
    src, data = oriented_jpeg(orientation)
    prepared = prepare_image(data, "o.jpg")
    out = decode(prepared)
    size = (40, 80) if orientation >= 5 else (80, 40)
    assert out.size == size == (prepared.source_width, prepared.source_height)
    reference = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert red_corner(out) == red_corner(reference)
    expected = {1: "tl", 3: "br", 6: "tr", 8: "bl"}
    if orientation in expected:
        assert red_corner(out) == expected[orientation]
    assert ExifTags.Base.Orientation not in out.getexif()


def test_orientation_applies_after_downscaling():
    img = Image.new("RGB", (4000, 2000), WHITE)
    img.paste(RED, (0, 0, 800, 800))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    prepared = prepare_image(encode(img, "JPEG", exif=exif.tobytes()), "big.jpg")
    out = decode(prepared)
    assert out.height == 1516 and out.width <= 758 and out.width * out.height <= 1_150_000
    assert (prepared.source_width, prepared.source_height) == (2000, 4000)
    assert red_corner(out) == "tr"


# --- metadata ------------------------------------------------------------------------------------


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


def assert_clean(prepared: PreparedImage) -> None:
    out = decode(prepared)
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "Comment", "Author"):
        assert key not in out.info, key
    assert not out.getexif()
    assert getattr(out, "text", {}) == {}
    for marker in (b"Exif", b"secret", b"ns:meta", b"ICC_PROFILE", b"iCCP", b"48.85"):
        assert marker not in prepared.data, marker


def tagged_exif() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "secret camera"
    exif[ExifTags.Base.Orientation] = 1
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSAreaInformation] = "48.85 secret place"
    return exif.tobytes()


@pytest.mark.parametrize("content", ["photo", "graphic"])
def test_jpeg_metadata_is_stripped(content):
    img = noise((96, 64)) if content == "photo" else Image.new("RGB", (96, 64), BLUE)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(img, "JPEG", exif=tagged_exif(), icc_profile=srgb, xmp=XMP, comment=b"secret")
    src = Image.open(io.BytesIO(data))
    assert {"exif", "icc_profile", "xmp", "comment"} <= src.info.keys()
    assert src.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert_clean(prepare_image(data, "tagged.jpg"))


def test_png_text_chunks_are_stripped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret")
    info.add_text("Author", "secret", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    for img in (Image.new("RGB", (40, 30), BLUE), noise((40, 30))):
        data = encode(img, "PNG", pnginfo=info, exif=tagged_exif())
        assert Image.open(io.BytesIO(data)).text
        assert_clean(prepare_image(data, "tagged.png"))


def test_display_p3_pixels_are_converted_to_srgb():
    icc = p3_like_icc()
    src = Image.new("RGB", (32, 24), (200, 60, 40))
    prepared = prepare_image(encode(src, "PNG", icc_profile=icc), "p3.png")
    out = decode(prepared).convert("RGB")
    p3 = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    expected = ImageCms.profileToProfile(src, p3, ImageCms.createProfile("sRGB")).getpixel((0, 0))
    assert close(out.getpixel((5, 5)), expected, 1)
    assert not close(out.getpixel((5, 5)), (200, 60, 40), 10)
    assert_clean(prepared)


def test_p3_jpeg_photo_is_converted_and_profile_dropped():
    img = Image.new("RGB", (400, 300), (200, 60, 40))
    data = encode(Image.blend(img, noise((400, 300)), 0.05), "JPEG", icc_profile=p3_like_icc())
    prepared = prepare_image(data, "p3.jpg")
    r, g, b = decode(prepared).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert r > 210 and g < 55 and b < 30  # P3 (200, 60, 40) is about sRGB (219, 37, 13)
    assert_clean(prepared)


@pytest.mark.parametrize(
    "icc",
    [
        b"not a profile at all" * 10,
        ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(),
    ],
    ids=["broken", "lab"],
)
def test_unusable_profile_is_dropped_and_pixels_kept(icc):
    src = Image.new("RGB", (32, 24), (200, 60, 40))
    prepared = prepare_image(encode(src, "PNG", icc_profile=icc), "odd.png")
    assert decode(prepared).convert("RGB").getpixel((5, 5)) == (200, 60, 40)
    assert_clean(prepared)


# --- animation, HEIC -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animation_sends_the_first_frame(fmt):
    frames = [Image.new("RGB", (48, 32), RED), Image.new("RGB", (48, 32), BLUE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    out = decode(prepare_image(data, f"anim.{fmt.lower()}")).convert("RGB")
    assert close(out.getpixel((24, 16)), RED, 12)


def test_heic_round_trip():
    pillow_heif.register_heif_opener()  # already done by nexuschat.images; harmless
    img = Image.new("RGB", (320, 240), BLUE)
    img.paste(RED, (0, 0, 160, 240))
    prepared = prepare_image(encode(img, "HEIF", quality=90), "phone.heic")
    out = decode(prepared).convert("RGB")
    assert prepared.mime in ("image/jpeg", "image/png") and out.size == (320, 240)
    assert close(out.getpixel((40, 120)), RED, 12) and close(out.getpixel((280, 120)), BLUE, 12)


def test_avif_round_trip_turns_upright_and_drops_metadata():
    img = Image.new("RGB", (320, 240), BLUE)
    img.paste(RED, (0, 0, 160, 240))
    exif = Image.Exif()
    exif.load(tagged_exif())
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: shown turned 90° clockwise
    data = encode(img, "AVIF", quality=90, exif=exif.tobytes(), xmp=XMP)
    assert Image.open(io.BytesIO(data)).format == "AVIF"
    prepared = prepare_image(data, "phone.avif")
    out = decode(prepared).convert("RGB")
    assert out.size == (240, 320)  # upright
    assert close(out.getpixel((120, 40)), RED, 16) and close(out.getpixel((120, 280)), BLUE, 16)
    assert_clean(prepared)
    assert "avif" in ACCEPTED_EXTENSIONS


def test_running_out_of_memory_while_decoding_says_so(tmp_path):
    """A real MemoryError: a child process with its address space capped decodes an image that
    is within the pixel limit but needs more memory than it has left."""
    script = tmp_path / "tight.py"
    script.write_text(textwrap.dedent("""
        import io, os, resource, sys
        from PIL import Image
        from nexuschat.images import prepare_images
        buffer = io.BytesIO()
        Image.new("RGB", (7000, 5000), (10, 20, 30)).save(buffer, "PNG")
        data = buffer.getvalue()
        used = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (used + 60_000_000, used + 60_000_000))
        (result,) = prepare_images([(data, "huge.png")], "balanced")
        print(result.code)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.stdout.strip() == "image.error.no_memory", done.stderr[-2000:]


# --- size ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo_12mp() -> bytes:
    img = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    ImageDraw.Draw(img).ellipse((500, 500, 2500, 2000), fill=RED)
    return encode(img, "JPEG", quality=90)


@pytest.mark.parametrize(
    ("preset", "size"),
    [("balanced", (1238, 928)), ("economy", (730, 547)), ("original", (4000, 3000))],
)
def test_downscale_limits_per_preset(photo_12mp, preset, size):
    prepared = prepare_image(photo_12mp, "big.jpg", preset)
    out = decode(prepared)
    assert (prepared.width, prepared.height) == out.size == size
    limits = PRESETS[preset]
    assert max(size) <= (limits.max_long_edge or 8000) and max(size) <= 8000
    assert size[0] * size[1] <= (limits.max_pixels or size[0] * size[1])
    assert abs(size[0] / size[1] - 4 / 3) < 0.01
    assert (prepared.source_width, prepared.source_height) == (4000, 3000)
    assert prepared.source_bytes == len(photo_12mp) and prepared.size_bytes == len(prepared.data)


@pytest.mark.parametrize(
    ("size", "preset", "expected"),
    [
        ((100, 20000), "balanced", (7, 1568)),
        ((20000, 1), "economy", (768, 1)),
        ((9000, 100), "original", (8000, 88)),
        ((2000, 2000), "balanced", (1072, 1072)),
    ],
)
def test_extreme_shapes_keep_aspect_and_limits(size, preset, expected):
    prepared = prepare_image(encode(Image.new("L", size, 128), "PNG"), "thin.png", preset)
    assert (prepared.width, prepared.height) == expected


def test_custom_preset():
    prepared = prepare_image(encode(noise((400, 300)), "PNG"), "a.png", Preset("tiny", 100, None))
    assert (prepared.width, prepared.height) == (100, 75)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_small_images_are_never_upscaled(preset):
    prepared = prepare_image(encode(noise((300, 200)), "PNG"), "small.png", preset)
    assert (prepared.width, prepared.height) == (300, 200)


def test_graphics_go_png_losslessly_and_photos_jpeg():
    img = Image.new("RGB", (300, 200), WHITE)
    draw = ImageDraw.Draw(img)
    for y in range(10, 190, 14):
        draw.text((8, y), "Screenshot text 0123456789 ABCDEFG", fill=(30, 30, 60))
    draw.rectangle((200, 20, 280, 80), fill=BLUE)
    prepared = prepare_image(encode(img, "PNG"), "shot.png")
    assert prepared.mime == "image/png"
    assert decode(prepared).convert("RGB").tobytes() == img.tobytes()
    assert prepare_image(encode(noise((300, 200)), "PNG"), "photo.png").mime == "image/jpeg"


def test_grey_photo_goes_jpeg_and_grey_graphic_png():
    photo = Image.effect_noise((300, 200), 40)
    prepared = prepare_image(encode(photo, "PNG"), "grey.png")
    assert prepared.mime == "image/jpeg" and decode(prepared).mode == "L"
    graphic = Image.new("L", (300, 200), 250)
    draw = ImageDraw.Draw(graphic)
    for y in range(10, 190, 14):
        draw.text((8, y), "Scanned page, grey 0123456789", fill=20)
    prepared = prepare_image(encode(graphic, "PNG"), "scan.png")
    assert prepared.mime == "image/png" and decode(prepared).tobytes() == graphic.tobytes()


def b64_size(n: int) -> int:
    return 4 * -(-n // 3)


def test_huge_noisy_photo_is_brought_under_5_mb():
    data = encode(noise((3000, 2000)), "BMP")  # 18 MB of noise: a JPEG of it is ~10 MB
    prepared = prepare_image(data, "noise.bmp", "original")
    assert prepared.mime == "image/jpeg"
    assert prepared.size_bytes < MAX_IMAGE_BYTES
    assert b64_size(prepared.size_bytes) <= MAX_IMAGE_BYTES
    assert 0.66 < prepared.width / prepared.height / 1.5 < 1.5 and prepared.width >= 1000


def test_huge_noisy_transparent_image_is_brought_under_5_mb():
    img = noise((1600, 1500), "RGBA")
    prepared = prepare_image(encode(img, "TIFF"), "noise.tif", "original")
    assert prepared.mime == "image/png" and decode(prepared).mode == "RGBA"
    assert b64_size(prepared.size_bytes) <= MAX_IMAGE_BYTES
    assert prepared.width < 1600 and abs(prepared.width / prepared.height - 16 / 15) < 0.02


def test_banded_resize_equals_one_resize():
    img = noise((1500, 1000))
    whole = img.resize((977, 651), Image.Resampling.BICUBIC)
    banded = images._resize(img, (977, 651), bands=3)
    assert ImageChops.difference(banded, whole).getextrema() <= ((0, 1),) * 3  # float rounding


# --- wire format, tokens, batches ----------------------------------------------------------------


def test_image_part_structure():
    data = b"\xff\xd8\xff\xe0 not really a jpeg"
    part = image_part(data, "image/jpeg")
    assert part.keys() == {"type", "image_url"} and part["type"] == "image_url"
    assert part["image_url"].keys() == {"url"}
    prefix = "data:image/jpeg;base64,"
    assert part["image_url"]["url"].startswith(prefix)
    assert base64.b64decode(part["image_url"]["url"][len(prefix) :], validate=True) == data


@pytest.mark.parametrize(
    ("size", "model", "tokens"),
    [
        ((1092, 1092), "claude-sonnet-4", 1590),
        ((1238, 928), "", 1532),
        ((1238, 928), "Qwen2.5-VL-72B-Instruct", 45 * 34 + 2),
        ((28, 28), "qwen-vl", 3),
        ((29, 1), "QWEN", 4),
        ((1, 1), "claude", 1),
    ],
)
def test_estimate_tokens(size, model, tokens):
    assert estimate_tokens(*size, model=model) == tokens


def test_prepare_images_keeps_order_and_reports_errors_in_place():
    red = encode(Image.new("RGB", (30, 20), RED), "PNG")
    blue = encode(Image.new("RGB", (20, 30), BLUE), "JPEG")
    result = prepare_images([(red, "r.png"), (b"", "e.png"), (blue, "b.jpg"), (b"junk", "j.gif")])
    assert [type(r) for r in result] == [PreparedImage, ImageError, PreparedImage, ImageError]
    assert (result[0].name, result[0].width) == ("r.png", 30)
    assert (result[2].name, result[2].width) == ("b.jpg", 20)
    assert result[1].code == "image.error.empty" and result[1].params["name"] == "e.png"
    assert result[3].code == "image.error.unreadable" and result[3].params["name"] == "j.gif"
    assert prepare_images([]) == []
    assert prepare_images([(red, "r.png")])[0].name == "r.png"


def test_prepare_images_matches_one_by_one(photo_12mp):
    batch = prepare_images([(photo_12mp, "1.jpg"), (photo_12mp, "2.jpg")], "economy")
    single = prepare_image(photo_12mp, "1.jpg", "economy")
    assert batch[0] == single and batch[1].data == single.data


def test_thumbnail_shrinks_wide_images_and_keeps_small_ones():
    from nexuschat.images import thumbnail

    wide = prepare_image(encode(noise((2000, 1000)), "PNG"), "wide.png")
    small, mime = thumbnail(wide.data, 360)
    with Image.open(io.BytesIO(small)) as img:
        assert img.size == (360, 180)
    assert mime in ("image/jpeg", "image/png")
    tiny = prepare_image(encode(noise((100, 50)), "PNG"), "tiny.png")
    assert thumbnail(tiny.data, 360)[0] is tiny.data
    assert wide.sha256 == hashlib.sha256(wide.data).hexdigest()
