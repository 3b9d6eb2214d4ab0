import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { parseBody } from './client.js'

export interface RawResponse { status: number, body: any, headers: Record<string, string | string[] | undefined> }

/**
 * A request with exactly these headers (Host and Upgrade included, which fetch will not send as given); an answer
 * to an upgrade request is read the same way. Rejects after `timeoutMs`.
 */
export function rawRequest (base: string, method: string, path: string,
  options: { headers?: Record<string, string>, body?: string | Buffer, timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { method, agent: false, headers: options.headers, setHost: options.headers?.host === undefined })
    const timer = setTimeout(() => request.destroy(new Error(`${method} ${path} timed out`)), options.timeoutMs ?? 5000)
    const done = (status: number, headers: RawResponse['headers'], text: string) => {
      clearTimeout(timer)
      resolve({ status, headers, body: parseBody(text) })
    }
    request.on('upgrade', (response, socket) => { socket.destroy(); done(response.statusCode ?? 0, response.headers, '') })
    request.on('response', (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => done(response.statusCode ?? 0, response.headers, text))
    })
    request.on('error', (error) => { clearTimeout(timer); reject(error) })
    request.end(options.body)
  })
}

/** The headers of a well-formed WebSocket upgrade request. */
export const upgradeHeaders = (): Record<string, string> => ({
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': randomBytes(16).toString('base64')
})

/** Writes `text` on a new TCP connection and resolves with all the server answers, once it closes the connection. */
export function rawExchange (port: number, text: string | Buffer, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { answer += chunk })
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('the server did not close the connection')))
    socket.write(text)
  })
}
