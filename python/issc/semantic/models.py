# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The task-oriented models of the semantic users: encoder, entropy-coded features, classifier.

    image (in_channels x S x S, [0, 1])
      -> g_a: 3x3 convolutions, ``downsample`` of them with stride 2      -> y: C x S/2^d x S/2^d
      -> EntropyBottleneck(C): y quantised (round(y - median) + median), entropy-coded to a real
         bitstream by CompressAI's rANS coder                             -> y_hat
      -> classifier: two 3x3 convolutions, 2x2 adaptive average pool, linear -> class logits

The rate is set by the feature channels ``C`` and the training weight ``lambda`` of the rate term
(``cross-entropy + lambda * bits per image``, train.py). Weights are stored as fp16 state dicts with the
entropy coder's tables in them (made after the fp16 rounding, so encoder and decoder use the same tables
on every machine) and restored to fp32 by :func:`load_model` (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from pathlib import Path

from ..codec.models import sha256_of

TABLE_KEYS = ("entropy_bottleneck._quantized_cdf", "entropy_bottleneck._cdf_length", "entropy_bottleneck._offset")
CONFIG_KEYS = ("channels", "classes", "in_channels", "size", "width", "downsample")
DEFAULT_WIDTH = 32


def entropy_bottleneck_class():
    """CompressAI's ``EntropyBottleneck``, imported without CompressAI's slow package ``__init__``.

    ``codec.models.coder_class()`` installs a lazy stand-in for that ``__init__`` and imports the entropy
    models under it (about 10 s less start-up than ``import compressai``); after it the import below is a
    lookup in ``sys.modules``.
    """
    from ..codec.models import coder_class

    coder_class()
    from compressai.entropy_models import EntropyBottleneck

    return EntropyBottleneck


def validate_config(config: dict) -> dict:
    """The model configuration as ints, checked (``channels``, ``classes``, ``in_channels``, ``size``,
    ``width``, ``downsample``); raises :class:`~.container.SemanticFormatError` naming the bad key."""
    from .container import SemanticFormatError

    limits = {
        "channels": (1, 1024),
        "classes": (2, 100000),
        "in_channels": (1, 3),
        "size": (2, 1024),
        "width": (1, 1024),
        "downsample": (0, 6),
    }
    out = {}
    for key, (lo, hi) in limits.items():
        value = config.get(key, DEFAULT_WIDTH if key == "width" else None)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise SemanticFormatError(f"model configuration: '{key}' must be an integer in [{lo}, {hi}], got {value!r}")
        out[key] = value
    if out["in_channels"] == 2:
        raise SemanticFormatError("model configuration: 'in_channels' must be 1 (grey) or 3 (RGB)")
    if out["size"] >> out["downsample"] < 1:
        raise SemanticFormatError(f"model configuration: size {out['size']} cannot be halved {out['downsample']} times")
    return out


def feature_side(size: int, downsample: int) -> int:
    """Side of the feature map: each stride-2 3x3 convolution (padding 1) maps ``s`` to ``ceil(s / 2)``."""
    for _ in range(downsample):
        size = (size + 1) // 2
    return size


_MODEL_CLASS = None


def model_class():
    """:class:`SemanticModel` (defined on first use: it needs torch and CompressAI's entropy models)."""
    global _MODEL_CLASS
    if _MODEL_CLASS is None:
        _MODEL_CLASS = _define_model_class()
    return _MODEL_CLASS


def build_model(**config):
    """A new (untrained) :class:`SemanticModel` from a configuration (see :func:`validate_config`)."""
    return model_class()(**validate_config(config))


def _define_model_class():
    import torch
    from torch import nn

    entropy_bottleneck = entropy_bottleneck_class()

    def conv(cin, cout, stride=1):
        return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1)

    class SemanticModel(nn.Module):
        """Encoder, entropy bottleneck and classifier of one semantic model.

        Args:
            channels: feature channels ``C`` (the main rate knob).
            classes: number of classes.
            in_channels: 1 (grey) or 3 (RGB).
            size: side the input images are resized to.
            width: hidden channels of the encoder and the classifier.
            downsample: stride-2 convolutions in the encoder.
        """

        def __init__(self, channels, classes, in_channels=1, size=8, width=DEFAULT_WIDTH, downsample=1):
            super().__init__()
            self.config = validate_config(
                dict(
                    channels=channels,
                    classes=classes,
                    in_channels=in_channels,
                    size=size,
                    width=width,
                    downsample=downsample,
                )
            )
            layers = [conv(in_channels, width), nn.ReLU()]
            for _ in range(downsample):
                layers += [conv(width, width, stride=2), nn.ReLU()]
            layers.append(conv(width, channels))
            self.g_a = nn.Sequential(*layers)
            self.entropy_bottleneck = entropy_bottleneck(channels)
            self.classifier = nn.Sequential(
                conv(channels, width),
                nn.ReLU(),
                conv(width, width),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(2),
                nn.Flatten(),
                nn.Linear(4 * width, classes),
            )
            side = feature_side(size, downsample)
            self.feature_shape = (channels, side, side)

        # -- the pieces ---------------------------------------------------------------------------------
        def medians(self):
            """Per-channel quantisation offsets (the entropy model's medians), shape ``1 x C x 1 x 1``."""
            return self.entropy_bottleneck.quantiles[:, 0, 1].detach().reshape(1, -1, 1, 1)

        def quantise(self, y):
            """``round(y - median) + median``: the values the bitstream carries (as EntropyBottleneck does)."""
            medians = self.medians()
            return torch.round(y - medians) + medians

        def feature_bounds(self):
            """Per-channel ``(low, high)`` that decoded features are clamped to before classification.

            The entropy model's tail quantiles widened by their spread on both sides: clean features lie
            far inside (a value outside is so improbable that the rate loss rules it out), while a
            corrupted stream's escape codes can decode to values of millions, which would otherwise
            swamp the classifier's sums.
            """
            q = self.entropy_bottleneck.quantiles[:, 0, :].detach()
            spread = (q[:, 2] - q[:, 0]).clamp(min=1.0)
            low, high = q[:, 0] - 4 * spread - 1, q[:, 2] + 4 * spread + 1
            return low.reshape(1, -1, 1, 1), high.reshape(1, -1, 1, 1)

        def classify_features(self, features):
            """Class logits of (decoded or in-memory quantised) features; always finite."""
            low, high = self.feature_bounds()
            features = torch.nan_to_num(features.float(), nan=0.0).clamp(min=low, max=high)
            logits = self.classifier(features)
            return torch.nan_to_num(logits, nan=0.0, posinf=1e30, neginf=-1e30)

        def forward(self, x):
            """Training pass: ``(logits, likelihoods)``. The classifier sees the rounded features with a
            straight-through gradient (what it sees after decoding); the rate term uses the entropy
            model's noisy-quantisation likelihoods (CompressAI's training convention)."""
            y = self.g_a(x)
            _, likelihoods = self.entropy_bottleneck(y)
            y_hat = y + (self.quantise(y) - y).detach()
            return self.classifier(y_hat), likelihoods

        # -- storage ------------------------------------------------------------------------------------
        def load_state_dict(self, state_dict, strict=True):
            # the entropy tables are registered empty: size them like the state dict's (as CompressAI does)
            for key in TABLE_KEYS:
                if key in state_dict:
                    self.entropy_bottleneck._buffers[key.split(".")[1]] = torch.empty_like(state_dict[key])
            return super().load_state_dict(state_dict, strict=strict)

        def finalise(self):
            """Round every float parameter to fp16, find the entropy model's quantiles precisely and build
            its tables from the rounded values: the saved fp16 file then restores exactly this model."""
            with torch.no_grad():
                for tensor in self.state_dict().values():
                    if tensor.is_floating_point():
                        tensor.copy_(tensor.half().float())
                self.entropy_bottleneck.update(force=True, update_quantiles=True)
                quantiles = self.entropy_bottleneck.quantiles
                quantiles.copy_(quantiles.half().float())
                self.entropy_bottleneck.update(force=True)
            self.eval()
            return self

    return SemanticModel


def save_fp16(model, path: str | Path) -> str:
    """Save the state dict (floats in fp16, entropy tables int32) atomically; returns the file's sha256."""
    import io

    import torch

    from ..files import atomic_write_bytes

    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return sha256_of(path)


def load_model(path: str | Path, config: dict):
    """A ready-to-code fp32 :class:`SemanticModel` from an fp16 weights file (``weights_only=True``)."""
    import torch

    from .container import SemanticFormatError

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SemanticFormatError(f"weights '{path}': no such file") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable weights file is a clean input error
        raise SemanticFormatError(f"weights '{path}': cannot load ({str(exc)[:200]})") from None
    if not isinstance(state, dict):
        raise SemanticFormatError(f"weights '{path}': not a state dict")
    model = build_model(**config)
    try:
        model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    except (RuntimeError, AttributeError, KeyError) as exc:
        raise SemanticFormatError(f"weights '{path}' do not fit the configuration {config}: {str(exc)[:200]}") from None
    if model.entropy_bottleneck._quantized_cdf.numel() == 0:
        raise SemanticFormatError(f"weights '{path}' have no entropy tables (save after finalise())")
    model.eval()
    return model


__all__ = ["build_model", "load_model", "save_fp16", "feature_side", "validate_config", "entropy_bottleneck_class"]
