"""Slot values and the little template language of the log-tail corpus.

A template is one or more lines (joined by newlines). In it, `{name}` is
replaced by a random value of the slot `name` (see `SLOTS`), and `[a|b|c]`
by one of its alternatives, which is how one template says a message several
ways. Everything here is made up for this project.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable


def _w(text: str) -> list[str]:
    return text.split()


def _a(text: str) -> list[str]:
    return [t.strip() for t in text.split("|")]


def _num(lo: int, hi: int) -> Callable[[random.Random], str]:
    return lambda r: str(r.randint(lo, hi))


def _hexs(n: int) -> Callable[[random.Random], str]:
    return lambda r: "".join(r.choice("0123456789abcdef") for _ in range(n))


def _size(r: random.Random) -> str:
    return r.choice([
        f"{r.randint(1, 79)}.{r.randint(0, 99):02d} GiB", f"{r.randint(2, 900)}.00 MiB",
        f"{r.randint(1, 40)} GB", f"{r.randint(100, 999)}MB", f"{r.randint(1, 64)}G",
    ])  # fmt: skip


def _path(r: random.Random) -> str:
    return r.choice(PATHS)


def _ts(r: random.Random) -> str:
    day = f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
    return f"{day} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"


SLOTS: dict[str, list[str] | Callable[[random.Random], str]] = {
    "unit": _w(
        "vllm api-gateway embedder reranker tgi-server triton ollama nginx caddy postgresql redis "
        "grafana prometheus jupyterhub mlflow minio ray-head sglang llm-router webui label-studio "
        "chat-backend asr-worker tts-service feature-store vector-db qdrant milvus weaviate "
        "model-server batch-scorer ingest etl-runner dcgm-exporter slurmctld slurmd kafka rabbitmq "
        "celery-worker gunicorn-app airflow-scheduler opensearch keycloak gitlab-runner"
    ),
    "prog": _w(
        "python3 python java node server worker app main trainer uvicorn gunicorn ruby perl "
        "dotnet bun deno serve infer run.sh entrypoint launcher torchrun accelerate deepspeed"
    ),
    "user": _w(
        "alice bob carol dave erin frank grace heidi ivan judy kim lee mo nia oli pat quinn ravi "
        "sol tom uma val wu xi yara zed svc-ml www-data postgres redis nobody mlops"
    ),
    "host": _w(
        "db.internal cache-01 10.0.0.5 10.2.4.17 storage.lan auth.svc.cluster.local "
        "s3.us-east-1.amazonaws.com huggingface.co registry.local:5000 mq-2 etcd-0 "
        "kafka-1.kafka:9092 api.openai-proxy.lan 192.168.10.21 nfs-01 ldap.corp minio:9000 "
        "pypi.org redis-master 172.17.0.3 gpu-node-3 rank0-host"
    ),
    "node": _w("gpu-01 gpu-07 node12 dgx-a03 h100-b2 a100-x4 worker-9 cn031 l40s-2 b200-a"),
    "port": _w(
        "80 443 3000 5000 5432 6379 7860 8000 8001 8080 8443 8888 9000 9090 9092 11434 "
        "18080 29500 50051 3306 27017 6006 4317 8265"
    ),
    "pid": _num(300, 99999),
    "n": _num(2, 64),
    "big": _num(1000, 9999999),
    "line": _num(3, 950),
    "col": _num(1, 80),
    "rank": _num(0, 15),
    "gpu": _num(0, 7),
    "xid": lambda r: r.choice(["79", "48", "63", "64", "74", "92", "95", "119", "120", "61", "62"]),
    "pci": lambda r: f"0000:{r.choice(['17', '3b', '5e', '86', 'af', 'd8', '18', '41', 'c1'])}:00.0",
    "hex": _hexs(12),
    "size": _size,
    "ts": _ts,
    "sec": lambda r: r.choice(["30", "60", "120", "300", "600", "1800", "5", "10"]),
    "path": _path,
    "dir": _w(
        "/var/lib/app /srv/models /data/cache /opt/service/state /run/app /scratch/ckpt "
        "/home/alice/runs /mnt/shared/datasets /var/log/app /tmp/work /var/spool/jobs"
    ),
    "file": _w(
        "config.yaml settings.toml app.json model.bin weights.safetensors index.html tokenizer.json "
        "train.csv events.log cert.pem key.pem state.db checkpoint-4000.pt vocab.txt"
    ),
    "key": _w(
        "max_batch_size listen_addr model_path gpu_memory_utilization worker_count log_level "
        "cache_dir timeout_s tensor_parallel upstream_url max_tokens replicas db_dsn tls_cert "
        "bind_host num_workers dtype quantization rope_scaling shm_size"
    ),
    "bad": _w("yes abc -1 'fast' 1.5x none auto8 0x00 999999999999 true_ [] {} 12GB% off-ish bf17 lots"),
    "mod": _w(
        "flash_attn vllm._C xformers triton bitsandbytes transformers.models.qwen3 apex "
        "deepspeed.ops sentencepiece tiktoken fastapi pydantic_core orjson uvloop torchvision "
        "onnxruntime tensorrt_llm megatron.core peft yaml numpy.core._multiarray_umath grpc "
        "psycopg2 google.protobuf sglang.srt mamba_ssm causal_conv1d"
    ),
    "name": _w(
        "FlashAttention LlamaForCausalLM AutoProcessor QuantConfig cached_download "
        "is_torch_fx_proxy SchedulerOutput split_torch_state_dict_into_shards BaseSettings "
        "TypeAdapter get_device_capability EncoderDecoderCache"
    ),
    "lib": _w(
        "libcudart.so.12 libcudnn.so.9 libnccl.so.2 libcublas.so.12 libtorch_cuda.so "
        "libnvinfer.so.10 libssl.so.3 libcrypto.so.1.1 libpython3.11.so.1.0 libstdc++.so.6 "
        "libgomp.so.1 libcuda.so.1 libprotobuf.so.32 libicuuc.so.72 libnvrtc.so.12 libtcmalloc.so.4"
    ),
    "sym": _w(
        "_ZN3c104cuda9SetDeviceEi _ZNK3c1010TensorImpl4sizeEv cudaGetDriverEntryPoint "
        "ncclCommInitRankConfig PyExc_EncodingWarning EVP_MD_fetch _ZN2at4_ops5zeros4callE "
        "cublasLtMatmulAlgoGetHeuristic __cxa_call_terminate"
    ),
    "glibc": _w("GLIBC_2.34 GLIBC_2.38 GLIBCXX_3.4.30 GLIBCXX_3.4.32 CXXABI_1.3.15 GLIBC_2.32"),
    "ver": _w("2.1.0 2.4.1 0.6.3 12.4 11.8 3.11 1.26.4 4.45.2 0.9.1 550.54 535.183 5.0.0 7.2"),
    "var": _w("batch logits mask idx x y out cfg sample tokens hidden labels row item grad model_out"),
    "func": _w(
        "forward collate_fn train_step _compute_loss evaluate main load_batch __getitem__ "
        "step generate preprocess handle_request on_message tokenize run_epoch"
    ),
    "cls": _w("Trainer DataLoader Request Config Worker Batch Sample Tokenizer Model Engine Handler"),
    "dev": _w(
        "/dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm /dev/infiniband/uverbs0 /dev/kfd /dev/fuse "
        "/dev/dri/renderD128 /dev/shm/app /dev/nvme0n1 /dev/ttyUSB0"
    ),
    "sock": _w(
        "/var/run/docker.sock /run/app/app.sock /var/run/postgresql/.s.PGSQL.5432 "
        "/run/containerd/containerd.sock /tmp/.X11-unix/X0 /run/munge/munge.socket.2"
    ),
    "disk": _w("nvme0n1 nvme1n1 sda sdb md0 nvme2n1"),
    "step": _num(10, 90000),
    "loss": lambda r: f"{r.uniform(0.05, 6.0):.4f}",
    "sig": _w("SIGTERM SIGKILL SIGINT SIGHUP"),
    "code": lambda r: r.choice(["1", "1", "2", "3", "70", "101", "134", "139", "255"]),
    "url": _w(
        "http://10.0.0.5:8000/v1/completions https://s3.amazonaws.com/bucket/key "
        "http://localhost:9200/_bulk grpc://triton:8001 https://huggingface.co/api/models "
        "http://model-registry.lan/v2/blobs http://vault:8200/v1/secret redis://cache-01:6379/0"
    ),
}

PATHS = _w(
    "/etc/app/config.yaml /srv/data/shard-00017.tar /var/lib/postgresql/16/main/pg_wal "
    "/home/alice/.cache/huggingface/hub /opt/models/llama-3-8b/model-00002.safetensors "
    "/var/log/app/server.log /run/secrets/api_key /mnt/nfs/datasets/imagenet/train "
    "/etc/ssl/private/server.key /var/cache/app/index.db /scratch/ckpt/step_1200 "
    "/usr/share/app/static /tmp/torchinductor_root/cache /var/spool/slurm/job1234"
)

_SLOT = re.compile(r"\{(\w+)\}")
_ALT = re.compile(r"\[([^\[\]]*\|[^\[\]]*)\]")


def pick(slot: str, r: random.Random) -> str:
    pool = SLOTS[slot]
    return pool(r) if callable(pool) else r.choice(pool)


def fill(template: str, r: random.Random, fixed: dict[str, str] | None = None) -> str:
    """Resolve `[a|b]` alternatives, then `{slot}`s (an unknown slot name is a bug in a template).
    `fixed` holds the slots that keep one value across an example (its unit, its host)."""
    text = _ALT.sub(lambda m: r.choice(m.group(1).split("|")), template)

    def one(m: re.Match[str]) -> str:
        return (fixed or {}).get(m.group(1)) or pick(m.group(1), r)

    return _SLOT.sub(one, text)
