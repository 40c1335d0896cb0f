/** Where the demo's shipped model lives: models/customer-service-tiny in the package. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The name `--model` takes for the shipped model. */
export const SHIPPED_MODEL_NAME = 'tiny';

// Two levels up from src/demo (tsx) and from dist/demo (built) alike.
export const SHIPPED_MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'customer-service-tiny');

/** The shipped model's folder for 'tiny', else the path as given. */
export function demoModelPath(model: string): string {
  return model === SHIPPED_MODEL_NAME ? SHIPPED_MODEL_DIR : model;
}
