/**
 * Sorts database errors into "try again" (the database or the network is in trouble) and the rest
 * (the data or the statement is wrong, retrying cannot help).
 */
const RETRYABLE_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57014', // query_canceled (statement_timeout)
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
]);
/** connection_exception, insufficient_resources, system_error. */
const RETRYABLE_CLASSES = ['08', '53', '58'];
const RETRYABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);
const RETRYABLE_MESSAGE =
  /timeout|timed out|terminat|connection|socket hang up|temporar|deadlock|busy|too many clients/i;

export function isRetryableDbError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (RETRYABLE_NODE_CODES.has(code) || RETRYABLE_SQLSTATES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return RETRYABLE_CLASSES.includes(code.slice(0, 2));
  }
  // AggregateError from a multi-address connect attempt carries the per-address errors.
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.some((e) => e instanceof Error && isRetryableDbError(e)))
    return true;
  return RETRYABLE_MESSAGE.test(err.message ?? '');
}
