"""llmosd: a self-operating daemon for GPU servers."""

__version__ = "0.1.0"
