/**
 * ssh2 reports failures as Errors tagged with a `level`; callers get
 * TesseraErrors that name the host and say what to do. Host key and
 * authentication failures are Tessera's own verdicts, worded for the person
 * who must act on them.
 */
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { HostKeyVerdict } from './known-hosts.ts';
import type { AuthAttempts } from './ssh-auth.ts';

export interface Ssh2Error extends Error {
  level?: string;
  code?: string | number;
  reason?: number;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EADDRNOTAVAIL']);

export function connectError(err: Ssh2Error, hop: string): TesseraError {
  const details = { host: hop, ...(typeof err.code === 'string' ? { cause: err.code } : {}) };
  switch (err.level) {
    case 'client-authentication':
      return new TesseraError('SSH_AUTH_FAILED', `authentication to ${hop} failed: ${err.message}`, details);
    case 'agent':
      return new TesseraError('SSH_AUTH_FAILED', `ssh-agent could not be used for ${hop}: ${err.message}`, details);
    case 'client-timeout':
      return new TesseraError('SSH_TIMEOUT', `${hop} did not answer in time (${err.message})`, details);
    case 'client-dns':
      return new TesseraError('SSH_UNREACHABLE', `cannot resolve ${hop}: ${err.message}`, details);
    case 'client-socket':
      if (typeof err.code === 'string' && UNREACHABLE_CODES.has(err.code)) {
        return new TesseraError('SSH_UNREACHABLE', `cannot reach ${hop}: ${err.message}`, details);
      }
      return new TesseraError('SSH_DISCONNECTED', `connection to ${hop} failed: ${err.message}`, details);
    case 'protocol':
      if (/before handshake/i.test(err.message)) {
        return new TesseraError('SSH_UNREACHABLE', `${hop} closed the connection before the SSH handshake (is an SSH server listening there?)`, details);
      }
      return new TesseraError('SSH_DISCONNECTED', `SSH protocol error with ${hop}: ${err.message}`, details);
    case 'handshake':
      return new TesseraError('SSH_DISCONNECTED', `SSH handshake with ${hop} failed: ${err.message}`, details);
    default:
      return new TesseraError('SSH_DISCONNECTED', `connection to ${hop} failed: ${err.message}`, details);
  }
}

/** An error on a connection that was already up: the host went away or stopped answering. */
export function lostError(err: Ssh2Error, hop: string): TesseraError {
  if (err.level === 'client-timeout') return new TesseraError('SSH_TIMEOUT', `${hop} stopped answering (${err.message})`, { host: hop });
  return new TesseraError('SSH_DISCONNECTED', `connection to ${hop} lost: ${err.message}`, { host: hop, ...(typeof err.code === 'string' ? { cause: err.code } : {}) });
}

/** A direct-tcpip channel refused by a jump host. RFC 4254 §5.1 reason 1 means the jump host's policy forbids forwarding. */
export function forwardError(err: Ssh2Error, jump: string, next: string): TesseraError {
  const prohibited = err.reason === 1;
  const why = prohibited ? 'forwarding is not allowed there (AllowTcpForwarding?)' : err.message.replace(/^\(SSH\)\s*/, '');
  return new TesseraError('SSH_UNREACHABLE', `jump host ${jump} could not open a connection to ${next}: ${why}`, {
    host: next,
    jump,
    reason: prohibited ? 'forwarding-prohibited' : 'connect-failed',
  });
}

export function hostKeyError(verdict: Exclude<HostKeyVerdict, 'trusted'>, label: string, host: string, port: number, key: Buffer): TesseraError {
  const base = { host, port, hop: label, publicKey: key.toString('base64') };
  if ('unknown' in verdict) {
    const { type, sha256Fingerprint: fp, otherKnownTypes } = verdict.unknown;
    const also = otherKnownTypes.length ? ` Note: Tessera already knows a different kind of key for this host (${otherKnownTypes.join(', ')}); a new key type can also mean the host was replaced.` : '';
    return new TesseraError(
      'HOST_KEY_UNKNOWN',
      `the authenticity of ${label} cannot be established: its ${type} host key fingerprint is ${fp}. Compare it with the host's own (ssh-keygen -lf on the host key) before trusting it.${also}`,
      { ...base, keyType: type, sha256Fingerprint: fp, otherKnownTypes },
    );
  }
  const { expected, presented, revoked } = verdict.mismatch;
  const exp = expected.map((e) => `${e.sha256Fingerprint} (${e.type}, ${e.source})`).join(', ');
  const msg = revoked
    ? `the host key ${label} presented (${presented.sha256Fingerprint}) is marked @revoked; refusing to connect.`
    : `the host key for ${label} has changed: expected ${exp}, but it presented ${presented.sha256Fingerprint} (${presented.type}). Someone could be intercepting the connection, or the host was reinstalled. Refusing to connect.`;
  return new TesseraError('HOST_KEY_MISMATCH', msg, { ...base, keyType: presented.type, presented: presented.sha256Fingerprint, expected, revoked });
}

export function authError(auth: AuthAttempts, label: string): TesseraError {
  if (auth.cancelled()) return new TesseraError('SSH_AUTH_FAILED', `authentication to ${label} was cancelled`, { host: label, reason: 'cancelled' });
  const accepts = auth.serverAccepts();
  const tried = auth.tried.length ? auth.tried.join(', ') : 'no usable method';
  const problems = auth.problems.length ? `; ${auth.problems.join('; ')}` : '';
  return new TesseraError('SSH_AUTH_FAILED', `${label} rejected authentication (tried ${tried}${accepts ? `; the server accepts ${accepts.join(', ')}` : ''}${problems})`, {
    host: label,
    tried: [...auth.tried],
    ...(auth.problems.length ? { problems: [...auth.problems] } : {}),
    ...(accepts ? { serverAccepts: [...accepts] } : {}),
  });
}
