"""Where the student's error comes from, on the dev split (GT-landmark-box crops, 68-pt 2D NME %).

1. By landmark group (jaw, brows, nose, eyes, mouth) for the teacher, the refined labels and the
   student. The "refined" row refines the teacher's dev fits against the dev images' own 21 AFLW
   points (as the training labels were made): the quality the training labels have, not a method.
2. How well the student fits its labels: student vs refined labels on dev, and on training
   faces (no augmentation); teacher vs refined labels on dev for scale. Equal train and dev
   figures mean underfitting (more capacity/compute helps), not overfitting (more data helps).
3. How much of each method's error is systematic: the length of the mean offset of each point
   over a yaw bin (x mirrored so that all faces turn the same way), as % of the GT box.

    python research/error_analysis.py --shared ../shared --pack pack [--weights W] [--n-train 400]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from prnet.bfm import load_bfm
from prnet.eval.aflw2000 import load_aflw2000
from prnet.eval.metrics import (
    LANDMARK_GROUPS,
    YAW_BIN_LABELS,
    nme_68,
    nme_68_groups,
    summarize,
    yaw_bins,
)
from prnet.models.weights import load_model
from prnet.pipeline.posmaps import uncrop_maps
from prnet.train.augment import crop_affines, warp_images
from prnet.train.data import decode_images, load_pack
from prnet.train.labels import crop_vertices, fit_samples, refine_params
from prnet.train.loop import DevSet, TrainConfig, predict_dev
from prnet.train.posmap import PosmapRenderer
from prnet.train.teacher import load_teacher
from prnet.uv.layout import load_layout


def _row(name: str, pred: np.ndarray, label: np.ndarray, bins: np.ndarray) -> str:
    """Markdown row: 68-point NME by bin and balanced, then each landmark group's balanced NME."""
    s = summarize(nme_68(pred, label, 2) * 100, bins)
    groups = [summarize(e * 100, bins)["balanced"] for e in nme_68_groups(pred, label, 2).values()]
    return (f"| {name} | " + " / ".join(f"{s[b]:.2f}" for b in YAW_BIN_LABELS)
            + f" | **{s['balanced']:.2f}** | " + " / ".join(f"{g:.2f}" for g in groups) + " |")


def dev_fits(shared: Path, bfm, prior: float, pose_prior: float) -> tuple[np.ndarray, np.ndarray, list]:
    """Teacher and refined (dev's own 21 points) 68 landmarks in image coordinates."""
    samples = load_aflw2000(shared / "data/aflw2000-3d-dev")
    net = load_teacher(shared / "teacher/3ddfa_v2")
    params, Ms, pts = fit_samples(net, samples)
    refined, _ = refine_params(bfm, params, pts, net.param_std.numpy(), prior=prior, pose_prior=pose_prior)

    def to_image(p: np.ndarray) -> np.ndarray:
        V = crop_vertices(bfm, p, bfm.keypoints)
        return uncrop_maps(V, Ms)

    return to_image(params), to_image(refined), samples


@torch.no_grad()
def train_fit(model: torch.nn.Module, pack: dict, n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """The student on ``n`` random training faces (PRNet crop, no augmentation, mirrored
    borders): its (n, 68, 3) landmarks, those of its refined labels, and the faces' yaw."""
    tr = pack["train"]
    idx = np.sort(np.random.default_rng(seed).choice(len(tr["params"]), n, replace=False))
    imgs = decode_images(tr["blob"], tr["offsets"])[idx]
    params = torch.as_tensor(tr["params"][idx])
    renderer = PosmapRenderer(pack["renderer"])
    A = crop_affines(renderer.landmarks(params)[..., :2], None, augment=False)
    x = warp_images(torch.as_tensor(imgs).permute(0, 3, 1, 2).float() / 255, A, None,
                    torch.ones(n, dtype=torch.bool))
    ku = load_layout().kpt_uv.astype(np.int64)
    label = renderer(params, A)[:, :, ku[:, 1], ku[:, 0]].permute(0, 2, 1).numpy()
    pred = np.concatenate([
        model(x[i : i + 32].contiguous(memory_format=torch.channels_last))[:, :, ku[:, 1], ku[:, 0]]
        .permute(0, 2, 1).float().numpy() for i in range(0, n, 32)])
    return pred, label, tr["yaw"][idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--pack", default="pack")
    ap.add_argument("--model", default=None, help="registered model name (default: the bundled one)")
    ap.add_argument("--weights", default=None, help="weights file (default: the bundled weights)")
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--prior", type=float, default=3.0, help="as `prnet train labels`")
    ap.add_argument("--pose-prior", type=float, default=1.0, help="as `prnet train labels`")
    args = ap.parse_args()
    bfm = load_bfm()
    pack = load_pack(args.pack)
    model = load_model(args.model, args.weights, "cpu").eval()
    dev = DevSet(pack["dev"], None, "cpu")
    student = predict_dev(model, dev, TrainConfig(device="cpu"))
    model.eval()
    teacher, refined, samples = dev_fits(Path(args.shared), bfm, args.prior, args.pose_prior)
    gt = np.stack([s.pt3d_68 for s in samples])
    if not np.allclose(gt, dev.gt, atol=1e-3):
        raise SystemExit("the pack's dev split and ../shared's differ: rebuild the pack")
    bins = yaw_bins(dev.yaw)

    print("### 68-point 2D NME by landmark group (dev, GT-box crops): 0-30 / 30-60 / 60-90 | balanced\n")
    print("| group | teacher | bal. | refined labels | bal. | student | bal. |\n|---|---|---|---|---|---|---|")
    preds = {"teacher": teacher, "refined": refined, "student": student}
    per = {name: nme_68_groups(p, gt, 2) | {"all": nme_68(p, gt, 2)} for name, p in preds.items()}
    for group in per["student"]:
        cells = []
        for name in preds:
            sm = summarize(per[name][group] * 100, bins)
            cells += [" / ".join(f"{sm[b]:.2f}" for b in YAW_BIN_LABELS), f"{sm['balanced']:.2f}"]
        print(f"| {group} | " + " | ".join(cells) + " |")
    share = {g: per["student"][g].mean() * (sl.stop - sl.start) for g, sl in LANDMARK_GROUPS.items()}
    total = sum(share.values())
    print("\nShare of the student's 68-point error: "
          + ", ".join(f"{g} {100 * v / total:.0f} %" for g, v in share.items()))

    print("\n### Fit to the labels (68-pt 2D NME against the refined labels): 0-30 / 30-60 / 60-90 | balanced\n")
    print("| comparison | 0-30 / 30-60 / 60-90 | balanced | " + " / ".join(LANDMARK_GROUPS)
          + " (balanced) |\n|---|---|---|---|")
    print(_row("teacher vs refined labels, dev", teacher, refined, bins))
    print(_row("student vs refined labels, dev", student, refined, bins))
    pred, label, yaw = train_fit(model, pack, args.n_train)
    print(_row(f"student vs its training labels, {args.n_train} training faces", pred, label,
               yaw_bins(np.abs(yaw))))

    print("\n### Systematic part: |mean offset| per point over the bin, averaged over the group "
          "(68-pt mean error in brackets), % of sqrt(w·h)\n")
    print("| method | bin | all 68 | " + " | ".join(LANDMARK_GROUPS) + " |\n|---|---|---|"
          + "---|" * len(LANDMARK_GROUPS))
    norm = np.sqrt(np.prod(gt[..., :2].max(1) - gt[..., :2].min(1), 1))
    turn = np.sign([s.pose[1] for s in samples])  # the pack's dev.yaw is |yaw|: the sign comes from the pose
    for name in preds:
        r = (preds[name][..., :2] - gt[..., :2]) / norm[:, None, None] * 100
        r[..., 0] *= turn[:, None]
        for b, label in enumerate(YAW_BIN_LABELS):
            bias = np.linalg.norm(r[bins == b].mean(0), axis=-1)
            err = np.linalg.norm(r[bins == b], axis=-1).mean()
            cells = [f"{bias[sl].mean():.2f}" for sl in LANDMARK_GROUPS.values()]
            print(f"| {name} | {label} | {bias.mean():.2f} ({err:.2f}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
