import { Type, type Static } from '@sinclair/typebox'

/** The one error shape of every REST error. Registered once by $id; every 4xx/5xx response refers to it. */
export const ErrorResponse = Type.Object({
  detail: Type.String(),
  code: Type.String({ examples: ['not_authenticated'] }),
  errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  request_id: Type.Optional(Type.String())
}, { $id: 'ErrorResponse', description: 'Every REST error; `errors` only for `validation_error`.' })

export type ErrorResponse = Static<typeof ErrorResponse>

export const ErrorRef = Type.Ref(ErrorResponse)

/** Response entries for the given error statuses, for a route's `schema.response`. */
export function errors<S extends number> (...statuses: S[]): Record<S, typeof ErrorRef> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorRef])) as Record<S, typeof ErrorRef>
}
