#!/usr/bin/env python3
"""
The official HRM training step (and evaluation run) in PyTorch on the CPU: the yardstick for `npm run bench --
--pytorch`, which alternates it with hrm-ts on the same configurations and reports the speed ratio. Optional:
nothing else in the repository needs Python.

It computes what sapientinc/HRM computes in float32 (HierarchicalReasoningModel_ACTV1 in an ACTLossHead,
pretrain.py's step): the no-grad cycles and the 1-step gradient, ACT halting with exploration, the bootstrapped
Q target (a second inner forward), the stablemax loss and both Q losses, the backward of (1/B) * loss, sparse
sign-SGD on the puzzle embedding and AdamATan2 on the rest. Attention is the official code's PyTorch fallback
(softmax(q k^T / sqrt(d)) v; flash-attn is CUDA-only). Written for torch 1.13, which Debian ships.

  python3 bench/pytorch/hrm_step.py --check tests/fixtures/hrm-official/tiny-rope
      six training steps from the official checkpoint and batch; every loss compared with the fixture's
  python3 bench/pytorch/hrm_step.py '{"config": "full", "mode": "train", "batch": 32, "reps": 3}'
      a bench case (bench/model-worker.ts's JSON): prints one JSON line with its median time

Threads: torch.set_num_threads(HRM_NUM_THREADS or the CPUs this process may use). The matrix products run on
whatever BLAS torch was built with; Debian's torch uses the system libblas, which must be OpenBLAS (apt install
libopenblas0-pthread), not the reference BLAS (~100x slower). OpenBLAS picks its kernels from the CPU model and
falls back to old SSE3 ones on CPUs it does not know (it printed "Prescott" on this project's Xeon VM): set
OPENBLAS_CORETYPE (SkylakeX for AVX-512, Haswell for AVX2) there. The first line on stderr names what is used.
"""
import json
import math
import os
import sys
import time

# Threading, tuned before torch loads its OpenMP runtime: torch's OpenMP threads and OpenBLAS's own pthreads take
# turns on the same cores, and with libgomp's default spinning each pool burns the cores the other needs (here,
# 2 cores: one puzzle's 16 segments 8.2 s by default, 2.0 s with GOMP_SPINCOUNT=10000; 1000 gave 2.1 s and a
# 23% slower small training step, 100000 4.8 s, OMP_WAIT_POLICY=PASSIVE 2.6 s and 40% slower small training).
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "10000"

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

IGNORE = -100
CONFIGS = {  # bench/model-worker.ts CONFIGS
    "full": dict(hidden_size=512, num_heads=8, H_layers=4, L_layers=4, seq_len=81, vocab_size=11),
    "small": dict(hidden_size=128, num_heads=4, H_layers=2, L_layers=2, seq_len=81, vocab_size=11),
    "arc": dict(hidden_size=512, num_heads=8, H_layers=4, L_layers=4, seq_len=900, vocab_size=12),
}
DEFAULTS = dict(H_cycles=2, L_cycles=2, expansion=4, rms_norm_eps=1e-5, rope_theta=10000.0, halt_max_steps=16,
                halt_exploration_prob=0.1, num_puzzle_identifiers=1)


def rms_norm(x, eps):
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, D, NH):
        super().__init__()
        self.NH, self.HD = NH, D // NH
        self.qkv_proj = nn.Linear(D, 3 * D, bias=False)
        self.o_proj = nn.Linear(D, D, bias=False)

    def forward(self, x, cos, sin):
        B, S, D = x.shape
        qkv = self.qkv_proj(x).view(B, S, 3 * self.NH, self.HD)
        q, k, v = qkv[:, :, : self.NH], qkv[:, :, self.NH : 2 * self.NH], qkv[:, :, 2 * self.NH :]
        c, s = cos.unsqueeze(-2), sin.unsqueeze(-2)
        q, k = q * c + rotate_half(q) * s, k * c + rotate_half(k) * s
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, NH, S, HD]
        p = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.HD ** -0.5, dim=-1)
        return self.o_proj(torch.matmul(p, v).transpose(1, 2).reshape(B, S, D))


class SwiGLU(nn.Module):
    def __init__(self, D, expansion):
        super().__init__()
        F_ = -(round(expansion * D * 2 / 3) // -256) * 256
        self.gate_up_proj = nn.Linear(D, 2 * F_, bias=False)
        self.down_proj = nn.Linear(F_, D, bias=False)

    def forward(self, x):
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c["hidden_size"], c["num_heads"])
        self.mlp = SwiGLU(c["hidden_size"], c["expansion"])
        self.eps = c["rms_norm_eps"]

    def forward(self, x, cos, sin):  # post-norm
        x = rms_norm(x + self.self_attn(x, cos, sin), self.eps)
        return rms_norm(x + self.mlp(x), self.eps)


class Level(nn.Module):
    def __init__(self, c, n):
        super().__init__()
        self.layers = nn.ModuleList(Block(c) for _ in range(n))

    def forward(self, z, injection, cos, sin):
        z = z + injection
        for layer in self.layers:
            z = layer(z, cos, sin)
        return z


class Embedding(nn.Module):  # official CastedEmbedding: the table is `embedding_weight`
    def __init__(self, n, d, std):
        super().__init__()
        self.embedding_weight = nn.Parameter(torch.randn(n, d) * std)


class PuzzleEmbedding(nn.Module):  # official CastedSparseEmbedding: `weights`, trained by sign-SGD on batch rows
    def __init__(self, n, d):
        super().__init__()
        self.register_buffer("weights", torch.zeros(n, d))
        self.local = None


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c["hidden_size"]
        self.c, self.D, self.P = c, D, 1  # puzzle_emb_ndim = hidden_size: one puzzle position
        self.embed_tokens = Embedding(c["vocab_size"], D, D ** -0.5)
        self.lm_head = nn.Linear(D, c["vocab_size"], bias=False)
        self.q_head = nn.Linear(D, 2, bias=True)
        with torch.no_grad():
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5)
        self.puzzle_emb = PuzzleEmbedding(c["num_puzzle_identifiers"], D)
        self.H_level, self.L_level = Level(c, c["H_layers"]), Level(c, c["L_layers"])
        self.register_buffer("H_init", torch.randn(D))
        self.register_buffer("L_init", torch.randn(D))
        HD, S = D // c["num_heads"], c["seq_len"] + self.P
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))
        freqs = torch.outer(torch.arange(S, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def embeddings(self, inputs, pids, training):
        tok = F.embedding(inputs.long(), self.embed_tokens.embedding_weight)
        pe = self.puzzle_emb
        if training:  # the batch rows of the puzzle table, as a leaf the backward fills (sign-SGD reads it)
            pe.local = pe.weights[pids.long()].clone().requires_grad_(True)
            rows = pe.local
        else:
            rows = pe.weights[pids.long()]
        return math.sqrt(self.D) * torch.cat((rows.view(-1, 1, self.D), tok), dim=-2)

    def forward(self, zH, zL, inputs, pids, training):
        c, cos, sin = self.c, self.cos, self.sin
        emb = self.embeddings(inputs, pids, training)
        with torch.no_grad():
            for h in range(c["H_cycles"]):
                for l in range(c["L_cycles"]):
                    if not (h == c["H_cycles"] - 1 and l == c["L_cycles"] - 1):
                        zL = self.L_level(zL, zH + emb, cos, sin)
                if h != c["H_cycles"] - 1:
                    zH = self.H_level(zH, zL, cos, sin)
        zL = self.L_level(zL, zH + emb, cos, sin)  # the 1-step gradient
        zH = self.H_level(zH, zL, cos, sin)
        q = self.q_head(zH[:, 0])
        return zH.detach(), zL.detach(), self.lm_head(zH)[:, self.P :], q[..., 0], q[..., 1]


def stablemax_ce(logits, labels):
    x = logits.double()
    s = torch.where(x < 0, 1 / (1 - x + 1e-30), x + 1)
    logp = torch.log(s / s.sum(-1, keepdim=True))
    valid = labels != IGNORE
    picked = torch.gather(logp, -1, torch.where(valid, labels, 0).long().unsqueeze(-1)).squeeze(-1)
    return -torch.where(valid, picked, torch.zeros_like(picked))


class Trainer:
    """ACT wrapper + loss head + both optimizers: one official training step per call."""

    def __init__(self, inner, B, lr=1e-4, betas=(0.9, 0.95), wd=0.1, emb_lr=1e-2, emb_wd=0.1):
        self.inner, self.B = inner, B
        self.lr, self.b1, self.b2, self.wd, self.emb_lr, self.emb_wd = lr, *betas, wd, emb_lr, emb_wd
        self.params = [p for p in inner.parameters()]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0
        c = inner.c
        S = c["seq_len"] + inner.P
        self.zH, self.zL = torch.zeros(B, S, inner.D), torch.zeros(B, S, inner.D)
        self.steps = torch.zeros(B, dtype=torch.int32)
        self.halted = torch.ones(B, dtype=torch.bool)
        self.data = None

    def step(self, batch):
        inner, c = self.inner, self.inner.c
        h3 = self.halted.view(-1, 1, 1)
        zH = torch.where(h3, inner.H_init, self.zH)
        zL = torch.where(h3, inner.L_init, self.zL)
        steps = torch.where(self.halted, torch.zeros_like(self.steps), self.steps)
        if self.data is None:
            self.data = {k: v.clone() for k, v in batch.items()}
        hv = lambda t: self.halted.view((-1,) + (1,) * (t.ndim - 1))  # noqa: E731
        self.data = {k: torch.where(hv(batch[k]), batch[k], self.data[k]) for k in batch}
        d = self.data
        zH, zL, logits, q_halt, q_cont = inner(zH, zL, d["inputs"], d["puzzle_identifiers"], True)
        with torch.no_grad():
            steps = steps + 1
            last = steps >= c["halt_max_steps"]
            halted = last
            if c["halt_max_steps"] > 1:
                halted = halted | (q_halt > q_cont)
                explore = torch.rand_like(q_halt) < c["halt_exploration_prob"]
                min_halt = explore * torch.randint_like(steps, 2, c["halt_max_steps"] + 1)
                halted = halted & (steps >= min_halt)
                _, _, _, nh, nc = inner(zH, zL, d["inputs"], d["puzzle_identifiers"], False)
                target = torch.sigmoid(torch.where(last, nh, torch.maximum(nh, nc)))
        self.zH, self.zL, self.steps, self.halted = zH, zL, steps, halted
        labels = d["labels"]
        with torch.no_grad():
            mask = labels != IGNORE
            counts = mask.sum(-1)
            correct = (mask & (logits.argmax(-1) == labels)).sum(-1) == counts
        lm = (stablemax_ce(logits, labels) / counts.clamp_min(1).unsqueeze(-1)).sum()
        qh = F.binary_cross_entropy_with_logits(q_halt, correct.to(q_halt.dtype), reduction="sum")
        qc = F.binary_cross_entropy_with_logits(q_cont, target, reduction="sum") if c["halt_max_steps"] > 1 else 0
        loss = lm + 0.5 * (qh + qc)
        ((1 / self.B) * loss).backward()
        self.optimize(d["puzzle_identifiers"])
        return [float(lm), float(qh), float(qc), float(loss)]

    @torch.no_grad()
    def optimize(self, pids):
        pe = self.inner.puzzle_emb  # sign-SGD on the batch's rows, gradients summed per puzzle id
        ids, inv = torch.unique(pids.long(), return_inverse=True)
        g = torch.zeros(len(ids), pe.weights.shape[1], dtype=torch.float64).index_add_(0, inv, pe.local.grad.double())
        pe.weights[ids] = pe.weights[ids] * (1 - self.emb_lr * self.emb_wd) - self.emb_lr * torch.sign(g).float()
        self.t += 1  # AdamATan2 (as src/optim/adam-atan2.ts)
        step_size = self.lr / (1 - self.b1 ** self.t)
        bc2 = math.sqrt(1 - self.b2 ** self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            p.mul_(1 - self.lr * self.wd)
            m.lerp_(p.grad, 1 - self.b1)
            v.lerp_(p.grad * p.grad, 1 - self.b2)
            p.sub_(step_size * torch.atan2(m, v.sqrt() / bc2))
            p.grad = None


def make_config(name, overrides=None):
    c = dict(DEFAULTS, **CONFIGS[name])
    c.update(overrides or {})
    return c


def npy(path):
    import numpy as np

    return torch.from_numpy(np.load(path))


def check(fixture):
    """Six official training steps on the fixture's checkpoint and batch; returns the largest relative error."""
    cfg = json.load(open(os.path.join(fixture, "config.json")))
    c = dict(DEFAULTS, **{k: cfg[k] for k in ("hidden_size", "num_heads", "H_layers", "L_layers", "H_cycles",
                                               "L_cycles", "seq_len", "vocab_size", "halt_max_steps",
                                               "halt_exploration_prob", "num_puzzle_identifiers", "expansion")})
    assert cfg["pos_encodings"] == "rope" and cfg["puzzle_emb_ndim"] == cfg["hidden_size"], "rope fixtures only"
    inner = Inner(c)
    state = torch.load(os.path.join(fixture, "model.pt"), map_location="cpu")
    prefix = "_orig_mod.model.inner."
    state = {k[len(prefix):]: v for k, v in state.items()}
    missing, unexpected = inner.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    opt = cfg["optimizer"]
    tr = Trainer(inner, cfg["batch_size"], lr=opt["adam_atan2"]["lr"], betas=tuple(opt["adam_atan2"]["betas"]),
                 wd=opt["adam_atan2"]["weight_decay"], emb_lr=opt["sparse_signsgd"]["lr"],
                 emb_wd=opt["sparse_signsgd"]["weight_decay"])
    batch = {k: npy(os.path.join(fixture, "batch", f"{k}.npy")) for k in ("inputs", "labels", "puzzle_identifiers")}
    want = npy(os.path.join(fixture, "train", "losses.npy"))
    worst = 0.0
    for s in range(want.shape[0]):
        got = tr.step(batch)
        for j, name in enumerate(("lm_loss", "q_halt_loss", "q_continue_loss", "loss")):
            err = abs(got[j] - float(want[s, j])) / max(abs(float(want[s, j])), 1e-6)
            worst = max(worst, err)
            print(f"step {s + 1} {name:16s} got {got[j]:.7f} official {float(want[s, j]):.7f} rel.err {err:.1e}")
    return worst


def bench(case):
    c = make_config(case["config"], case.get("arch"))
    B = case["batch"]
    if case.get("dtype", "float32") != "float32":
        raise SystemExit("hrm_step.py: float32 only (torch 1.13 has no bfloat16 matmul worth timing on the CPU)")
    torch.manual_seed(0)
    inner = Inner(c)
    g = torch.Generator().manual_seed(1)
    shape = (B, c["seq_len"])
    batch = {"inputs": torch.randint(1, c["vocab_size"], shape, generator=g, dtype=torch.int32),
             "labels": torch.randint(1, c["vocab_size"], shape, generator=g, dtype=torch.int32),
             "puzzle_identifiers": torch.zeros(B, dtype=torch.int32)}
    if case["mode"] == "train":
        tr = Trainer(inner, B)
        work = lambda: tr.step(batch)  # noqa: E731
    else:
        def work():
            with torch.no_grad():
                S = c["seq_len"] + inner.P
                zH, zL = inner.H_init.expand(B, S, -1), inner.L_init.expand(B, S, -1)
                for _ in range(16):
                    zH, zL = inner(zH, zL, batch["inputs"], batch["puzzle_identifiers"], False)[:2]
    work()  # warm-up
    times, total = [], 0.0
    while len(times) < case["reps"] or (total < case.get("minSeconds", 0) and len(times) < 40):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
        total += times[-1]
    times.sort()
    sec = times[len(times) // 2]
    return {"config": case["config"], "mode": case["mode"], "batch": B, "dtype": "float32",
            "threads": torch.get_num_threads(), "backend": f"pytorch {torch.__version__}", "seconds": sec,
            "runs": len(times), "examples_per_s": B / sec}


def blas_library():
    """The BLAS library this process loaded for its matrix products (Linux), to tell OpenBLAS from the reference BLAS."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if any(n in line for n in ("blas", "mkl", "blis"))}
    except OSError:
        return "?"
    found = ", ".join(sorted(libs)) or "none found (built into torch?)"
    if any(lib.endswith("/blas/libblas.so.3") for lib in libs):
        found += " -- the REFERENCE BLAS, ~100x slower: apt install libopenblas0-pthread"
    for lib in (lib for lib in libs if "libopenblas" in lib):
        import ctypes

        fn = ctypes.CDLL(lib).openblas_get_corename
        fn.restype = ctypes.c_char_p
        core = fn().decode()
        found += f" (OpenBLAS kernels: {core})"
        flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
        if core.lower() in ("prescott", "core2", "nehalem", "katmai") and " avx2 " in flags:
            found += " -- old kernels on an AVX2 CPU: set OPENBLAS_CORETYPE=Haswell (or SkylakeX with AVX-512)"
    return found


def main():
    threads = int(os.environ.get("HRM_NUM_THREADS") or 0) or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    blas = [line.strip() for line in torch.__config__.show().splitlines() if "BLAS_INFO" in line]
    env = " ".join(f"{k}={os.environ[k]}" for k in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OPENBLAS_CORETYPE")
                   if k in os.environ)
    info = blas[0].split("BLAS_INFO=")[1].split(",")[0] if blas and "BLAS_INFO=" in blas[0] else "?"
    print(f"torch {torch.__version__}, {threads} threads, BLAS {info}: {blas_library()}, {env}", file=sys.stderr)
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        worst = check(sys.argv[2])
        print(f"largest relative error {worst:.1e}")
        sys.exit(0 if worst < 1e-4 else 1)
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(json.dumps(bench(json.loads(sys.argv[1]))))


if __name__ == "__main__":
    main()
