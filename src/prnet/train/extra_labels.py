"""``prnet train labels-extra``: pseudo-label the unannotated faces-extra photos.

The project's detector + model give each photo's largest face its 68 landmarks, which frame a
120×120 teacher crop; the teacher's fit is the label. Writes an ``.npz`` (crops as WebP, teacher
parameters, source names) that ``prnet train pack --extra`` appends to the training set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from prnet.errors import PRNetError
from prnet.train.shared_data import FACES_EXTRA, TEACHER, check_limit, require

CROP_QUALITY = 65  # WebP quality of the stored teacher crops


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shared", required=True, type=Path, metavar="DIR",
                   help="shared data folder (holds data/faces-extra/images and teacher/3ddfa_v2)")
    p.add_argument("--out", default="pack/labels_extra.npz", type=Path, metavar="FILE",
                   help="labels file to write (default: pack/labels_extra.npz)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="only the first N photos (by name; checks, tests)")
    p.add_argument("--device", default="cpu",
                   help="device of the detector and model that frame the faces (default: cpu)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from prnet import PRN
    from prnet.train.data import encode_images
    from prnet.train.labels import run_teacher, teacher_crop
    from prnet.train.teacher import load_teacher

    check_limit("limit", args.limit)
    photos, teacher_dir = require(args.shared, FACES_EXTRA, TEACHER)
    files = sorted(photos.iterdir())[: args.limit]
    prn = PRN(device=args.device)
    names, crops = [], []
    for f in tqdm(files, desc="detect"):
        try:
            faces = prn.reconstruct(f)
        except PRNetError:
            continue
        if not faces:
            continue
        face = max(faces, key=lambda r: float(np.prod(r.box[2:] - r.box[:2])))
        crops.append(teacher_crop(face.image, face.landmarks[:, :2])[0])
        names.append(f.name)
    if not crops:
        raise PRNetError(f"no face found in the {len(files)} photos of {photos}")
    params = run_teacher(load_teacher(teacher_dir), np.stack(crops))
    blob, offsets = encode_images(crops, ".webp", CROP_QUALITY)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, image=np.array(names), params=params, blob=blob, offsets=offsets)
    print(f"wrote {args.out}: {len(names)} faces from {len(files)} photos")
    return 0
