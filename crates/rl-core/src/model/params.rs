//! The trainable parameters of a model: one candle `Var` per HuggingFace tensor.
//!
//! Decoders are built over tensor views of these variables: `tracked()` views record a
//! gradient graph (training), `detached()` views share the same storage but record
//! nothing (generation, scoring). An optimizer that updates a `Var` in place is seen at
//! once by both.

use std::collections::BTreeMap;

use candle_core::Var;

use super::Weights;
use crate::error::Result;

pub struct Params {
    vars: BTreeMap<String, Var>,
}

impl Params {
    /// Copies `weights` into fresh variables.
    pub fn new(weights: &Weights) -> Result<Self> {
        let vars = weights.iter().map(|(name, t)| Ok((name.clone(), Var::from_tensor(t)?))).collect::<Result<_>>()?;
        Ok(Params { vars })
    }

    /// Handles to the same variables, not a copy: a critic's LoRA trunk reads the policy's
    /// frozen base this way.
    pub fn sharing(&self) -> Params {
        Params { vars: self.vars.clone() }
    }

    /// Adds (or replaces) one variable, e.g. a handle shared with another `Params`.
    pub fn insert(&mut self, name: String, var: Var) {
        self.vars.insert(name, var);
    }

    pub fn vars(&self) -> &BTreeMap<String, Var> {
        &self.vars
    }

    /// Views through which gradients flow to the variables.
    pub fn tracked(&self) -> Weights {
        self.vars.iter().map(|(name, v)| (name.clone(), v.as_tensor().clone())).collect()
    }

    /// Views that share the variables' storage but build no graph.
    pub fn detached(&self) -> Weights {
        self.vars.iter().map(|(name, v)| (name.clone(), v.as_tensor().detach())).collect()
    }
}
