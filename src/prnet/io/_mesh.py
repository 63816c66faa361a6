"""Shared helpers of the mesh writers: input checks, viewer orientation, colours, formatting."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np

from prnet.array_cache import ArrayCache
from prnet.errors import InputShapeError
from prnet.render.raster import check_triangles, check_vertices


def check_mesh(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) float64 vertices and (M, 3) int64 triangles, validated."""
    v = check_vertices(vertices)[:, :3].astype(np.float64)
    tri = check_triangles(triangles, v.shape[0])
    return v, tri


def to_viewer(
    vertices: np.ndarray,
    triangles: np.ndarray,
    flip_y: bool = True,
    image_height: int | None = None,
    orient: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles as written to mesh files (viewer orientation).

    - ``flip_y``: image y (down) becomes y up: ``y' = image_height - 1 - y`` when
      ``image_height`` is given (the mesh stays in the image's positive quadrant), else
      ``y' = -y``. x and z are unchanged.
    - ``orient``: the winding of all triangles is reversed when needed so that the face
      normals (right-handed, ``cross(v1 - v0, v2 - v0)`` in the written coordinates) point
      towards +z, i.e. to the viewer, on (area-weighted) average. Mirroring y reverses the
      orientation of every triangle, so this keeps faces front-facing after the flip.
    """
    v = np.array(vertices, dtype=np.float64, copy=True)
    tri = np.asarray(triangles)
    if flip_y:
        v[:, 1] = (float(image_height) - 1.0 - v[:, 1]) if image_height is not None else -v[:, 1]
    if orient and tri.size and _signed_area_sum(v, tri) < 0:
        tri = tri[:, [0, 2, 1]]
    return v, tri


def _signed_area_sum(v: np.ndarray, tri: np.ndarray) -> float:
    """The sum of the triangles' doubled signed areas in the x-y plane (> 0: the normals point
    to +z on average).

    With finite x and y it is the shoelace sum over the edges that do not cancel (an edge used
    once in each direction contributes nothing: :func:`_open_edges`, prepared once per triangle
    list), so a face mesh costs its ~1,000 border edges instead of its 110,000 triangles; with
    NaN or infinite values it is the NaN-ignoring sum over the triangles."""
    x, y = v[:, 0], v[:, 1]
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        x, y = x.copy(), y.copy()
        x0, x1, x2 = (x[tri[:, i]] for i in range(3))
        y0, y1, y2 = (y[tri[:, i]] for i in range(3))
        return float(np.nansum((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)))
    a, b, m = _open_edges(tri)
    if not m.size:
        return 0.0
    xa, ya = x[a] - x[a[0]], y[a] - y[a[0]]  # about one vertex: the sum does not move
    xb, yb = x[b] - x[a[0]], y[b] - y[a[0]]
    p, q = xa * yb, xb * ya
    total = float((m * (p - q)).sum())
    # a zero-area mesh (collinear points) is within rounding of 0: kept as given
    return 0.0 if abs(total) <= 1e-10 * float((np.abs(m) * (np.abs(p) + np.abs(q))).sum()) else total


_EDGES: ArrayCache[tuple[np.ndarray, np.ndarray, np.ndarray]] = ArrayCache(4)


def _open_edges(tri: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The undirected edges (a < b) of a triangle list whose uses in the two directions do not
    cancel, with their net count ``m`` (uses a → b minus uses b → a): the sum of the
    triangles' signed areas is that of the polygon ``m`` · (a → b). Cached per list."""
    return _EDGES.get(tri, lambda: _count_open_edges(tri))


def _count_open_edges(tri: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(tri, np.int64)
    i = t.ravel()
    j = t[:, [1, 2, 0]].ravel()
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    n = int(hi.max()) + 1 if hi.size else 1
    keys, inverse = np.unique(lo * n + hi, return_inverse=True)
    net = np.bincount(inverse.ravel(), weights=np.where(i < j, 1.0, -1.0), minlength=keys.size)
    keep = net != 0
    return keys[keep] // n, keys[keep] % n, net[keep]


def colors_unit(colors: np.ndarray | None, n: int) -> np.ndarray | None:
    """Per-vertex colours as float64 (N, 3) in [0, 1] (uint8 input is divided by 255)."""
    if colors is None:
        return None
    c = np.asarray(colors)
    if c.ndim != 2 or c.shape != (n, 3):
        raise InputShapeError(f"colors must have shape ({n}, 3), got {c.shape}")
    if c.dtype == np.uint8:
        return c.astype(np.float64) / 255.0
    if not np.issubdtype(c.dtype, np.number):
        raise InputShapeError(f"colors must be numeric, got dtype {c.dtype}")
    return np.clip(np.nan_to_num(c.astype(np.float64)), 0.0, 1.0)


def format_rows(row_format: str, values: np.ndarray) -> str:
    """Format every row of a 2-D array with ``row_format`` in one C-level operation."""
    if values.shape[0] == 0:
        return ""
    return (row_format * values.shape[0]) % tuple(values.ravel().tolist())


# --------------------------------------------------------------------------- fast "%.Nf" rows
#
# ``"%.2f" % x`` prints the exact binary value of ``x`` rounded half-to-even to 2 decimals
# (Python's float formatting is correctly rounded). ``format_fixed_rows`` produces the same bytes
# for whole arrays with NumPy: the integer ``round_half_even(x * 10**d)`` of the exact product,
# its digits looked up four bytes (one uint32) at a time in small tables, laid out in one word
# matrix per line, and the NUL padding before short numbers deleted.

_F6_LIMIT = 1e9  #: |x| below this: units (at most 10**6 a unit) < 2**50, every float step exact
MAX_DECIMALS = 6  #: the most decimals :func:`format_fixed_rows` writes


def _words(texts: list[str]) -> np.ndarray:
    """Four-character ASCII strings (NUL-padded on the left) as native uint32 words."""
    raw = b"".join(t.encode("ascii").rjust(4, b"\0") for t in texts)
    return np.frombuffer(raw, np.uint8).view(np.uint32)


@lru_cache(maxsize=1)
def _tables() -> dict[str, np.ndarray]:
    """Digit tables: ``d4`` "0042", ``lead`` "\\0\\042" then "\\0-42" (+10000: negative,
    < 1000 only)."""
    return {
        "d4": _words([f"{i:04d}" for i in range(10000)]),
        "lead": _words([str(i) for i in range(10000)] + [f"-{i}"[:4] for i in range(10000)]),
        "minus": _words(["-"]),
    }


@cache
def _fraction_tables(decimals: int, end: str) -> tuple[np.ndarray, np.ndarray]:
    """The words of a ``decimals``-digit fraction followed by ``end``. Up to 2 decimals: one
    word with the point, the digits and ``end`` (".42 ", "\\0.4\\n"; the second table is
    empty); else the point and the first three digits (".042"), then the other digits and
    ``end`` ("042 ", "\\0\\0\\0\\n")."""
    if decimals <= 2:
        return (_words([f".{i:0{decimals}d}{end}" for i in range(10 ** decimals)]),
                np.empty(0, np.uint32))
    rest = decimals - 3
    return (_words([f".{i:03d}" for i in range(1000)]),
            _words([f"{i:0{rest}d}"[:rest] + end for i in range(10 ** rest)]))


def _units(a: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``round_half_even(a * scale)`` of the *exact* product, as integer-valued float64, for
    ``0 <= a < _F6_LIMIT`` (magnitudes: the sign is printed separately) and ``scale`` a power
    of ten up to ``10**6`` (broadcast over the last axis)."""
    p = a * scale
    n = np.rint(p)
    # Only a half-integer p can be rounded the wrong way (the exact product may lie just
    # beside it): there, Dekker's two-product gives the product's exact error ``err``.
    half = np.flatnonzero(np.abs(p - n) == 0.5)
    if half.size:
        xs, ps = a.flat[half], p.flat[half]
        s = np.broadcast_to(scale, a.shape).flat[half]
        c = xs * 134217729.0  # Veltkamp split: xs = hi + lo, 26 significant bits each
        hi = c - (c - xs)
        err = (hi * s - ps) + (xs - hi) * s  # exact: xs * s == ps + err
        n.flat[half] = np.where(err == 0.0, n.flat[half], ps + 0.5 * np.sign(err))
    return n


def _split(n: np.ndarray, unit: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``divmod(n, unit)`` of non-negative integer-valued floats below 2**50, exactly
    (the quotient's rounding error is far below the 1/unit gap to the next integer)."""
    q = np.floor(n / unit)
    return q, n - q * unit


def _integer_words(ipart: np.ndarray, neg: np.ndarray, groups: int) -> np.ndarray:
    """(..., groups) uint32 words of the sign and integer digits, right-aligned and NUL-padded
    (``ipart``: integer-valued float64 below 10**(4 * groups); the caller leaves room for the
    sign)."""
    t = _tables()
    if groups == 1:  # the common case: at most 4 characters
        index = ipart + 10000.0 * (neg & (ipart < 1000))
        return t["lead"][index.astype(np.intp)][..., None]
    q: list[np.ndarray] = []
    rest = ipart
    for _ in range(groups):  # four-digit groups, most significant first
        rest, r = _split(rest, 1e4)
        q.insert(0, r)
    used = np.ones(ipart.shape, np.intp)
    for j in range(1, groups):
        used += ipart >= 10.0 ** (4 * j)
    first = groups - used  # the leading group of each number; the ones before are empty
    words = np.empty(ipart.shape + (groups,), np.uint32)
    for j, qj in enumerate(q):
        small = qj < 1000  # a leading group with room for the "-"
        lead = t["lead"][(qj + 10000.0 * (neg & small)).astype(np.intp)]
        word = np.where(first == j, lead, t["d4"][qj.astype(np.intp)])
        word[first > j] = 0
        if j + 1 < groups:  # "-" before a four-digit leading group
            word[(first == j + 1) & neg & (q[j + 1] >= 1000)] = t["minus"][0]
        words[..., j] = word
    return words


def _digits(m: float) -> int:
    """Number of decimal digits of a non-negative integer-valued float (1 for 0)."""
    return len(str(int(m)))


def _column_decimals(decimals: int | Sequence[int], k: int) -> tuple[int, ...]:
    d = (int(decimals),) * k if np.ndim(decimals) == 0 else tuple(int(x) for x in decimals)
    if len(d) != k or not all(1 <= x <= MAX_DECIMALS for x in d):
        raise InputShapeError(f"decimals must be {k} values in 1..{MAX_DECIMALS}, got {decimals}")
    return d


def format_fixed_rows(prefix: str, values: np.ndarray, decimals: int | Sequence[int] = 6) -> bytes:
    """``(prefix + " ".join(["%.{d}f"] * K) + "\\n") % row`` for every row of a (N, K) array,
    concatenated and ASCII-encoded: the same bytes, several times faster for large arrays.

    ``decimals``: 1..6 digits after the point, one number or one per column. Arrays with
    non-finite values or ``|x| >= 1e9`` are formatted with ``%`` itself. ``prefix`` must not
    contain NUL characters.
    """
    v = np.asarray(values, dtype=np.float64)
    n_rows, k = v.shape
    dec = _column_decimals(decimals, k)
    if n_rows > _BLOCK_ROWS:  # blocks that stay in the CPU caches: 18 → 8 ms for 55K rows
        return b"".join(_format_block(prefix, v[i : i + _BLOCK_ROWS], dec)
                        for i in range(0, n_rows, _BLOCK_ROWS))
    return _format_block(prefix, v, dec)


#: Rows formatted at a time by :func:`format_fixed_rows`.
_BLOCK_ROWS = 8192


def _format_block(prefix: str, v: np.ndarray, dec: tuple[int, ...]) -> bytes:
    """:func:`format_fixed_rows` of one block of float64 rows."""
    n_rows, k = v.shape
    if n_rows == 0:
        return b""
    if k == 0 or not (np.isfinite(v).all() and np.abs(v).max() < _F6_LIMIT):
        fmt = prefix + " ".join(f"%.{d}f" for d in dec) + "\n"
        return format_rows(fmt, v).encode("ascii")
    scale = 10.0 ** np.array(dec, np.float64)
    neg = np.signbit(v)
    ipart, frac = _split(_units(np.abs(v), scale), scale)
    width = _digits(ipart.max())  # sign + digits of the widest number
    if neg.any():
        width = max(width, 1 + _digits(np.where(neg, ipart, 0.0).max()))
    groups = -(-width // 4)
    head = np.frombuffer(prefix.encode("ascii").rjust(-(-len(prefix) // 4) * 4, b"\0"),
                         np.uint8).view(np.uint32)
    # per column: the integer words, then one word (".42 ": up to 2 decimals and the separator)
    # or two (".042", then the other digits and the separator)
    starts = np.cumsum([head.size] + [groups + (1 if d <= 2 else 2) for d in dec])
    line = np.empty((n_rows, int(starts[-1])), np.uint32)
    line[:, :head.size] = head
    words = _integer_words(ipart, neg, groups)
    for j, d in enumerate(dec):  # a few columns: each its own digit tables
        at, end = int(starts[j]), "\n" if j == k - 1 else " "
        line[:, at:at + groups] = words[:, j]
        if d <= 2:
            line[:, at + groups] = _fraction_tables(d, end)[0][frac[:, j].astype(np.intp)]
            continue
        first, rest = _fraction_tables(d, end)
        if d == 3:  # the second word is the separator alone
            line[:, at + groups] = first[frac[:, j].astype(np.intp)]
            line[:, at + groups + 1] = rest[0]
            continue
        hi, lo = (f.astype(np.intp) for f in _split(frac[:, j], 10.0 ** (d - 3)))
        line[:, at + groups] = first[hi]
        line[:, at + groups + 1] = rest[lo]
    return line.tobytes().translate(None, b"\0")


def format_f6_rows(prefix: str, values: np.ndarray) -> bytes:
    """:func:`format_fixed_rows` with 6 decimals (``"%.6f"``)."""
    return format_fixed_rows(prefix, values, 6)


# --------------------------------------------------------------------------- texture PNG

_PNG_CACHE: ArrayCache[bytes] = ArrayCache(2)  #: texture → its PNG, tagged with the level
#: zlib level of the UV texture PNGs (``_tex_texture.png``, the GLB's image): 3.2 instead of
#: 13.7 ms for a 256² texture, 14 % more bytes than Pillow's default 6.
TEXTURE_PNG_LEVEL = 1


def is_rgb8(image: np.ndarray) -> bool:
    """True for an (H, W, 3) uint8 array (what :func:`png_bytes` takes)."""
    return image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def png_bytes(texture: np.ndarray, level: int = TEXTURE_PNG_LEVEL) -> bytes:
    """The PNG file of an (H, W, 3) uint8 RGB image at zlib ``level``, as
    ``prnet.io.write_image(..., png_level=level)`` encodes it (Pillow).

    The outputs of one face embed or write the same UV texture several times (``texture``,
    ``front``, ``glb``): the last two encodings are kept (:class:`~prnet.array_cache.ArrayCache`).
    """
    from PIL import Image

    def encode() -> bytes:
        with io.BytesIO() as f:
            Image.fromarray(np.ascontiguousarray(texture), "RGB").save(f, format="PNG",
                                                                       compress_level=int(level))
            return f.getvalue()

    return _PNG_CACHE.get(texture, encode, tag=int(level))


def clear_caches() -> None:
    """Forget the cached PNG encodings (benchmarks of the encoders themselves)."""
    _PNG_CACHE.clear()
