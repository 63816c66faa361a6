"""``prnet train pack``: build the compact training pack read by :func:`prnet.train.data.load_pack`.

Files written to ``--out``:

* ``train.npz``: ``blob``/``offsets`` (WebP training crops, 120×120), ``params`` (B, 62) labels
  (refined for AFLW, teacher for faces-extra), ``source`` (0 AFLW, 1 faces-extra) and, with
  ``--teacher-labels``, ``teacher_params``;
* ``dev.npz``: AFLW2000-3D dev crops (JPEG, 256², GT landmark box), ``M`` image → crop, ``gt68``,
  ``yaw``;
* ``renderer.npz``: the BFM/UV arrays of :class:`prnet.train.posmap.PosmapRenderer`;
* ``teacher_encoder.safetensors``: the teacher's MobileNet encoder (fp16) for ``--init teacher``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from prnet.errors import PRNetError
from prnet.train.shared_data import AFLW2000_DEV, AFLW_TRAIN, TEACHER, check_limit, require

DEV_JPEG_QUALITY = 90
LABEL_KEYS = ("image", "teacher", "refined")
EXTRA_KEYS = ("params", "blob", "offsets")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shared", required=True, type=Path, metavar="DIR",
                   help="shared data folder (holds data/aflw-train, data/aflw2000-3d-dev and "
                        "teacher/3ddfa_v2)")
    p.add_argument("--labels", default="pack/labels.npz", type=Path, metavar="FILE",
                   help="labels of `prnet train labels` (default: pack/labels.npz)")
    p.add_argument("--out", default="pack", type=Path, metavar="DIR",
                   help="pack folder to write (default: pack)")
    p.add_argument("--quality", type=int, default=65, help="WebP quality of the training crops (default: 65)")
    p.add_argument("--teacher-labels", action="store_true",
                   help="also store the unrefined teacher labels (for `prnet train fit --labels teacher`)")
    p.add_argument("--extra", default=None, type=Path, metavar="FILE",
                   help="labels of `prnet train labels-extra` to append to the training set")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="only the first N training faces (checks, tests)")
    p.add_argument("--dev-limit", type=int, default=None, metavar="N",
                   help="only the first N dev images (checks, tests)")


def _load_labels(path: Path, keys: tuple[str, ...], flag: str) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise PRNetError(f"{flag} {path}: no such file")
    try:
        with np.load(path) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise PRNetError(f"{flag} {path}: not a labels file (no {', '.join(missing)})")
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise PRNetError(f"{flag} {path}: not a readable .npz ({' '.join(str(exc).split())})") from None


def write_train(out: Path, images: Path, lab: dict[str, np.ndarray], extra: dict[str, np.ndarray] | None,
                limit: int | None, quality: int, teacher_labels: bool) -> int:
    """``train.npz``; returns the number of training faces."""
    import cv2
    from tqdm import tqdm

    from prnet.train.data import encode_images

    n = len(lab["image"]) if limit is None else min(limit, len(lab["image"]))
    crops = [cv2.imread(str(images / name))[..., ::-1] for name in tqdm(lab["image"][:n], desc="train crops")]
    blob, offsets = encode_images(crops, ".webp", quality)
    refined, teacher = lab["refined"][:n], lab["teacher"][:n]
    arrays = {"teacher_params": teacher} if teacher_labels else {}
    source = np.zeros(n, np.uint8)  # 0 AFLW (refined labels), 1 faces-extra (teacher labels)
    if extra is not None:
        blob = np.concatenate([blob, extra["blob"]])
        offsets = np.concatenate([offsets, offsets[-1] + extra["offsets"][1:]])
        refined = np.concatenate([refined, extra["params"]])
        source = np.concatenate([source, np.ones(len(extra["params"]), np.uint8)])
        if teacher_labels:
            arrays["teacher_params"] = np.concatenate([teacher, extra["params"]])
    np.savez(out / "train.npz", blob=blob, offsets=offsets, params=refined, source=source, **arrays)
    return len(refined)


def write_dev(out: Path, dev_dir: Path, limit: int | None) -> int:
    """``dev.npz`` (GT-landmark-box crops of AFLW2000-3D dev); returns the number of images."""
    import cv2
    from tqdm import tqdm

    from prnet.eval.aflw2000 import load_aflw2000
    from prnet.geometry.crop import crop_matrix, square_from_landmarks, warp_crop
    from prnet.train.data import encode_images

    samples = load_aflw2000(dev_dir, limit=limit)
    Ms, dev = [], []
    for s in tqdm(samples, desc="dev crops"):
        img = cv2.imread(str(s.image_path))[..., ::-1]
        M = crop_matrix(*square_from_landmarks(s.pt3d_68))
        Ms.append(M)
        dev.append(warp_crop(img, M))
    blob, offsets = encode_images(dev, ".jpg", DEV_JPEG_QUALITY)
    np.savez_compressed(out / "dev.npz", blob=blob, offsets=offsets, M=np.stack(Ms).astype(np.float32),
                        gt68=np.stack([s.pt3d_68 for s in samples]),
                        yaw=np.array([s.abs_yaw_deg for s in samples], np.float32))
    return len(samples)


def write_renderer_and_encoder(out: Path, teacher_dir: Path) -> None:
    """``renderer.npz`` (BFM + UV layout arrays) and ``teacher_encoder.safetensors`` (fp16)."""
    from safetensors.numpy import save_file

    from prnet.bfm import load_bfm
    from prnet.train.posmap import renderer_arrays
    from prnet.train.teacher import load_teacher
    from prnet.uv.layout import load_layout

    np.savez_compressed(out / "renderer.npz", **renderer_arrays(load_bfm(), load_layout()))
    enc = load_teacher(teacher_dir).backbone.state_dict()
    save_file({k: v.half().numpy() if v.is_floating_point() else v.numpy() for k, v in enc.items()},
              str(out / "teacher_encoder.safetensors"))


def run(args: argparse.Namespace) -> int:
    check_limit("limit", args.limit)
    check_limit("dev-limit", args.dev_limit)
    if not 1 <= args.quality <= 100:
        raise PRNetError(f"--quality {args.quality}: expected 1-100")
    aflw, dev_dir, teacher_dir = require(args.shared, AFLW_TRAIN / "images", AFLW2000_DEV, TEACHER)
    lab = _load_labels(args.labels, LABEL_KEYS, "--labels")
    extra = _load_labels(args.extra, EXTRA_KEYS, "--extra") if args.extra else None
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    n_train = write_train(out, aflw, lab, extra, args.limit, args.quality, args.teacher_labels)
    n_dev = write_dev(out, dev_dir, args.dev_limit)
    write_renderer_and_encoder(out, teacher_dir)
    total = sum(f.stat().st_size for f in out.iterdir() if f.name != "labels.npz")
    print(f"pack {out}: {n_train} training faces, {n_dev} dev images, {total / 2**20:.1f} MiB")
    return 0
