import { describe, expect, it } from 'vitest';
import { drawPieces, layoutPieceMap, pieceSummary, type Canvas2D } from './draw';

function fakeContext() {
  const calls: { color: string; x: number; y: number }[] = [];
  const ctx: Canvas2D & { styleChanges: number } = {
    styleChanges: 0,
    _fill: '',
    get fillStyle() {
      return this._fill;
    },
    set fillStyle(v: string) {
      this._fill = v;
      this.styleChanges++;
    },
    fillRect(x: number, y: number) {
      calls.push({ color: this._fill, x, y });
    },
  } as Canvas2D & { styleChanges: number; _fill: string };
  return { ctx, calls };
}

const colors = { missing: 'grey', inFlight: 'orange', have: 'green' };

describe('piece map', () => {
  it('lays out 100,000 pieces within the box and a few pieces as big cells', () => {
    const big = layoutPieceMap(100_000, 900, 300);
    expect(big.columns * big.rows).toBeGreaterThanOrEqual(100_000);
    expect(big.height).toBeLessThanOrEqual(300);
    const small = layoutPieceMap(3, 900, 300);
    expect(small.cell).toBe(14);
  });

  it('draws every cell the first time, then only the ones that changed', () => {
    const layout = layoutPieceMap(6, 3 * 14, 100);
    const { ctx, calls } = fakeContext();
    const first = Uint8Array.from([0, 0, 1, 2, 2, 0]);
    expect(drawPieces(ctx, layout, null, first, colors)).toBe(6);
    calls.length = 0;
    const next = Uint8Array.from([0, 1, 2, 2, 2, 0]);
    expect(drawPieces(ctx, layout, first, next, colors)).toBe(2);
    expect(calls).toEqual([
      { color: 'orange', x: 14, y: 0 },
      { color: 'green', x: 28, y: 0 },
    ]);
  });

  it('switches colour at most once per state', () => {
    const layout = layoutPieceMap(1000, 300, 300);
    const { ctx } = fakeContext();
    const pieces = Uint8Array.from({ length: 1000 }, (_, i) => i % 3);
    drawPieces(ctx, layout, null, pieces, colors);
    expect(ctx.styleChanges).toBe(3);
  });

  it('summarises for screen readers', () => {
    expect(pieceSummary(Uint8Array.from([2, 2, 1, 0]))).toBe('2 of 4 pieces, 50 % (1 in flight)');
    const many = new Uint8Array(4096);
    many.fill(2, 0, 1234);
    expect(pieceSummary(many)).toBe('1,234 of 4,096 pieces, 30 %');
    expect(pieceSummary(new Uint8Array(0))).toBe('no pieces yet: the metadata is not known');
  });
});
