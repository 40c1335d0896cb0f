//! The flash attention op against the composed attention it replaces (outputs and the
//! gradients of q, k and v), against central finite differences, and the decoders' key
//! spans against the dense mask they stand for.

use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var};

use super::decoder::Context;
use super::flash::flash_attention;
use super::layers::composed_attention;
use super::weights::SplitMix64;
use crate::kernels::flash_attention::KeySpan;

fn random(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let mut rng = SplitMix64(seed);
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.normal()).collect::<Vec<f32>>(), shape, &Device::Cpu).unwrap().to_dtype(dtype).unwrap()
}

/// max |a - b| / max |b|.
fn relative(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_dtype(DType::F64).unwrap();
    let b = b.to_dtype(DType::F64).unwrap();
    let diff: f64 = (&a - &b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
    let scale: f64 = b.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
    diff / scale.max(f64::MIN_POSITIVE)
}

struct Case {
    batch: usize,
    heads: usize,
    kv_heads: usize,
    time: usize,
    offset: usize,
    head_dim: usize,
    left_pad: Vec<usize>,
    /// Keys and values as views into a longer buffer (like a KV cache).
    strided: bool,
}

struct Outcome {
    out: Tensor,
    /// Gradients of q, k, v of sum(out * weights).
    grads: [Tensor; 3],
}

/// Runs `attend` on seeded q, k, v and the output weights `w` (d loss / d out).
fn run(case: &Case, dtype: DType, w: &Tensor, attend: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor) -> Outcome {
    let keys = case.offset + case.time;
    let q = Var::from_tensor(&random(&[case.batch, case.heads, case.time, case.head_dim], 1, dtype)).unwrap();
    let capacity = if case.strided { keys + 5 } else { keys };
    let k = Var::from_tensor(&random(&[case.batch, case.kv_heads, capacity, case.head_dim], 2, dtype)).unwrap();
    let v = Var::from_tensor(&random(&[case.batch, case.kv_heads, capacity, case.head_dim], 3, dtype)).unwrap();
    let (kv, vv) = (k.as_tensor().narrow(2, 0, keys).unwrap(), v.as_tensor().narrow(2, 0, keys).unwrap());
    let out = attend(q.as_tensor(), &kv, &vv);
    let grads = (&out * w).unwrap().sum_all().unwrap().backward().unwrap();
    let grad = |x: &Var| grads.get(x.as_tensor()).unwrap().narrow(2, 0, x.dim(2).unwrap()).unwrap();
    let (gk, gv) = (grad(&k).narrow(2, 0, keys).unwrap(), grad(&v).narrow(2, 0, keys).unwrap());
    Outcome { out, grads: [grad(&q), gk, gv] }
}

fn flat(out: Tensor, case: &Case) -> Tensor {
    out.transpose(1, 2).unwrap().reshape((case.batch, case.time, case.heads * case.head_dim)).unwrap()
}

fn check(case: &Case) {
    let ctx = Context::new(&case.left_pad, case.offset, case.time, 4096, DType::F32).unwrap();
    let w = random(&[case.batch, case.time, case.heads * case.head_dim], 4, DType::F32);
    let flash = run(case, DType::F32, &w, |q, k, v| flat(flash_attention(q, k, v, Arc::clone(&ctx.key_spans)).unwrap(), case));
    let composed = run(case, DType::F32, &w, |q, k, v| composed_attention(q, k, v, ctx.mask().unwrap()).unwrap());
    let label = format!("group {} head_dim {} time {} offset {} pads {:?}", case.heads / case.kv_heads, case.head_dim, case.time, case.offset, case.left_pad);
    assert!(relative(&flash.out, &composed.out) < 1e-5, "output, {label}: {}", relative(&flash.out, &composed.out));
    for (name, (a, b)) in ["q", "k", "v"].iter().zip(flash.grads.iter().zip(&composed.grads)) {
        assert!(relative(a, b) < 1e-5, "d{name}, {label}: {}", relative(a, b));
    }
}

#[test]
fn flash_attention_matches_the_composed_attention() {
    for (heads, kv_heads) in [(2, 2), (6, 2)] {
        for head_dim in [8, 64] {
            for (time, offset, left_pad) in [(1, 0, vec![0, 0]), (7, 0, vec![0, 3, 6]), (65, 0, vec![0, 40]), (130, 0, vec![0, 129]), (300, 0, vec![17, 0])] {
                check(&Case { batch: left_pad.len(), heads, kv_heads, time, offset, head_dim, left_pad, strided: false });
            }
        }
    }
}

/// Chunked scoring and prefill: new queries after cached keys, read through a view.
#[test]
fn flash_attention_matches_after_a_cache_offset_and_through_views() {
    for (heads, kv_heads) in [(3, 3), (3, 1)] {
        for (time, offset, left_pad) in [(1, 9, vec![0, 4]), (20, 70, vec![0, 75]), (33, 31, vec![2, 0, 40])] {
            check(&Case { batch: left_pad.len(), heads, kv_heads, time, offset, head_dim: 64, left_pad, strided: true });
        }
    }
}

/// A query row with no keys outputs zeros and passes no gradient: what the composed path
/// gives when that row is not used downstream (zero output gradient) and attends to
/// itself (the decoders' padding rows), except that its output is zero instead of v.
#[test]
fn a_fully_masked_row_outputs_zeros_and_passes_no_gradient() {
    let case = Case { batch: 2, heads: 4, kv_heads: 2, time: 9, offset: 0, head_dim: 8, left_pad: vec![0, 3], strided: false };
    let ctx = Context::new(&case.left_pad, 0, case.time, 64, DType::F32).unwrap();
    let (masked_b, masked_i) = (1, 4);
    let mut spans = (*ctx.key_spans).clone();
    spans[masked_b * case.time + masked_i] = KeySpan { start: 0, end: 0 };
    let mut mask = ctx.mask().unwrap().to_vec3::<f32>().unwrap();
    let row = &mut mask[masked_b][masked_i];
    row.iter_mut().enumerate().for_each(|(j, m)| *m = if j == masked_i { 0.0 } else { f32::NEG_INFINITY });
    let mask = Tensor::new(mask, &Device::Cpu).unwrap();
    let mut w = random(&[case.batch, case.time, case.heads * case.head_dim], 4, DType::F32).to_vec3::<f32>().unwrap();
    w[masked_b][masked_i].fill(0.0);
    let w = Tensor::new(w, &Device::Cpu).unwrap();

    let spans = Arc::new(spans);
    let flash = run(&case, DType::F32, &w, |q, k, v| flat(flash_attention(q, k, v, Arc::clone(&spans)).unwrap(), &case));
    let composed = run(&case, DType::F32, &w, |q, k, v| composed_attention(q, k, v, &mask).unwrap());
    let out = flash.out.to_vec3::<f32>().unwrap();
    assert!(out[masked_b][masked_i].iter().all(|&x| x == 0.0));
    let reference = composed.out.to_vec3::<f32>().unwrap();
    for b in 0..case.batch {
        for i in (0..case.time).filter(|&i| (b, i) != (masked_b, masked_i)) {
            let diff = out[b][i].iter().zip(&reference[b][i]).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(diff < 1e-5, "row {b} {i}");
        }
    }
    for (a, b) in flash.grads.iter().zip(&composed.grads) {
        assert!(relative(a, b) < 1e-5);
        assert!(a.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|x| x.is_finite()));
    }
    let dq = flash.grads[0].narrow(0, masked_b, 1).unwrap().narrow(2, masked_i, 1).unwrap();
    assert_eq!(dq.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap(), 0.0, "the masked query gets no gradient");
}

/// d/dx of sum(out * w) for every element of q, k and v, by central differences in f64.
#[test]
fn flash_attention_gradients_match_finite_differences() {
    let case = Case { batch: 2, heads: 4, kv_heads: 2, time: 5, offset: 2, head_dim: 3, left_pad: vec![0, 3], strided: false };
    let ctx = Context::new(&case.left_pad, case.offset, case.time, 64, DType::F64).unwrap();
    let w = random(&[case.batch, case.time, case.heads * case.head_dim], 4, DType::F64);
    let attend = |q: &Tensor, k: &Tensor, v: &Tensor| flat(flash_attention(q, k, v, Arc::clone(&ctx.key_spans)).unwrap(), &case);
    let analytic = run(&case, DType::F64, &w, attend);
    let keys = case.offset + case.time;
    let inputs = [
        random(&[case.batch, case.heads, case.time, case.head_dim], 1, DType::F64),
        random(&[case.batch, case.kv_heads, keys, case.head_dim], 2, DType::F64),
        random(&[case.batch, case.kv_heads, keys, case.head_dim], 3, DType::F64),
    ];
    let loss = |x: &[Tensor]| -> f64 { (attend(&x[0], &x[1], &x[2]) * &w).unwrap().sum_all().unwrap().to_scalar().unwrap() };
    let h = 1e-5;
    for which in 0..3 {
        let values = inputs[which].flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let grad = analytic.grads[which].flatten_all().unwrap().to_vec1::<f64>().unwrap();
        for e in 0..values.len() {
            let at = |delta: f64| {
                let mut moved = values.clone();
                moved[e] += delta;
                let mut x = inputs.clone();
                x[which] = Tensor::from_vec(moved, inputs[which].shape(), &Device::Cpu).unwrap();
                loss(&x)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!((numeric - grad[e]).abs() < 1e-7 * (1.0 + numeric.abs()), "input {which} element {e}: {numeric} vs {}", grad[e]);
        }
    }
}

/// The spans say exactly what the dense mask says, with the rule the decoders have always
/// used: a token sees its row's tokens up to itself; a left-padding column only itself.
#[test]
#[allow(clippy::needless_range_loop)]
fn key_spans_express_the_decoders_mask() {
    for (offset, time) in [(0, 1), (0, 6), (4, 1), (3, 5)] {
        for left_pad in [vec![0], vec![2, 0, 5], vec![9, 1]] {
            let ctx = Context::new(&left_pad, offset, time, 64, DType::F32).unwrap();
            let mask = ctx.mask().unwrap().to_vec3::<f32>().unwrap();
            for (b, &pad) in left_pad.iter().enumerate() {
                for i in 0..time {
                    let column = offset + i;
                    let span = ctx.key_spans[b * time + i];
                    for j in 0..offset + time {
                        let allowed = j == column || (j >= pad && j < column);
                        assert_eq!(mask[b][i][j] == 0.0, allowed, "mask, pad {pad} column {column} key {j}");
                        assert_eq!((span.start as usize..span.end as usize).contains(&j), allowed, "span, pad {pad} column {column} key {j}");
                    }
                }
            }
        }
    }
}
