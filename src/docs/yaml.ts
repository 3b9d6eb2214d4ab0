/**
 * YAML for JSON data (objects, arrays, strings, numbers, booleans, null), for the AsyncAPI document. Small on
 * purpose: the server serves it at run time, where no YAML library is a dependency. A string that could read as
 * anything but itself is written as a JSON string, which is also a valid YAML double-quoted scalar.
 */
export function toYaml (value: unknown): string {
  return `${block(value, 0).join('\n')}\n`
}

const pad = (width: number) => ' '.repeat(width)
const PLAIN = /^[A-Za-z$][\w .,/()'`<>=+*-]*$/
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i

function isPlain (text: string): boolean {
  return PLAIN.test(text) && !text.endsWith(' ') && !RESERVED.test(text)
}

const isContainer = (value: unknown): value is object => typeof value === 'object' && value !== null

const isEmpty = (value: object) => Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0

function block (value: unknown, indent: number): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => entry('-', item, indent, true))
  if (isContainer(value)) {
    return Object.entries(value).flatMap(([key, child]) => entry(`${isPlain(key) ? key : JSON.stringify(key)}:`, child, indent, false))
  }
  throw new Error('toYaml: the document must be an object or an array')
}

/** `prefix` is `key:` or `-`; an array item that is a container starts on the dash's line. */
function entry (prefix: string, value: unknown, indent: number, item: boolean): string[] {
  const head = `${pad(indent)}${prefix}`
  if (!isContainer(value)) return scalar(head, value, indent)
  if (isEmpty(value)) return [`${head} ${Array.isArray(value) ? '[]' : '{}'}`]
  const lines = block(value, indent + 2)
  if (!item) return [head, ...lines]
  return [`${head} ${lines[0]!.slice(indent + 2)}`, ...lines.slice(1)]
}

function scalar (head: string, value: unknown, indent: number): string[] {
  if (typeof value !== 'string') return [`${head} ${JSON.stringify(value ?? null)}`]
  const lines = value.split('\n')
  // A block literal keeps multi-line text (markdown tables) readable, when every line can go in one as is.
  const literal = lines.length > 1 && !value.endsWith('\n\n') && !(lines.find((line) => line !== '') ?? ' ').startsWith(' ') &&
    // Control characters cannot appear in a block literal: those lines are quoted.
    // eslint-disable-next-line no-control-regex
    lines.every((line) => !/\s$/.test(line) && !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(line))
  if (!literal) return [`${head} ${isPlain(value) ? value : JSON.stringify(value)}`]
  const chomp = value.endsWith('\n') ? '' : '-'
  const body = value.endsWith('\n') ? lines.slice(0, -1) : lines
  return [`${head} |${chomp}`, ...body.map((line) => line === '' ? '' : `${pad(indent + 2)}${line}`)]
}
