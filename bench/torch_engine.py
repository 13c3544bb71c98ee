#!/usr/bin/python3
"""PyTorch side of `npm run bench:engine`: the same workloads as our engine, timed in the same run.

    /usr/bin/python3 bench/torch_engine.py step   --preset toy|gpt2-small [--batch 16 --seq 16 --steps N --warmup N]
    /usr/bin/python3 bench/torch_engine.py sample --preset toy|gpt2-small [--batch 16 --prompt P --new-tokens N --steps N --warmup N]

The same options as `lambda-grpo bench step|sample`, which bench/engine.ts passes to both sides. Each run
prints one JSON object (median_ms, tokens_per_s, peak_rss_mb, threads, torch, blas). bench/engine.ts runs
one process per figure so that peak RSS (resource.getrusage) belongs to that figure alone. PyTorch uses
one thread by default on this machine; we give it every core (torch.set_num_threads(os.cpu_count())).
(GEMM is timed by bench/gemm.ts, which also tries PyTorch's oneDNN path.)

The model is GPT-2 as in scripts/golden_gpt2.py (pre-LN, Conv1D-style weights, GELU tanh, tied LM head),
written with torch.nn.functional; the step is what our trainer's step does: forward, per-token log-probs of
the next token, loss = -mean(log-probs), backward, global-norm clip at 1.0, AdamW.
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

PRESETS = {
    # vocab, context, layers, width, heads (the same presets as `lambda-grpo bench step`)
    "toy": dict(vocab=8, context=16, layers=4, width=128, heads=4),
    "gpt2-small": dict(vocab=50257, context=1024, layers=12, width=768, heads=12),
}


def threads():
    """Every core, unless bench/engine.ts --torch-threads set LAMBDA_GRPO_TORCH_THREADS."""
    torch.set_num_threads(int(os.environ.get("LAMBDA_GRPO_TORCH_THREADS") or os.cpu_count() or 1))
    return torch.get_num_threads()


def blas_library():
    """The BLAS shared library this process loaded (Debian's torch links the system libblas.so.3, which is
    whatever update-alternatives points at: the reference BLAS, OpenBLAS, BLIS, ...)."""
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "unknown"


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # ru_maxrss is KiB on Linux


def dense_mm(x, w, b):
    """x [M,K] @ w [K,N] (+ b [N]) through torch's default CPU path (addmm: the BLAS it links)."""
    return torch.mm(x, w) if b is None else torch.addmm(b, x, w)


def _onednn_linear(a, weight, bias):
    """a [M,in] @ weight[out,in]^T (+ bias [out]) with oneDNN, dense in and out."""
    return torch._C._nn.mkldnn_linear(a.contiguous().to_mkldnn(), weight.contiguous(), bias).to_dense()


class OnednnMatmul(torch.autograd.Function):
    """x [M,K] @ w [K,N] (+ b) on oneDNN (mkldnn_linear), the fastest float32 GEMM in this torch build, forward
    and backward. PyTorch routes float32 matmuls to the BLAS it was built against; Debian's links the
    system libblas.so.3, the reference BLAS unless OpenBLAS or BLIS is installed, so without this PyTorch's
    step would be timing that BLAS rather than PyTorch."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return _onednn_linear(x, w.t(), b)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dx = _onednn_linear(dy, w, None)  # dy [M,N] @ w^T: w [K,N] is the weight [out=K, in=N]
        dw = _onednn_linear(x.t(), dy.t(), None)  # x^T [K,M] @ dy [M,N]
        return dx, dw, dy.sum(0) if ctx.has_bias else None


def onednn_mm(x, w, b):
    return OnednnMatmul.apply(x, w, b)


MATMUL = {"onednn": onednn_mm, "blas": dense_mm}


class GPT2(torch.nn.Module):
    def __init__(self, vocab, context, layers, width, heads, mm=dense_mm):
        super().__init__()
        self.heads = heads
        self.mm = mm
        C = width

        def p(*shape, std=0.02):
            return torch.nn.Parameter(torch.randn(*shape) * std)

        self.wte, self.wpe = p(vocab, C), p(context, C)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            blk = torch.nn.Module()
            blk.ln_1_w, blk.ln_1_b = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.zeros(C))
            blk.c_attn_w, blk.c_attn_b = p(C, 3 * C), torch.nn.Parameter(torch.zeros(3 * C))
            blk.attn_proj_w, blk.attn_proj_b = p(C, C), torch.nn.Parameter(torch.zeros(C))
            blk.ln_2_w, blk.ln_2_b = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.zeros(C))
            blk.c_fc_w, blk.c_fc_b = p(C, 4 * C), torch.nn.Parameter(torch.zeros(4 * C))
            blk.mlp_proj_w, blk.mlp_proj_b = p(4 * C, C), torch.nn.Parameter(torch.zeros(C))
            self.blocks.append(blk)
        self.ln_f_w, self.ln_f_b = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.zeros(C))

    def attend(self, q, k, v, causal):
        """q [B,NH,Tq,hs], k/v [B,NH,Tk,hs] -> [B,NH,Tq,hs]"""
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
        if causal is not None:
            att = att.masked_fill(~causal, float("-inf"))
        return att.softmax(-1) @ v

    def forward(self, tokens, cache=None, pos=0):
        """tokens [B,T] -> logits [B,T,V]. With `cache` (a list per layer of (k, v) [B,NH,Tmax,hs]) the
        tokens sit at positions pos.. and their keys/values are written into it (KV-cache decoding)."""
        B, T = tokens.shape
        C = self.wte.shape[1]
        NH, hs = self.heads, C // self.heads
        x = self.wte[tokens] + self.wpe[pos : pos + T]
        causal = torch.tril(torch.ones(T, pos + T, dtype=torch.bool), diagonal=pos)
        for i, blk in enumerate(self.blocks):
            h = F.layer_norm(x, (C,), blk.ln_1_w, blk.ln_1_b, 1e-5)
            qkv = self.mm(h.reshape(B * T, C), blk.c_attn_w, blk.c_attn_b).view(B, T, 3 * C)
            q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in qkv.split(C, dim=2))
            if cache is not None:
                kc, vc = cache[i]
                kc[:, :, pos : pos + T] = k
                vc[:, :, pos : pos + T] = v
                k, v = kc[:, :, : pos + T], vc[:, :, : pos + T]
            y = self.attend(q, k, v, causal if T > 1 else None).transpose(1, 2).reshape(B * T, C)
            x = x + self.mm(y, blk.attn_proj_w, blk.attn_proj_b).view(B, T, C)
            h = F.layer_norm(x, (C,), blk.ln_2_w, blk.ln_2_b, 1e-5).reshape(B * T, C)
            h = F.gelu(self.mm(h, blk.c_fc_w, blk.c_fc_b), approximate="tanh")
            x = x + self.mm(h, blk.mlp_proj_w, blk.mlp_proj_b).view(B, T, C)
        x = F.layer_norm(x, (C,), self.ln_f_w, self.ln_f_b, 1e-5)
        return self.mm(x.reshape(B * T, C), self.wte.t(), None).view(B, T, -1)


def median(xs):
    return statistics.median(xs)


def bench_step(preset, batch, seq, steps, warmup, mm):
    """Training steps on random tokens [batch, seq], as `lambda-grpo bench step` times them."""
    cfg = PRESETS[preset]
    torch.manual_seed(0)
    model = GPT2(**cfg, mm=mm)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    tokens = torch.randint(0, cfg["vocab"], (batch, seq))
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        logits = model(tokens)
        logprobs = logits[:, :-1].log_softmax(-1).gather(-1, tokens[:, 1:].unsqueeze(-1))
        loss = -logprobs.mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return {"what": "step", "preset": preset, "median_ms": median(times), "tokens_per_s": batch * seq / median(times) * 1e3,
            "times_ms": times, "params": sum(p.numel() for p in model.parameters()), "peak_rss_mb": peak_rss_mb()}


@torch.no_grad()
def bench_sample(preset, batch, prompt, new_tokens, steps, warmup, mm):
    """KV-cache sampling as `lambda-grpo bench sample` times it: random prompts [batch, prompt], one prefill
    pass, then new tokens one at a time (temperature 1, multinomial over the softmax)."""
    cfg = PRESETS[preset]
    torch.manual_seed(0)
    model = GPT2(**cfg, mm=mm).eval()
    C, NH = cfg["width"], cfg["heads"]
    prompts = torch.randint(0, cfg["vocab"], (batch, prompt))

    def run():
        tmax = prompt + new_tokens
        cache = [(torch.zeros(batch, NH, tmax, C // NH), torch.zeros(batch, NH, tmax, C // NH)) for _ in model.blocks]
        logits = model(prompts, cache, 0)[:, -1]
        pos = prompt
        for i in range(new_tokens):
            tok = torch.multinomial(logits.softmax(-1), 1)
            if i + 1 < new_tokens:
                logits = model(tok, cache, pos)[:, -1]
                pos += 1

    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        run()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return {"what": "sample", "preset": preset, "median_ms": median(times),
            "tokens_per_s": batch * new_tokens / median(times) * 1e3, "times_ms": times, "peak_rss_mb": peak_rss_mb()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["step", "sample"])
    ap.add_argument("--preset", choices=list(PRESETS), required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--matmul", choices=["auto", "onednn", "blas"], default="auto",
                    help="auto: oneDNN when this torch has it (torch.backends.mkldnn), else the BLAS path")
    args = ap.parse_args()
    n = threads()
    matmul = args.matmul
    if matmul == "auto":
        matmul = "onednn" if torch.backends.mkldnn.is_available() else "blas"
    mm = MATMUL[matmul]
    if args.what == "step":
        result = bench_step(args.preset, args.batch, args.seq, args.steps, args.warmup, mm)
    else:
        result = bench_sample(args.preset, args.batch, args.prompt, args.new_tokens, args.steps, args.warmup, mm)
    result.update(torch=torch.__version__, threads=n, blas=blas_library(), matmul=matmul)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
