"""spoofwatch: passive detection of address spoofing in virtualized overlay networks."""

__version__ = "0.1.0"
