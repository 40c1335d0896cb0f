// A reward of the project's user-module kind: named in config.yaml as
//   { module: ./rewards.ts, export: addressesTopic }
// It pays 1 when the agent's replies mention the scenario's topic word, else 0.
import type { ConversationScenario, Episode, RewardFunction } from '../../src/index.js';

export const addressesTopic: RewardFunction<ConversationScenario> = {
  name: 'addresses_topic',
  scope: 'episode',
  score(episode: Episode<ConversationScenario>) {
    const topic = String(episode.scenario.metadata?.topic ?? '').toLowerCase();
    const replies = episode.turns.map((turn) => turn.assistant.content.toLowerCase()).join(' ');
    return topic !== '' && replies.includes(topic) ? 1 : 0;
  },
};
