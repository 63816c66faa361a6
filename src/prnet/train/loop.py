"""Time-budgeted, resumable training of a position-map network on a data pack.

One call trains for ``minutes`` (cosine learning rate over that budget), evaluates on the dev
split, and writes to ``out``: ``model.safetensors`` (the weights to use: their moving average
when ``ema`` is on), ``raw.safetensors`` (with ``ema``: the optimised weights), ``state.pt``
(optimizer + counters for resuming), ``config.json`` (the resolved config), ``log.csv`` and
``metrics.json``.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from prnet.errors import PRNetError
from prnet.eval.metrics import nme_68, summarize, yaw_bins
from prnet.geometry.crop import CROP
from prnet.models import create_model
from prnet.models.mobilenet import MobileNetV1
from prnet.models.precision import autocast
from prnet.models.unet import MobileNetUNet
from prnet.models.weights import load_weights, read_weights_meta
from prnet.models.widen import shorten_decoder, widen_decoder
from prnet.pipeline.posmaps import network_input, uncrop_maps
from prnet.train.augment import crop_affines, photometric, resize_batch, warp_images
from prnet.train.config import TrainConfig, check_config
from prnet.train.data import decode_images, load_pack
from prnet.train.posmap import PosmapRenderer
from prnet.uv.layout import load_layout


class DevSet:
    """Pre-cropped AFLW2000-3D dev images (GT landmark box) and their ground truth."""

    def __init__(self, d: dict[str, np.ndarray], limit: int | None, device: str) -> None:
        n = len(d["M"]) if limit is None else min(limit, len(d["M"]))
        imgs = decode_images(d["blob"], d["offsets"][: n + 1])
        self.x = torch.as_tensor(imgs).permute(0, 3, 1, 2).contiguous().to(device)
        self.M, self.gt, self.yaw = d["M"][:n], d["gt68"][:n], d["yaw"][:n]


@torch.no_grad()
def texel_points(model: torch.nn.Module, dev: DevSet, texels: np.ndarray, batch: int,
                 channels_last: bool = False) -> np.ndarray:
    """(B, …, 3) image-coordinate points at the UV ``texels`` (…, 2) (u, v) of each dev crop's
    predicted position map: the pipeline's network input and back-projection
    (:func:`prnet.pipeline.posmaps.network_input`, :func:`~prnet.pipeline.posmaps.uncrop_maps`)."""
    t = torch.as_tensor(np.asarray(texels).astype(np.int64), device=dev.x.device)
    out = []
    for i in range(0, len(dev.x), batch):
        x = network_input(dev.x[i : i + batch].permute(0, 2, 3, 1))
        pm = model(x if channels_last else x.contiguous()).float()
        out.append(pm[:, :, t[..., 1], t[..., 0]].movedim(1, -1).cpu().numpy())
    return uncrop_maps(np.concatenate(out), dev.M)


def predict_dev(model: torch.nn.Module, dev: DevSet, cfg: TrainConfig, batch: int | None = None) -> np.ndarray:
    """(B, 68, 3) landmarks of the dev crops, mapped back to image coordinates. In fp32, as
    ``prnet eval`` runs by default (under CPU bf16 autocast here the stage-2 weights scored
    3.648 instead of 3.639)."""
    # large CPU batches spend their time allocating (400 crops, wide decoder, 1 thread: 5.5 → 1.9 min)
    batch = batch or (64 if cfg.device.startswith("cuda") else 4)
    was_training = model.training
    model.eval()
    points = texel_points(model, dev, load_layout().kpt_uv, batch, cfg.channels_last)
    if was_training:
        _train_mode(model, cfg)
    return points


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
    a GPU run."""

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


def _autocast(cfg: TrainConfig) -> torch.autocast:
    return autocast(cfg.device, cfg.amp)


class WeightEMA:
    """Exponential moving average of a model's weights and floating-point buffers (Polyak
    averaging). The decay ramps up as (1 + n) / (10 + n) over the first updates, so the average
    does not cling to the starting weights."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.updates = decay, 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        floats = [(e, m) for e, m in pairs if e.is_floating_point()]
        torch._foreach_lerp_([e for e, _ in floats], [m.detach() for _, m in floats], 1 - d)
        for e, m in pairs:
            if not e.is_floating_point():
                e.copy_(m)


def _init_model(cfg: TrainConfig, pack_dir: Path) -> torch.nn.Module:
    model = create_model(cfg.model)
    if cfg.init == "teacher" and isinstance(getattr(model, "encoder", None), MobileNetV1):
        enc = {k: v.float() if v.is_floating_point() else v
               for k, v in load_file(str(pack_dir / "teacher_encoder.safetensors")).items()}
        model.encoder.load_state_dict(enc, strict=True)
    elif cfg.init not in ("teacher", "none"):
        source = read_weights_meta(cfg.init).get("model", cfg.model)
        if source != cfg.model:
            # a trained narrower U-Net → the same function in the wider decoder (Net2WiderNet)
            narrow = create_model(source)
            if not (isinstance(model, MobileNetUNet) and isinstance(narrow, MobileNetUNet)):
                raise PRNetError(f"--init {cfg.init}: weights of {source} cannot start {cfg.model} "
                                 "(only a mobilenet_unet widens or shortens into another)")
            widths = tuple(b.reduce[0].out_channels for b in model.decoder)
            source_widths = tuple(b.reduce[0].out_channels for b in narrow.decoder)
            load_weights(narrow, cfg.init)
            if len(widths) < len(source_widths) and widths == source_widths[: len(widths)]:
                return shorten_decoder(narrow.float(), model)
            if len(widths) != len(source_widths):
                raise PRNetError(f"--init {cfg.init}: {source}'s decoder has {len(source_widths)} "
                                 f"blocks, {cfg.model}'s {len(widths)}; a decoder can lose its "
                                 "last blocks, not gain new ones")
            if any(w < b.reduce[0].out_channels for w, b in zip(widths, narrow.decoder)):
                raise PRNetError(f"--init {cfg.init}: {source} is wider than {cfg.model}; "
                                 "a decoder can be widened, not narrowed")
            return widen_decoder(narrow.float(), widths, seed=cfg.seed)
        load_weights(model, cfg.init)
    return model


def train(cfg: TrainConfig) -> dict[str, float]:
    """Train once, within the time budget ``cfg.minutes``; returns the final dev metrics.

    Raises:
        PRNetError: a config that cannot run (checked before any data is decoded).
    """
    check_config(cfg)
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
    ku = layout.kpt_uv_bfm.astype(np.int64)  # where the labels put the landmarks
    w[ku[:, 1], ku[:, 0]] += cfg.kpt_weight
    w = (w / w.mean())[None, None]
    valid = (w > 0).float()
    w = F.avg_pool2d(w, CROP // cfg.size)
    n = images.shape[0]
    print(f"data: {n} faces decoded in {time.time() - t0:.1f}s; device {cfg.device}")

    model = _init_model(cfg, pack_dir).to(cfg.device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    _train_mode(model, cfg)
    forward = CompiledForward(model) if cfg.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, seen, prior_s, prior_steps = 0, 0, 0.0, 0
    raw = None
    if cfg.resume:
        rdir = Path(cfg.resume)
        raw = rdir / "raw.safetensors"  # present when the earlier run kept a moving average
        model.load_state_dict(load_file(str(raw if raw.exists() else rdir / "model.safetensors")), strict=True)
        st = torch.load(rdir / "state.pt", map_location=cfg.device, weights_only=False)
        opt.load_state_dict(st["optimizer"])
        seen, prior_s, prior_steps = st["samples_seen"], st["train_seconds"], st.get("steps", 0)
        if "rng" in st:  # continue the random stream (batches, flips, augmentation)
            gen.set_state(st["rng"].to(gen.get_state().device))
    ema = WeightEMA(model, cfg.ema) if cfg.ema > 0 else None
    if ema is not None and raw is not None and raw.exists():  # continue the earlier average
        ema.model.load_state_dict(load_file(str(raw.with_name("model.safetensors"))), strict=True)
        ema.updates = st.get("ema_updates", 0)
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
        lr = cfg.lr * min(1.0, (prior_steps + step + 1) / cfg.warmup_steps) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, n, (cfg.batch,), device=cfg.device, generator=gen)
        flip = torch.rand(cfg.batch, device=cfg.device, generator=gen) < cfg.flip
        A = crop_affines(kpts[idx], gen)
        with torch.no_grad():
            reflect = torch.rand(cfg.batch, device=cfg.device, generator=gen) < cfg.reflect_pad
            x = photometric(warp_images(images[idx].float() / 255, A, flip, reflect), gen)
            y = renderer(params[idx], A, flip)
            if cfg.size != CROP:  # progressive resizing: same crop, fewer pixels
                x, y = resize_batch(x, y, valid, cfg.size)
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
        if ema is not None:
            ema.update(model)
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
            metrics = _evaluate(model, ema, dev, cfg)
            last_eval = time.time()
            log.writerow([step, seen, round(prior_s + time.time() - start, 1), f"{lr:.3e}", "", metrics["nme2d_balanced"]])
            log_f.flush()
            tqdm.write(f"step {step} seen {seen}: dev 2D NME {metrics}")
            _save(model, ema, opt, cfg, out, seen, prior_s + time.time() - start, metrics,
                  prior_steps + step, gen)
    bar.close()
    train_s = time.time() - start
    metrics = _evaluate(model, ema, dev, cfg) if dev is not None else {}
    metrics.update(samples_seen=seen, steps=step, train_seconds=round(prior_s + train_s, 1),
                   samples_per_s=round(step * cfg.batch / max(train_s, 1e-9), 1))
    log.writerow([step, seen, round(prior_s + train_s, 1), "", "", metrics.get("nme2d_balanced", "")])
    log_f.close()
    _save(model, ema, opt, cfg, out, seen, prior_s + train_s, metrics, prior_steps + step, gen)
    print(json.dumps(metrics))
    return metrics


def _evaluate(model: torch.nn.Module, ema: WeightEMA | None, dev: DevSet, cfg: TrainConfig) -> dict[str, float]:
    """Dev metrics of the weights that get saved (the moving average when there is one), plus
    those of the optimised weights as ``raw_*`` when they differ."""
    if ema is None:
        return evaluate(model, dev, cfg)
    raw = {f"raw_{k}": v for k, v in evaluate(model, dev, cfg).items()}
    tqdm.write(f"optimised weights (not the average): 2D NME balanced {raw['raw_nme2d_balanced']}")
    return {**evaluate(ema.model, dev, cfg), **raw}


def _save(model, ema: WeightEMA | None, opt, cfg: TrainConfig, out: Path, seen: int, seconds: float,
          metrics: dict, steps: int, gen: torch.Generator) -> None:
    """Write the checkpoint files, each atomically (a run killed mid-save keeps the previous one).
    ``state.pt`` also keeps the step count (the warm-up continues) and the random generator's
    state (a resumed run continues the stream of batches and augmentations)."""
    def weights(m: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.detach().float().contiguous().cpu() for k, v in m.state_dict().items()}

    meta = {"model": cfg.model}
    best = ema.model if ema is not None else model
    _atomic(out / "model.safetensors", lambda f: save_file(weights(best), str(f), metadata=meta))
    if ema is not None:
        _atomic(out / "raw.safetensors", lambda f: save_file(weights(model), str(f), metadata=meta))
    state = {"optimizer": opt.state_dict(), "samples_seen": seen, "train_seconds": seconds,
             "ema_updates": ema.updates if ema else 0, "steps": steps,
             "rng": gen.get_state().cpu()}
    _atomic(out / "state.pt", lambda f: torch.save(state, f))
    _atomic(out / "config.json", lambda f: f.write_text(json.dumps(asdict(cfg), indent=2)))
    _atomic(out / "metrics.json", lambda f: f.write_text(json.dumps(metrics, indent=2)))


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
