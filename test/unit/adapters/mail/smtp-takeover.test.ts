// The take-over touches nodemailer's private fields only when they are exactly as expected.
import { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpSession } from '../../../../src/adapters/mail/smtp-session.js';
import { takeOverSession } from '../../../../src/adapters/mail/smtp-takeover.js';

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

/** A stand-in for a ready nodemailer SMTPConnection: its socket and the listeners it put there. */
function fakeConnection(extensions: string[]) {
  const socket = new Socket();
  sockets.push(socket);
  const conn = {
    _socket: socket as Socket | false,
    _supportedExtensions: extensions,
    _onSocketData: () => {},
    _onSocketError: () => {},
    _onSocketClose: () => {},
    _onSocketEnd: () => {},
    _onSocketTimeout: () => {},
  };
  socket.on('data', conn._onSocketData);
  socket.on('error', conn._onSocketError);
  socket.on('close', conn._onSocketClose);
  socket.on('end', conn._onSocketEnd);
  socket.on('timeout', conn._onSocketTimeout);
  return { conn, socket };
}

describe('takeOverSession', () => {
  it('takes a PIPELINING session: nodemailer loses its listeners and its socket', () => {
    const { conn, socket } = fakeConnection(['PIPELINING', '8BITMIME']);
    const session = takeOverSession(conn as never, 1_000);
    expect(session).toBeInstanceOf(SmtpSession);
    expect(conn._socket).toBe(false);
    for (const event of ['data', 'error', 'close', 'end', 'timeout']) {
      expect(socket.listeners(event)).not.toContain((conn as Record<string, unknown>)[`_onSocket${event[0]!.toUpperCase()}${event.slice(1)}`]);
    }
    expect(socket.listenerCount('data')).toBe(1); // the session's own reader
  });

  it('leaves a server without PIPELINING to nodemailer', () => {
    const { conn, socket } = fakeConnection(['8BITMIME']);
    expect(takeOverSession(conn as never, 1_000)).toBeNull();
    expect(conn._socket).toBe(socket);
    expect(socket.listeners('data')).toEqual([conn._onSocketData]);
  });

  it('touches nothing when the connection is not laid out as expected', () => {
    const { conn, socket } = fakeConnection(['PIPELINING']);
    const other = () => {};
    socket.on('data', other); // someone else also reads the replies
    expect(takeOverSession(conn as never, 1_000)).toBeNull();
    expect(socket.listeners('data')).toEqual([conn._onSocketData, other]);
    expect(takeOverSession({ _socket: socket, _supportedExtensions: ['PIPELINING'] } as never, 1_000)).toBeNull();
    expect(conn._socket).toBe(socket);
  });
});
