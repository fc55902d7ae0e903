"""The model's physics: geometry and channels, the finite-blocklength BER, the HCRB, DSP helpers, target motion and the regime map."""
