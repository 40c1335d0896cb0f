//! The trainable parameters of a model: one candle `Var` per HuggingFace tensor.
//!
//! Decoders are built over tensor views of these variables: `tracked()` views record a
//! gradient graph (training), `detached()` views share the same storage but record
//! nothing (generation, scoring). An optimizer that updates a `Var` in place is seen at
//! once by both.

use std::collections::BTreeMap;

use candle_core::Var;

use super::{expected_weights, ModelConfig, WeightKind, Weights};
use crate::optim::Param;
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

    /// The variables as an optimizer takes them, with the kind of each weight (which decides
    /// its decay), except those `skip` names.
    pub fn optimizer_params(&self, config: &ModelConfig, skip: impl Fn(&str) -> bool) -> Vec<Param> {
        let kinds = expected_weights(config);
        self.vars
            .iter()
            .filter(|(name, _)| !skip(name))
            .map(|(name, var)| {
                let kind = kinds.iter().find(|s| &s.name == name).map_or(WeightKind::Matrix, |s| s.kind);
                Param { name: name.clone(), var: var.clone(), kind }
            })
            .collect()
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
