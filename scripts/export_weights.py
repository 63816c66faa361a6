"""Turn a training checkpoint (model.safetensors from `prnet train fit`) into a bundled fp16 asset.

Prints the sha256 for its entry in the weights registry (``prnet.weights.WEIGHTS``).
"""

from __future__ import annotations

import argparse

from prnet.models import create_model
from prnet.models.weights import load_weights, save_weights
from prnet.weights import file_sha256


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint")
    ap.add_argument("--model", default="mobilenet_unet")
    ap.add_argument("--out", default="src/prnet/assets/prnet_mobilenet_unet.safetensors")
    ap.add_argument("--fp32", action="store_true", help="keep fp32 (default fp16: no measurable change)")
    args = ap.parse_args()
    model = load_weights(create_model(args.model), args.checkpoint)
    save_weights(model, args.out, args.model, half=not args.fp32)
    print(f"{args.out}\nsha256 {file_sha256(args.out)}")


if __name__ == "__main__":
    main()
