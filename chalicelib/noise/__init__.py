"""Noise under control: ignore rules and dated exceptions, applied to findings after the
comparison (which stays exact), so what is silenced is always counted and shown."""
