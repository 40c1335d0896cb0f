// The `stateset-agents` command run from the TypeScript sources (tests spawn it with tsx).
import { main } from '../../src/cli/index.js';

process.exitCode = await main(process.argv);
