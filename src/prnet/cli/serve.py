"""``prnet serve``: the HTTP service (``pip install "prnet[serve]"``; see :mod:`prnet.serve`)."""

from __future__ import annotations

import argparse

from prnet.cli.options import model_parser


def register(sub: argparse._SubParsersAction) -> None:
    from prnet.serve.config import ServeConfig

    d = ServeConfig()
    p = sub.add_parser(
        "serve",
        parents=[model_parser()],
        help="HTTP service: reconstruct, swap, web viewer (needs the serve extra)",
        description="Serve the model over HTTP (FastAPI + uvicorn): POST /v1/reconstruct, "
        "POST /v1/swap, GET /health, GET /metrics, the web viewer at / and the API at /docs. "
        "Concurrent requests share batched network calls.",
    )
    p.add_argument("--host", default=d.host,
                   help=f"address to listen on (default {d.host}: this machine only)")
    p.add_argument("--port", type=int, default=d.port, help=f"port (default {d.port})")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_mb, metavar="MB",
                   help=f"largest request body (default {d.max_upload_mb:g})")
    p.add_argument("--max-pixels", type=int, default=d.max_pixels, metavar="N",
                   help=f"largest image, width x height (default {d.max_pixels})")
    p.add_argument("--api-key", default=None, metavar="KEY",
                   help="require X-API-Key: KEY or Authorization: Bearer KEY on /v1/reconstruct, "
                        "/v1/swap and /metrics")
    p.add_argument("--workers", type=int, default=d.workers, metavar="N",
                   help=f"threads for decoding, detection and encoding (default {d.workers}); "
                        "one model, one network thread")
    p.add_argument("--max-batch", type=int, default=d.max_batch, metavar="N",
                   help="most faces per shared network call (1: no batching; default: the "
                        "network's --batch-size, 1 on CPU where a batched pass is slower per "
                        "face, 16 on CUDA)")
    p.add_argument("--batch-wait-ms", type=float, default=d.batch_wait_ms, metavar="MS",
                   help=f"how long a network call waits for more requests (default "
                        f"{d.batch_wait_ms:g})")
    p.add_argument("--max-pending", type=int, default=d.max_pending, metavar="N",
                   help=f"most requests in progress; more get 503 (default {d.max_pending})")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from prnet.cli.messages import say, tell
    from prnet.cli.options import load_prn, model_options
    from prnet.serve import require_serve_extra
    from prnet.serve.config import ServeConfig, is_loopback

    require_serve_extra()
    import uvicorn

    from prnet.serve.app import create_app

    config = ServeConfig(host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                         max_pixels=args.max_pixels, api_key=args.api_key, workers=args.workers,
                         max_batch=args.max_batch, batch_wait_ms=args.batch_wait_ms,
                         max_pending=args.max_pending, model=model_options(args))
    prn = load_prn(args)  # a model that cannot load fails here, as one line
    if not is_loopback(config.host) and config.api_key is None:
        say(f"prnet serve: warning: listening on {config.host} without --api-key")
    app = create_app(config, prn)
    tell(f"prnet serve: {config.url} (API: {config.url}docs; Ctrl-C stops)")
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning",
                timeout_graceful_shutdown=5)
    return 0
