"""What a larger crop costs the DL stages on this machine: seconds per crop of one training step
(forward and backward, batch of 32) for each architecture of the zoo at 64, 96 and 128 px, as
medians of --repeats timed steps after a warm-up, and the ratio to 64 px (the CPU profile's default).

``dl_pretrain`` runs two such passes per crop per epoch and ``dl_train`` one per crop per epoch per
fold model, so a stage's time scales with these ratios; docs/deep.md turns them into minutes of
``make demo``.

    python benchmarks/dl_resolution_cost.py [--sizes 64 96 128] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from sonorisk.deep.factory import create_model
from sonorisk.deep.train import to_network_input

ZOO = {
    "resnet34": {},
    "vit_small": {"patch_size": 8, "embed_dim": 192, "depth": 4, "num_heads": 3},
    "resnet34_vit": {"stride": 16, "embed_dim": 192, "depth": 4, "num_heads": 3},
}


def seconds_per_crop(name: str, size: int, repeats: int, batch: int = 32) -> float:
    model = create_model(name, input_size=size, normalise="per_image", **ZOO[name]).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    crops = torch.rand(batch, size, size, generator=torch.Generator().manual_seed(0))
    y = (torch.arange(batch) % 2).float()
    times = []
    for step in range(repeats + 1):  # the first step warms allocators and kernels up
        start = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(to_network_input(crops, model.preprocess)), y)
        loss.backward()
        optimiser.step()
        if step:
            times.append((time.perf_counter() - start) / batch)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {}
    for name in ZOO:
        base = None
        for size in args.sizes:
            seconds = seconds_per_crop(name, size, args.repeats)
            base = base or seconds
            ratio = round(seconds / base, 2)
            results[f"{name}@{size}"] = {"ms_per_crop": round(1000 * seconds, 2), "ratio_to_first": ratio}
            print(f"{name:13s} {size:4d} px: {1000 * seconds:7.2f} ms per crop (train step), x{seconds / base:.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
