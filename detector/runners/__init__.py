"""Runners: what drives the stages end to end (replay, read-ahead, jobs, daemon, fleet, training).

A runner imports stages; no stage imports a runner. Commands are the only callers.
"""
