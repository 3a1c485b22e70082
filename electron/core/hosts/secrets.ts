/**
 * Secrets the person types (key passphrases, login and sudo passwords). They
 * reach core through hosts.answer, are handed to ssh2 or sudo, and are
 * dropped; they are never logged, audited or written in plain text. They are
 * kept only when the person asks and only through a SecretStore the host
 * provides: Electron's safeStorage (the OS keychain) in the desktop app,
 * nothing in the headless host.
 */
import { randomUUID } from 'node:crypto';
import type { HostsEvent, SecretPromptEvent } from '../../../shared/model/host.ts';
import { TesseraError } from '../../../shared/contract/errors.ts';

export interface SecretStore {
  /** Why secrets cannot be kept here, or null when they can. */
  readonly unavailableReason: string | null;
  get(key: string): Promise<string | null>;
  set(key: string, secret: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export const NO_SECRET_STORE: SecretStore = {
  unavailableReason: 'not remembered on this host (the headless console has no OS keychain)',
  get: async () => null,
  set: async () => {
    throw new TesseraError('INVALID_REQUEST', 'secrets are not remembered on this host');
  },
  delete: async () => undefined,
};

interface Pending {
  event: SecretPromptEvent;
  storeKey: string;
  resolve: (secret: string | null) => void;
  timer: NodeJS.Timeout;
}

export interface AskRequest {
  kind: SecretPromptEvent['kind'];
  message: string;
  attempt: number;
  /** Where "remember" would keep it, e.g. "passphrase:/home/u/.ssh/id_ed25519". */
  storeKey: string;
}

/** How long a prompt waits for the person before it counts as cancelled. */
export const PROMPT_TIMEOUT_MS = 5 * 60_000;

export class SecretBroker {
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(e: HostsEvent) => void>();

  constructor(readonly store: SecretStore = NO_SECRET_STORE) {}

  subscribe(listener: (e: HostsEvent) => void): () => void {
    this.listeners.add(listener);
    // A window that opens late still sees what is waiting for an answer.
    for (const p of this.pending.values()) listener(p.event);
    return () => this.listeners.delete(listener);
  }

  emit(e: HostsEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // One broken subscriber must not stop the others.
      }
    }
  }

  /**
   * A remembered secret on the first attempt, else asks whoever is watching
   * hosts.events. With nobody watching (the CLI) the answer is null at once:
   * nobody can type it.
   */
  async ask(req: AskRequest): Promise<string | null> {
    if (req.attempt === 1) {
      const kept = await this.store.get(req.storeKey).catch(() => null);
      if (kept !== null) return kept;
    } else if (req.attempt === 2) {
      // The remembered one (if any) was wrong: forget it rather than retry it forever.
      await this.store.delete(req.storeKey).catch(() => undefined);
    }
    if (this.listeners.size === 0) return null;
    const id = randomUUID();
    const reason = this.store.unavailableReason;
    const event: SecretPromptEvent = {
      type: 'prompt',
      id,
      kind: req.kind,
      message: req.message,
      attempt: req.attempt,
      canRemember: reason === null,
      ...(reason ? { rememberNote: reason } : {}),
    };
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, null), PROMPT_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, { event, storeKey: req.storeKey, resolve, timer });
      this.emit(event);
    });
  }

  async answer(id: string, secret: string | undefined, remember: boolean): Promise<{ remembered: boolean; note?: string }> {
    const p = this.pending.get(id);
    if (!p) throw new TesseraError('NOT_FOUND', 'that prompt is no longer waiting (answered, cancelled or timed out)', { id });
    let remembered = false;
    let note: string | undefined;
    if (secret !== undefined && remember) {
      if (this.store.unavailableReason) note = this.store.unavailableReason;
      else {
        try {
          await this.store.set(p.storeKey, secret);
          remembered = true;
        } catch (err) {
          note = `could not remember it: ${(err as Error).message}`;
        }
      }
    }
    this.settle(id, secret ?? null);
    return { remembered, ...(note ? { note } : {}) };
  }

  cancelAll(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, null);
  }

  private settle(id: string, secret: string | null): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(secret);
    this.emit({ type: 'prompt-closed', id });
  }
}
