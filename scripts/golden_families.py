#!/usr/bin/python3
"""Golden fixtures for the decoder families (Llama 3, Qwen2, Qwen3): tiny Hugging Face checkpoints and
PyTorch's answers on them, and the reference model that bench/torch_engine.py times.

    /usr/bin/python3 scripts/golden_families.py               # writes test/fixtures/families/
    /usr/bin/python3 scripts/golden_families.py --out DIR     # elsewhere (the test that the fixtures are current)

Needs only PyTorch (Debian's python3-torch, 1.13 here). Neither `transformers`, `peft` nor `safetensors`
is used: the models are written out below in plain torch from the equations of Hugging Face's
modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py (pre-norm blocks, RMSNorm computed in at least
float32, rotate-half RoPE with llama3 frequency scaling, grouped-query attention by repeat_kv, SwiGLU MLP,
additive causal + padding mask, softmax in at least float32) and PEFT's LoRA Linear
(y = base(x) + (alpha / r) * B A x), so that they are an independent reference for src/engine/.

Writes, under test/fixtures/families/, one HF directory per fixture:
  llama-tiny/   F32, one file, tied head, llama3 rope_scaling (all three frequency bands used), GQA 4/2,
                mlp_bias
  qwen2-tiny/   BF16, one file, untied head, q/k/v biases, GQA 6/2, inactive sliding window (as Qwen2.5);
                adapter/ a PEFT LoRA adapter (r 4, alpha 8, all linear layers, B nonzero)
  qwen3-tiny/   F16, two shards + model.safetensors.index.json, tied head, q_norm/k_norm, head_dim 8 with
                hidden 24 and 4 heads, GQA 4/1, attention_bias
each with config.json and golden.safetensors, computed in float64 from the stored (rounded) weights and
stored as F32:
  tokens [B,T] (as floats, right-padded), lengths [B]
  logits [B,T,V] (0 at padded positions)
  logprobs [B,T-1]: log p(tokens[b,t+1] | tokens[b,..t]), 0 past the row's length
  loss []: mean over valid targets of -logprobs
  grad.<name>: d loss / d parameter, every parameter, HF names (`model.layers.0.self_attn.q_proj.weight`)
and for qwen2-tiny golden-lora.safetensors: the same with the adapter on (logits, logprobs, loss) and
grad.<name> for the LoRA parameters only (PEFT names without `base_model.model.`), the base frozen; for
llama-tiny and qwen3-tiny golden-long.safetensors: one sequence of LONG_T random tokens (tokens [1,T]) and
the logits at positions LONG_FROM..T-1 (logits [T-LONG_FROM, V]), RoPE's angles (and llama3's scaled bands)
far from those of the short batch.

Before writing, the reference checks itself (asserts): RoPE against the complex-number rotation, repeat_kv
against repeat_interleave, the llama3 bands; recomputing every prefix equals the full forward, and so does
decoding with the KV cache (also past position 1000); padding changes nothing at valid positions; and
torch.autograd.gradcheck in float64 on a tinier config of each family (LoRA included).
"""
import argparse
import json
import math
import os
import struct
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint

SEED = 20261201
OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "families"))


# ----------------------------------------------------------------------------------------------------------
# The families' differences (the fields of src/engine/families/config.ts's DecoderConfig, snake_case)


@dataclass
class Decoder:
    family: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    n_layer: int
    n_head: int
    n_kv_head: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: Optional[dict]  # llama3: factor, low_freq_factor, high_freq_factor, original_max_position_embeddings
    max_position_embeddings: int
    tie_word_embeddings: bool
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    qk_norm: bool

    @staticmethod
    def from_hf(cfg: dict) -> "Decoder":
        """HF config.json -> Decoder, as modeling_{llama,qwen2,qwen3}.py read it."""
        family = cfg["model_type"]
        assert family in ("llama", "qwen2", "qwen3"), family
        assert not cfg.get("use_sliding_window", False), "sliding window attention is not modelled"
        scaling = cfg.get("rope_scaling")
        if scaling is not None:
            assert scaling.get("rope_type", scaling.get("type")) == "llama3", scaling
        heads = cfg["num_attention_heads"]
        attention_bias = cfg.get("attention_bias", False)
        return Decoder(
            family=family,
            vocab_size=cfg["vocab_size"],
            hidden_size=cfg["hidden_size"],
            intermediate_size=cfg["intermediate_size"],
            n_layer=cfg["num_hidden_layers"],
            n_head=heads,
            n_kv_head=cfg.get("num_key_value_heads") or heads,
            head_dim=cfg.get("head_dim") or cfg["hidden_size"] // heads,
            rms_norm_eps=cfg["rms_norm_eps"],
            rope_theta=cfg.get("rope_theta", 10000.0),
            rope_scaling=scaling,
            max_position_embeddings=cfg["max_position_embeddings"],
            tie_word_embeddings=cfg.get("tie_word_embeddings", False),
            qkv_bias=True if family == "qwen2" else attention_bias,  # Qwen2Attention: bias=True on q/k/v
            o_bias=False if family == "qwen2" else attention_bias,
            mlp_bias=cfg.get("mlp_bias", False) if family == "llama" else False,
            qk_norm=family == "qwen3",
        )

    @staticmethod
    def from_contract(c: dict) -> "Decoder":
        """A DecoderConfig of src/engine/families/config.ts as JSON (bench/engine.ts passes FAMILY_PRESETS)."""
        s = c.get("ropeScaling")
        return Decoder(
            family=c["family"], vocab_size=c["vocabSize"], hidden_size=c["hiddenSize"],
            intermediate_size=c["intermediateSize"], n_layer=c["nLayer"], n_head=c["nHead"], n_kv_head=c["nKvHead"],
            head_dim=c["headDim"], rms_norm_eps=c["rmsNormEps"], rope_theta=c["ropeTheta"],
            rope_scaling=None if s is None else {
                "factor": s["factor"], "low_freq_factor": s["lowFreqFactor"], "high_freq_factor": s["highFreqFactor"],
                "original_max_position_embeddings": s["originalMaxPositionEmbeddings"]},
            max_position_embeddings=c["maxPositionEmbeddings"], tie_word_embeddings=c["tieWordEmbeddings"],
            qkv_bias=c["qkvBias"], o_bias=c["oBias"], mlp_bias=c["mlpBias"], qk_norm=c["qkNorm"],
        )


LINEAR_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def linear_shapes(c: Decoder, i: int) -> List[Tuple[str, List[int], bool]]:
    """(HF module name, [out, in], has bias) of layer i's linear layers."""
    C, D, I = c.hidden_size, c.head_dim, c.intermediate_size
    q, kv = c.n_head * D, c.n_kv_head * D
    p = f"model.layers.{i}."
    return [
        (p + "self_attn.q_proj", [q, C], c.qkv_bias), (p + "self_attn.k_proj", [kv, C], c.qkv_bias),
        (p + "self_attn.v_proj", [kv, C], c.qkv_bias), (p + "self_attn.o_proj", [C, q], c.o_bias),
        (p + "mlp.gate_proj", [I, C], c.mlp_bias), (p + "mlp.up_proj", [I, C], c.mlp_bias),
        (p + "mlp.down_proj", [C, I], c.mlp_bias),
    ]


def parameter_shapes(c: Decoder) -> List[Tuple[str, List[int]]]:
    """HF names and shapes in the order HF's modules declare them (state_dict order)."""
    C, D = c.hidden_size, c.head_dim
    out = [("model.embed_tokens.weight", [c.vocab_size, C])]
    for i in range(c.n_layer):
        p = f"model.layers.{i}."
        lin = {name.split(".")[-1]: (name, shape, bias) for name, shape, bias in linear_shapes(c, i)}

        def add(module):
            name, shape, bias = lin[module]
            out.append((name + ".weight", shape))
            if bias:
                out.append((name + ".bias", [shape[0]]))

        out.append((p + "input_layernorm.weight", [C]))
        for m in ("q_proj", "k_proj", "v_proj", "o_proj"):
            add(m)
        if c.qk_norm:
            out += [(p + "self_attn.q_norm.weight", [D]), (p + "self_attn.k_norm.weight", [D])]
        out.append((p + "post_attention_layernorm.weight", [C]))
        for m in ("gate_proj", "up_proj", "down_proj"):
            add(m)
    out.append(("model.norm.weight", [C]))
    if not c.tie_word_embeddings:
        out.append(("lm_head.weight", [c.vocab_size, C]))
    return out


def lora_shapes(c: Decoder, r: int, targets: List[str]) -> List[Tuple[str, List[int]]]:
    """PEFT's names without `base_model.model.`: lora_A [r, in], lora_B [out, r], per targeted module."""
    out = []
    for i in range(c.n_layer):
        for name, (o, n), _ in linear_shapes(c, i):
            if name.split(".")[-1] in targets:
                out += [(name + ".lora_A.weight", [r, n]), (name + ".lora_B.weight", [o, r])]
    return out


# ----------------------------------------------------------------------------------------------------------
# The model, after HF's modeling files


def rms_norm(x, w, eps):
    """HF's LlamaRMSNorm: normalise in (at least) float32, cast back, then scale by the gain."""
    dtype = x.dtype
    h = x.to(torch.promote_types(dtype, torch.float32))
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(dtype)


def inv_freq(c: Decoder) -> torch.Tensor:
    """[D/2] rotation frequencies theta^(-2j/D), with llama3's scaling: wavelengths longer than
    original / low_freq_factor slowed by `factor`, shorter than original / high_freq_factor kept, those in
    between interpolated (modeling_rope_utils._compute_llama3_parameters)."""
    D = c.head_dim
    inv = 1.0 / (c.rope_theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    s = c.rope_scaling
    if s is None:
        return inv
    factor, low, high, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > old / low, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old / high) & (wavelen <= old / low)
    return torch.where(medium, smoothed, scaled)


def rope_cos_sin(c: Decoder, positions: torch.Tensor, dtype) -> Tuple[torch.Tensor, torch.Tensor]:
    """positions [T] -> cos, sin [T, D]: the D/2 angles repeated twice (HF's cat((freqs, freqs)))."""
    freqs = positions.to(torch.float64)[:, None] * inv_freq(c)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):
    """x [B,heads,T,D], cos/sin [T,D]: element j pairs with j + D/2 (rotate-half, not interleaved)."""
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, n_rep):
    """[B,KV,T,D] -> [B,KV*n_rep,T,D]: query head h reads KV head h // n_rep."""
    B, KV, T, D = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None].expand(B, KV, n_rep, T, D).reshape(B, KV * n_rep, T, D)


Linear = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


class DecoderLM:
    """params: HF name -> tensor (weights [out, in]); lora: name -> tensor (`...q_proj.lora_A.weight`),
    applied with scale alpha / r and dropout on its input (PEFT's lora_dropout; 0 for the fixtures);
    linear(x, w, b) = x w^T + b (bench/torch_engine.py may pass oneDNN's); checkpoint_layers: recompute
    each block in backward (HF's gradient_checkpointing)."""

    def __init__(self, c: Decoder, params: Dict[str, torch.Tensor], lora: Optional[Dict[str, torch.Tensor]] = None,
                 lora_scale: float = 1.0, linear: Linear = F.linear, lora_dropout: float = 0.0, checkpoint_layers: bool = False):
        self.c, self.p, self.lora, self.lora_scale, self.linear = c, params, lora or {}, lora_scale, linear
        self.lora_dropout, self.checkpoint_layers = lora_dropout, checkpoint_layers

    def proj(self, name, x):
        y = self.linear(x, self.p[name + ".weight"], self.p.get(name + ".bias"))
        a = self.lora.get(name + ".lora_A.weight")
        if a is not None:
            # PEFT's lora.Linear: base_layer(x) + lora_B(lora_A(dropout(x))) * scaling
            xd = F.dropout(x, self.lora_dropout) if self.lora_dropout > 0 else x
            y = y + self.linear(self.linear(xd, a, None), self.lora[name + ".lora_B.weight"], None) * self.lora_scale
        return y

    def head_weight(self):
        return self.p["model.embed_tokens.weight" if self.c.tie_word_embeddings else "lm_head.weight"]

    def block(self, i, x, cos, sin, mask, cache, pos):
        """Decoder layer i on x [B,T,C] (modeling_llama's LlamaDecoderLayer and LlamaAttention)."""
        c = self.c
        B, T, _ = x.shape
        H, KV, D = c.n_head, c.n_kv_head, c.head_dim
        p = f"model.layers.{i}."
        h = rms_norm(x, self.p[p + "input_layernorm.weight"], c.rms_norm_eps)
        q = self.proj(p + "self_attn.q_proj", h).view(B, T, H, D)
        k = self.proj(p + "self_attn.k_proj", h).view(B, T, KV, D)
        v = self.proj(p + "self_attn.v_proj", h).view(B, T, KV, D).transpose(1, 2)
        if c.qk_norm:  # Qwen3: per head, before RoPE
            q = rms_norm(q, self.p[p + "self_attn.q_norm.weight"], c.rms_norm_eps)
            k = rms_norm(k, self.p[p + "self_attn.k_norm.weight"], c.rms_norm_eps)
        q = apply_rope(q.transpose(1, 2), cos, sin)
        k = apply_rope(k.transpose(1, 2), cos, sin)
        if cache is not None:
            kc, vc = cache[i]
            kc[:, :, pos:pos + T] = k
            vc[:, :, pos:pos + T] = v
            k, v = kc[:, :, :pos + T], vc[:, :, :pos + T]
        k, v = repeat_kv(k, H // KV), repeat_kv(v, H // KV)
        att = (q @ k.transpose(-2, -1)) * D ** -0.5 + mask
        att = att.softmax(-1, dtype=torch.promote_types(x.dtype, torch.float32)).to(x.dtype)
        y = (att @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + self.proj(p + "self_attn.o_proj", y)
        h = rms_norm(x, self.p[p + "post_attention_layernorm.weight"], c.rms_norm_eps)
        h = F.silu(self.proj(p + "mlp.gate_proj", h)) * self.proj(p + "mlp.up_proj", h)
        return x + self.proj(p + "mlp.down_proj", h)

    def hidden(self, tokens, attention_mask=None, cache=None, pos=0):
        """tokens [B,T] at positions pos..pos+T-1 -> final hidden states [B,T,C] (after model.norm).
        attention_mask [B, pos+T]: 1 for a real token, 0 for padding (HF's; None: all real).
        cache: per layer [k, v], each [B, KV, Tmax, D] (KV heads only, k after RoPE), written at pos.."""
        c = self.c
        B, T = tokens.shape
        x = self.p["model.embed_tokens.weight"][tokens]
        dtype = x.dtype
        cos, sin = rope_cos_sin(c, torch.arange(pos, pos + T), dtype)
        # HF's 4D mask: 0 where query i (at pos+i) may attend to key j, the dtype's lowest value elsewhere
        keys = pos + T
        allowed = torch.arange(keys)[None, :] <= torch.arange(pos, pos + T)[:, None]  # [T, keys]
        allowed = allowed[None, None].expand(B, 1, T, keys)
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :keys].bool()
        mask = torch.zeros(B, 1, T, keys, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
        for i in range(c.n_layer):
            if self.checkpoint_layers and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(self.block, i, x, cos, sin, mask, cache, pos, use_reentrant=False)
            else:
                x = self.block(i, x, cos, sin, mask, cache, pos)
        return rms_norm(x, self.p["model.norm.weight"], c.rms_norm_eps)

    def forward(self, tokens, attention_mask=None, cache=None, pos=0):
        """tokens [B,T] -> logits [B,T,V] (arguments as `hidden`)."""
        return self.linear(self.hidden(tokens, attention_mask, cache, pos), self.head_weight(), None)

    def new_cache(self, batch, tmax, dtype):
        c = self.c
        return [[torch.zeros(batch, c.n_kv_head, tmax, c.head_dim, dtype=dtype) for _ in range(2)] for _ in range(c.n_layer)]


def token_logprobs(logits, tokens, lengths):
    """[B,T-1] log p(tokens[b,t+1] | ..t), 0 past each row's length; and the valid mask."""
    T = tokens.shape[1]
    logp = logits.log_softmax(-1)
    lp = logp[:, :-1].gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)
    valid = torch.arange(T - 1)[None, :] + 1 < torch.tensor(lengths)[:, None]
    return torch.where(valid, lp, torch.zeros_like(lp)), valid


def mean_nll(model, tokens, lengths):
    mask = (torch.arange(tokens.shape[1])[None, :] < torch.tensor(lengths)[:, None]).long()
    logits = model.forward(tokens, mask)
    lp, valid = token_logprobs(logits, tokens, lengths)
    return logits, lp, -lp.sum() / valid.sum()


# ----------------------------------------------------------------------------------------------------------
# The fixtures

VOCAB = 53
LENGTHS = [12, 9, 5, 2]  # a padded batch: one full row, two shorter, one with a single target
BOS, EOS = VOCAB - 2, VOCAB - 1

COMMON = {"attention_dropout": 0.0, "bos_token_id": BOS, "eos_token_id": EOS, "hidden_act": "silu",
          "initializer_range": 0.02, "use_cache": True, "vocab_size": VOCAB}

FIXTURES = {
    "llama-tiny": {
        "dtype": "F32", "shards": 1, "lora": None, "long": True,
        "config": {**COMMON, "architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": False,
                   "head_dim": 6, "hidden_size": 24, "intermediate_size": 40, "max_position_embeddings": 2048,
                   "mlp_bias": True, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
                   "pretraining_tp": 1, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                   # D=6: wavelengths 6.3, 136, 2915 against bands at 64 and 256: one of each kind
                   "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                    "original_max_position_embeddings": 256, "rope_type": "llama3"},
                   "tie_word_embeddings": True, "torch_dtype": "float32"},
    },
    "qwen2-tiny": {
        "dtype": "BF16", "shards": 1, "long": False, "lora": {"r": 4, "lora_alpha": 8, "target_modules": LINEAR_MODULES},
        "config": {**COMMON, "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 24,
                   "intermediate_size": 40, "max_position_embeddings": 4096, "max_window_layers": 2,
                   "num_attention_heads": 6, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
                   "rope_scaling": None, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": False,
                   "torch_dtype": "bfloat16", "use_sliding_window": False},
    },
    "qwen3-tiny": {
        "dtype": "F16", "shards": 2, "lora": None, "long": True,
        "config": {**COMMON, "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "attention_bias": True,
                   "head_dim": 8, "hidden_size": 24, "intermediate_size": 40, "max_position_embeddings": 4096,
                   "max_window_layers": 2, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 1,
                   "rms_norm_eps": 1e-6, "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": None,
                   "tie_word_embeddings": True, "torch_dtype": "float16", "use_sliding_window": False},
    },
}

LONG_T, LONG_FROM = 1040, 999  # the last 41 positions: a KV-cache decoder's prefill of 999 + 40 steps

TORCH_DTYPE = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def random_parameters(shapes, gen, dtype=torch.float32):
    """Values of a size that makes every term matter (HF's 0.02 would leave the softmax near uniform); norm
    gains near 1 and biases nonzero so their gradients are not trivially structured. Rounded to the
    checkpoint's dtype, then held in float64: the reference computes on exactly what the file stores."""
    out = {}
    for name, shape in shapes:
        if name.endswith("norm.weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) == 1:
            t = 0.1 * torch.randn(shape, generator=gen)
        else:
            t = 0.2 * torch.randn(shape, generator=gen)
        out[name] = t.to(dtype).double().requires_grad_(True)
    return out


def padded_batch(gen, lengths, T):
    rows = [torch.randint(0, VOCAB, (n,), generator=gen) for n in lengths]
    tokens = torch.zeros(len(lengths), T, dtype=torch.long)
    for b, row in enumerate(rows):
        tokens[b, : len(row)] = row
    return tokens


# ----------------------------------------------------------------------------------------------------------
# The reference's own checks


def check_layers():
    """RoPE, repeat_kv and the llama3 bands against independent formulations."""
    c = Decoder.from_hf(FIXTURES["llama-tiny"]["config"])
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 7, c.head_dim, generator=gen, dtype=torch.float64)
    cos, sin = rope_cos_sin(c, torch.arange(7), torch.float64)
    # rotate-half: (x_j, x_{j+D/2}) is the complex number x_j + i x_{j+D/2}, turned by position * freq_j
    h = c.head_dim // 2
    z = torch.complex(x[..., :h], x[..., h:]) * torch.polar(torch.ones(7, h, dtype=torch.float64),
                                                           torch.arange(7, dtype=torch.float64)[:, None] * inv_freq(c))
    err = (apply_rope(x, cos, sin) - torch.cat((z.real, z.imag), -1)).abs().max().item()
    assert err < 1e-12, f"RoPE disagrees with the complex rotation: {err}"
    assert torch.equal(repeat_kv(x, 3), torch.repeat_interleave(x, 3, dim=1)), "repeat_kv"
    s = c.rope_scaling
    plain = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2, dtype=torch.float64) / c.head_dim))
    wavelen = 2 * math.pi / plain
    old = s["original_max_position_embeddings"]
    bands = [(wavelen < old / s["high_freq_factor"]).any(), (wavelen > old / s["low_freq_factor"]).any(),
             ((wavelen >= old / s["high_freq_factor"]) & (wavelen <= old / s["low_freq_factor"])).any()]
    assert all(bands), f"llama-tiny's rope_scaling should use all three llama3 bands: wavelengths {wavelen.tolist()}"
    scaled = inv_freq(c)
    assert scaled[0] == plain[0] and abs(scaled[-1] - plain[-1] / s["factor"]) < 1e-18
    assert plain[1] / s["factor"] < scaled[1] < plain[1]


def check_incremental(model, tokens, lengths):
    """Every prefix recomputed alone, and decoding with the KV cache, give the full forward's logits."""
    with torch.no_grad():
        mask = (torch.arange(tokens.shape[1])[None, :] < torch.tensor(lengths)[:, None]).long()
        full = model.forward(tokens, mask)
        for t in range(1, tokens.shape[1] + 1):
            err = (model.forward(tokens[:, :t], mask[:, :t])[:, -1] - full[:, t - 1]).abs().max().item()
            assert err < 1e-10, f"{model.c.family}: prefix of {t} recomputed differs from the full forward: {err}"
        cache = model.new_cache(tokens.shape[0], tokens.shape[1], full.dtype)
        prefill = 3
        steps = [model.forward(tokens[:, :prefill], mask[:, :prefill], cache, 0)]
        for t in range(prefill, tokens.shape[1]):
            steps.append(model.forward(tokens[:, t:t + 1], mask[:, : t + 1], cache, t))
        err = (torch.cat(steps, 1) - full).abs().max().item()
        assert err < 1e-10, f"{model.c.family}: KV-cache decoding differs from the full forward: {err}"


def check_long_cache(model, gen):
    """KV-cache decoding past position 1000 (RoPE's angles large, llama3's scaled bands in play)."""
    with torch.no_grad():
        T, prefill = 1040, 1020
        tokens = torch.randint(0, model.c.vocab_size, (2, T), generator=gen)
        full = model.forward(tokens)
        cache = model.new_cache(2, T, full.dtype)
        steps = [model.forward(tokens[:, :prefill], None, cache, 0)[:, -1:]]
        for t in range(prefill, T - 1):
            steps.append(model.forward(tokens[:, t:t + 1], None, cache, t))
        err = (torch.cat(steps, 1) - full[:, prefill - 1:T - 1]).abs().max().item()
        assert err < 1e-9, f"{model.c.family}: KV-cache decoding at positions > 1000 differs: {err}"


def check_padding(model, tokens, lengths):
    """Each row alone (no padding) and the padded batch with other pad tokens give the same valid logits."""
    with torch.no_grad():
        mask = (torch.arange(tokens.shape[1])[None, :] < torch.tensor(lengths)[:, None]).long()
        batch = model.forward(tokens, mask)
        other = torch.where(mask.bool(), tokens, torch.full_like(tokens, 7))
        err = max(((model.forward(other, mask) - batch) * mask[..., None]).abs().max().item(),
                  max((model.forward(tokens[b:b + 1, :n])[0] - batch[b, :n]).abs().max().item() for b, n in enumerate(lengths)))
        assert err < 1e-10, f"{model.c.family}: padding changes valid logits: {err}"


def check_gradients(family_cfg, lora):
    """torch.autograd.gradcheck (float64) of the mean NLL in every parameter, on a tinier config (one block:
    every op's backward is in it; 2 forwards per parameter element)."""
    cfg = dict(family_cfg, vocab_size=7, hidden_size=8, intermediate_size=10, num_hidden_layers=1)
    if "head_dim" in cfg:
        cfg["head_dim"] = 6 if cfg["model_type"] == "qwen3" else 4  # qwen3: heads * head_dim != hidden
    cfg["num_attention_heads"], cfg["num_key_value_heads"] = 2, 1
    if cfg["model_type"] == "llama":
        cfg["rope_scaling"] = dict(cfg["rope_scaling"], original_max_position_embeddings=64)
    c = Decoder.from_hf(cfg)
    gen = torch.Generator().manual_seed(2)
    params = random_parameters(parameter_shapes(c), gen)
    tokens = torch.randint(0, 7, (2, 5), generator=gen)
    lengths = [5, 3]
    names = [n for n, _ in parameter_shapes(c)]
    adapters = {}
    if lora:
        adapters = {n: (0.3 * torch.randn(s, generator=gen, dtype=torch.float64)).requires_grad_(True)
                    for n, s in lora_shapes(c, 2, lora["target_modules"])}

    def loss(*xs):
        p = dict(zip(names, xs[: len(names)]))
        a = dict(zip(adapters, xs[len(names):]))
        return mean_nll(DecoderLM(c, p, a, 1.5), tokens, lengths)[2]

    inputs = tuple(params[n] for n in names) + tuple(adapters.values())
    assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-7, rtol=1e-5), f"{c.family}: gradcheck"


# ----------------------------------------------------------------------------------------------------------
# Writing


SAFETENSORS_DTYPE = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


def safetensors_bytes(tensors, metadata=None):
    """tensors: (name, tensor) in order, each written in its own dtype; header padded with spaces to 8 bytes."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        t = t.detach().contiguous()
        if t.dtype == torch.float32:
            flat = t.view(-1).tolist()
            blob = struct.pack(f"<{len(flat)}f", *flat)
        else:  # 2-byte floats: their bit patterns
            flat = t.view(torch.int16).view(-1).tolist()
            blob = struct.pack(f"<{len(flat)}h", *flat)
        header[name] = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_checkpoint(out, c, params, dtype, shards):
    """model.safetensors, or `shards` files model-0000k-of-0000n.safetensors + model.safetensors.index.json."""
    named = [(n, params[n].detach().to(dtype)) for n, _ in parameter_shapes(c)]
    if shards == 1:
        with open(os.path.join(out, "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes(named, {"format": "pt"}))
        return
    per = math.ceil(len(named) / shards)
    weight_map, total = {}, 0
    for k in range(shards):
        part = named[k * per:(k + 1) * per]
        fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        with open(os.path.join(out, fname), "wb") as f:
            f.write(safetensors_bytes(part, {"format": "pt"}))
        for n, t in part:
            weight_map[n] = fname
            total += t.numel() * t.element_size()
    write_json(os.path.join(out, "model.safetensors.index.json"), {"metadata": {"total_size": total}, "weight_map": weight_map})


def golden_tensors(tokens, lengths, logits, lp, loss, grads):
    T = tokens.shape[1]
    mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).unsqueeze(-1)
    return [
        ("tokens", tokens.double()),
        ("lengths", torch.tensor(lengths, dtype=torch.float64)),
        ("logits", torch.where(mask, logits, torch.zeros_like(logits))),
        ("logprobs", lp),
        ("loss", loss.reshape(())),
    ] + [("grad." + n, g) for n, g in grads]


def write_golden(path, tensors, metadata):
    with open(path, "wb") as f:
        f.write(safetensors_bytes([(n, t.detach().float()) for n, t in tensors], metadata))


def build(name, spec, out, gen):
    cfg = spec["config"]
    c = Decoder.from_hf(cfg)
    dtype = TORCH_DTYPE[spec["dtype"]]
    params = random_parameters(parameter_shapes(c), gen, dtype)
    T = max(LENGTHS)
    tokens = padded_batch(gen, LENGTHS, T)
    model = DecoderLM(c, params)
    check_incremental(model, tokens, LENGTHS)
    check_padding(model, tokens, LENGTHS)
    logits, lp, loss = mean_nll(model, tokens, LENGTHS)
    loss.backward()
    meta = {"generator": "scripts/golden_families.py", "torch": torch.__version__, "compute_dtype": "float64"}

    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "config.json"), cfg)
    write_checkpoint(d, c, params, dtype, spec["shards"])
    grads = [(n, params[n].grad) for n, _ in parameter_shapes(c)]
    write_golden(os.path.join(d, "golden.safetensors"), golden_tensors(tokens, LENGTHS, logits, lp, loss, grads), meta)
    summary = f"{name}: loss {loss.item():.6f}, {sum(t.numel() for t in params.values())} parameters ({spec['dtype']})"

    if spec["long"]:
        with torch.no_grad():
            long_tokens = torch.randint(0, VOCAB, (1, LONG_T), generator=torch.Generator().manual_seed(SEED + 1))
            long_logits = model.forward(long_tokens)[0, LONG_FROM:]
        write_golden(os.path.join(d, "golden-long.safetensors"), [("tokens", long_tokens.double()), ("logits", long_logits)],
                     dict(meta, first_position=str(LONG_FROM)))

    lora = spec["lora"]
    if lora:
        # A as PEFT's kaiming-uniform scale would leave tiny updates; B nonzero (PEFT starts it at 0) so
        # that d loss / d A is not zero and the adapter changes the logits
        shapes = lora_shapes(c, lora["r"], lora["target_modules"])
        adapters = {n: (0.3 * torch.randn(s, generator=gen) if ".lora_A." in n else 0.1 * torch.randn(s, generator=gen))
                    .double().requires_grad_(True) for n, s in shapes}
        base = {n: t.detach() for n, t in params.items()}  # frozen
        lm = DecoderLM(c, base, adapters, lora["lora_alpha"] / lora["r"])
        check_incremental(lm, tokens, LENGTHS)
        l_logits, l_lp, l_loss = mean_nll(lm, tokens, LENGTHS)
        l_loss.backward()
        ad = os.path.join(d, "adapter")
        os.makedirs(ad, exist_ok=True)
        write_json(os.path.join(ad, "adapter_config.json"), {
            "base_model_name_or_path": f"test/fixtures/families/{name}", "bias": "none", "fan_in_fan_out": False,
            "inference_mode": True, "init_lora_weights": True, "lora_alpha": lora["lora_alpha"], "lora_dropout": 0.0,
            "modules_to_save": None, "peft_type": "LORA", "r": lora["r"], "revision": None,
            "target_modules": sorted(lora["target_modules"]), "task_type": "CAUSAL_LM", "use_dora": False,
            "use_rslora": False})
        with open(os.path.join(ad, "adapter_model.safetensors"), "wb") as f:
            f.write(safetensors_bytes([("base_model.model." + n, t.detach().float()) for n, t in adapters.items()],
                                      {"format": "pt"}))
        write_golden(os.path.join(d, "golden-lora.safetensors"),
                     golden_tensors(tokens, LENGTHS, l_logits, l_lp, l_loss, [(n, t.grad) for n, t in adapters.items()]),
                     dict(meta, lora_scale=str(lora["lora_alpha"] / lora["r"])))
        summary += f"; with LoRA r {lora['r']}: loss {l_loss.item():.6f}"
    return model, summary


def main():
    ap = argparse.ArgumentParser(description="Writes the golden fixtures of the decoder families.")
    ap.add_argument("--out", default=OUT, help="output directory (default: test/fixtures/families)")
    ap.add_argument("--skip-gradcheck", action="store_true", help="skip torch.autograd.gradcheck (the slowest check)")
    args = ap.parse_args()
    torch.manual_seed(SEED)
    check_layers()
    gen = torch.Generator().manual_seed(SEED)
    for name, spec in FIXTURES.items():
        model, summary = build(name, spec, args.out, gen)
        check_long_cache(model, torch.Generator().manual_seed(3))
        if not args.skip_gradcheck:
            check_gradients(spec["config"], spec["lora"])
        print(f"wrote {os.path.join(args.out, name)}: {summary}")


if __name__ == "__main__":
    main()
