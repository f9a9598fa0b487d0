import { useEffect, useRef, useState } from 'react';
import { useApp } from '../app-context';
import { drawPieces, layoutPieceMap, pieceSummary, type PieceMapLayout } from '../piece-map/draw';

const MAX_HEIGHT = 280;

function colorsFrom(el: Element) {
  const css = getComputedStyle(el);
  return {
    missing: css.getPropertyValue('--piece-missing').trim() || '#d9dde3',
    inFlight: css.getPropertyValue('--piece-inflight').trim() || '#f0a030',
    have: css.getPropertyValue('--piece-have').trim() || '#2f9e5a',
  };
}

/**
 * Every piece as a cell on a canvas. Piece states never pass through React: the component
 * subscribes to the store's piece holder and repaints, in requestAnimationFrame, only the
 * cells that changed since the last frame. The text summary beside it is the canvas's label.
 */
export function PieceMap() {
  const { store } = useApp();
  const canvas = useRef<HTMLCanvasElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const [summary, setSummary] = useState('');

  useEffect(() => {
    const el = canvas.current;
    const container = box.current;
    if (!el || !container) return;
    const ctx = el.getContext('2d');
    if (!ctx) return;
    const holder = store.getState().pieceStates;
    let drawn: Uint8Array | null = null;
    let layout: PieceMapLayout | null = null;
    let width = 0;
    let frame = 0;

    const paint = () => {
      frame = 0;
      const pieces = holder.pieces;
      const cssWidth = Math.floor(container.clientWidth);
      if (
        !layout ||
        width !== cssWidth ||
        layout.columns * layout.rows < pieces.length ||
        (drawn && drawn.length !== pieces.length)
      ) {
        width = cssWidth;
        layout = layoutPieceMap(pieces.length, cssWidth, MAX_HEIGHT);
        const ratio = window.devicePixelRatio || 1;
        el.width = Math.max(1, layout.width * ratio);
        el.height = Math.max(1, layout.height * ratio);
        el.style.width = `${layout.width}px`;
        el.style.height = `${layout.height}px`;
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
        drawn = null;
      }
      drawPieces(ctx, layout, drawn, pieces, colorsFrom(el));
      drawn = pieces.slice();
      setSummary(pieceSummary(pieces));
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(paint);
    };
    const unsubscribe = holder.subscribe(schedule);
    const resize = new ResizeObserver(schedule);
    resize.observe(container);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    const recolor = () => {
      drawn = null;
      schedule();
    };
    scheme.addEventListener('change', recolor);
    schedule();
    return () => {
      unsubscribe();
      resize.disconnect();
      scheme.removeEventListener('change', recolor);
      if (frame) cancelAnimationFrame(frame);
    };
  }, [store]);

  return (
    <div className="piece-map" ref={box}>
      <p className="piece-summary" data-testid="piece-summary">
        {summary}
      </p>
      <canvas ref={canvas} role="img" aria-label={summary || 'Piece map'} />
      <p className="legend" aria-hidden="true">
        <span className="swatch have" /> done <span className="swatch inflight" /> in flight{' '}
        <span className="swatch missing" /> missing
      </p>
    </div>
  );
}
