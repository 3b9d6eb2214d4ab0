import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import type { FastifySchemaCompiler } from 'fastify'

/**
 * Value.Convert, minus its lossy number conversions: it reads "1.5" and "1e2" as the integer 1. A string whose
 * number is not exactly the converted value stays a string, so the check refuses it (path and query are flat).
 */
function convertExactly (schema: TSchema, input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return Value.Convert(schema, input)
  const original = input as Record<string, unknown>
  // Convert changes the object it is given; keep the strings as sent.
  const converted = Value.Convert(schema, { ...original }) as Record<string, unknown>
  for (const [key, value] of Object.entries(converted)) {
    if (typeof value === 'number' && typeof original[key] === 'string' && Number(original[key]) !== value) {
      converted[key] = original[key]
    }
  }
  return converted
}

/**
 * The JSON pointer of the first string in `value` that holds a NUL character, if any. PostgreSQL text cannot store
 * one (the query would fail with a 500), so a NUL anywhere in a request is refused as invalid input.
 */
function nulPath (value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined
  if (typeof value !== 'object' || value === null) return undefined
  for (const [key, item] of Object.entries(value)) {
    const found = nulPath(item, `${path}/${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * Request validation with compiled TypeBox schemas. Bodies are checked as sent (no coercion, unknown fields
 * refused); path and query strings are converted to the schema's types first, with its defaults applied.
 * Each invalid field is reported once, by its JSON pointer.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const checker = TypeCompiler.Compile(schema)
  return (input: unknown) => {
    const value = httpPart === 'body' ? input : Value.Default(schema, convertExactly(schema, input))
    if (checker.Check(value)) {
      const nul = nulPath(value, '')
      if (nul === undefined) return { value }
      return { error: [{ instancePath: nul, message: 'must not contain NUL characters', keyword: 'typebox', schemaPath: '', params: {} }] }
    }
    const seen = new Set<string>()
    const error = []
    for (const { path, message } of checker.Errors(value)) {
      if (seen.has(path)) continue
      seen.add(path)
      error.push({ instancePath: path, message, keyword: 'typebox', schemaPath: '', params: {} })
    }
    return { error }
  }
}
