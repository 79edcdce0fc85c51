"""SGDA-trained one-layer GANs: learn y = φ(W*x) and measure the total-variation distance to it."""

__version__ = "0.1.0"
