"""Behaviour: per-port window features, their distance from normal windows, the model file."""
