# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The standard codecs (codec/standard.py): HEVC intra (pillow-heif) and JPEG (Pillow) operating points.
Round trips against the libraries' own decoding of the whole file, determinism, corrupted payloads giving
a finite image (mid-grey when the decoder rejects them), refusal of implausible containers before any work,
and the profile's ``codec`` entries."""

import io

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnuradio.issc.codec import standard
from gnuradio.issc.codec.container import CodecFormatError, ContainerHeader, pack
from gnuradio.issc.codec.fit import flip_bits, measure_curves, merge_profiles
from gnuradio.issc.codec.images import load_rgb, shipped_images
from gnuradio.issc.codec.profile import FAMILY_PROFILES, CodecProfile, ProfileError, load_profile
from gnuradio.issc.codec.standard import FALLBACK_LEVEL, StandardCodec, parse_model_id, unpack_standard
from gnuradio.issc.metrics import psnr

HEIF_MISSING = standard.heif_available()
needs_heif = pytest.mark.skipif(bool(HEIF_MISSING), reason=HEIF_MISSING or "pillow-heif present")


@pytest.fixture(scope="module")
def photo():
    """A held-out 256 x 256 photo."""
    return load_rgb(shipped_images()[0])


@pytest.fixture(scope="module")
def small(photo):
    """A 64 x 48 crop (odd chroma-subsampled sizes are covered by 37 x 53 below)."""
    return np.ascontiguousarray(photo[100:164, 60:108])


def library_decode(codec: str, data: bytes) -> np.ndarray:
    """The whole file decoded by the library itself, without the codec's rebuild."""
    if codec == "hevc":
        import pillow_heif

        return np.asarray(pillow_heif.open_heif(io.BytesIO(data)).to_pillow().convert("RGB"))
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def model_ids():
    return (["hevc-q0", "hevc-q30"] if not HEIF_MISSING else []) + ["jpeg-q10", "jpeg-q75"]


@pytest.mark.parametrize("model_id", model_ids())
def test_round_trip_rebuilds_the_file_and_decodes_as_the_library_does(photo, model_id):
    """The payload plus the rebuilt structure is byte for byte the encoder's file; decode_parts gives the
    library's own decoding of that file; the container round trip gives the same image."""
    codec = StandardCodec([model_id])
    name, quality = parse_model_id(model_id)
    header, payload = codec.encode_parts(photo, model_id)
    whole = codec.encode_file(photo, model_id)
    assert header == ContainerHeader(model_id, 256, 256, 0, len(payload))
    assert len(whole) > len(payload) and whole.find(payload) >= 0
    assert standard._template(name, quality, 256, 256).rebuild(payload) == whole
    decoded = codec.decode_parts(header, payload)
    assert decoded.dtype == np.float32 and decoded.shape == photo.shape
    assert np.array_equal(np.round(decoded * 255).astype(np.uint8), library_decode(name, whole))
    assert np.array_equal(codec.decode(codec.encode(photo, model_id)), decoded)
    assert psnr(photo, decoded) > (20.0 if quality <= 10 else 28.0)


@needs_heif
def test_quality_orders_rate_and_psnr_and_hevc_beats_jpeg(photo):
    """Higher quality: more payload and a higher PSNR; HEVC intra at a lower rate than JPEG is still better
    (the reason the mixed family exists)."""
    codec = StandardCodec(["hevc-q0", "hevc-q20", "hevc-q40", "jpeg-q10"])
    rows = {}
    for model_id in codec.model_ids:
        header, payload = codec.encode_parts(photo, model_id)
        rows[model_id] = (len(payload), psnr(photo, codec.decode_parts(header, payload)))
    assert rows["hevc-q0"][0] < rows["hevc-q20"][0] < rows["hevc-q40"][0]
    assert rows["hevc-q0"][1] < rows["hevc-q20"][1] < rows["hevc-q40"][1]
    assert rows["hevc-q20"][0] < rows["jpeg-q10"][0] and rows["hevc-q20"][1] > rows["jpeg-q10"][1]


@pytest.mark.parametrize("model_id", model_ids())
def test_encoding_is_deterministic_and_float_images_round_like_uint8(photo, small, model_id):
    """The same image and quality give the same bytes (also after coding other images); a float image in
    [0, 1] codes as its rounded uint8 version; odd sizes (37 x 53) round-trip their shape."""
    codec = StandardCodec([model_id])
    first = codec.encode_parts(photo, model_id)
    codec.encode_parts(small, model_id)
    assert codec.encode_parts(photo, model_id) == first
    assert StandardCodec([model_id]).encode_parts(photo.astype(np.float32) / 255.0, model_id) == first
    odd = np.ascontiguousarray(photo[:37, :53])
    header, payload = codec.encode_parts(odd, model_id)
    assert codec.decode_parts(header, payload).shape == (37, 53, 3)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    model=st.sampled_from(model_ids()),
    seed=st.integers(0, 2**32 - 1),
    log10_ber=st.floats(-4.0, -0.3),
    cut=st.one_of(st.none(), st.floats(0.0, 1.2)),
)
def test_corrupted_payloads_decode_to_a_finite_image(small, model, seed, log10_ber, cut):
    """Bit flips at BERs 1e-4..0.5, truncation and padding: always an H x W x 3 float32 image in [0, 1]."""
    codec = StandardCodec([model])
    header, payload = codec.encode_parts(small, model)
    rng = np.random.default_rng(seed)
    damaged = flip_bits(payload, max(1, rng.binomial(8 * len(payload), 10.0**log10_ber)), rng)
    if cut is not None:
        damaged = damaged[: int(cut * len(damaged))]
    image = codec.decode_parts(header, damaged)
    assert image.shape == small.shape and image.dtype == np.float32
    assert np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0


@needs_heif
def test_a_rejected_hevc_stream_is_mid_grey(small):
    """A NAL unit length beyond the payload (its first four bytes) makes libheif refuse the stream: the
    result is the documented fallback, flat mid-grey, not an exception."""
    codec = StandardCodec(["hevc-q10"])
    header, payload = codec.encode_parts(small, "hevc-q10")
    assert int.from_bytes(payload[:4], "big") <= len(payload)  # mdat starts with a NAL length
    broken = b"\xff\xff\xff\xff" + payload[4:]
    with pytest.raises(Exception):  # noqa: B017 (whatever the library raises: it must refuse)
        library_decode("hevc", standard._template("hevc", 10, *small.shape[:2]).rebuild(broken))
    image = codec.decode_parts(header, broken)
    assert np.all(image == np.float32(FALLBACK_LEVEL))


def test_bad_ids_headers_and_images_are_refused():
    """Model ids name a codec and a quality in range (no leading zeros); a header with a z string, an
    unknown model or sides out of range, and a non-RGB image raise CodecFormatError."""
    for bad in ("hevc-q101", "jpeg-q0", "hevc-q007", "bpg-q10", "hevc", "hp3", 5):
        with pytest.raises(CodecFormatError):
            parse_model_id(bad)
    assert parse_model_id("jpeg-q100") == ("jpeg", 100)
    codec = StandardCodec(["jpeg-q50"])
    with pytest.raises(CodecFormatError, match="z_bytes"):
        codec.decode_parts(ContainerHeader("jpeg-q50", 8, 8, 4, 10), bytes(14))
    with pytest.raises(CodecFormatError, match="unknown codec model"):
        codec.decode_parts(ContainerHeader("jpeg-q60", 8, 8, 0, 10), bytes(10))
    with pytest.raises(CodecFormatError, match="height"):
        codec.decode_parts(ContainerHeader("jpeg-q50", 5000, 8, 0, 10), bytes(10))
    with pytest.raises(CodecFormatError, match="H x W x 3"):
        codec.encode_parts(np.zeros((8, 8), np.uint8), "jpeg-q50")
    with pytest.raises(CodecFormatError, match="duplicate"):
        StandardCodec(["jpeg-q50", "jpeg-q50"])


def test_implausible_containers_are_refused_before_any_coding(monkeypatch):
    """A few bytes claiming a 4096 x 4096 image, a z string, or a learned model's id are refused by
    unpack_standard before the file structure is built (the encoder is never called)."""

    def no_coding(*args):
        raise AssertionError("coding work for a refused container")

    monkeypatch.setattr(standard, "_encode_file", no_coding)
    standard._template.cache_clear()
    codec = StandardCodec(["jpeg-q50"])
    huge = pack(ContainerHeader("jpeg-q50", 4096, 4096, 0, 100), bytes(100))
    with pytest.raises(CodecFormatError, match="at least 1024 payload bytes"):
        codec.decode(huge)
    with pytest.raises(CodecFormatError, match="z_bytes = 0"):
        unpack_standard(pack(ContainerHeader("jpeg-q50", 8, 8, 8, 8), bytes(16)))
    with pytest.raises(CodecFormatError, match="standard-codec model id"):
        unpack_standard(pack(ContainerHeader("hp3", 8, 8, 0, 8), bytes(8)))
    with pytest.raises(CodecFormatError, match="bad magic"):
        unpack_standard(b"JUNK" + bytes(40))
    with pytest.raises(CodecFormatError, match="says"):
        unpack_standard(pack(ContainerHeader("jpeg-q50", 8, 8, 0, 8), bytes(8)) + b"x")


@pytest.mark.filterwarnings("ignore::scipy.optimize.OptimizeWarning")  # four BERs: a loose fit, not the point
def test_fit_measures_standard_codecs_like_learned_ones(small):
    """measure_curves on a StandardCodec: at BER 1e-9 the distortion is the clean one, at 0.3 it is far
    worse; the profile built from the curves marks the codec and loads."""
    from gnuradio.issc.codec.fit import distortions, profile_from_curves

    codec = StandardCodec(["jpeg-q30"])
    header, payload = codec.encode_parts(small, "jpeg-q30")
    clean = distortions(small, codec.decode_parts(header, payload))
    curves = measure_curves(codec, [small], bers=(1e-9, 1e-4, 1e-2, 0.3), repetitions=3)
    curve = curves["jpeg-q30"]
    assert curve["R_s_bits"] == 8 * len(payload)
    assert curve["mse"][0] == pytest.approx(clean["mse"], rel=1e-4)
    assert curve["mse"][-1] > 5 * clean["mse"] and curve["ms_ssim"][-1] > clean["ms_ssim"]
    profile = profile_from_curves(curves, {}, (3, 64, 48), "test", {})
    assert profile["models"][0]["codec"] == "jpeg"
    loaded = CodecProfile.from_dict(profile)
    assert loaded.models[0].codec == "jpeg" and loaded.to_dict()["models"][0]["codec"] == "jpeg"


@pytest.mark.parametrize(
    "mutate,key,words",
    [
        (lambda m: m.update(codec="bpg"), "models[0].codec", "must be one of"),
        (lambda m: m.update(codec="hevc"), "models[0].id", "hevc-q<quality>"),
        (lambda m: m.update(codec="jpeg", id="hevc-q10"), "models[0].id", "jpeg-q<quality>"),
        (lambda m: m.update(codec="hevc", id="hevc-q200"), "models[0].id", "quality"),
    ],
)
def test_profile_codec_entries_are_validated(tmp_path, mutate, key, words):
    """A profile entry's codec is hyperprior (default), hevc or jpeg, and a standard entry's id names its
    operating point; errors name the file and the key."""
    data = load_profile().to_dict()
    mutate(data["models"][0])
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert "bad.yml" in str(err.value) and f"'{key}'" in str(err.value) and words in str(err.value)


def test_shipped_family_profiles():
    """The mixed profile holds every learned model and HEVC operating points spanning the learned rates; the
    HEVC and JPEG profiles hold only their codec; every fit is good (R^2 > 0.97)."""
    learned = load_profile(FAMILY_PROFILES["learned"])
    mixed = load_profile(FAMILY_PROFILES["mixed"])
    assert {m.codec for m in learned.models} == {"hyperprior"}
    assert {m.id for m in learned.models} <= {m.id for m in mixed.models}
    hevc = [m for m in mixed.models if m.codec == "hevc"]
    assert 4 <= len(hevc) <= 8
    assert hevc[0].r_s_bits <= learned.models[0].r_s_bits and hevc[-1].r_s_bits >= 0.8 * learned.models[-1].r_s_bits
    for name in ("hevc", "jpeg"):
        profile = load_profile(FAMILY_PROFILES[name])
        assert {m.codec for m in profile.models} == {name}
        assert all(fit.r2 > 0.97 for m in profile.models for fit in m.fits.values())
    with pytest.raises(ProfileError, match="both have model"):
        merge_profiles([learned.to_dict(), learned.to_dict()], "twice")


PROBE = """
import sys, hashlib, numpy as np
import gnuradio
gnuradio.__path__.insert(0, sys.argv[1])
from gnuradio.issc.codec.standard import StandardCodec
image = np.load(sys.argv[2])
for model in sys.argv[3:]:
    print(hashlib.sha256(StandardCodec([model]).encode(image, model)).hexdigest())
"""


def test_bytes_are_the_same_in_a_fresh_process(small, tmp_path):
    """A fresh interpreter (its own x265 thread pool, its own template cache) writes the same containers."""
    import hashlib
    import subprocess
    import sys
    from pathlib import Path

    models = model_ids()
    np.save(tmp_path / "image.npy", small)
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo / "python"), str(tmp_path / "image.npy"), *models],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [hashlib.sha256(StandardCodec([m]).encode(small, m)).hexdigest() for m in models]


@needs_heif
def test_family_codec_dispatches_on_the_model_id(small):
    """FamilyCodec codes a learned id with the learned family and a standard id with StandardCodec, with the
    same results as each alone, from parts and from containers; its ids are the learned and the mixed ones."""
    from gnuradio.issc.codec.codec import SemanticCodec
    from gnuradio.issc.codec.standard import FamilyCodec

    family = FamilyCodec.load(lazy=True)
    mixed = {m.id for m in load_profile(FAMILY_PROFILES["mixed"]).models}
    assert set(family.model_ids) == mixed
    learned = SemanticCodec.load(lazy=True)
    for model_id, alone in (("hp1", learned), ("hevc-q10", StandardCodec(["hevc-q10"]))):
        parts = family.encode_parts(small, model_id)
        assert parts == alone.encode_parts(small, model_id)
        expected = alone.decode_parts(*parts)
        assert np.array_equal(family.decode_parts(*parts), expected)
        assert np.array_equal(family.decode(family.encode(small, model_id)), expected)
