import type { z } from 'zod';

export interface ContractIssue {
  /** Dotted path of the offending field, e.g. `payload.capacity`; empty for the root. */
  path: string;
  message: string;
}

/** `unsupported_action`: a well-formed control message this reader cannot perform (see toControlCommand). */
export type ContractErrorCode =
  'invalid' | 'unknown_schema' | 'unknown_track' | 'unsupported_action';

/** A decoding failure with readable paths: `capacity: must be > 0`. Never thrown by decoders. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
  constructor(
    readonly code: ContractErrorCode,
    readonly issues: ContractIssue[],
    readonly schemaId?: string,
  ) {
    super(issues.map(formatIssue).join('; '));
  }
}

export function formatIssue(issue: ContractIssue): string {
  return issue.path ? `${issue.path}: ${issue.message}` : issue.message;
}

export function fromZodError(error: z.ZodError, input: unknown, schemaId?: string): ContractError {
  const issues = error.issues.map((i) => ({
    path: i.path.map(String).join('.'),
    message: MISSING_CODES.has(i.code) && isMissing(input, i.path) ? 'is required' : i.message,
  }));
  return new ContractError('invalid', issues, schemaId);
}

/** Issue codes zod raises for an absent field (an absent enum is `invalid_value`, not `invalid_type`). */
const MISSING_CODES = new Set<string>(['invalid_type', 'invalid_value', 'invalid_union']);

function isMissing(input: unknown, path: readonly PropertyKey[]): boolean {
  let node: unknown = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return true;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node === undefined;
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: ContractError };
