import { constants } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDescriptor } from './file-descriptor';

const RW = constants.O_RDWR | constants.O_CREAT;

describe('FileDescriptor', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-fd-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes and reads at positions, and syncs', async () => {
    const file = await FileDescriptor.open(path.join(dir, 'rw'), RW, 0o644);
    expect(await file.write(Buffer.from('xxhello'), 2, 5, 3)).toBe(5);
    await file.datasync();
    const into = Buffer.alloc(8, 0x2e);
    expect(await file.read(into, 1, 7, 3)).toBe(5);
    // Refused arguments leave nothing running that close() would wait for.
    await expect(file.read(into, 1, 8, 3)).rejects.toThrow(RangeError);
    expect(into.toString()).toBe('.hello..');
    await file.close();
    expect(await readFile(path.join(dir, 'rw'))).toEqual(Buffer.from('\0\0\0hello'));
  });

  it('refuses to open what is not there, with the system error', async () => {
    await expect(
      FileDescriptor.open(path.join(dir, 'missing'), constants.O_RDONLY),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('closes after the writes already running, and only once', async () => {
    const file = await FileDescriptor.open(path.join(dir, 'busy'), RW, 0o644);
    const big = Buffer.alloc(8 << 20, 7);
    const writing = file.write(big, 0, big.length, 0);
    const closed = file.close();
    expect(file.close()).toBe(closed);
    expect(await writing).toBe(big.length);
    await closed;
    expect((await readFile(path.join(dir, 'busy'))).equals(big)).toBe(true);
  });

  it('a closed descriptor touches nothing, even when its number now names another file', async () => {
    const first = await FileDescriptor.open(path.join(dir, 'first'), RW, 0o644);
    await first.close();
    // The kernel hands out the lowest free number: most likely the one just closed.
    const second = await FileDescriptor.open(path.join(dir, 'second'), RW, 0o644);
    await expect(first.write(Buffer.from('late'), 0, 4, 0)).rejects.toMatchObject({
      code: 'EBADF',
    });
    await expect(first.datasync()).rejects.toMatchObject({ code: 'EBADF' });
    await expect(first.read(Buffer.alloc(4), 0, 4, 0)).rejects.toMatchObject({ code: 'EBADF' });
    await second.close();
    expect((await readFile(path.join(dir, 'second'))).length).toBe(0);
  });
});
