import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * announce_peer tokens (DH-03): SHA-1 of the querier's IP and a secret. The secret rotates every
 * 5 minutes and the previous one is still accepted, so a token stays valid for 5 to 10 minutes.
 * Rotation happens lazily on use (no timer to clean up).
 */
export const TOKEN_ROTATE_MS = 5 * 60_000;
const TOKEN_BYTES = 8;
const SECRET_BYTES = 16;

export class TokenIssuer {
  private current = randomBytes(SECRET_BYTES);
  private previous = randomBytes(SECRET_BYTES);
  private rotatedAt: number;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly rotateMs = TOKEN_ROTATE_MS,
  ) {
    this.rotatedAt = now();
  }

  private rotate(): void {
    const elapsed = this.now() - this.rotatedAt;
    if (elapsed < this.rotateMs) return;
    // Two or more periods: the old current secret is too old to accept as well.
    this.previous = elapsed >= 2 * this.rotateMs ? randomBytes(SECRET_BYTES) : this.current;
    this.current = randomBytes(SECRET_BYTES);
    this.rotatedAt = this.now();
  }

  issue(ip: string): Uint8Array {
    this.rotate();
    return tokenFor(ip, this.current);
  }

  check(ip: string, token: Uint8Array): boolean {
    this.rotate();
    if (token.length !== TOKEN_BYTES) return false;
    return (
      timingSafeEqual(token, tokenFor(ip, this.current)) ||
      timingSafeEqual(token, tokenFor(ip, this.previous))
    );
  }
}

function tokenFor(ip: string, secret: Uint8Array): Uint8Array {
  const h = createHash('sha1').update(ip, 'latin1').update(secret).digest();
  return h.subarray(0, TOKEN_BYTES);
}
