"""What a background campaign costs foreground work on this 2-core CPU, and the other way round.

Times two workloads, each in its own process: a campaign-like one (2HL-512 EP batches, nice 19)
and a foreground one (a 10-layer 64-unit EP net, launch-bound like the test suite), first each
alone, then both at once; prints each one's slowdown (together / alone). Run with nothing else on
the cores. `--threads 1` is the documented set-up (THREADS=1 make campaign, OMP_NUM_THREADS=1 for
foreground work); `--threads 2` shows why two processes that each take both cores are to be avoided.

    python bench/campaign_sharing.py --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

WORKLOAD = r"""
import json, sys, time, torch
from frecore.config import NetConfig, RuleConfig
from frecore.rules import build_rule
threads, kind, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)
if kind == "campaign":
    net_cfg, batch = NetConfig(hidden=(512, 512)), 500
    rule_cfg = RuleConfig(name="ep", free_steps=10, nudge_steps=10)
else:
    net_cfg, batch = NetConfig(hidden=(64,) * 10, beta=0.1), 500
    rule_cfg = RuleConfig(name="ep", free_steps=100, nudge_steps=50)
rule = build_rule(rule_cfg)
net = rule.build_net(net_cfg, (784,), 10, g, torch.device("cpu"))
x, y = torch.rand(batch, 784, generator=g), torch.randint(0, 10, (batch,), generator=g)
rule.compute_gradients(net, x, y)  # warm-up
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    rule.compute_gradients(net, x, y)
    n += 1
print(json.dumps({"kind": kind, "batches_per_s": n / (time.perf_counter() - t0)}))
"""


def start(kind: str, threads: int, seconds: float, nice: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = ["nice", "-n", str(nice), sys.executable, "-c", WORKLOAD, str(threads), kind, str(seconds)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def rate(proc: subprocess.Popen) -> float:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"a workload failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])["batches_per_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="threads of each process (default: 1)")
    p.add_argument("--campaign-threads", type=int,
                   help="threads of the campaign process (default: --threads)")
    p.add_argument("--seconds", type=float, default=30.0, help="timed seconds per measurement (default: 30)")
    a = p.parse_args()
    bg_threads = a.campaign_threads or a.threads
    alone_bg = rate(start("campaign", bg_threads, a.seconds, 19))
    alone_fg = rate(start("foreground", a.threads, a.seconds, 0))
    bg, fg = start("campaign", bg_threads, a.seconds, 19), start("foreground", a.threads, a.seconds, 0)
    together_fg, together_bg = rate(fg), rate(bg)
    print(f"cpu cores: {os.cpu_count()}; campaign {bg_threads} thread(s), foreground {a.threads}; "
          f"{a.seconds:.0f} s per measurement; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"campaign (2HL-512 EP, nice 19): alone {alone_bg:.2f} batch/s, beside foreground "
          f"{together_bg:.2f} -> slowdown {alone_bg / together_bg:.2f}x")
    print(f"foreground (10HL-64 EP):        alone {alone_fg:.2f} batch/s, beside campaign   "
          f"{together_fg:.2f} -> slowdown {alone_fg / together_fg:.2f}x")


if __name__ == "__main__":
    main()
