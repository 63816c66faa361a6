"""Robust image reading/writing and input listing.

Every image enters the library as RGB uint8 (H, W, 3), whatever the file holds:

- EXIF orientation is applied (the array is what a photo viewer shows);
- grey, 1-bit, palette, CMYK, YCbCr, LAB... are converted to RGB;
- images with alpha (RGBA, LA, palette with transparency) are composited over a white
  background (the alpha channel is not returned);
- 16-bit images (PNG/TIFF, grey or colour) are scaled to 8 bits with rounding
  (``round(v * 255 / 65535)``), 32-bit float images are taken as [0, 1];
- the pixel count is checked from the header *before* decoding (default limit
  :data:`DEFAULT_MAX_PIXELS`), so decompression bombs are refused cheaply.

Failures raise :class:`prnet.errors.ImageReadError` with a one-line message that names the
file (or ``<bytes>`` / ``<array>``).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from prnet.errors import ImageReadError, InputShapeError, PRNetError
from prnet.io._atomic import atomic_open
from prnet.io._quiet import quiet_native_stderr, quiet_warnings
from prnet.io.listing import IMAGE_EXTENSIONS, path_problem, scan_inputs

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "ImageListing",
    "list_images",
    "read_image",
    "to_rgb_uint8",
    "write_image",
]

#: Default limit on width * height accepted by :func:`read_image`.
DEFAULT_MAX_PIXELS = 80_000_000

_WHITE = 255.0
_HIGH_DEPTH_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_SAVE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
#: Extensions :func:`write_image` writes (lower case).
WRITE_EXTENSIONS = tuple(_SAVE_FORMATS)


# --------------------------------------------------------------------------- arrays


def _scale16(a: np.ndarray) -> np.ndarray:
    """uint16 (or int values in [0, 65535]) -> uint8 with rounding."""
    a = np.clip(a, 0, 65535).astype(np.uint32)
    return ((a * 255 + 32767) // 65535).astype(np.uint8)


def _composite_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite uint8 RGB with uint8 alpha (H, W) over white."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    out = rgb.astype(np.float32) * a + _WHITE * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def to_rgb_uint8(array: np.ndarray, name: str = "<array>") -> np.ndarray:
    """Convert an in-memory image array to RGB uint8 (H, W, 3) (a new array).

    Accepted: (H, W), (H, W, 1) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB, (H, W, 4) RGBA;
    dtypes uint8, uint16 (scaled), bool, or float in [0, 1] (clipped). Alpha is composited
    over white. Channel order is taken to be RGB (convert OpenCV's BGR first).

    Raises:
        ImageReadError: for any other shape or dtype.
    """
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageReadError(
            f"cannot read image {name}: expected an array of shape (H, W), (H, W, 1|2|3|4), "
            f"got {a.shape}"
        )
    if a.dtype == np.uint8:
        u8 = a
    elif a.dtype == bool:
        u8 = a.astype(np.uint8) * 255
    elif a.dtype == np.uint16:
        u8 = _scale16(a)
    elif np.issubdtype(a.dtype, np.floating):
        u8 = np.clip(np.rint(np.nan_to_num(a.astype(np.float32), posinf=1.0, neginf=0.0) * 255.0),
                     0, 255).astype(np.uint8)
    else:
        raise ImageReadError(
            f"cannot read image {name}: unsupported array dtype {a.dtype} "
            "(use uint8, uint16, bool or float in [0, 1])"
        )
    c = u8.shape[2]
    if c in (1, 2):
        rgb = np.repeat(u8[:, :, :1], 3, axis=2)
    else:
        rgb = u8[:, :, :3]
    if c in (2, 4):
        return _composite_white(rgb, u8[:, :, c - 1])
    return np.array(rgb, dtype=np.uint8, order="C", copy=True)


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W, C) array, as exif_transpose does."""
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: x.swapaxes(0, 1),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: np.rot90(x, 2).swapaxes(0, 1),
        8: lambda x: np.rot90(x, 1),
    }
    op = ops.get(int(orientation))
    return np.ascontiguousarray(op(a)) if op else a


# --------------------------------------------------------------------------- decoding


def _is_high_depth(im: Image.Image) -> bool:
    if im.mode in _HIGH_DEPTH_MODES:
        return True
    for tile in getattr(im, "tile", None) or []:
        args = tile[3] if len(tile) > 3 else None
        raw = args[0] if isinstance(args, tuple) and args else args
        if isinstance(raw, str) and ("16" in raw or "32" in raw):
            return True
    return False


def _decode_high_depth(data: bytes, im: Image.Image, name: str) -> np.ndarray:
    """16/32-bit images: decode with OpenCV (keeps all bits), scale to RGB uint8."""
    with quiet_native_stderr(name):  # libpng / OpenCV warnings that name no file
        a = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if a is None:  # OpenCV cannot: fall back on Pillow's array (may be 8-bit already)
        im.load()
        a = np.asarray(im)
    elif a.ndim == 3 and a.shape[2] >= 3:
        a = a[:, :, [2, 1, 0, 3][: a.shape[2]]]  # BGR(A) -> RGB(A)
    if not (a.dtype == np.uint8 or np.issubdtype(a.dtype, np.floating)):
        a = _scale16(a.astype(np.int64))
    rgb = to_rgb_uint8(a, name)
    # OpenCV's IMREAD_UNCHANGED ignores EXIF orientation: apply it here.
    return _apply_orientation(rgb, im.getexif().get(0x0112, 1))


def _decode_pil(im: Image.Image, name: str) -> np.ndarray:
    ImageOps.exif_transpose(im, in_place=True)  # in place: no copy of a large frame
    mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))
        return _composite_white(rgba[:, :, :3], rgba[:, :, 3])
    if mode == "RGB":
        return np.array(im)
    if mode == "1":
        im = im.convert("L")
    try:
        return np.array(im.convert("RGB"))
    except ValueError:  # a mode Pillow cannot convert (only reached after a full decode)
        raise ImageReadError(f"cannot read image {name}: unsupported colour mode {mode}") from None


def _oneline(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _os_error(name: str, e: OSError) -> ImageReadError:
    return ImageReadError(f"cannot read image {name}: {_oneline(OSError(e.strerror or e))}")


_PILLOW_LIMIT_LOCK = threading.RLock()


@contextlib.contextmanager
def _pillow_pixel_limit(max_pixels: int) -> Iterator[None]:
    """Let ``max_pixels`` govern instead of Pillow's own limit (``Image.MAX_IMAGE_PIXELS``,
    whose double raises DecompressionBombError) while the block opens an image: Pillow checks
    no more than twice ``max_pixels`` (a guard behind ours), and our own check of the header
    refuses images over ``max_pixels`` before decoding, with its own message. Threads take
    turns."""
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = 2 * max(int(max_pixels), 1)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open(source: bytes | Path, name: str, max_pixels: int) -> np.ndarray:
    """Open lazily (header only), check the size, then decode."""
    if isinstance(source, Path):
        try:
            empty = source.stat().st_size == 0
        except OSError as e:
            raise _os_error(name, e) from None
    else:
        empty = len(source) == 0
    if empty:
        raise ImageReadError(f"cannot read image {name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings(), _pillow_pixel_limit(max_pixels):
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(source if isinstance(source, Path) else io.BytesIO(source))
    except Image.DecompressionBombError as e:
        raise ImageReadError(
            f"cannot read image {name}: image too large (limit {max_pixels} pixels; {_oneline(e)})"
        ) from None
    except UnidentifiedImageError:
        raise ImageReadError(
            f"cannot read image {name}: not an image or unsupported format"
        ) from None
    except OSError as e:
        if e.errno is not None:  # file-system error (permissions, I/O)
            raise _os_error(name, e) from None
        raise ImageReadError(f"cannot read image {name}: corrupt header ({_oneline(e)})") from None
    except Exception as e:  # noqa: BLE001 - decoders raise many types on corrupt headers
        raise ImageReadError(f"cannot read image {name}: corrupt header ({_oneline(e)})") from None
    with im:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageReadError(f"cannot read image {name}: invalid size {w}x{h}")
        if w * h > max_pixels:
            raise ImageReadError(
                f"cannot read image {name}: image too large ({w}x{h} = {w * h} pixels, "
                f"limit {max_pixels})"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                if _is_high_depth(im):
                    data = source.read_bytes() if isinstance(source, Path) else source
                    return _decode_high_depth(data, im, name)
                im.load()
                return _decode_pil(im, name)
        except (ImageReadError, MemoryError):
            raise
        except Exception as e:  # noqa: BLE001 - truncated/corrupt data surface as many types
            raise ImageReadError(
                f"cannot read image {name}: truncated or corrupt data ({_oneline(e)})"
            ) from None


def read_image(
    source: str | os.PathLike | bytes | bytearray | memoryview | np.ndarray,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Read an image as RGB uint8 (H, W, 3); see the module docstring for the conversions.

    Args:
        source: a file path, the encoded file content (bytes), or an array (converted with
            :func:`to_rgb_uint8`; it is taken to be RGB(A) already).
        max_pixels: refuse images with more than this many pixels (width * height), checked
            on the header before decoding.

    Returns:
        (H, W, 3) uint8 RGB, a new array.

    Raises:
        ImageReadError: missing file, a directory, an empty (0-byte) file, a file that is
            not an image, truncated or corrupt data, or an image over ``max_pixels``. The
            message is one line naming the file.
    """
    if isinstance(source, np.ndarray):
        h, w = source.shape[:2] if source.ndim >= 2 else (0, 0)
        if h * w > max_pixels:
            raise ImageReadError(
                f"cannot read image <array>: image too large ({w}x{h} = {w * h} pixels, "
                f"limit {max_pixels})"
            )
        return to_rgb_uint8(source, "<array>")
    if isinstance(source, (bytes, bytearray, memoryview)):
        with quiet_warnings("<bytes>"):
            return _open(bytes(source), "<bytes>", max_pixels)
    if not isinstance(source, (str, os.PathLike)):
        raise ImageReadError(
            f"cannot read image {source!r}: expected a path, bytes or an array, "
            f"got {type(source).__name__}"
        )
    path = Path(source)
    name = str(path)
    problem = path_problem(path)  # never opens a FIFO or a device (that could block)
    if problem is not None:
        raise ImageReadError(f"cannot read image {name}: {problem}")
    with quiet_warnings(name):  # decoder warnings go to the debug log with the file's name
        return _open(path, name, max_pixels)


# --------------------------------------------------------------------------- writing


def write_image(path: str | os.PathLike, rgb: np.ndarray, *, quality: int = 95,
                png_level: int | None = None) -> Path:
    """Write an RGB image atomically; the format follows the extension.

    Args:
        path: destination (.jpg/.jpeg/.png/.bmp/.webp/.tif/.tiff); parent folders are made.
        rgb: (H, W, 3) RGB or (H, W) grey; uint8, uint16 or float in [0, 1]. (H, W, 4) RGBA
            is written with its alpha channel to PNG/WEBP/TIFF and composited over white
            otherwise.
        quality: JPEG/WEBP quality.
        png_level: PNG zlib level 0-9 (default: Pillow's, 6).

    Returns:
        The path written.

    Raises:
        InputShapeError: if the array cannot be an image.
        PRNetError: if the extension is not a supported image format.
    """
    out = Path(path)
    fmt = _SAVE_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise PRNetError(
            f"cannot write image {out}: unsupported extension {out.suffix!r} "
            f"(use one of {', '.join(_SAVE_FORMATS)})"
        )
    a = np.asarray(rgb)
    keep_alpha = a.ndim == 3 and a.shape[2] == 4 and fmt in ("PNG", "WEBP", "TIFF")
    try:
        if keep_alpha:
            rgb8 = to_rgb_uint8(a[:, :, :3])
            alpha = to_rgb_uint8(a[:, :, 3])[:, :, 0]
            pil = Image.fromarray(np.dstack([rgb8, alpha]), "RGBA")
        else:
            pil = Image.fromarray(to_rgb_uint8(a), "RGB")
    except ImageReadError as e:
        raise InputShapeError(str(e).replace("cannot read image", "cannot write image")) from None
    kwargs: dict[str, int] = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "PNG" and png_level is not None:
        kwargs["compress_level"] = int(png_level)
    with atomic_open(out, "wb") as f:
        pil.save(f, format=fmt, **kwargs)
    return out


# --------------------------------------------------------------------------- listing


class ImageListing(NamedTuple):
    """Result of :func:`list_images`."""

    images: list[Path]  #: image files found, sorted, without duplicates
    missing: list[str]  #: inputs that matched nothing or cannot be read (missing, unreadable)
    skipped: list[str]  #: files named explicitly whose extension is not an image's


def list_images(paths: list[str | os.PathLike] | str | os.PathLike) -> ImageListing:
    """Expand files, folders (recursively) and glob patterns into a sorted list of images.

    Only files with an extension in :data:`IMAGE_EXTENSIONS` (any case) are kept. Nothing is
    raised for bad inputs: they are reported in the result (:func:`prnet.io.listing.scan_inputs`
    also tells why an input cannot be read).

    Args:
        paths: paths, folders or glob patterns (``*``, ``?``, ``[...]``, ``**``).

    Returns:
        :class:`ImageListing` ``(images, missing, skipped)``; it unpacks like a tuple.
    """
    scan = scan_inputs(paths)
    return ImageListing(scan.images, scan.missing + [p for p, _ in scan.unreadable], scan.skipped)
