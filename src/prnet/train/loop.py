"""Time-budgeted, resumable training of a position-map network on a data pack.

One call trains for ``minutes`` (cosine learning rate over that budget), evaluates on the dev
split, and writes to ``out``: ``model.safetensors`` (weights), ``state.pt`` (optimizer + counters
for resuming), ``config.json`` (the resolved config), ``log.csv`` and ``metrics.json``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from prnet.eval.metrics import nme_68, summarize, yaw_bins
from prnet.models import create_model
from prnet.models.mobilenet import MobileNetV1
from prnet.models.unet import MobileNetUNet
from prnet.models.weights import load_weights, read_weights_meta
from prnet.models.widen import widen_decoder
from prnet.train.augment import crop_affines, photometric, warp_images
from prnet.train.data import decode_images, load_pack
from prnet.train.posmap import PosmapRenderer
from prnet.uv.layout import load_layout


@dataclass
class TrainConfig:
    """Everything a run depends on (saved as config.json beside each checkpoint)."""

    pack: str = "pack"
    out: str = "runs/default"
    model: str = "mobilenet_unet"
    init: str = "teacher"  # teacher | none | path to a model.safetensors
    resume: str | None = None  # folder of an earlier run: weights + optimizer + counters
    labels: str = "refined"  # refined | teacher
    minutes: float = 5.0
    max_steps: int | None = None
    batch: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    flip: float = 0.5
    reflect_pad: float = 0.7  # share of crops padded by mirroring instead of zeros
    kpt_weight: float = 0.0  # extra weight of the 68 landmark texels (on top of the UV mask)
    freeze_bn: bool = False  # keep BatchNorm statistics fixed (small-batch fine-tuning, e.g. on CPU)
    eval_every_min: float = 2.0
    dev_limit: int | None = None
    amp: str = "bf16"  # bf16 | fp16 | none (autocast on CUDA only)
    channels_last: bool = True
    compile: bool = False  # torch.compile the training forward (falls back to eager if it fails)
    device: str = "cuda" if torch.cuda.is_available() else "cpu"
    seed: int = 0
    extra: dict = field(default_factory=dict)


class DevSet:
    """Pre-cropped AFLW2000-3D dev images (GT landmark box) and their ground truth."""

    def __init__(self, d: dict[str, np.ndarray], limit: int | None, device: str) -> None:
        n = len(d["M"]) if limit is None else min(limit, len(d["M"]))
        imgs = decode_images(d["blob"], d["offsets"][: n + 1])
        self.x = torch.as_tensor(imgs).permute(0, 3, 1, 2).contiguous().to(device)
        self.M, self.gt, self.yaw = d["M"][:n], d["gt68"][:n], d["yaw"][:n]


@torch.no_grad()
def predict_dev(model: torch.nn.Module, dev: DevSet, cfg: TrainConfig, batch: int | None = None) -> np.ndarray:
    """(B, 68, 3) landmarks of the dev crops, mapped back to image coordinates."""
    # large CPU batches spend their time allocating (400 crops, wide decoder, 1 thread: 5.5 → 1.9 min)
    batch = batch or (64 if cfg.device.startswith("cuda") else 4)
    layout = load_layout()
    ku = torch.as_tensor(layout.kpt_uv.astype(np.int64), device=cfg.device)
    model.eval()
    preds = []
    for i in range(0, len(dev.x), batch):
        x = dev.x[i : i + batch].float() / 255
        with _autocast(cfg):
            pm = model(x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x)
        preds.append(pm.float()[:, :, ku[:, 1], ku[:, 0]].permute(0, 2, 1).cpu().numpy())
    _train_mode(model, cfg)
    kp = np.concatenate(preds)
    Mi = np.stack([np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2] for m in dev.M])
    xy = np.einsum("bij,bkj->bki", Mi[:, :, :2], kp[..., :2]) + Mi[:, None, :, 2]
    z = kp[..., 2:] / np.sqrt(np.abs(np.linalg.det(dev.M[:, :, :2])))[:, None, None]
    return np.concatenate([xy, z], -1)


def evaluate(model: torch.nn.Module, dev: DevSet, cfg: TrainConfig, batch: int | None = None) -> dict[str, float]:
    """68-point NME (2D and 3D, %) on the dev crops, by yaw bin, balanced and overall."""
    pred = predict_dev(model, dev, cfg, batch)
    bins = yaw_bins(dev.yaw)
    out = {}
    for dims in (2, 3):
        s = summarize(nme_68(pred, dev.gt, dims), bins)
        for k in ("0-30", "30-60", "60-90", "balanced", "mean"):
            out[f"nme{dims}d_{k}"] = round(float(s[k]) * 100, 4)
    return out


def _train_mode(model: torch.nn.Module, cfg: TrainConfig) -> None:
    """Training mode, with BatchNorm layers left in eval mode when ``cfg.freeze_bn``."""
    model.train()
    if cfg.freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


class CompiledForward:
    """``torch.compile(model)`` (same weights), falling back to the eager model for good the
    first time compiling or running the compiled graph fails: a compiler problem must not cost
    a GPU session."""

    def __init__(self, model: torch.nn.Module, compile_fn=torch.compile) -> None:
        self.model = model
        try:
            self.compiled = compile_fn(model)
        except Exception as exc:  # noqa: BLE001
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        tqdm.write(f"torch.compile failed ({type(exc).__name__}: {str(exc)[:200]}); training eagerly")
        self.compiled = None

    def check(self, x: torch.Tensor, autocast) -> None:
        """Compile forward and backward now, on a sample batch, leaving weights, statistics and
        gradients as they were (backward graphs are otherwise compiled at the first step)."""
        if self.compiled is None:
            return
        saved = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        try:
            with autocast:
                y = self.compiled(x)
            y.float().mean().backward()
        except Exception as exc:  # noqa: BLE001
            self._give_up(exc)
        finally:
            self.model.load_state_dict(saved)
            self.model.zero_grad(set_to_none=True)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(x)
            except Exception as exc:  # noqa: BLE001
                self._give_up(exc)
        return self.model(x)


def _autocast(cfg: TrainConfig):
    if cfg.device.startswith("cuda") and cfg.amp != "none":
        return torch.autocast("cuda", dtype=torch.bfloat16 if cfg.amp == "bf16" else torch.float16)
    return torch.autocast("cpu", enabled=False)


def _init_model(cfg: TrainConfig, pack_dir: Path) -> torch.nn.Module:
    model = create_model(cfg.model)
    if cfg.init == "teacher" and isinstance(getattr(model, "encoder", None), MobileNetV1):
        enc = {k: v.float() if v.is_floating_point() else v
               for k, v in load_file(str(pack_dir / "teacher_encoder.safetensors")).items()}
        model.encoder.load_state_dict(enc, strict=True)
    elif cfg.init not in ("teacher", "none"):
        source = read_weights_meta(cfg.init).get("model", cfg.model)
        if source != cfg.model and isinstance(model, MobileNetUNet):
            # a trained narrower U-Net → the same function in the wider decoder (Net2WiderNet)
            narrow = create_model(source)
            load_weights(narrow, cfg.init)
            widths = tuple(b.reduce[0].out_channels for b in model.decoder)
            return widen_decoder(narrow.float(), widths, seed=cfg.seed)
        load_weights(model, cfg.init)
    return model


def train(cfg: TrainConfig) -> dict[str, float]:
    """Run one time-budgeted training session; returns the final dev metrics."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    pack_dir = Path(cfg.pack)
    pack = load_pack(pack_dir)
    dev = DevSet(pack["dev"], cfg.dev_limit, cfg.device) if "dev" in pack else None
    tr = pack["train"]
    t0 = time.time()
    images = torch.as_tensor(decode_images(tr["blob"], tr["offsets"])).permute(0, 3, 1, 2).contiguous().to(cfg.device)
    key = "params" if cfg.labels == "refined" else "teacher_params"
    params = torch.as_tensor(tr[key], device=cfg.device)
    renderer = PosmapRenderer(pack["renderer"]).to(cfg.device)
    kpts = torch.cat([renderer.landmarks(params[i : i + 4096])[..., :2] for i in range(0, len(params), 4096)])
    layout = load_layout()
    w = torch.as_tensor(layout.weight_mask, device=cfg.device)
    ku = layout.kpt_uv.astype(np.int64)
    w[ku[:, 1], ku[:, 0]] += cfg.kpt_weight
    w = (w / w.mean())[None, None]
    n = images.shape[0]
    print(f"data: {n} faces decoded in {time.time() - t0:.1f}s; device {cfg.device}")

    model = _init_model(cfg, pack_dir).to(cfg.device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    _train_mode(model, cfg)
    forward = CompiledForward(model) if cfg.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, seen, prior_s = 0, 0, 0.0
    if cfg.resume:
        rdir = Path(cfg.resume)
        model.load_state_dict(load_file(str(rdir / "model.safetensors")), strict=True)
        st = torch.load(rdir / "state.pt", map_location=cfg.device, weights_only=False)
        opt.load_state_dict(st["optimizer"])
        seen, prior_s = st["samples_seen"], st["train_seconds"]
    budget = cfg.minutes * 60
    log_f = open(out / "log.csv", "a", newline="")  # noqa: SIM115 (open for the run, closed below)
    log = csv.writer(log_f)
    if log_f.tell() == 0:
        log.writerow(["step", "samples_seen", "train_seconds", "lr", "loss", "nme2d_balanced"])
    start, last_eval, metrics = time.time(), time.time(), {}
    bar = tqdm(total=int(budget), desc="train", unit="s", mininterval=5)
    loss_ema = None
    while True:
        el = time.time() - start
        if el >= budget or (cfg.max_steps is not None and step >= cfg.max_steps):
            break
        frac = el / budget
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, n, (cfg.batch,), device=cfg.device, generator=gen)
        flip = torch.rand(cfg.batch, device=cfg.device, generator=gen) < cfg.flip
        A = crop_affines(kpts[idx], gen)
        with torch.no_grad():
            reflect = torch.rand(cfg.batch, device=cfg.device, generator=gen) < cfg.reflect_pad
            x = photometric(warp_images(images[idx].float() / 255, A, flip, reflect), gen)
            y = renderer(params[idx], A, flip)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if step == 0 and isinstance(forward, CompiledForward):
            forward.check(x, _autocast(cfg))
        with _autocast(cfg):
            pred = forward(x)
        loss = ((pred.float() - y).abs() * w).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += cfg.batch
        if step % 20 == 0:
            value = float(loss.detach())
            loss_ema = value if loss_ema is None else 0.9 * loss_ema + 0.1 * value
            bar.n = int(min(time.time() - start, budget))
            bar.set_postfix(loss=f"{loss_ema:.3f}", seen=seen, lr=f"{lr:.1e}")
            log.writerow([step, seen, round(prior_s + time.time() - start, 1), f"{lr:.3e}", f"{loss_ema:.4f}", ""])
            log_f.flush()  # a live log: `tail -f log.csv` during long runs
        if dev is not None and time.time() - last_eval > cfg.eval_every_min * 60:
            metrics = evaluate(model, dev, cfg)
            last_eval = time.time()
            log.writerow([step, seen, round(prior_s + time.time() - start, 1), f"{lr:.3e}", "", metrics["nme2d_balanced"]])
            log_f.flush()
            tqdm.write(f"step {step} seen {seen}: dev 2D NME {metrics}")
            _save(model, opt, cfg, out, seen, prior_s + time.time() - start, metrics)
    bar.close()
    train_s = time.time() - start
    metrics = evaluate(model, dev, cfg) if dev is not None else {}
    metrics.update(samples_seen=seen, steps=step, train_seconds=round(prior_s + train_s, 1),
                   samples_per_s=round(step * cfg.batch / max(train_s, 1e-9), 1))
    log.writerow([step, seen, round(prior_s + train_s, 1), "", "", metrics.get("nme2d_balanced", "")])
    log_f.close()
    _save(model, opt, cfg, out, seen, prior_s + train_s, metrics)
    print(json.dumps(metrics))
    return metrics


def _save(model, opt, cfg: TrainConfig, out: Path, seen: int, seconds: float, metrics: dict) -> None:
    """Write the checkpoint files, each atomically (a run killed mid-save keeps the previous one)."""
    sd = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic(out / "model.safetensors", lambda f: save_file(sd, str(f), metadata={"model": cfg.model}))
    state = {"optimizer": opt.state_dict(), "samples_seen": seen, "train_seconds": seconds}
    _atomic(out / "state.pt", lambda f: torch.save(state, f))
    _atomic(out / "config.json", lambda f: f.write_text(json.dumps(asdict(cfg), indent=2)))
    _atomic(out / "metrics.json", lambda f: f.write_text(json.dumps(metrics, indent=2)))


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
