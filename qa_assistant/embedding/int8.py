"""The int8 encoder: the BERT forward pass of a sentence-transformers model with every Linear layer as an
exact integer matrix product (``torch._int_mm``, oneDNN kernels). Two choices make a vector the same
whatever it is batched with and whichever x86-64 CPU computes it:

* activations are quantised **per token** (one scale per row, symmetric int8), so no other text in the
  batch, no padding and no "attention sink" token (``<s>``, 5–10× every other activation) sets a
  token's scale; attention and pooling run per sequence on its own tokens;
* weights are quantised per output channel to 13 bits held as **two 7-bit parts** (±63, ±32): oneDNN's
  int8 kernels on CPUs without VNNI add pairs of u8×s8 products in 16 bits, which saturates with 8-bit
  weights (measured: wrong by 8·10⁵ with ``ONEDNN_MAX_CPU_ISA=AVX2``) and is exact with 7-bit ones; one
  7-bit part alone loses too much (a near tie of the test set ranked otherwise than fp32), two cost one
  more integer product. Integer sums are then exact on every CPU;
* the float steps (LayerNorm, GELU, attention, the rescaling) run in **float64**: SIMD paths of
  different widths sum in different orders, which in float32 flips a rounding now and then (measured:
  vectors 0.007 apart between the AVX-512 and AVX2 paths); in float64 those differences stay ~1e-16
  and vanish when the vector is rounded to float32.

Embeddings agree with fp32 at mean cosine ≈ 0.999 (``tests/embedding/test_embedder.py``)."""
from __future__ import annotations

WEIGHT_LEVELS = 63  # each weight part in 7 bits: exact on CPUs with and without VNNI (see the module docstring)
WEIGHT_BASE = 65  # weight = 65·high + low: 13 bits of weight from two 7-bit parts
ACTIVATION_LEVELS = 127


class _QuantLinear:
    """y = x Wᵀ + b with x int8 per row and W in 13 bits per output channel, held as two 7-bit parts
    (W ≈ scale·(65·high + low), |high| ≤ 63, |low| ≤ 32): two exact integer products, so each row's
    result depends on that row alone and is the same on every CPU."""

    def __init__(self, weight, bias):
        import torch
        weight = weight.detach().double()
        self.weight_scale = weight.abs().amax(dim=1).clamp(min=1e-12) / (WEIGHT_BASE * WEIGHT_LEVELS)
        levels = torch.round(weight / self.weight_scale[:, None])
        high = torch.round(levels / WEIGHT_BASE).clamp(-WEIGHT_LEVELS, WEIGHT_LEVELS)
        low = (levels - WEIGHT_BASE * high).clamp(-(WEIGHT_BASE // 2), WEIGHT_BASE // 2)
        # (in, out) views of (out, in) tensors: the fast layout for _int_mm
        self.high_t = high.to(torch.int8).contiguous().t()
        self.low_t = low.to(torch.int8).contiguous().t()
        self.bias = bias.detach().double().contiguous()

    def __call__(self, x):
        import torch
        scale = x.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / ACTIVATION_LEVELS
        rows = torch.round(x / scale).to(torch.int8)
        product = (torch._int_mm(rows, self.high_t) * WEIGHT_BASE + torch._int_mm(rows, self.low_t)).double()
        return torch.addcmul(self.bias, product * scale, self.weight_scale)


def _double(norm) -> tuple:
    """A LayerNorm's weight and bias in float64 (the float steps run in float64; see the module docstring)."""
    return norm.weight.detach().double(), norm.bias.detach().double()


class UnsupportedModel(ValueError):
    """The int8 encoder runs BERT-style models with mean pooling only."""


class Int8Encoder:
    """The BERT forward pass of a sentence-transformers model (Transformer → mean Pooling →
    Normalize) with int8 Linear layers. Embeddings, LayerNorm, GELU, attention (SDPA) and pooling stay
    fp32. Takes token ids, returns L2-normalised sentence vectors."""

    def __init__(self, st_model):
        import torch
        modules = list(st_model)
        transformer = modules[0]
        bert = getattr(transformer, "auto_model", None)
        config = getattr(bert, "config", None)
        pooling = modules[1] if len(modules) > 1 else None
        if (config is None or getattr(config, "model_type", "") not in ("bert", "xlm-roberta")
                or getattr(config, "position_embedding_type", "absolute") != "absolute"
                or getattr(config, "hidden_act", "") != "gelu" or not hasattr(bert, "encoder")
                or getattr(pooling, "pooling_mode", None) != "mean" or not getattr(pooling, "include_prompt", True)
                or any(type(m).__name__ not in ("Normalize",) for m in modules[2:])):
            raise UnsupportedModel("the int8 encoder runs BERT/XLM-R models with mean pooling only")
        self.heads = int(config.num_attention_heads)
        self.eps = float(config.layer_norm_eps)
        self.position_offset = (int(config.pad_token_id) + 1) if config.model_type == "xlm-roberta" else 0
        self.pad_id = int(getattr(config, "pad_token_id", 0) or 0)
        embeddings = bert.embeddings
        self.word = embeddings.word_embeddings.weight.detach()
        self.position = embeddings.position_embeddings.weight.detach().double()
        self.token_type = embeddings.token_type_embeddings.weight.detach()[0].double()
        self.embedding_norm = _double(embeddings.LayerNorm)
        self.hidden = int(self.word.shape[1])
        self.layers = []
        for layer in bert.encoder.layer:
            attention = layer.attention
            qkv_weight = torch.cat([attention.self.query.weight, attention.self.key.weight,
                                    attention.self.value.weight])
            qkv_bias = torch.cat([attention.self.query.bias, attention.self.key.bias, attention.self.value.bias])
            self.layers.append((
                _QuantLinear(qkv_weight, qkv_bias),
                _QuantLinear(attention.output.dense.weight, attention.output.dense.bias),
                _double(attention.output.LayerNorm),
                _QuantLinear(layer.intermediate.dense.weight, layer.intermediate.dense.bias),
                _QuantLinear(layer.output.dense.weight, layer.output.dense.bias),
                _double(layer.output.LayerNorm),
            ))

    def __call__(self, ids, lengths):
        """``ids``: LongTensor (batch, length) padded with anything; ``lengths``: LongTensor (batch,).
        Linear layers run on the batch's real tokens only (padding dropped), attention and pooling on
        each sequence alone: a text's vector does not depend on what it is batched with."""
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            batch, length = ids.shape
            hidden, heads = self.hidden, self.heads
            sizes = [int(n) for n in lengths]
            keep = (torch.arange(length)[None, :] < lengths[:, None]).reshape(-1)
            x = F.embedding(ids, self.word).double() + (self.position[self.position_offset:self.position_offset + length]
                                               + self.token_type)
            x = F.layer_norm(x.reshape(batch * length, hidden)[keep], (hidden,), *self.embedding_norm, self.eps)
            for qkv, out, norm1, up, down, norm2 in self.layers:
                context = torch.cat([self._attend(part, heads) for part in qkv(x).split(sizes)])
                x = F.layer_norm(out(context) + x, (hidden,), *norm1, self.eps)
                x = F.layer_norm(down(F.gelu(up(x))) + x, (hidden,), *norm2, self.eps)
            pooled = torch.stack([part.mean(dim=0) for part in x.split(sizes)])
            return F.normalize(pooled, dim=-1).float()

    @staticmethod
    def _attend(qkv, heads: int):
        """Self-attention of one sequence (rows = its tokens): the same computation alone or in a batch."""
        import torch.nn.functional as F
        tokens = qkv.shape[0]
        q, k, v = qkv.view(tokens, 3, heads, -1).permute(1, 2, 0, 3)
        return F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(tokens, -1)
