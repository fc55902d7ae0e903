# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The deep JSCC benchmark through the link: analog frames (same preamble and coded header as ASCC),
the DJSCC blocks, the benchmark's decisions, the monitor's payload SNR, and the Fig. 3/4 experiment.

The flowgraph of the block tests::

    post(image PDU + analog config) --> djscc_encoder --> frame_encoder --> channel --> frame_decoder
                                              |                          (gain g, AWGN)       |
                                              +--> monitor (sent_bits)            djscc_decoder --> monitor
"""

import csv
import json
import math

import numpy as np
import pmt
import pytest
from gnuradio import analog, blocks, gr, issc

from gnuradio.issc.djscc.codec import DjsccFamily
from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.config import LinkConfig
from gnuradio.issc.link.framing import FrameFormat, FrameHeader, FrameReceiver, build_analog_frame, build_frame
from gnuradio.issc.link.ledger import FrameLedger
from gnuradio.issc.link.pdus import image_to_pdu, pdu_to_image, split_symbol_pdu
from gnuradio.issc.physics.geometry import Geometry

SCENARIO = "tradeoff"
FMT = FrameFormat(256, 256, 1024)


def analog_config(model, seq=-1):
    geo = Geometry.from_scenario(SCENARIO)
    w_c = geo.h_c / np.linalg.norm(geo.h_c)
    return LinkConfig(model, 0.0, 0, w_c, np.zeros((geo.n_tx, 1)), seq)


def unit_symbols(rng, n):
    s = rng.normal(size=n) + 1j * rng.normal(size=n)
    return (s / np.sqrt(np.mean(np.abs(s) ** 2))).astype(np.complex64)


def push_in_chunks(receiver, stream, rng):
    frames, position = [], 0
    while position < stream.size:
        step = int(rng.integers(1, 5000))
        frames += receiver.push(stream[position : position + step])
        position += step
    return frames


def test_noise_free_analog_frame_returns_the_symbols_exactly():
    """Between zero padding, in uneven chunks, behind a coded frame: the header says K = 0 and the
    symbol count, and the equalised symbols equal the sent ones to float precision."""
    rng = np.random.default_rng(1)
    symbols = unit_symbols(rng, 3000)
    analog_header = FrameHeader.analog_frame(7, 4, symbols.size, 64, 128)
    coded_header = FrameHeader(6, 1, 200, 3, 5, 64, 64)
    stream = np.concatenate(
        [
            np.zeros(500, np.complex64),
            build_frame(FMT, coded_header, bytes(range(8))),
            np.zeros(77, np.complex64),
            build_analog_frame(FMT, analog_header, symbols),
            np.zeros(300, np.complex64),
        ]
    )
    gain = 0.3 * np.exp(1j * 0.7)
    frames = push_in_chunks(FrameReceiver(FMT), (gain * stream).astype(np.complex64), rng)
    assert [f.header for f in frames] == [coded_header, analog_header]
    assert frames[0].payload == bytes(range(8)) and frames[0].symbols is None
    assert frames[1].header.analog and frames[1].payload == b""
    np.testing.assert_allclose(frames[1].symbols, symbols, atol=1e-5)


def test_analog_payload_noise_is_the_channel_noise_over_the_gain():
    """With AWGN of variance s2 and gain g, the equalised symbols' error variance is s2 / |g|^2 (Monte
    Carlo over 60 000 symbols: within 3 %), and the preamble's SINR estimate agrees within 1 dB."""
    rng = np.random.default_rng(2)
    symbols = unit_symbols(rng, 60000)
    frame = build_analog_frame(FMT, FrameHeader.analog_frame(0, 0, symbols.size, 8, 8), symbols)
    gain, noise_var = 0.5 * np.exp(-1j * 2.0), 0.025  # SNR 10 dB
    noise = np.sqrt(noise_var / 2) * (rng.normal(size=frame.size) + 1j * rng.normal(size=frame.size))
    (received,) = FrameReceiver(FMT).push((gain * frame + noise).astype(np.complex64))
    error = np.mean(np.abs(received.symbols - symbols) ** 2)
    assert error == pytest.approx(noise_var / abs(gain) ** 2, rel=0.03)
    assert received.sinr_db == pytest.approx(10.0, abs=1.0)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: build_analog_frame(FMT, FrameHeader.analog_frame(0, 0, 10, 8, 8), np.ones(9)), "header says 10"),
        (lambda: build_analog_frame(FMT, FrameHeader.analog_frame(0, 0, 2, 8, 8), np.array([1, np.nan])), "finite"),
        (lambda: build_analog_frame(FMT, FrameHeader(0, 0, 8, 1, 1, 8, 8), np.ones(2)), "info_bits = 0"),
        (lambda: build_frame(FMT, FrameHeader.analog_frame(0, 0, 4, 8, 8), b""), "build_analog_frame"),
        (lambda: LinkConfig("m", 0.5, 0, np.ones(4), np.zeros((4, 1))), "both be 0"),
    ],
)
def test_malformed_analog_frames_are_named(build, message):
    with pytest.raises(IsscInputError, match=message):
        build()


def test_analog_header_announcing_too_many_symbols_is_a_failed_header():
    """A header (CRC valid) whose symbol count exceeds the receiver's limit, or an analog header with a
    non-zero z length, is reported as failed instead of waiting forever for the payload."""
    rng = np.random.default_rng(3)
    for header in (FrameHeader.analog_frame(0, 0, 1 << 20, 8, 8), FrameHeader(0, 0, 0, 5, 100, 8, 8)):
        symbols = build_analog_frame(FMT, FrameHeader.analog_frame(0, 0, 100, 8, 8), unit_symbols(rng, 100))
        # splice the bad header's coded symbols over the good one's
        from gnuradio.issc.link.framing import _header_symbols

        symbols[FMT.preamble_length : FMT.preamble_length + FMT.header_symbols] = _header_symbols(FMT, header)
        receiver = FrameReceiver(FMT, max_payload_bytes=1 << 20)
        (frame,) = receiver.push(np.concatenate([symbols, np.zeros(FMT.preamble_length * 2, np.complex64)]))
        assert frame.header is None and receiver.headers_failed == 1


class AnalogLink:
    def __init__(self, gain=1.0, noise_voltage=0.0):
        self.tb = gr.top_block()
        tb = self.tb
        self.encoder = issc.djscc_encoder()
        self.framer = issc.frame_encoder(256)
        self.gain = blocks.multiply_const_cc(gain)
        self.noise = analog.noise_source_c(analog.GR_GAUSSIAN, noise_voltage, 5)
        self.add = blocks.add_cc()
        self.deframer = issc.frame_decoder(256)
        self.decoder = issc.djscc_decoder()
        self.monitor = issc.link_monitor("")
        self.sent = blocks.message_debug()
        self.received = blocks.message_debug()
        self.images = blocks.message_debug()
        tb.msg_connect(self.encoder, "out", self.framer, "in")
        tb.msg_connect(self.encoder, "out", self.sent, "store")
        tb.msg_connect(self.encoder, "out", self.monitor, "sent_bits")
        tb.connect(self.framer, self.gain, (self.add, 0))
        tb.connect(self.noise, (self.add, 1))
        tb.connect(self.add, self.deframer)
        tb.msg_connect(self.deframer, "out", self.decoder, "in")
        tb.msg_connect(self.deframer, "out", self.received, "store")
        tb.msg_connect(self.deframer, "out", self.monitor, "received_bits")
        tb.msg_connect(self.decoder, "out", self.images, "store")
        tb.msg_connect(self.decoder, "out", self.monitor, "received_image")

    def send(self, seq, image, config):
        self.encoder._post(pmt.intern("image"), image_to_pdu(seq, image, config=config.to_pmt()))
        self.monitor._post(pmt.intern("sent_image"), image_to_pdu(seq, image))


@pytest.fixture
def analog_link():
    built = []

    def make(**kwargs):
        built.append(AnalogLink(**kwargs))
        return built[-1]

    yield make
    for link in built:
        link.tb.stop()
        link.tb.wait()


def held_out_image(size=64):
    from gnuradio.issc.codec.images import load_rgb, shipped_images

    return np.ascontiguousarray(load_rgb(shipped_images()[0])[:size, :size])


def test_djscc_blocks_noise_free_give_the_codec_decode(analog_link, wait_for):
    """Through the blocks with a clean channel, the received image is the model's own noise-free decode;
    the encoder's symbols have unit power, the PDUs carry the header fields, and the monitor measures a
    payload SNR at the receiver's cap instead of a BER."""
    family = DjsccFamily()
    model = "ae-abr16-snr20"
    image = held_out_image(128)
    link = analog_link()
    link.tb.start()
    link.send(0, image, analog_config(model))
    assert wait_for(lambda: link.images.num_messages() == 1 and len(link.monitor.ledger.rows) == 1)
    link.tb.stop()
    link.tb.wait()
    meta, symbols = split_symbol_pdu(link.sent.get_message(0))
    codec = family.codec(model)
    assert meta["model_index"] == family.index(model) and meta["symbols"] == symbols.size == 128 * 128 * 3 // 16
    assert meta["abr"] == pytest.approx(1 / 16)
    assert np.mean(np.abs(symbols.astype(complex)) ** 2) == pytest.approx(1.0, abs=1e-6)
    rx_meta, rx_symbols = split_symbol_pdu(link.received.get_message(0))
    assert rx_meta["analog"] and rx_meta["code_rate"] == 0 and rx_meta["symbols"] == symbols.size
    np.testing.assert_allclose(rx_symbols, symbols, atol=1e-5)
    _, received = pdu_to_image(link.images.get_message(0))
    np.testing.assert_array_equal(received, codec.decode(codec.encode(image), 128, 128))
    (row,) = link.monitor.ledger.rows
    assert row["ber"] is None and row["payload_snr_db"] > 50 and row["model"] == model and row["psnr"] > 18


def test_djscc_blocks_at_10_db(analog_link, wait_for):
    """At 10 dB SNR the monitor's measured payload SNR is 10 dB (within 0.5 dB over 6144 symbols) and
    the image degrades gracefully (PSNR within 2 dB of the noise-free decode)."""
    model = "ae-abr16-snr10"
    image = held_out_image(128)
    link = analog_link(gain=0.5, noise_voltage=0.5 * math.sqrt(0.1))
    link.tb.start()
    link.send(0, image, analog_config(model))
    assert wait_for(lambda: len(link.monitor.ledger.rows) == 1)
    link.tb.stop()
    link.tb.wait()
    (row,) = link.monitor.ledger.rows
    assert row["payload_snr_db"] == pytest.approx(10.0, abs=0.5)
    assert row["sinr_db"] == pytest.approx(10.0, abs=1.0)
    codec = DjsccFamily().codec(model)
    from gnuradio.issc.metrics import psnr

    assert row["psnr"] > psnr(image, codec.decode(codec.encode(image), 128, 128)) - 2.0


def test_wrong_configurations_are_dropped_not_coded():
    """A digital configuration given to the DJSCC encoder, an analog one given to the semantic encoder,
    and an unknown DJSCC model are all rejected with messages that say why."""
    djscc = issc.djscc_encoder()
    with pytest.raises(IsscInputError, match="digital"):
        djscc._checked(LinkConfig("hp1", 0.5, 128, np.ones(4), np.zeros((4, 1))))
    with pytest.raises(IsscInputError, match="not in"):
        djscc._checked(analog_config("ae-abr7-snr0"))
    semantic = issc.semantic_encoder()
    with pytest.raises(IsscInputError, match="analog"):
        semantic._checked(analog_config("ae-abr16-snr0"))


def test_decoder_drops_pdus_it_cannot_decode():
    """A bitstream PDU, a wrong model index and a wrong symbol count are logged and dropped (the block
    keeps running and publishes nothing)."""
    from gnuradio.issc.link.pdus import make_pdu, make_symbol_pdu

    decoder = issc.djscc_decoder()
    for msg in (
        make_pdu({"seq": 0}, b"abc"),
        make_symbol_pdu({"seq": 0, "model_index": 99, "height": 64, "width": 64}, np.ones(768)),
        make_symbol_pdu({"seq": 0, "model_index": 0, "height": 64, "width": 64}, np.ones(5)),
    ):
        decoder._handle_in(msg)
    assert decoder.frames_decoded == 0


def test_benchmark_decision_is_zf_wf_with_the_nearest_snr_model():
    """DJSCC-WF-ZF: no interference at the CRE (ZF), tr HCRB exactly at Pi when MRT alone misses it, the
    model of the ABR trained nearest the predicted SINR, and the prediction equal to the manifest's
    held-out score at a measured SNR; the perfect-sync CRB of the same beams is below the HCRB."""
    from gnuradio.issc.optim.djscc_decision import DjsccOptimizer
    from gnuradio.issc.optim.problem import DesignProblem

    optimizer = DjsccOptimizer(SCENARIO)
    decision = optimizer.decide(power_dbm=26.0, abr=1 / 32)
    problem = DesignProblem.from_scenario(SCENARIO, power_dbm=26.0)
    assert abs(np.vdot(problem.h_c, decision.w_0[:, 0])) < 1e-9 * np.linalg.norm(decision.w_0)
    assert decision.hcrb_trace == pytest.approx(problem.hcrb_threshold_m2, rel=1e-6)
    assert decision.predictions["crb_trace"] < decision.hcrb_trace
    assert decision.code_rate == 0 and decision.info_bits_per_block == 0
    snrs = {m.snr_db: m.id for m in optimizer.models if abs(m.abr - 1 / 32) < 1e-9}
    nearest = min(snrs, key=lambda s: abs(s - decision.sinr_db))
    assert decision.model == snrs[nearest]
    info = DjsccFamily().info("ae-abr32-snr10")
    snr, psnr_at, ms_ssim_at = next(row for row in info.held_out if row[0] == 10.0)
    assert info.predicted_quality(10.0) == {"predicted_psnr_db": psnr_at, "predicted_ms_ssim": ms_ssim_at}
    assert info.predicted_quality(info.held_out[0][0] - 1) == {}


def test_ledger_payload_snr_is_the_closed_form():
    rng = np.random.default_rng(4)
    sent = unit_symbols(rng, 1000)
    received = sent + 0.1 * unit_symbols(rng, 1000)  # error power exactly 0.01: 20 dB
    ledger = FrameLedger()
    ledger.sent_symbols(0, sent, {"model": "m"})
    ledger.received_symbols(0, received, {"header_ok": True})
    ledger.sent_image(0, np.zeros((8, 8, 3), np.uint8))
    ledger.received_image(0, np.zeros((8, 8, 3), np.uint8))
    (row,) = ledger.rows
    assert row["payload_snr_db"] == pytest.approx(20.0, abs=1e-4) and row["ber"] is None


def test_fig3_quick_writes_a_well_formed_csv_and_plot(run_cli, tmp_path):
    """``issc experiment fig3 --quick`` (the CI run, on the shipped models): one row per (scheme, power,
    ABR) with the documented columns, every frame received, MS-SSIM in (0, 1], the DJSCC rows measured
    and predicted within 0.1 of each other, and the ZF benchmark's tr HCRB within the threshold."""
    code, out, err = run_cli("experiment", "fig3", "--scenario", SCENARIO, "--out", tmp_path, "--quick")
    assert code == 0, err
    report = json.loads(out)
    assert report["cells"] == 18 and (tmp_path / "fig3.png").stat().st_size > 10000
    with open(tmp_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"scheme", "power_dbm", "abr", "ms_ssim", "ms_ssim_ci", "psnr", "hcrb_trace"} <= set(rows[0])
    assert {(r["scheme"], float(r["power_dbm"]), r["abr_label"]) for r in rows} == {
        (s, p, a)
        for s in ("ascc-sdr", "ascc-paper", "djscc-wf-zf")
        for p in (24.0, 32.0)
        for a in ("1/48", "1/32", "1/16")
    }
    for r in rows:
        assert int(r["frames"]) == 2 and int(r["frames_lost"]) == 0
        assert 0 < float(r["ms_ssim"]) <= 1 and float(r["psnr"]) > 10
        assert float(r["hcrb_trace"]) <= 40.0 * (1 + 1e-6) and float(r["crb_trace"]) < float(r["hcrb_trace"])
        if r["scheme"] == "djscc-wf-zf":
            assert abs(float(r["ms_ssim"]) - float(r["predicted_ms_ssim"])) < 0.1
    assert len(report["gaps"]) == 12


def test_fig4_one_cell_resumed_and_bad_arguments(run_cli, tmp_path):
    """One fig4 cell (DJSCC, one frame, sensed): a row with a measured MSE and the plot; the same command
    again resumes from the journal (nothing runs, the same CSV); bad ABR or scheme exit 2."""
    argv = (
        "experiment",
        "fig4",
        "--scenario",
        SCENARIO,
        "--out",
        tmp_path,
        "--power-dbm",
        "30",
        "--frames",
        "1",
        "--schemes",
        "djscc-wf-zf",
        "--sensing-every",
        "2",
    )
    code, out, err = run_cli(*argv)
    assert code == 0, err
    with open(tmp_path / "results.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["scheme"] == "djscc-wf-zf" and int(row["sensed_frames"]) == 1 and float(row["sensing_mse_m2"]) > 0
    assert (tmp_path / "fig4.png").is_file()
    # the cell is in the journal: the same command again runs nothing and writes the same CSV
    first = (tmp_path / "results.csv").read_text()
    code, _, err = run_cli(*argv)
    assert code == 0 and "1 of 1 points already done" in err
    assert (tmp_path / "results.csv").read_text() == first
    code, _, err = run_cli("experiment", "fig3", "--scenario", SCENARIO, "--out", tmp_path, "--abrs", "1/8")
    assert code == 2 and "no shipped DJSCC model for ABR 1/8" in err
    code, _, err = run_cli("experiment", "fig3", "--scenario", SCENARIO, "--out", tmp_path, "--schemes", "jpeg")
    assert code == 2 and "schemes must be among" in err
