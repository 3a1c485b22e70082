import type { NodeRow, NodesDelta } from '../model/node.ts';
import { method, stream } from './define.ts';
import { clusterId, k8sName } from './ids.ts';
import { s } from './schema.ts';

export interface NodeEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen?: string;
  source?: string;
}

export interface NodeDescription {
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
  conditions: { type: string; status: string; reason?: string; message?: string }[];
}

export const nodeMethods = {
  'nodes.describe': method<NodeDescription>()(s.object({ id: clusterId, name: k8sName }), 'Labels, taints and conditions of one node, read when its detail opens.'),
  'nodes.list': method<NodeRow[]>()(s.object({ id: clusterId }), 'One listing of the nodes of a connected cluster.'),
  'nodes.events': method<NodeEvent[]>()(s.object({ id: clusterId, name: k8sName }), 'Recent events about one node, newest first.'),
};

export const nodeStreams = {
  'nodes.watch': stream<NodesDelta>()(s.object({ id: clusterId }), 'Live node rows: a reset, then coalesced upserts and removals.'),
};
