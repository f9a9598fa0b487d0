import { useEffect, useRef, useState } from 'react';
import type { Settings } from '../../shared/settings';
import { useApp } from '../app-context';

/** DHT on/off and its bootstrap nodes; saved by the engine, applied at once. */
export function SettingsDialog({ onClose }: { onClose: () => void }) {
  const { api, store } = useApp();
  const [settings, setSettings] = useState<Settings | null>(null);
  const [bootstrap, setBootstrap] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => {
    void api.invoke('settings:get', {}).then((r) => {
      if (!r.ok) {
        store.getState().notify('error', r.error.message);
        onClose();
        return;
      }
      setSettings(r.value);
      setBootstrap(r.value.dht.bootstrap.join('\n'));
    });
  }, [api, store, onClose]);
  useEffect(() => first.current?.focus(), [settings]);

  const save = async () => {
    if (!settings) return;
    const next: Settings = {
      dht: { enabled: settings.dht.enabled, bootstrap: bootstrap.split(/[\n,]+/) },
    };
    const r = await api.invoke('settings:set', { settings: next });
    if (!r.ok) setProblem(r.error.message);
    else onClose();
  };

  return (
    <div className="backdrop" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <div role="dialog" aria-modal="true" aria-labelledby="settings-title" className="dialog">
        <h2 id="settings-title">Settings</h2>
        {settings === null ? (
          <p className="muted">Loading…</p>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void save();
            }}
          >
            <label>
              <input
                ref={first}
                type="checkbox"
                checked={settings.dht.enabled}
                onChange={(e) =>
                  setSettings({ dht: { ...settings.dht, enabled: e.target.checked } })
                }
              />{' '}
              Find peers through the DHT (never for private torrents)
            </label>
            <label className="stacked">
              DHT bootstrap nodes (host:port, one per line), asked when the saved node list is empty
              <textarea
                rows={4}
                value={bootstrap}
                spellCheck={false}
                disabled={!settings.dht.enabled}
                onChange={(e) => setBootstrap(e.target.value)}
              />
            </label>
            {problem && (
              <p role="alert" className="error-text">
                {problem}
              </p>
            )}
            <div className="dialog-buttons">
              <button type="button" onClick={onClose}>
                Cancel
              </button>
              <button type="submit">Save</button>
            </div>
          </form>
        )}
      </div>
    </div>
  );
}
