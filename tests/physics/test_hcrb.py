# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HCRB of the target position (docs/model.md §5) against independent numbers.

The closed-form FIM (six zeta matrices, linear in Sigma) is compared with a FIM built from central
finite differences of the echo response G_k(mu) = exp(-j w_k tau(mu)) H_0(mu), which this file
computes from the positions alone, without the package's derivative code.
"""

import numpy as np
import pytest

from gnuradio.issc import FisherModel, Geometry, load_scenario
from gnuradio.issc.physics.geometry import bistatic_range_gradient, bistatic_range_m
from gnuradio.issc.physics.hcrb import SINGULAR_RCOND, position_bound_from_fim
from gnuradio.issc.units import SPEED_OF_LIGHT

rng = np.random.default_rng(20261123)


def random_covariance(n, power=1.0, rank=None, seed=None):
    gen = np.random.default_rng(seed) if seed is not None else rng
    rank = rank or n
    a = gen.normal(size=(n, rank)) + 1j * gen.normal(size=(n, rank))
    sigma = a @ a.conj().T
    return power * sigma / np.trace(sigma).real


def echo_response(geometry, mu, beta0, omegas):
    """G_k(mu) for every bin k, straight from the model's definitions (shape K x N_R x N_T)."""
    target, delta = np.asarray(mu[:2]), mu[2]
    rel_t, rel_r = target - geometry.tx, target - geometry.sensing_rx
    theta, phi = np.arctan2(rel_t[1], rel_t[0]), np.arctan2(rel_r[1], rel_r[0])
    a_t = np.exp(2j * np.pi * geometry.spacing * np.arange(geometry.n_tx) * np.sin(theta))
    a_r = np.exp(2j * np.pi * geometry.spacing * np.arange(geometry.n_rx) * np.sin(phi))
    tau = (np.hypot(*rel_t) + np.hypot(*rel_r) + delta) / SPEED_OF_LIGHT
    return np.exp(-1j * omegas * tau)[:, None, None] * (beta0 * np.outer(a_r, a_t.conj()))[None]


def finite_difference_fim(fisher, sigma, step=1e-4):
    g = fisher.geometry
    omegas = 2 * np.pi * np.fft.fftfreq(fisher.n_samples, 1.0 / fisher.bandwidth_hz)
    mu0 = np.array([g.target[0], g.target[1], 0.0])
    derivs = []
    for a in range(3):
        e = np.zeros(3)
        e[a] = step
        derivs.append(
            (echo_response(g, mu0 + e, g.beta_0, omegas) - echo_response(g, mu0 - e, g.beta_0, omegas)) / (2 * step)
        )
    fim = np.empty((3, 3))
    for a in range(3):
        for b in range(3):
            zeta = np.einsum("kri,krj->ij", derivs[a].conj(), derivs[b])
            fim[a, b] = 2.0 / fisher.sensing_noise_w * np.trace(zeta @ sigma).real
    return fim


GEOMETRIES = {
    "paper": {},
    "target-behind-tx": {"geometry": {"target": [-80, 35]}},
    "below-axis-odd-block": {
        "geometry": {"target": [60, -90], "comm_rx": [-10, 40]},
        "signal": {"sensing_block": 255, "bandwidth_hz": 20e6},
    },
    "small-arrays-wide-spacing": {
        "arrays": {"n_tx": 2, "n_rx": 3, "spacing_wavelengths": 0.7},
        "geometry": {"sensing_rx": [30, -20], "target": [45, 10]},
    },
    "big-tx-array": {"arrays": {"n_tx": 8, "n_rx": 2}, "channel": {"path_loss_exponent": 2.2}},
}


@pytest.mark.parametrize("name", GEOMETRIES)
def test_closed_form_fim_equals_finite_differences(name):
    scn = load_scenario("paper").replace(**GEOMETRIES[name])
    fisher = FisherModel.from_scenario(scn)
    for seed in range(3):
        sigma = random_covariance(scn.arrays.n_tx, power=1.0, rank=1 + seed % scn.arrays.n_tx, seed=seed)
        closed = fisher.data_fim(sigma)
        numeric = finite_difference_fim(fisher, sigma)
        scale = np.abs(numeric).max()
        np.testing.assert_allclose(closed, numeric, rtol=1e-6, atol=1e-6 * scale)


def test_fim_is_symmetric_psd_and_linear_in_sigma():
    fisher = FisherModel.from_scenario("paper")
    s1, s2 = random_covariance(4, 1.0), random_covariance(4, 0.3)
    j1, j2 = fisher.data_fim(s1), fisher.data_fim(s2)
    np.testing.assert_allclose(j1, j1.T, rtol=1e-12, atol=1e-12 * np.abs(j1).max())
    assert np.linalg.eigvalsh(j1).min() > -1e-12 * np.abs(j1).max()
    np.testing.assert_allclose(fisher.data_fim(2.0 * s1 + 0.5 * s2), 2.0 * j1 + 0.5 * j2, rtol=1e-10)


def test_hcrb_is_the_position_block_of_the_inverse_fim_and_matches_paper_eq13():
    fisher = FisherModel.from_scenario("paper")
    sigma = random_covariance(4, 1.0)
    j = fisher.fim(sigma)
    hcrb = fisher.hcrb(sigma)
    np.testing.assert_allclose(hcrb, np.linalg.inv(j)[:2, :2], rtol=1e-9)
    # paper eq. 13: CRB plus the penalty of the sync error
    j1, j2, j3 = j[:2, :2], j[:2, 2:], j[2:, 2:]
    j1_inv = np.linalg.inv(j1)
    eq13 = j1_inv + j1_inv @ j2 @ np.linalg.inv(j3 - j2.T @ j1_inv @ j2) @ j2.T @ j1_inv
    np.testing.assert_allclose(hcrb, eq13, rtol=1e-9)


@pytest.mark.parametrize("name", GEOMETRIES)
def test_hcrb_dominates_crb_and_both_fall_with_power(name):
    scn = load_scenario("paper").replace(**GEOMETRIES[name])
    fisher = FisherModel.from_scenario(scn)
    sigma = random_covariance(scn.arrays.n_tx, 1.0)
    previous = (np.inf, np.inf)
    for power in (0.01, 0.1, 1.0, 10.0, 100.0):
        hcrb, crb = fisher.hcrb(power * sigma), fisher.crb(power * sigma)
        assert np.linalg.eigvalsh(hcrb - crb).min() >= -1e-9 * np.trace(crb)
        assert np.trace(hcrb) < previous[0] and np.trace(crb) < previous[1]
        previous = (np.trace(hcrb), np.trace(crb))
    # the CRB has no prior: it scales exactly as 1/P
    np.testing.assert_allclose(fisher.crb_trace(10 * sigma), fisher.crb_trace(sigma) / 10, rtol=1e-9)
    # more power in any direction never hurts
    extra = random_covariance(scn.arrays.n_tx, 0.5, rank=1)
    assert fisher.hcrb_trace(sigma + extra) <= fisher.hcrb_trace(sigma)


def test_hcrb_tends_to_crb_as_sync_error_vanishes():
    sigma = random_covariance(4, 1.0)
    crb = FisherModel.from_scenario("paper").crb_trace(sigma)
    gaps = []
    for sigma_ns in (1000.0, 100.0, 10.0, 1.0, 0.1, 0.01):
        hcrb = FisherModel.from_scenario("paper", sync_sigma_ns=sigma_ns).hcrb_trace(sigma)
        gaps.append(hcrb / crb - 1.0)
    assert all(g >= -1e-12 for g in gaps)
    assert all(a >= b for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] < 1e-5
    perfect = FisherModel.from_scenario("paper", sync_sigma_ns=0.0)
    np.testing.assert_allclose(perfect.hcrb(sigma), perfect.crb(sigma), rtol=1e-12)


def test_zero_power_is_unidentifiable_not_nan():
    fisher = FisherModel.from_scenario("paper")
    zero = np.zeros((4, 4), complex)
    assert np.isinf(fisher.hcrb_trace(zero)) and np.isinf(fisher.crb_trace(zero))


def test_fim_entries_are_order_one_in_metres():
    """The point of measuring the sync error in metres: no entry spans 1e11 vs 1e-7 as in SI seconds."""
    fisher = FisherModel.from_scenario("paper")
    j = fisher.fim(np.eye(4) / 4.0)
    magnitudes = np.abs(j[np.abs(j) > 0])
    assert magnitudes.max() / magnitudes.min() < 1e8 and magnitudes.max() < 1e6


def test_geometry_basics():
    g = Geometry.from_scenario("paper")
    assert g.theta == pytest.approx(np.arctan2(50, 100))
    assert g.phi == pytest.approx(0.0)
    assert Geometry.from_scenario(
        load_scenario("paper").replace(geometry={"target": [-100, 50]})
    ).theta == pytest.approx(np.pi - np.arctan2(50, 100))  # atan2, not arctan: the paper's indicator term
    assert np.linalg.norm(g.h_c) ** 2 == pytest.approx(4 * g.d_c**-3)
    assert np.linalg.matrix_rank(g.echo_matrix) == 1
    assert g.delay(0.0) == pytest.approx((np.hypot(100, 50) + 100) / SPEED_OF_LIGHT)
    assert g.beta_0 == pytest.approx(0.6 * (np.hypot(100, 50) * 100) ** -1.5)


# -- the one FIM -> position bound function ------------------------------------------------------------
def fim_with_schur(schur, coupling, j_dd):
    """A 3x3 FIM of (o_x, o_y, delta) whose position information after eliminating delta (the Schur
    complement) is ``schur``: J_pp = schur + c c^T / J_dd, J_pd = c."""
    fim = np.empty((3, 3))
    fim[:2, :2] = schur + np.outer(coupling, coupling) / j_dd
    fim[:2, 2] = fim[2, :2] = coupling
    fim[2, 2] = j_dd
    return fim


def test_position_bound_is_the_position_block_of_the_inverse():
    """Against numpy's inverse of the whole 3x3 FIM; delta known: the inverse of J_pp alone."""
    for seed in range(20):
        a = np.random.default_rng(seed).normal(size=(3, 5))
        fim = (a @ a.T) * 10.0 ** (seed % 7 - 3)
        np.testing.assert_allclose(position_bound_from_fim(fim), np.linalg.inv(fim)[:2, :2], rtol=1e-9)
        np.testing.assert_allclose(
            position_bound_from_fim(fim, delta_known=True), np.linalg.inv(fim[:2, :2]), rtol=1e-9
        )
        perfect_sync = fim.copy()
        perfect_sync[2, 2] = np.inf  # FisherModel.fim with sigma_dt = 0
        np.testing.assert_allclose(position_bound_from_fim(perfect_sync), np.linalg.inv(fim[:2, :2]), rtol=1e-9)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_identifiability_threshold_is_the_eigenvalue_ratio_on_both_sides(scale):
    """A position information with eigenvalues (scale, ratio * scale), rotated and coupled to delta: just
    above SINGULAR_RCOND the bound is finite with trace 1/lambda_1 + 1/lambda_2 (the closed form from the
    eigenvalues, to the 1e-4 that rounding of so ill-conditioned an input allows); just below it is inf."""
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    coupling = scale * np.array([0.3, -0.2])
    for factor, identifiable in ((1.05, True), (0.95, False)):
        small = factor * SINGULAR_RCOND * scale
        schur = rotation @ np.diag([scale, small]) @ rotation.T
        bound = position_bound_from_fim(fim_with_schur(schur, coupling, 2.0 * scale))
        if identifiable:
            assert np.trace(bound) == pytest.approx(1 / scale + 1 / small, rel=1e-3)
        else:
            assert np.all(np.isinf(bound))


def test_degenerate_fims_are_not_identifiable():
    good = fim_with_schur(np.eye(2), np.array([0.1, 0.2]), 1.0)
    cases = {
        "zero": np.zeros((3, 3)),
        "indefinite": fim_with_schur(np.diag([1.0, -1e-3]), np.zeros(2), 1.0),
        "no delta information": np.diag([1.0, 1.0, 0.0]),
        "nan": np.where(np.eye(3) == 1, np.nan, good),
    }
    for name, fim in cases.items():
        assert np.all(np.isinf(position_bound_from_fim(fim))), name


# -- the bistatic range -----------------------------------------------------------------------------------
def test_bistatic_range_and_its_gradient_against_finite_differences():
    """l = |p - tx| + |p - rx| + delta from its definition, and its gradient in p by central differences
    (step 1e-5 m), at random targets around several transmitter/receiver layouts."""
    gen = np.random.default_rng(8)
    for _ in range(25):
        tx, rx = gen.uniform(-50, 50, 2), gen.uniform(-50, 50, 2)
        target = gen.uniform(-200, 200, 2)
        delta = gen.normal() * 30.0
        expected = np.hypot(*(target - tx)) + np.hypot(*(target - rx))
        assert bistatic_range_m(tx, target, rx) == pytest.approx(expected, rel=1e-14)
        assert bistatic_range_m(tx, target, rx, delta) == pytest.approx(expected + delta, rel=1e-14)
        step = 1e-5
        numeric = [
            (bistatic_range_m(tx, target + e, rx) - bistatic_range_m(tx, target - e, rx)) / (2 * step)
            for e in step * np.eye(2)
        ]
        np.testing.assert_allclose(bistatic_range_gradient(tx, target, rx), numeric, atol=1e-8)
    g = Geometry.from_scenario("paper")
    assert g.path_length == bistatic_range_m(g.tx, g.target, g.sensing_rx) == g.d_bo + g.d_or
    assert g.delay(2e-9) == pytest.approx(g.path_length / SPEED_OF_LIGHT + 2e-9, rel=1e-15)
    np.testing.assert_array_equal(g.path_length_gradient, bistatic_range_gradient(g.tx, g.target, g.sensing_rx))


# -- any finite scale: the bound of 1e300 W, of 1e-300 W, and a sync spread of 1e300 s ----------------------
def _old_position_bound(fim, delta_known=False):
    """The formula before the exact power-of-two scaling (reference for bit-identity)."""
    j = np.asarray(fim, float)
    if delta_known or j[2, 2] == np.inf:
        schur = j[:2, :2]
    else:
        if not j[2, 2] > 0:
            return np.full((2, 2), np.inf)
        schur = j[:2, :2] - np.outer(j[:2, 2], j[2, :2]) / j[2, 2]
    a, c = float(schur[0, 0]), float(schur[1, 1])
    b = 0.5 * (float(schur[0, 1]) + float(schur[1, 0]))
    largest = 0.5 * (a + c) + np.hypot(0.5 * (a - c), b)
    det = a * c - b * b
    if not (largest > 0 and det / largest > SINGULAR_RCOND * largest):
        return np.full((2, 2), np.inf)
    return np.array([[c, -b], [-b, a]]) / det


def test_scaled_bound_is_bit_identical_to_the_plain_formula_at_ordinary_scales():
    """The scaling is by powers of two, so for FIMs that do not overflow the numbers are the same bits."""
    gen = np.random.default_rng(5)
    for _ in range(300):
        a = gen.normal(size=(3, 3)) * 10 ** gen.uniform(-6, 6, size=(3, 1))
        fim = a @ a.T
        for known in (False, True):
            np.testing.assert_array_equal(position_bound_from_fim(fim, known), _old_position_bound(fim, known))


@pytest.mark.parametrize("power", [4e300, 1e200, 3e-250, 1e-300])
def test_hcrb_at_extreme_powers_follows_the_exact_scaling_law(power):
    """J(c Sigma; sigma_dt) = c (J_D(Sigma) + prior/c), and prior/c is the prior of sigma_dt sqrt(c): so
    HCRB(c Sigma; sigma_dt) = HCRB(Sigma; sigma_dt sqrt(c)) / c, whose right side is an ordinary-scale
    computation (checked against a plain 3x3 inverse). The direct formula overflowed to 'unidentifiable'."""
    scn = load_scenario("paper")
    sigma = random_covariance(4, seed=11)
    c = power
    fisher = FisherModel.from_scenario(scn)
    sigma_s = fisher.sync_sigma_s
    scaled_sync = FisherModel.from_scenario(scn, sync_sigma_ns=sigma_s * np.sqrt(c) * 1e9)
    # the right side directly: data FIM plus the scaled prior, inverted with numpy
    j = scaled_sync.data_fim(sigma)
    j[2, 2] += scaled_sync.prior_information
    reference = np.linalg.inv(j)[:2, :2] / c
    bound = fisher.hcrb(c * sigma)
    assert np.all(np.isfinite(bound))
    np.testing.assert_allclose(bound, reference, rtol=1e-7)
    np.testing.assert_allclose(fisher.crb(c * sigma), fisher.crb(sigma) / c, rtol=1e-12)


def test_huge_sync_spread_means_no_prior_not_an_overflow():
    """sigma_dt = 1e300 s: (c sigma)^2 overflows a float (OverflowError); the prior is 0 instead."""
    fisher = FisherModel.from_scenario("paper", sync_sigma_ns=1e308)
    assert fisher.prior_information == 0.0
    sigma = random_covariance(4, seed=3)
    j = fisher.data_fim(sigma)
    np.testing.assert_allclose(fisher.hcrb(sigma), np.linalg.inv(j)[:2, :2], rtol=1e-7)


def test_hcrb_cli_for_huge_and_tiny_covariances(run_cli, tmp_path):
    """'1e300 I' is a valid covariance: its bound is a number (trace = the 1 W trace scaled as above),
    identifiable; a covariance whose total power overflows is refused naming the file."""
    import json

    scn = load_scenario("paper")
    fisher = FisherModel.from_scenario(scn)
    for scale in (1e300, 1e-300):
        path = tmp_path / "s.npy"
        np.save(path, scale * np.eye(4))
        code, out, err = run_cli("hcrb", "-s", "paper", "--cov", path)
        assert code == 0, err
        data = json.loads(out)
        expected = fisher.hcrb(scale * np.eye(4))
        assert data["identifiable"] is True and data["trace"] == pytest.approx(np.trace(expected), rel=1e-12)
        assert data["power_w"] == pytest.approx(4 * scale, rel=1e-12)
    np.save(tmp_path / "max.npy", 1e308 * np.eye(4))
    code, out, err = run_cli("hcrb", "-s", "paper", "--cov", tmp_path / "max.npy")
    assert code == 2 and out == "" and "max.npy" in err and "floating-point range" in err


def test_hcrb_cli_checks_the_npy_header_before_loading(run_cli, tmp_path):
    """A header claiming 1e16 elements in a 128-byte file is refused from the header (no allocation)."""
    import struct

    header = "{'descr': '<c16', 'fortran_order': False, 'shape': (100000000, 100000000), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    path = tmp_path / "huge.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    code, out, err = run_cli("hcrb", "-s", "paper", "--cov", path)
    assert code == 2 and out == "" and "huge.npy" in err and "the file holds 0 bytes" in err
    np.save(
        tmp_path / "fortran.npy",
        np.asfortranarray(np.diag([1.0, 2.0, 3.0, 4.0]) + 0.5j * np.eye(4, k=1) - 0.5j * np.eye(4, k=-1)),
    )
    code, out, err = run_cli("hcrb", "-s", "paper", "--cov", tmp_path / "fortran.npy")
    sigma = np.load(tmp_path / "fortran.npy")
    assert code == 0, err
    import json

    assert json.loads(out)["trace"] == pytest.approx(FisherModel.from_scenario("paper").hcrb_trace(sigma))
