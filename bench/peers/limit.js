// Peer "limit": Postfix smtp-source, raw SMTP from C over 15 persistent sessions (-d keeps each
// session open for the next message), messages of 2,000 bytes. What this machine and the sink can
// do at best; nothing is rendered or read from a database. It prints nothing: the sink counts.
import { SMTP_SOURCE } from '../lib/services.js';

export function limitCommand({ port, messages }) {
  return [SMTP_SOURCE, ['-d', '-s', '15', '-m', String(messages), '-l', '2000', `127.0.0.1:${port}`]];
}
