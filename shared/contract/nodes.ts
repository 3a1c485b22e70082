import type { NodeRow, NodesDelta } from '../model/node.ts';
import { method, stream } from './define.ts';
import { clusterId } from './ids.ts';
import { s } from './schema.ts';

export const nodeMethods = {
  'nodes.list': method<NodeRow[]>()(s.object({ id: clusterId }), 'One listing of the nodes of a connected cluster.'),
};

export const nodeStreams = {
  'nodes.watch': stream<NodesDelta>()(s.object({ id: clusterId }), 'Live node rows: a reset, then coalesced upserts and removals.'),
};
