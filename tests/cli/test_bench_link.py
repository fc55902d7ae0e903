# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc bench link``: the throughput JSON (samples and images per second) and, with ``--profile``, each
block's share of the busy time, on a tiny run."""

import json
import math


def test_bench_link_profile_is_well_formed(run_cli):
    """Two 64 x 64 images with the estimator on every block: the JSON keeps its interface keys, the rates
    agree with samples / seconds and frames / seconds, and the profile lists the link's blocks once each,
    sorted by busy time, with shares summing to 1; both a stream block (the echo channel, GNU Radio's work
    counter) and message-only blocks (the source coder, the monitor: handler timers) are measured, and the
    estimator's and the frame decoder's child processes (their CPU time) have rows of their own."""
    code, out, err = run_cli(
        "bench", "link", "--scenario", "tradeoff", "--frames", "2", "--size", "64", "--sensing-every", "1", "--profile"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["frames"] == 2 and data["frames_received"] == 2 and data["sensing_every"] == 1
    assert math.isclose(data["samples_per_second"], data["samples"] / data["seconds"])
    assert math.isclose(data["images_per_second"], 2 / data["seconds"])
    rows = data["profile"]
    names = [r["block"] for r in rows]
    assert len(names) == len(set(names))
    for expected in ("channels.echo_channel", "receiver.frame_decoder", "estimator", "monitor"):
        assert expected in names
    busy = [r["busy_s"] for r in rows]
    assert busy == sorted(busy, reverse=True) and all(b >= 0 for b in busy)
    assert math.isclose(sum(r["share"] for r in rows), 1.0, rel_tol=1e-9)
    by_name = {r["block"]: r for r in rows}
    assert by_name["channels.echo_channel"]["work_s"] > 0
    assert by_name["transmitter.semantic_encoder"]["message_s"] > 0 and by_name["monitor"]["message_s"] > 0
    assert by_name["monitor (worker)"]["busy_s"] > 0  # the rows (PSNR, MS-SSIM), built off the message thread
    # the child processes' CPU time on the blocks' requests (estimates, polar decoding)
    assert by_name["estimator (process)"]["busy_s"] > 0 and by_name["receiver.frame_decoder (process)"]["busy_s"] > 0
    for r in rows:
        if not r["block"].endswith(("(worker)", "(process)")):
            assert math.isclose(r["busy_s"], r["work_s"] + r["message_s"])
    assert "echo_channel" in err and "share" in err  # the readable table


def test_bench_link_without_profile_and_bad_sensing_every(run_cli):
    """Without ``--profile`` there is no profile key; a negative ``--sensing-every`` is a one-line error."""
    code, out, _ = run_cli("bench", "link", "--frames", "1", "--size", "64", "--sensing-every", "0")
    assert code == 0
    data = json.loads(out)
    assert "profile" not in data and data["samples_per_second"] > 0 and data["images_per_second"] > 0
    code, _, err = run_cli("bench", "link", "--frames", "1", "--sensing-every", "-1")
    assert code == 2 and "sensing-every" in err
