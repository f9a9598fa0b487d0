import { PieceState } from '../../shared/torrent-types';

/** What drawing needs of a 2D context: a fake one in tests, the canvas's in the app. */
export interface Canvas2D {
  fillStyle: string | CanvasGradient | CanvasPattern;
  fillRect(x: number, y: number, w: number, h: number): void;
}

export interface PieceMapLayout {
  /** Side of one cell in CSS pixels, gap included. */
  cell: number;
  columns: number;
  rows: number;
  width: number;
  height: number;
}

export interface PieceColors {
  missing: string;
  inFlight: string;
  have: string;
}

const MAX_CELL = 14;

/** Cells as big as fit in width × maxHeight, never smaller than one pixel. */
export function layoutPieceMap(
  pieceCount: number,
  width: number,
  maxHeight: number,
): PieceMapLayout {
  if (pieceCount <= 0 || width <= 0) return { cell: 1, columns: 1, rows: 0, width, height: 0 };
  let cell = Math.max(
    1,
    Math.min(MAX_CELL, Math.floor(Math.sqrt((width * maxHeight) / pieceCount))),
  );
  // Shrink until the rows fit (the square-root estimate ignores the ragged last row).
  while (cell > 1 && Math.ceil(pieceCount / Math.floor(width / cell)) * cell > maxHeight) cell--;
  const columns = Math.max(1, Math.floor(width / cell));
  const rows = Math.ceil(pieceCount / columns);
  return { cell, columns, rows, width: columns * cell, height: rows * cell };
}

/**
 * Paints the cells whose state differs between `previous` and `next` (all of them when
 * `previous` is null), one colour at a time so the context switches fill style at most three
 * times. Returns how many cells were painted.
 */
export function drawPieces(
  ctx: Canvas2D,
  layout: PieceMapLayout,
  previous: Uint8Array | null,
  next: Uint8Array,
  colors: PieceColors,
): number {
  const gap = layout.cell >= 4 ? 1 : 0;
  const size = layout.cell - gap;
  let painted = 0;
  const paint = (state: number, color: string) => {
    let styled = false;
    for (let i = 0; i < next.length; i++) {
      const s = next[i]!;
      if (s !== state || (previous !== null && previous[i] === s)) continue;
      if (!styled) {
        ctx.fillStyle = color;
        styled = true;
      }
      ctx.fillRect(
        (i % layout.columns) * layout.cell,
        Math.floor(i / layout.columns) * layout.cell,
        size,
        size,
      );
      painted++;
    }
  };
  paint(PieceState.Missing, colors.missing);
  paint(PieceState.InFlight, colors.inFlight);
  paint(PieceState.Have, colors.have);
  return painted;
}

/** "1,234 of 4,096 pieces, 30 %", and what is in flight: for screen readers and as visible text. */
export function pieceSummary(pieces: Uint8Array): string {
  // A magnet link before its metadata: the piece count is not known yet.
  if (pieces.length === 0) return 'no pieces yet: the metadata is not known';
  let have = 0;
  let inFlight = 0;
  for (let i = 0; i < pieces.length; i++) {
    if (pieces[i] === PieceState.Have) have++;
    else if (pieces[i] === PieceState.InFlight) inFlight++;
  }
  const pct = pieces.length === 0 ? 0 : Math.floor((have / pieces.length) * 100);
  const n = (x: number) => x.toLocaleString('en-US');
  return `${n(have)} of ${n(pieces.length)} pieces, ${pct} %${inFlight > 0 ? ` (${n(inFlight)} in flight)` : ''}`;
}

/** Frame-time benchmark for the piece map (used by bench/ui-bench in a real browser). */
export function benchmarkPieceMap(
  ctx: Canvas2D,
  pieceCount: number,
  frames: number,
  width = 900,
  height = 300,
): { fullDrawMs: number; incrementalFrameMs: number } {
  const layout = layoutPieceMap(pieceCount, width, height);
  const colors = { missing: '#ddd', inFlight: '#f90', have: '#2a2' };
  let pieces = new Uint8Array(pieceCount);
  let t = performance.now();
  drawPieces(ctx, layout, null, pieces, colors);
  const fullDrawMs = performance.now() - t;
  t = performance.now();
  for (let f = 0; f < frames; f++) {
    const next = pieces.slice();
    // A fast download: ~50 pieces change per frame.
    for (let k = 0; k < 50; k++) next[Math.floor(Math.random() * pieceCount)] = 1 + (k & 1);
    drawPieces(ctx, layout, pieces, next, colors);
    pieces = next;
  }
  return { fullDrawMs, incrementalFrameMs: (performance.now() - t) / frames };
}
