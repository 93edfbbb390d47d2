"""The one exception tree of spoofwatch.

    SpoofwatchError
    ├── ConfigError        bad configuration: a key, a value, a file that will not load
    ├── CaptureError       a capture that cannot be read (not a capture, corrupt, missing)
    ├── DecodeError        one malformed packet; carries (layer, reason); never stops the loop
    ├── SinkError          an alert destination that cannot be written
    ├── NsxError           the NSX manager cannot be read (unreachable, refused, bad answer)
    ├── StateError         the binding state (a SQLite file, the shared PostgreSQL) is unusable
    └── ReportError        a report's input (alerts, timeline, snapshot) cannot be read

Foreign exceptions become these at the boundary, with a message an operator can act on.
"""

from __future__ import annotations


class SpoofwatchError(Exception):
    """Base of every error spoofwatch raises on purpose."""


class ConfigError(SpoofwatchError):
    """The configuration (file, key or value) is invalid."""


class CaptureError(SpoofwatchError):
    """A capture file or stream cannot be read."""


class SinkError(SpoofwatchError):
    """An alert destination cannot be opened or written."""


class NsxError(SpoofwatchError):
    """The NSX-T manager could not be read; the message names the URL and the HTTP status."""


class NsxRefused(NsxError):
    """The manager answered, and refused: the path does not exist on it (404) or the user's
    role may not read it (403). Optional reads (a scope a release lacks, the realized VNI) go
    on without it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class StateError(SpoofwatchError):
    """The binding state cannot be used; the operator decides (move it aside, --reset-state,
    upgrade, fix the database's password)."""


class ReportError(SpoofwatchError):
    """An input of `spoofwatch report` cannot be read; the message names the file and line."""


class DecodeError(SpoofwatchError):
    """A packet is malformed at one layer; counted by (layer, reason)."""

    def __init__(self, layer: str, reason: str) -> None:
        super().__init__(f"{layer}: {reason}")
        self.layer = layer
        self.reason = reason
