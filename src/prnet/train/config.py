"""The training configuration, and the checks that turn a bad one into one clear error before
any data is decoded."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from prnet.errors import PRNetError
from prnet.geometry.crop import CROP
from prnet.models import list_models
from prnet.models.precision import PRECISIONS


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
    size: int = CROP  # training resolution of crops and position maps (dev evaluation stays at 256)
    freeze_bn: bool = False  # keep BatchNorm statistics fixed (small-batch fine-tuning, e.g. on CPU)
    eval_every_min: float = 2.0
    dev_limit: int | None = None
    amp: str = "bf16"  # bf16 | fp16 | none (CUDA autocast; on the CPU bf16 where it is native)
    channels_last: bool = True
    ema: float = 0.0  # decay of the weights' moving average (evaluated and saved); 0 = off
    compile: bool = False  # torch.compile the training forward (falls back to eager if it fails)
    device: str = "cuda" if torch.cuda.is_available() else "cpu"
    seed: int = 0
    extra: dict = field(default_factory=dict)


def check_config(cfg: TrainConfig) -> None:
    """Raise :class:`PRNetError` (one line, naming the flag) for a config that cannot run."""
    pack = Path(cfg.pack)
    missing = [f for f in ("train.npz", "renderer.npz") if not (pack / f).is_file()]
    if missing:
        raise PRNetError(f"--pack {cfg.pack}: no {' or '.join(missing)} there "
                         "(build it with `prnet train labels` and `prnet train pack`)")
    if cfg.model not in list_models():
        raise PRNetError(f"--model {cfg.model}: unknown; available: {', '.join(list_models())}")
    if cfg.resume:
        for f in ("model.safetensors", "state.pt"):
            if not (Path(cfg.resume) / f).is_file():
                raise PRNetError(f"--resume {cfg.resume}: no {f} there (pass the --out folder of an earlier run)")
    elif cfg.init == "teacher":
        if cfg.model.startswith("mobilenet") and not (pack / "teacher_encoder.safetensors").is_file():
            raise PRNetError(f"--init teacher: {pack / 'teacher_encoder.safetensors'} is missing "
                             "(`prnet train pack` writes it; or start from weights with --init FILE)")
    elif cfg.init != "none" and not Path(cfg.init).is_file():
        raise PRNetError(f"--init {cfg.init}: no such file (teacher | none | a model.safetensors)")
    choices = {"labels": ("refined", "teacher"), "amp": (*PRECISIONS, "none")}
    for name, allowed in choices.items():
        if getattr(cfg, name) not in allowed:
            raise PRNetError(f"--{name} {getattr(cfg, name)}: use one of {', '.join(allowed)}")
    ranges = {"batch": (1, math.inf), "minutes": (0, math.inf), "lr": (0, math.inf),
              "warmup_steps": (1, math.inf), "flip": (0, 1), "reflect_pad": (0, 1), "ema": (0, 0.999999),
              "eval_every_min": (0, math.inf)}
    for name, (lo, hi) in ranges.items():
        value = getattr(cfg, name)
        if not lo <= value <= hi:
            raise PRNetError(f"--{name.replace('_', '-')} {value}: must be within [{lo}, {hi}]")
    if cfg.size not in (64, 128, CROP):
        raise PRNetError(f"--size {cfg.size}: use 64, 128 or 256")
    if cfg.size != CROP and cfg.model.startswith("mobilenet_unet"):
        raise PRNetError(f"--size {cfg.size}: {cfg.model} adds its output to the 256×256 mean "
                         "position map; only fully convolutional networks (resfcn256) train "
                         "at a lower resolution")
    try:
        device = torch.device(cfg.device)
    except (RuntimeError, ValueError):
        raise PRNetError(f"--device {cfg.device}: not a torch device (cuda, cuda:1, cpu)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PRNetError(f"--device {cfg.device}: CUDA is not available (torch {torch.__version__})")
