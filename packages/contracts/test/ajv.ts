import Ajv from 'ajv';
import addFormats from 'ajv-formats';

/** A draft-07 validator (the dialect of our export and of the Python core's contract tests). */
export function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  ajv.addVocabulary(['x-schema-id', 'x-track']);
  return ajv;
}
