import neostandard from 'neostandard'

// The house style: standard, with TypeScript. Generated and built files are not ours to lint.
export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', '.build/**', 'coverage/**', 'data/**', 'drizzle/**', 'test/clients/generated/**', 'examples/**/build/**']
  }),
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (its errors are handled where it is made).
      'no-void': ['error', { allowAsStatement: true }]
    }
  }
]
