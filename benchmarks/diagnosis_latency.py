"""Rule-engine latency: p50/p95/p99 per case on the dev set, and on long logs.

Run: `.venv/bin/python benchmarks/diagnosis_latency.py [DATASET.jsonl] [--repeat N]`.
The long-log run buries each case under 2,000 lines of ordinary Spark and Airflow INFO
output, about the size of the excerpt the collectors keep of a huge log.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

from bot.diagnosis.models import Evidence
from bot.diagnosis.rules import RuleEngine
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue

DEFAULT_DATASET = Path(__file__).resolve().parents[1] / "tests" / "eval" / "devset.jsonl"
NOISE_LINES = 2_000
NOISE_TEMPLATES = (
    "24/05/06 03:{m:02d}:{s:02d} INFO TaskSetManager: Finished task {t}.0 in stage {st}.0 "
    "(TID {tid}) in {ms} ms on 10.0.{a}.{b} (executor {e}) ({t}/400)",
    "24/05/06 03:{m:02d}:{s:02d} INFO TaskSetManager: Starting task {t}.0 in stage {st}.0 "
    "(TID {tid}) (10.0.{a}.{b}, executor {e}, partition {t}, PROCESS_LOCAL, 7924 bytes)",
    "24/05/06 03:{m:02d}:{s:02d} INFO BlockManagerInfo: Added broadcast_{st}_piece0 in memory "
    "on 10.0.{a}.{b}:{port} (size: 41.2 KiB, free: 2.1 GiB)",
    "[2024-05-06, 03:{m:02d}:{s:02d} UTC] {{logging_mixin.py:188}} INFO - processed batch {t} "
    "of {tid} rows into s3://acme-lake/stage/dt=2024-05-05/part-{t:05d}.parquet",
    "[2024-05-06, 03:{m:02d}:{s:02d} UTC] {{base.py:84}} INFO - Using connection ID "
    "'warehouse' for task execution.",
)


def to_noise(seed: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - reproducible noise, not a secret
    lines = []
    for _ in range(NOISE_LINES):
        template = rng.choice(NOISE_TEMPLATES)
        lines.append(
            template.format(
                m=rng.randrange(60),
                s=rng.randrange(60),
                t=rng.randrange(400),
                st=rng.randrange(20),
                tid=rng.randrange(100_000),
                ms=rng.randrange(100_000),
                a=rng.randrange(256),
                b=rng.randrange(256),
                e=rng.randrange(64),
                port=rng.randrange(30_000, 60_000),
            )
        )
    return lines


def get_latencies(engine: RuleEngine, texts: list[str], repeat: int) -> list[float]:
    latencies = []
    for text in texts:
        evidence = [Evidence(source="log", text=text)]
        for _ in range(repeat):
            started = time.perf_counter()
            engine.diagnose(evidence)
            latencies.append((time.perf_counter() - started) * 1000)
    return sorted(latencies)


def to_percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


def print_summary(name: str, latencies: list[float]) -> None:
    p50, p95, p99 = (to_percentile(latencies, fraction) for fraction in (0.5, 0.95, 0.99))
    print(f"{name:>10}: n={len(latencies)} p50={p50:.2f} ms p95={p95:.2f} ms p99={p99:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    engine = RuleEngine(load_catalogue(builtin_runbooks_dir()))
    lines = args.dataset.read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    noise = to_noise(seed=7)
    half = len(noise) // 2
    long_texts = ["\n".join([*noise[:half], text, *noise[half:]]) for text in texts]

    get_latencies(engine, texts[:5], 1)
    print_summary("per case", get_latencies(engine, texts, args.repeat))
    print_summary("long logs", get_latencies(engine, long_texts, 1))


if __name__ == "__main__":
    main()
