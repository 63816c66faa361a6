"""The whole adversarial corpus through ONE mixed ``prnet reconstruct`` run (a subprocess, as a
user runs it), then many assertions on that run: exit status, stderr, outputs, names, NaN/Inf,
temporaries, the summary line. Plus a ``--skip-existing`` re-run, a ``--strict`` run, and a run
over an output folder holding a stale temporary file of a killed earlier run."""

from __future__ import annotations

import functools
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from corpus import (
    BAD,
    EITHER,
    EMPTY_FOLDER,
    GOOD,
    MAX_PIXELS,
    NO_FACE,
    READABLE,
    Case,
    by_expect,
    make_corpus,
    selected,
)

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 240  # a blocking input (FIFO) must not hang the suite: the run fails instead
OUTPUT_FLAGS = ["--obj", "--kpt", "--pose"]
SUMMARY = re.compile(r"prnet: (\d+) images?, (\d+) faces?, (\d+) without a face, (\d+) failed, "
                     r".*; (\d+) files? in ")
# Words the README documents for these failures ("missing, empty, truncated or non-image files,
# images over --max-pixels"): checked in the one line of the inputs that carry one.
DOCUMENTED = {"empty", "not found", "not an image", "too large"}


@dataclass(repr=False)
class Run:
    code: int
    stdout: str
    stderr: str
    out: Path
    root: Path
    cases: list[Case]

    def __repr__(self) -> str:  # short: pytest prints it with every failure
        return f"Run(code={self.code}, stdout={self.stdout.strip()[-300:]!r})"

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @functools.cached_property
    def records(self) -> dict[Path, dict]:
        """The per-image records the run wrote (read once)."""
        return records(self.out)


def prnet(args: list[str], cwd: Path, timeout: float = TIMEOUT) -> tuple[int, str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    env.pop("PYTHONWARNINGS", None)
    try:
        r = subprocess.run([sys.executable, "-m", "prnet", "--threads", "1", *args], cwd=cwd,
                           env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                           check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"prnet {' '.join(args[:3])} ... did not finish in {timeout} s (blocked on "
                    "an input such as a FIFO?)")
    dec = lambda b: b.decode("utf-8", "surrogateescape")
    return r.returncode, dec(r.stdout), dec(r.stderr)


def reconstruct_args(out: Path, paths: list[str], *extra: str) -> list[str]:
    # options first, then "--": every path after it is a path, even "-o.jpg"
    return ["reconstruct", "-o", str(out), *OUTPUT_FLAGS, "--max-pixels", str(MAX_PIXELS),
            *extra, "--", *paths]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[Case]]:
    root = tmp_path_factory.mktemp("adversarial") / "in"
    return root, selected(make_corpus(root))


def _paths(cases: list[Case]) -> list[str]:
    # every case by name, plus the first good image a second time (one input, one output)
    return [c.arg for c in cases] + [by_expect(cases, GOOD)[0].arg]


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory) -> Run:
    root, cases = corpus
    out = tmp_path_factory.mktemp("adversarial_out") / "out"
    code, stdout, stderr = prnet(reconstruct_args(out, _paths(cases)), cwd=root)
    return Run(code, stdout, stderr, out, root, cases)


# --------------------------------------------------------------------------- helpers


def mentions(line: str, case: Case) -> bool:
    """Whether ``line`` names the case's file (as given or absolute, any representable form),
    not merely a longer name that contains it."""
    for form in case.representations():
        if re.search(r"(?<![\w.\-])" + re.escape(form) + r"(?![\w\-]|\.\w)", line):
            return True
    return False


def lines_naming(run: Run, case: Case) -> list[str]:
    return [line for line in run.lines if mentions(line, case)]


def records(out: Path) -> dict[Path, dict]:
    """Every per-image ``<stem>.json`` under ``out`` (schema record with an "image")."""
    found = {}
    for p in out.rglob("*.json"):
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(obj, dict) and "schema" in obj and "image" in obj and "faces" in obj:
            found[p] = obj
    return found


def records_of(run: Run, case: Case) -> list[tuple[Path, dict]]:
    forms = set(case.representations())
    forms |= {os.path.join(str(run.root), f) for f in list(forms)}
    return [(p, r) for p, r in run.records.items() if r["image"] in forms]


def _strict_json(text: str):
    def no_constant(name):
        raise ValueError(f"non-finite number {name} in JSON")
    return json.loads(text, parse_constant=no_constant)


def _all_finite(obj) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_all_finite(v) for v in obj)
    return True


NONFINITE = re.compile(r"(?i)\b(nan|inf|infinity)\b")


_CHECKED: dict[tuple[str, int, int], None] = {}


def check_file(path: Path) -> None:
    """The file parses for its kind and holds finite numbers only (each file checked once)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _CHECKED:
        _check_file(path)
        _CHECKED[key] = None


def _check_file(path: Path) -> None:
    name = path.name
    text = ""
    if name.endswith((".txt", ".obj", ".mtl", ".ply", ".json")):
        text = path.read_text(encoding="utf-8", errors="replace")
    if name.endswith((".txt", ".obj", ".mtl", ".ply")):  # JSON: checked value by value below
        low = text.lower()  # cheap pre-check: the regex is slow on a 5 MB OBJ
        bad = NONFINITE.search(text) if ("nan" in low or "inf" in low) else None
        assert bad is None, f"{path}: {bad.group(0)!r} in a written file"
    if name.endswith(".json"):
        obj = _strict_json(text)
        assert _all_finite(obj), f"{path}: non-finite number"
        if name.endswith("_pose.json"):
            vals = [obj[k] for k in ("yaw", "pitch", "roll")]
            assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals), path
        if name.endswith("_kpt.json"):
            k = np.asarray(obj["landmarks"], float)
            assert k.shape == (68, 3) and np.isfinite(k).all(), path
    elif name.endswith(".obj"):
        rows = [line[2:] for line in text.splitlines() if line.startswith("v ")]
        tokens = " ".join(rows).split()
        assert rows and len(tokens) % len(rows) == 0, f"{path}: ragged vertex lines"
        v = np.asarray(tokens, dtype=np.float64).reshape(len(rows), -1)
        assert v.shape[0] > 1000 and v.shape[1] >= 3, f"{path}: {v.shape}"
        assert np.isfinite(v).all(), f"{path}: non-finite vertex"
    elif name.endswith("_kpt.txt"):
        k = np.loadtxt(path, ndmin=2)
        assert k.shape == (68, 3) and np.isfinite(k).all(), f"{path}: {k.shape}"
    elif name.endswith((".npy", ".npz")):
        data = np.load(path, allow_pickle=False)
        arrays = [data] if isinstance(data, np.ndarray) else [data[k] for k in data.files]
        for a in arrays:
            if np.issubdtype(a.dtype, np.floating):
                assert np.isfinite(a).all(), f"{path}: non-finite array"


def files_on_disk(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() or p.is_symlink())


def summary(stdout: str) -> tuple[int, ...]:
    m = SUMMARY.search(stdout)
    assert m, f"no summary line in {stdout!r}"
    return tuple(int(g) for g in m.groups())


def ids(cases: list[Case]) -> list[str]:
    return [c.kind for c in cases]


# The case lists are built at collection time in a scratch folder (cheap: ~0.3 s); the
# module fixture builds the real corpus once for the run.
def _collect() -> list[Case]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return selected(make_corpus(Path(d) / "c"))


CASES = _collect()
BAD_CASES = by_expect(CASES, BAD)
GOOD_CASES = by_expect(CASES, GOOD)
NO_FACE_CASES = by_expect(CASES, NO_FACE)
EMPTY_FOLDER_CASES = by_expect(CASES, EMPTY_FOLDER)
OTHER_CASES = by_expect(CASES, READABLE, EITHER)
DOCUMENTED_BAD = [c for c in BAD_CASES if c.message in DOCUMENTED]


def _case(run: Run, kind: str) -> Case:
    return next(c for c in run.cases if c.kind == kind)


# --------------------------------------------------------------------------- the mixed run


def test_corpus_has_at_least_50_kinds():
    assert len(CASES) >= 50
    assert len(GOOD_CASES) >= 10 and len(BAD_CASES) >= 20 and len(NO_FACE_CASES) >= 5


def test_exit_code_is_1(run):
    assert run.code == 1, (run.code, run.stderr[-2000:])


def test_no_traceback(run):
    assert "Traceback" not in run.stderr, run.stderr[-4000:]
    assert "Traceback" not in run.stdout


def test_every_stderr_line_is_a_prnet_line(run):
    """No library warnings, no stray output: stderr holds one ``prnet: ...`` line per event."""
    stray = [line for line in run.lines if not line.startswith("prnet: ")]
    assert not stray, stray[:10]


def test_error_lines_one_per_bad_input(run):
    errors = [line for line in run.lines if line.startswith("prnet: error:")]
    refused_either = [c for c in by_expect(run.cases, EITHER) if not records_of(run, c)]
    assert len(errors) == len(BAD_CASES) + len(refused_either), errors


@pytest.mark.parametrize("case", BAD_CASES, ids=ids(BAD_CASES))
def test_bad_input_named_in_exactly_one_line(run, case):
    case = _case(run, case.kind)
    named = lines_naming(run, case)
    assert len(named) == 1, f"{case.kind}: {len(named)} lines name {case.display!r}: {named}"
    assert named[0].startswith("prnet: error: "), named[0]
    assert not records_of(run, case), f"{case.kind}: a JSON was written for a bad input"


@pytest.mark.parametrize("case", EMPTY_FOLDER_CASES, ids=ids(EMPTY_FOLDER_CASES))
def test_empty_folder_named_in_one_warning(run, case):
    """A folder given as input (whatever its name) is searched; with no image in it, one
    warning line names it and the run goes on (it is not a failed input)."""
    named = lines_naming(run, _case(run, case.kind))
    assert len(named) == 1 and named[0].startswith("prnet: warning: "), named


@pytest.mark.parametrize("case", DOCUMENTED_BAD, ids=ids(DOCUMENTED_BAD))
def test_bad_input_line_says_why(run, case):
    named = lines_naming(run, _case(run, case.kind))
    assert named and case.message in named[0], (case.message, named)


@pytest.mark.parametrize("case", GOOD_CASES, ids=ids(GOOD_CASES))
def test_good_input_outputs_complete(run, case):
    case = _case(run, case.kind)
    # a warning about a good input is allowed (e.g. an output name shortened), an error is not
    errors = [line for line in lines_naming(run, case) if not line.startswith("prnet: warning:")]
    assert not errors, errors
    recs = records_of(run, case)
    assert len(recs) == 1, f"{case.kind}: {len(recs)} JSON records for {case.display!r}"
    path, rec = recs[0]
    assert len(rec["faces"]) >= 1, f"{case.kind}: no face"
    if case.size:
        assert (rec["width"], rec["height"]) == case.size, (rec["width"], rec["height"])
    listed = list(rec["files"]) + [f for face in rec["faces"] for f in face.get("files", [])]
    assert rec["files"], f"{case.kind}: no files listed"
    suffixes = {"obj": ".obj", "kpt": "_kpt.txt", "pose": "_pose.json"}
    for what, suffix in suffixes.items():
        assert any(f.endswith(suffix) for f in rec["files"]), f"{case.kind}: no {what} file"
    for f in listed:
        p = path.parent / f
        assert p.is_file(), f"{case.kind}: listed file {f} missing"
        check_file(p)
    k = np.asarray(rec["faces"][0]["landmarks"], float)
    assert k.shape == (68, 3) and np.isfinite(k).all()


@pytest.mark.parametrize("case", NO_FACE_CASES, ids=ids(NO_FACE_CASES))
def test_no_face_input_has_empty_record(run, case):
    case = _case(run, case.kind)
    errors = [line for line in lines_naming(run, case) if not line.startswith("prnet: warning:")]
    assert not errors, errors
    recs = records_of(run, case)
    assert len(recs) == 1, f"{case.kind}: {len(recs)} JSON records"
    assert recs[0][1]["faces"] == [] and recs[0][1]["files"] == [], recs[0][1]["faces"][:1]


@pytest.mark.parametrize("case", OTHER_CASES, ids=ids(OTHER_CASES))
def test_readable_or_cleanly_refused(run, case):
    case = _case(run, case.kind)
    recs, named = records_of(run, case), lines_naming(run, case)
    errors = [line for line in named if line.startswith("prnet: error:")]
    if case.expect == READABLE or recs:
        assert len(recs) == 1 and not errors, (recs, errors)
        path, rec = recs[0]
        for f in rec["files"]:
            check_file(path.parent / f)
    else:
        assert len(errors) == 1 and len(named) == 1, named


def test_no_nan_or_inf_in_any_written_file(run):
    files = files_on_disk(run.out)
    assert files
    for p in files:
        if not p.name.endswith(".tmp"):
            check_file(p)


def test_every_readable_input_has_exactly_one_record(run):
    recs = run.records
    sources = [r["image"] for r in recs.values()]
    dup = {s for s in sources if sources.count(s) > 1}
    assert not dup, f"sources written twice: {dup}"
    readable = by_expect(run.cases, GOOD, NO_FACE, READABLE)
    missing = [c.kind for c in readable if not records_of(run, c)]
    assert not missing, f"readable inputs without a record: {missing}"


def _owners(run: Run, fold_case: bool) -> list[str]:
    """Output files claimed by two per-image records (``fold_case``: names equal up to case)."""
    owner: dict[str, str] = {}
    clashes = []
    for p, r in run.records.items():
        for f in [*r["files"], p.name]:
            key = os.path.abspath(p.parent / f)
            key = key.lower() if fold_case else key
            if key in owner and owner[key] != r["image"]:
                clashes.append(f"{f}: {owner[key]!r} and {r['image']!r}")
            owner[key] = r["image"]
    return clashes


def test_no_two_inputs_share_an_output_name(run):
    """x.jpg, x.png, x_png.jpg, X.JPG, sub_a/x.jpg, sub_b/x.jpg: one record each, and no
    output file (JSON included) claimed by two inputs."""
    collide = [c for c in run.cases if c.kind.startswith("collision_")]
    counts = {c.kind: len(records_of(run, c)) for c in collide}
    assert all(n == 1 for n in counts.values()), counts
    clashes = _owners(run, fold_case=False)
    assert not clashes, clashes


def test_no_two_output_names_differ_only_in_case(run):
    """Output stems are planned case-insensitively (``plan_outputs``): on a case-insensitive
    file system (macOS, Windows) two names equal up to case are one file."""
    clashes = _owners(run, fold_case=True)
    assert not clashes, clashes


def test_no_temporaries_left(run):
    left = [p for p in run.out.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.suffixes]
    assert not left, left
    left_in = [p for p in run.root.rglob("*.tmp")]
    assert not left_in, left_in


def test_summary_counts_match_disk(run):
    _images, faces, no_face, failed, files = summary(run.stdout)
    on_disk = files_on_disk(run.out)
    assert files == len(on_disk), f"summary says {files} files, {len(on_disk)} on disk"
    refused = [c for c in by_expect(run.cases, EITHER) if not records_of(run, c)]
    assert failed == len(BAD_CASES) + len(refused), (failed, len(BAD_CASES))
    assert faces >= len(GOOD_CASES)
    assert no_face >= len(NO_FACE_CASES)


def test_good_exif_orientations_upright(run):
    """Each EXIF orientation 1-8 is shown upright: one face, landmarks within 3 px of
    orientation 1's (the stored pixels differ, the displayed image is the same)."""
    ref = None
    for o in range(1, 9):
        recs = records_of(run, _case(run, f"exif_orientation_{o}"))
        assert len(recs) == 1 and len(recs[0][1]["faces"]) == 1, o
        k = np.asarray(recs[0][1]["faces"][0]["landmarks"], float)[:, :2]
        ref = k if ref is None else ref
        assert np.abs(k - ref).mean() < 3.0, (o, np.abs(k - ref).mean())


# --------------------------------------------------------------------------- re-runs


def test_skip_existing_processes_nothing_new(run):
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in files_on_disk(run.out)}
    code, stdout, stderr = prnet(
        reconstruct_args(run.out, _paths(run.cases), "--skip-existing"), cwd=run.root)
    assert code == run.code, (code, stderr[-2000:])
    assert "Traceback" not in stderr
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in files_on_disk(run.out)}
    assert set(after) == set(before), set(after) ^ set(before)
    changed = [p.name for p in before if before[p] != after[p]]
    assert not changed, changed
    _images, faces, _, failed, files = summary(stdout)
    assert faces == 0 and files == 0, stdout
    assert failed == summary(run.stdout)[3]
    skipped = re.search(r"(\d+) skipped", stdout)
    readable = by_expect(run.cases, GOOD, NO_FACE, READABLE) + [
        c for c in by_expect(run.cases, EITHER) if records_of(run, c)]
    assert skipped and int(skipped.group(1)) == len(readable), stdout


def test_strict_no_face_exits_3(corpus, tmp_path):
    root, cases = corpus
    good = by_expect(cases, GOOD)[0]
    black = next(c for c in cases if c.kind == "black")
    code, _stdout, stderr = prnet(reconstruct_args(tmp_path / "out", [good.arg, black.arg],
                                                  "--strict"), cwd=root)
    assert code == 3, (code, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("prnet: error: "), lines
    assert black.arg in lines[0] and "no face" in lines[0], lines


def _dead_pid() -> int:
    for pid in range(4_000_000, 3_000_000, -7919):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    pytest.skip("no free pid found")


@pytest.fixture(scope="module")
def stale_run(corpus, tmp_path_factory):
    """An output folder with temporaries of a killed earlier run (pid not alive) and of a
    live writer (this test process), then one run over a good image into it."""
    root, cases = corpus
    out = tmp_path_factory.mktemp("stale") / "out"
    (out / "sub").mkdir(parents=True)
    dead = _dead_pid()
    stale = [out / f".something.jpg.{dead}.deadbeef.tmp", out / f".good_jpg.json.{dead}.0badf00d.tmp"]
    for p in stale:
        p.write_bytes(b"half-written")
    live = out / f".other.json.{os.getpid()}.cafebabe.tmp"
    live.write_bytes(b"being written")
    good = by_expect(cases, GOOD)[0]
    code, stdout, stderr = prnet(reconstruct_args(out, [good.arg]), cwd=root)
    return code, stdout, stderr, out, stale, live


def test_stale_temporaries_of_a_dead_run_removed(stale_run):
    code, _stdout, stderr, _out, stale, _ = stale_run
    assert code == 0, stderr
    assert "Traceback" not in stderr
    left = [p.name for p in stale if p.exists()]
    assert not left, f"stale temporaries of a dead pid left: {left}"


def test_temporary_of_a_live_writer_kept(stale_run):
    """Only a dead process's temporaries are ours to remove: another running prnet may be
    writing into the same folder."""
    _, _, _, _out, _, live = stale_run
    assert live.exists()
