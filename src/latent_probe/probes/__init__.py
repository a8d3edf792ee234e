"""Registered probes; importing this package registers them."""
