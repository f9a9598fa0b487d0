// The messages of the peer wire protocol (BEP 3), with the ids of the Fast extension (BEP 6),
// the extension protocol (BEP 10) and the DHT port message.

export type PeerMessage =
  | { type: 'keep-alive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'not-interested' }
  | { type: 'have'; index: number }
  | { type: 'bitfield'; bitfield: Uint8Array }
  | { type: 'request'; index: number; begin: number; length: number }
  | { type: 'piece'; index: number; begin: number; block: Uint8Array }
  | { type: 'cancel'; index: number; begin: number; length: number }
  | { type: 'port'; port: number }
  | { type: 'suggest'; index: number }
  | { type: 'have-all' }
  | { type: 'have-none' }
  | { type: 'reject'; index: number; begin: number; length: number }
  | { type: 'allowed-fast'; index: number }
  | { type: 'extended'; id: number; payload: Uint8Array }
  | { type: 'unknown'; id: number; payload: Uint8Array };

export interface Handshake {
  /** 8 bytes of extension bits. */
  reserved: Uint8Array;
  infoHash: Uint8Array;
  peerId: Uint8Array;
}

export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggest: 0x0d,
  haveAll: 0x0e,
  haveNone: 0x0f,
  reject: 0x10,
  allowedFast: 0x11,
  extended: 20,
} as const;

export const PROTOCOL_NAME = 'BitTorrent protocol';
export const HANDSHAKE_LENGTH = 68;

/** Reserved bits we understand: BEP 10 extension protocol (byte 5, 0x10). */
export const RESERVED_EXTENSION_PROTOCOL = { byte: 5, mask: 0x10 } as const;
/** BEP 5 DHT: we run a DHT node and answer `port` messages (byte 7, 0x01). */
export const RESERVED_DHT = { byte: 7, mask: 0x01 } as const;
/** BEP 6 Fast extension (byte 7, 0x04). */
export const RESERVED_FAST_EXTENSION = { byte: 7, mask: 0x04 } as const;
