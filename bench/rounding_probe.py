"""How much of EP's float32 update is rounding, layer by layer, on this device.

Table 2's plain 10-symm chain trains worse in a CPU's float32 than on a GPU or in float64
(docs/readings.md): its feedback (beta_i = 0.1 per block) leaves the nudge's trace in the bottom
layers far below float32's resolution. This measures, for one batch, the row's EP update in float32
against the same net's in float64 (the weights cast up): per weight, the cosine of the two updates,
the float32 update's norm over the float64 one's, and the share of its entries that are exactly 0;
and per layer whether the free phase ended on a float32 fixed point (one more free step changes no
bit). Run it on a CPU and on a GPU with the same weights to see where the two devices differ.

    OMP_NUM_THREADS=1 python bench/rounding_probe.py \
        --checkpoint results/campaign/control-10symm-f64/checkpoint.pt
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

from frecore.config import ConfigError, override
from frecore.experiments.registry import discover, plan
from frecore.rules import build_rule
from frecore.training.data import load_dataset


def _net(cfg, dtype: str, state: dict | None, device: torch.device, shape, n_out):
    c = override(cfg, net={"dtype": dtype})
    rule = build_rule(c.rule)
    net = rule.build_net(c.net, shape, n_out, torch.Generator().manual_seed(c.seed), device)
    if state is not None:
        net.load_state_dict({k: v.to(dtype=getattr(torch, dtype)) if v.is_floating_point() else v
                             for k, v in state.items()})
    return rule, net


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="table2")
    ap.add_argument("--row", default="MNIST 10-symm Ours")
    ap.add_argument("--checkpoint", default=None,
                    help="a training checkpoint of the row (fit's); default: the seed-0 initial net")
    ap.add_argument("--batch", type=int, default=500, help="training images measured on")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    try:
        discover()
        (run,) = plan(args.experiment, "paper", rows=[args.row], seeds=[0],
                      data_root=os.environ.get("FRECORE_DATA"))
        if run.config.rule.name != "ep":
            raise ConfigError(f"{args.row!r} is not trained by EP")
        device = torch.device(args.device)
        data = load_dataset(override(run.config, data={"train_subset": args.batch, "test_subset": 1}).data,
                            device=device, dtype=torch.float64)
        state = None
        if args.checkpoint:
            ckpt = torch.load(args.checkpoint, map_location=device, weights_only=False)
            if not isinstance(ckpt, dict) or "net" not in ckpt or len(ckpt.get("members", [None])) != 1:
                raise ConfigError(f"{args.checkpoint} is not one run's training checkpoint (a group's "
                                  f"holds its members' weights stacked)")
            state = ckpt["net"]
            print(f"weights: {args.checkpoint}, after epoch {ckpt['epoch']}")
        # built here: a checkpoint of other shapes is one error line
        nets = {d: _net(run.config, d, state, device, data.input_shape, data.n_classes)
                for d in ("float64", "float32")}
    except (ConfigError, ValueError, RuntimeError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    x, y = data.train.x[:args.batch], data.train.y[:args.batch]
    grads: dict[str, list[torch.Tensor]] = {}
    computed_in: set[str] = set()  # the dtypes the updates really came out in
    fixed: list[float] = []
    for dtype, (rule, net) in nets.items():
        xd = x.to(getattr(torch, dtype))
        rule.compute_gradients(net, xd, y)
        computed_in |= {str(w.grad.dtype) for w in net.weights()}
        grads[dtype] = [w.grad.double().flatten() for w in net.weights()]
        named = {id(p): n for n, p in net.named_parameters()}
        names = [named[id(w)] for w in net.weights()]
        if dtype == "float32":
            with torch.no_grad():
                free = net.relax(net.input_drive(xd), run.config.rule.free_steps)
                again = net.relax(net.input_drive(xd), 1, start=free)
                fixed = [(a != b).double().mean().item() for a, b in zip(free.state, again.state)]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{args.experiment} / {args.row}, batch {args.batch}, {device} ({where}), torch "
          f"{torch.__version__}")
    print("updates compared: " + " vs ".join(sorted(computed_in)))
    print("| weight | cosine f32 vs f64 | norm f32 / f64 | f32 entries exactly 0 |")
    print("|---|---|---|---|")
    for name, g32, g64 in zip(names, grads["float32"], grads["float64"]):
        cos = torch.nn.functional.cosine_similarity(g32, g64, dim=0).item()
        ratio = (g32.norm() / g64.norm()).item() if g64.norm() > 0 else float("nan")
        print(f"| {name} | {cos:.3f} | {ratio:.3g} | {(g32 == 0).double().mean().item():.3f} |")
    print("free phase, float32: share of each layer's units that one more free step changes: "
          + ", ".join(f"{v:.3f}" for v in fixed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
