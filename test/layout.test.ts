import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import t from 'tap'
import ts from 'typescript'
import { rootDir } from '../src/paths.js'

// The layout rule (README, "Layout"): src/ imports neither plugins/ nor routes/, plugins/ does not import routes/,
// and there is no import cycle among the three. Type-only imports count: a cycle of types is still a cycle to read.
const FOLDERS = ['src', 'plugins', 'routes']
const MAY_NOT_IMPORT: Record<string, string[]> = { src: ['plugins', 'routes'], plugins: ['routes'], routes: [] }

type Graph = Map<string, string[]>

function sources (folder: string): string[] {
  return readdirSync(join(rootDir, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => join(folder, file))
}

/** Every file's relative imports (static, dynamic, `export … from`, `import type`), as paths from the root. */
function importGraph (): { graph: Graph, unresolved: string[] } {
  const graph: Graph = new Map()
  const unresolved: string[] = []
  for (const file of FOLDERS.flatMap(sources)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(rootDir, file), 'utf8'), true, true)
    const targets: string[] = []
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue
      const target = resolve(rootDir, dirname(file), fileName.replace(/\.js$/, '.ts'))
      if (existsSync(target)) targets.push(relative(rootDir, target))
      else unresolved.push(`${file} -> ${fileName}`)
    }
    graph.set(file, targets)
  }
  return { graph, unresolved }
}

const folderOf = (file: string) => file.split(/[\\/]/)[0]!

function wrongWay (graph: Graph): string[] {
  const found: string[] = []
  for (const [file, targets] of graph) {
    for (const target of targets) {
      if (MAY_NOT_IMPORT[folderOf(file)]?.includes(folderOf(target)) === true) found.push(`${file} -> ${target}`)
    }
  }
  return found
}

/** One path per cycle found by a depth-first walk, written `a -> b -> a`. */
function cycles (graph: Graph): string[] {
  const found: string[] = []
  const done = new Set<string>()
  const path: string[] = []
  const visit = (file: string) => {
    const at = path.indexOf(file)
    if (at !== -1) {
      found.push([...path.slice(at), file].join(' -> '))
      return
    }
    if (done.has(file)) return
    path.push(file)
    for (const target of graph.get(file) ?? []) visit(target)
    path.pop()
    done.add(file)
  }
  for (const file of graph.keys()) visit(file)
  return found
}

/** What a file exports besides its default export (the plugin, which autoload registers). */
function namedExports (file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(rootDir, file), 'utf8'), ts.ScriptTarget.Latest)
  return source.statements.flatMap((statement) => {
    if (ts.isExportDeclaration(statement)) return [`${file}: export { … }`]
    const exported = ts.canHaveModifiers(statement) &&
      ts.getModifiers(statement)?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword) === true
    const isDefault = ts.canHaveModifiers(statement) &&
      ts.getModifiers(statement)?.some((modifier) => modifier.kind === ts.SyntaxKind.DefaultKeyword) === true
    if (!exported || isDefault) return []
    const names = ts.isVariableStatement(statement)
      ? statement.declarationList.declarations.map((declaration) => declaration.name.getText(source))
      : [(statement as ts.DeclarationStatement).name?.getText(source) ?? '?']
    return names.map((name) => `${file}: ${name}`)
  })
}

t.test('the checks find what they look for in a made-up graph', async (t) => {
  const graph: Graph = new Map([
    ['src/a.ts', ['src/b.ts', 'plugins/p.ts']],
    ['src/b.ts', ['src/a.ts']],
    ['plugins/p.ts', ['routes/r.ts', 'src/b.ts']],
    ['routes/r.ts', ['plugins/p.ts']]
  ])
  t.same(wrongWay(graph), ['src/a.ts -> plugins/p.ts', 'plugins/p.ts -> routes/r.ts'])
  t.same(cycles(graph).sort(), ['plugins/p.ts -> routes/r.ts -> plugins/p.ts', 'src/a.ts -> src/b.ts -> src/a.ts'])
  t.same(cycles(new Map([['src/a.ts', ['src/b.ts']], ['src/b.ts', []]])), [], 'no cycle in a chain')
})

t.test('the import graph of src/, plugins/ and routes/ follows the layout rule', async (t) => {
  const { graph, unresolved } = importGraph()
  t.ok(graph.size > 50, `read every source file (${graph.size})`)
  t.ok([...graph.values()].some((targets) => targets.length > 0), 'found imports')
  t.same(unresolved, [], 'every relative import names a file')
  t.same(wrongWay(graph), [], 'src/ imports neither plugins/ nor routes/, and plugins/ does not import routes/')
  t.same(cycles(graph), [], 'no import cycle')
})

t.test('plugins/ and routes/ export nothing but their plugin: plain functions and types live in src/', async (t) => {
  const found = ['plugins', 'routes'].flatMap(sources).flatMap(namedExports)
  t.same(found, [])
})
