/** Injection tokens for values bootstrap decides before Nest builds the graph. */
export const PIPELINE_CONFIG = Symbol('PIPELINE_CONFIG');
export const LOGGER = Symbol('LOGGER');
export const CLOCK = Symbol('CLOCK');
