"""Load test of ``prnet serve`` on this machine (loopback only).

Starts a server on 127.0.0.1 (or uses ``--url``, which must be a loopback address), sends
``--requests`` good uploads (the bundled photo) at ``--concurrency`` with ``--bad`` bad uploads
mixed in (corrupt, empty, a 30000x30000 PNG header, a text part, a 30 MB body), and prints:
errors, latency p50/p95/p99 of the good requests, throughput, and the server's peak RSS
(VmHWM of the process it started). Every good answer must equal the first one (the bad
requests around them change nothing); every bad one must get its status.

    python scripts/load_test.py --requests 1000 --concurrency 16 --bad 200
    python scripts/load_test.py --requests 100 --concurrency 4 --bad 0 --max-batch 1
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "src" / "prnet" / "assets" / "astronaut.jpg"
BOUNDARY = "prnetloadtest"
_local = threading.local()


def multipart(data: bytes, content_type: str = "image/jpeg", field: str = "image") -> bytes:
    """A multipart/form-data body with one file part."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"upload\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _connection(host: str, port: int) -> http.client.HTTPConnection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = http.client.HTTPConnection(host, port, timeout=120)
    return conn


def post(host: str, port: int, body: bytes, content_type: str | None = None) -> tuple[int, bytes]:
    """POST /v1/reconstruct on this thread's keep-alive connection: (status, body)."""
    headers = {"Content-Type": content_type or f"multipart/form-data; boundary={BOUNDARY}"}
    for attempt in range(2):
        conn = _connection(host, port)
        try:
            conn.request("POST", "/v1/reconstruct", body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            if r.getheader("connection", "").lower() == "close":
                conn.close()
                _local.conn = None
            return r.status, data
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            _local.conn = None
            if attempt:
                raise
    raise AssertionError("unreachable")


def post_huge(host: str, port: int, megabytes: int) -> int:
    """Announce a ``megabytes`` MB body and send it until the server answers: its status."""
    total = megabytes * 1024 * 1024
    head = (f"POST /v1/reconstruct HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: "
            f"multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {total}\r\n"
            "Connection: close\r\n\r\n").encode()
    chunk = b"\0" * 65536
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall(head)
        sent = 0
        try:
            while sent < total and not select.select([s], [], [], 0)[0]:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        while b"\r\n" not in reply:
            part = s.recv(4096)
            if not part:
                break
            reply += part
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0


def bad_requests(n: int) -> list[tuple[str, int]]:
    """``n`` bad uploads, the five kinds in turn: (kind, expected status)."""
    kinds = [("corrupt", 400), ("empty", 400), ("huge_dims", 413), ("text_part", 415),
             ("30mb_body", 413)]
    return [kinds[i % len(kinds)] for i in range(n)]


def send_bad(host: str, port: int, kind: str, photo: bytes) -> int:
    if kind == "30mb_body":
        return post_huge(host, port, 30)
    body = {"corrupt": multipart(photo[: len(photo) // 3]),
            "empty": multipart(b""),
            "huge_dims": multipart(png_header(30000, 30000), "image/png"),
            "text_part": multipart(b"hello", "text/plain")}[kind]
    return post(host, port, body)[0]


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, int]:
    """``prnet serve`` on 127.0.0.1 and a free port, once /health answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "prnet", "--threads", str(args.threads), "serve",
           "--host", "127.0.0.1", "--port", str(port), "--device", args.device,
           "--batch-wait-ms", str(args.batch_wait_ms),
           "--workers", str(args.workers), "--max-pending", str(max(64, 2 * args.concurrency))]
    if args.batch_size:
        cmd += ["--batch-size", str(args.batch_size)]
    if args.max_batch:
        cmd += ["--max-batch", str(args.max_batch)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not answer /health within 180 s")


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of process ``pid`` in MiB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def baseline_per_s(photo: bytes, n: int, threads: int, device: str) -> float:
    """Images per second of ``PRN().reconstruct`` in this process, one after another (the
    reference the server's throughput is divided by)."""
    import torch

    sys.path.insert(0, str(ROOT / "src"))
    from prnet import PRN

    torch.set_num_threads(threads)
    prn = PRN(device=device)
    prn.reconstruct(photo)  # warm-up
    t = time.perf_counter()
    for _ in range(n):
        prn.reconstruct(photo)
    return n / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000, help="good requests (default 1000)")
    ap.add_argument("--concurrency", type=int, default=16, help="clients at once (default 16)")
    ap.add_argument("--bad", type=int, default=200, help="bad uploads mixed in (default 200)")
    ap.add_argument("--max-batch", type=int, default=None,
                    help="server --max-batch (1: off; default: the server's)")
    ap.add_argument("--batch-wait-ms", type=float, default=5.0, help="server --batch-wait-ms")
    ap.add_argument("--batch-size", type=int, default=None, help="server --batch-size")
    ap.add_argument("--workers", type=int, default=2, help="server --workers")
    ap.add_argument("--threads", type=int, default=1, help="server torch threads (default 1)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--url", default=None, help="use this running server (loopback only)")
    ap.add_argument("--time-limit", type=float, default=1800, help="stop sending after (s)")
    ap.add_argument("--baseline", type=int, default=20, metavar="N",
                    help="time N PRN().reconstruct calls in this process first (0: skip)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = ap.parse_args()
    if not 1 <= args.concurrency <= 256 or not 0 <= args.requests <= 100_000 \
            or not 0 <= args.bad <= 10_000:
        ap.error("--concurrency 1..256, --requests 0..100000, --bad 0..10000")

    photo = PHOTO.read_bytes()
    base = baseline_per_s(photo, args.baseline, args.threads, args.device) if args.baseline else None
    proc = None
    if args.url:
        u = urllib.parse.urlsplit(args.url)
        if u.hostname not in ("127.0.0.1", "localhost", "::1"):
            ap.error("--url must be a loopback address (127.0.0.1, localhost, ::1)")
        host, port = u.hostname, u.port or 80
    else:
        proc, port = start_server(args)
        host = "127.0.0.1"
    good_body = multipart(photo)
    jobs = [("good", 200)] * args.requests + bad_requests(args.bad)
    random.Random(0).shuffle(jobs)
    deadline = time.monotonic() + args.time_limit

    def one(job: tuple[str, int]) -> tuple[str, int, int, float, bytes | None]:
        kind, want = job
        if time.monotonic() > deadline:
            return kind, want, -1, 0.0, None
        t = time.perf_counter()
        try:
            if kind == "good":
                status, body = post(host, port, good_body)
            else:
                status, body = send_bad(host, port, kind, photo), None
        except OSError:
            status, body = 0, None
        return kind, want, status, time.perf_counter() - t, body

    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(one, jobs))
        wall = time.perf_counter() - t0
        rss = peak_rss_mb(proc.pid) if proc else None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)

    good = [r for r in results if r[0] == "good" and r[2] != -1]
    answers = [json.loads(r[4]) for r in good if r[2] == 200]
    reference = answers[0]["faces"] if answers else None
    wrong = sum(a["faces"] != reference for a in answers)
    good_errors = sum(r[2] != 200 for r in good) + wrong
    bad = [r for r in results if r[0] != "good" and r[2] != -1]
    bad_wrong = {}
    for kind, want, status, _, _ in bad:
        if status != want:
            bad_wrong[f"{kind}->{status}"] = bad_wrong.get(f"{kind}->{status}", 0) + 1
    lat = np.array([r[3] for r in good if r[2] == 200]) * 1000
    pct = np.percentile(lat, [50, 95, 99]) if len(lat) else [float("nan")] * 3
    figures = {
        "requests": len(good), "bad": len(bad), "concurrency": args.concurrency,
        "max_batch": args.max_batch, "batch_size": args.batch_size,
        "batch_wait_ms": args.batch_wait_ms,
        "errors": good_errors, "bad_wrong_status": bad_wrong,
        "skipped_after_time_limit": sum(r[2] == -1 for r in results),
        "p50_ms": round(float(pct[0]), 1), "p95_ms": round(float(pct[1]), 1),
        "p99_ms": round(float(pct[2]), 1), "wall_s": round(wall, 2),
        "good_per_s": round(len(lat) / wall, 2), "all_per_s": round(len(results) / wall, 2),
        "server_peak_rss_mb": None if rss is None else round(rss, 1),
        "baseline_api_per_s": None if base is None else round(base, 2),
        "ratio_to_baseline": None if not base else round(len(lat) / wall / base, 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:>26}: {v}")
    return 0 if good_errors == 0 and not bad_wrong and len(good) == args.requests else 1


if __name__ == "__main__":
    sys.exit(main())
