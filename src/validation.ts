import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import type { FastifySchemaCompiler } from 'fastify'

/**
 * Request validation with compiled TypeBox schemas. Bodies are checked as sent (no coercion, unknown fields
 * refused); path and query strings are converted to the schema's types first, with its defaults applied.
 * Each invalid field is reported once, by its JSON pointer.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const checker = TypeCompiler.Compile(schema)
  return (input: unknown) => {
    const value = httpPart === 'body' ? input : Value.Default(schema, Value.Convert(schema, input))
    if (checker.Check(value)) return { value }
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
