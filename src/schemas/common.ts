import { FormatRegistry, Type, type TSchema } from '@sinclair/typebox'

// TypeBox checks formats only once they are registered; these are the two the API uses.
FormatRegistry.Set('uri', (value) => {
  try {
    const url = new URL(value)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
})
FormatRegistry.Set('email', (value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value))
FormatRegistry.Set('date-time', (value) => !Number.isNaN(Date.parse(value)))

export const Timestamp = Type.String({ format: 'date-time', examples: ['2025-02-13T10:00:00.000Z'] })

/** Room names follow the rule Django Channels puts on group names. */
export const RoomName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]+$' })
export const Username = Type.String({ minLength: 3, maxLength: 150, pattern: '^[A-Za-z0-9@.+_-]+$' })
export const Password = Type.String({
  minLength: 8,
  maxLength: 128,
  description: '8..128 characters; not only whitespace or invisible characters, not the username (nor it with under 8 ' +
    'other characters), not one of the 1,000 most common passwords (case, invisible characters and surrounding ' +
    'whitespace aside)'
})

export const RoomParams = Type.Object({ room_name: RoomName }, { additionalProperties: false })

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  cursor: Type.Optional(Type.String())
}, { additionalProperties: false })

/** Django REST Framework's cursor-pagination page. */
export const Page = <T extends TSchema>(item: T, $id: string) => Type.Object({
  next: Type.Union([Type.String({ format: 'uri' }), Type.Null()]),
  previous: Type.Union([Type.String({ format: 'uri' }), Type.Null()]),
  results: Type.Array(item)
}, { $id })
