# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burst-aware expected distortion (optim/rate.py, codec/profile.py BurstCurve) and the calibrated
block error rate (link/calibration.py CalibratedBler)."""

import math

import numpy as np
import pytest

from gnuradio.issc.codec.profile import BURST_FORMAT, BurstCurve, CodecProfile, load_profile
from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.calibration import CalibratedBer, CalibratedBler, load_calibration
from gnuradio.issc.optim.rate import BurstAwareBer, choose_code_rates, choose_model

FRACTIONS = tuple(j / 8 for j in range(8))


def _curve(clean=0.08, top=0.95, power=0.7):
    values = tuple(clean + (top - clean) * (1 - f) ** power for f in FRACTIONS)
    return BurstCurve(
        FRACTIONS,
        {"ms_ssim": values, "mse": tuple(v / 10 for v in values)},
        {
            "ms_ssim": clean,
            "mse": clean / 10,
        },
    )


def burst_profile(synthetic_profile) -> CodecProfile:
    """The synthetic profile with plausible burst curves (bigger models: cleaner, same cliff)."""
    data = synthetic_profile.to_dict()
    data["bursts"] = {"format": BURST_FORMAT, "block_bits": 384, "fractions": list(FRACTIONS), "made_by": "test"}
    for i, model in enumerate(data["models"]):
        model["burst"] = _curve(clean=0.2 / (1 + i)).to_dict()
    return CodecProfile.from_dict(data, "synthetic-bursts")


class _StubBler:
    """``log10 BLER`` falling 1.2 decades per dB above a threshold that grows with the rate."""

    blocklength = 256

    def __call__(self, sinr, rate, blocklength=None):
        sinr_db = 10 * np.log10(np.maximum(np.asarray(sinr, float), 1e-30))
        return np.minimum(0.0, -1.2 * (sinr_db - 4.0 * np.asarray(rate, float)))


def _stub_ber(sinr, rate, blocklength=None):
    return np.asarray(_StubBler()(sinr, rate)) - 2.0


def test_expected_distortion_equals_the_sum_over_first_failed_blocks():
    """BurstCurve.expected_distortion against the explicit sum over the first failed block i of
    q^i p D(bin of i / n) plus q^n D_clean, for p from 0 to 1 and n from 1 to 300."""
    curve = _curve()
    values = np.asarray(curve.values["ms_ssim"])
    for n in (1, 7, 48, 300):
        for p in (0.0, 1e-12, 1e-3, 0.05, 0.5, 1.0):
            total = (1 - p) ** n * curve.clean["ms_ssim"]
            for i in range(n):
                j = int(np.searchsorted(FRACTIONS, i / n, side="right")) - 1
                total += (1 - p) ** i * p * values[j]
            got = float(curve.expected_distortion("ms_ssim", p, n))
            assert got == pytest.approx(total, rel=1e-9, abs=1e-15), (n, p)
    # arrays broadcast
    got = curve.expected_distortion("ms_ssim", np.array([[0.0], [1.0]]), np.array([3, 30]))
    assert got.shape == (2, 2) and np.allclose(got[0], curve.clean["ms_ssim"]) and np.allclose(got[1], values[0])


def test_burst_expectation_against_simulated_frames():
    """The quadrature expectation over the SINR spread against simulated frames: draw the frame's SINR
    (normal in dB), each codeword fails with the BLER at that SINR, the first failure's bin gives the
    distortion. Mean distortion and frame error rate agree within 4 standard errors."""
    curve = _curve()

    class Model:
        id, r_s_bits, burst = "m", 21200.0, curve

    model = BurstAwareBer(_stub_ber, _StubBler(), sigma_db=0.5)
    rng = np.random.default_rng(7)
    for sinr_db, rate in ((7.5, 1.73), (5.0, 1.1), (8.4, 1.9)):
        expected, frame_error = model.expected(Model, "ms_ssim", 10 ** (sinr_db / 10), np.array([rate]))
        n = int(model.blocks(Model.r_s_bits, rate))
        k = model.info_bits(rate)
        frames = 20000
        s = sinr_db + 0.5 * rng.standard_normal(frames)
        p = 10 ** _StubBler()(10 ** (s / 10), k / 256)
        failed = rng.random((frames, n)) < p[:, None]
        first = np.where(failed.any(axis=1), failed.argmax(axis=1), n)
        bins = np.searchsorted(FRACTIONS, first / n, side="right") - 1
        d = np.where(first < n, np.asarray(curve.values["ms_ssim"])[np.minimum(bins, 7)], curve.clean["ms_ssim"])
        se = d.std() / math.sqrt(frames)
        assert abs(d.mean() - expected[0]) < 4 * se + 1e-4, (sinr_db, d.mean(), expected[0], se)
        lost = (first < n).mean()
        assert 0.02 < lost < 0.98  # the point is on the waterfall: the test can fail
        assert abs(lost - frame_error[0]) < 4 * math.sqrt(lost * (1 - lost) / frames) + 1e-4


def test_bler_interpolation_hits_the_table_points():
    """At the table's own (SINR, K / L) points the calibrated BLER is the measured block_errors / blocks;
    where no error was seen it is at most the 95 % bound 3 / blocks; between points it lies between the
    neighbours (log-linear)."""
    table = load_calibration()
    bler = CalibratedBler(table)
    rates = np.asarray(table["info_bits"]) / table["blocklength"]
    for i, rate in enumerate(rates):
        for j, s in enumerate(table["sinr_db"]):
            errors, blocks = table["block_errors"][i][j], table["blocks"][i][j]
            got = bler(10 ** (s / 10), rate)
            if errors:
                assert got == pytest.approx(math.log10(errors / blocks), abs=1e-12)
            elif blocks:
                assert got <= math.log10(3 / blocks) + 1e-12
            assert got <= 0.0
    i = int(np.searchsorted(table["info_bits"], 448))
    j = table["sinr_db"].index(7.0)
    low, high = bler(10**0.7, rates[i]), bler(10**0.8, rates[i])
    mid = bler(10**0.75, rates[i])
    assert mid == pytest.approx((low + high) / 2) and high < mid < low
    assert table["block_errors"][i][j] > 0  # the point is measured: the check is on real numbers


def test_burst_choice_is_exact_on_a_dense_grid(synthetic_profile):
    """The grid + zoom choice under the burst model is never worse than a brute-force dense grid of
    every model's rates (same objective)."""
    profile = burst_profile(synthetic_profile)
    model = BurstAwareBer(_stub_ber, _StubBler(), sigma_db=0.4)
    for sinr_db in (3.0, 7.5, 12.0):
        sinr = 10 ** (sinr_db / 10)
        choices = choose_code_rates(profile.models, sinr, 12288, 256, 1.99, "ms_ssim", model)
        for m, c in zip(profile.models, choices):
            if not c.feasible:
                continue
            grid = np.linspace(m.r_s_bits / 12288, min(math.log2(1 + sinr), 1.99), 4001)
            brute = np.log10(model.expected(m, "ms_ssim", sinr, grid)[0]).min()
            assert c.log10_distortion <= brute + 1e-12
            assert 0.0 <= c.frame_error <= 1.0


def test_the_burst_model_avoids_the_waterfall_of_the_28_dbm_cliff():
    """The 28 dBm cliff of the Fig. 3 run: at 7.49 dB with 12288 channel uses (ABR 1/16) the BER model
    rates hp6 near R_c = 1.73, on the polar code's waterfall, as good as its best choice (the link picked
    it). Under the burst model (shipped burst curves, calibrated BLER) that choice loses a codeword in a
    sizeable fraction of frames and its expected MS-SSIM is well below the BER model's promise; the burst
    choice keeps the frame error small and expects more."""
    profile = load_profile()
    assert profile.has_bursts
    ber = CalibratedBer.load()
    burst = BurstAwareBer(ber, CalibratedBler(ber.table), 0.35)
    sinr, uses, top = 10**0.74927, 12288, 511 / 256
    best_ber, by_ber = choose_model(profile, sinr, uses, 256, top, "ms_ssim", ber)
    hp6 = next(c for c in by_ber if c.model == "hp6")
    assert 1.70 < hp6.code_rate < 1.76 and hp6.log10_distortion <= best_ber.log10_distortion + 0.01
    promised = 1 - 10**hp6.log10_distortion
    expected, frame_error = burst.expected(profile.model("hp6"), "ms_ssim", sinr, hp6.code_rate)
    assert frame_error > 0.1 and 1 - expected < promised - 0.05
    new, _ = choose_model(profile, sinr, uses, 256, top, "ms_ssim", burst)
    assert new.frame_error < 0.05 and 1 - 10**new.log10_distortion > 1 - expected + 0.05


def test_predicted_quality_does_not_fall_with_the_sinr():
    """Monotonicity sanity: with more SINR the burst model's best expected distortion never rises, and
    the chosen frame error stays small wherever a model fits."""
    profile = load_profile()
    ber = CalibratedBer.load()
    burst = BurstAwareBer(ber, CalibratedBler(ber.table), 0.35)
    previous = math.inf
    for sinr_db in np.arange(-2.0, 20.0, 0.5):
        best, _ = choose_model(profile, 10 ** (sinr_db / 10), 12288, 256, 1.99, "ms_ssim", burst)
        assert best.log10_distortion <= previous + 1e-9, sinr_db
        previous = best.log10_distortion
        if best.feasible and sinr_db >= 4:
            assert best.frame_error < 0.1, sinr_db


def test_the_distortion_model_option(synthetic_profile):
    """Optimizer: burst by default with the calibrated code and a profile with burst curves, ber
    otherwise; an explicit burst without the calibrated code or without burst curves is refused."""
    from gnuradio.issc.optim import Optimizer

    with_bursts = burst_profile(synthetic_profile)
    assert Optimizer("tradeoff", with_bursts, ber_model="calibrated").distortion_model == "burst"
    assert Optimizer("tradeoff", with_bursts).distortion_model == "ber"
    assert Optimizer("tradeoff", synthetic_profile, ber_model="calibrated").distortion_model == "ber"
    assert Optimizer("tradeoff", with_bursts, ber_model="calibrated", distortion_model="ber").distortion_model == "ber"
    with pytest.raises(IsscInputError, match="calibrated"):
        Optimizer("tradeoff", with_bursts, distortion_model="burst")
    with pytest.raises(IsscInputError, match="no burst curves"):
        Optimizer("tradeoff", synthetic_profile, ber_model="calibrated", distortion_model="burst")
    with pytest.raises(IsscInputError, match="unknown distortion model"):
        Optimizer("tradeoff", with_bursts, ber_model="calibrated", distortion_model="cliff")
    with pytest.raises(IsscInputError, match="SINR spread"):
        Optimizer("tradeoff", with_bursts, ber_model="calibrated", sinr_sigma_db=-1.0)
    decision = Optimizer("tradeoff", with_bursts, ber_model="calibrated", metric="ms_ssim").decide(power_dbm=28)
    assert 0.0 <= decision.predictions["predicted_frame_error"] <= 1.0
    assert decision.predictions["predicted_ms_ssim"] == pytest.approx(1 - decision.distortion, rel=1e-9)


def test_cached_block_error_rows_equal_the_bler_model():
    """BurstAwareBer.block_errors (one cached SINR row per K, np.interp) gives the calibrated BLER model's
    own numbers at every quadrature SINR, inside and above the table's SINR range; above the range a table
    rate follows its row's waterfall line from the last measured point, never above the table's edge."""
    ber = CalibratedBer.load()
    bler = CalibratedBler(ber.table)
    model = BurstAwareBer(ber, bler, 0.5)
    rng = np.random.default_rng(3)
    for sinr_db in (-9.0, 2.3, 7.49, 15.8, 17.0, 30.0):
        rates = rng.uniform(0.05, 1.99, 9)
        got = model.block_errors(10 ** (sinr_db / 10), rates)
        nodes = 10 ** ((sinr_db + model.offsets_db) / 10)
        want = 10 ** bler(nodes[:, None], (model.info_bits(rates) / 256)[None, :])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)
    i = list(ber.table["info_bits"]).index(448)
    x, y = bler.anchors[i]
    edge = bler.log10_table[i, -1]
    for s in (17.0, 25.0):
        assert bler(10 ** (s / 10), 448 / 256) == pytest.approx(min(y + bler.slopes[i] * (s - x), edge, 0.0))


@pytest.mark.parametrize("solver", ["sdr", "zf-wf"])
def test_multi_user_data_users_get_the_burst_expectation(solver):
    """Multi-user: with the calibrated code the data users' prediction is the burst-aware expectation at
    their model, code rate and SINR (the chosen rate of sdr, the fixed rate of zf-wf); the semantic users
    keep the BER objective (no burst curves)."""
    from gnuradio.issc.optim.multiuser import MultiUserOptimizer

    optimizer = MultiUserOptimizer("multiuser", solver=solver, ber_model="calibrated")
    assert optimizer.distortion_model == "burst"
    assert MultiUserOptimizer("multiuser", solver=solver).distortion_model == "ber"
    users = optimizer.decide().to_json()["users"]
    data = [u for u in users if u["task"] == "data" and u["served"]]
    assert data and any(u["task"] == "semantic" for u in users)
    for user in data:
        model = optimizer.profile.model(user["model"])
        expected, _ = optimizer.ber.expected(model, "ms_ssim", 10 ** (user["sinr_db"] / 10), user["code_rate"])
        assert user["predicted_ms_ssim"] == pytest.approx(1 - float(expected), rel=1e-6)
