import { useCallback, useEffect, useRef, useState } from 'react';
import {
  addMagnets,
  addTorrentFiles,
  magnetLinksIn,
  removeSelection,
  runOnSelection,
} from './actions';
import { useApp, useAppState } from './app-context';
import { DetailPane } from './components/DetailPane';
import { Notices } from './components/Notices';
import { RemoveDialog } from './components/RemoveDialog';
import { SettingsDialog } from './components/SettingsDialog';
import { Toolbar } from './components/Toolbar';
import { TorrentTable } from './components/TorrentTable';

export function App() {
  const { api, store } = useApp();
  const [dragging, setDragging] = useState(false);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const [showSettings, setShowSettings] = useState(false);
  const closeSettings = useCallback(() => setShowSettings(false), []);
  const dragDepth = useRef(0);
  const focus = useAppState((s) => s.selected[0] ?? null);
  const connected = useAppState((s) => s.connected);

  // Load the session, follow snapshots, and re-load after a reconnect.
  useEffect(() => {
    if (!connected) return;
    void api
      .invoke('session:get', {})
      .then((r) =>
        r.ok
          ? store.getState().loadSession(r.value)
          : store.getState().notify('error', r.error.message),
      );
    const offSnapshot = api.on('session:snapshot', (p) =>
      store.getState().applySnapshot(p.changed, p.removed),
    );
    const offDetail = api.on('torrent:detail', (d) => store.getState().applyDetail(d));
    const offNotice = api.on('app:notice', (n) => store.getState().notify(n.level, n.message));
    return () => {
      offSnapshot();
      offDetail();
      offNotice();
    };
  }, [api, store, connected]);

  // Stream the detail of the torrent on screen only.
  useEffect(() => {
    if (!connected) return;
    void api.invoke('torrent:select', { id: focus }).then((r) => {
      if (r.ok && r.value) store.getState().applyDetail(r.value);
    });
  }, [api, store, focus, connected]);

  // Keyboard: Delete removes, Space pauses/resumes, Ctrl/Cmd+A selects all, arrows move.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (
        confirmRemove ||
        showSettings ||
        (e.target instanceof HTMLElement && ['INPUT', 'TEXTAREA'].includes(e.target.tagName))
      )
        return;
      const s = store.getState();
      if ((e.key === 'Delete' || e.key === 'Backspace') && s.selected.length > 0) {
        e.preventDefault();
        setConfirmRemove(true);
      } else if (
        e.key === ' ' &&
        s.selected.length > 0 &&
        !(e.target instanceof HTMLButtonElement)
      ) {
        e.preventDefault();
        const anyRunning = s.selected.some((id) => s.torrents[id]?.state !== 'paused');
        void runOnSelection(api, store, anyRunning ? 'torrent:pause' : 'torrent:resume');
      } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'a') {
        e.preventDefault();
        s.select([...s.order]);
      } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        if (s.order.length === 0) return;
        e.preventDefault();
        const at = s.selected[0] ? s.order.indexOf(s.selected[0]) : -1;
        const next = Math.max(
          0,
          Math.min(s.order.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)),
        );
        s.select([s.order[next]!]);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [api, store, confirmRemove, showSettings]);

  // Ctrl/Cmd+V anywhere but in a text field adds the magnet links on the clipboard.
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      if (e.target instanceof HTMLElement && ['INPUT', 'TEXTAREA'].includes(e.target.tagName))
        return;
      const links = magnetLinksIn(e.clipboardData?.getData('text/plain') ?? '');
      if (links.length === 0) return;
      e.preventDefault();
      void addMagnets(api, store, links);
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [api, store]);

  // Files (.torrent) or text (a magnet link dragged from a browser) may be dropped.
  const hasFiles = (e: React.DragEvent) =>
    [...e.dataTransfer.types].some(
      (t) => t === 'Files' || t === 'text/uri-list' || t === 'text/plain',
    );

  return (
    <div
      className="app"
      onDragEnter={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        dragDepth.current++;
        setDragging(true);
      }}
      onDragOver={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={() => {
        dragDepth.current = Math.max(0, dragDepth.current - 1);
        if (dragDepth.current === 0) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        dragDepth.current = 0;
        setDragging(false);
        const files = [...e.dataTransfer.files];
        if (files.length > 0) void addTorrentFiles(api, store, files);
        else {
          const links = magnetLinksIn(
            e.dataTransfer.getData('text/uri-list') || e.dataTransfer.getData('text/plain'),
          );
          if (links.length > 0) void addMagnets(api, store, links);
          else store.getState().notify('error', 'Drop .torrent files or magnet links');
        }
      }}
    >
      <Toolbar onRemove={() => setConfirmRemove(true)} onSettings={() => setShowSettings(true)} />
      <main className="content">
        <TorrentTable />
        <DetailPane />
      </main>
      {dragging && (
        <div className="drop-target" data-testid="drop-target" aria-hidden="true">
          <div>Drop .torrent files or magnet links to add them</div>
        </div>
      )}
      {confirmRemove && (
        <RemoveDialog
          onCancel={() => setConfirmRemove(false)}
          onConfirm={(deleteData) => {
            setConfirmRemove(false);
            void removeSelection(api, store, deleteData);
          }}
        />
      )}
      {showSettings && <SettingsDialog onClose={closeSettings} />}
      <Notices />
    </div>
  );
}
