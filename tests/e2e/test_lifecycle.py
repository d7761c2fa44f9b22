"""`make run` stops cleanly: Ctrl-C or SIGTERM ends every process and server it started, work in flight or not.

What is asserted is the outcome (nothing left running, every port free, a clean console), never how
fast: each wait is a poll with a generous ceiling, and a loaded machine only makes it poll longer.
"""

from __future__ import annotations

import os
import signal
import socket
import threading

import pytest
from conftest import LocalRun, start_local_run, wait_for

from localrun.bus import EventBus, SqsQueue
from localrun.lambdas import Function

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


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def ports(run: LocalRun) -> list[int]:
    return [int(run.base.rsplit(":", 1)[1]), run.smtp_port, run.aws_port]


@pytest.mark.parametrize("ctrl_c", [False, True], ids=["SIGTERM to make", "Ctrl-C"])
def test_a_signal_to_make_run_stops_every_process_and_port_it_started(tmp_path, ctrl_c):
    # given `make run` in its own process group, with a text still being handled
    run = start_local_run(tmp_path / "data", via_make=True)
    group = os.getpgid(run.process.pid)
    run.text("+16135553001", "Pothole on Brock St")

    # when make alone gets SIGTERM, or the whole group SIGINT (what a terminal's Ctrl-C sends)
    if ctrl_c:
        os.killpg(group, signal.SIGINT)
    else:
        run.process.send_signal(signal.SIGTERM)
    run.process.wait(60)  # make reaps its children first; a hang fails here

    # then nothing it started is left, every port is free and the run said it stopped, without a trace
    wait_for(lambda: group_is_gone(group), what="every process of `make run` to end")
    wait_for(lambda: all(port_is_free(p) for p in ports(run)), what="the web, SMTP and AWS ports to be free")
    console = run.log_path.read_text()
    assert "Text311 local run: stopped." in console and "Traceback" not in console, console


def test_sigterm_to_the_script_stops_it_with_exit_status_0(tmp_path):
    run = start_local_run(tmp_path / "data")
    run.text("+16135553002", "Streetlight out on King St")  # work in flight must not hold the stop up

    status = run.stop(signal.SIGTERM)

    assert status == 0, run.log_path.read_text()
    wait_for(lambda: all(port_is_free(p) for p in ports(run)), what="the web, SMTP and AWS ports to be free")


def test_the_start_prints_the_urls_the_smtp_port_the_demo_numbers_and_the_city_inboxes(local_run):
    wait_for(lambda: "Ctrl-C stops" in local_run.log_path.read_text(), what="the start's banner")
    console = local_run.log_path.read_text()

    for expected in (f"{local_run.base}/", f"127.0.0.1:{local_run.smtp_port}", "+15145550100", "+18195550123",
                     "+16135550142", "+18025550188", "311@gatineau.example", "contactus@cityofkingston.example",
                     "311@burlingtonvt.example", "a restart starts again from config/local.yaml"):
        assert expected in console, expected
    assert (local_run.data_dir / "lambda.log").exists() and (local_run.data_dir / "env").exists()


def test_a_stopping_bus_takes_no_new_batch_and_does_not_wait_for_the_one_in_flight():
    # given a bus whose function is busy with a batch (it blocks until released)
    entered, release = threading.Event(), threading.Event()
    delivered: list[int] = []

    def handler(event: dict, context: object) -> dict:
        delivered.append(len(event["Records"]))
        entered.set()
        release.wait(60)
        return {"batchItemFailures": []}

    bus = EventBus()
    bus.subscribe("arn:aws:sns:ca-central-1:123456789012:t",
                  SqsQueue("q", "arn:aws:sqs:ca-central-1:123456789012:q", Function("f", "ca-central-1", 30, handler),
                           bus.dead_letters))
    bus.start()
    bus.publish("arn:aws:sns:ca-central-1:123456789012:t", "first")
    assert entered.wait(60)

    # when the bus is told to stop while that batch runs, and another message arrives
    bus.stop_taking_work()
    bus.publish("arn:aws:sns:ca-central-1:123456789012:t", "second")

    # then the stop does not wait for the batch in flight (it is abandoned), and takes nothing new
    assert bus.wait_stopped(0) is False
    release.set()
    assert bus.wait_stopped(60) is True
    assert delivered == [1]
