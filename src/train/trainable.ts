/**
 * What the trainer needs from the policy model beyond rollouts: the training step and its
 * state. A model from `loadModel` has these members; the check gives a clear error when
 * an agent runs on something else (e.g. a remote backend).
 */
import type { Agent } from '../agent/agent.js';
import { StatesetError } from '../core/errors.js';
import type { Model } from '../model/model.js';

export function trainableModel(agent: Agent): Model {
  const policy = agent.policy as Partial<Model>;
  for (const member of ['trainStep', 'saveTrainingState', 'loadTrainingState', 'save', 'score'] as const) {
    if (typeof policy[member] !== 'function') {
      throw new StatesetError('ERR_INVALID_ARGUMENT', `the agent's policy cannot be trained: it has no ${member}(). Create the agent from a local model (Agent.create({ model: path })).`);
    }
  }
  return policy as Model;
}
