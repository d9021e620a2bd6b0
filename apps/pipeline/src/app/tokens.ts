/** Injection tokens for values bootstrap decides before Nest builds the graph. */
export const CLOCK = Symbol('CLOCK');
