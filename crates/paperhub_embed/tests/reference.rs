//! The encoder against sentence-transformers itself: 50 real abstracts whose
//! embeddings `scripts/make-reference-embeddings` computed with the Python
//! library. The model comes from `scripts/fetch-test-model` (run by
//! `scripts/test`); its directory is `$PAPERHUB_TEST_MODEL` or
//! `target/models/all-MiniLM-L6-v2`.
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::path::PathBuf;

use paperhub_embed::{Embedder, Kernel};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model_dir() -> PathBuf {
    std::env::var_os("PAPERHUB_TEST_MODEL").map_or_else(
        || workspace().join("target/models/all-MiniLM-L6-v2"),
        PathBuf::from,
    )
}

struct Reference {
    text: String,
    tokens: usize,
    embedding: Vec<f32>,
}

fn references() -> Vec<Reference> {
    let path = workspace().join("tests/fixtures/embeddings/all-MiniLM-L6-v2.jsonl");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            Reference {
                text: value["text"].as_str().unwrap().to_owned(),
                tokens: value["tokens"].as_u64().unwrap() as usize,
                embedding: value["embedding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect(),
            }
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn load() -> Embedder {
    load_for(Kernel::detect())
}

fn load_for(kernel: Kernel) -> Embedder {
    let dir = model_dir();
    Embedder::load_with_kernel(&dir, kernel).unwrap_or_else(|err| {
        panic!(
            "cannot load the test model from {} (run scripts/fetch-test-model): {err}",
            dir.display()
        )
    })
}

/// Every kernel path this CPU can run (the portable one everywhere, the
/// native ones where the CPU has them) against sentence-transformers.
#[test]
fn batched_embeddings_match_sentence_transformers_on_every_kernel_path() {
    let supported = Kernel::supported();
    assert!(supported.contains(&Kernel::Portable));
    for kernel in supported {
        batched_embeddings_match_sentence_transformers(kernel);
    }
}

fn batched_embeddings_match_sentence_transformers(kernel: Kernel) {
    let embedder = load_for(kernel);
    assert_eq!(embedder.kernel(), kernel);
    let references = references();
    assert_eq!(references.len(), 50);
    assert!(
        references.iter().any(|r| r.tokens == 256),
        "the reference set must include texts cut at 256 tokens"
    );
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let vectors = embedder.embed(&texts, 2).unwrap();
    let mut worst = f32::MAX;
    for (reference, vector) in references.iter().zip(vectors.chunks_exact(384)) {
        assert_eq!(
            embedder.token_count(&reference.text).unwrap(),
            reference.tokens
        );
        let similarity = cosine(vector, &reference.embedding);
        worst = worst.min(similarity);
        assert!(
            similarity >= 0.999,
            "{kernel}: cosine {similarity} for {:?}",
            &reference.text[..60]
        );
        let norm: f32 = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "Normalize module applied");
    }
    eprintln!("{kernel}: lowest cosine against sentence-transformers: {worst}");
}

#[test]
fn one_text_alone_equals_the_same_text_in_a_batch() {
    let embedder = load();
    let references = references();
    let single = embedder.embed_one(&references[7].text).unwrap();
    assert!(cosine(&single, &references[7].embedding) >= 0.999);
    let batch = embedder
        .embed(&[&references[7].text, &references[49].text], 1)
        .unwrap();
    assert!(cosine(&single, &batch[..384]) > 0.99999);
}

#[test]
fn a_missing_model_directory_names_the_file() {
    let err = Embedder::load("/nonexistent/model".as_ref()).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/model/config.json"),
        "{err}"
    );
}

#[test]
fn concurrent_queries_combined_into_one_pass_match_single_embeddings() {
    let embedder = load();
    let refs = references();
    let texts: Vec<&str> = refs.iter().take(24).map(|r| r.text.as_str()).collect();
    let alone: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| embedder.embed_one(t).unwrap())
        .collect();
    let combined: Vec<Vec<f32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = texts
            .iter()
            .map(|t| scope.spawn(|| embedder.embed_query(t).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (a, c)) in alone.iter().zip(&combined).enumerate() {
        assert!(cosine(a, c) > 0.99999, "text {i}: {}", cosine(a, c));
    }
}

/// A model whose `config_sentence_transformers.json` names a query prompt
/// (as bge and arctic-embed do) gets it before every search query, and only
/// there: documents are embedded as they are.
#[test]
fn the_query_prompt_of_the_model_goes_before_queries_only() {
    let source = model_dir();
    let dir = std::env::temp_dir().join(format!("paperhub-prompt-model-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    for name in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "sentence_bert_config.json",
        "modules.json",
        "1_Pooling/config.json",
    ] {
        let _ = std::fs::remove_file(dir.join(name));
        std::os::unix::fs::symlink(source.join(name), dir.join(name)).unwrap();
    }
    std::fs::write(
        dir.join("config_sentence_transformers.json"),
        r#"{"prompts": {"query": "search query: ", "document": ""}, "default_prompt_name": null}"#,
    )
    .unwrap();
    let prompted = Embedder::load_with_kernel(&dir, Kernel::detect()).unwrap();
    let plain = load_for(Kernel::detect());
    // A prompt that would leave a query no room is refused, by name.
    let long = "w ".repeat(240);
    std::fs::write(
        dir.join("config_sentence_transformers.json"),
        format!(r#"{{"prompts": {{"query": "{long}"}}}}"#),
    )
    .unwrap();
    let refused = Embedder::load_with_kernel(&dir, Kernel::detect()).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        refused
            .to_string()
            .contains("config_sentence_transformers.json")
            && refused.to_string().contains("leaving a query"),
        "{refused}"
    );

    assert_eq!(prompted.model().query_prompt, "search query: ");
    assert_eq!(plain.model().query_prompt, "");
    let query = "graph neural networks for molecules";
    let with_prompt = plain.embed_one(&format!("search query: {query}")).unwrap();
    let alone = prompted.embed_query(query).unwrap();
    let batched = prompted.embed_queries(&[query], 1).unwrap();
    assert!(cosine(&alone, &with_prompt) > 0.99999);
    assert!(cosine(&batched, &with_prompt) > 0.99999);
    assert!(cosine(&alone, &plain.embed_one(query).unwrap()) < 0.999);
    // Documents: no prompt.
    let doc = prompted.embed(&[query], 1).unwrap();
    assert!(cosine(&doc, &plain.embed_one(query).unwrap()) > 0.99999);
}
