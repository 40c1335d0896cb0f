//! Corrupted files must give errors, never panics: deterministic byte flips in the
//! headers of a real GGUF file and a real safetensors file.

use std::path::Path;

use super::hf_tests::temp_dir;
use super::load_model;
use crate::model::weights::SplitMix64;

/// Flips `count` random bytes among the first `span` bytes of `original`, writes the result
/// to `target`, loads `load_path`, and checks that loading returns instead of panicking.
fn survives_flips(original: &[u8], target: &Path, load_path: &Path, span: usize, rng: &mut SplitMix64) {
    let mut bytes = original.to_vec();
    let flips = 1 + (rng.next_u64() % 3) as usize;
    for _ in 0..flips {
        let at = (rng.next_u64() as usize) % span.min(bytes.len());
        bytes[at] ^= 1 << (rng.next_u64() % 8);
    }
    std::fs::write(target, &bytes).unwrap();
    let outcome = std::panic::catch_unwind(|| load_model(load_path).map(|_| ()));
    assert!(outcome.is_ok(), "loading {} panicked after flipping bytes", load_path.display());
}

#[test]
fn byte_flips_in_headers_never_panic() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/parity");
    let mut rng = SplitMix64(42);
    let dir = temp_dir("fuzz");
    let gguf = std::fs::read(fixtures.join("llama-gguf/model-q8_0.gguf")).unwrap();
    let gguf_path = dir.join("model.gguf");
    // The header: counts, metadata (tokenizer arrays) and tensor infos.
    for _ in 0..150 {
        survives_flips(&gguf, &gguf_path, &gguf_path, 40_000, &mut rng);
    }
    let folder = dir.join("llama");
    std::fs::create_dir_all(&folder).unwrap();
    for file in ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
        std::fs::copy(fixtures.join("llama").join(file), folder.join(file)).unwrap();
    }
    let weights = std::fs::read(fixtures.join("llama/model.safetensors")).unwrap();
    for _ in 0..150 {
        survives_flips(&weights, &folder.join("model.safetensors"), &folder, 2_000, &mut rng);
    }
}
