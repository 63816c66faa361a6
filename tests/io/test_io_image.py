"""read_image / write_image / list_images."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from prnet.errors import ImageReadError, InputShapeError, PRNetError
from prnet.io import list_images, read_image, to_rgb_uint8, write_image
from prnet.io.image import _apply_orientation


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (30, 40, 3)).astype(np.uint8)


def expect_error(source, message: str, **kw) -> str:
    with pytest.raises(ImageReadError) as info:
        read_image(source, **kw)
    text = str(info.value)
    assert message in text, text
    assert "\n" not in text
    return text


def test_rgb_png_and_jpeg_round_trip(tmp_path, rgb):
    p = write_image(tmp_path / "a.png", rgb)
    out = read_image(p)
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3)
    assert np.array_equal(out, rgb)
    yy, xx = np.mgrid[0:30, 0:40]
    smooth = np.stack([xx * 6, yy * 8, xx + yy], -1).astype(np.uint8)
    j = write_image(tmp_path / "sub" / "a.jpg", smooth, quality=100)  # parent folder made
    assert np.abs(read_image(str(j)).astype(int) - smooth).mean() < 3
    assert np.array_equal(read_image(p.read_bytes()), rgb)


def test_grey_and_one_bit(tmp_path, rgb):
    grey = np.array(Image.fromarray(rgb).convert("L"))
    Image.fromarray(grey).save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (30, 40, 3) and (out == grey[:, :, None]).all()
    Image.fromarray(rgb).convert("1").save(tmp_path / "b.png")
    assert set(np.unique(read_image(tmp_path / "b.png"))) <= {0, 255}


def test_rgba_and_la_composited_over_white(tmp_path, rgb):
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png").astype(np.float64)
    a = alpha[..., None] / 255.0
    np.testing.assert_allclose(out, rgb * a + 255 * (1 - a), atol=0.51)
    assert (out[:, 0] == 255).all()  # fully transparent -> white
    la = np.dstack([rgb[..., 0], np.zeros((30, 40), np.uint8)])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert (read_image(tmp_path / "la.png") == 255).all()


def test_palette(tmp_path, rgb):
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    expected = np.array(Image.open(tmp_path / "p.png").convert("RGB"))
    assert np.array_equal(read_image(tmp_path / "p.png"), expected)
    # palette with a transparent entry -> composited over white
    pim = Image.fromarray(rgb).convert("P")
    pim.info["transparency"] = int(np.array(pim)[0, 0])
    pim.save(tmp_path / "pt.png", transparency=int(np.array(pim)[0, 0]))
    assert (read_image(tmp_path / "pt.png")[0, 0] == 255).all()


def test_animated_gif_reads_first_frame(tmp_path, rgb):
    frames = [Image.fromarray(rgb).convert("P"), Image.fromarray(255 - rgb).convert("P")]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    expected = np.array(Image.open(tmp_path / "a.gif").convert("RGB"))
    assert np.array_equal(read_image(tmp_path / "a.gif"), expected)


def test_cmyk_jpeg(tmp_path, rgb):
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (30, 40, 3)
    assert np.abs(out.astype(int) - rgb).mean() < 10


def test_16_bit_grey_and_colour(tmp_path):
    g16 = (np.arange(30 * 40).reshape(30, 40) * 54).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    expected = np.rint(g16.astype(np.float64) * 255 / 65535)
    out = read_image(tmp_path / "g16.png")
    assert (out == expected[..., None]).all()
    c16 = np.random.default_rng(1).integers(0, 65536, (30, 40, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), np.ascontiguousarray(c16[..., ::-1]))
    exp = np.rint(c16.astype(np.float64) * 255 / 65535)
    assert np.array_equal(read_image(tmp_path / "c16.png"), exp)
    cv2.imwrite(str(tmp_path / "c16.tif"), np.ascontiguousarray(c16[..., ::-1]))
    assert np.array_equal(read_image(tmp_path / "c16.tif"), exp)
    c16a = np.dstack([c16, np.full((30, 40), 65535, np.uint16)])
    cv2.imwrite(str(tmp_path / "c16a.png"), np.ascontiguousarray(c16a[..., [2, 1, 0, 3]]))
    assert np.array_equal(read_image(tmp_path / "c16a.png"), exp)


def test_exif_orientation_6_rotates(tmp_path):
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = 255  # left half white
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=100)
    out = read_image(tmp_path / "r.jpg")
    assert out.shape == (40, 20, 3)  # rotated 90 degrees
    # orientation 6: rotate clockwise for display -> the left half becomes the top half
    assert out[:20].mean() > 200 and out[20:].mean() < 50


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_helper_matches_pillow(tmp_path, orientation):
    a = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3)).astype(np.uint8)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(tmp_path / "o.png", exif=exif.tobytes())
    ref = np.array(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    assert np.array_equal(_apply_orientation(a, orientation), ref)
    assert np.array_equal(read_image(tmp_path / "o.png"), ref)


def test_errors_missing_directory_empty(tmp_path):
    expect_error(
        tmp_path / "nope.png", f"cannot read image {tmp_path / 'nope.png'}: file not found"
    )
    expect_error(tmp_path, f"cannot read image {tmp_path}: is a directory, not a file")
    (tmp_path / "e.jpg").write_bytes(b"")
    expect_error(tmp_path / "e.jpg", "e.jpg: empty file (0 bytes)")
    expect_error(b"", "cannot read image <bytes>: empty file (0 bytes)")


def test_errors_truncated_and_not_an_image(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    expect_error(tmp_path / "t.jpg", "t.jpg: truncated or corrupt data")
    Image.fromarray(rgb).save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[:-40])
    expect_error(tmp_path / "t.png", "t.png: truncated or corrupt data")
    (tmp_path / "text.jpg").write_text("this is not an image\n")
    expect_error(tmp_path / "text.jpg", "text.jpg: not an image or unsupported format")


def _png_claiming(width: int, height: int, base: bytes) -> bytes:
    """A PNG whose IHDR claims another size (valid CRC) but whose data is the small one."""
    ihdr = bytearray(base[8:33])
    ihdr[8:16] = struct.pack(">II", width, height)
    ihdr[21:25] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return base[:8] + bytes(ihdr) + base[33:]


def test_over_limit_is_refused_from_header(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    base = (tmp_path / "a.png").read_bytes()
    (tmp_path / "big.png").write_bytes(_png_claiming(10000, 9000, base))
    # refused from the header alone: decoding would fail with "truncated" instead
    expect_error(
        tmp_path / "big.png",
        "big.png: image too large (10000x9000 = 90000000 pixels, limit 80000000)",
    )
    expect_error(_png_claiming(40000, 40000, base), "<bytes>: image too large")
    expect_error(
        tmp_path / "a.png", "image too large (40x30 = 1200 pixels, limit 1000)", max_pixels=1000
    )
    assert read_image(tmp_path / "a.png", max_pixels=1200).shape == (30, 40, 3)


def test_array_inputs(rgb):
    assert np.array_equal(read_image(rgb), rgb)
    assert read_image(rgb) is not rgb
    assert read_image(rgb[..., 0]).shape == (30, 40, 3)
    f = read_image(rgb.astype(np.float32) / 255)
    assert np.array_equal(f, rgb)
    assert np.array_equal(to_rgb_uint8(rgb.astype(np.uint16) * 257), rgb)
    with pytest.raises(ImageReadError, match="expected an array of shape"):
        read_image(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ImageReadError, match="unsupported array dtype"):
        read_image(np.zeros((4, 4, 3), np.complex64))


def test_write_image_errors(tmp_path, rgb):
    with pytest.raises(PRNetError, match="unsupported extension '.gif'"):
        write_image(tmp_path / "a.gif", rgb)
    with pytest.raises(InputShapeError, match="cannot write image"):
        write_image(tmp_path / "a.png", np.zeros((3, 3, 7), np.uint8))
    assert not (tmp_path / "a.png").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_list_images(tmp_path, rgb):
    (tmp_path / "d" / "e").mkdir(parents=True)
    for name in ["d/b.png", "d/a.JPG", "d/e/c.webp", "d/e/f.gif", "d/notes.txt", "x.tiff", "y.bmp"]:
        (tmp_path / name).write_bytes(b"x")
    res = list_images(
        [
            tmp_path / "d",
            str(tmp_path / "*.tiff"),
            str(tmp_path / "y.bmp"),
            str(tmp_path / "d" / "notes.txt"),
            str(tmp_path / "missing.png"),
            str(tmp_path / "*.jpeg"),
            str(tmp_path / "d" / "b.png"),
        ]
    )
    images, missing, skipped = res
    names = [p.relative_to(tmp_path).as_posix() for p in images]
    assert names == sorted(names) == ["d/a.JPG", "d/b.png", "d/e/c.webp", "d/e/f.gif", "x.tiff", "y.bmp"]
    assert all(isinstance(p, Path) for p in images)
    assert missing == [str(tmp_path / "missing.png"), str(tmp_path / "*.jpeg")]
    assert skipped == [str(tmp_path / "d" / "notes.txt")]
    assert list_images(str(tmp_path / "d")).images == images[:4]
