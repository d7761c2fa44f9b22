"""``python -m localrun``: start everything, print where it is, stop cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from localrun import ROOT
from localrun.seed import DEFAULT_SEED, SeedError, load_seed


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localrun", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address every server listens on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8311),
                        help="web page and simulation API (default: $PORT or 8311)")
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("SMTP_PORT") or 2525),
                        help="SMTP server for agents' answers (default: $SMTP_PORT or 2525)")
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("AWS_PORT") or 4566),
                        help="moto, the local AWS endpoint (default: $AWS_PORT or 4566; 0 picks a free port)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR") or ".local-data"),
                        help="logs and exports of this run (default: $DATA_DIR or .local-data)")
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED, help="settings and demo data (config/local.yaml)")
    return parser.parse_args(argv)


def _free_port(host: str) -> int:
    """aiosmtpd cannot be told port 0 (it connects to its own port to check it is up): pick one."""
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    for noisy in ("botocore", "mail.log"):  # per-call and per-connection INFO lines
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        seed = load_seed(args.seed)
    except SeedError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed first: a Ctrl-C during the start still stops what has started.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)  # the terminal closed

    from localrun.app import LocalRun, Ports, StartError  # after logging: moto is slow to import

    smtp_port = args.smtp_port or _free_port(args.host)
    run = LocalRun(seed, Ports(args.host, args.port, smtp_port, args.aws_port), args.data_dir.resolve())
    started = time.monotonic()
    try:
        run.start()
    except StartError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        run.stop()
        return 1
    except BaseException:
        run.stop()
        raise
    print(banner(run, time.monotonic() - started), flush=True)
    while not stop.wait(0.5):
        pass
    print("\nText311 local run: stopping…", file=sys.stderr, flush=True)
    run.stop()
    print("Text311 local run: stopped.", file=sys.stderr, flush=True)
    logging.shutdown()
    # The real stdout: an invocation abandoned in flight may still hold sys.stdout swapped for its log.
    if sys.__stdout__ is not None:
        sys.__stdout__.flush()
    # Everything is stopped and written; what is left is the interpreter freeing moto's and the
    # handlers' state, which took 7.5 s on a loaded 2-core machine, and abandoned daemon threads
    # (work in flight) that have nothing to finish. Leave now.
    os._exit(0)


def banner(run: object, seconds: float) -> str:
    from localrun.app import LocalRun

    assert isinstance(run, LocalRun) and run.aws is not None and run.web is not None
    host, port = run.web.server_address[:2]
    base = f"http://{host}:{port}"
    config = run.config()
    data = _shown(run.data_dir)
    lines = [
        "",
        f"Text311 is running on this machine (started in {seconds:.1f} s; no AWS account is used).",
        "",
        f"  Demo page (phone + city mailbox)  {base}/",
        f"  Simulation API                    {base}/sim/config   (docs/local-run.md)",
        f"  SMTP for agents' answers          {run.ports.host}:{run.ports.smtp}  (no TLS, no login)",
        f"  AWS endpoint (moto)               {run.aws.endpoint_url}",
        "",
        f"  Residents text                    {config['sms_number']}",
        "  Demo phones                       "
        + "\n                                    ".join(f"{p['number']}  {p['label']}" for p in config["demo_phones"]),
        "  City inboxes                      "
        + "\n                                    ".join(
            f"{m['email']:<36} {m['name']}, {m['region_code']} (answer as {m['agent']})"
            for m in config["municipalities"]),
        f"  Answers go to                     r+…@{config['reply_domain']} (the Reply-To of each mail)",
        "",
        f"  Add a city   source {data}/env && .venv/bin/text311 municipality add Montréal"
        f" --email 311@montreal.example --agents @montreal.example --endpoint-url {run.aws.endpoint_url}",
        f"  Logs         {data}/lambda.log (handlers), {data}/mailbox/*.eml, {data}/sms.jsonl",
        "  State lives in memory: a restart starts again from config/local.yaml.  Ctrl-C stops.",
        "",
    ]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
