/** Nest injection tokens of the store's providers. */
export const STORE_ENV = Symbol('STORE_ENV');
export const STORE_LOGGER = Symbol('STORE_LOGGER');
export const SQL_CLIENT = Symbol('SQL_CLIENT');
export const WRITE_COORDINATOR = Symbol('WRITE_COORDINATOR');
