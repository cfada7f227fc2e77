//! A sentence-transformers model directory: which files it has and what its
//! JSON configuration says about the encoder, truncation, pooling and
//! normalisation.
//!
//! The layout is the one `sentence_transformers.SentenceTransformer.save`
//! writes: `config.json` (the BERT encoder), `tokenizer.json`,
//! `model.safetensors`, `sentence_bert_config.json` (`max_seq_length`),
//! `modules.json` (the pipeline, where a `Normalize` module asks for unit
//! vectors) and `1_Pooling/config.json` (how token vectors become one).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{EmbedError, Result};

/// The encoder's shape, from `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct EncoderConfig {
    /// `model_type`; only BERT-family encoders are run.
    #[serde(default)]
    pub model_type: String,
    /// Width of every token vector.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Rows of the position embedding table.
    pub max_position_embeddings: usize,
    /// Rows of the token-type embedding table.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// Epsilon of every layer norm.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// The feed-forward activation.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// `absolute` is the only kind supported.
    #[serde(default = "default_position_kind")]
    pub position_embedding_type: String,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".to_owned()
}
fn default_position_kind() -> String {
    "absolute".to_owned()
}

/// How the token vectors of a text are pooled into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean of the token vectors.
    Mean,
    /// The `[CLS]` token's vector.
    Cls,
    /// Element-wise maximum.
    Max,
    /// Sum divided by the square root of the token count.
    MeanSqrtLen,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: Option<usize>,
}

/// The longest query prompt accepted (real ones are under 100 bytes); the
/// embedder also refuses one that leaves a query too few tokens.
const MAX_PROMPT_BYTES: usize = 1024;

/// `config_sentence_transformers.json`: what sentence-transformers ≥ 3
/// records about prompts, e.g. `{"prompts": {"query": "Represent this
/// sentence for searching relevant passages: "}}` for retrieval models
/// trained with an instruction on the query side.
#[derive(Deserialize)]
struct PromptsConfig {
    #[serde(default)]
    prompts: std::collections::HashMap<String, String>,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
}

/// Everything read from a model directory except the weights and tokenizer.
#[derive(Debug, Clone)]
pub struct ModelDir {
    /// The directory.
    pub path: PathBuf,
    /// The encoder's shape.
    pub encoder: EncoderConfig,
    /// Texts are cut to this many tokens, `[CLS]` and `[SEP]` included.
    pub max_seq_length: usize,
    /// The pooling mode.
    pub pooling: Pooling,
    /// Whether the pipeline ends in a `Normalize` module.
    pub normalize: bool,
    /// Put before every search query (not before documents): the `query`
    /// prompt of `config_sentence_transformers.json`, empty when it has none.
    pub query_prompt: String,
}

impl ModelDir {
    /// Reads the configuration of the model in `path`.
    ///
    /// # Errors
    /// A missing or malformed configuration file, or a model that is not a
    /// BERT-family encoder with absolute positions and GELU.
    pub fn open(path: &Path) -> Result<Self> {
        let encoder: EncoderConfig = read_json(&path.join("config.json"))?;
        let unsupported = |message: String| EmbedError::Unsupported {
            path: path.join("config.json"),
            message,
        };
        if !matches!(encoder.model_type.as_str(), "bert" | "") {
            return Err(unsupported(format!(
                "model_type {:?} is not supported; Paperhub runs BERT-family encoders",
                encoder.model_type
            )));
        }
        if encoder.position_embedding_type != "absolute" {
            return Err(unsupported(format!(
                "position_embedding_type {:?} is not supported",
                encoder.position_embedding_type
            )));
        }
        if encoder.hidden_act != "gelu" {
            return Err(unsupported(format!(
                "hidden_act {:?} is not supported (only exact \"gelu\")",
                encoder.hidden_act
            )));
        }
        if encoder.num_attention_heads == 0
            || !encoder
                .hidden_size
                .is_multiple_of(encoder.num_attention_heads)
        {
            return Err(unsupported(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                encoder.hidden_size, encoder.num_attention_heads
            )));
        }

        let sentence_path = path.join("sentence_bert_config.json");
        let max_seq_length = if sentence_path.exists() {
            read_json::<SentenceConfig>(&sentence_path)?.max_seq_length
        } else {
            None
        }
        .unwrap_or(encoder.max_position_embeddings)
        .min(encoder.max_position_embeddings);

        let pooling_path = path.join("1_Pooling").join("config.json");
        let pooling = if pooling_path.exists() {
            let config: PoolingConfig = read_json(&pooling_path)?;
            match (
                config.pooling_mode_mean_tokens,
                config.pooling_mode_cls_token,
                config.pooling_mode_max_tokens,
                config.pooling_mode_mean_sqrt_len_tokens,
            ) {
                (true, false, false, false) => Pooling::Mean,
                (false, true, false, false) => Pooling::Cls,
                (false, false, true, false) => Pooling::Max,
                (false, false, false, true) => Pooling::MeanSqrtLen,
                _ => {
                    return Err(EmbedError::Unsupported {
                        path: pooling_path,
                        message:
                            "exactly one pooling mode must be on (mean, cls, max or mean_sqrt_len)"
                                .to_owned(),
                    });
                }
            }
        } else {
            Pooling::Mean
        };

        let modules_path = path.join("modules.json");
        let normalize = if modules_path.exists() {
            read_json::<Vec<Module>>(&modules_path)?
                .iter()
                .any(|module| module.kind.ends_with(".Normalize"))
        } else {
            false
        };

        let prompts_path = path.join("config_sentence_transformers.json");
        let query_prompt = if prompts_path.exists() {
            read_json::<PromptsConfig>(&prompts_path)?
                .prompts
                .remove("query")
                .unwrap_or_default()
        } else {
            String::new()
        };
        if query_prompt.len() > MAX_PROMPT_BYTES {
            return Err(EmbedError::Unsupported {
                path: prompts_path,
                message: format!(
                    "the query prompt is {} bytes; at most {MAX_PROMPT_BYTES} are accepted",
                    query_prompt.len()
                ),
            });
        }

        Ok(Self {
            path: path.to_owned(),
            encoder,
            max_seq_length,
            pooling,
            normalize,
            query_prompt,
        })
    }
}

/// Reads and parses one JSON file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| EmbedError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| EmbedError::Config {
        path: path.to_owned(),
        source,
    })
}
