# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The link as three processes over ZeroMQ on 127.0.0.1 (examples/issc_tx.py, issc_channel.py,
issc_rx.py; python/issc/flowgraphs/processes.py): two tiny frames go through, the receiver decodes them
from the air, no sample is lost (the stamps on every hop say so), the acknowledgements reach the
transmitter, and every process ends by itself with a JSON summary. The receiver's rows are those of the
channel's own SigMF recording of what it sent, replayed: the ZeroMQ hop changed no sample. Every process
runs under a timeout and is killed if the test fails, so CI cannot hang."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from conftest import REPO_ROOT
from test_replay import tiny_profile

from gnuradio.issc.files import read_json_lines
from gnuradio.issc.flowgraphs.processes import RxProcess, channel_main, rx_main, tx_main
from gnuradio.issc.flowgraphs.recordings import ReplayComm

TIMEOUT_S = 400  # a hang guard only: the three processes take seconds once imported


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(example, *args, cwd):
    code = (
        "import sys, gnuradio; gnuradio.__path__.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]); "
        f"import {example}; sys.exit({example}.main(sys.argv[3:]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(REPO_ROOT / "python"), str(REPO_ROOT / "examples"), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        start_new_session=True,  # killed as a group if the test fails
    )


def finish(processes):
    """(returncode, stdout, stderr) of each process, waiting at most TIMEOUT_S in all; on a timeout every
    process still running is killed and the test fails."""
    results = []
    try:
        for proc in processes:
            out, err = proc.communicate(timeout=TIMEOUT_S)
            results.append((proc.returncode, out, err))
    except subprocess.TimeoutExpired:
        pytest.fail("a process of the separate-process link hung")
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return results


def test_three_processes_carry_two_frames(tiny_family, tmp_path):
    tx_port, channel_port, feedback_port = free_ports(3)
    tx_addr, channel_addr, feedback = (f"tcp://127.0.0.1:{p}" for p in (tx_port, channel_port, feedback_port))
    profile = tiny_profile(tmp_path / "profile.yml")
    common = ("--stamp-interval", 256, "--timeout", TIMEOUT_S - 60)
    processes = [
        start(
            "issc_rx",
            "--frames",
            2,
            "--out",
            tmp_path / "rx",
            "--size",
            64,
            "--codec-dir",
            tiny_family,
            "--zmq-in",
            channel_addr,
            "--zmq-feedback",
            feedback,
            *common,
            cwd=tmp_path,
        ),
        start(
            "issc_channel",
            "--zmq-in",
            tx_addr,
            "--zmq-out",
            channel_addr,
            "--zmq-feedback",
            feedback,
            "--sigmf",
            tmp_path / "rec",
            *common,
            cwd=tmp_path,
        ),
        start(
            "issc_tx",
            "--frames",
            2,
            "--size",
            64,
            "--codec-dir",
            tiny_family,
            "--profile",
            profile,
            "--schedule",
            "0:30",
            "--zmq-out",
            tx_addr,
            "--zmq-feedback",
            feedback,
            *common,
            cwd=tmp_path,
        ),
    ]
    (rx_code, rx_out, rx_err), (ch_code, ch_out, ch_err), (tx_code, tx_out, tx_err) = finish(processes)
    assert rx_code == 0, rx_err[-3000:]
    assert ch_code == 0, ch_err[-3000:]
    assert tx_code == 0, tx_err[-3000:]
    rx, channel, tx = json.loads(rx_out), json.loads(ch_out), json.loads(tx_out)
    assert (rx["frames_expected"], rx["frames_received"], rx["frames_lost"], rx["samples_dropped"]) == (2, 2, 0, 0)
    assert rx["end_reason"] == "complete" and rx["stamps_checked"] >= 2
    # the return link is PUB/SUB, lossy by design (a late subscriber, a busy machine): what it lost is
    # reported, never silent, and the samples' path (PUSH/PULL) is what must be lossless
    assert tx["frames_sent"] == 2 and tx["acks"] + len(tx["acks_missing"]) == 2, tx
    assert tx["samples_sent"] == channel["samples_in"] == channel["samples_out"] == rx["samples_received"]
    assert channel["samples_dropped"] == 0 and channel["stamps_checked"] == tx["stamps"] > 1
    rows = read_json_lines(tmp_path / "rx" / "frames.jsonl")
    assert [r["seq"] for r in rows] == [0, 1] and all(r["received"] and r["header_ok"] for r in rows)
    assert json.loads((tmp_path / "rx" / "rx_summary.json").read_text()) == rx

    # what the channel sent, recorded there and decoded here, is what the receiver decoded
    replay = ReplayComm(
        tmp_path / "rec" / "comm_rx", str(tmp_path / "replay"), codec_dir=str(tiny_family), images="", size=64
    )
    assert replay.run_replay(timeout_s=300)["frames_received"] == 2
    replayed = read_json_lines(tmp_path / "replay" / "frames.jsonl")
    assert [(r["seq"], r["model"], r["sinr_db"], r["psnr"]) for r in replayed] == [
        (r["seq"], r["model"], r["sinr_db"], r["psnr"]) for r in rows
    ]


def test_receiver_without_a_sender_ends_on_its_timeout_with_a_summary(tmp_path, tiny_family):
    """Nothing on the air: the receiver gives up at its timeout and says every frame was lost."""
    (port,) = free_ports(1)
    rx = RxProcess("tradeoff", 3, f"tcp://127.0.0.1:{port}", "", str(tmp_path / "rx"), None, codec_dir=str(tiny_family))
    summary = rx.run_process(timeout_s=1.0)
    assert (summary["end_reason"], summary["frames_received"], summary["frames_lost"]) == ("timeout", 0, 3)
    assert summary["lost_seqs"] == [0, 1, 2] and not summary["complete"] and summary["stopped_cleanly"]


@pytest.mark.parametrize(
    "main, args, message",
    [
        (channel_main, ("--zmq-out", "5556"), "not a ZeroMQ address"),
        (channel_main, ("--scenario", "no-such"), "no-such"),
        (tx_main, ("--zmq-feedback", "localhost"), "not a ZeroMQ address"),
        (rx_main, ("--out", "{tmp}/file/rx"), "cannot create the folder"),
    ],
)
def test_bad_arguments_are_one_line_errors_with_exit_code_2(main, args, message, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("main, args", [(channel_main, ("--timeout", "0")), (rx_main, ("--frames", "0"))])
def test_argument_types_are_checked_by_the_parser(main, args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    assert exc.value.code == 2 and "must be" in capsys.readouterr().err
