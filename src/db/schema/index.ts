export * from './users.js'
export * from './rooms.js'
export * from './messages.js'
export * from './settings.js'
