# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The channel-code calibration: the shipped table is well formed, the calibrated BER model reproduces
it at the grid points, the streaming receiver (preamble-based estimates, real frames) sees the BER the
table predicts, and the optimiser can use it."""

import numpy as np
import pytest

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.calibration import CalibratedBer, FrameFormat, calibrate, load_calibration, simulate_point
from gnuradio.issc.link.framing import FrameHeader, FrameReceiver, build_frame
from gnuradio.issc.physics.ber import log10_ber


@pytest.fixture(scope="module")
def table():
    return load_calibration()


def test_shipped_table_is_consistent(table):
    blocks = np.asarray(table["blocks"])
    block_errors = np.asarray(table["block_errors"])
    bit_errors = np.asarray(table["bit_errors"])
    assert table["blocklength"] == 256 and (block_errors <= blocks).all()
    assert (bit_errors >= block_errors).all() and (bit_errors <= blocks * np.asarray(table["info_bits"])[:, None]).all()
    # more SINR never makes a measured BER clearly worse (2 sigma of the block-error count)
    model = CalibratedBer(table)
    for row in model.log10_table:
        assert np.all(np.diff(row) <= 0.3)


def test_calibrated_model_reproduces_measured_points_and_falls_back_above_the_grid(table):
    model = CalibratedBer(table)
    k_index, s_index = table["info_bits"].index(128), table["sinr_db"].index(-2.0)
    measured = table["bit_errors"][k_index][s_index] / (table["blocks"][k_index][s_index] * 128)
    assert model(10 ** (-2.0 / 10), 0.5, 256) == pytest.approx(np.log10(measured), abs=1e-9)
    far = model(10 ** (40 / 10), 0.5, 256)
    assert far <= log10_ber(10 ** (40 / 10), 0.5, 256) + 1e-9
    with pytest.raises(IsscInputError, match="L = 256"):
        model(1.0, 0.5, 128)


def test_streaming_receiver_sees_the_calibrated_ber():
    """
    build_frame (K = 128, 400 payload blocks) --> AWGN at -2 dB --> FrameReceiver (preamble estimates)

    The measured payload BER and the table's BER at the same grid point are two estimates of one
    quantity; errors come in blocks (~50 block errors here, ~100 in the table), so the ratio is
    expected within [0.5, 2] (about 3 sigma).
    """
    table = load_calibration()
    k_index, s_index = table["info_bits"].index(128), table["sinr_db"].index(-2.0)
    expected = table["bit_errors"][k_index][s_index] / (table["blocks"][k_index][s_index] * 128)
    fmt = FrameFormat()
    rng = np.random.default_rng(7)
    payload = rng.integers(0, 256, 400 * 16, dtype=np.uint8).tobytes()  # 400 blocks of 128 bits
    symbols = build_frame(fmt, FrameHeader(1, 0, 128, 0, len(payload), 8, 8), payload)
    noise_var = 10**0.2
    gain = 0.7 * np.exp(0.4j)
    stream = gain * np.concatenate([np.zeros(100), symbols, np.zeros(300)])
    stream += np.sqrt(abs(gain) ** 2 * noise_var / 2) * (
        rng.normal(size=stream.size) + 1j * rng.normal(size=stream.size)
    )
    frames = FrameReceiver(fmt).push(stream)
    assert len(frames) == 1 and frames[0].header_ok
    errors = np.unpackbits(np.frombuffer(frames[0].payload, np.uint8) ^ np.frombuffer(payload, np.uint8)).sum()
    measured = errors / (8 * len(payload))
    assert 0.5 < measured / expected < 2.0
    assert frames[0].sinr_db == pytest.approx(-2.0, abs=0.6)


def test_simulation_is_sane_at_the_extremes():
    fmt = FrameFormat()
    rng = np.random.default_rng(0)
    clean = simulate_point(fmt, 64, 20.0, rng, max_blocks=50)
    hopeless = simulate_point(fmt, 448, -5.0, rng, target_block_errors=10)
    assert clean.bit_errors == 0 and clean.blocks == 50
    assert hopeless.block_errors == hopeless.blocks and 0.3 < hopeless.bit_errors / hopeless.bits < 0.7
    small = calibrate(fmt, (32, 96), (-4.0, 0.0), seed=1, target_block_errors=5, max_blocks=50)
    assert np.asarray(small["blocks"]).shape == (2, 2)


def test_optimizer_with_the_calibrated_ber_model(synthetic_profile):
    from gnuradio.issc.optim import Optimizer

    # stage 1 alone: the sensing-surplus stage moves the beams to the SINR the chosen (model, rate) needs,
    # which depends on the BER model
    normal = Optimizer("tradeoff", synthetic_profile, sensing_surplus=False).decide(power_dbm=24)
    calibrated_opt = Optimizer("tradeoff", synthetic_profile, ber_model="calibrated", sensing_surplus=False)
    calibrated = calibrated_opt.decide(power_dbm=24)
    assert calibrated.sinr_db == pytest.approx(normal.sinr_db, abs=1e-6)  # the stage-1 beams do not depend on it
    assert calibrated.log10_ber == pytest.approx(calibrated_opt.ber(calibrated.sinr, calibrated.code_rate, 256))
    # the real code is worse than the approximation: the calibrated prediction is never more optimistic
    assert calibrated.distortion >= normal.distortion * (1 - 1e-9)


def test_calibration_rows_are_tasks_seeded_by_rate(tmp_path):
    """Each rate is one task seeded by [seed, K]: the table is the same with 1 and 2 workers, a rate's
    row does not depend on the other rates in the grid, and a rerun with the journal runs only the
    missing rate (its row equal to the clean run's)."""
    fmt = FrameFormat()
    grid = dict(sinr_db=(-4.0, 0.0, 4.0), seed=3, target_block_errors=5, max_blocks=50)
    one = calibrate(fmt, (32, 96), workers=1, **grid)
    two = calibrate(fmt, (32, 96), workers=2, **grid)
    assert one == two
    journal = tmp_path / "calibration.points.jsonl"
    alone = calibrate(fmt, (96,), workers=1, journal=journal, **grid)
    assert [row[0] for row in (alone["blocks"], alone["bit_errors"])] == [one["blocks"][1], one["bit_errors"][1]]
    ran = []
    resumed = calibrate(fmt, (32, 96), workers=1, journal=journal, progress=lambda k, row: ran.append(k), **grid)
    assert ran == [32] and resumed == one
    assert len(journal.read_text().splitlines()) == 2
