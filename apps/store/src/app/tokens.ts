/** Nest injection tokens of the store's providers. */
export const SQL_CLIENT = Symbol('SQL_CLIENT');
export const WRITE_COORDINATOR = Symbol('WRITE_COORDINATOR');
