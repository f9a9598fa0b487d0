// Settings a person can change, shared by the engine, the IPC contract and the window.

export interface Settings {
  dht: {
    /** Find peers through the DHT (BEP 5); never used for private torrents. */
    enabled: boolean;
    /** "host:port" nodes to join the DHT through when the saved routing table is empty. */
    bootstrap: string[];
  };
}

/** The routers most clients start from; only asked when our saved routing table is empty. */
export const DEFAULT_SETTINGS: Settings = {
  dht: {
    enabled: true,
    bootstrap: [
      'router.bittorrent.com:6881',
      'dht.transmissionbt.com:6881',
      'router.utorrent.com:6881',
    ],
  },
};

const MAX_BOOTSTRAP_NODES = 32;

/** `host:port` or `[v6]:port` as host and port (port unchecked), or null when it is neither. */
export function parseBootstrapNode(value: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  return m ? { host: m[1] ?? m[2]!, port: Number(m[3]) } : null;
}

/** Why `value` cannot be a bootstrap node, or null. */
export function bootstrapNodeProblem(value: string): string | null {
  const node = parseBootstrapNode(value);
  if (!node) return `"${value.slice(0, 80)}" is not host:port`;
  if (node.port < 1 || node.port > 65535) return `"${value.slice(0, 80)}": port must be 1 to 65535`;
  return null;
}

/**
 * Checks settings from outside (the window, a settings file): the first problem, by name, or
 * the settings with bootstrap entries trimmed and deduplicated.
 */
export function validateSettings(value: unknown): Settings | string {
  if (typeof value !== 'object' || value === null) return 'settings: expected an object';
  const dht = (value as { dht?: unknown }).dht;
  if (typeof dht !== 'object' || dht === null) return 'settings.dht: expected an object';
  const { enabled, bootstrap } = dht as { enabled?: unknown; bootstrap?: unknown };
  if (typeof enabled !== 'boolean') return 'settings.dht.enabled: expected true or false';
  if (!Array.isArray(bootstrap) || bootstrap.some((b) => typeof b !== 'string'))
    return 'settings.dht.bootstrap: expected a list of host:port';
  const nodes = [...new Set((bootstrap as string[]).map((b) => b.trim()).filter((b) => b !== ''))];
  if (nodes.length > MAX_BOOTSTRAP_NODES)
    return `settings.dht.bootstrap: at most ${MAX_BOOTSTRAP_NODES} nodes`;
  for (const node of nodes) {
    const problem = bootstrapNodeProblem(node);
    if (problem) return `DHT bootstrap node ${problem}`;
  }
  return { dht: { enabled, bootstrap: nodes } };
}
