/**
 * Lets the CLI import the user's TypeScript modules named in a config file (rewards,
 * environments, scenarios): registers tsx's loader once (a second loader under
 * `node --import tsx` does no harm).
 */
let registered = false;

export async function registerTypeScriptModules(): Promise<void> {
  if (registered) return;
  registered = true;
  const { register } = await import('tsx/esm/api');
  register();
}
