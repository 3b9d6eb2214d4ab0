/**
 * The chat client: typed REST calls, and rooms kept in sync over the socket (resume by rev, reconnects by the
 * close-code table, an outbox that resends until acknowledged). Runs in browsers and in Node 20 (pass `ws`).
 * @see ../docs/api.md
 */
export { ChatApi, cursorOf, type ApiOptions, type PageOptions, type SendOptions } from './api.js'
export { ApiError } from './errors.js'
export {
  RoomConnection, type ConnectionOptions, type ConnectionStatus, type StopReason, type WebSocketConstructor, type WebSocketLike
} from './connection.js'
export { Outbox, SendError, newClientId, type PendingSend } from './outbox.js'
export { RoomSession, type RoomSessionOptions } from './room.js'
export { memoryStorage, webStorage, type ChatStorage } from './storage.js'
export { RoomStore } from './store.js'
export type * from './types.js'
