/** Formatting for the results table (Markdown, so a run can be pasted into docs/benchmarks.md as is). */
/** `peer` and `peerRatio`: the Socket.IO peer's figure and ours ÷ it, for the scenarios it runs ('—' elsewhere). */
export interface Row {
  scenario: string
  bare: string
  peer?: string
  ours: string
  ratio: string
  peerRatio?: string
  target: string
  met: string
}

export const int = (n: number) => Math.round(n).toLocaleString('en-US')
export const msText = (n: number) => `${n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n)} ms`
/** ours ÷ bare ws. */
export const ratio = (ours: number | undefined, bare: number | undefined) =>
  ours === undefined || bare === undefined || bare === 0 ? '—' : `${(ours / bare).toFixed(2)}×`
export const yes = (ok: boolean) => ok ? 'yes' : 'NO'

export function markdown (rows: Row[]): string {
  const header: Required<Row> = {
    scenario: 'scenario', bare: 'bare ws', peer: 'Socket.IO', ours: 'ours', ratio: '÷ bare ws', peerRatio: '÷ Socket.IO', target: 'target', met: 'met?'
  }
  const all = [header, ...rows]
  const keys = Object.keys(header) as Array<keyof Row>
  const cell = (row: Row, key: keyof Row) => row[key] ?? '—'
  const widths = keys.map((key) => Math.max(...all.map((row) => cell(row, key).length)))
  const line = (row: Row) => `| ${keys.map((key, i) => cell(row, key).padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n')
}

/** What went wrong with a traffic run's frames, or undefined when every frame arrived once and in order. */
export function integrity (run: any): string | undefined {
  const problems: string[] = []
  if (run.lost > 0) problems.push(`${int(run.lost)} lost`)
  if (run.duplicated > 0) problems.push(`${int(run.duplicated)} duplicated`)
  if (run.outOfOrder > 0) problems.push(`${int(run.outOfOrder)} out of order`)
  for (const [code, n] of Object.entries(run.errorFrames ?? {})) problems.push(`${int(n as number)} '${code}' error frames`)
  if (run.socketsClosed > 0) problems.push(`${int(run.socketsClosed)} sockets closed`)
  if (run.drained === false) problems.push('did not drain')
  if (run.overCapacity === true) problems.push('over capacity')
  return problems.length === 0 ? undefined : problems.join(', ')
}
