/**
 * What the trainer needs from the policy beyond rollouts: a compute backend with the
 * training step and its state. Both backends have them; the check gives a clear error when
 * an agent was given a policy of its own that cannot train.
 */
import type { Agent } from '../agent/agent.js';
import { StatesetError } from '../core/errors.js';
import type { ComputeBackend } from '../backends/compute-backend.js';

export function trainableModel(agent: Agent): ComputeBackend {
  const policy = agent.policy as Partial<ComputeBackend>;
  for (const member of ['trainStep', 'saveTrainingState', 'loadTrainingState', 'save', 'score'] as const) {
    if (typeof policy[member] !== 'function') {
      throw new StatesetError('ERR_INVALID_ARGUMENT', `the agent's policy cannot be trained: it has no ${member}(). Create the agent from a model (Agent.create({ model: path })), on the native or tinker backend.`);
    }
  }
  return policy as ComputeBackend;
}
