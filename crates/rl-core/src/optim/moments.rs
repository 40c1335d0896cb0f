//! AdamW's state: the first and second moment estimates of every parameter, in f32.

use std::ops::Range;

/// The moments of every parameter in two flat buffers allocated once, parameter `i` owning
/// `spans[i]` of each. One arena rather than a buffer per parameter: two allocations for
/// the whole model, and once parameters and gradients live in flat buffers of the same
/// layout the update can run as a single pass over all of them.
pub(crate) struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
    spans: Vec<Range<usize>>,
}

impl Moments {
    /// Zero moments for parameters of `sizes` elements, in order.
    pub fn zeros(sizes: impl IntoIterator<Item = usize>) -> Self {
        let mut end = 0;
        let spans = sizes
            .into_iter()
            .map(|n| {
                end += n;
                end - n..end
            })
            .collect();
        Moments { m: vec![0.0; end], v: vec![0.0; end], spans }
    }

    /// The first and second moments of parameter `i`.
    pub fn get(&self, i: usize) -> (&[f32], &[f32]) {
        let span = self.spans[i].clone();
        (&self.m[span.clone()], &self.v[span])
    }

    pub fn get_mut(&mut self, i: usize) -> (&mut [f32], &mut [f32]) {
        let span = self.spans[i].clone();
        (&mut self.m[span.clone()], &mut self.v[span])
    }
}
