"""A generated corpus of bad and odd inputs for ``prnet reconstruct`` and the API.

Everything is built here from the bundled photo (``prnet/assets/astronaut.jpg``, one face),
downscaled to 256 px so that the whole suite stays fast; nothing is downloaded.

:func:`make_corpus` writes the files into a folder and returns one :class:`Case` per input.
Each case's ``expect`` says what the product must do with it:

- ``"good"``: readable with at least one face: ``<stem>.json`` lists >= 1 face and every file
  it lists exists and parses;
- ``"no_face"``: readable, no face: ``<stem>.json`` with ``"faces": []`` (exit 0 unless
  ``--strict``);
- ``"bad"``: cannot be read: exactly one stderr line naming it, counted failed (exit 1);
- ``"readable"``: must be read (no error line, a ``<stem>.json``), with or without a face (a
  dithered 1-bit copy of the photo: whether a detector sees the face there is not specified);
- ``"any_clean"``: the formats allow either reading or refusing it (a PNG with a bad CRC in an
  *ancillary* chunk: ISO 15948 lets a decoder ignore it or refuse the file; a JPEG whose body is
  random bytes); either outcome must be clean (a JSON whose files parse, or one error line).

``Case.path`` is relative to the corpus folder (the CLI test runs with that folder as its
working directory, so that names such as ``-o.jpg`` reach ``prnet`` as given).
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "src" / "prnet" / "assets" / "astronaut.jpg"

GOOD, NO_FACE, BAD, EITHER, READABLE = "good", "no_face", "bad", "any_clean", "readable"
#: an input the CLI takes as a folder and finds empty: one warning line naming it, no failure
EMPTY_FOLDER = "empty_folder"

#: ``--max-pixels`` used by the CLI run (and by the API test's read_image): the good images
#: are <= 256 x 256 (65,536 px) or 4000 px long and thin; ``over_max_pixels`` has 360,000.
MAX_PIXELS = 300_000


@dataclass(frozen=True)
class Case:
    """One input of the corpus.

    Attributes:
        kind: short unique description (also the test id).
        path: path relative to the corpus folder, as passed to ``prnet`` (str, or bytes for a
            name that is not UTF-8).
        expect: GOOD, NO_FACE, BAD or EITHER (see the module docstring).
        message: for BAD: a word the one stderr line / the ImageReadError should contain
            (informative; the suite checks it only where the wording is documented).
        size: for GOOD: the (width, height) the image must have once read (EXIF applied).
        posix_only: needs a POSIX file system feature (symlink, FIFO, non-UTF-8 name).
    """

    kind: str
    path: str | bytes
    expect: str
    message: str = ""
    size: tuple[int, int] | None = None
    posix_only: bool = False

    @property
    def arg(self) -> str:
        """The path as a command-line argument / ``str`` path (a non-UTF-8 name is
        surrogate-escaped, which ``subprocess`` and ``open`` turn back into its bytes)."""
        return os.fsdecode(self.path)

    def abspath(self, root: Path) -> str:
        return os.path.join(str(root), self.arg)

    @property
    def display(self) -> str:
        """The name as it can appear in text (a non-UTF-8 byte name: surrogate-escaped)."""
        return os.fsdecode(self.path) if isinstance(self.path, bytes) else self.path

    def representations(self) -> list[str]:
        """Forms of the name a one-line message may use: as given, and for a non-UTF-8 name
        Python's ``backslashreplace`` / ``surrogateescape`` forms and the U+FFFD replacement."""
        d = self.display
        forms = [d]
        if isinstance(self.path, bytes):
            forms += [d.encode("utf-8", "backslashreplace").decode("ascii", "replace"),
                      self.path.decode("utf-8", "replace"),
                      self.path.decode("latin-1"), repr(self.path)[2:-1]]
        return forms


# --------------------------------------------------------------------------- helpers


def base_rgb(side: int = 256) -> np.ndarray:
    """The bundled photo downscaled to side x side, RGB uint8."""
    with Image.open(SAMPLE) as im:
        return np.array(im.convert("RGB").resize((side, side), Image.LANCZOS))


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    c = zlib.crc32(kind + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", c)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height RGB pixels, with an empty IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b""))


def png_bad_ancillary_crc(png: bytes) -> bytes:
    """``png`` with a tEXt chunk (ancillary) whose CRC is wrong, inserted after IHDR."""
    end_ihdr = 8 + 8 + 13 + 4
    bad = _chunk(b"tEXt", b"Comment\x00bad crc", crc=0xDEADBEEF)
    return png[:end_ihdr] + bad + png[end_ihdr:]


def png_bad_ihdr_crc(png: bytes) -> bytes:
    """``png`` with the CRC of IHDR (a critical chunk) broken."""
    b = bytearray(png)
    b[8 + 8 + 13: 8 + 8 + 13 + 4] = b"\x00\x00\x00\x00"
    return bytes(b)


def jpeg_with_icc(jpg: bytes, icc: bytes) -> bytes:
    """``jpg`` with an APP2 ICC_PROFILE segment holding ``icc`` inserted after SOI."""
    payload = b"ICC_PROFILE\x00" + bytes([1, 1]) + icc
    seg = b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload
    return jpg[:2] + seg + jpg[2:]


#: EXIF orientation → the transpose Pillow's exif_transpose applies to show the image; the
#: corpus stores the *inverse* of it applied to the upright picture.
_SHOW = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
         4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
         6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_90}
_INVERSE = {Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
            Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270}


def exif_jpeg(upright: Image.Image, orientation: int) -> bytes:
    show = _SHOW.get(orientation)
    stored = upright if show is None else upright.transpose(_INVERSE.get(show, show))
    exif = stored.getexif()
    exif[0x0112] = orientation
    data = _encode(stored, "JPEG", quality=92, exif=exif)
    with Image.open(io.BytesIO(data)) as check:  # the generator itself must be right
        shown = ImageOps.exif_transpose(check)
        assert shown.size == upright.size, (orientation, shown.size)
    return data


# --------------------------------------------------------------------------- the corpus


def make_corpus(folder: str | os.PathLike) -> list[Case]:
    """Write every input into ``folder`` (created) and return the cases, in a fixed order."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    rng = np.random.default_rng(20260)

    def add(kind: str, name: str | bytes, data: bytes | None, expect: str, message: str = "",
            size: tuple[int, int] | None = None, posix_only: bool = False) -> Case:
        c = Case(kind, name, expect, message, size, posix_only)
        if data is not None:
            p = c.abspath(root)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        cases.append(c)
        return c

    rgb = base_rgb(256)
    pil = Image.fromarray(rgb)
    jpg = _encode(pil, "JPEG", quality=92)
    png = _encode(pil, "PNG")
    formats = {
        "jpg": jpg,
        "png": png,
        "webp": _encode(pil, "WEBP", quality=90),
        "gif": _encode(pil.convert("P", palette=Image.ADAPTIVE), "GIF"),
        "tif": _encode(pil, "TIFF", compression="tiff_lzw"),
        "bmp": _encode(pil, "BMP"),
    }
    S = (256, 256)

    # --- good: every format, every colour mode, EXIF orientations, odd containers
    for ext, data in formats.items():
        add(f"good_{ext}", f"good_{ext}.{ext}", data, GOOD, size=S)
    add("mode_L", "mode_L.png", _encode(pil.convert("L"), "PNG"), GOOD, size=S)
    la = pil.convert("LA")
    add("mode_LA", "mode_LA.png", _encode(la, "PNG"), GOOD, size=S)
    add("mode_P", "mode_P.png", _encode(pil.convert("P", palette=Image.ADAPTIVE), "PNG"),
        GOOD, size=S)
    pt = pil.convert("P", palette=Image.ADAPTIVE, colors=255)
    pt.info["transparency"] = 0
    add("mode_P_transparency", "mode_P_transparency.png", _encode(pt, "PNG", transparency=0),
        GOOD, size=S)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:20, :20, 3] = 0
    add("mode_RGBA", "mode_RGBA.png", _encode(Image.fromarray(rgba), "PNG"), GOOD, size=S)
    add("mode_CMYK_jpeg", "mode_CMYK.jpg", _encode(pil.convert("CMYK"), "JPEG", quality=92),
        GOOD, size=S)
    grey16 = (np.asarray(pil.convert("L"), np.uint16) * 257)
    add("mode_I16_png", "mode_I16.png", _encode(Image.fromarray(grey16), "PNG"),
        GOOD, size=S)
    fimg = np.asarray(pil.convert("L"), np.float32) / 255.0
    add("mode_F_tiff", "mode_F.tif", _encode(Image.fromarray(fimg), "TIFF"), GOOD, size=S)
    fnan = fimg.copy()
    fnan[:8, :8] = np.nan
    fnan[-8:, -8:] = np.inf
    fnan[:8, -8:] = -np.inf
    add("mode_F_tiff_nan_inf_pixels", "mode_F_naninf.tif",
        _encode(Image.fromarray(fnan), "TIFF"), GOOD, size=S)
    add("mode_1_bilevel", "mode_1.png", _encode(pil.convert("1"), "PNG"), READABLE)
    upright = Image.fromarray(np.ascontiguousarray(rgb[:, 16:240]))  # 224 x 256 (w x h)
    for o in range(1, 9):
        add(f"exif_orientation_{o}", f"exif_{o}.jpg", exif_jpeg(upright, o), GOOD, size=(224, 256))
    frames = [pil, Image.fromarray(rgb[:, ::-1].copy()), Image.new("RGB", S, (0, 0, 0))]
    gif_frames = [f.convert("P", palette=Image.ADAPTIVE) for f in frames]
    add("animated_gif", "animated.gif",
        _encode(gif_frames[0], "GIF", save_all=True, append_images=gif_frames[1:], duration=100,
                loop=0), GOOD, size=S)
    add("multipage_tiff", "multipage.tif",
        _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]), GOOD, size=S)
    add("jpeg_bogus_icc_profile", "bogus_icc.jpg", jpeg_with_icc(jpg, b"not an icc profile" * 8),
        GOOD, size=S)
    add("png_bad_crc_ancillary_chunk", "bad_crc_text.png", png_bad_ancillary_crc(png), EITHER)
    add("png_content_named_jpg", "png_inside.jpg", png, GOOD, size=S)
    add("no_extension", "noext", jpg, GOOD, size=S)
    add("upper_case_extension", "upper.JPEG", jpg, GOOD, size=S)
    add("long_thin_face_free_1x4000", "thin_1x4000.png",
        _encode(Image.new("RGB", (1, 4000), (120, 90, 60)), "PNG"), NO_FACE)

    # --- good: awkward names
    add("name_with_spaces", "name with  spaces.jpg", jpg, GOOD, size=S)
    add("name_with_quotes", "name 'single' \"double\".jpg", jpg, GOOD, size=S)
    add("name_leading_dash", "-o.jpg", jpg, GOOD, size=S)
    add("name_unicode_nfc", "caf\u00e9_nfc.jpg", jpg, GOOD, size=S)
    add("name_unicode_nfd", "cafe\u0301_nfd.jpg", jpg, GOOD, size=S)
    add("name_nan_inf_words", "NaN inf.jpg", jpg, GOOD, size=S)
    add("name_emoji_cjk", "顔\U0001f600.jpg", jpg, GOOD, size=S)
    if sys.platform.startswith("linux"):
        add("name_not_utf8", b"caf\xe9.jpg", jpg, GOOD, size=S, posix_only=True)
    add("name_255_bytes", "n" * 251 + ".jpg", jpg, GOOD, size=S)
    add("name_300_chars", "m" * 296 + ".jpg", None, BAD, "too long")
    # --- good: inputs whose output stems collide
    for name in ("x.jpg", "x.png", "x_png.jpg", "X.JPG"):
        data = png if name.endswith(".png") else jpg
        add(f"collision_{name}", name, data, GOOD, size=S)
    add("collision_sub_a/x.jpg", "sub_a/x.jpg", jpg, GOOD, size=S)
    add("collision_sub_b/x.jpg", "sub_b/x.jpg", jpg, GOOD, size=S)

    # --- no face
    add("noise_uniform", "noise_uniform.png",
        _encode(Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)), "PNG"),
        NO_FACE)
    g = np.clip(rng.normal(128, 60, (256, 256, 3)), 0, 255).astype(np.uint8)
    add("noise_gaussian", "noise_gaussian.jpg", _encode(Image.fromarray(g), "JPEG"), NO_FACE)
    blocks = np.kron(rng.integers(0, 256, (16, 16, 3)), np.ones((16, 16, 1))).astype(np.uint8)
    add("noise_blocks", "noise_blocks.png", _encode(Image.fromarray(blocks), "PNG"), NO_FACE)
    add("black", "black.png", _encode(Image.new("RGB", S), "PNG"), NO_FACE)
    add("white", "white.jpg", _encode(Image.new("RGB", S, (255, 255, 255)), "JPEG"), NO_FACE)
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    add("gradient", "gradient.png", _encode(Image.fromarray(ramp), "PNG"), NO_FACE)
    for w, h in ((1, 1), (2, 2), (10, 10), (4000, 1)):
        add(f"tiny_{w}x{h}", f"tiny_{w}x{h}.png",
            _encode(Image.new("RGB", (w, h), (200, 150, 120)), "PNG"), NO_FACE)

    # --- bad: empty, truncated, corrupt, not an image, too large
    add("empty_jpg", "empty.jpg", b"", BAD, "empty")
    add("empty_png", "empty.png", b"", BAD, "empty")
    add("empty_noext", "empty_noext", b"", BAD, "empty")
    for ext, data in formats.items():
        for frac in (0.02, 0.5, 0.9):
            cut = max(12, int(len(data) * frac))
            add(f"truncated_{ext}_{int(frac * 100)}pct", f"trunc{int(frac * 100)}_{ext}.{ext}",
                data[:cut], BAD)
    add("truncated_jpg_soi_only", "trunc_soi.jpg", jpg[:2], BAD)
    add("truncated_png_signature_only", "trunc_sig.png", png[:8], BAD)
    add("corrupt_jpeg_after_header", "corrupt_body.jpg",
        jpg[:600] + bytes(rng.integers(0, 256, len(jpg) - 600, dtype=np.uint8)), EITHER)
    add("corrupt_jpeg_header", "corrupt_header.jpg", b"\xff\xd8\xff\xe0" + b"\xff" * 64
        + jpg[200:], BAD)
    add("corrupt_png_ihdr_crc", "bad_ihdr_crc.png", png_bad_ihdr_crc(png), BAD)
    bad_bmp = bytearray(formats["bmp"])
    bad_bmp[14:18] = struct.pack("<I", 7)  # impossible DIB header size
    add("corrupt_bmp_header", "corrupt_header.bmp", bytes(bad_bmp), BAD)
    bad_gif = b"GIF89a" + b"\x00" * 7 + formats["gif"][13:40]
    add("corrupt_gif_header", "corrupt_header.gif", bad_gif, BAD)
    bad_tif = bytearray(formats["tif"])
    bad_tif[4:8] = struct.pack("<I", 0x7FFFFFF0)  # first IFD far past the end
    add("corrupt_tiff_ifd_offset", "corrupt_ifd.tif", bytes(bad_tif), BAD)
    bad_webp = b"RIFF" + struct.pack("<I", 4) + b"WEBPVP8 " + b"\x00" * 16
    add("corrupt_webp_riff", "corrupt_riff.webp", bad_webp, BAD)
    add("magic_only_png", "magic_only.png", b"\x89PNG\r\n\x1a\n", BAD)
    add("text_named_jpg", "text.jpg", b"this is a text file, not a JPEG\n", BAD, "not an image")
    add("html_named_png", "page.png",
        b"<!DOCTYPE html><html><body><img src='x.png'></body></html>\n", BAD, "not an image")
    add("pdf_named_jpg", "doc.jpg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        BAD, "not an image")
    add("random_bytes_named_webp", "random.webp",
        bytes(rng.integers(0, 256, 4096, dtype=np.uint8)), BAD, "not an image")
    add("nul_bytes_named_tif", "nul.tif", b"\x00" * 1024, BAD, "not an image")
    add("png_bomb_header_20000x20000", "bomb.png", png_header_only(20_000, 20_000), BAD,
        "too large")
    add("png_bomb_header_2gx2g", "bomb_huge.png", png_header_only(2**31 - 1, 2**31 - 1), BAD,
        "too large")
    add("png_zero_width_header", "zero_width.png", png_header_only(0, 10), BAD)
    add("over_max_pixels", "over_max_pixels.png",
        _encode(Image.new("RGB", (600, 600), (90, 90, 90)), "PNG"), BAD, "too large")

    # --- bad: not regular files
    os.makedirs(root / "folder.jpg", exist_ok=True)
    add("directory_named_jpg", "folder.jpg", None, EMPTY_FOLDER)
    add("missing_file", "missing.jpg", None, BAD, "not found")
    if hasattr(os, "symlink") and os.name == "posix":
        os.symlink("does_not_exist.jpg", root / "dangling.jpg")
        add("dangling_symlink", "dangling.jpg", None, BAD, posix_only=True)
        os.symlink("loop_b.jpg", root / "loop_a.jpg")
        os.symlink("loop_a.jpg", root / "loop_b.jpg")
        add("symlink_loop", "loop_a.jpg", None, BAD, posix_only=True)
        os.symlink("good_jpg.jpg", root / "link_to_good.jpg")
        add("symlink_to_good", "link_to_good.jpg", None, GOOD, size=S, posix_only=True)
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo.jpg")
        add("fifo_named_pipe", "fifo.jpg", None, BAD, posix_only=True)
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root reads anything
        add("unreadable_permissions", "unreadable.jpg", jpg, BAD)
        os.chmod(root / "unreadable.jpg", 0)

    kinds = [c.kind for c in cases]
    assert len(set(kinds)) == len(kinds), "duplicate kinds"
    return cases


def selected(cases: list[Case]) -> list[Case]:
    """``cases`` without the kinds listed in ``$PRNET_ADVERSARIAL_EXCLUDE`` (comma-separated):
    a diagnostic aid only (one input that crashes the whole mixed run hides what the others
    do); CI runs the full corpus."""
    drop = {k.strip() for k in os.environ.get("PRNET_ADVERSARIAL_EXCLUDE", "").split(",")}
    return [c for c in cases if c.kind not in drop]


def by_expect(cases: list[Case], *expect: str) -> list[Case]:
    return [c for c in cases if c.expect in expect]
