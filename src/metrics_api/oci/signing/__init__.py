"""Signatures by digest that cosign verifies: keys, cosign's formats, signing and checking."""
