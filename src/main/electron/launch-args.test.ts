import { describe, expect, it } from 'vitest';
import { launchItems } from './launch-args';

describe('launchItems', () => {
  it('picks .torrent paths and magnet links from argv, in order, and nothing else', () => {
    expect(
      launchItems([
        '/usr/lib/tessera/tessera',
        '--no-sandbox',
        '/home/a/Debian ISO.TORRENT',
        'MAGNET:?xt=urn:btih:c9e15763f722f23e98a29decdfae341b98d53056',
        '--flag=x.torrent',
        'notes.txt',
      ]),
    ).toEqual([
      { kind: 'torrent-file', value: '/home/a/Debian ISO.TORRENT' },
      { kind: 'magnet', value: 'MAGNET:?xt=urn:btih:c9e15763f722f23e98a29decdfae341b98d53056' },
    ]);
  });
});
