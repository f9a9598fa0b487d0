/** What storage needs of a torrent: how its byte stream maps onto files. Metainfo fits it. */
export interface StorageLayout {
  name: string;
  isMultiFile: boolean;
  pieceLength: number;
  totalLength: number;
  files: readonly { path: string[]; length: number; offset: number; padding: boolean }[];
}

/** The first and last piece holding bytes of a file; null for a file of no bytes. */
export function piecesOfFile(
  pieceLength: number,
  file: { offset: number; length: number },
): { first: number; last: number } | null {
  if (file.length === 0) return null;
  return {
    first: Math.floor(file.offset / pieceLength),
    last: Math.floor((file.offset + file.length - 1) / pieceLength),
  };
}

/** A piece of a byte range that lies in one file. */
export interface FileSpan {
  fileIndex: number;
  /** Where in the file. */
  fileOffset: number;
  length: number;
  /** Where in the requested range. */
  rangeOffset: number;
  padding: boolean;
}

/**
 * The file spans of `length` bytes at `begin` within piece `pieceIndex` (MI-04: files are
 * concatenated in list order; a piece may cross any number of files, zero-length ones
 * included, which never get a span).
 */
export function spansForRange(
  layout: StorageLayout,
  pieceIndex: number,
  begin: number,
  length: number,
): FileSpan[] {
  const start = pieceIndex * layout.pieceLength + begin;
  const end = start + length;
  if (begin < 0 || length < 0 || end > layout.totalLength) {
    throw new RangeError(
      `range ${start}..${end} outside the torrent's ${layout.totalLength} bytes`,
    );
  }
  const files = layout.files;
  // Binary search for the last file starting at or before `start`.
  let lo = 0;
  let hi = files.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (files[mid]!.offset <= start) lo = mid;
    else hi = mid - 1;
  }
  const spans: FileSpan[] = [];
  for (let i = lo; i < files.length && length > 0; i++) {
    const f = files[i]!;
    if (f.offset >= end) break;
    const from = Math.max(start, f.offset);
    const to = Math.min(end, f.offset + f.length);
    if (to <= from) continue;
    spans.push({
      fileIndex: i,
      fileOffset: from - f.offset,
      length: to - from,
      rangeOffset: from - start,
      padding: f.padding,
    });
  }
  return spans;
}
