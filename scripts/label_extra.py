"""Pseudo-label ../shared/data/faces-extra (unannotated photos): the project's detector + model
give each face's 68 landmarks, which frame a 120×120 teacher crop; the teacher's fit is the label.

Writes an ``.npz`` (crops as WebP, teacher parameters, source names) that
``scripts/make_pack.py --extra`` appends to the training set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from prnet import PRN
from prnet.errors import PRNetError
from prnet.train.teacher import load_teacher
from prnet.train.data import encode_images
from prnet.train.labels import run_teacher, teacher_crop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--out", default="pack/labels_extra.npz")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    shared = Path(args.shared)
    files = sorted((shared / "data/faces-extra/images").iterdir())[: args.limit]
    prn = PRN(device="cpu")
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
    params = run_teacher(load_teacher(shared / "teacher/3ddfa_v2"), np.stack(crops))
    blob, offsets = encode_images(crops, ".webp", 65)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, image=np.array(names), params=params, blob=blob, offsets=offsets)
    print(f"wrote {args.out}: {len(names)} faces from {len(files)} photos")


if __name__ == "__main__":
    main()
