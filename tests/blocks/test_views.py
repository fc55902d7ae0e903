# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Qt GUI blocks (image_sink, sensing_map, link_status) and their view models.

The view models (``link/views.py``, ``sensing/views.py``) are tested without a display: the HCRB
ellipse against the closed-form eigen-decomposition of a 2x2 matrix and the chi-square quantile, the
design's ellipse against the optimiser's own predicted bound, the image pairing against PSNR's closed
form, the status table against rows the real ledger builds, bounded histories and malformed messages
dropped. The blocks are then run in a flowgraph with an offscreen QApplication (skipped where Qt
cannot start) and their widgets checked against the models; the package imports without Qt and a GUI
block built without a QApplication fails with a clear error instead of aborting.
"""

import math
import subprocess
import sys

import numpy as np
import pmt
import pytest
from gnuradio import gr, issc
from hypothesis import given, seed, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.jsonutil import jsonable
from gnuradio.issc.link.config import LinkConfig
from gnuradio.issc.link.ledger import ROW_KEYS, FrameLedger
from gnuradio.issc.link.pdus import dict_to_meta, image_to_pdu, make_pdu
from gnuradio.issc.link.views import COLUMNS, FrameTable, ImagePairs, parse_row, row_cells
from gnuradio.issc.physics.geometry import Geometry
from gnuradio.issc.sensing.views import (
    SensingMapView,
    chi2_2dof_scale,
    covariance_ellipse,
    design_covariance,
    ellipse_axes,
)

# -- the ellipse ------------------------------------------------------------------------------------------


def closed_form_eigen(a, b, c):
    """Eigenvalues (larger, smaller) of [[a, b], [b, c]] and the major axis's angle, by hand."""
    mean, radius = (a + c) / 2, math.hypot((a - c) / 2, b)
    return mean + radius, mean - radius, 0.5 * math.atan2(2 * b, a - c)


@seed(20260501)
@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.floats(0.01, 100.0),
    st.floats(0.01, 100.0),
    st.floats(-0.95, 0.95),
    st.floats(0.5, 0.999),
    st.floats(-200.0, 200.0),
    st.floats(-200.0, 200.0),
)
def test_ellipse_matches_the_closed_form(var_x, var_y, rho, probability, cx, cy):
    """Semi-axes = sqrt(eigenvalues) (closed form for a 2x2), the major axis at 0.5 atan2(2b, a - c); every
    point of the p-ellipse at Mahalanobis radius^2 = chi2.ppf(p, 2) (scipy), its distances from the centre
    between k sqrt(lambda_min) and k sqrt(lambda_max), reaching both, and its area pi k^2 sqrt(det C)."""
    a, c = var_x, var_y
    b = rho * math.sqrt(a * c)
    cov = np.array([[a, b], [b, c]])
    big, small, angle = closed_form_eigen(a, b, c)
    major, minor, got_angle = ellipse_axes(cov)
    assert major == pytest.approx(math.sqrt(big), rel=1e-9)
    assert minor == pytest.approx(math.sqrt(small), rel=1e-7, abs=1e-12)
    if big - small > 1e-6 * big:  # the axis direction is defined (not a circle): equal modulo pi
        assert math.sin(got_angle - angle) == pytest.approx(0.0, abs=1e-6)
    k2 = chi2.ppf(probability, 2)
    assert chi2_2dof_scale(probability) ** 2 == pytest.approx(k2, rel=1e-9)
    points = covariance_ellipse(cov, [cx, cy], probability, points=2001)
    d = points - [cx, cy]
    mahalanobis = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    np.testing.assert_allclose(mahalanobis, k2, rtol=1e-7)
    np.testing.assert_array_equal(points[0], points[-1])
    # on the ellipse, so never beyond the semi-axes; the axes' ends are vertices (2000 segments, 4 | 2000)
    radius = np.linalg.norm(d, axis=1)
    assert radius.max() == pytest.approx(math.sqrt(k2 * big), rel=1e-9)
    assert radius.min() == pytest.approx(math.sqrt(k2 * small), rel=1e-7)
    x, y = d[:, 0], d[:, 1]
    area = 0.5 * abs(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))
    assert area == pytest.approx(math.pi * k2 * math.sqrt(a * c - b * b), rel=1e-5)


def test_the_95_percent_ellipse_scale_is_the_tabulated_chi_square_quantile():
    """chi2(2) 95 % quantile = 5.991 (tables); 39.3 % (1 - e^-1/2) is the one-sigma ellipse."""
    assert chi2_2dof_scale(0.95) ** 2 == pytest.approx(5.991464547, rel=1e-9)
    assert chi2_2dof_scale(1 - math.exp(-0.5)) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize(
    "cov",
    [
        [[1.0, 0.0], [0.0, -1.0]],  # indefinite
        [[1.0, 2.0], [2.0, 1.0]],  # indefinite off-diagonal
        [[1.0, 0.5], [0.4, 1.0]],  # not symmetric
        [[np.nan, 0.0], [0.0, 1.0]],
        [[np.inf, 0.0], [0.0, np.inf]],  # an unidentifiable bound
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        [[0.0, 0.0], [0.0, 0.0]],
    ],
)
def test_bad_covariances_are_rejected(cov):
    with pytest.raises(IsscInputError):
        covariance_ellipse(cov, [0.0, 0.0])


@pytest.mark.parametrize("probability", [0.0, 1.0, -0.1, float("nan"), True, "0.9"])
def test_bad_probabilities_are_rejected(probability):
    with pytest.raises(IsscInputError):
        chi2_2dof_scale(probability)


def test_design_ellipse_is_the_optimisers_bound(synthetic_profile_path):
    """The map's ellipse for a configuration, before any estimate, is the 2x2 HCRB of that design at the
    design position: its trace equals the optimiser's predicted ``hcrb_trace`` (here the threshold Pi =
    40 m^2, active), computed by the optimiser from the same beams."""
    from gnuradio.issc.optim import Optimizer

    target = [100.0, 50.0]
    decision = Optimizer("tradeoff", str(synthetic_profile_path), solver="zf-wf").decide(
        power_dbm=30.0, hcrb_threshold_m2=40.0, target=target
    )
    config = LinkConfig.from_decision(decision, seq=3)
    config.predicted.update(design_x=target[0], design_y=target[1])
    sigma = design_covariance(config)
    assert np.trace(sigma).real == pytest.approx(decision.power_w, rel=1e-6)
    view = SensingMapView("tradeoff")
    view.config(config.to_pmt())
    snap = view.snapshot()
    assert snap.ellipse_source == "design"
    np.testing.assert_array_equal(snap.design, target)
    assert np.trace(view.covariance) == pytest.approx(decision.hcrb_trace, rel=1e-6)
    assert decision.hcrb_trace == pytest.approx(40.0, rel=1e-3)
    assert snap.hcrb_rmse_m == pytest.approx(math.sqrt(decision.hcrb_trace), rel=1e-6)
    # the ellipse moves to the latest accepted estimate and takes that position's bound
    view.estimate({"block": 0, "ok": True, "x": 104.0, "y": 47.0, "hcrb_trace": 38.0})
    moved = view.snapshot()
    np.testing.assert_allclose(moved.ellipse[:-1].mean(axis=0), [104.0, 47.0], atol=1e-9)
    np.testing.assert_allclose(view.covariance, view.hcrb_at([104.0, 47.0], sigma))
    # a configuration for another array size is malformed for this scenario
    with pytest.raises(IsscInputError):
        view.config(LinkConfig("m", 1.0, 256, np.ones(8), np.ones((8, 1))))


def test_without_a_configuration_the_ellipse_is_the_reports_trace_split_evenly():
    """Before any configuration the covariance is hcrb_trace / 2 * I (the tracker's measurement model):
    a circle of radius k sqrt(trace / 2) around the estimate."""
    view = SensingMapView("tradeoff", probability=0.95)
    view.estimate(dict_to_meta({"block": 4, "ok": True, "x": 99.0, "y": 52.0, "hcrb_trace": 18.0}))
    snap = view.snapshot()
    assert snap.ellipse_source == "trace"
    radius = np.linalg.norm(snap.ellipse - [99.0, 52.0], axis=1)
    np.testing.assert_allclose(radius, math.sqrt(chi2.ppf(0.95, 2) * 9.0), rtol=1e-9)


# -- the sensing map's messages ---------------------------------------------------------------------------


def report(block, x=100.0, y=50.0, ok=True, **extra):
    return {"block": block, "ok": ok, "x": x, "y": y, "hcrb_trace": 20.0, **extra}


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("not a dict"),
        "not a dict",
        {"ok": True, "x": 1.0, "y": 2.0},  # no block
        {"block": True, "ok": True},  # a bool is not a block number
        {"block": 1, "ok": 1},  # ok must be a bool
        {"block": 1, "ok": True, "x": 1.0},  # half a position
        {"block": 1, "ok": True, "x": float("nan"), "y": 2.0},
        {"block": 1, "ok": True, "x": 1.0, "y": 2.0, "true_x": "far"},
        {"block": 1, "ok": True, "x": 1.0, "y": 2.0, "hcrb_trace": "big"},
    ],
)
def test_malformed_estimates_change_nothing(bad):
    view = SensingMapView("tradeoff")
    view.estimate(report(0))
    before = view.snapshot()
    with pytest.raises(IsscInputError):
        view.estimate(bad)
    after = view.snapshot()
    assert after.version == before.version and after.reports == 1
    np.testing.assert_array_equal(after.estimates, before.estimates)


@pytest.mark.parametrize(
    "method, bad",
    [
        ("track", {"t_s": 0.0, "x": 1.0, "y": 2.0, "vx": 0.0}),  # no vy
        ("track", {"t_s": 0.0, "x": 1.0, "y": 2.0, "vx": 0.0, "vy": float("inf")}),
        ("config", pmt.make_dict()),
        ("config", pmt.intern("beams")),
    ],
)
def test_malformed_tracks_and_configurations_change_nothing(method, bad):
    view = SensingMapView("tracking")
    with pytest.raises(IsscInputError):
        getattr(view, method)(bad)
    assert view.snapshot().version == 0


def test_history_is_bounded_and_keeps_the_latest():
    """3 x history reports: the map keeps the last ``history`` estimates, truths and track points, in
    order; rejected estimates and reports without a position are kept apart."""
    view = SensingMapView("tracking", history=5, horizon_s=0.5)
    for b in range(15):
        view.estimate(report(b, x=float(b), y=2.0 * b, true_x=b + 0.5, true_y=2.0 * b + 0.5, error_m=0.7))
        view.track({"t_s": b * 0.005, "x": float(b), "y": 2.0 * b, "vx": 10.0, "vy": -4.0, "lost": b == 14})
    view.estimate(report(15, x=0.0, y=0.0, ok=False))
    view.estimate({"block": 16, "ok": False, "reason": "GLRT below the threshold", "hcrb_trace": 20.0})
    snap = view.snapshot()
    np.testing.assert_array_equal(snap.estimates[:, 0], [10, 11, 12, 13, 14])
    np.testing.assert_array_equal(snap.truths[:, 0], [10.5, 11.5, 12.5, 13.5, 14.5])
    np.testing.assert_array_equal(snap.track[:, 1], [20, 22, 24, 26, 28])
    np.testing.assert_array_equal(snap.rejected, [[0.0, 0.0]])
    np.testing.assert_array_equal(snap.latest, [14.0, 28.0])
    assert snap.latest_error_m == 0.7 and snap.reports == 17 and snap.non_estimates == 1
    # the prediction: a straight line from the track's position, horizon_s at the track's velocity
    np.testing.assert_allclose(snap.predicted, [[14.0, 28.0], [14.0 + 5.0, 28.0 - 2.0]])
    assert snap.track_lost


def test_scene_comes_from_the_scenario():
    geometry = Geometry.from_scenario("tracking")
    scene = SensingMapView("tracking").scene
    np.testing.assert_array_equal(scene.tx, geometry.tx)
    np.testing.assert_array_equal(scene.sensing_rx, geometry.sensing_rx)
    np.testing.assert_array_equal(scene.comm_rx, geometry.comm_rx)
    np.testing.assert_array_equal(scene.path, [[100, 50], [112, 74], [130, 70]])
    x0, x1, y0, y1 = scene.extent()
    assert x0 < 0 < 130 < x1 and y0 < -25 < 74 < y1


# -- the image pairs --------------------------------------------------------------------------------------


def flat_image(level, side=48):
    return np.full((side, side, 3), level, np.uint8)


def test_images_pair_by_sequence_in_either_order_and_are_scored():
    """A pair completes whichever side comes first; PSNR of a uniform error of 10 levels is
    20 log10(255 / 10) = 28.13 dB; an identical pair has PSNR inf and MS-SSIM 1."""
    view = ImagePairs(history=4)
    assert view.sent(image_to_pdu(0, flat_image(100), name="kodim01")) is None
    pair = view.received(image_to_pdu(0, flat_image(110), model="hp3", code_rate=0.867, sinr_db=2.5))
    assert (pair.seq, pair.name, pair.model, pair.code_rate, pair.sinr_db) == (0, "kodim01", "hp3", 0.867, 2.5)
    assert pair.psnr == pytest.approx(20 * math.log10(255 / 10), rel=1e-12)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    assert view.received(image_to_pdu(1, image, model="hp1")) is None  # received first
    pair = view.sent(image_to_pdu(1, image))
    assert pair.psnr == math.inf and pair.ms_ssim == pytest.approx(1.0, abs=1e-12)
    assert pair.code_rate is None and pair.name is None
    version, latest = view.snapshot()
    assert version == 2 and latest.seq == 1
    # different shapes: shown, not scored; tiny images: PSNR but no MS-SSIM
    view.sent(image_to_pdu(2, flat_image(0, 48)))
    assert view.received(image_to_pdu(2, flat_image(0, 40))).psnr is None
    view.sent(image_to_pdu(3, flat_image(0, 16)))
    tiny = view.received(image_to_pdu(3, flat_image(0, 16)))
    assert tiny.psnr == math.inf and tiny.ms_ssim is None


def test_waiting_images_and_pairs_are_bounded():
    """Frames that never arrive: at most ``history`` sent images wait, the oldest dropped; a late
    partner of a dropped image waits in turn. At most ``history`` pairs are kept."""
    view = ImagePairs(history=3)
    for seq in range(10):
        view.sent(image_to_pdu(seq, flat_image(seq)))
    assert view.waiting() == (3, 0) and view.dropped == 7
    assert view.received(image_to_pdu(0, flat_image(0))) is None  # its sent image was dropped
    assert view.waiting() == (3, 1)
    for seq in (7, 8, 9):
        assert view.received(image_to_pdu(seq, flat_image(seq))).seq == seq
    assert view.waiting() == (0, 1)
    for seq in range(20, 26):
        view.sent(image_to_pdu(seq, flat_image(0)))
        view.received(image_to_pdu(seq, flat_image(0)))
    assert [p.seq for p in view.pairs] == [23, 24, 25]


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("image"),
        make_pdu({"seq": 0, "height": 48, "width": 48}, b"\x00" * 10),  # wrong payload size
        make_pdu({"height": 48, "width": 48}, b"\x00" * 48 * 48 * 3),  # no seq
        image_to_pdu(0, flat_image(0), code_rate="fast"),
    ],
)
def test_malformed_images_change_nothing(bad):
    view = ImagePairs()
    view.sent(image_to_pdu(0, flat_image(0)))
    with pytest.raises(IsscInputError):
        view.received(bad)
    assert view.snapshot() == (0, None) and view.waiting() == (1, 0)


# -- the status table -------------------------------------------------------------------------------------


def ledger_rows():
    """Rows as the real ledger builds them: frame 0 clean, frame 1 with payload bit errors, frame 2 lost."""
    ledger = FrameLedger()
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    config = {"model": "hp3", "code_rate": 0.867, "sinr_db": 2.87, "hcrb_trace": 40.0, "predicted_psnr_db": 23.1}
    for seq in range(3):
        ledger.sent_image(seq, image)
        ledger.sent_bitstream(seq, b"\x0f" * 64, config)
    ledger.received_bitstream(0, b"\x0f" * 64, {"header_ok": True, "sinr_db": 2.5})
    ledger.received_image(0, image)
    ledger.received_bitstream(1, b"\x0e" + b"\x0f" * 63, {"header_ok": True, "sinr_db": 1.0})
    ledger.received_image(1, np.clip(image.astype(int) + 5, 0, 255).astype(np.uint8))
    ledger.flush()
    ledger.close()
    return [row for row in ledger.rows]


def test_status_rows_from_the_ledger_round_trip_through_pmt():
    """Each ledger row, published as the monitor does (``dict_to_meta(jsonable(row))``, which leaves out
    None values), parses back to the same values; the status is ok / bit errors / lost."""
    rows = ledger_rows()
    table = FrameTable(rows=5)
    parsed = [table.add(dict_to_meta(jsonable(row))) for row in rows]
    for row, back in zip(rows, parsed):
        for key in ROW_KEYS:
            expected = jsonable(row[key])
            assert back[key] == (pytest.approx(expected) if isinstance(expected, float) else expected), key
    assert [p["status"] for p in parsed] == ["ok", "errors", "lost"]
    version, shown = table.snapshot()
    assert version == 3 and [r["seq"] for r in shown] == [2, 1, 0]
    cells = {r["seq"]: dict(zip([key for key, _, _ in COLUMNS], row_cells(r))) for r in shown}
    assert cells[0]["status"] == "ok" and cells[0]["psnr"] == "—"  # identical images: PSNR inf -> JSON null
    assert cells[0]["rate"] == "0.867" and cells[0]["predicted_sinr_db"] == "2.87" and cells[0]["sinr_db"] == "2.50"
    assert cells[1]["status"] == f"bit errors (BER {1 / 512:.1e})"
    assert cells[1]["psnr"] == f"{rows[1]['psnr']:.2f}" and cells[1]["hcrb_rmse_m"] == f"{math.sqrt(40):.2f}"
    assert cells[2]["status"] == "lost" and cells[2]["ms_ssim"] == "—"
    assert {key for key, _, _ in COLUMNS} <= set(ROW_KEYS) | {"status"}


def test_status_table_is_bounded_to_the_newest_frames():
    """Out-of-order arrival: the table keeps the ``rows`` highest sequence numbers; a repeated one
    replaces its row."""
    table = FrameTable(rows=3)
    for seq in (5, 1, 7, 3, 6, 2):
        table.add({"seq": seq, "received": True, "model": "hp1"})
    table.add({"seq": 6, "received": False})
    _, shown = table.snapshot()
    assert [(r["seq"], r["status"]) for r in shown] == [(7, "ok"), (6, "lost"), (5, "ok")]


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("row"),
        {"model": "hp1"},
        {"seq": True},
        {"seq": 1.0},
        {"seq": 1, "psnr": "high"},
        {"seq": 1, "header_ok": 1},
        {"seq": 1, "model": 3},
    ],
)
def test_malformed_rows_change_nothing(bad):
    table = FrameTable()
    with pytest.raises(IsscInputError):
        table.add(bad)
    assert table.snapshot() == (0, [])
    with pytest.raises(IsscInputError):
        parse_row(bad)


@pytest.mark.parametrize("cls, bad", [(FrameTable, 0), (ImagePairs, -1), (ImagePairs, 2.5), (FrameTable, True)])
def test_history_sizes_are_checked(cls, bad):
    with pytest.raises(IsscInputError):
        cls(bad)


# -- the blocks and their widgets (offscreen Qt) ----------------------------------------------------------


class pusher(gr.basic_block):
    """Publishes a list of (port, message) when the flowgraph starts."""

    def __init__(self, messages):
        gr.basic_block.__init__(self, name="pusher", in_sig=None, out_sig=None)
        self.messages = messages
        for port in dict.fromkeys(port for port, _ in messages):
            self.message_port_register_out(pmt.intern(port))

    def start(self):
        for port, msg in self.messages:
            self.message_port_pub(pmt.intern(port), msg)
        return True


def test_gui_blocks_in_a_flowgraph_draw_what_their_models_hold(qt_app, wait_for, synthetic_profile_path):
    """
    pusher --sent, received--> image_sink;  --frame--> link_status;  --estimate, track, config--> sensing_map

    Every message is handled (the malformed ones logged and dropped, the flowgraph running on), and after
    a poll each widget shows its model: the pair's captions and both pixmaps, one table row per frame with
    the model's cells, and the map's curves at the snapshot's points.
    """
    from gnuradio.issc.optim import Optimizer

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    decision = Optimizer("tracking", str(synthetic_profile_path), solver="zf-wf").decide(power_dbm=30.0)
    config = LinkConfig.from_decision(decision, 0)
    config.predicted.update(design_x=101.0, design_y=52.0)
    rows = ledger_rows()
    messages = [
        ("sent", image_to_pdu(0, image, name="kodim")),
        ("received", pmt.intern("garbage")),
        ("received", image_to_pdu(0, image // 2, model="hp2", code_rate=0.5, sinr_db=1.25)),
        *[("frame", dict_to_meta(jsonable(row))) for row in rows],
        ("frame", dict_to_meta({"seq": "x"})),
        ("config", config.to_pmt()),
        ("estimate", dict_to_meta(report(0, 100.5, 50.5, true_x=100.0, true_y=50.0, error_m=0.7))),
        ("estimate", dict_to_meta({"block": 1})),
        ("track", dict_to_meta({"t_s": 0.0, "x": 100.2, "y": 50.1, "vx": 12.0, "vy": 24.0})),
    ]
    tb = gr.top_block()
    source = pusher(messages)
    images, status, scene = issc.image_sink("Images", 4, 0.05), issc.link_status("", 5), issc.sensing_map("tracking")
    for port in ("sent", "received"):
        tb.msg_connect(source, port, images, port)
    tb.msg_connect(source, "frame", status, "frame")
    for port in ("estimate", "track", "config"):
        tb.msg_connect(source, port, scene, port)
    tb.start()
    try:
        handled = lambda block: sum(block.messages_handled.values())  # noqa: E731
        assert wait_for(lambda: handled(images) == 3 and handled(status) == 4 and handled(scene) == 4, 60)
    finally:
        tb.stop()
        tb.wait()

    widget = images.qwidget()
    widget.resize(640, 360)
    assert widget.refresh() and not widget.refresh()  # drawn once per model version
    _, pair = images.view.snapshot()
    assert "hp2" in widget.captions[1].text() and "0.500" in widget.captions[1].text()
    assert "1.2 dB" in widget.captions[1].text() and "kodim" in widget.captions[0].text()
    assert f"PSNR {pair.psnr:.2f} dB" in widget.metrics.text()
    assert all(label.pixmap() is not None and not label.pixmap().isNull() for label in widget.images)

    table = status.qwidget()
    assert table.refresh()
    _, shown = status.view.snapshot()
    assert table.table.rowCount() == 3
    for r, row in enumerate(shown):
        assert [table.table.item(r, c).text() for c in range(len(COLUMNS))] == row_cells(row)

    plot = scene.qwidget()
    assert plot.refresh()
    snap = scene.view.snapshot()
    assert snap.ellipse_source == "design" and snap.reports == 1
    for key, points in (("ellipse", snap.ellipse), ("predicted", snap.predicted), ("estimates", snap.estimates)):
        x, y = plot.items[plot.closeup][key].getData()
        np.testing.assert_allclose(np.stack([x, y], axis=1), points)
    assert "√tr HCRB" in plot.title.text


def test_gui_blocks_need_no_qt_to_import_and_fail_clearly_without_an_application():
    """``import issc``, the CLI and the GUI block modules load no Qt; building a GUI block without a
    QApplication raises a ValueError that says so (a QWidget made without one would abort the process)."""
    code = (
        "import sys, gnuradio; gnuradio.__path__.insert(0, sys.argv[1])\n"
        "from gnuradio import issc\n"
        "import gnuradio.issc.cli, gnuradio.issc.blocks.image_sink, gnuradio.issc.blocks.sensing_map\n"
        "import gnuradio.issc.blocks.link_status\n"
        "assert not [m for m in sys.modules if m.startswith(('PyQt5', 'pyqtgraph'))], 'Qt imported'\n"
        "try:\n"
        "    issc.link_status()\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code, str(repo / "python")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "needs a QApplication" in result.stdout
