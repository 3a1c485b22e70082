/**
 * The desktop app's SecretStore: each remembered secret is encrypted with
 * Electron's safeStorage (the OS keychain's key: Keychain, DPAPI, libsecret or
 * kwallet) and only the ciphertext is written, one file per secret named by a
 * hash of its key. Where safeStorage cannot encrypt (no keyring on Linux, or
 * only the "basic_text" fallback), nothing is remembered and the prompt says why.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { safeStorage } from 'electron';
import type { SecretStore } from './core/hosts/secrets.ts';

export function safeStorageSecrets(dir: string): SecretStore {
  const usable = safeStorage.isEncryptionAvailable() && (process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text');
  const file = (key: string) => path.join(dir, `${createHash('sha256').update(key).digest('hex')}.bin`);
  return {
    unavailableReason: usable ? null : 'not remembered: no OS keychain is available to encrypt it',
    async get(key) {
      if (!usable) return null;
      try {
        return safeStorage.decryptString(await fs.readFile(file(key)));
      } catch {
        return null;
      }
    },
    async set(key, secret) {
      if (!usable) throw new Error('no OS keychain is available');
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const tmp = `${file(key)}.${process.pid}.tmp`;
      await fs.writeFile(tmp, safeStorage.encryptString(secret), { mode: 0o600 });
      await fs.rename(tmp, file(key));
    },
    async delete(key) {
      await fs.rm(file(key), { force: true });
    },
  };
}
