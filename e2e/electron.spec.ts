// The same app in its Electron window. Electron's binary cannot be downloaded on every machine
// (it comes from outside the npm registry); where it is missing this test is skipped, saying why.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';

const require = createRequire(import.meta.url);

/**
 * The installed Electron binary, or null. Read from electron's path.txt directly: requiring the
 * `electron` package would try to download a missing binary, which this test must never do.
 */
function electronBinary(): string | null {
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) return null;
  try {
    const dir = path.dirname(require.resolve('electron/package.json'));
    const pathFile = path.join(dir, 'path.txt');
    if (!existsSync(pathFile)) return null;
    const binary = path.join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

const binary = electronBinary();

test('the Electron window opens with the hardened renderer and the Add button', async () => {
  test.skip(
    binary === null,
    'Electron binary not installed (installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1); run `npm install` where it can be downloaded',
  );
  const app = await electron.launch({
    executablePath: binary!,
    args: [path.join(import.meta.dirname, '..')],
  });
  try {
    const window = await app.firstWindow();
    await expect(window.getByRole('button', { name: 'Add', exact: true })).toBeVisible();
    // contextIsolation + sandbox: no Node in the page, only the narrow bridge.
    expect(await window.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe(
      'undefined',
    );
    expect(
      await window.evaluate(
        () => typeof (globalThis as { tessera?: { invoke?: unknown } }).tessera?.invoke,
      ),
    ).toBe('function');
  } finally {
    await app.close();
  }
});
