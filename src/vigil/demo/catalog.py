"""What the demo platform's resources are made of: names, regions, GPUs, and how each changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from random import Random
from typing import Any

from vigil.events.schemas import ResourceType

PROJECT_NAMES = (
    "Fraud Detection", "Support Copilot", "Search Ranking", "Churn Forecast",
    "Contract Summariser", "Voice Assistant", "Code Review Bot", "Demand Planning",
    "Document OCR", "Recommendations", "Sentiment Monitor", "Clinical Notes",
    "Translation Hub", "Sales Insights", "Knowledge Base QA", "Image Moderation",
)  # fmt: skip
LLM_VARIANTS = ("instruct", "chat", "ft-support", "ft-legal", "ft-sql", "lora-fr", "distilled")
# (family, sizes, where the weights come from, the variants the team makes of it)
MODEL_FAMILIES = (
    ("llama-3", ("8b", "70b"), "meta-llama/Meta-Llama-3-{size}-Instruct", LLM_VARIANTS),
    ("mistral", ("7b",), "mistralai/Mistral-{size}-Instruct-v0.3", LLM_VARIANTS),
    ("mixtral", ("8x7b",), "mistralai/Mixtral-{size}-Instruct-v0.1", LLM_VARIANTS),
    ("qwen2", ("7b", "72b"), "Qwen/Qwen2-{size}-Instruct", LLM_VARIANTS),
    ("gemma-2", ("9b", "27b"), "google/gemma-2-{size}-it", LLM_VARIANTS),
    ("phi-3", ("mini", "medium"), "microsoft/Phi-3-{size}-4k-instruct", LLM_VARIANTS),
    ("whisper", ("small", "large-v3"), "openai/whisper-{size}", ("ft-calls", "distilled")),
    ("bert", ("base", "large"), "google-bert/bert-{size}-uncased", ("ft-intent", "ft-ner")),
)
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-northeast-1")
GPU_TYPES = ("H100-80GB", "A100-80GB", "A100-40GB", "L40S", "A10G", "L4", "T4")
# What each kind of model is served for and measured on: (endpoint purposes, datasets+metrics).
LATENCY = ("latency-suite", "p95_latency_ms")
TEXT_USES = (
    ("chat", "search", "summarise"),
    (("mmlu", "accuracy"), ("gsm8k", "accuracy"), ("humaneval", "pass@1"),
     ("hellaswag", "accuracy"), ("truthfulqa", "mc2"), LATENCY),
)  # fmt: skip
MODEL_USES = {
    "whisper": (("transcribe",), (("librispeech", "wer"), LATENCY)),
    "bert": (("classify", "embed"), (("internal-support-v3", "f1"), LATENCY)),
}
STAGES = ("development", "staging", "production", "archived")
VISIBILITIES = ("private", "team", "organisation")
QUANTIZATIONS = ("none", "int8", "awq", "fp8")
BENCHMARK_NOTES = (
    "re-run with a fixed seed", "baseline for the quarterly review", "compare with last release",
    "flaky: rerun on H100",
)  # fmt: skip
SCORE_RANGES = {
    "accuracy": (0.55, 0.9), "pass@1": (0.3, 0.8), "mc2": (0.4, 0.7), "wer": (0.03, 0.12),
    "f1": (0.7, 0.95), "p95_latency_ms": (120, 900),
}  # fmt: skip
KUBERNETES_VERSIONS = ("1.28", "1.29", "1.30", "1.31")


@dataclass(slots=True)
class Resource:
    """One thing on the platform, and the attributes its events show."""

    kind: ResourceType
    id: str
    attributes: dict[str, Any]


def new_resource(kind: ResourceType, rng: Random, *, models: list[Resource]) -> Resource:
    """A freshly made resource of ``kind``; endpoints and benchmarks use one of ``models``."""
    model = rng.choice(models) if models else None
    match kind:
        case ResourceType.PROJECT:
            return _project(rng)
        case ResourceType.MODEL:
            return _model(rng)
        case ResourceType.ENDPOINT:
            return _endpoint(rng, model)
        case ResourceType.CLUSTER:
            return _cluster(rng)
        case _:
            return _benchmark(rng, model)


def _project(rng: Random) -> Resource:
    name = rng.choice(PROJECT_NAMES)
    attributes = {
        "name": name,
        "visibility": rng.choice(("team", *VISIBILITIES)),
        "monthly_budget_usd": rng.randrange(1000, 25000, 500),
        "default_region": rng.choice(REGIONS),
    }
    return Resource(ResourceType.PROJECT, f"proj-{slug(name)}-{_suffix(rng)}", attributes)


def _model(rng: Random) -> Resource:
    family, sizes, source, variants = rng.choice(MODEL_FAMILIES)
    size = rng.choice(sizes)
    variant = rng.choice(variants)
    attributes: dict[str, Any] = {
        "name": f"{family}-{size}-{variant}",
        "base_model": source.format(size=size.upper() if size[0].isdigit() else size),
        "framework": rng.choice(("pytorch", "pytorch", "vllm", "onnx")),
        "version": f"v{rng.randint(1, 4)}",
        "stage": "development",
        "quantization": rng.choice(("none", *QUANTIZATIONS)),
    }
    if rng.random() < 0.1:
        # A producer that slips a secret into details: Vigil stores "[REDACTED]" instead.
        attributes["hf_token"] = f"hf_{rng.getrandbits(128):032x}"
    resource_id = f"model-{family}-{size}-{variant}-{_suffix(rng)}"
    return Resource(ResourceType.MODEL, resource_id, attributes)


def _uses(model: Resource | None) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """What ``model`` is good for: speech models transcribe, encoders classify, LLMs chat."""
    family = model.id.removeprefix("model-").split("-")[0] if model else ""
    return MODEL_USES.get(family, TEXT_USES)


def _endpoint(rng: Random, model: Resource | None) -> Resource:
    purpose = rng.choice(_uses(model)[0])
    environment = rng.choice(("prod", "prod", "staging", "dev"))
    replicas = rng.choice((1, 2, 2, 3, 4))
    attributes = {
        "name": f"{purpose}-{environment}",
        "model_id": model.id if model else None,
        "region": rng.choice(REGIONS),
        "gpu_type": rng.choice(GPU_TYPES),
        "replicas": replicas,
        "max_replicas": replicas * rng.choice((2, 3, 4)),
        "autoscaling": rng.random() < 0.8,
    }
    resource_id = f"ep-{purpose}-{environment}-{_suffix(rng)}"
    return Resource(ResourceType.ENDPOINT, resource_id, attributes)


def _cluster(rng: Random) -> Resource:
    region = rng.choice(REGIONS)
    use = rng.choice(("training", "inference", "batch"))
    attributes = {
        "name": f"{use}-{region}",
        "region": region,
        "gpu_type": rng.choice(GPU_TYPES[:5]),
        "node_count": rng.choice((2, 4, 4, 8, 16)),
        "kubernetes_version": rng.choice(KUBERNETES_VERSIONS[:3]),
    }
    return Resource(ResourceType.CLUSTER, f"cluster-{use}-{region}-{_suffix(rng)}", attributes)


def _benchmark(rng: Random, model: Resource | None) -> Resource:
    dataset, metric = rng.choice(_uses(model)[1])
    model_name = model.attributes["name"] if model else "baseline"
    attributes = {
        "name": f"{model_name} on {dataset}",
        "model_id": model.id if model else None,
        "dataset": dataset,
        "metric": metric,
        "status": "running",
        "score": None,
    }
    resource_id = f"bench-{dataset}-{rng.getrandbits(24):06x}"
    return Resource(ResourceType.BENCHMARK, resource_id, attributes)


def edit(resource: Resource, rng: Random) -> dict[str, Any]:
    """A believable change to ``resource``: the new value of each field it changes."""
    match resource.kind:
        case ResourceType.PROJECT:
            return _edit_project(resource.attributes, rng)
        case ResourceType.MODEL:
            return _edit_model(resource.attributes, rng)
        case ResourceType.ENDPOINT:
            return _edit_endpoint(resource.attributes, rng)
        case ResourceType.CLUSTER:
            return _edit_cluster(resource.attributes, rng)
        case _:
            return _edit_benchmark(resource.attributes, rng)


def _edit_project(values: dict[str, Any], rng: Random) -> dict[str, Any]:
    field = rng.choice(("visibility", "monthly_budget_usd", "default_region"))
    if field == "monthly_budget_usd":
        steps = (-2000, -500, 1000, 2500, 5000)
        return {field: _step(rng, values[field], steps, low=500, high=50_000)}
    choices = VISIBILITIES if field == "visibility" else REGIONS
    return {field: _other(rng, values[field], choices)}


def _edit_model(values: dict[str, Any], rng: Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.25 and values["stage"] != STAGES[-1]:  # promoted, and one day archived
        return {"stage": STAGES[STAGES.index(values["stage"]) + 1]}
    if roll < 0.4:
        return {"quantization": _other(rng, values["quantization"], QUANTIZATIONS)}
    return {"version": f"v{int(values['version'][1:]) + 1}"}


def _edit_endpoint(values: dict[str, Any], rng: Random) -> dict[str, Any]:
    replicas, ceiling = values["replicas"], values["max_replicas"]
    roll = rng.random()
    scaled = [n for n in (replicas - 1, replicas + 1, replicas * 2) if 1 <= n <= ceiling]
    if roll < 0.6 and [n for n in scaled if n != replicas]:
        return {"replicas": rng.choice([n for n in scaled if n != replicas])}
    if roll < 0.85:
        return {"max_replicas": _step(rng, ceiling, (-2, 2, 4, ceiling), low=replicas, high=64)}
    return {"gpu_type": _other(rng, values["gpu_type"], GPU_TYPES)}


def _edit_cluster(values: dict[str, Any], rng: Random) -> dict[str, Any]:
    newer = [v for v in KUBERNETES_VERSIONS if v > values["kubernetes_version"]]
    if newer and rng.random() < 0.2:
        return {"kubernetes_version": newer[0]}
    return {"node_count": _step(rng, values["node_count"], (-2, 2, 4), low=1, high=64)}


def _edit_benchmark(values: dict[str, Any], rng: Random) -> dict[str, Any]:
    if values["status"] == "running":
        # A finished run reports its score with its status: two fields in one change.
        if rng.random() < 0.85:
            return {"status": "completed", "score": _score(values["metric"], rng)}
        return {"status": "failed"}
    return {"notes": _other(rng, values.get("notes"), BENCHMARK_NOTES)}


def _step(rng: Random, value: int, steps: tuple[int, ...], *, low: int, high: int) -> int:
    """``value`` moved by one of ``steps``, staying within ``low``..``high``."""
    moved = [value + step for step in steps if low <= value + step <= high and step]
    return rng.choice(moved) if moved else value


def _score(metric: str, rng: Random) -> float | int:
    low, high = SCORE_RANGES.get(metric, (0.5, 0.9))
    if metric.endswith("_ms"):
        return rng.randint(int(low), int(high))
    return round(rng.uniform(low, high), 3)


def slug(text: str) -> str:
    """Lower-case words joined by hyphens: "Support Copilot" becomes ``support-copilot``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _suffix(rng: Random) -> str:
    return f"{rng.getrandbits(16):04x}"


def _other(rng: Random, current: Any, choices: tuple[Any, ...]) -> Any:
    return rng.choice([c for c in choices if c != current])
