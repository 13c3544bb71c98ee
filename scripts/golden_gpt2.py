#!/usr/bin/python3
"""Golden fixture for the engine's GPT-2: a tiny Hugging Face-format checkpoint and PyTorch's answers on it.

    /usr/bin/python3 scripts/golden_gpt2.py                 # writes test/fixtures/gpt2-tiny/
    /usr/bin/python3 scripts/golden_gpt2.py --out DIR       # elsewhere (the test that the fixture is current)

Needs only PyTorch (Debian's python3-torch; 1.13 here). Neither `transformers` nor `safetensors` is used:
GPT-2 is written out below in plain torch so that it is an independent reference (the same equations as
HF's GPT2LMHeadModel: pre-LN blocks, Conv1D layers y = x W + b with W [in, out], GELU tanh approximation,
LM head tied to wte), and safetensors is written by hand with struct + json.

Writes, under test/fixtures/gpt2-tiny/:
  config.json          HF GPT2Config fields (model_type gpt2)
  model.safetensors    HF GPT2LMHeadModel names (`transformer.` prefix, lm_head omitted because tied), F32
  inputs.jsonl         the token sequences, one {"tokens": [...]} per line (unpadded)
  golden.safetensors   computed in float64 from the float32 weights, stored as F32:
                         tokens [B,T] (as floats, padded with 0), lengths [B]
                         logits [B,T,V] (0 at padded positions)
                         logprobs [B,T-1]: log p(tokens[b,t+1] | tokens[b,..t]), 0 past the row's length
                         loss []: mean over valid targets of -logprobs
                         grad.<name>: d loss / d parameter, for every parameter (HF names, no prefix)
The computation runs in float64 so the reference's own rounding is far below the test's tolerance.
"""
import argparse
import json
import math
import os
import struct

import torch

VOCAB, CONTEXT, LAYERS, WIDTH, HEADS, EPS = 61, 16, 2, 32, 4, 1e-5
LENGTHS = [16, 13, 9, 2]  # a padded batch: one full row, two shorter, one with a single target
SEED = 1234
OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "gpt2-tiny"))


def parameter_shapes():
    """HF GPT-2 names (no `transformer.` prefix) and shapes, in the order of CONTRACTS.md."""
    C = WIDTH
    shapes = [("wte.weight", [VOCAB, C]), ("wpe.weight", [CONTEXT, C])]
    for i in range(LAYERS):
        p = f"h.{i}."
        shapes += [
            (p + "ln_1.weight", [C]), (p + "ln_1.bias", [C]),
            (p + "attn.c_attn.weight", [C, 3 * C]), (p + "attn.c_attn.bias", [3 * C]),
            (p + "attn.c_proj.weight", [C, C]), (p + "attn.c_proj.bias", [C]),
            (p + "ln_2.weight", [C]), (p + "ln_2.bias", [C]),
            (p + "mlp.c_fc.weight", [C, 4 * C]), (p + "mlp.c_fc.bias", [4 * C]),
            (p + "mlp.c_proj.weight", [4 * C, C]), (p + "mlp.c_proj.bias", [C]),
        ]
    return shapes + [("ln_f.weight", [C]), ("ln_f.bias", [C])]


def init_parameters(gen):
    """Random weights of a size that makes every term matter (HF's 0.02 would leave the softmax near uniform);
    LayerNorm gains and biases are random too so their gradients are not trivially structured."""
    params = {}
    for name, shape in parameter_shapes():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) == 1:
            t = 0.1 * torch.randn(shape, generator=gen)
        else:
            t = 0.2 * torch.randn(shape, generator=gen)
        # float32 values (what the checkpoint holds), computed with in float64
        params[name] = t.float().double().requires_grad_(True)
    return params


def layer_norm(x, w, b):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mean) / torch.sqrt(var + EPS) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(p, tokens):
    """tokens [B,T] -> logits [B,T,V]. Causal attention only: padding after a row's end cannot reach its
    valid positions, so the valid logits are those of the unpadded row."""
    B, T = tokens.shape
    C, NH = WIDTH, HEADS
    hs = C // NH
    x = p["wte.weight"][tokens] + p["wpe.weight"][:T]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(LAYERS):
        q = f"h.{i}."
        h = layer_norm(x, p[q + "ln_1.weight"], p[q + "ln_1.bias"])
        qkv = h @ p[q + "attn.c_attn.weight"] + p[q + "attn.c_attn.bias"]
        qh, kh, vh = (t.view(B, T, NH, hs).transpose(1, 2) for t in qkv.split(C, dim=2))
        att = (qh @ kh.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        y = (att @ vh).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p[q + "attn.c_proj.weight"] + p[q + "attn.c_proj.bias"]
        h = layer_norm(x, p[q + "ln_2.weight"], p[q + "ln_2.bias"])
        h = gelu_tanh(h @ p[q + "mlp.c_fc.weight"] + p[q + "mlp.c_fc.bias"])
        x = x + h @ p[q + "mlp.c_proj.weight"] + p[q + "mlp.c_proj.bias"]
    x = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"])
    return x @ p["wte.weight"].t()


def check_against_torch_nn(p, tokens, logits):
    """The hand-written LayerNorm and GELU above against torch.nn.functional's, so that a slip in the
    reference itself cannot go unnoticed."""
    import torch.nn.functional as F
    global layer_norm, gelu_tanh
    mine = (layer_norm, gelu_tanh)
    layer_norm = lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b, EPS)  # noqa: E731
    gelu_tanh = lambda x: F.gelu(x, approximate="tanh")  # noqa: E731
    try:
        other = forward(p, tokens)
    finally:
        layer_norm, gelu_tanh = mine
    err = (other - logits).abs().max().item()
    assert err < 1e-10, f"reference layers disagree with torch.nn.functional: {err}"


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, tensor) written as F32 in that order; header padded with spaces to 8 bytes."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        flat = t.detach().float().contiguous().view(-1).tolist()
        blob = struct.pack(f"<{len(flat)}f", *flat)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    ap = argparse.ArgumentParser(description="Writes the golden GPT-2 fixture.")
    ap.add_argument("--out", default=OUT, help="output directory (default: test/fixtures/gpt2-tiny)")
    out = ap.parse_args().out
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    params = init_parameters(gen)
    B, T = len(LENGTHS), CONTEXT
    rows = [torch.randint(0, VOCAB, (n,), generator=gen) for n in LENGTHS]
    tokens = torch.zeros(B, T, dtype=torch.long)
    for b, row in enumerate(rows):
        tokens[b, : len(row)] = row

    logits = forward(params, tokens)
    with torch.no_grad():
        check_against_torch_nn(params, tokens, logits)
    logp = logits.log_softmax(-1)
    logprobs = logp[:, :-1].gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)  # [B, T-1]
    valid = torch.tensor([[t + 1 < n for t in range(T - 1)] for n in LENGTHS])
    logprobs = torch.where(valid, logprobs, torch.zeros_like(logprobs))
    loss = -logprobs.sum() / valid.sum()
    loss.backward()

    os.makedirs(out, exist_ok=True)
    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.0,
        "bos_token_id": VOCAB - 1,
        "embd_pdrop": 0.0,
        "eos_token_id": VOCAB - 1,
        "layer_norm_epsilon": EPS,
        "model_type": "gpt2",
        "n_ctx": CONTEXT,
        "n_embd": WIDTH,
        "n_head": HEADS,
        "n_inner": None,
        "n_layer": LAYERS,
        "n_positions": CONTEXT,
        "resid_pdrop": 0.0,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "vocab_size": VOCAB,
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    write_safetensors(
        os.path.join(out, "model.safetensors"),
        [("transformer." + name, params[name]) for name, _ in parameter_shapes()],
        {"format": "pt"},
    )
    with open(os.path.join(out, "inputs.jsonl"), "w") as f:
        for row in rows:
            f.write(json.dumps({"tokens": row.tolist()}) + "\n")
    mask = torch.tensor([[t < n for t in range(T)] for n in LENGTHS]).unsqueeze(-1)
    golden = [
        ("tokens", tokens.double()),
        ("lengths", torch.tensor(LENGTHS, dtype=torch.float64)),
        ("logits", torch.where(mask, logits, torch.zeros_like(logits))),
        ("logprobs", logprobs),
        ("loss", loss.reshape(())),
    ] + [("grad." + name, params[name].grad) for name, _ in parameter_shapes()]
    write_safetensors(os.path.join(out, "golden.safetensors"), golden,
                      {"generator": "scripts/golden_gpt2.py", "torch": torch.__version__, "compute_dtype": "float64"})
    print(f"wrote {out}: loss {loss.item():.6f}, {sum(t.numel() for t in params.values())} parameters")


if __name__ == "__main__":
    main()
