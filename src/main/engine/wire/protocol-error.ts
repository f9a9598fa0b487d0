import { EngineError } from '../errors';

/** A peer broke the protocol: that connection is closed, nothing else is affected. */
export class ProtocolError extends EngineError {
  constructor(message: string) {
    super('protocol', message);
  }
}
