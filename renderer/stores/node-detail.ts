import { create } from 'zustand';
import type { NodeDescription, NodeEvent } from '../../shared/contract/nodes.ts';
import { api } from '../api/client.ts';

interface EventsEntry {
  items: NodeEvent[];
  loading: boolean;
  error?: string;
}

interface NodeDetailState {
  events: Record<string, EventsEntry>;
  descriptions: Record<string, NodeDescription | { error: string }>;
  loadEvents(clusterId: string, name: string): Promise<void>;
  loadDescription(clusterId: string, name: string): Promise<void>;
}

export const nodeKey = (clusterId: string, name: string) => `${clusterId}|${name}`;

export const useNodeDetail = create<NodeDetailState>((set) => ({
  events: {},
  descriptions: {},
  async loadDescription(clusterId, name) {
    const key = nodeKey(clusterId, name);
    try {
      const d = await api.call('nodes.describe', { id: clusterId, name });
      set((s) => ({ descriptions: { ...s.descriptions, [key]: d } }));
    } catch (err) {
      set((s) => ({ descriptions: { ...s.descriptions, [key]: { error: (err as Error).message } } }));
    }
  },
  async loadEvents(clusterId, name) {
    const key = nodeKey(clusterId, name);
    set((s) => ({ events: { ...s.events, [key]: { items: s.events[key]?.items ?? [], loading: true } } }));
    try {
      const items = await api.call('nodes.events', { id: clusterId, name });
      set((s) => ({ events: { ...s.events, [key]: { items, loading: false } } }));
    } catch (err) {
      set((s) => ({ events: { ...s.events, [key]: { items: [], loading: false, error: (err as Error).message } } }));
    }
  },
}));
