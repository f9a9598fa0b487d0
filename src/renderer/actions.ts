import type { EngineApi } from '../shared/ipc';
import type { AppStore } from './store/store';

/** Adds dropped or picked .torrent files, one by one; each bad file says why and changes nothing. */
export async function addTorrentFiles(
  api: EngineApi,
  store: AppStore,
  files: Iterable<File>,
): Promise<void> {
  for (const file of files) {
    if (!file.name.toLowerCase().endsWith('.torrent') && file.type !== 'application/x-bittorrent') {
      store.getState().notify('error', `${file.name}: not a .torrent file`);
      continue;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    const saveTo = store.getState().saveTo.trim();
    const result = await api.invoke('torrent:add', {
      fileName: file.name,
      bytes,
      ...(saveTo ? { saveTo } : {}),
    });
    if (!result.ok) {
      store.getState().notify('error', result.error.message);
      continue;
    }
    store.getState().applySnapshot([result.value], []);
    if (store.getState().selected.length === 0) store.getState().select([result.value.id]);
  }
}

/** Magnet links are recognised wherever they come from: the box, a paste, a drop. */
export function magnetLinksIn(text: string): string[] {
  return text
    .split(/\s+/)
    .map((t) => t.trim())
    .filter((t) => /^magnet:\?/i.test(t));
}

/** Adds magnet links; each bad one says why. Returns whether every link was added. */
export async function addMagnets(
  api: EngineApi,
  store: AppStore,
  uris: string[],
): Promise<boolean> {
  let allAdded = true;
  for (const uri of uris) {
    const saveTo = store.getState().saveTo.trim();
    const result = await api.invoke('torrent:addMagnet', { uri, ...(saveTo ? { saveTo } : {}) });
    if (!result.ok) {
      store.getState().notify('error', result.error.message);
      allAdded = false;
      continue;
    }
    store.getState().applySnapshot([result.value], []);
    if (store.getState().selected.length === 0) store.getState().select([result.value.id]);
  }
  return allAdded;
}

export async function runOnSelection(
  api: EngineApi,
  store: AppStore,
  command: 'torrent:pause' | 'torrent:resume' | 'torrent:verify',
): Promise<void> {
  const ids = store.getState().selected;
  if (ids.length === 0) return;
  const result = await api.invoke(command, { ids });
  if (!result.ok) store.getState().notify('error', result.error.message);
}

export async function removeSelection(
  api: EngineApi,
  store: AppStore,
  deleteData: boolean,
): Promise<void> {
  const ids = store.getState().selected;
  if (ids.length === 0) return;
  const result = await api.invoke('torrent:remove', { ids, deleteData });
  if (!result.ok) store.getState().notify('error', result.error.message);
  else store.getState().applySnapshot([], ids);
}
