import neostandard from 'neostandard'

// The house style: standard, with TypeScript. Generated and built files are not ours to lint.
export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', '.build/**', '.cache/**', 'coverage/**', 'data/**', 'drizzle/**', 'test/clients/generated/**', 'examples/**/build/**']
  }),
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (its errors are handled where it is made).
      'no-void': ['error', { allowAsStatement: true }],
      // A TypeBox schema and its static type share one name (`const User = Type.Object(…)`, `type User =
      // Static<typeof User>`); TypeScript itself refuses a real redeclaration.
      '@typescript-eslint/no-redeclare': 'off'
    }
  }
]
