# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hier blocks a GRC user places (``transmitter``, ``channels``, ``comm_receiver``), run in a real
flowgraph for both schemes, with the shipped models on tiny images (two 64 x 64 frames at high SINR).

The flowgraph::

    image_source --out--> transmitter ==N_T streams==+==> channels ==y_c==> comm_receiver
      |   ^ next            ^ config |     |         |        || echo (N_R)      |--image--> images
      |   +------- sent ----|--------+     |         |        ++==> null sinks    |--bits---> received
      |            sent --> sent (debug)   bits      +==> vector sinks           +--header_failed--> failed
      +--> sent_images      |              +--> bits (debug)  (N_T: frame tags)
                       config_feed (publishes one frame configuration when told to)

The configuration reaches the source encoder through the transmitter's ``config`` port; the images
that come before it wait in the encoder, so every run is deterministic.
"""

import gc

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.codec.container import ContainerHeader
from gnuradio.issc.link.config import FRAME_TAG, LinkConfig
from gnuradio.issc.link.framing import FrameFormat, FrameHeader
from gnuradio.issc.link.pdus import pdu_to_image, split_pdu, split_symbol_pdu
from gnuradio.issc.metrics import psnr
from gnuradio.issc.physics.geometry import Geometry

SCENARIO = "tradeoff"
SIZE, FRAMES = 64, 2


class config_feed(gr.basic_block):
    """Publishes ``message`` on ``out`` for every message on ``go`` (a test-only source of one
    configuration: posting to a hier block's port is not possible, connecting to it is)."""

    def __init__(self, message):
        gr.basic_block.__init__(self, name="config_feed", in_sig=None, out_sig=None)
        self.message = message
        self.message_port_register_out(pmt.intern("out"))
        self.message_port_register_in(pmt.intern("go"))
        self.set_msg_handler(pmt.intern("go"), self._on_go)

    def _on_go(self, _msg):
        self.message_port_pub(pmt.intern("out"), self.message)


def beams(sensing_fraction):
    """MRT communication beam (unit power) plus a sensing beam towards the target."""
    geo = Geometry.from_scenario(SCENARIO)
    w_c = np.sqrt(1 - sensing_fraction) * geo.h_c / np.linalg.norm(geo.h_c)
    w_0 = np.sqrt(sensing_fraction / geo.n_tx) * geo.a_tx(geo.theta)
    return w_c, w_0[:, None]


CONFIGS = {
    "ascc": LinkConfig("hp3", 300 / 256, 300, *beams(0.1)),  # polar code, K = 300 of 2L = 512
    "djscc": LinkConfig("ae-abr16-snr20", 0.0, 0, *beams(0.0)),  # analog frame
}


class HierLink:
    def __init__(self, scheme):
        geo = Geometry.from_scenario(SCENARIO)
        self.n_tx, self.n_rx = geo.n_tx, geo.n_rx
        self.tb = tb = gr.top_block()
        self.source = issc.image_source("", FRAMES, preload=2, size=SIZE)
        self.config = config_feed(CONFIGS[scheme].to_pmt())
        self.tx = issc.transmitter(self.n_tx, 1, scheme, seed=3)
        self.channels = issc.channels(SCENARIO, comm_noise_dbm=-60.0, seed=1)
        self.rx = issc.comm_receiver(scheme)
        self.tx_sinks = [blocks.vector_sink_c() for _ in range(self.n_tx)]
        self.echo_sinks = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(self.n_rx)]
        self.sent_images, self.bits, self.sent = blocks.message_debug(), blocks.message_debug(), blocks.message_debug()
        self.images, self.received, self.failed = (
            blocks.message_debug(),
            blocks.message_debug(),
            blocks.message_debug(),
        )
        tb.msg_connect(self.source, "out", self.tx, "image")
        tb.msg_connect(self.source, "out", self.sent_images, "store")
        tb.msg_connect(self.config, "out", self.tx, "config")
        tb.msg_connect(self.tx, "sent", self.source, "next")
        tb.msg_connect(self.tx, "sent", self.sent, "store")
        tb.msg_connect(self.tx, "bits", self.bits, "store")
        for k in range(self.n_tx):
            tb.connect((self.tx, k), (self.channels, k))
            tb.connect((self.tx, k), self.tx_sinks[k])
        tb.connect((self.channels, 0), self.rx)
        for k in range(self.n_rx):
            tb.connect((self.channels, 1 + k), self.echo_sinks[k])
        tb.msg_connect(self.rx, "image", self.images, "store")
        tb.msg_connect(self.rx, "bits", self.received, "store")
        tb.msg_connect(self.rx, "header_failed", self.failed, "store")

    def run(self, wait_for):
        gc.collect()  # the hier blocks' children are held only by the hier blocks (docs/install.md)
        self.tb.start()
        self.config._post(pmt.intern("go"), pmt.PMT_T)
        done = wait_for(lambda: self.images.num_messages() == FRAMES)
        self.tb.stop()
        self.tb.wait()
        return done


@pytest.fixture
def hier_link():
    """Builds :class:`HierLink` flowgraphs and stops them at teardown, also when the test failed."""
    built = []

    def make(scheme):
        built.append(HierLink(scheme))
        return built[-1]

    yield make
    for link in built:
        link.tb.stop()
        link.tb.wait()


def messages(debug):
    return [debug.get_message(i) for i in range(debug.num_messages())]


@pytest.mark.parametrize("scheme", ["ascc", "djscc"])
def test_hier_blocks_carry_images_end_to_end(hier_link, wait_for, scheme):
    """Two images through transmitter -> channels -> comm_receiver: both come out in order, as the
    source decoder's noise-free decode (ASCC: bit-exact payloads; DJSCC: within 0.5 dB of it); every
    antenna stream holds exactly the two frames back to back, each with an ``issc_frame`` tag (its
    configuration, its seq) on its first sample, where the receiver found the preamble."""
    link = hier_link(scheme)
    assert link.run(wait_for)
    assert link.failed.num_messages() == 0
    assert isinstance(link.tx.semantic_encoder, issc.djscc_encoder if scheme == "djscc" else issc.semantic_encoder)
    sent_images = {m["seq"]: image for m, image in map(pdu_to_image, messages(link.sent_images))}
    split = split_symbol_pdu if scheme == "djscc" else split_pdu
    sent = [split(msg) for msg in messages(link.bits)]
    received = [split(msg) for msg in messages(link.received)]
    images = [pdu_to_image(msg) for msg in messages(link.images)]
    assert (
        [m["seq"] for m, _ in sent]
        == [m["seq"] for m, _ in received]
        == [m["seq"] for m, _ in images]
        == list(range(FRAMES))
    )
    assert [pmt.to_python(pmt.dict_ref(m, pmt.intern("seq"), pmt.PMT_NIL)) for m in messages(link.sent)] == list(
        range(FRAMES)
    )

    # the images: the decoder's clean decode at high SINR
    decoder = link.rx.semantic_decoder
    for (meta, payload), (rx_meta, rx_payload), (_, image) in zip(sent, received, images):
        original = sent_images[meta["seq"]]
        assert image.shape == original.shape == (SIZE, SIZE, 3)
        assert rx_meta["header_ok"] and rx_meta["sinr_db"] > 20  # the sensing beam interferes in ASCC
        if scheme == "ascc":
            assert rx_payload == payload and rx_meta["info_bits"] == 300
            header = ContainerHeader(meta["model"], SIZE, SIZE, meta["z_bytes"], meta["y_bytes"])
            clean = np.round(decoder.codec.decode_parts(header, payload) * 255).astype(np.uint8)
            np.testing.assert_array_equal(image, clean)
            assert psnr(original, image) > 14  # this 64 x 64 crop is busy: ~16 dB at hp3
        else:
            assert rx_meta["analog"] and rx_meta["symbols"] == payload.size == SIZE * SIZE * 3 // 16
            codec = decoder.family.codec(meta["model"])
            clean = codec.decode(codec.encode(original), SIZE, SIZE)
            assert psnr(original, image) > psnr(original, clean) - 0.5
            assert psnr(original, image) > 14  # the model's clean decode: ~16.5 dB

    # the frame tags on every antenna stream
    fmt = FrameFormat()
    if scheme == "ascc":
        lengths = [
            fmt.frame_symbols(FrameHeader(m["seq"], m["model_index"], 300, m["z_bytes"], m["y_bytes"], SIZE, SIZE))
            for m, _ in sent
        ]
    else:
        lengths = [
            fmt.frame_symbols(FrameHeader.analog_frame(m["seq"], m["model_index"], m["symbols"], SIZE, SIZE))
            for m, _ in sent
        ]
    starts = list(np.cumsum([0] + lengths[:-1]))
    assert [m["start"] for m, _ in received] == starts
    for sink in link.tx_sinks:
        assert len(sink.data()) == sum(lengths)
        tags = sorted((t for t in sink.tags() if pmt.symbol_to_string(t.key) == FRAME_TAG), key=lambda t: t.offset)
        assert [t.offset for t in tags] == starts
        for seq, tag in enumerate(tags):
            config = LinkConfig.from_pmt(tag.value)
            assert config.seq == seq and config.model == CONFIGS[scheme].model
    assert link.tx.beamformer.frames_switched == FRAMES


def test_hier_blocks_reject_an_unknown_scheme():
    with pytest.raises(ValueError, match="scheme"):
        issc.transmitter(scheme="jpeg")
    with pytest.raises(ValueError, match="scheme"):
        issc.comm_receiver(scheme="jpeg")
