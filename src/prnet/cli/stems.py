"""Output names of the inputs of a run: a folder and a file stem per image, never shared.

Scheme (deterministic: it depends on the set of inputs only, not on their order nor on which
of them fail or are skipped, so ``--skip-existing`` finds the same names again):

1. Every image's stem is its file name without the extension (``photo.jpg`` → ``photo``),
   and all outputs go straight into the output folder.
2. When two images share a stem, every image keeps its folder relative to the images'
   common folder (``a/x.jpg`` → ``OUT/a/x``).
3. Images still sharing folder and stem (``x.jpg`` and ``x.png``) get the extension in the
   stem: ``x_jpg``, ``x_png``.
4. Any name still shared, and any stem whose files could be mistaken for another image's
   (``x_0_kpt.json`` is the JSON of ``x_0_kpt.jpg`` and a landmark file of ``x.jpg``'s face
   0), get ``-`` and 8 hex digits of the SHA-1 of their path relative to the common folder
   (``x_png-1a2b3c4d``); so does a stem too long for a file name (shortened first).

Names are compared after Unicode NFC normalisation and case folding, as case-insensitive
file systems (macOS, Windows) compare them. Undecodable bytes in file names are kept (as
surrogate escapes), so the output files are named with the input's own bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

__all__ = ["MAX_NAME_BYTES", "name_key", "output_suffixes", "plan_outputs"]

#: Longest file name most file systems allow (bytes).
MAX_NAME_BYTES = 255
#: What atomic writing adds to a name for its temporary file: ``.<name>.<pid>.<8 hex>.tmp``.
_TEMPORARY_EXTRA = len(".") + len(".4294967295") + len(".12345678.tmp")
#: Room for ``_<face index>``.
_INDEX_EXTRA = len("_9999")
_HASH_LEN = 8


def name_key(name: str) -> str:
    """How a case-insensitive file system compares names: NFC, case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


def output_suffixes() -> tuple[str, ...]:
    """Every suffix a registered output writes after ``<stem>_<i>`` (the image's own
    ``<stem>.json`` aside)."""
    from prnet.outputs import registered

    return tuple(s for o in registered() for s in o.suffixes)


def _max_stem_bytes(suffixes: Sequence[str]) -> int:
    longest = max((len(os.fsencode(s)) for s in suffixes), default=0)
    return MAX_NAME_BYTES - _TEMPORARY_EXTRA - _INDEX_EXTRA - longest


def _digest(rel: str, round_: int) -> str:
    data = os.fsencode(rel) + (b"#%d" % round_ if round_ else b"")
    return hashlib.sha1(data).hexdigest()[:_HASH_LEN]


def _shorten(stem: str, limit: int) -> str:
    while stem and len(os.fsencode(stem)) > limit:
        stem = stem[:-1]
    return stem


def _alias_patterns(suffixes: Sequence[str]) -> list[re.Pattern]:
    """Patterns ``(A)_<digits><tail>`` of a stem B some of whose files are named like a file
    of stem A's faces: B's ``.json`` is A's ``_<i><tail>.json``, or B's ``_<j><s2>`` ends A's
    ``_<i><tail>_<j><s2>``."""
    tails = {name_key(s[: -len(".json")]) for s in suffixes if s.endswith(".json")}
    for s in suffixes:
        for s2 in suffixes:
            m = re.fullmatch(r"(.*)_\d+", s[: -len(s2)]) if s.endswith(s2) and s != s2 else None
            if m:
                tails.add(name_key(m.group(1)))
    return [re.compile(r"(.+)_\d+" + re.escape(t), re.DOTALL) for t in sorted(tails)]


def _relative(images: Sequence[Path]) -> tuple[list[str], list[Path]]:
    """Each image's path and folder relative to the images' common folder."""
    absolute = [os.path.abspath(p) for p in images]
    try:
        common = os.path.commonpath([os.path.dirname(a) for a in absolute])
        rel = [os.path.relpath(a, common) for a in absolute]
    except ValueError:  # different drives (Windows)
        rel = [os.path.join(*Path(a).parts[1:]) for a in absolute]
    return [r.replace(os.sep, "/") for r in rel], [Path(r).parent for r in rel]


def _conflicts(folders: Sequence[Path], stems: Sequence[str],
               patterns: Sequence[re.Pattern]) -> set[int]:
    """Indices whose (folder, stem) is shared, or whose files alias another stem's."""
    keys = [(name_key(str(f)), name_key(s)) for f, s in zip(folders, stems, strict=True)]
    count = Counter(keys)
    taken = set(keys)
    bad = {i for i, k in enumerate(keys) if count[k] > 1}
    for i, (fk, sk) in enumerate(keys):
        for pat in patterns:
            m = pat.fullmatch(sk)
            if m and (fk, m.group(1)) in taken:
                bad.add(i)
    return bad


def plan_outputs(images: Sequence[Path], out_dir: Path,
                 suffixes: Sequence[str] | None = None) -> list[tuple[Path, str]]:
    """Output folder and file stem of each image (see the module docstring for the scheme).

    Args:
        images: the run's input images (distinct files).
        out_dir: the output folder.
        suffixes: what is written after ``<stem>_<i>`` (default: every registered output's
            suffixes); besides, every image has ``<stem>.json``. Used to rule out names that alias another image's files.
    """
    suffixes = tuple(suffixes) if suffixes is not None else output_suffixes()
    rel, rel_folders = _relative(images)
    stems = [p.stem for p in images]
    limit = _max_stem_bytes(suffixes)
    hashed = set()
    for i, s in enumerate(stems):
        if len(os.fsencode(s)) > limit:
            stems[i] = _shorten(s, limit - 1 - _HASH_LEN) + "-" + _digest(rel[i], 0)
            hashed.add(i)
    if len({name_key(s) for s in stems}) == len(stems):
        folders = [Path()] * len(images)
    else:
        folders = list(rel_folders)
    patterns = _alias_patterns(suffixes)
    keys = Counter((name_key(str(f)), name_key(s)) for f, s in zip(folders, stems, strict=True))
    for i, p in enumerate(images):
        if keys[(name_key(str(folders[i])), name_key(stems[i]))] > 1 and p.suffix \
                and i not in hashed:
            stems[i] = f"{stems[i]}_{p.suffix.lstrip('.').lower()}"
    round_ = 0
    while bad := _conflicts(folders, stems, patterns):
        for i in bad:
            base = stems[i] if i not in hashed else stems[i][: -1 - _HASH_LEN]
            stems[i] = _shorten(base, limit - 1 - _HASH_LEN) + "-" + _digest(rel[i], round_)
            hashed.add(i)
        round_ += 1
    return [(out_dir / f, s) for f, s in zip(folders, stems, strict=True)]
