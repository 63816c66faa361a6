"""Build the training data pack (pack/) from ../shared and the labels of scripts/make_labels.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from safetensors.numpy import save_file
from tqdm import tqdm

from prnet.bfm import load_bfm
from prnet.eval.aflw2000 import load_aflw2000
from prnet.geometry.crop import crop_matrix, square_from_landmarks, warp_crop
from prnet.train.teacher import load_teacher
from prnet.train.data import encode_images
from prnet.train.posmap import renderer_arrays
from prnet.uv.layout import load_layout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--labels", default="pack/labels.npz")
    ap.add_argument("--out", default="pack")
    ap.add_argument("--quality", type=int, default=65, help="WebP quality of the training crops")
    ap.add_argument("--teacher-labels", action="store_true", help="also store the unrefined teacher labels")
    ap.add_argument("--extra", default=None, help="labels of scripts/label_extra.py to append")
    ap.add_argument("--dev-limit", type=int, default=None, help="only the first N dev images (tests)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N training faces (tests)")
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bfm, layout = load_bfm(), load_layout()

    lab = np.load(args.labels)
    n = len(lab["image"]) if args.limit is None else args.limit
    crops = [cv2.imread(str(shared / "data/aflw-train/images" / name))[..., ::-1]
             for name in tqdm(lab["image"][:n], desc="train crops")]
    blob, offsets = encode_images(crops, ".webp", args.quality)
    refined, teacher = lab["refined"][:n], lab["teacher"][:n]
    extra = {"teacher_params": teacher} if args.teacher_labels else {}
    source = np.zeros(n, np.uint8)  # 0 AFLW (refined labels), 1 faces-extra (teacher labels)
    if args.extra:
        ex = np.load(args.extra)
        blob = np.concatenate([blob, ex["blob"]])
        offsets = np.concatenate([offsets, offsets[-1] + ex["offsets"][1:]])
        refined = np.concatenate([refined, ex["params"]])
        source = np.concatenate([source, np.ones(len(ex["params"]), np.uint8)])
        if args.teacher_labels:
            extra["teacher_params"] = np.concatenate([teacher, ex["params"]])
    np.savez(out / "train.npz", blob=blob, offsets=offsets, params=refined, source=source, **extra)

    samples = load_aflw2000(shared / "data/aflw2000-3d-dev", limit=args.dev_limit)
    Ms, dev = [], []
    for s in tqdm(samples, desc="dev crops"):
        img = cv2.imread(str(s.image_path))[..., ::-1]
        M = crop_matrix(*square_from_landmarks(s.pt3d_68))
        Ms.append(M)
        dev.append(warp_crop(img, M))
    blob, offsets = encode_images(dev, ".jpg", 90)
    np.savez_compressed(out / "dev.npz", blob=blob, offsets=offsets, M=np.stack(Ms).astype(np.float32),
             gt68=np.stack([s.pt3d_68 for s in samples]),
             yaw=np.array([s.abs_yaw_deg for s in samples], np.float32))

    np.savez_compressed(out / "renderer.npz", **renderer_arrays(bfm, layout))
    enc = load_teacher(shared / "teacher/3ddfa_v2").backbone.state_dict()
    save_file({k: v.half().numpy() if v.is_floating_point() else v.numpy() for k, v in enc.items()}, str(out / "teacher_encoder.safetensors"))
    total = sum(f.stat().st_size for f in out.iterdir() if f.name != "labels.npz")
    print(f"pack {out}: {len(refined)} training faces, {len(samples)} dev images, {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
