# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Deep joint source-channel coding (DJSCC), the paper's benchmark (docs/model.md §8).

A convolutional autoencoder in the Bourtsoulatze et al. (2019) family maps an image straight to complex
channel symbols with unit average power; trainable with the AE, VAE or VSCC loss
(the VSCC paper's eq. 10-12, [VSCC] in docs/model.md). Import the torch parts explicitly
(``from gnuradio.issc.djscc.models import ...``).
"""
