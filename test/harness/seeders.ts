// One entry point per seeding client, and a dispatcher by kind for swarm specs.
import { startAria2Seeder } from './aria2';
import { startQbittorrentSeeder } from './qbittorrent';
import { startRtorrentSeeder } from './rtorrent';
import type { Seeder, SeederKind, SeederOptions } from './seeder-types';
import { startTransmissionSeeder } from './transmission';

export { startAria2Seeder, startQbittorrentSeeder, startRtorrentSeeder, startTransmissionSeeder };
export type { Seeder, SeederKind, SeederOptions };

export function startSeeder(kind: SeederKind, o: SeederOptions): Promise<Seeder> {
  switch (kind) {
    case 'transmission':
      return startTransmissionSeeder(o);
    case 'aria2':
      return startAria2Seeder(o);
    case 'qbittorrent':
      return startQbittorrentSeeder(o);
    case 'rtorrent':
      return startRtorrentSeeder(o);
  }
}
