/** Errors cross every transport as this plain shape, never as stack traces. */
export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'UNKNOWN_METHOD'
  | 'NOT_FOUND'
  | 'KUBECONFIG_NOT_FOUND'
  | 'KUBECONFIG_PARSE'
  | 'KUBECONFIG_INVALID'
  | 'CONTEXT_NOT_FOUND'
  | 'NOT_CONNECTED'
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'TLS_UNTRUSTED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'EXEC_PLUGIN_NOT_FOUND'
  | 'EXEC_PLUGIN_FAILED'
  | 'EXEC_PLUGIN_TIMEOUT'
  | 'API_ERROR'
  | 'HOST_UNAUTHENTICATED'
  | 'HOST_KEY_UNKNOWN'
  | 'HOST_KEY_MISMATCH'
  | 'SSH_AUTH_FAILED'
  | 'SSH_KEY_INVALID'
  | 'SSH_UNREACHABLE'
  | 'SSH_TIMEOUT'
  | 'SSH_DISCONNECTED'
  | 'COMMAND_FAILED'
  | 'CONFLICT'
  | 'SUDO_FAILED'
  | 'INTERNAL';

export interface ErrorShape {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'TesseraError';
    this.code = code;
    if (details) this.details = details;
  }

  toShape(): ErrorShape {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export function isErrorShape(v: unknown): v is ErrorShape {
  return typeof v === 'object' && v !== null && typeof (v as ErrorShape).code === 'string' && typeof (v as ErrorShape).message === 'string';
}

/** Anything thrown inside core becomes an ErrorShape; unknown errors keep only their message. */
export function toErrorShape(err: unknown): ErrorShape {
  if (err instanceof TesseraError) return err.toShape();
  if (isErrorShape(err)) return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message: message || 'unexpected error' };
}
