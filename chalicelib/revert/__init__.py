"""Opt-in revert (`on_drift: revert`): kind tables plan, one executor calls AWS."""
