import { useApp, useAppState } from '../app-context';

export function Notices() {
  const { store } = useApp();
  const notices = useAppState((s) => s.notices);
  return (
    <div className="notices" role="alert" aria-live="assertive">
      {notices.map((n) => (
        <div key={n.id} className={`notice ${n.level}`}>
          <span>{n.message}</span>
          <button type="button" aria-label="Dismiss" onClick={() => store.getState().dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
