"""The air interface: the frame format and polar code, the code calibration, the frame configuration, PDUs, the frame ledger and the link report."""
