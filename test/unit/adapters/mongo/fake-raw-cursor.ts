// A stand-in for the driver's FindCursor as the sorted stream reads it (raw: true): server batches
// of `perBatch` documents handed over as BSON bytes, optionally failing on the fetch after `failAt`
// documents, the way a killed or timed-out server cursor does.
import { BSON, type Document } from 'mongodb';

export interface FakeRawCursorOptions {
  /** Documents per server batch. */
  perBatch: number;
  /** Throw `error` when the cursor is asked for more after this many documents. */
  failAt?: number;
  error?: () => unknown;
  onClose: () => void;
}

export function fakeRawCursor(list: Document[], o: FakeRawCursorOptions) {
  let n = 0;
  let buffer: Uint8Array[] = [];
  return {
    async hasNext() {
      if (buffer.length > 0) return true;
      if (o.failAt !== undefined && n === o.failAt) throw o.error?.();
      if (n >= list.length) return false;
      buffer = list.slice(n, n + o.perBatch).map((d) => BSON.serialize(d));
      n += buffer.length;
      return true;
    },
    readBufferedDocuments(max: number) {
      return buffer.splice(0, max);
    },
    close: async () => {
      o.onClose();
    },
  };
}
