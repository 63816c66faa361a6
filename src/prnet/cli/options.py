"""The model options of every command that runs the network, declared once.

:func:`model_parser` is the argparse parent parser (``--device --model --weights --detector
--batch-size --refine --tta/--tta-shift --precision --backend --onnx``); :func:`load_prn` turns the parsed
arguments into a :class:`prnet.pipeline.ModelOptions` and a :class:`prnet.PRN`, every failure
as one line.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from prnet.errors import PRNetError, WeightsError

log = logging.getLogger(__name__)


def model_parser(**defaults: Any) -> argparse.ArgumentParser:
    """Parent parser with the "model and detector" options (``defaults`` override the
    :class:`~prnet.pipeline.ModelOptions` defaults, e.g. ``device="cpu"`` for benchmarks)."""
    from prnet.detect import available_detectors
    from prnet.models.precision import INFERENCE_PRECISIONS
    from prnet.pipeline.options import BACKENDS, ModelOptions

    base = ModelOptions()
    d = {**{k: getattr(base, k) for k in ("device", "detector", "precision", "backend")},
         **defaults}
    detectors = sorted(available_detectors())
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("model and detector")
    g.add_argument("--device", default=d["device"],
                   help=f"cpu, cuda, cuda:1, ... or auto: CUDA when available (default {d['device']})")
    g.add_argument("--model", default=None, metavar="NAME",
                   help="network: mobilenet_unet (alias default: the photo network, used when "
                        "none is given, except by prnet video), mobilenet_unet_fast (alias fast: "
                        "the same network stopped at a 64² map, about 2.5x faster in onnxruntime: the "
                        "default of prnet video and the camera), or "
                        "another registered name (with --weights)")
    g.add_argument("--weights", default=None, metavar="FILE",
                   help="safetensors weights to use instead of the bundled ones")
    g.add_argument("--detector", default=d["detector"], choices=detectors, metavar="NAME",
                   help=f"face detector: {', '.join(detectors)} (default {d['detector']})")
    g.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="faces per network pass (default: 1 on CPU, 16 on CUDA)")
    g.add_argument("--refine", action="store_true",
                   help="second pass: re-crop each face from its first-pass landmarks")
    g.add_argument("--tta", dest="tta", action="store_const", const="flip", default="off",
                   help="flip test-time augmentation: average with the mirrored crop (2x network "
                        "time, lower error)")
    g.add_argument("--tta-shift", dest="tta", action="store_const", const="shift",
                   help="flip TTA plus 4 crops shifted by 4%% of their side (10x network time, "
                        "lower error still)")
    g.add_argument("--precision", default=d["precision"], choices=INFERENCE_PRECISIONS,
                   help="network precision: fp32 (default); bf16 on CUDA or on a CPU with native "
                        "bf16 (AVX512-BF16/AMX: about 2.5x faster network there, same dev NME); "
                        "fp16 on CUDA; int8 with --model fast: its bundled int8 file in "
                        "onnxruntime on the CPU (about 1.4x faster network on one thread, dev NME "
                        "+0.016)")
    g.add_argument("--backend", default=d["backend"], choices=BACKENDS,
                   help="network runtime: auto (default): onnxruntime when installed and the "
                        "run is fp32 or int8 on the CPU, else torch; torch; onnxruntime (CPU, fp32 or int8, "
                        'needs pip install "prnet[onnx]"); the network is exported to '
                        "~/.cache/prnet/onnx on first use")
    g.add_argument("--onnx", default=None, metavar="FILE",
                   help="run this ONNX file (from `prnet export onnx`) with onnxruntime")
    return p


def model_options(args: argparse.Namespace, **overrides: Any):
    """The :class:`~prnet.pipeline.ModelOptions` of parsed arguments."""
    from prnet.pipeline.options import ModelOptions

    return ModelOptions.from_namespace(args, **overrides)


def load_prn(args: argparse.Namespace, detector: Any = None, **overrides: Any):
    """The :class:`prnet.PRN` for the run; every failure becomes one PRNetError line naming
    the file (``detector``: an instance to use instead of ``--detector``)."""
    from prnet import PRN

    opts = model_options(args, **overrides)
    what = f"weights file {opts.weights}" if opts.weights else "the bundled model"
    try:
        if detector is not None:
            return PRN(options=opts.replace(detector=detector.name), detector=detector)
        return PRN(options=opts)
    except WeightsError as exc:
        if opts.weights and str(opts.weights) not in str(exc):
            raise PRNetError(f"--weights {opts.weights}: {exc}") from None
        raise
    except PRNetError:
        raise
    except Exception as exc:
        log.debug("loading the model failed", exc_info=True)
        raise PRNetError(f"cannot load {what} or face detector {opts.detector!r}: "
                         f"{type(exc).__name__}: {exc}") from None
