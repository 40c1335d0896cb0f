/**
 * The one error type of the project. `code` is stable (tests and callers branch on it);
 * `message` says what was wrong and what to do.
 */
export type ErrorCode =
  | 'ERR_LENGTH_MISMATCH'
  | 'ERR_INVALID_OFFSETS'
  | 'ERR_INVALID_PARAMETER'
  | 'ERR_INVALID_GROUPS'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_MODEL'
  | 'ERR_INVALID_TOKEN'
  | 'ERR_COMPUTE'
  | 'ERR_NON_FINITE'
  | 'ERR_INVALID_CHECKPOINT'
  | 'ERR_NATIVE_PANIC'
  | 'ERR_NATIVE_MISSING'
  | 'ERR_INVALID_CONFIG'
  | 'ERR_INVALID_MESSAGES'
  | 'ERR_CHAT_TEMPLATE'
  | 'ERR_INVALID_TOOL'
  | 'ERR_INVALID_DATASET'
  | 'ERR_INVALID_REWARD'
  | 'ERR_ENVIRONMENT'
  | 'ERR_ENDPOINT'
  | 'ERR_CONFIG_FILE'
  | 'ERR_MODULE_LOAD'
  | 'ERR_CHECKPOINT_WRITE'
  | 'ERR_TRACKER'
  | 'ERR_BACKEND'
  | 'ERR_BACKEND_REQUEST'
  | 'ERR_BACKEND_TIMEOUT'
  | 'ERR_BACKEND_UNREACHABLE'
  | 'ERR_BACKEND_AUTH'
  // Models from the HuggingFace Hub (src/io/hub)
  | 'ERR_HUB_NOT_FOUND'
  | 'ERR_HUB_GATED'
  | 'ERR_HUB_NO_WEIGHTS'
  | 'ERR_HUB_DISK_FULL'
  | 'ERR_HUB_OFFLINE'
  | 'ERR_HUB_DOWNLOAD';

export class StatesetError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StatesetError';
    this.code = code;
  }
}

export function fail(code: ErrorCode, message: string): never {
  throw new StatesetError(code, message);
}
