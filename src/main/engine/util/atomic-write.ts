import { mkdir, open as openFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Write to a temporary file, flush it, then rename over the target: never a torn file. */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data);
  const handle = await openFile(tmp, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, target);
}
