"""``prnet serve``: the HTTP service (``pip install "prnet[serve]"``; see :mod:`prnet.serve`)."""

from __future__ import annotations

import argparse
import socket
from dataclasses import replace

from prnet.cli.options import model_parser
from prnet.errors import PRNetError


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
        epilog="exit status: 1 the model cannot load, an option is out of range or the address "
        "cannot be listened on; after a clean shutdown 130 on Ctrl-C, 143 on SIGTERM; 2 usage "
        "error.",
    )
    p.add_argument("--host", default=d.host,
                   help=f"address to listen on (default {d.host}: this machine only)")
    p.add_argument("--port", type=int, default=d.port,
                   help=f"port (default {d.port}; 0: any free port, printed)")
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
    sock = _listen(config.host, config.port)  # a busy port fails here, before the model loads
    try:
        prn = load_prn(args)  # a model that cannot load fails here, as one line
    except BaseException:
        sock.close()
        raise
    if not is_loopback(config.host) and config.api_key is None:
        say(f"prnet serve: warning: listening on {config.host} without --api-key")
    app = create_app(config, prn)
    url = replace(config, port=sock.getsockname()[1]).url
    tell(f"prnet serve: {url} (API: {url}docs; Ctrl-C stops)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    server.run(sockets=[sock])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (one line naming the address when it cannot be)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise PRNetError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise PRNetError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
