import { useEffect, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAppState } from '../app-context';

/** Asks before removing, and whether the downloaded data goes too (off by default). */
export function RemoveDialog({
  onConfirm,
  onCancel,
}: {
  onConfirm: (deleteData: boolean) => void;
  onCancel: () => void;
}) {
  const [deleteData, setDeleteData] = useState(false);
  const names = useAppState(useShallow((s) => s.selected.map((id) => s.torrents[id]?.name ?? id)));
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  return (
    <div className="backdrop" onKeyDown={(e) => e.key === 'Escape' && onCancel()}>
      <div role="dialog" aria-modal="true" aria-labelledby="remove-title" className="dialog">
        <h2 id="remove-title">
          Remove {names.length === 1 ? `“${names[0]}”` : `${names.length} torrents`}?
        </h2>
        <label>
          <input
            type="checkbox"
            checked={deleteData}
            onChange={(e) => setDeleteData(e.target.checked)}
          />{' '}
          Also delete the downloaded data
        </label>
        <div className="dialog-buttons">
          <button type="button" ref={cancel} onClick={onCancel}>
            Cancel
          </button>
          <button type="button" className="danger" onClick={() => onConfirm(deleteData)}>
            {deleteData ? 'Remove and delete data' : 'Remove torrent'}
          </button>
        </div>
      </div>
    </div>
  );
}
