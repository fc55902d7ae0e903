# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The data users' families in the multi-user optimiser (docs/multiuser.md): the mixed family's per-user
choice against a brute force over models and code rates, never worse than the learned family, and the
zf-wf-bpg / zf-wf-jpeg benchmarks at their fixed code rate with the largest standard operating point that
fits; argument errors and the CLI."""

import json

import numpy as np
import pytest

from gnuradio.issc.codec.profile import FAMILY_PROFILES, load_profile
from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.optim.multiuser import DATA_METRIC, MultiUserOptimizer
from gnuradio.issc.physics.ber import capacity


def brute_force_choice(models, sinr, channel_uses, blocklength, max_rate, ber, points=2001):
    """``(model id, log10 D)`` of the best model and code rate on a dense grid of rates per model, written
    out here: the rates from ``R_s / T`` up to capacity (or the link's top rate)."""
    best = (None, np.inf)
    top = min(float(capacity(sinr)), max_rate)
    for model in models:
        lowest = model.r_s_bits / channel_uses
        if lowest > top:
            continue
        rates = np.linspace(lowest, top, points)
        log_ber = np.asarray(ber(sinr, rates, blocklength), float)
        value = float(np.min(model.log10_distortion(log_ber, DATA_METRIC)))
        if value < best[1]:
            best = (model.id, value)
    return best


@pytest.fixture(scope="module")
def optimizers():
    return {family: MultiUserOptimizer("multiuser", family=family) for family in ("learned", "mixed", "hevc")}


def test_mixed_choice_is_the_best_model_of_either_codec(optimizers):
    """For the data user at SINRs from -6 to 12 dB: the mixed family's choice matches a brute force over every
    model and a dense rate grid (same model, distortion within 1e-3 in log10), and its distortion is the
    smaller of the learned family's and the HEVC family's choices."""
    problem = optimizers["mixed"].problem()
    sources = {f: o.sources(problem) for f, o in optimizers.items()}
    mixed_profile = optimizers["mixed"].profile
    user = problem.users[0]
    assert user.task == "data"
    codecs = set()
    for sinr_db in np.arange(-6.0, 12.5, 1.5):
        sinr = 10 ** (sinr_db / 10)
        pick = sources["mixed"].choose(0, sinr)
        model, value = brute_force_choice(
            mixed_profile.models,
            sinr,
            user.channel_uses,
            problem.blocklength,
            problem.max_code_rate,
            optimizers["mixed"].ber,
        )
        if model is None:  # nothing fits: not served, as in the learned family
            assert not pick.served
            continue
        assert pick.served and pick.choice.model == model, sinr_db
        assert pick.choice.log10_distortion <= value + 1e-9
        assert pick.choice.log10_distortion >= value - 1e-3
        either = min(sources["learned"].distortion(0, sinr), sources["hevc"].distortion(0, sinr))
        assert pick.distortion == pytest.approx(either, rel=1e-12)
        codecs.add(mixed_profile.model(model).codec)
    assert "hevc" in codecs


@pytest.mark.parametrize("power_dbm", [22, 30])
def test_one_user_mixed_is_never_worse_than_learned(power_dbm):
    """K = 1 (tradeoff): the beams maximise the SINR whatever the family, so the mixed decision has the same
    SINR and a distortion no larger than the learned one's."""
    learned = MultiUserOptimizer("tradeoff").decide(power_dbm)
    mixed = MultiUserOptimizer("tradeoff", family="mixed").decide(power_dbm)
    assert mixed.users[0].sinr_db == pytest.approx(learned.users[0].sinr_db, abs=0.01)
    assert mixed.weighted_distortion <= learned.weighted_distortion * (1 + 1e-9)
    assert mixed.info["data_family"] == "mixed" and learned.info["data_family"] == "learned"


def test_two_user_mixed_is_not_worse_than_learned(optimizers):
    """On the two-user scenario at 28 dBm the sdr search with the mixed family is not worse than with the
    learned one (up to 1e-4: the SINR-target search is heuristic)."""
    learned = optimizers["learned"].decide()
    mixed = optimizers["mixed"].decide()
    assert mixed.feasible and learned.feasible
    assert mixed.weighted_distortion <= learned.weighted_distortion + 1e-4


@pytest.mark.parametrize("solver,codec", [("zf-wf-bpg", "hevc"), ("zf-wf-jpeg", "jpeg")])
@pytest.mark.parametrize("rate", [0.5, 1.5])
def test_standard_benchmarks_keep_their_fixed_code_rate(solver, codec, rate):
    """zf-wf-bpg / zf-wf-jpeg: every user at the given code rate, the data user with the largest operating
    point of its codec that fits its channel uses at that rate (brute force over the shipped profile), its
    distortion the profile's at the reported BER; the beams are plain zf-wf's."""
    decision = MultiUserOptimizer("multiuser", solver=solver, code_rates=rate).decide()
    plain = MultiUserOptimizer("multiuser", solver="zf-wf", code_rates=rate).decide()
    assert decision.solver == solver and decision.info["data_family"] == codec
    assert [u.code_rate for u in decision.users] == [rate, rate]
    data = decision.users[0]
    profile = load_profile(FAMILY_PROFILES[codec])
    fitting = [m for m in profile.models if m.r_s_bits <= rate * data.channel_uses]
    expected = max(fitting, key=lambda m: m.r_s_bits) if fitting else profile.models[0]
    assert data.model == expected.id and data.model.startswith(codec + "-q")
    assert data.distortion == pytest.approx(10 ** float(expected.log10_distortion(data.log10_ber, DATA_METRIC)))
    assert [u.sinr for u in decision.users] == pytest.approx([u.sinr for u in plain.users], rel=1e-12)


def test_family_arguments_are_checked():
    """A profile and a family together, a family the benchmark solver does not use, an unknown family, and a
    fixed code rate for sdr are refused with the reason."""
    with pytest.raises(IsscInputError, match="not both"):
        MultiUserOptimizer("multiuser", profile=FAMILY_PROFILES["learned"], family="mixed")
    with pytest.raises(IsscInputError, match="uses the hevc family"):
        MultiUserOptimizer("multiuser", solver="zf-wf-bpg", family="learned")
    with pytest.raises(IsscInputError, match="unknown data family"):
        MultiUserOptimizer("multiuser", family="bpg")
    with pytest.raises(IsscInputError, match="fixed code rate"):
        MultiUserOptimizer("multiuser", family="mixed", code_rates=1.0)


def test_cli_family_and_benchmark_solvers(run_cli):
    """issc optimize --family mixed reports its family and a data model; --solver zf-wf-bpg uses HEVC at the
    fixed rate; on a single-user scenario --family picks the profile and zf-wf-bpg is a one-line error."""
    code, out, err = run_cli("optimize", "--scenario", "multiuser", "--family", "mixed", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["info"]["data_family"] == "mixed"
    assert result["users"][0]["model"] in {m.id for m in load_profile(FAMILY_PROFILES["mixed"]).models}
    code, out, err = run_cli("optimize", "--scenario", "multiuser", "--solver", "zf-wf-bpg", "--code-rate", "1")
    assert code == 0, err
    result = json.loads(out)
    assert result["solver"] == "zf-wf-bpg" and result["users"][0]["model"].startswith("hevc-q")
    code, out, err = run_cli("optimize", "--scenario", "tradeoff", "--family", "hevc", "--power-dbm", "30")
    assert code == 0, err
    assert json.loads(out)["model"].startswith("hevc-q")
    code, out, err = run_cli("optimize", "--scenario", "tradeoff", "--solver", "zf-wf-bpg")
    assert code == 2 and out == "" and err.count("\n") == 1 and "multi-user" in err
    code, out, err = run_cli("optimize", "--scenario", "multiuser", "--family", "mixed", "--profile", "x.yml")
    assert code == 2 and "not both" in err


def test_zf_wf_djscc_predicts_the_data_user_from_the_10_db_model():
    """zf-wf-djscc: plain zf-wf beams; the data user (ABR 1/16) on ae-abr16-snr10 with 1 - MS-SSIM of its
    held-out evaluation interpolated at the SINR (read from the manifest here); the semantic user as zf-wf."""
    from gnuradio.issc.djscc.models import load_manifest

    decision = MultiUserOptimizer("multiuser", solver="zf-wf-djscc").decide(30)
    plain = MultiUserOptimizer("multiuser", solver="zf-wf").decide(30)
    data, semantic = decision.users
    assert decision.solver == "zf-wf-djscc" and data.model == "ae-abr16-snr10" and data.served
    held_out = {m.id: m.held_out for m in load_manifest()}["ae-abr16-snr10"]
    snrs, _, ssims = (np.array(v, float) for v in zip(*held_out))
    assert data.distortion == pytest.approx(1.0 - np.interp(data.sinr_db, snrs, ssims), rel=1e-9)
    assert (semantic.model, semantic.distortion) == (plain.users[1].model, pytest.approx(plain.users[1].distortion))
    assert decision.weighted_distortion == pytest.approx(0.8 * data.distortion + 0.2 * semantic.distortion)
