import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES } from './ipc';
import { PayloadError, validateCommand } from './ipc-validate';

const id = 'a'.repeat(40);

describe('validateCommand', () => {
  it('accepts every well-formed command', () => {
    expect(
      validateCommand('torrent:add', { fileName: 'x.torrent', bytes: new Uint8Array([100]) }).name,
    ).toBe('torrent:add');
    expect(validateCommand('torrent:pause', { ids: [id] }).args).toEqual({ ids: [id] });
    expect(validateCommand('torrent:remove', { ids: [id], deleteData: false }).args).toEqual({
      ids: [id],
      deleteData: false,
    });
    expect(validateCommand('torrent:select', { id: null }).args).toEqual({ id: null });
    expect(validateCommand('session:get', {}).args).toEqual({});
    expect(validateCommand('torrent:verify', { ids: [id] }).args).toEqual({ ids: [id] });
    expect(
      validateCommand('torrent:add', {
        fileName: 'x.torrent',
        bytes: new Uint8Array([100]),
        saveTo: 'Movies//2026/',
      }).args,
    ).toMatchObject({ saveTo: 'Movies/2026' });
    expect(
      validateCommand('torrent:addMagnet', { uri: ` magnet:?xt=urn:btih:${id}`, saveTo: 'm' }).args,
    ).toEqual({ uri: ` magnet:?xt=urn:btih:${id}`, saveTo: 'm' });
    const settings = { dht: { enabled: true, bootstrap: [' 127.0.0.1:6881', '[::1]:6881'] } };
    expect(validateCommand('settings:set', { settings }).args).toEqual({
      settings: { dht: { enabled: true, bootstrap: ['127.0.0.1:6881', '[::1]:6881'] } },
    });
    expect(COMMAND_NAMES).toHaveLength(10);
  });

  it.each([
    ['nope', {}, /unknown command "nope"/],
    ['torrent:pause', { ids: ['../../etc'] }, /is not a torrent id/],
    ['torrent:addMagnet', { uri: 'http://x' }, /not a magnet link/],
    ['settings:set', { settings: { dht: { enabled: 'yes', bootstrap: [] } } }, /enabled: expected/],
    [
      'settings:set',
      { settings: { dht: { enabled: true, bootstrap: ['router:99999'] } } },
      /port must be 1 to 65535/,
    ],
    [
      'settings:set',
      { settings: { dht: { enabled: true, bootstrap: ['no port here'] } } },
      /is not host:port/,
    ],
    ['torrent:addMagnet', { uri: 42 }, /expected a magnet link/],
    ['torrent:addMagnet', { uri: 'magnet:?' + 'a'.repeat(70_000) }, /expected a magnet link/],
    ['torrent:addMagnet', { uri: 'magnet:?xt=x', saveTo: '../up' }, /stay inside/],
    ['torrent:pause', { ids: 'x' }, /expected a list/],
    ['torrent:pause', { ids: [id], extra: 1 }, /unexpected field "extra"/],
    ['torrent:remove', { ids: [id] }, /deleteData: expected true or false/],
    ['torrent:add', { fileName: 'x', bytes: 'AAAA' }, /expected the file’s bytes/],
    [
      'torrent:add',
      { fileName: 'x', bytes: new Uint8Array(10_000_001) },
      /larger than a \.torrent file can be/,
    ],
    ['torrent:add', { fileName: 'x', bytes: new Uint8Array(0) }, /is empty/],
    ['torrent:select', { id: 42 }, /expected a torrent id or null/],
    [
      'torrent:add',
      { fileName: 'x', bytes: new Uint8Array([1]), saveTo: '../../etc' },
      /must stay inside the download folder/,
    ],
    [
      'torrent:add',
      { fileName: 'x', bytes: new Uint8Array([1]), saveTo: '/etc' },
      /not an absolute path/,
    ],
    [
      'torrent:add',
      { fileName: 'x', bytes: new Uint8Array([1]), saveTo: 'C:\\Windows' },
      /not an absolute path/,
    ],
    ['torrent:pause', null, /expected an object/],
    ['torrent:pause', [id], /expected an object/],
  ])('refuses %s %j with a specific message', (name, args, message) => {
    expect(() => validateCommand(name, args)).toThrow(PayloadError);
    expect(() => validateCommand(name, args)).toThrow(message);
  });
});
