/** The part of redis-parser (no published types) the differential RESP test uses. */
declare module 'redis-parser' {
  interface RedisParserOptions {
    returnReply(reply: unknown): void;
    returnError(error: Error): void;
    returnFatalError?(error: Error): void;
    returnBuffers?: boolean;
  }
  export default class RedisParser {
    constructor(options: RedisParserOptions);
    execute(buffer: Buffer): void;
  }
}
