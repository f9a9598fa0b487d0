import path from 'node:path';
import { UnsafePathError } from '../errors';

/**
 * File names from a .torrent are untrusted (PROTOCOL-CHECKLIST AD-10…AD-17). Policy:
 *
 * - REFUSED (the whole torrent, with the reason): `.` and `..` components, empty components,
 *   an empty path, a separator (`/` or `\`) or NUL inside a component, and drive-qualified or
 *   rooted names (`C:`, `D:x`, `\\srv\share` — the last two contain a separator or a colon
 *   after a drive letter). These can only be attacks or broken torrents (AD-10, AD-11).
 * - RENAMED (the torrent loads; `sanitizeComponent` returns the on-disk name): Windows-reserved
 *   names get a `_` prefix (`CON` → `_CON`, `nul.txt` → `_nul.txt`), the characters `<>:"|?*`
 *   and control characters become `_`, trailing dots and spaces are stripped, bidi and
 *   zero-width characters are removed (AD-15), and a component over 255 UTF-8 bytes is cut
 *   to ≤ 240 bytes keeping its extension (AD-16). We apply the Windows rules on every OS so a
 *   download has the same names everywhere and resume data moves between machines.
 * - COLLISIONS (after renaming, compared case-insensitively because Windows and macOS disks
 *   are): duplicate paths and a file where a folder must be are refused (AD-17) rather than
 *   renamed, so two files can never share bytes on disk and the file list is what the
 *   torrent says.
 */

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|clock\$)(\..*)?$/i;
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[<>:"|?*\u0000-\u001f\u007f]/g;
const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
const MAX_COMPONENT_BYTES = 255;
const TRUNCATE_TO_BYTES = 240;

/** Why a component is refused outright, or null when it is acceptable (perhaps after renaming). */
export function componentProblem(c: string): string | null {
  if (c === '') return 'empty path component';
  if (c === '.' || c === '..') return `path component '${c}' is not allowed`;
  if (c.includes('\u0000')) return `path component '${escapeForMessage(c)}' contains NUL`;
  if (c.includes('/') || c.includes('\\'))
    return `path component '${escapeForMessage(c)}' contains a path separator`;
  if (/^[A-Za-z]:/.test(c)) return `path component '${escapeForMessage(c)}' is drive-qualified`;
  return null;
}

/** Throws UnsafePathError unless every component is acceptable and there is at least one. */
export function assertSafeRelativePath(components: readonly string[]): void {
  if (components.length === 0) throw new UnsafePathError('empty path');
  for (const c of components) {
    const problem = componentProblem(c);
    if (problem !== null) throw new UnsafePathError(problem);
  }
}

/**
 * The on-disk name for an acceptable component (see the policy above). Call
 * `componentProblem` / `assertSafeRelativePath` first: this renames, it does not refuse.
 */
export function sanitizeComponent(c: string): string {
  let out = c.replace(INVISIBLE, '').replace(BAD_CHARS, '_');
  out = out.replace(/[. ]+$/, '');
  if (out === '') out = '_';
  if (WINDOWS_RESERVED.test(out)) out = `_${out}`;
  if (Buffer.byteLength(out, 'utf8') > MAX_COMPONENT_BYTES) out = truncateKeepingExtension(out);
  return out;
}

function truncateKeepingExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  // An "extension" longer than 20 bytes is just part of the name.
  const ext = dot > 0 && Buffer.byteLength(name.slice(dot)) <= 20 ? name.slice(dot) : '';
  const budget = TRUNCATE_TO_BYTES - Buffer.byteLength(ext);
  let stem = '';
  let used = 0;
  for (const ch of name.slice(0, name.length - ext.length)) {
    const n = Buffer.byteLength(ch);
    if (used + n > budget) break;
    stem += ch;
    used += n;
  }
  return (stem.replace(/[. ]+$/, '') || '_') + ext;
}

/** Printable form of an untrusted name for an error message. */
export function escapeForMessage(s: string): string {
  const shown = s.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/g,
    (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}

/**
 * Refuses duplicate paths (also case-only duplicates) and file/folder clashes (`a/b` a file
 * and `a/b/c`). Indexes in messages are the caller's (`indexes[i]` for `paths[i]`).
 */
export function assertNoCollisions(
  paths: readonly (readonly string[])[],
  indexes?: readonly number[],
): void {
  const files = new Map<string, number>();
  const dirs = new Map<string, number>();
  const fold = (parts: readonly string[]): string => parts.join('/').normalize('NFC').toLowerCase();
  paths.forEach((p, i) => {
    const idx = indexes?.[i] ?? i;
    const key = fold(p);
    // Only for a message: escaping every path up front was 28 ms of a 2,000-file torrent's parse.
    const shown = () => escapeForMessage(p.join('/'));
    const dup = files.get(key);
    if (dup !== undefined)
      throw new UnsafePathError(`file ${idx}: path '${shown()}' duplicates file ${dup}`);
    const asDir = dirs.get(key);
    if (asDir !== undefined)
      throw new UnsafePathError(
        `file ${idx}: '${shown()}' is a file but file ${asDir} needs it to be a folder`,
      );
    for (let n = 1; n < p.length; n++) {
      const prefix = fold(p.slice(0, n));
      const clash = files.get(prefix);
      if (clash !== undefined)
        throw new UnsafePathError(
          `file ${idx}: '${shown()}' needs '${escapeForMessage(p.slice(0, n).join('/'))}' to be a folder but it is file ${clash}`,
        );
      if (!dirs.has(prefix)) dirs.set(prefix, idx);
    }
    files.set(key, idx);
  });
}

/**
 * The one place a download path is built (AD-12): joins checked components under `root` and
 * verifies with path.resolve/path.relative that the result is strictly inside `root`. Storage
 * must still refuse to follow symlinks that already exist under root (realpath/O_NOFOLLOW);
 * that needs the filesystem and is its job.
 */
export function resolveInside(
  root: string,
  components: readonly string[],
  p: path.PlatformPath = path,
): string {
  assertSafeRelativePath(components);
  const base = p.resolve(root);
  const full = p.resolve(base, ...components);
  const rel = p.relative(base, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${p.sep}`) || p.isAbsolute(rel))
    throw new UnsafePathError(
      `path '${escapeForMessage(components.join('/'))}' resolves outside the download folder`,
    );
  return full;
}
