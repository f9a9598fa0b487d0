/**
 * Diagnostic lines on stderr when TESSERA_DEBUG is set (e.g. TESSERA_DEBUG=peer,tracker or
 * TESSERA_DEBUG=*): why peers closed, what trackers said. Silent and nearly free otherwise.
 */
const enabled = new Set(
  (process.env.TESSERA_DEBUG ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export function debugEnabled(scope: string): boolean {
  return enabled.has('*') || enabled.has(scope);
}

export function debugLog(scope: string, message: string): void {
  if (!debugEnabled(scope)) return;
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)} ${scope}] ${message}\n`);
}
