/**
 * The RESP reader against a reference decoder (`redis-parser`, the parser ioredis was built on), on
 * replies captured from real Redis: whatever the server writes, both must read the same thing, and
 * the scanner must find the same reply ends, also when the bytes arrive one at a time.
 */
import net from 'node:net';
import Redis from 'ioredis';
import { deleteRedisPrefix, describeWithRedis, redisUrl, uniqueId } from '@mdp/testing';
import RedisParser from 'redis-parser';
import { parseRedisUrl } from '../src/redis/resp-connection';
import {
  decodeReply,
  encodeCommand,
  RedisReplyError,
  ReplyScanner,
  StreamReplyDecoder,
} from '../src/redis/resp';

/** Sends one command at a time on a raw socket and keeps the exact bytes of each reply. */
async function captureReplies(commands: Array<Array<string | number>>): Promise<Buffer[]> {
  const { host, port, password, username, db } = parseRedisUrl(redisUrl());
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) =>
    socket.once('connect', resolve).once('error', reject),
  );
  const setup: Array<Array<string | number>> = [];
  if (password) setup.push(username ? ['AUTH', username, password] : ['AUTH', password]);
  if (db) setup.push(['SELECT', db]);
  const captured: Buffer[] = [];
  try {
    for (const [i, command] of [...setup, ...commands].entries()) {
      // The reference parser frames the reply; the bytes it consumed are the capture.
      const bytes = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const parser = new RedisParser({
          returnReply: () => resolve(Buffer.concat(chunks)),
          returnError: () => resolve(Buffer.concat(chunks)),
          returnFatalError: reject,
        });
        const onData = (chunk: Buffer) => {
          chunks.push(chunk);
          parser.execute(chunk);
        };
        socket.on('data', onData);
        socket.write(encodeCommand(command));
      }).finally(() => socket.removeAllListeners('data'));
      if (i >= setup.length) captured.push(bytes);
    }
  } finally {
    socket.destroy();
  }
  return captured;
}

/** What redis-parser makes of a complete reply (strings, numbers, arrays, null; errors as `{ error }`). */
function reference(bytes: Buffer): unknown {
  let value: unknown;
  const parser = new RedisParser({
    returnReply: (v: unknown) => (value = v),
    returnError: (e: Error) => (value = e),
    returnFatalError: (e: Error) => {
      throw e;
    },
  });
  parser.execute(bytes);
  return normalise(value);
}

function normalise(v: unknown): unknown {
  if (v instanceof Error) return { error: v.message };
  if (Array.isArray(v)) return v.map(normalise);
  return v;
}

describeWithRedis('RESP reader vs redis-parser on captured Redis replies', () => {
  const ns = uniqueId('resp');
  const key = `${ns}.md.bars`;
  const envelope = JSON.stringify({
    id: 'e1',
    note: 'Zürich – 東京 \r\n inside',
    emoji: '📈',
    empty: '',
  });
  let replies: Buffer[];
  let names: string[];

  beforeAll(async () => {
    const commands: Array<[string, Array<string | number>]> = [
      ['PING', ['PING']],
      [
        'XADD',
        [
          'XADD',
          key,
          '1-1',
          'id',
          'e1',
          'schema_id',
          'md.Bar',
          'track',
          'v1',
          'envelope',
          envelope,
        ],
      ],
      [
        'XADD with empty and binary-looking values',
        ['XADD', key, '1-2', 'envelope', '', 'x-extra', 'ümlaut\t\u0000end'],
      ],
      ['XADD a third', ['XADD', key, '1-3', 'id', 'e3', 'envelope', '{}']],
      ['XGROUP CREATE', ['XGROUP', 'CREATE', key, 'g', '0']],
      [
        'XREADGROUP (new entries)',
        ['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 10, 'STREAMS', key, '>'],
      ],
      ['XDEL', ['XDEL', key, '1-2']],
      [
        'XREADGROUP (pending, one deleted)',
        ['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 10, 'STREAMS', key, '0'],
      ],
      [
        'XREADGROUP BLOCK (timed out)',
        ['XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', 1, 'STREAMS', key, '>'],
      ],
      ['XPENDING summary', ['XPENDING', key, 'g']],
      ['XPENDING extended', ['XPENDING', key, 'g', '-', '+', 10]],
      ['XAUTOCLAIM', ['XAUTOCLAIM', key, 'g', 'c2', 0, '0-0', 'COUNT', 10]],
      ['XINFO GROUPS', ['XINFO', 'GROUPS', key]],
      ['XINFO CONSUMERS', ['XINFO', 'CONSUMERS', key, 'g']],
      ['XRANGE', ['XRANGE', key, '-', '+']],
      ['XLEN', ['XLEN', key]],
      ['XACK', ['XACK', key, 'g', '1-1', '1-3']],
      ['GET (null bulk)', ['GET', `${ns}.missing`]],
      ['XREADGROUP NOGROUP (error)', ['XREADGROUP', 'GROUP', 'nope', 'c', 'STREAMS', key, '>']],
      ['unknown command (error)', ['NOSUCHCOMMAND']],
    ];
    names = commands.map(([name]) => name);
    replies = await captureReplies(commands.map(([, command]) => command));
  });

  afterAll(async () => {
    const raw = new Redis(redisUrl());
    await deleteRedisPrefix(raw, ns);
    await raw.quit();
  });

  it('decodes every reply as redis-parser does', () => {
    for (const [i, bytes] of replies.entries()) {
      const [ours, end] = decodeReply(bytes, 0);
      expect({ reply: names[i], value: normalise(ours), end }).toEqual({
        reply: names[i],
        value: reference(bytes),
        end: bytes.length,
      });
    }
  });

  it('the scanner finds each reply end, whole and fed one byte at a time', () => {
    for (const [i, bytes] of replies.entries()) {
      expect({ reply: names[i], end: new ReplyScanner().scan(bytes, 0, bytes.length) }).toEqual({
        reply: names[i],
        end: bytes.length,
      });
      const scanner = new ReplyScanner();
      let end = -1;
      for (let len = 1; len <= bytes.length && end < 0; len++) end = scanner.scan(bytes, 0, len);
      expect({ reply: names[i], end }).toEqual({ reply: names[i], end: bytes.length });
    }
  });

  it('the XREADGROUP decoder gives the entries redis-parser sees', () => {
    const reads = names.flatMap((name, i) => (name.startsWith('XREADGROUP (') ? [replies[i]] : []));
    expect(reads).toHaveLength(2);
    for (const bytes of reads) {
      const expected = (reference(bytes) as Array<[string, Array<[string, string[] | null]>]>).map(
        ([stream, entries]) => ({
          stream,
          entries: entries.map(([id, fields]) => ({ id, fields, deliveryCount: 1 })),
        }),
      );
      expect(new StreamReplyDecoder().decode(bytes, 0)).toEqual(expected);
    }
    const timedOut = replies[names.indexOf('XREADGROUP BLOCK (timed out)')];
    expect(reference(timedOut)).toBeNull();
    expect(new StreamReplyDecoder().decode(timedOut, 0)).toEqual([]);
  });

  it('an error reply is the same message for both', () => {
    const bytes = replies[names.indexOf('XREADGROUP NOGROUP (error)')];
    expect(decodeReply(bytes, 0)[0]).toBeInstanceOf(RedisReplyError);
    expect(() => new StreamReplyDecoder().decode(bytes, 0)).toThrow(
      (reference(bytes) as { error: string }).error,
    );
  });
});
