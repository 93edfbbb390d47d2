"""Decoders: one protocol a module, each citing its RFC; `chain` runs them in order."""
