import { readTorrentFile } from './read-torrent-file';
import { formatBytes } from '../../shared/format';
import { addressKey, isMagnetLink, parseMagnetLink, type MagnetLink } from '../engine';
import { flag, parseArgs, UsageError } from './args';

export const INFO_USAGE = 'tessera info <file.torrent | magnet:?…> [--json]';

/** `tessera info`: what a .torrent holds, for people or (with --json) for tools. */
export async function runInfo(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, { booleans: ['json'], values: [] });
  if (args.positional.length !== 1) throw new UsageError(`usage: ${INFO_USAGE}`);
  const input = args.positional[0]!;
  if (isMagnetLink(input)) return printMagnet(parseMagnetLink(input), flag(args, 'json'));
  const m = await readTorrentFile(input);
  const files = m.files
    .filter((f) => !f.padding)
    .map((f) => ({
      path: m.isMultiFile ? [m.name, ...f.path].join('/') : m.name,
      length: f.length,
    }));
  if (flag(args, 'json')) {
    const info = {
      name: m.name,
      infoHash: m.infoHashHex,
      totalBytes: m.totalLength,
      pieceLength: m.pieceLength,
      pieceCount: m.pieceCount,
      private: m.isPrivate,
      files,
      trackers: m.announceTiers,
      comment: m.comment,
      createdBy: m.createdBy,
      creationDate: m.creationDate,
      warnings: m.warnings,
    };
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `Name:         ${m.name}`,
    `Info-hash:    ${m.infoHashHex}`,
    `Size:         ${formatBytes(m.totalLength)} (${m.totalLength} bytes)`,
    `Pieces:       ${m.pieceCount} × ${formatBytes(m.pieceLength)}`,
    `Private:      ${m.isPrivate ? 'yes' : 'no'}`,
  ];
  if (m.comment) lines.push(`Comment:      ${m.comment}`);
  if (m.createdBy) lines.push(`Created by:   ${m.createdBy}`);
  lines.push(`Trackers:     ${m.announceTiers.length === 0 ? '(none)' : ''}`);
  m.announceTiers.forEach((tier, i) =>
    tier.forEach((url) => lines.push(`  tier ${i + 1}: ${url}`)),
  );
  lines.push(`Files (${files.length}):`);
  for (const f of files) lines.push(`  ${f.path}  (${formatBytes(f.length)})`);
  for (const w of m.warnings) lines.push(`Warning: ${w}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** What a magnet link says; size and files are only known once its metadata is fetched. */
function printMagnet(link: MagnetLink, json: boolean): number {
  const peers = link.peers.map(addressKey);
  if (json) {
    const info = {
      name: link.displayName,
      infoHash: link.infoHashHex,
      trackers: link.trackers,
      peers,
      warnings: link.warnings,
    };
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `Magnet link:  ${link.displayName ?? '(no name)'}`,
    `Info-hash:    ${link.infoHashHex}`,
    `Trackers:     ${link.trackers.length === 0 ? '(none: the DHT is asked)' : ''}`,
    ...link.trackers.map((t) => `  ${t}`),
    `Peers:        ${peers.length === 0 ? '(none)' : peers.join(', ')}`,
    'Size and files are known once the metadata is fetched (tessera download).',
    ...link.warnings.map((w) => `Warning: ${w}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
