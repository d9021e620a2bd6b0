import {
  decodeReply,
  encodeCommand,
  RedisReplyError,
  ReplyScanner,
  RespProtocolError,
  StreamReplyDecoder,
} from '../src/redis/resp';
import { parseRedisUrl } from '../src/redis/resp-connection';

/** RESP2 as Redis writes it: strings are bulk strings, null a null array, arrays nest. */
type Reply = string | null | Reply[];
function resp(value: Reply): string {
  if (value === null) return '*-1\r\n';
  if (typeof value === 'string') return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
  return `*${value.length}\r\n${value.map(resp).join('')}`;
}

const envelope = JSON.stringify({ id: 'e1', note: 'Zürich – 東京 \r\n inside' });
const xreadgroup: Reply = [
  [
    'mdp.md.bars',
    [
      ['1700000000000-0', ['id', 'e1', 'schema_id', 'md.Bar', 'track', 'v1', 'envelope', envelope]],
      ['1700000000000-1', ['envelope', '{"id":"e2"}', 'x-extra', 'ümlaut']],
      ['1700000000001-0', null],
    ],
  ],
  [
    'mdp.md.bars.p1',
    [['1700000000002-0', ['id', 'e3', 'schema_id', 'md.Bar', 'track', 'v1', 'envelope', '{}']]],
  ],
];

describe('RESP encoding', () => {
  it('writes a command as an array of bulk strings, lengths in bytes', () => {
    expect(encodeCommand(['XACK', 's', 'g', 'Zürich', 7])).toBe(
      '*5\r\n$4\r\nXACK\r\n$1\r\ns\r\n$1\r\ng\r\n$7\r\nZürich\r\n$1\r\n7\r\n',
    );
  });
});

describe('ReplyScanner', () => {
  const cases: Array<[string, string]> = [
    ['an XREADGROUP reply', resp(xreadgroup)],
    ['a null array', '*-1\r\n'],
    ['an integer', ':1000\r\n'],
    ['an error', '-NOGROUP No such key\r\n'],
    ['a status', '+OK\r\n'],
    ['an empty array', '*0\r\n'],
    ['a null bulk string', '$-1\r\n'],
  ];

  it.each(cases)('finds the end of %s however the bytes are split', (_, text) => {
    const bytes = Buffer.from(text);
    const trailing = Buffer.concat([bytes, Buffer.from(':1\r\n')]); // the next reply must not be swallowed
    for (let cut = 0; cut <= bytes.length; cut++) {
      const scanner = new ReplyScanner();
      const first = scanner.scan(trailing, 0, cut);
      const end = first >= 0 ? first : scanner.scan(trailing, 0, trailing.length);
      expect([cut, end]).toEqual([cut, bytes.length]);
    }
  });

  it('resumes after the buffer was compacted (shift)', () => {
    const bytes = Buffer.from(`:5\r\n${resp(xreadgroup)}`);
    const scanner = new ReplyScanner();
    expect(scanner.scan(bytes, 0, bytes.length)).toBe(4);
    expect(scanner.scan(bytes, 4, 40)).toBe(-1);
    const compacted = bytes.subarray(4);
    scanner.shift(4);
    expect(scanner.scan(compacted, 0, compacted.length)).toBe(compacted.length);
  });
});

describe('StreamReplyDecoder', () => {
  it('decodes entries of several streams into strings, UTF-8 intact, deleted entries as null', () => {
    const batches = new StreamReplyDecoder().decode(Buffer.from(resp(xreadgroup)), 0);
    expect(batches).toEqual([
      {
        stream: 'mdp.md.bars',
        entries: [
          {
            id: '1700000000000-0',
            fields: ['id', 'e1', 'schema_id', 'md.Bar', 'track', 'v1', 'envelope', envelope],
            deliveryCount: 1,
          },
          {
            id: '1700000000000-1',
            fields: ['envelope', '{"id":"e2"}', 'x-extra', 'ümlaut'],
            deliveryCount: 1,
          },
          { id: '1700000000001-0', fields: null, deliveryCount: 1 },
        ],
      },
      {
        stream: 'mdp.md.bars.p1',
        entries: [
          {
            id: '1700000000002-0',
            fields: ['id', 'e3', 'schema_id', 'md.Bar', 'track', 'v1', 'envelope', '{}'],
            deliveryCount: 1,
          },
        ],
      },
    ]);
  });

  it('decodes from an offset, and a timed-out block (null) as no batches', () => {
    const text = resp(xreadgroup);
    const decoder = new StreamReplyDecoder();
    expect(decoder.decode(Buffer.from(`:3\r\n${text}`), 4)).toEqual(
      decoder.decode(Buffer.from(text), 0),
    );
    expect(decoder.decode(Buffer.from('*-1\r\n'), 0)).toEqual([]);
  });

  it('keeps schema_id and track values apart when they change between entries', () => {
    const reply = resp([
      [
        's',
        [
          ['1-0', ['schema_id', 'md.Bar', 'track', 'v1', 'envelope', '{}']],
          ['1-1', ['schema_id', 'md.Bar', 'track', 'v2', 'envelope', '{}']],
          ['1-2', ['schema_id', 'md.Bat', 'track', 'v2', 'envelope', '{}']],
        ],
      ],
    ]);
    const [batch] = new StreamReplyDecoder().decode(Buffer.from(reply), 0);
    expect(batch.entries.map((e) => `${e.fields![1]}/${e.fields![3]}`)).toEqual([
      'md.Bar/v1',
      'md.Bar/v2',
      'md.Bat/v2',
    ]);
  });

  it("throws Redis's error reply", () => {
    const decode = () =>
      new StreamReplyDecoder().decode(Buffer.from('-NOGROUP No such key or consumer group\r\n'), 0);
    expect(decode).toThrow(RedisReplyError);
    expect(decode).toThrow('NOGROUP No such key or consumer group');
  });
});

describe('decodeReply', () => {
  it('decodes integers, statuses, errors, nulls and nested arrays', () => {
    const text = `:42\r\n+OK\r\n-ERR wrong\r\n$-1\r\n*2\r\n$3\r\nhé\r\n*1\r\n:-7\r\n`;
    const buf = Buffer.from(text);
    const values: unknown[] = [];
    for (let pos = 0; pos < buf.length;) {
      const [value, next] = decodeReply(buf, pos);
      values.push(value);
      pos = next;
    }
    expect(values).toEqual([42, 'OK', new RedisReplyError('ERR wrong'), null, ['hé', [-7]]]);
    expect(values[2]).toBeInstanceOf(RedisReplyError);
  });
});

describe('parseRedisUrl', () => {
  it('reads host, port, credentials, database and TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/0')).toEqual({
      host: '127.0.0.1',
      port: 6379,
      tls: false,
      username: undefined,
      password: undefined,
      db: 0,
    });
    expect(parseRedisUrl('rediss://user:p%40ss@cache.example:6380/3')).toEqual({
      host: 'cache.example',
      port: 6380,
      tls: true,
      username: 'user',
      password: 'p@ss',
      db: 3,
    });
    expect(parseRedisUrl('redis://:secret@[::1]')).toMatchObject({
      host: '::1',
      port: 6379,
      password: 'secret',
      username: undefined,
      db: 0,
    });
  });

  it('rejects other schemes and bad database numbers', () => {
    expect(() => parseRedisUrl('http://localhost')).toThrow(/redis:\/\//);
    expect(() => parseRedisUrl('redis://localhost/x')).toThrow(/database number/);
  });
});

describe('an unknown RESP type fails loudly', () => {
  // RESP3 types (map, set, null, double, boolean, verbatim, big number, push) and plain junk.
  const foreign = [
    '%1\r\n+a\r\n+b\r\n',
    '~1\r\n+a\r\n',
    '_\r\n',
    ',1.5\r\n',
    '#t\r\n',
    '=7\r\ntxt:abc\r\n',
    '(12\r\n',
    '>1\r\n+a\r\n',
    'hello\r\n',
  ];

  it.each(foreign)('the scanner refuses %j', (reply) => {
    expect(() => new ReplyScanner().scan(Buffer.from(reply), 0, reply.length)).toThrow(
      RespProtocolError,
    );
  });

  it.each(foreign)('the decoder refuses %j', (reply) => {
    expect(() => decodeReply(Buffer.from(reply), 0)).toThrow(/unknown RESP type/);
  });

  it('inside an array too, naming the byte and where it is', () => {
    const reply = '*2\r\n:1\r\n_\r\n';
    expect(() => new ReplyScanner().scan(Buffer.from(reply), 0, reply.length)).toThrow(
      "unknown RESP type '_' at offset 8",
    );
  });

  it('the stream decoder refuses a reply that does not have the XREADGROUP layout', () => {
    const decoder = new StreamReplyDecoder();
    expect(() => decoder.decode(Buffer.from('%1\r\n'), 0)).toThrow(RespProtocolError);
    // An entry whose fields come as a RESP3 map instead of an array.
    const mapFields = `*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n`;
    expect(() => decoder.decode(Buffer.from(mapFields), 0)).toThrow(
      /expected the fields of a stream entry/,
    );
    const intField = `*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n:5\r\n`;
    expect(() => decoder.decode(Buffer.from(intField), 0)).toThrow(/unknown RESP type ':'/);
  });
});

describe('ReplyScanner with a bulk size cap', () => {
  it('drops the bytes of an oversized bulk string as they arrive and marks it, never buffering it', () => {
    const big = 'x'.repeat(300_000);
    const reply = Buffer.from(
      `*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*4\r\n$2\r\nid\r\n$1\r\nA\r\n$8\r\nenvelope\r\n$${big.length}\r\n${big}\r\n`,
    );
    const scanner = new ReplyScanner(1024);
    let buf = Buffer.alloc(0);
    let end = -1;
    let peak = 0;
    for (let i = 0; i < reply.length && end < 0; i += 16 * 1024) {
      const chunk = scanner.consumeSkipped(reply.subarray(i, i + 16 * 1024));
      buf = Buffer.concat([buf, chunk]);
      const r = scanner.scanAndSkip(buf, 0, buf.length);
      buf = buf.subarray(0, r.len);
      end = r.end;
      peak = Math.max(peak, buf.length);
    }
    expect(end).toBe(buf.length);
    expect(peak).toBeLessThan(20 * 1024);
    const [batch] = new StreamReplyDecoder().decode(buf, 0);
    expect(batch.entries[0]).toMatchObject({
      id: '1-0',
      fields: ['id', 'A', 'envelope', ''],
      tooLarge: { field: 'envelope', bytes: 300_000 },
    });
  });
});
