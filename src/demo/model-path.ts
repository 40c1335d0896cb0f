/** Where the demos' shipped models live: models/customer-service-tiny and models/order-desk-tiny in the package. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The name `--model` takes for the shipped model. */
export const SHIPPED_MODEL_NAME = 'tiny';

// Two levels up from src/demo (tsx) and from dist/demo (built) alike.
const MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

/** The customer-service demo's model. */
export const SHIPPED_MODEL_DIR = join(MODELS_DIR, 'customer-service-tiny');
/** The order desk's model. */
export const ORDER_DESK_MODEL_DIR = join(MODELS_DIR, 'order-desk-tiny');

/** The shipped model's folder (`shippedDir`, default the customer-service one) for 'tiny', else the path as given. */
export function demoModelPath(model: string, shippedDir = SHIPPED_MODEL_DIR): string {
  return model === SHIPPED_MODEL_NAME ? shippedDir : model;
}
