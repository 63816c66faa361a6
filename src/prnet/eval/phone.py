"""The phone-photo benchmark: large JPEGs with several faces through the whole command.

:func:`make_phone_photo` builds a test photo at run time (the bundled sample's face, upscaled
and tiled onto a large canvas, saved as JPEG q=92: close-ups) and :func:`make_group_photo` a
group photo (the whole sample three times on an 8000×3888 canvas, JPEG q=95);
:func:`bench_phone` runs ``python -m prnet reconstruct PHOTO --kpt`` and ``--all`` on 12-MP and
48-MP close-ups and the group photo, each as a child process, and reports seconds per image, the child's peak resident memory (its
``ru_maxrss`` from ``os.wait4``: the rusage of that one child, not of all children) and the
bytes it wrote. Speed is given as a ratio to ``--kpt`` timed in the same run; nothing is
asserted.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from PIL import Image

from prnet.errors import PRNetError

__all__ = ["GROUP_SIZE", "PHONE_SIZES", "bench_phone", "format_phone", "make_group_photo",
           "make_phone_photo", "run_child"]

#: Megapixels of the default phone photos (a 12-MP and a 48-MP main camera), 4:3.
PHONE_SIZES: tuple[float, ...] = (12.0, 48.0)
#: (width, height) of the default group photo (:func:`make_group_photo`): a 3913×1901 three-face
#: photo scaled to 8000 px wide, as phones take them.
GROUP_SIZE: tuple[int, int] = (8000, 3888)
#: The region of the bundled sample around its face (x0, y0, x1, y1).
_FACE_REGION = (100, 10, 350, 260)


def make_phone_photo(path: str | os.PathLike, megapixels: float, faces: int = 3,
                     quality: int = 92) -> tuple[int, int]:
    """Write a 4:3 JPEG of about ``megapixels`` MP with ``faces`` upscaled copies of the bundled
    sample's face side by side (each about 0.8 of its share of the width).

    Returns:
        (width, height) of the photo.
    """
    if megapixels <= 0 or faces < 1:
        raise PRNetError(f"phone photo: megapixels > 0 and faces >= 1, got {megapixels}, {faces}")
    h = round(math.sqrt(megapixels * 1e6 * 3 / 4))
    w = round(h * 4 / 3)
    src = Image.open(str(resources.files("prnet") / "assets" / "astronaut.jpg")).convert("RGB")
    region = src.crop(_FACE_REGION)
    share = w / faces
    side = max(16, min(int(share * 0.8), int(h * 0.8)))
    tile = region.resize((side, side), Image.BICUBIC)
    canvas = Image.new("RGB", (w, h), (90, 110, 130))
    for k in range(faces):
        x = int(k * share + (share - side) / 2)
        y = int((h - side) / 2 + (k % 2 - 0.5) * 0.1 * (h - side))
        canvas.paste(tile, (x, y))
    canvas.save(path, format="JPEG", quality=quality)
    return w, h


def make_group_photo(path: str | os.PathLike, size: tuple[int, int] = GROUP_SIZE,
                     faces: int = 3, quality: int = 95) -> tuple[int, int]:
    """Write a JPEG of ``size`` (width, height) with ``faces`` copies of the whole bundled
    sample photo (face and background, each scaled to about a third of the width) on a grey
    canvas: faces of a group photo's size rather than close-ups (the 8000×3888 default gives
    regions of about 780×810 px per face).

    Returns:
        (width, height) of the photo.
    """
    w, h = (int(v) for v in size)
    if w < 64 or h < 64 or faces < 1:
        raise PRNetError(f"group photo: width, height >= 64 and faces >= 1, got {w}x{h}, {faces}")
    src = Image.open(str(resources.files("prnet") / "assets" / "astronaut.jpg")).convert("RGB")
    side = max(16, min(int(w / faces * 0.975), h))
    tile = src.resize((side, side), Image.BICUBIC)
    canvas = Image.new("RGB", (w, h), (128, 128, 128))
    for k in range(faces):
        canvas.paste(tile, (int(k * w / faces + (w / faces - side) / 2), (h - side) // 2))
    canvas.save(path, format="JPEG", quality=quality)
    return w, h


def run_child(args: Sequence[str]) -> tuple[float, float, int, float]:
    """Run ``python -m prnet ARGS`` as a child process.

    Returns:
        (wall seconds, peak resident memory of the child in MiB, exit status, CPU seconds of
        the child: user + system, which a busy machine inflates far less than wall time).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "prnet", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return secs, kib / 1024.0, proc.returncode, usage.ru_utime + usage.ru_stime


def bench_phone(sizes: Sequence[float] = PHONE_SIZES, outputs: Sequence[str] = ("kpt", "all"),
                repeats: int = 1, faces: int = 3, extra: Sequence[str] = (),
                log: Callable[[str], None] | None = None,
                threads: int | None = None,
                groups: Sequence[tuple[int, int]] = (GROUP_SIZE,)) -> dict[str, Any]:
    """Time ``prnet reconstruct`` on phone photos made in a temporary folder.

    Args:
        sizes: megapixels of the close-up photos (:func:`make_phone_photo`).
        groups: (width, height) of the group photos (:func:`make_group_photo`), timed after
            them (``"kind": "group"`` in their cases).
        outputs: output flags to time, each a separate run (the first is the baseline of the
            ``ratio`` column).
        repeats: runs per (photo, outputs); the median time and the largest peak are kept.
        faces: faces per photo.
        extra: more arguments for ``prnet reconstruct`` (e.g. ``["--device", "cpu"]``).
        threads: ``prnet --threads N`` for each run (default: torch's choice).

    Returns:
        ``{"method": how memory was measured, "threads", "cases": [{"kind" ("close-up" or
        "group"), "megapixels", "width", "height", "faces", "outputs", "seconds_per_image", "peak_rss_mb", "ratio",
        "cpu_seconds_per_image", "cpu_ratio", "exit_status",
        "bytes_written", "files_written"}]}`` (bytes and files of the last run's folder).

    Raises:
        PRNetError: a run failed.
    """
    if repeats < 1 or not outputs:
        raise PRNetError(f"phone bench: repeats >= 1 and some outputs, got {repeats}, {outputs}")
    say = log or (lambda _msg: None)
    glob = [] if threads is None else ["--threads", str(int(threads))]
    cases = []
    with tempfile.TemporaryDirectory(prefix="prnet_phone_") as tmp:
        photos = []
        for mp in sizes:
            photo = Path(tmp) / f"phone_{mp:g}mp.jpg"
            photos.append(("close-up", photo, *make_phone_photo(photo, mp, faces)))
        for size in groups:
            photo = Path(tmp) / f"group_{size[0]}x{size[1]}.jpg"
            photos.append(("group", photo, *make_group_photo(photo, size, faces)))
        for kind, photo, w, h in photos:
            mp = round(w * h / 1e6, 1)
            base = cpu_base = None
            for name in outputs:
                times, peaks, cpus = [], [], []
                for r in range(repeats):
                    say(f"phone: {w}x{h} ({mp:g} MP), --{name}, run {r + 1}/{repeats}")
                    out = Path(tmp) / f"out_{photo.stem}_{name}_{r}"
                    secs, peak, status, cpu = run_child([*glob, "reconstruct", str(photo),
                                                    f"--{name}", "-q", "-o", str(out), *extra])
                    if status != 0:
                        raise PRNetError(f"phone bench: prnet reconstruct --{name} on {w}x{h} "
                                         f"exited with status {status}")
                    times.append(secs)
                    peaks.append(peak)
                    cpus.append(cpu)
                    written = [f for f in out.rglob("*") if f.is_file()]
                t = sorted(times)[len(times) // 2]
                c = sorted(cpus)[len(cpus) // 2]
                base, cpu_base = (t, c) if base is None else (base, cpu_base)
                cases.append({"kind": kind, "megapixels": mp, "width": w, "height": h,
                              "faces": faces,
                              "outputs": name, "seconds_per_image": round(t, 3),
                              "peak_rss_mb": round(max(peaks), 1), "ratio": round(t / base, 2),
                              "cpu_seconds_per_image": round(c, 3),
                              "cpu_ratio": round(c / cpu_base, 2), "exit_status": status,
                              "bytes_written": sum(f.stat().st_size for f in written),
                              "files_written": len(written)})
    return {"method": "each run is a child process `python -m prnet [--threads N] reconstruct "
                      "PHOTO --FLAG`; "
                      "seconds: its wall time (start-up and model loading included); peak RSS: "
                      "its ru_maxrss from os.wait4; ratio: seconds / the first output's seconds "
                      "on the same photo in the same run; cpu seconds: its ru_utime + ru_stime "
                      "(cpu_ratio as ratio); bytes: the files it wrote",
            "threads": threads, "cases": cases}


def format_phone(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`bench_phone`'s result."""
    header = (f"  {'photo':<29} {'faces':>5} {'outputs':<8} {'s/image':>8} {'ratio':>6} "
              f"{'CPU s':>7} {'ratio':>6} {'peak RSS MB':>12} {'MB written':>11} {'files':>6}")
    lines = ["Phone photos (prnet reconstruct as a child process; peak RSS of the child):", header]
    for c in result["cases"]:
        photo = (f"{c['width']}x{c['height']} ({c['megapixels']:g} MP"
                 f"{', group' if c.get('kind') == 'group' else ''})")
        lines.append(f"  {photo:<29} {c['faces']:5d} {'--' + c['outputs']:<8} "
                     f"{c['seconds_per_image']:8.2f} {c['ratio']:6.2f} "
                     f"{c['cpu_seconds_per_image']:7.2f} {c['cpu_ratio']:6.2f} "
                     f"{c['peak_rss_mb']:12.1f} {c['bytes_written'] / 1e6:11.2f} "
                     f"{c['files_written']:6d}")
    return "\n".join(lines) + "\n"
