"""`make run` stops cleanly: Ctrl-C or SIGTERM ends every server it started, within seconds, exit status 0."""

from __future__ import annotations

import signal
import socket
import time

import pytest
from conftest import start_local_run

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def port_is_free(port: int) -> bool:
    """Free for a new server (SO_REUSEADDR, as servers bind: closed connections in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_everything_within_seconds(tmp_path, sig):
    run = start_local_run(tmp_path / "data")
    port = int(run.base.rsplit(":", 1)[1])
    run.text("+16135553001", "Pothole on Brock St")  # work in flight must not hold the stop up

    started = time.monotonic()
    status = run.stop(sig, timeout=10)

    assert status == 0, run.log_path.read_text()
    assert time.monotonic() - started < 5
    assert [p for p in (port, run.smtp_port, run.aws_port) if not port_is_free(p)] == []
    console = run.log_path.read_text()
    assert "Text311 local run: stopped." in console and "Traceback" not in console


def test_the_start_prints_the_urls_the_smtp_port_the_demo_numbers_and_the_city_inboxes(tmp_path):
    run = start_local_run(tmp_path / "data")
    run.stop()
    console = run.log_path.read_text()

    for expected in (f"{run.base}/", f"127.0.0.1:{run.smtp_port}", "+15145550100", "+18195550123",
                     "+16135550142", "+18025550188", "311@gatineau.example", "contactus@cityofkingston.example",
                     "311@burlingtonvt.example", "a restart starts again from config/local.yaml"):
        assert expected in console, expected
    assert (run.data_dir / "lambda.log").exists() and (run.data_dir / "env").exists()
