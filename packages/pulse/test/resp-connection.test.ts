/**
 * The hot-path connection against a scripted server: the cases real Redis will not produce on demand
 * (a peer that stops answering, an answer cut into pieces, a refused handshake).
 */
import net from 'node:net';
import { RespConnection } from '../src/redis/resp-connection';

interface Script {
  /** Reply to the n-th command received (0-based), or undefined to stay silent. */
  reply(n: number, args: string[]): string | undefined;
  /** Write each reply in pieces of this many bytes, one per tick. */
  pieces?: number;
}

/** A TCP server speaking just enough RESP to read commands; answers as the script says. */
async function scriptedServer(script: Script): Promise<{
  url: string;
  commands: string[][];
  close: () => Promise<void>;
  dropClients: () => Promise<void>;
}> {
  const commands: string[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buffered = '';
    socket.on('data', async (chunk) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        const parsed = parseCommand(buffered);
        if (!parsed) return;
        buffered = buffered.slice(parsed.length);
        commands.push(parsed.args);
        const answer = script.reply(commands.length - 1, parsed.args);
        if (answer === undefined) continue;
        const bytes = Buffer.from(answer);
        const step = script.pieces ?? bytes.length;
        for (let i = 0; i < bytes.length; i += step) {
          socket.write(bytes.subarray(i, i + step));
          if (step < bytes.length) await new Promise((r) => setImmediate(r));
        }
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    commands,
    dropClients: async () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function parseCommand(text: string): { args: string[]; length: number } | undefined {
  let pos = 0;
  const line = () => {
    const end = text.indexOf('\r\n', pos);
    if (end < 0) return undefined;
    const value = text.slice(pos, end);
    pos = end + 2;
    return value;
  };
  const head = line();
  if (head === undefined) return undefined;
  const n = Number(head.slice(1));
  const args: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = line();
    if (len === undefined) return undefined;
    const size = Number(len.slice(1));
    if (text.length < pos + size + 2) return undefined;
    args.push(Buffer.from(text.slice(pos, pos + size), 'latin1').toString('utf8'));
    pos += size + 2;
  }
  return { args, length: pos };
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const entryReply = (envelope: string) =>
  `*1\r\n*2\r\n${bulk('s')}*1\r\n*2\r\n${bulk('1-0')}*2\r\n${bulk('envelope')}${bulk(envelope)}`;

describe('RespConnection', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('names itself, pipelines the acks before the read, and decodes a reply that arrives in pieces', async () => {
    const envelope = JSON.stringify({ id: 'e1', text: 'é'.repeat(300) });
    const server = await scriptedServer({
      reply: (_, args) =>
        args[0] === 'XACK' ? ':2\r\n' : args[0] === 'XREADGROUP' ? entryReply(envelope) : '+OK\r\n',
      pieces: 7,
    });
    cleanup.push(server.close);
    const conn = new RespConnection({ url: `${server.url}/2`, name: 'pulse:ns:g:c 1' });
    cleanup.push(() => conn.close());
    const batches = await conn.read(
      [['XACK', 's', 'g', '0-1', '0-2']],
      ['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 10, 'STREAMS', 's', '>'],
    );
    expect(batches).toEqual([
      { stream: 's', entries: [{ id: '1-0', fields: ['envelope', envelope], deliveryCount: 1 }] },
    ]);
    expect(server.commands.map((c) => c.join(' '))).toEqual([
      'SELECT 2',
      'CLIENT SETNAME pulse:ns:g:c_1',
      'XACK s g 0-1 0-2',
      'XREADGROUP GROUP g c COUNT 10 STREAMS s >',
    ]);
  });

  it('gives up on a reply that never comes, and reconnects for the next read', async () => {
    let reads = 0;
    const server = await scriptedServer({
      reply: (_, args) => {
        if (args[0] !== 'XREADGROUP') return '+OK\r\n';
        return ++reads === 1 ? undefined : '*-1\r\n'; // the first read hangs
      },
    });
    cleanup.push(server.close);
    const conn = new RespConnection({ url: server.url, name: 'c', replyTimeoutMs: 100 });
    cleanup.push(() => conn.close());
    const read = ['XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', 50, 'STREAMS', 's', '>'];
    await expect(conn.read([], read, 50)).rejects.toThrow(/no reply from Redis within 150 ms/);
    await expect(conn.read([], read, 50)).resolves.toEqual([]);
    expect(server.commands.filter((c) => c[0] === 'CLIENT')).toHaveLength(2); // a second handshake
  });

  it('reports a refused handshake and an error reply to the read', async () => {
    const server = await scriptedServer({
      reply: (_, args) =>
        args[0] === 'AUTH'
          ? args[2] === 'right'
            ? '+OK\r\n'
            : '-WRONGPASS invalid username-password pair\r\n'
          : args[0] === 'XREADGROUP'
            ? '-NOGROUP No such key\r\n'
            : '+OK\r\n',
    });
    cleanup.push(server.close);
    const wrong = new RespConnection({ url: server.url.replace('//', '//u:wrong@'), name: 'c' });
    cleanup.push(() => wrong.close());
    await expect(wrong.read([], ['XREADGROUP'])).rejects.toThrow('WRONGPASS');
    const right = new RespConnection({ url: server.url.replace('//', '//u:right@'), name: 'c' });
    cleanup.push(() => right.close());
    await expect(right.read([], ['XREADGROUP'])).rejects.toThrow('NOGROUP No such key');
  });

  it('fails loudly on a reply that is not RESP2 (a RESP3 map) and reads again on a new connection', async () => {
    let reads = 0;
    const server = await scriptedServer({
      reply: (_, args) =>
        args[0] !== 'XREADGROUP' ? '+OK\r\n' : ++reads === 1 ? '%1\r\n+s\r\n*0\r\n' : '*-1\r\n',
    });
    cleanup.push(server.close);
    const conn = new RespConnection({ url: server.url, name: 'c' });
    cleanup.push(() => conn.close());
    const read = ['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', 's', '>'];
    await expect(conn.read([], read)).rejects.toThrow(/unknown RESP type '%'/);
    await expect(conn.read([], read)).resolves.toEqual([]);
    expect(server.commands.filter((c) => c[0] === 'CLIENT')).toHaveLength(2);
  });

  it('fails a read in flight when closed, and every read after', async () => {
    const server = await scriptedServer({
      reply: (_, args) => (args[0] === 'XREADGROUP' ? undefined : '+OK\r\n'),
    });
    cleanup.push(server.close);
    const conn = new RespConnection({ url: server.url, name: 'c' });
    const inFlight = conn.read([], ['XREADGROUP']);
    await new Promise((r) => setTimeout(r, 50));
    conn.close();
    await expect(inFlight).rejects.toThrow('Redis connection closed by its owner');
    await expect(conn.read([], ['XREADGROUP'])).rejects.toThrow(
      'Redis connection closed by its owner',
    );
  });
  it('pipelines a batch of commands and gives each reply its place, an error reply too', async () => {
    const server = await scriptedServer({
      reply: (_, args) =>
        args[0] !== 'XADD'
          ? '+OK\r\n'
          : args[3] === 'bad'
            ? '-ERR wrong\r\n'
            : bulk(`${args[4]}-0`),
      pieces: 5,
    });
    cleanup.push(server.close);
    const conn = new RespConnection({ url: server.url, name: 'p' });
    cleanup.push(() => conn.close());
    const replies = await conn.call([
      ['XADD', 's', '*', 'n', 1],
      ['XADD', 's', '*', 'bad', 2],
      ['XADD', 's', '*', 'n', 3],
    ]);
    expect(replies.map((r) => (r instanceof Error ? r.message : r))).toEqual([
      '1-0',
      'ERR wrong',
      '3-0',
    ]);
    expect(server.commands.slice(1).map((c) => c.join(' '))).toEqual([
      'XADD s * n 1',
      'XADD s * bad 2',
      'XADD s * n 3',
    ]);
  });

  it('fails the commands in flight when the server goes away, and connects again for the next call', async () => {
    let xadds = 0;
    const server = await scriptedServer({
      reply: (_, args) =>
        args[0] !== 'XADD' ? '+OK\r\n' : ++xadds === 1 ? undefined : bulk('9-0'),
    });
    cleanup.push(server.close);
    const conn = new RespConnection({ url: server.url, name: 'p' });
    cleanup.push(() => conn.close());
    const inFlight = conn.call([['XADD', 's', '*', 'n', 1]]);
    await new Promise((r) => setTimeout(r, 50));
    await server.dropClients();
    await expect(inFlight).rejects.toThrow('Redis connection closed');
    await expect(conn.call([['XADD', 's', '*', 'n', 2]])).resolves.toEqual(['9-0']);
  });
});
