import { useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { addMagnets, addTorrentFiles, magnetLinksIn, runOnSelection } from '../actions';
import { useApp, useAppState } from '../app-context';

export function Toolbar({
  onRemove,
  onSettings,
}: {
  onRemove: () => void;
  onSettings: () => void;
}) {
  const { api, store } = useApp();
  const input = useRef<HTMLInputElement>(null);
  const { canPause, canResume, any } = useAppState(
    useShallow((s) => {
      const states = s.selected.map((id) => s.torrents[id]?.state);
      return {
        any: s.selected.length > 0,
        canPause: states.some((st) => st !== 'paused'),
        canResume: states.some((st) => st === 'paused' || st === 'error'),
      };
    }),
  );
  const connected = useAppState((s) => s.connected);
  const downloadDir = useAppState((s) => s.downloadDir);
  const saveTo = useAppState((s) => s.saveTo);
  const [magnet, setMagnet] = useState('');
  const submitMagnet = async () => {
    const links = magnetLinksIn(magnet);
    if (links.length === 0) {
      store.getState().notify('error', 'Paste a magnet link: it starts with "magnet:?"');
      return;
    }
    if (await addMagnets(api, store, links)) setMagnet('');
  };
  return (
    <header className="toolbar">
      <span className="brand" aria-hidden="true">
        Tessera
      </span>
      <button
        type="button"
        onClick={() => input.current?.click()}
        title="Add .torrent files (or drop them on the window)"
      >
        Add
      </button>
      <input
        ref={input}
        type="file"
        accept=".torrent,application/x-bittorrent"
        multiple
        hidden
        data-testid="add-file-input"
        onChange={(e) => {
          const files = [...(e.target.files ?? [])];
          e.target.value = '';
          void addTorrentFiles(api, store, files);
        }}
      />
      <form
        className="magnet-box"
        onSubmit={(e) => {
          e.preventDefault();
          void submitMagnet();
        }}
      >
        <input
          type="text"
          aria-label="Magnet link"
          placeholder="Paste a magnet link…"
          value={magnet}
          onChange={(e) => setMagnet(e.target.value)}
          spellCheck={false}
        />
        <button type="submit" disabled={magnet.trim() === ''}>
          Add magnet
        </button>
      </form>
      <button
        type="button"
        disabled={!canPause}
        onClick={() => void runOnSelection(api, store, 'torrent:pause')}
      >
        Pause
      </button>
      <button
        type="button"
        disabled={!canResume}
        onClick={() => void runOnSelection(api, store, 'torrent:resume')}
      >
        Resume
      </button>
      <button type="button" disabled={!any} onClick={onRemove}>
        Remove
      </button>
      <button
        type="button"
        disabled={!any}
        onClick={() => void runOnSelection(api, store, 'torrent:verify')}
        title="Hash the downloaded data again and keep what matches"
      >
        Verify data
      </button>
      <span className="spacer" />
      <button type="button" onClick={onSettings}>
        Settings
      </button>
      <label className="save-to" title="New torrents go to this folder inside the download folder">
        <span className={`status ${connected ? 'ok' : 'down'}`} role="status">
          {connected ? `Saving to ${downloadDir || '…'}/` : 'Connecting to Tessera…'}
        </span>
        <input
          type="text"
          aria-label="Save to folder"
          placeholder="(this folder)"
          value={saveTo}
          onChange={(e) => store.getState().setSaveTo(e.target.value)}
          spellCheck={false}
        />
      </label>
    </header>
  );
}
