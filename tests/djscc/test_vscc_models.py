# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped VAE and VSCC models (the VSCC paper's set at ABR 1/16, docs/vscc.md): complete, listed by
``issc djscc info`` with their loss and d, one best d per training SNR, the only VSCC models the link
picks, and the AE models the link picks unchanged."""

import json

import pytest
import yaml

from gnuradio.issc.codec.images import load_rgb, shipped_images
from gnuradio.issc.djscc.codec import DjsccCodec, evaluate_awgn
from gnuradio.issc.djscc.models import DATA_DIR, load_manifest, select_model
from gnuradio.issc.errors import IsscInputError

MODELS = load_manifest(DATA_DIR)
ENTRIES = yaml.safe_load((DATA_DIR / "manifest.yml").read_text())["models"]


def test_the_paper_set_is_complete_and_each_entry_says_how_it_was_made():
    """ABR 1/16 at -5, 5, 15 dB: one AE and one VAE model each and VSCC with every d in {1, 2, 5, 10, 15};
    every entry records its steps, seed, loss, d and command."""
    paper = [e for e in ENTRIES if e["snr_db"] in (-5.0, 5.0, 15.0)]
    for snr in (-5.0, 5.0, 15.0):
        assert sorted(e["loss"] for e in paper if e["snr_db"] == snr and e["loss"] != "vscc") == ["ae", "vae"]
        assert sorted(e["cmc"] for e in paper if e["snr_db"] == snr and e["loss"] == "vscc") == [1, 2, 5, 10, 15]
    for e in paper:
        assert e["abr_label"] == "1/16" and e["channels"] == 6
        assert e["base_steps"] > 0 and e["finetune_steps"] > 0 and "train_vscc.py" in e["command"]
        assert (e["cmc"] is None) == (e["loss"] != "vscc")
        assert (e["kb_variance"] > 0) == (e["loss"] != "ae")


def test_info_lists_every_model_with_its_loss(run_cli):
    """``issc djscc info --json``: every manifest entry, with loss, d and whether the link may pick it."""
    code, out, err = run_cli("djscc", "info", "--json")
    assert code == 0, err
    listed = json.loads(out)["models"]
    assert [m["id"] for m in listed] == [e["id"] for e in ENTRIES]
    assert {m["loss"] for m in listed} == {"ae", "vae", "vscc"}
    for m, e in zip(listed, ENTRIES):
        assert m["loss"] == e["loss"] and m["cmc"] == e.get("cmc") and m["link"] == e.get("link", True)


def test_one_best_d_per_snr_is_the_best_recorded_ms_ssim_at_its_training_snr():
    """The d marked best (the link's VSCC model) has the highest held-out MS-SSIM at its training SNR."""
    for snr in (-5.0, 5.0, 15.0):
        sweep = [e for e in ENTRIES if e["loss"] == "vscc" and e["snr_db"] == snr]
        best = [e for e in sweep if e["best_cmc"]]
        assert len(best) == 1 and best[0]["link"]
        key = f"snr{snr:g}"
        assert best[0]["held_out"][key]["ms_ssim"] == max(e["held_out"][key]["ms_ssim"] for e in sweep)
        assert not any(e["link"] for e in sweep if e is not best[0])


def test_link_picks_by_loss_and_keeps_the_ae_benchmark_models():
    """Loss 'ae' never picks the paper set's AE models (the benchmark's 0/10/20 dB models stay the link's);
    'vscc' picks the best d nearest the SINR; a loss without a model at the ABR is named."""
    for snr in (-20.0, -5.0, 4.0, 5.0, 6.0, 15.0, 30.0):
        assert select_model(MODELS, 1 / 16, snr, "ae").snr_db in (0.0, 10.0, 20.0)
    for snr, trained in ((-20.0, -5.0), (0.9, 5.0), (12.0, 15.0)):
        chosen = select_model(MODELS, 1 / 16, snr, "vscc")
        assert chosen.snr_db == trained and chosen.link
        assert next(e for e in ENTRIES if e["id"] == chosen.id)["best_cmc"]
    assert select_model(MODELS, 1 / 16, 5.0, "vae").id == "vae-abr16-snr5"
    with pytest.raises(IsscInputError, match="no DJSCC model for ABR 1/48 and loss vscc"):
        select_model(MODELS, 1 / 48, 5.0, "vscc")


def test_djscc_optimizer_uses_the_asked_loss():
    """DJSCC-WF-ZF with loss 'vscc' decides a VSCC model, by default an AE one; an unknown loss is named."""
    from gnuradio.issc.optim.djscc_decision import DjsccOptimizer

    vscc = DjsccOptimizer("tradeoff", loss="vscc").decide(power_dbm=26.0, abr=1 / 16)
    ae = DjsccOptimizer("tradeoff").decide(power_dbm=26.0, abr=1 / 16)
    assert vscc.model.startswith("vscc-abr16-") and ae.model.startswith("ae-abr16-")
    assert vscc.predictions and 0 < vscc.predictions["predicted_ms_ssim"] < 1
    with pytest.raises(IsscInputError, match="DJSCC loss must be one of ae, vae, vscc"):
        DjsccOptimizer("tradeoff", loss="mse")


def test_recorded_held_out_score_of_a_vscc_model_reproduces():
    """The manifest's held-out PSNR of a VSCC model (decoded as received) is what the codec measures."""
    entry = next(e for e in ENTRIES if e["loss"] == "vscc" and e["best_cmc"] and e["snr_db"] == 5.0)
    images = [load_rgb(p) for p in shipped_images()]
    row = evaluate_awgn(DjsccCodec.load(entry["id"], DATA_DIR), images, [5.0])[0]
    assert row["psnr"] == pytest.approx(entry["held_out"]["snr5"]["psnr"], abs=2e-3)


def test_controller_block_and_link_example_pass_the_loss_on():
    """The controller block's ``djscc_loss`` reaches its decisions, and issc_link.py takes --djscc-loss
    (default ae) and refuses a loss it does not know."""
    import importlib.util
    from pathlib import Path

    from gnuradio import issc

    block = issc.controller("tradeoff", solver="zf-wf", abr=1 / 16, scheme="djscc", djscc_loss="vscc")
    assert block.current.model.startswith("vscc-abr16-")
    path = Path(__file__).resolve().parents[2] / "examples" / "issc_link.py"
    spec = importlib.util.spec_from_file_location("issc_link_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.build_parser().parse_args(["--scheme", "djscc", "--djscc-loss", "vae"]).djscc_loss == "vae"
    assert example.build_parser().parse_args([]).djscc_loss == "ae"
    with pytest.raises(SystemExit):
        example.build_parser().parse_args(["--djscc-loss", "mse"])
