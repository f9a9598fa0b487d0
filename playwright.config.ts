import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './e2e/chromium';

// Browser tests of the real UI against the real engine (`tessera serve`) and real seeders.
export default defineConfig({
  testDir: 'e2e',
  outputDir: 'e2e/artifacts/results',
  workers: 1,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    launchOptions: chromiumLaunchOptions,
    viewport: { width: 1280, height: 800 },
    screenshot: 'only-on-failure',
  },
});
