import { memo } from 'react';
import { formatBytes, formatEta, formatRate } from '../../shared/format';
import type { TorrentState } from '../../shared/torrent-types';
import { useApp, useAppState } from '../app-context';

const STATE_LABEL: Record<TorrentState, string> = {
  'fetching-metadata': 'Fetching metadata',
  checking: 'Checking',
  downloading: 'Downloading',
  seeding: 'Seeding',
  paused: 'Paused',
  error: 'Error',
};

/** One row: subscribes to its own torrent only, so other rows' updates do not re-render it. */
const TorrentRow = memo(function TorrentRow({ id, index }: { id: string; index: number }) {
  const { store } = useApp();
  const t = useAppState((s) => s.torrents[id]);
  const selected = useAppState((s) => s.selected.includes(id));
  if (!t) return null;
  const onClick = (e: React.MouseEvent) => {
    const state = store.getState();
    if (e.ctrlKey || e.metaKey) {
      state.select(selected ? state.selected.filter((x) => x !== id) : [...state.selected, id]);
    } else if (e.shiftKey && state.selected.length > 0) {
      const anchor = state.order.indexOf(state.selected[0]!);
      const [from, to] = anchor < index ? [anchor, index] : [index, anchor];
      state.select([
        state.selected[0]!,
        ...state.order.slice(from, to + 1).filter((x) => x !== state.selected[0]),
      ]);
    } else state.select([id]);
  };
  const pct = Math.floor(t.progress * 1000) / 10;
  return (
    <tr
      aria-label={t.name}
      aria-selected={selected}
      className={selected ? 'selected' : undefined}
      onClick={onClick}
      data-state={t.state}
    >
      <td className="name" title={t.errorMessage ?? t.name}>
        {t.name}
      </td>
      <td className="num">
        {t.state === 'fetching-metadata' && t.pieceCount === 0 ? '—' : formatBytes(t.totalBytes)}
      </td>
      <td className="progress">
        <div
          className="bar"
          role="progressbar"
          aria-label={`${t.name} progress`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
        >
          <div className={`fill ${t.state}`} style={{ width: `${pct}%` }} />
          <span>{pct.toFixed(1)} %</span>
        </div>
      </td>
      <td className={`state ${t.state}`} title={t.errorMessage ?? undefined}>
        {STATE_LABEL[t.state]}
        {t.state === 'error' && t.errorMessage ? `: ${t.errorMessage}` : ''}
        {t.state !== 'error' && t.errorMessage ? (
          <span className="note"> — {t.errorMessage}</span>
        ) : null}
      </td>
      <td className="num">{formatRate(t.downBytesPerSec)}</td>
      <td className="num">{formatRate(t.upBytesPerSec)}</td>
      <td className="num">
        {t.peersConnected} ({t.seedsConnected} seeds)
      </td>
      <td className="num">{formatEta(t.etaSec)}</td>
    </tr>
  );
});

export function TorrentTable() {
  const order = useAppState((s) => s.order);
  if (order.length === 0) {
    return (
      <div className="empty">
        <p>No torrents yet.</p>
        <p>Drop a .torrent file anywhere on this window, or press Add.</p>
      </div>
    );
  }
  return (
    <div className="table-scroll">
      <table className="torrents" aria-label="Torrents" aria-multiselectable="true">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Size</th>
            <th scope="col">Progress</th>
            <th scope="col">State</th>
            <th scope="col">Down</th>
            <th scope="col">Up</th>
            <th scope="col">Peers</th>
            <th scope="col">ETA</th>
          </tr>
        </thead>
        <tbody>
          {order.map((id, i) => (
            <TorrentRow key={id} id={id} index={i} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
