#!/usr/bin/python3
"""PyTorch side of `npm run bench:engine`: the same workloads as our engine, timed in the same run.

    /usr/bin/python3 bench/torch_engine.py blas
    /usr/bin/python3 bench/torch_engine.py step   --preset toy|gpt2-small [--batch 16 --seq 16 --steps N --warmup N]
    /usr/bin/python3 bench/torch_engine.py sample --preset toy|gpt2-small [--batch 16 --prompt P --new-tokens N --steps N --warmup N]
    /usr/bin/python3 bench/torch_engine.py step|sample --preset NAME --decoder JSON [--lora R ...] [...]

The same options as `lambda-grpo bench step|sample`, which bench/engine.ts passes to both sides. Each run
prints one JSON object (median_ms, tokens_per_s, peak_rss_mb, threads, torch, blas). bench/engine.ts runs
one process per figure so that peak RSS (resource.getrusage) belongs to that figure alone. PyTorch uses
one thread by default on this machine; we give it every core (torch.set_num_threads(os.cpu_count())).
(GEMM is timed by bench/gemm.ts, which also tries PyTorch's oneDNN path.) `blas` prints which BLAS this
torch runs its matmuls on (blas_info below): bench/engine.ts refuses to print ratios on the reference BLAS.

GPT-2 presets: the model of scripts/golden_gpt2.py (pre-LN, Conv1D-style weights, GELU tanh, tied LM
head), written with torch.nn.functional. Decoder families (`--decoder`, a DecoderConfig of
src/engine/families/config.ts as JSON, e.g. FAMILY_PRESETS["qwen2-0.5b"]): the reference model of
scripts/golden_families.py with random weights (HF's init: N(0, 0.02), norms 1, biases 0), float32; with
`--lora R` the base is frozen and PEFT-style adapters (A kaiming-uniform, B 0, alpha / r, dropout) on every
linear layer are trained (alpha 2R and dropout 0 by default, as `lambda-grpo bench --lora R`). The step is what our trainer's step does: forward, per-token log-probs of the
next token, loss = -mean(log-probs), backward, global-norm clip at 1.0, AdamW.
"""
import argparse
import ctypes
import json
import math
import os
import re
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torch.utils.checkpoint

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from golden_families import Decoder, DecoderLM, lora_shapes, parameter_shapes, LINEAR_MODULES  # noqa: E402

PRESETS = {
    # vocab, context, layers, width, heads (the same presets as `lambda-grpo bench step`)
    "toy": dict(vocab=8, context=16, layers=4, width=128, heads=4),
    "gpt2-small": dict(vocab=50257, context=1024, layers=12, width=768, heads=12),
}


def threads():
    """Every core, unless bench/engine.ts --torch-threads set LAMBDA_GRPO_TORCH_THREADS."""
    torch.set_num_threads(int(os.environ.get("LAMBDA_GRPO_TORCH_THREADS") or os.cpu_count() or 1))
    return torch.get_num_threads()


# A mapped library path -> the BLAS it is (first match wins; Debian puts each alternative's libblas.so.3 in
# a directory of its own: blas/ is the reference BLAS, openblas-pthread/, blis-openmp/, atlas/, ...).
BLAS_KINDS = [("openblas", "openblas"), ("blis", "blis"), ("mkl", "mkl"), ("atlas", "atlas"), ("/blas/", "reference")]


def blas_info():
    """Which BLAS this torch runs its matmuls on: `kind` (openblas, blis, mkl, atlas, reference or unknown),
    the BLAS libraries mapped into this process (/proc/self/maps, real paths) and what torch was built
    against (torch.__config__.show()'s BLAS_INFO: "generic" for Debian's, which links the system
    libblas.so.3, i.e. whatever update-alternatives points at). The reference BLAS is ~50x slower than
    OpenBLAS at GEMM here and would flatter every ratio against PyTorch."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    with open("/proc/self/maps") as f:
        mapped = {line.split()[-1] for line in f if "/" in line}
    libs = sorted({os.path.realpath(p) for p in mapped if re.search(r"blas|mkl|blis|atlas", os.path.basename(p), re.I)})
    m = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    build = m.group(1) if m else "unknown"
    return {"kind": blas_kind(libs, build), "libraries": libs, "build": build, "core": openblas_core(libs)}


def openblas_core(libraries):
    """The kernels OpenBLAS runs (openblas_get_corename: SkylakeX, Haswell, Prescott, ...), or None when
    OpenBLAS is not loaded. Its DYNAMIC_ARCH choice follows the CPUID model, which a virtual machine may
    hide: bench/gemm.ts torchChildEnv sets OPENBLAS_CORETYPE from the CPU's flags for that reason."""
    lib = next((p for p in libraries if "libopenblas" in os.path.basename(p)), None)
    if lib is None:
        return None
    try:
        f = ctypes.CDLL(lib).openblas_get_corename
    except (OSError, AttributeError):
        return None
    f.restype = ctypes.c_char_p
    return f().decode()


def blas_kind(libraries, build):
    """libraries: real paths of the mapped BLAS libraries; build: BLAS_INFO."""
    kind = next((k for pat, k in BLAS_KINDS for lib in libraries if pat in lib.lower()), None)
    if kind is None:
        kind = "mkl" if build == "mkl" else "unknown"  # pip wheels link MKL statically
    return kind


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
        need_x, need_w, need_b = ctx.needs_input_grad
        dx = _onednn_linear(dy, w, None) if need_x else None  # dy [M,N] @ w^T: w [K,N] is the weight [out=K, in=N]
        dw = _onednn_linear(x.t(), dy.t(), None) if need_w else None  # x^T [K,M] @ dy [M,N]; none for a frozen weight
        return dx, dw, dy.sum(0) if ctx.has_bias and need_b else None


def onednn_mm(x, w, b):
    return OnednnMatmul.apply(x, w, b)


MATMUL = {"onednn": onednn_mm, "blas": dense_mm}


def as_linear(mm):
    """mm(x [M,K], w [K,N], b) -> the nn.Linear form linear(x [...,in], W [out,in], b) the families use."""
    if mm is dense_mm:
        return F.linear
    return lambda x, w, b: mm(x.reshape(-1, x.shape[-1]), w.t(), b).view(*x.shape[:-1], w.shape[0])


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


def training_step(params, loss):
    """run() for one step as our trainer takes it: loss() backward, global-norm clip at 1.0, AdamW (lr 1e-5,
    betas (0.9, 0.999), eps 1e-8, no weight decay) over params."""
    params = list(params)
    opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    def run():
        opt.zero_grad(set_to_none=False)
        loss().backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    return run


def kv_sampling(new_cache, forward, prompts, new_tokens):
    """run() for KV-cache sampling as `lambda-grpo bench sample` times it: a fresh cache, one prefill pass over
    prompts [B, P], then new tokens one at a time (temperature 1, multinomial over the softmax).
    forward(tokens [B,T], cache, pos) -> logits [B,T,V], writing the tokens' keys/values at pos.."""

    def run():
        cache = new_cache()
        logits = forward(prompts, cache, 0)[:, -1]
        pos = prompts.shape[1]
        for i in range(new_tokens):
            tok = torch.multinomial(logits.softmax(-1), 1)
            if i + 1 < new_tokens:
                logits = forward(tok, cache, pos)[:, -1]
                pos += 1

    return run


def result(what, preset, times, tokens_per_run, **extra):
    """One figure's JSON: the median and the tokens a second it gives, every time (ms), peak RSS, extras."""
    return {"what": what, "preset": preset, "median_ms": median(times), "tokens_per_s": tokens_per_run / median(times) * 1e3,
            "times_ms": times, **extra, "peak_rss_mb": peak_rss_mb()}


# The ops whose self time is a matmul's (the forward's and the autograd backward's alike call these).
MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::mv", "aten::addmv", "aten::dot"}


def timed_runs(run, steps, warmup, profile):
    """run() warmup + steps times, the last `steps` timed (ms). With profile, one more run under
    torch.profiler: its wall time, the self CPU time of its matmul ops (MATMUL_OPS) and its ten costliest
    ops by self time, in ms, as `lambda-grpo bench step --profile` reports ours."""
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        run()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    if not profile:
        return times, None
    t0 = time.perf_counter()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run()
    wall = (time.perf_counter() - t0) * 1e3
    ops = prof.key_averages()
    matmul_ms = sum(e.self_cpu_time_total for e in ops if e.key in MATMUL_OPS) / 1e3
    top = sorted(ops, key=lambda e: e.self_cpu_time_total, reverse=True)[:10]
    return times, {"run_ms": wall, "matmul_ms": matmul_ms,
                   "by_op": {e.key: {"ms": e.self_cpu_time_total / 1e3, "calls": e.count} for e in top}}


def bench_step(preset, batch, seq, steps, warmup, mm, profile=False):
    """Training steps on random tokens [batch, seq], as `lambda-grpo bench step` times them."""
    cfg = PRESETS[preset]
    torch.manual_seed(0)
    model = GPT2(**cfg, mm=mm)
    tokens = torch.randint(0, cfg["vocab"], (batch, seq))

    def loss():
        logits = model(tokens)
        return -logits[:, :-1].log_softmax(-1).gather(-1, tokens[:, 1:].unsqueeze(-1)).mean()

    times, prof = timed_runs(training_step(model.parameters(), loss), steps, warmup, profile)
    return result("step", preset, times, batch * seq, params=sum(p.numel() for p in model.parameters()),
                  **({"profile": prof} if prof else {}))


@torch.no_grad()
def bench_sample(preset, batch, prompt, new_tokens, steps, warmup, mm):
    """KV-cache sampling as `lambda-grpo bench sample` times it: random prompts [batch, prompt], one prefill
    pass, then new tokens one at a time (temperature 1, multinomial over the softmax)."""
    cfg = PRESETS[preset]
    torch.manual_seed(0)
    model = GPT2(**cfg, mm=mm).eval()
    C, NH = cfg["width"], cfg["heads"]
    prompts = torch.randint(0, cfg["vocab"], (batch, prompt))
    tmax = prompt + new_tokens

    def new_cache():
        return [(torch.zeros(batch, NH, tmax, C // NH), torch.zeros(batch, NH, tmax, C // NH)) for _ in model.blocks]

    times, _ = timed_runs(kv_sampling(new_cache, model, prompts, new_tokens), steps, warmup, False)
    return result("sample", preset, times, batch * new_tokens)


def decoder_model(c, mm, lora_r, lora_alpha, lora_dropout, checkpoint_layers):
    """Random float32 weights in c's shapes (HF's init); with lora_r, PEFT-style adapters on every linear
    layer and the base frozen. Returns the model and the trained parameters."""
    gen = torch.Generator().manual_seed(0)
    params = {}
    for name, shape in parameter_shapes(c):
        if len(shape) == 2:
            t = torch.randn(shape, generator=gen) * 0.02
        else:
            t = torch.ones(shape) if name.endswith("norm.weight") else torch.zeros(shape)
        params[name] = t.requires_grad_(lora_r == 0)
    lora = {}
    if lora_r:
        for name, shape in lora_shapes(c, lora_r, LINEAR_MODULES):
            # PEFT: A kaiming-uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0
            t = torch.zeros(shape) if ".lora_B." in name else (torch.rand(shape, generator=gen) * 2 - 1) / math.sqrt(shape[1])
            lora[name] = t.requires_grad_(True)
    model = DecoderLM(c, params, lora, lora_alpha / lora_r if lora_r else 1.0, as_linear(mm), lora_dropout=lora_dropout,
                      checkpoint_layers=checkpoint_layers)
    return model, list(lora.values()) if lora_r else list(params.values())


def next_token_logprobs(model, tokens, head_chunk):
    """[B, T-1] log p(tokens[:, t+1] | ..t). head_chunk > 0: the LM head and log-softmax over that many rows
    at a time, recomputed in backward (torch.utils.checkpoint), so the [rows, V] logits never exist whole
    (TRL computes per-token log-probs row by row for the same reason)."""
    h = model.hidden(tokens)
    B, T, C = h.shape
    hs = h[:, :-1].reshape(-1, C)
    targets = tokens[:, 1:].reshape(-1)
    W = model.head_weight()

    def piece(hc, tc):
        return model.linear(hc, W, None).log_softmax(-1).gather(-1, tc[:, None]).squeeze(-1)

    if head_chunk <= 0:
        return piece(hs, targets).view(B, T - 1)
    parts = [torch.utils.checkpoint.checkpoint(piece, hs[i:i + head_chunk], targets[i:i + head_chunk], use_reentrant=False)
             for i in range(0, hs.shape[0], head_chunk)]
    return torch.cat(parts).view(B, T - 1)


def bench_decoder_step(name, c, batch, seq, steps, warmup, mm, lora_r, lora_alpha, lora_dropout, head_chunk, checkpoint_layers,
                       profile=False):
    torch.manual_seed(0)
    model, trained = decoder_model(c, mm, lora_r, lora_alpha, lora_dropout, checkpoint_layers)
    tokens = torch.randint(0, c.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(1))

    def loss():
        return -next_token_logprobs(model, tokens, head_chunk).mean()

    times, prof = timed_runs(training_step(trained, loss), steps, warmup, profile)
    return result("step", name, times, batch * seq, params=sum(p.numel() for p in model.p.values()),
                  trained=sum(p.numel() for p in trained), lora=lora_r, head_chunk=head_chunk,
                  checkpoint_layers=checkpoint_layers, **({"profile": prof} if prof else {}))


@torch.no_grad()
def bench_decoder_sample(name, c, batch, prompt, new_tokens, steps, warmup, mm):
    """KV-cache sampling as `lambda-grpo bench sample` times it: random prompts [batch, prompt], one prefill
    pass, then new tokens one at a time with the KV cache (KV heads only), temperature 1, multinomial."""
    torch.manual_seed(0)
    model, _ = decoder_model(c, mm, 0, 0, 0.0, False)
    for p in model.p.values():
        p.requires_grad_(False)
    prompts = torch.randint(0, c.vocab_size, (batch, prompt), generator=torch.Generator().manual_seed(1))
    run = kv_sampling(lambda: model.new_cache(batch, prompt + new_tokens, torch.float32),
                      lambda tokens, cache, pos: model.forward(tokens, None, cache, pos), prompts, new_tokens)
    times, _ = timed_runs(run, steps, warmup, False)
    return result("sample", name, times, batch * new_tokens)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["step", "sample", "blas"])
    ap.add_argument("--preset", help=f"{' or '.join(PRESETS)}; with --decoder, the name of its shapes")
    ap.add_argument("--decoder", help="a DecoderConfig (src/engine/families/config.ts) as JSON: a Llama/Qwen2/Qwen3 model")
    ap.add_argument("--lora", type=int, default=0, help="step with --decoder: LoRA rank on every linear layer (0: full fine-tuning)")
    ap.add_argument("--lora-alpha", type=float, help="default 2 x --lora")
    ap.add_argument("--lora-dropout", type=float, default=0.0, help="default 0, as `lambda-grpo bench --lora`")
    ap.add_argument("--head-chunk", type=int, default=0, help="step with --decoder: LM head rows at a time, recomputed in backward (0: all)")
    ap.add_argument("--checkpoint-layers", action="store_true",
                    help="step with --decoder: recompute each block in backward (HF's gradient_checkpointing)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--profile", action="store_true",
                    help="step: one more step under torch.profiler, reported as profile (its matmuls' self time)")
    ap.add_argument("--matmul", choices=["auto", "onednn", "blas"], default="auto",
                    help="auto: torch's own path (F.linear / addmm on its BLAS) when that BLAS is an optimised one "
                         "(OpenBLAS, MKL, BLIS), else oneDNN when this torch has it (torch.backends.mkldnn)")
    args = ap.parse_args()
    n = threads()
    if args.what == "blas":
        print(json.dumps(dict(blas_info(), torch=torch.__version__, threads=n)))
        return
    if args.decoder is None and args.preset not in PRESETS:
        ap.error(f"--preset: expected one of {', '.join(PRESETS)}, or --decoder JSON")
    matmul = args.matmul
    blas = blas_info()
    if matmul == "auto":
        fast_blas = blas["kind"] in ("openblas", "mkl", "blis")
        matmul = "blas" if fast_blas or not torch.backends.mkldnn.is_available() else "onednn"
    mm = MATMUL[matmul]
    if args.decoder is not None:
        c = Decoder.from_contract(json.loads(args.decoder))
        name = args.preset or c.family
        if args.what == "step":
            alpha = args.lora_alpha if args.lora_alpha is not None else 2.0 * args.lora
            result = bench_decoder_step(name, c, args.batch, args.seq, args.steps, args.warmup, mm, args.lora, alpha,
                                        args.lora_dropout, args.head_chunk, args.checkpoint_layers, args.profile)
        else:
            result = bench_decoder_sample(name, c, args.batch, args.prompt, args.new_tokens, args.steps, args.warmup, mm)
    elif args.what == "step":
        result = bench_step(args.preset, args.batch, args.seq, args.steps, args.warmup, mm, args.profile)
    else:
        result = bench_sample(args.preset, args.batch, args.prompt, args.new_tokens, args.steps, args.warmup, mm)
    result.update(torch=torch.__version__, threads=n, blas=blas, matmul=matmul)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
