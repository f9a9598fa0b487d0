// Bitfields as BEP 3 sends them: one bit per piece, the high bit of the first byte is piece 0.

export function bitfieldLength(pieceCount: number): number {
  return Math.ceil(pieceCount / 8);
}

export function hasBit(bits: Uint8Array, index: number): boolean {
  return ((bits[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
}

export function setBit(bits: Uint8Array, index: number): void {
  bits[index >> 3]! |= 0x80 >> (index & 7);
}

export function clearBit(bits: Uint8Array, index: number): void {
  bits[index >> 3]! &= ~(0x80 >> (index & 7));
}

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]!;

export function countBits(bits: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) n += POPCOUNT[bits[i]!]!;
  return n;
}

/** Bits past the last piece must be zero (PW: a peer that sets them is broken or hostile). */
export function hasSpareBits(bits: Uint8Array, pieceCount: number): boolean {
  const spare = bits.length * 8 - pieceCount;
  if (spare <= 0) return false;
  return (bits[bits.length - 1]! & ((1 << spare) - 1)) !== 0;
}
