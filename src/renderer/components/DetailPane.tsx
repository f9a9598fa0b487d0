import { useState } from 'react';
import { formatBytes, formatRate } from '../../shared/format';
import type { FileRow, PeerRow, PeerSourceRow, TrackerRow } from '../../shared/torrent-types';
import { useAppState } from '../app-context';
import { PieceMap } from './PieceMap';

// Stable empty lists: a selector must not return a new array each time it runs.
const NO_PEERS: PeerRow[] = [];
const NO_FILES: FileRow[] = [];
const NO_TRACKERS: TrackerRow[] = [];
const NO_SOURCES: PeerSourceRow[] = [];

const TABS = ['Pieces', 'Peers', 'Files', 'Sources'] as const;
type Tab = (typeof TABS)[number];

/** Choke/interest flags as letters, the way BitTorrent clients show them, with a title that spells them out. */
function flags(p: PeerRow): { text: string; title: string } {
  const parts: [boolean, string, string][] = [
    [!p.peerChoking && p.amInterested, 'D', 'downloading from them'],
    [p.peerChoking && p.amInterested, 'd', 'we want data, they choke us'],
    [!p.amChoking && p.peerInterested, 'U', 'uploading to them'],
    [p.amChoking && p.peerInterested, 'u', 'they want data, we choke them'],
    [!p.outgoing, 'I', 'they connected to us'],
  ];
  const on = parts.filter(([set]) => set);
  return {
    text: on.map(([, l]) => l).join('') || '–',
    title: on.map(([, , t]) => t).join('; ') || 'idle',
  };
}

function PeersTab() {
  const peers = useAppState((s) => s.detail?.peers ?? NO_PEERS);
  if (peers.length === 0) return <p className="muted">No peers connected.</p>;
  return (
    <table className="detail-table" aria-label="Peers">
      <thead>
        <tr>
          <th scope="col">Address</th>
          <th scope="col">Client</th>
          <th scope="col">Flags</th>
          <th scope="col">Down</th>
          <th scope="col">Up</th>
          <th scope="col">Their progress</th>
          <th scope="col">Requests</th>
          <th scope="col">Source</th>
        </tr>
      </thead>
      <tbody>
        {peers.map((p) => {
          const f = flags(p);
          return (
            <tr key={p.address} aria-label={p.address}>
              <td className="mono">{p.address}</td>
              <td>{p.client}</td>
              <td className="mono" title={f.title}>
                {f.text}
              </td>
              <td className="num">{formatRate(p.downBytesPerSec)}</td>
              <td className="num">{formatRate(p.upBytesPerSec)}</td>
              <td className="num">{(p.progress * 100).toFixed(1)} %</td>
              <td className="num">{p.requestsInFlight}</td>
              <td>{p.source}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function FilesTab() {
  const files = useAppState((s) => s.detail?.files ?? NO_FILES);
  return (
    <table className="detail-table" aria-label="Files">
      <thead>
        <tr>
          <th scope="col">Path</th>
          <th scope="col">Size</th>
          <th scope="col">Done</th>
        </tr>
      </thead>
      <tbody>
        {files.map((f) => (
          <tr key={f.path}>
            <td>{f.path}</td>
            <td className="num">{formatBytes(f.lengthBytes)}</td>
            <td className="num">{(f.progress * 100).toFixed(1)} %</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const SOURCE_LABEL: Record<PeerSourceRow['source'], string> = {
  tracker: 'Trackers',
  dht: 'DHT',
  pex: 'Peer exchange (PEX)',
  magnet: 'Magnet link (x.pe)',
  incoming: 'Incoming connections',
  manual: 'Added by hand',
};

/** Where peers came from, then each tracker's state. */
function SourcesTab() {
  const sources = useAppState((s) => s.detail?.sources ?? NO_SOURCES);
  const dht = useAppState((s) => s.detail?.dht);
  return (
    <>
      {dht && (
        <p className="muted" data-testid="dht-status">
          {dht.state === 'on'
            ? `DHT: ${dht.nodes} node${dht.nodes === 1 ? '' : 's'} in the routing table`
            : dht.state === 'off'
              ? 'DHT: off (Settings)'
              : 'DHT: not used for a private torrent'}
        </p>
      )}
      {sources.length === 0 ? (
        <p className="muted">No peers known yet.</p>
      ) : (
        <table className="detail-table" aria-label="Peer sources">
          <thead>
            <tr>
              <th scope="col">Source</th>
              <th scope="col">Peers known</th>
              <th scope="col">Connected</th>
            </tr>
          </thead>
          <tbody>
            {sources.map((r) => (
              <tr key={r.source}>
                <td>{SOURCE_LABEL[r.source]}</td>
                <td className="num">{r.known}</td>
                <td className="num">{r.connected}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <TrackersTable />
    </>
  );
}

function TrackersTable() {
  const trackers = useAppState((s) => s.detail?.trackers ?? NO_TRACKERS);
  if (trackers.length === 0) return <p className="muted">This torrent has no trackers.</p>;
  const time = (t: number | null) => (t === null ? '–' : new Date(t).toLocaleTimeString());
  return (
    <table className="detail-table" aria-label="Trackers">
      <thead>
        <tr>
          <th scope="col">Tier</th>
          <th scope="col">URL</th>
          <th scope="col">Status</th>
          <th scope="col">Last announce</th>
          <th scope="col">Peers returned</th>
          <th scope="col">Seeds / leechers / finished</th>
          <th scope="col">Last error</th>
        </tr>
      </thead>
      <tbody>
        {trackers.map((t) => (
          <tr key={t.url}>
            <td className="num">{t.tier + 1}</td>
            <td className="mono">{t.url}</td>
            <td>{t.status}</td>
            <td>{time(t.lastAnnounceAt)}</td>
            <td className="num">{t.peersReturned ?? '–'}</td>
            <td className="num">
              {t.seeders ?? '–'} / {t.leechers ?? '–'} / {t.completed ?? '–'}
            </td>
            <td className="error-text">{t.lastError ?? t.lastWarning ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DetailPane() {
  const [tab, setTab] = useState<Tab>('Pieces');
  const name = useAppState(
    (s) => s.detail?.summary.name ?? (s.selected[0] ? s.torrents[s.selected[0]]?.name : undefined),
  );
  const detail = useAppState((s) => s.detail);
  if (!name)
    return (
      <section className="detail empty-detail">
        Select a torrent to see its pieces, peers, files and trackers.
      </section>
    );
  return (
    <section className="detail" aria-label={`Details of ${name}`}>
      <div role="tablist" aria-label="Detail views">
        {TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-selected={tab === t}
            aria-controls={`panel-${t}`}
            onClick={() => setTab(t)}
          >
            {t}
            {t === 'Peers' && detail ? ` (${detail.peers.length})` : ''}
          </button>
        ))}
        {detail && (
          <span className="facts">
            {detail.summary.pieceCount.toLocaleString('en-US')} × {formatBytes(detail.pieceLength)}{' '}
            · wasted {formatBytes(detail.summary.wastedBytes)}
            {detail.isPrivate ? ' · private' : ''}
          </span>
        )}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="panel">
        {tab === 'Pieces' && <PieceMap />}
        {tab === 'Peers' && <PeersTab />}
        {tab === 'Files' && <FilesTab />}
        {tab === 'Sources' && <SourcesTab />}
      </div>
    </section>
  );
}
