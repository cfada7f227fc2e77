//! The BERT encoder: weights from safetensors, and a forward pass written for
//! throughput on a small CPU.
//!
//! Texts are packed, not padded: the tokens of every text in a batch are laid
//! end to end in one `[tokens, hidden]` matrix, so each linear layer is a single
//! large matrix product with no padding rows at all, and attention runs per
//! text over exactly its own tokens (no mask needed). All work buffers live in
//! a [`Scratch`] that a worker thread reuses from batch to batch, so the hot
//! loop allocates nothing (allocation churn is what made candle slow here,
//! see `../shared/STACK.md`).

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::error::{EmbedError, Result};
use crate::kernels::{Kernel, KernelScratch, PackedWeights};
use crate::matmul::{View, gemm};
use crate::model::{EncoderConfig, Pooling};

/// A dense layer with its weight stored transposed, `[in, out]`, packed for
/// the kernel path in use.
struct Linear {
    weight: PackedWeights,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Linear {
    /// `out[t] = x[t] · W + b (+ residual[t])` for `tokens` rows.
    fn forward(
        &self,
        x: &[f32],
        tokens: usize,
        out: &mut [f32],
        residual: Option<&[f32]>,
        scratch: &mut KernelScratch,
    ) {
        let out = &mut out[..tokens * self.outputs];
        match residual {
            Some(residual) => {
                for (row, res) in out
                    .chunks_exact_mut(self.outputs)
                    .zip(residual.chunks_exact(self.outputs))
                {
                    for ((o, r), b) in row.iter_mut().zip(res).zip(&self.bias) {
                        *o = r + b;
                    }
                }
            }
            None => {
                for row in out.chunks_exact_mut(self.outputs) {
                    row.copy_from_slice(&self.bias);
                }
            }
        }
        self.weight
            .multiply_add(x, tokens, self.inputs, self.outputs, out, scratch);
    }
}

struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn apply(&self, x: &mut [f32]) {
        for row in x.chunks_exact_mut(self.gamma.len()) {
            let n = row.len() as f32;
            let mean = row.iter().sum::<f32>() / n;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let inv = 1.0 / (var + self.eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// The encoder's weights.
pub(crate) struct Bert {
    kernel: Kernel,
    hidden: usize,
    heads: usize,
    intermediate: usize,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

/// Reusable work buffers of one worker thread.
#[derive(Default)]
pub(crate) struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    inner: Vec<f32>,
    scores: Vec<f32>,
    kernel: KernelScratch,
}

fn grow(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

impl Bert {
    /// Loads the encoder from the bytes of a safetensors file (`path` is
    /// for messages). Tensor names may carry a `bert.` prefix; F32, F16 and
    /// BF16 weights are accepted. The linear layers are packed for `kernel`.
    pub(crate) fn load(
        path: &Path,
        bytes: &[u8],
        config: &EncoderConfig,
        kernel: Kernel,
    ) -> Result<Self> {
        let weights_error = |message: String| EmbedError::Weights {
            path: path.to_owned(),
            message,
        };
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|err| weights_error(format!("not a safetensors file: {err}")))?;
        let names: HashMap<String, String> = tensors
            .names()
            .into_iter()
            .map(|name| {
                let short = name.strip_prefix("bert.").unwrap_or(name);
                (short.to_owned(), name.to_owned())
            })
            .collect();
        let tensor = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let full = names
                .get(name)
                .ok_or_else(|| weights_error(format!("tensor {name} is missing")))?;
            let view = tensors
                .tensor(full)
                .map_err(|err| weights_error(format!("tensor {name}: {err}")))?;
            if view.shape() != shape {
                return Err(weights_error(format!(
                    "tensor {name} has shape {:?}, config.json implies {shape:?}",
                    view.shape()
                )));
            }
            to_f32(view.dtype(), view.data()).ok_or_else(|| {
                weights_error(format!(
                    "tensor {name} has unsupported dtype {:?}",
                    view.dtype()
                ))
            })
        };
        let h = config.hidden_size;
        let i = config.intermediate_size;
        let eps = config.layer_norm_eps as f32;
        let norm = |prefix: &str| -> Result<LayerNorm> {
            // Old checkpoints name layer-norm parameters gamma/beta.
            let pick = |new: &str, old: &str| {
                let name = format!("{prefix}.{new}");
                if names.contains_key(&name) {
                    tensor(&name, &[h])
                } else {
                    tensor(&format!("{prefix}.{old}"), &[h])
                }
            };
            Ok(LayerNorm {
                gamma: pick("weight", "gamma")?,
                beta: pick("bias", "beta")?,
                eps,
            })
        };
        let linear = |prefixes: &[&str], inputs: usize, outputs: usize| -> Result<Linear> {
            // Every part is read (and its shape checked against the file's
            // real bytes) before anything is sized from config.json, whose
            // numbers are untrusted: a huge one fails the check instead of
            // an allocation.
            let mut parts = Vec::new();
            let mut bias = Vec::new();
            for prefix in prefixes {
                parts.push(tensor(&format!("{prefix}.weight"), &[outputs, inputs])?);
                bias.extend(tensor(&format!("{prefix}.bias"), &[outputs])?);
            }
            let total = outputs * prefixes.len();
            let mut weight_t = vec![0.0; inputs * total];
            for (part, weight) in parts.iter().enumerate() {
                for (o, row) in weight.chunks_exact(inputs.max(1)).enumerate() {
                    for (k, w) in row.iter().enumerate() {
                        weight_t[k * total + part * outputs + o] = *w;
                    }
                }
            }
            Ok(Linear {
                weight: PackedWeights::pack(kernel, weight_t, inputs, total),
                bias,
                inputs,
                outputs: total,
            })
        };

        let vocab = names
            .get("embeddings.word_embeddings.weight")
            .and_then(|full| tensors.tensor(full).ok())
            .map(|view| view.shape().first().copied().unwrap_or(0))
            .unwrap_or(0);
        let mut layers = Vec::new();
        for n in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{n}");
            layers.push(Layer {
                qkv: linear(
                    &[
                        &format!("{p}.attention.self.query"),
                        &format!("{p}.attention.self.key"),
                        &format!("{p}.attention.self.value"),
                    ],
                    h,
                    h,
                )?,
                attention_out: linear(&[&format!("{p}.attention.output.dense")], h, h)?,
                attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate: linear(&[&format!("{p}.intermediate.dense")], h, i)?,
                output: linear(&[&format!("{p}.output.dense")], i, h)?,
                output_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        Ok(Self {
            kernel,
            hidden: h,
            heads: config.num_attention_heads,
            intermediate: i,
            word: tensor("embeddings.word_embeddings.weight", &[vocab, h])?,
            position: tensor(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, h],
            )?,
            token_type: tensor(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
            )?,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
        })
    }

    /// The kernel path the linear layers run on.
    pub(crate) fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Width of the output vectors.
    pub(crate) fn hidden(&self) -> usize {
        self.hidden
    }

    /// Number of rows in the word embedding table.
    pub(crate) fn vocab(&self) -> usize {
        self.word.len() / self.hidden
    }

    /// Encodes a batch of token-id sequences and pools each into one vector,
    /// written to `out` (`sequences.len() × hidden`). Ids must be below
    /// [`Bert::vocab`] and sequences no longer than the position table.
    pub(crate) fn encode(
        &self,
        sequences: &[&[u32]],
        pooling: Pooling,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) {
        let h = self.hidden;
        let tokens: usize = sequences.iter().map(|s| s.len()).sum();
        let longest = sequences.iter().map(|s| s.len()).max().unwrap_or(0);

        let x = grow(&mut scratch.x, tokens * h);
        let mut row = 0;
        for sequence in sequences {
            for (position, &id) in sequence.iter().enumerate() {
                let dst = &mut x[row * h..(row + 1) * h];
                let word = &self.word[id as usize * h..(id as usize + 1) * h];
                let pos = &self.position[position * h..(position + 1) * h];
                for (((d, w), p), t) in dst.iter_mut().zip(word).zip(pos).zip(&self.token_type[..h])
                {
                    *d = w + p + t;
                }
                row += 1;
            }
        }
        self.embedding_norm.apply(x);

        for layer in &self.layers {
            self.layer(layer, sequences, tokens, longest, scratch);
        }

        let x = &scratch.x[..tokens * h];
        let mut start = 0;
        for (sequence, pooled) in sequences.iter().zip(out.chunks_exact_mut(h)) {
            let rows = &x[start * h..(start + sequence.len()) * h];
            start += sequence.len();
            pool(rows, h, pooling, pooled);
        }
    }

    fn layer(
        &self,
        layer: &Layer,
        sequences: &[&[u32]],
        tokens: usize,
        longest: usize,
        scratch: &mut Scratch,
    ) {
        let h = self.hidden;
        let head = h / self.heads;
        let scale = 1.0 / (head as f32).sqrt();
        let x = &scratch.x[..tokens * h];
        let qkv = grow(&mut scratch.qkv, tokens * 3 * h);
        layer.qkv.forward(x, tokens, qkv, None, &mut scratch.kernel);

        let context = grow(&mut scratch.context, tokens * h);
        let scores = grow(&mut scratch.scores, longest * longest);
        let mut start = 0;
        for sequence in sequences {
            let len = sequence.len();
            let block = &qkv[start * 3 * h..(start + len) * 3 * h];
            let context_block = &mut context[start * h..(start + len) * h];
            for n in 0..self.heads {
                let q = View::new(&block[n * head..], len, head, 3 * h, 1);
                let k_t = View::new(&block[h + n * head..], head, len, 1, 3 * h);
                let v = View::new(&block[2 * h + n * head..], len, head, 3 * h, 1);
                let scores = &mut scores[..len * len];
                gemm(scores, len, q, k_t, scale, false);
                for row in scores.chunks_exact_mut(len) {
                    self.kernel.softmax(row);
                }
                gemm(
                    &mut context_block[n * head..],
                    h,
                    View::rows(scores, len, len, len),
                    v,
                    1.0,
                    false,
                );
            }
            start += len;
        }

        let attended = grow(&mut scratch.attended, tokens * h);
        layer.attention_out.forward(
            context,
            tokens,
            attended,
            Some(&scratch.x[..tokens * h]),
            &mut scratch.kernel,
        );
        layer.attention_norm.apply(attended);

        let inner = grow(&mut scratch.inner, tokens * self.intermediate);
        layer
            .intermediate
            .forward(attended, tokens, inner, None, &mut scratch.kernel);
        self.kernel.gelu(inner);
        let x = grow(&mut scratch.x, tokens * h);
        layer
            .output
            .forward(inner, tokens, x, Some(attended), &mut scratch.kernel);
        layer.output_norm.apply(x);
    }
}

fn pool(rows: &[f32], h: usize, pooling: Pooling, out: &mut [f32]) {
    let count = (rows.len() / h).max(1) as f32;
    match pooling {
        Pooling::Cls => out.copy_from_slice(&rows[..h]),
        Pooling::Max => {
            out.fill(f32::NEG_INFINITY);
            for row in rows.chunks_exact(h) {
                for (o, v) in out.iter_mut().zip(row) {
                    *o = o.max(*v);
                }
            }
        }
        Pooling::Mean | Pooling::MeanSqrtLen => {
            out.fill(0.0);
            for row in rows.chunks_exact(h) {
                for (o, v) in out.iter_mut().zip(row) {
                    *o += v;
                }
            }
            let divisor = if pooling == Pooling::Mean {
                count
            } else {
                count.sqrt()
            };
            for o in out.iter_mut() {
                *o /= divisor;
            }
        }
    }
}

fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        Dtype::F16 => Some(
            data.chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        Dtype::BF16 => Some(
            data.chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_modes() {
        let rows = [1.0, -2.0, 3.0, 4.0];
        let mut out = [0.0; 2];
        pool(&rows, 2, Pooling::Mean, &mut out);
        assert_eq!(out, [2.0, 1.0]);
        pool(&rows, 2, Pooling::Max, &mut out);
        assert_eq!(out, [3.0, 4.0]);
        pool(&rows, 2, Pooling::Cls, &mut out);
        assert_eq!(out, [1.0, -2.0]);
    }
}
