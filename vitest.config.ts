import { defineConfig } from 'vitest/config';
import { diskThreadDefine } from './scripts/disk-thread-source.mjs';

// Two kinds of tests: unit tests beside the code (fast, in memory or on loopback with fakes), and
// swarm tests under test/ that start real BitTorrent programs from Debian and so need more time.
export default defineConfig({
  // The disk worker's code, as the build puts it in (see scripts/disk-thread-source.mjs).
  define: diskThreadDefine(),
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'src/**/*.test.ts',
            'src/**/*.test.tsx',
            'scripts/**/*.test.ts',
            'bench/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'swarm',
          include: ['test/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          // Real clients bind fixed loopback addresses; run swarm files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
