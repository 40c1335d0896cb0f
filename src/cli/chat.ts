/**
 * `stateset-agents chat --model DIR`: talk to a model in the terminal, its replies
 * streamed as they are generated. An empty line or end of input (Ctrl-D) ends the chat.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { Agent } from '../agent/agent.js';
import type { Message } from '../core/messages.js';
import { isTinyModelName, tinyModelPath } from '../train/tiny-model-cache.js';
import { addHubFlags, modelFromFlags, type ModelFlags } from './model-flags.js';

interface ChatFlags extends ModelFlags {
  system?: string;
  maxTokens: string;
  temperature: string;
}

export function registerChat(program: Command): void {
  const command = program
    .command('chat')
    .description('chat with a model in the terminal (replies stream as they are generated)')
    .requiredOption('--model <model>', 'a model folder, a .gguf file, a Hub id (owner/name), or tiny');
  addHubFlags(command)
    .option('--system <text>', 'a system prompt')
    .option('--max-tokens <n>', 'tokens per reply at most', '256')
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', '0.7')
    .action(async (flags: ChatFlags) => {
      const agent = await Agent.create({
        ...(isTinyModelName(flags.model) ? { model: tinyModelPath(flags.model) } : modelFromFlags(flags)),
        ...(flags.system ? { systemPrompt: flags.system } : {}),
        generation: { maxNewTokens: Number(flags.maxTokens), temperature: Number(flags.temperature), seed: Date.now() % 2 ** 31 },
      });
      const terminal = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
      const messages: Message[] = [];
      try {
        for (;;) {
          let line: string;
          try {
            line = await terminal.question('you> ');
          } catch {
            break; // input closed
          }
          if (line.trim() === '') break;
          messages.push({ role: 'user', content: line });
          process.stdout.write('assistant> ');
          let reply = '';
          for await (const piece of agent.stream(messages)) {
            reply += piece;
            process.stdout.write(piece);
          }
          process.stdout.write('\n');
          messages.push({ role: 'assistant', content: reply });
        }
      } finally {
        terminal.close();
      }
    });
}
