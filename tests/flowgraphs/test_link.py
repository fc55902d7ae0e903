# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The streaming communication link in real flowgraphs (tiny codec models, short streams).

Configurations are posted to the semantic encoder directly (no optimiser), so every run is
deterministic: the frames, their symbols and their order do not depend on thread timing.
"""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.codec.codec import SemanticCodec
from gnuradio.issc.link.config import FRAME_TAG, LinkConfig
from gnuradio.issc.link.framing import FrameFormat, FrameHeader
from gnuradio.issc.link.pdus import image_to_pdu, make_pdu, pdu_to_image, split_pdu
from gnuradio.issc.physics.geometry import Geometry

SCENARIO = "tradeoff"


def images(count, rng, size=64):
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(count):
        phase = rng.uniform(0, 6)
        base = np.stack([np.sin(3 * xx + phase), np.cos(2 * yy - phase), xx * yy], -1) * 0.4 + 0.5
        out.append((np.clip(base + 0.03 * rng.normal(size=base.shape), 0, 1) * 255).astype(np.uint8))
    return out


def mrt_config(model, info_bits, power_w=1.0, sensing_fraction=0.0, seq=-1):
    """MRT communication beam (and a sensing beam towards the target) for the shipped geometry."""
    geo = Geometry.from_scenario(SCENARIO)
    h = geo.h_c
    w_c = np.sqrt(power_w * (1 - sensing_fraction)) * h / np.linalg.norm(h)
    w_0 = np.sqrt(power_w * sensing_fraction / geo.n_tx) * geo.a_tx(geo.theta)
    return LinkConfig(model, info_bits / 256, info_bits, w_c, w_0[:, None], seq)


class Link:
    """
    post(image PDUs) --> semantic_encoder --> frame_encoder --> beamformer --> comm_channel --> frame_decoder
                             ^ config in the PDU    |              ^ s_0                           |
                                                    +--> sink_tx   sensing_source    semantic_decoder <--+
                                                                                       |
                          monitor <---- sent images, sent bits, received bits, received images
    """

    def __init__(self, codec_dir, noise_dbm=-60.0, idle="wait"):
        self.tb = gr.top_block()
        self.encoder = issc.semantic_encoder(str(codec_dir))
        self.framer = issc.frame_encoder(idle=idle)
        self.sensing = issc.sensing_source(1, 3)
        self.beamformer = issc.beamformer(4, 1)
        self.channel = issc.comm_channel(SCENARIO, noise_dbm, seed=1)
        self.decoder = issc.frame_decoder()
        self.semantic_decoder = issc.semantic_decoder(str(codec_dir))
        self.monitor = issc.link_monitor("")
        self.tx_sink = blocks.vector_sink_c()
        self.rx_sink = blocks.vector_sink_c()
        self.bits_debug = blocks.message_debug()
        self.images_debug = blocks.message_debug()
        self.failed_debug = blocks.message_debug()
        tb = self.tb
        tb.connect(self.framer, (self.beamformer, 0))
        tb.connect(self.framer, self.tx_sink)
        tb.connect(self.sensing, (self.beamformer, 1))
        for k in range(4):
            tb.connect((self.beamformer, k), (self.channel, k))
        tb.connect(self.channel, self.decoder)
        tb.connect(self.channel, self.rx_sink)
        tb.msg_connect(self.encoder, "out", self.framer, "in")
        tb.msg_connect(self.encoder, "out", self.monitor, "sent_bits")
        tb.msg_connect(self.decoder, "out", self.semantic_decoder, "in")
        tb.msg_connect(self.decoder, "out", self.monitor, "received_bits")
        tb.msg_connect(self.decoder, "out", self.bits_debug, "store")
        tb.msg_connect(self.decoder, "header_failed", self.failed_debug, "store")
        tb.msg_connect(self.semantic_decoder, "out", self.monitor, "received_image")
        tb.msg_connect(self.semantic_decoder, "out", self.images_debug, "store")

    def send(self, frames):
        """``frames``: list of (image, LinkConfig); each image PDU carries its configuration."""
        for seq, (image, config) in enumerate(frames):
            self.encoder._post(pmt.intern("image"), image_to_pdu(seq, image, config=config.to_pmt()))
            self.monitor._post(pmt.intern("sent_image"), image_to_pdu(seq, image))


@pytest.fixture
def make_link():
    """Builds :class:`Link` flowgraphs and stops them at teardown, also when the test failed: a running
    flowgraph left to the garbage collector aborts the interpreter (docs/install.md)."""
    built = []

    def make(*args, **kwargs):
        built.append(Link(*args, **kwargs))
        return built[-1]

    yield make
    for link in built:
        link.tb.stop()
        link.tb.wait()


@pytest.fixture(scope="module")
def codec(tiny_family):
    return SemanticCodec.load(tiny_family)


def test_high_sinr_link_is_bit_exact(tiny_family, make_link, codec, wait_for):
    """At ~50 dB SINR every header decodes, every payload is bit-exact, and the received image equals the
    codec's error-free decode; the tags never reach the receiver (the channel strips them)."""
    rng = np.random.default_rng(0)
    pics = images(3, rng)
    frames = [(pics[0], mrt_config("t1", 300)), (pics[1], mrt_config("t2", 120)), (pics[2], mrt_config("t1", 511))]
    link = make_link(tiny_family)
    link.tb.start()
    link.send(frames)
    # the monitor joins four ports in no set order: wait for its rows, not only for the images
    assert wait_for(lambda: link.images_debug.num_messages() == 3 and len(link.monitor.ledger.rows) == 3)
    link.tb.stop()
    link.tb.wait()
    assert link.failed_debug.num_messages() == 0
    assert len(link.rx_sink.tags()) == 0
    for seq, (image, config) in enumerate(frames):
        meta, payload = split_pdu(link.bits_debug.get_message(seq))
        header, expected = codec.encode_parts(image, config.model)
        assert meta["seq"] == seq and meta["header_ok"] and meta["sinr_db"] > 40
        assert meta["info_bits"] == config.info_bits
        assert payload == expected
        _, received = pdu_to_image(link.images_debug.get_message(seq))
        clean = np.round(codec.decode_parts(header, expected) * 255).astype(np.uint8)
        np.testing.assert_array_equal(received, clean)
    rows = link.monitor.ledger.rows
    assert [r["seq"] for r in rows] == [0, 1, 2]
    assert all(r["header_ok"] and r["ber"] == 0.0 for r in rows)


def test_frames_tags_and_sample_conservation(tiny_family, make_link, codec, wait_for):
    """The frame encoder emits exactly the frames' symbols back to back ('wait' idle mode), with one
    frame tag on each frame's first symbol carrying its configuration; the configuration switch
    between frames 1 and 2 (other model, other code rate) is followed by the receiver from the header."""
    rng = np.random.default_rng(1)
    pics = images(4, rng)
    configs = [mrt_config("t1", 200), mrt_config("t1", 200), mrt_config("t2", 77), mrt_config("t2", 77)]
    fmt = FrameFormat()
    lengths = []
    for pic, cfg in zip(pics, configs):
        header, payload = codec.encode_parts(pic, cfg.model)
        lengths.append(fmt.frame_symbols(FrameHeader(0, 0, cfg.info_bits, header.z_bytes, header.y_bytes, 1, 1)))
    link = make_link(tiny_family)
    link.tb.start()
    link.send(list(zip(pics, configs)))
    assert wait_for(lambda: link.images_debug.num_messages() == 4)
    link.tb.stop()
    link.tb.wait()
    assert len(link.tx_sink.data()) == sum(lengths)
    assert len(link.rx_sink.data()) == sum(lengths)  # sync blocks: one output per input through the chain
    tags = sorted((t for t in link.tx_sink.tags() if pmt.symbol_to_string(t.key) == FRAME_TAG), key=lambda t: t.offset)
    assert [t.offset for t in tags] == list(np.cumsum([0] + lengths[:-1]))
    for seq, tag in enumerate(tags):
        cfg = LinkConfig.from_pmt(tag.value)
        assert cfg.seq == seq and cfg.model == configs[seq].model and cfg.info_bits == configs[seq].info_bits
    assert link.beamformer.frames_switched == 4
    received = [split_pdu(link.bits_debug.get_message(i))[0] for i in range(4)]
    assert [m["info_bits"] for m in received] == [200, 200, 77, 77]
    assert [m["model_index"] for m in received] == [0, 0, 1, 1]
    assert [m["start"] for m in received] == [t.offset for t in tags]


def test_zero_idle_mode_gaps_are_found_from_the_air(tiny_family, make_link, wait_for):
    """With idle='zeros' the stream is continuous (zeros between frames); the receiver still finds every
    frame, at noise -40 dBm (SINR ~30 dB)."""
    rng = np.random.default_rng(2)
    pics = images(2, rng)
    link = make_link(tiny_family, noise_dbm=-40.0, idle="zeros")
    link.tb.start()
    link.send([(pics[0], mrt_config("t1", 300)), (pics[1], mrt_config("t2", 300))])
    assert wait_for(lambda: len(link.monitor.ledger.rows) == 2)
    link.tb.stop()
    link.tb.wait()
    assert link.failed_debug.num_messages() == 0
    rows = link.monitor.ledger.rows
    assert [r["seq"] for r in rows] == [0, 1] and all(r["ber"] == 0.0 and r["sinr_db"] > 25 for r in rows), rows


def test_garbage_messages_and_nan_samples_are_dropped_and_the_link_continues(tiny_family, make_link, codec, wait_for):
    """Wrong PMT types, malformed PDUs and configurations are logged and dropped; NaN/inf samples at the
    receiver are zeroed; a good frame sent afterwards still arrives intact."""
    rng = np.random.default_rng(3)
    pic = images(1, rng)[0]
    link = make_link(tiny_family)
    garbage = [
        pmt.intern("nonsense"),
        pmt.PMT_NIL,
        pmt.cons(pmt.make_dict(), pmt.init_u8vector(3, [1, 2, 3])),
        pmt.cons(pmt.PMT_NIL, pmt.from_long(3)),
        make_pdu({"seq": 0, "height": 2, "width": 2}, b"\0" * 5),
    ]
    link.tb.start()
    for port_block, port in (
        (link.encoder, "image"),
        (link.encoder, "config"),
        (link.framer, "in"),
        (link.semantic_decoder, "in"),
        (link.monitor, "received_bits"),
    ):
        for msg in garbage:
            port_block._post(pmt.intern(port), msg)
    # a bitstream PDU whose configuration is fine but whose header fields are missing
    link.framer._post(pmt.intern("in"), make_pdu({"seq": 1, "config": mrt_config("t1", 100).to_pmt()}, b"abc"))
    link.send([(pic, mrt_config("t1", 300))])
    assert wait_for(lambda: link.images_debug.num_messages() == 1)
    link.tb.stop()
    link.tb.wait()
    meta, payload = split_pdu(link.bits_debug.get_message(0))
    assert payload == codec.encode_parts(pic, "t1")[1]

    # NaN and inf samples straight into the frame decoder
    tb = gr.top_block()
    noisy = np.full(5000, np.nan, np.complex64)
    noisy[::3] = np.inf
    source = blocks.vector_source_c(noisy.tolist())
    decoder = issc.frame_decoder()
    tb.connect(source, decoder)
    tb.run()
    assert decoder.receiver.frames_decoded == 0


def test_header_failures_are_reported_and_the_search_resumes():
    """A frame whose header is destroyed (burst of noise over it) is reported on header_failed; the next
    frame, intact, is decoded."""
    from gnuradio.issc.link.framing import FrameReceiver, build_frame

    fmt = FrameFormat()
    payload = bytes(range(200))
    frames = [build_frame(fmt, FrameHeader(s, 0, 300, 50, 150, 8, 8), payload) for s in (10, 11)]
    rng = np.random.default_rng(4)
    stream = np.concatenate(frames).astype(np.complex128)
    header = slice(fmt.preamble_length, fmt.preamble_length + fmt.header_symbols)
    stream[header] = rng.normal(size=fmt.header_symbols) + 1j * rng.normal(size=fmt.header_symbols)
    stream += 0.01 * (rng.normal(size=stream.size) + 1j * rng.normal(size=stream.size))
    receiver = FrameReceiver(fmt)
    results = []
    for chunk in np.array_split(stream, 17):
        results += receiver.push(chunk)
    ok = [r for r in results if r.header_ok]
    assert receiver.headers_failed >= 1 and results[0].header is None and results[0].start == 0
    assert [r.header.seq for r in ok] == [11] and ok[0].payload == payload
