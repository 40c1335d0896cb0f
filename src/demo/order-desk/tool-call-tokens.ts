/**
 * The order desk's tool calls as the scripted agent writes them, and the fixed pieces of
 * that syntax as single tokens for the order desk's tiny model. With the project's small
 * byte-level BPE a lookup call is about 60 tokens, almost all of them fixed JSON; with
 * these pieces as added tokens it is about 7 (the tool, the order id, the end), so the
 * model's capacity goes to choosing the tool and copying the id.
 */

/** Each tool's arguments, in the order the calls write them. */
const TOOL_ARGUMENTS: Record<string, readonly string[]> = {
  lookup_order: ['id'],
  refund_order: ['id', 'reason'],
  change_address: ['id', 'address'],
  escalate: ['reason'],
};

/** A Hermes tool call, compact JSON (what the SFT corpus teaches). */
export function formatToolCall(name: string, args: Record<string, string>): string {
  return `<tool_call>${JSON.stringify({ name, arguments: args })}</tool_call>`;
}

/** The pieces between the argument values of every tool's call, each once, in a fixed order. */
export function toolCallTokens(): string[] {
  const hole = '@hole@'; // printable: JSON.stringify escapes control characters
  const pieces = Object.entries(TOOL_ARGUMENTS).flatMap(([name, args]) => formatToolCall(name, Object.fromEntries(args.map((a) => [a, hole]))).split(hole));
  return [...new Set(pieces)];
}
