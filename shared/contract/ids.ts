import { s } from './schema.ts';

/** Cluster ids are `<source>/<context>`; contexts may hold most printable characters. */
export const clusterId = s.string({ min: 3, max: 512, pattern: /^[^\s/]+\/\S.*$/, patternHint: 'must look like <source>/<context>' });

/** A Kubernetes object name (DNS subdomain). */
export const k8sName = s.string({ min: 1, max: 253, pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, patternHint: 'must be a lowercase DNS name' });
