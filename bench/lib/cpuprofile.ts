import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

export interface SelfTime { name: string, where: string, ms: number, share: number }

/**
 * Self time by function from a V8 .cpuprofile (what `node --cpu-prof` writes): each sample's time goes to the
 * function on top of the stack. The idle loop is left out of the shares, so they are shares of busy time.
 */
export function selfTimes (path: string, root: string): { busyMs: number, top: SelfTime[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const totals = new Map<string, { name: string, where: string, us: number }>()
  let busy = 0
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const us = profile.timeDeltas[i] ?? 0
    if (functionName === '(idle)') return
    busy += us
    const file = url.startsWith('file://') ? relative(root, new URL(url).pathname) : url
    const where = file === '' ? '' : `${file}:${lineNumber + 1}`
    const key = `${functionName}@${where}`
    const entry = totals.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 }
    entry.us += us
    totals.set(key, entry)
  })
  const top = [...totals.values()].sort((a, b) => b.us - a.us)
    .map(({ name, where, us }) => ({ name, where, ms: Math.round(us / 1000), share: busy === 0 ? 0 : us / busy }))
  return { busyMs: Math.round(busy / 1000), top }
}

/** Self time grouped by package (node_modules/<name>), our own folders, or node's internals. */
export function byPackage (top: SelfTime[]): Array<{ group: string, share: number }> {
  const groups = new Map<string, number>()
  for (const { where, name, share } of top) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)
    const group = match !== null
      ? match[1]!
      : where.startsWith('node:') ? 'node internals' : where === '' ? (name.startsWith('(') ? name : 'native') : where.split('/')[0]!
    groups.set(group, (groups.get(group) ?? 0) + share)
  }
  return [...groups].map(([group, share]) => ({ group, share })).sort((a, b) => b.share - a.share)
}
