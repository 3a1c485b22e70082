/** Signature algorithms per host key type, for asking the server for a key type we already trust. */
const ALGORITHMS_FOR_KEY_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
const DEFAULT_HOST_KEY_ORDER = Object.values(ALGORITHMS_FOR_KEY_TYPE).flat();

/** OpenSSH's behaviour: prefer algorithms for key types already in known_hosts, so a host with several keys shows the one we know. */
export function hostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const preferred = knownTypes.flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? []);
  return [...preferred, ...DEFAULT_HOST_KEY_ORDER.filter((a) => !preferred.includes(a))];
}
