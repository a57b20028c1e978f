"""Cause lines composed from parts: a class's core phrase inside a frame of some program.

The templates of causes_env.py / causes_code.py are whole messages of known
programs; here a class's phrase (what any program would say) is put into a
frame (how some program says it), so the judge learns the phrase rather
than the program around it. Slot language of slots.py; `{what}` in a frame
is where the phrase goes.
"""

from __future__ import annotations

import random

from llmosd.train.slots import fill

PHRASES = {
    "transient": """
connection refused | connection reset by peer | connection timed out | i/o timeout | read timed out
operation timed out | request timed out after {sec}s | deadline exceeded | network is unreachable
no route to host | temporary failure in name resolution | could not resolve host {host}
the remote end closed the connection | unexpected EOF from {host} | broken pipe | socket hang up
upstream unavailable (503) | service temporarily unavailable | too many requests, retry later
lost connection to {host} | heartbeat timeout | the peer went away | server not responding
preempted by a higher-priority job | evicted: the node is being drained | spot instance reclaimed
NCCL watchdog timeout in allreduce | rendezvous timed out | collective operation timed out
TLS handshake timeout | ECONNRESET | ETIMEDOUT | ECONNREFUSED | EHOSTUNREACH | EAI_AGAIN
""",
    "oom": """
out of memory | CUDA out of memory | not enough memory | cannot allocate memory | memory exhausted
OOM | OOMKilled | killed by the OOM killer | oom-kill | ENOMEM | allocation of {size} failed
memory limit exceeded | exceeded memory limit ({size}) | heap space exhausted | insufficient memory
GPU memory exhausted | ran out of VRAM | failed to allocate {size} on device {gpu} | RESOURCE_EXHAUSTED
CUDA_ERROR_OUT_OF_MEMORY | cudaErrorMemoryAllocation | std::bad_alloc | MemoryError
""",
    "bad_config": """
invalid configuration | configuration error | unknown option '{key}' | unknown directive '{key}'
invalid value '{bad}' for {key} | missing required setting {key} | malformed config file
syntax error in {dir}/{file} at line {line} | unrecognized argument --{key} | unexpected key '{key}'
could not parse the config: {file} line {line} | bad directive | illegal option -- {key}
'{key}' must be a [number|boolean|string], got '{bad}' | conflicting settings for {key}
config validation failed | invalid setting {key}={bad} | no such option: {key}
""",
    "permission": """
permission denied | access denied | operation not permitted | EACCES | EPERM | forbidden (403)
insufficient permissions | not authorized | unauthorized to open {path} | access to {dev} denied
cannot open {path}: permission denied | must be run as root | requires CAP_SYS_ADMIN
read access to {path} refused | write access to {dir} refused | denied by AppArmor | denied by SELinux
""",
    "port_in_use": """
address already in use | port {port} already in use | EADDRINUSE | bind: address already in use
port {port} is taken | port is already allocated | another process is listening on :{port}
failed to bind 0.0.0.0:{port} | could not bind to port {port} | socket address {port} in use
""",
    "broken_release": """
No module named '{mod}' | cannot import name '{name}' | {lib}: cannot open shared object file
undefined symbol: {sym} | version `{glibc}' not found | module '{mod}' not found
missing library {lib} | failed to load {lib} | class not found | cannot find module '{mod}'
incompatible version of {mod} (built for {ver}) | ABI mismatch with {lib} | executable not found
""",
    "job_bug": """
TypeError | KeyError: '{var}' | IndexError: index out of range | NullPointerException
segmentation fault | assertion failed: {var} | nil pointer dereference | division by zero
undefined is not a function | unhandled exception in {func} | stack overflow | ValueError: bad shape
loss is NaN | shape mismatch ({n} vs {n}) | AttributeError: '{cls}' has no attribute '{var}'
""",
    "hardware": """
Xid {xid} | uncorrectable ECC error | GPU has fallen off the bus | GPU is lost | PCIe bus error
NVLink error on link {n} | machine check exception | EDAC uncorrectable memory error
I/O error on /dev/{disk} | disk failure on {disk} | double-bit ECC error | row remapping failed
device {pci} not responding | hardware error | fatal NVSwitch error | DIMM failure
""",
}

FRAMES = """
{prog}: {what}
{prog}: error: {what}
ERROR {prog}: {what}
[{unit}] fatal: {what}
{unit}: failed to start: {what}
Error: {what}
fatal error: {what}
{prog} aborted: {what}
E {ts} {func}.cc:{line}] {what}
level=error component={unit} msg="{what}"
ERROR [{cls}] {what}
*** {what} ***
{unit} exited: {what}
Caused by: {what}
failed to [start|serve|run step {step}|load the model|open the listener]: {what}
worker {rank} died: {what}
{what} (while handling {func})
[{prog}] {what}, giving up
"""


def _alts(block: str) -> list[str]:
    return [p.strip() for line in block.strip().splitlines() for p in line.split(" | ") if p.strip()]


def composed(label: str, r: random.Random, fixed: dict[str, str]) -> str:
    """One cause line of `label`: a phrase of the class in a random frame."""
    phrase = fill(r.choice(_alts(PHRASES[label])), r, fixed)
    frame = r.choice([f for f in FRAMES.strip().splitlines() if f.strip()])
    return fill(frame.replace("{what}", "\0"), r, fixed).replace("\0", phrase)
