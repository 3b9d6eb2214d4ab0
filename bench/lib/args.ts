/**
 * `--name value`, `--name=value` and bare `--flag` (true). Every flag may also come from the environment as
 * `BENCH_NAME` (upper case, dashes as underscores), so `npm run bench` can be sized without editing it.
 */
export type Args = Map<string, string>

export function parseArgs (argv: string[]): Args {
  const args: Args = new Map()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`)
    const eq = arg.indexOf('=')
    if (eq > 0) {
      args.set(arg.slice(2, eq), arg.slice(eq + 1))
    } else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) {
      args.set(arg.slice(2), argv[++i]!)
    } else {
      args.set(arg.slice(2), 'true')
    }
  }
  return args
}

const fromEnv = (name: string) => process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`]

export function str (args: Args, name: string, fallback: string): string
export function str (args: Args, name: string): string | undefined
export function str (args: Args, name: string, fallback?: string): string | undefined {
  return args.get(name) ?? fromEnv(name) ?? fallback
}

export function num (args: Args, name: string, fallback: number): number {
  const value = str(args, name)
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${value}`)
  return n
}

export function flag (args: Args, name: string): boolean {
  const value = str(args, name)
  return value !== undefined && value !== 'false' && value !== '0'
}
