// Runtime checks of every command payload that arrives from a renderer or a browser: it is
// untrusted input, checked before the engine sees it (DESIGN.md, rules of the house).
import { isCommandName, MAX_TORRENT_FILE_BYTES, type CommandArgs, type CommandName } from './ipc';
import { validateSettings } from './settings';

export class PayloadError extends Error {
  readonly code = 'bad-request';
}

const ID = /^[0-9a-f]{40}$/;
const MAX_IDS = 10_000;

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw new PayloadError(`${what}: expected an object`);
  }
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], what: string): void {
  for (const key of Object.keys(o))
    if (!allowed.includes(key)) throw new PayloadError(`${what}: unexpected field "${key}"`);
}

function ids(v: unknown, what: string): string[] {
  if (!Array.isArray(v)) throw new PayloadError(`${what}.ids: expected a list of torrent ids`);
  if (v.length > MAX_IDS) throw new PayloadError(`${what}.ids: too many ids`);
  for (const id of v)
    if (typeof id !== 'string' || !ID.test(id))
      throw new PayloadError(
        `${what}.ids: "${String(id).slice(0, 60)}" is not a torrent id (40 hex digits)`,
      );
  return v as string[];
}

/**
 * A folder inside the download folder, as a person types it ('Movies/2026'): never absolute,
 * never '..', so nothing chosen in the UI can land outside the download folder.
 */
/** The engine refuses longer links too; this bound keeps them from crossing IPC at all. */
const MAX_MAGNET_LENGTH = 64 * 1024;

function subfolder(v: unknown): string {
  if (typeof v !== 'string' || v.length > 1024)
    throw new PayloadError('torrent:add.saveTo: expected a folder name');
  const parts = v.split(/[/\\]+/).filter((p) => p !== '');
  if (/^([/\\]|[A-Za-z]:)/.test(v))
    throw new PayloadError(
      `"${v.slice(0, 80)}" must be a folder inside the download folder, not an absolute path`,
    );
  for (const p of parts) {
    if (p === '.' || p === '..' || p.includes('\0'))
      throw new PayloadError(`"${v.slice(0, 80)}" must stay inside the download folder`);
  }
  return parts.join('/');
}

type Validators = { [K in CommandName]: (args: unknown) => CommandArgs<K> };

const validators: Validators = {
  'torrent:add': (args) => {
    const o = record(args, 'torrent:add');
    onlyKeys(o, ['fileName', 'bytes', 'saveTo'], 'torrent:add');
    if (typeof o.fileName !== 'string' || o.fileName.length > 1024)
      throw new PayloadError('torrent:add.fileName: expected a file name');
    if (!(o.bytes instanceof Uint8Array))
      throw new PayloadError('torrent:add.bytes: expected the file’s bytes');
    if (o.bytes.length === 0) throw new PayloadError(`${o.fileName} is empty`);
    if (o.bytes.length > MAX_TORRENT_FILE_BYTES)
      throw new PayloadError(`${o.fileName} is larger than a .torrent file can be (10 MB)`);
    if (o.saveTo === undefined || o.saveTo === '') return { fileName: o.fileName, bytes: o.bytes };
    return { fileName: o.fileName, bytes: o.bytes, saveTo: subfolder(o.saveTo) };
  },
  'torrent:addMagnet': (args) => {
    const o = record(args, 'torrent:addMagnet');
    onlyKeys(o, ['uri', 'saveTo'], 'torrent:addMagnet');
    if (typeof o.uri !== 'string' || o.uri.length > MAX_MAGNET_LENGTH)
      throw new PayloadError('torrent:addMagnet.uri: expected a magnet link');
    if (!/^\s*magnet:\?/i.test(o.uri))
      throw new PayloadError('not a magnet link: it must start with "magnet:?"');
    if (o.saveTo === undefined || o.saveTo === '') return { uri: o.uri };
    return { uri: o.uri, saveTo: subfolder(o.saveTo) };
  },
  'torrent:pause': (args) => {
    const o = record(args, 'torrent:pause');
    onlyKeys(o, ['ids'], 'torrent:pause');
    return { ids: ids(o.ids, 'torrent:pause') };
  },
  'torrent:resume': (args) => {
    const o = record(args, 'torrent:resume');
    onlyKeys(o, ['ids'], 'torrent:resume');
    return { ids: ids(o.ids, 'torrent:resume') };
  },
  'torrent:remove': (args) => {
    const o = record(args, 'torrent:remove');
    onlyKeys(o, ['ids', 'deleteData'], 'torrent:remove');
    if (typeof o.deleteData !== 'boolean')
      throw new PayloadError('torrent:remove.deleteData: expected true or false');
    return { ids: ids(o.ids, 'torrent:remove'), deleteData: o.deleteData };
  },
  'torrent:verify': (args) => {
    const o = record(args, 'torrent:verify');
    onlyKeys(o, ['ids'], 'torrent:verify');
    return { ids: ids(o.ids, 'torrent:verify') };
  },
  'torrent:select': (args) => {
    const o = record(args, 'torrent:select');
    onlyKeys(o, ['id'], 'torrent:select');
    if (o.id !== null && (typeof o.id !== 'string' || !ID.test(o.id)))
      throw new PayloadError('torrent:select.id: expected a torrent id or null');
    return { id: o.id as string | null };
  },
  'session:get': (args) => {
    const o = record(args ?? {}, 'session:get');
    onlyKeys(o, [], 'session:get');
    return {};
  },
  'settings:get': (args) => {
    const o = record(args ?? {}, 'settings:get');
    onlyKeys(o, [], 'settings:get');
    return {};
  },
  'settings:set': (args) => {
    const o = record(args, 'settings:set');
    onlyKeys(o, ['settings'], 'settings:set');
    const settings = validateSettings(o.settings);
    if (typeof settings === 'string') throw new PayloadError(settings);
    return { settings };
  },
};

/** Checks a command's name and arguments; throws PayloadError with a specific message. */
export function validateCommand(
  name: unknown,
  args: unknown,
): { name: CommandName; args: CommandArgs<CommandName> } {
  if (!isCommandName(name))
    throw new PayloadError(`unknown command "${String(name).slice(0, 60)}"`);
  return { name, args: validators[name](args) };
}
