//! Advantage estimators (ALGORITHMS.md sections 1 and 2) over flat buffers.
//!
//! Every kernel takes many trajectories or groups at once, laid out back to back in one
//! buffer, so that one call from JavaScript does a large amount of work.

mod gae;
mod gae_dense;
mod group;
mod layout;
mod running;
mod stream;
mod whiten;

pub use gae::{compute_gae, compute_gae_into, GaeInput, GaeOutput};
pub use group::{group_advantages, group_advantages_into, Estimator, GroupInput, GroupLayout, Scale};
pub use layout::validate_offsets;
pub use running::RunningMeanStd;
pub use whiten::{whiten, whiten_into, WHITEN_EPS};
