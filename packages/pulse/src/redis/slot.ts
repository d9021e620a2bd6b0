/**
 * Redis Cluster hash slot (0-16383) of a key, honouring `{hash tags}`: the function ioredis itself
 * routes with (`cluster-key-slot`, which ships no type declarations).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const calculateSlot: (key: string) => number = require('cluster-key-slot');
