"""Collectors: what the host, its GPUs and its services look like now, in the snapshot's terms."""
