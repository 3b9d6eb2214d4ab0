import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import type { ChatApi, ConnectionStatus, Message, User } from '../client/index.js'
import { MessageItem } from './message-item.js'
import { go } from './route.js'
import { useRoom } from './use-room.js'

const STOPPED: Record<string, string> = {
  logged_out: 'Your session ended: log in again.',
  removed: 'You are not a member of this room.',
  room_deleted: 'This room does not exist (any more).',
  closed: 'Disconnected.'
}

function statusText (status: ConnectionStatus | undefined): string {
  if (status === undefined || status.state === 'open') return ''
  if (status.state === 'stopped') return STOPPED[status.reason] ?? 'Disconnected.'
  if (status.state === 'waiting') return `Offline: reconnecting in ${Math.ceil(status.retryInMs / 1000)} s…`
  return 'Connecting…'
}

/** The last message of mine that someone has read: "seen by" goes under it only. */
function lastSeenOfMine (messages: readonly Message[], me: User, seenBy: (message: Message) => User[]) {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!
    if (message.sender.id === me.id && !message.deleted && seenBy(message).length > 0) return message.id
  }
  return undefined
}

export function RoomView ({ api, me, name, onActivity }: { api: ChatApi, me: User, name: string, onActivity: () => void }) {
  const { session, error, setError } = useRoom(api, me, name)
  const [members, setMembers] = useState(new Map<string, User>())
  const [text, setText] = useState('')
  const [replyTo, setReplyTo] = useState<Message | undefined>()
  const [editing, setEditing] = useState<Message | undefined>()
  const list = useRef<HTMLDivElement>(null)
  const composer = useRef<HTMLTextAreaElement>(null)
  const stick = useRef(true)
  const heightBefore = useRef<number | undefined>(undefined)
  const loadingOlder = useRef(false)

  useEffect(() => {
    api.members(name).then((found) => setMembers(new Map(found.map((user) => [user.username.toLowerCase(), user]))), () => {})
  }, [api, name])

  const store = session?.store
  const messages = store?.visible() ?? []
  const lastSeq = store?.lastSeq ?? 0
  const seenOn = store === undefined ? undefined : lastSeenOfMine(messages, me, (message) => store.seenBy(message))

  // Read up to the newest message while the room is on screen; the room list then clears its badge.
  useEffect(() => {
    if (session === undefined || lastSeq === 0 || document.visibilityState !== 'visible') return
    session.markRead(lastSeq)
    onActivity()
  }, [session, lastSeq, session?.status.state])

  // Keep the newest message in view while the reader is at the bottom; keep the place when older ones load.
  useLayoutEffect(() => {
    const element = list.current
    if (element === null) return
    if (heightBefore.current !== undefined) {
      element.scrollTop += element.scrollHeight - heightBefore.current
      heightBefore.current = undefined
    } else if (stick.current) {
      element.scrollTop = element.scrollHeight
    }
  })

  const loadOlder = async () => {
    if (session === undefined || loadingOlder.current || !session.store.hasOlder) return
    loadingOlder.current = true
    heightBefore.current = list.current?.scrollHeight
    try { await session.loadOlder() } catch (caught) { setError((caught as Error).message) } finally { loadingOlder.current = false }
  }

  const onScroll = () => {
    const element = list.current
    if (element === null) return
    stick.current = element.scrollHeight - element.scrollTop - element.clientHeight < 40
    if (element.scrollTop < 80) void loadOlder()
  }

  const act = (fn: () => Promise<void>) => { fn().catch((caught: Error) => setError(caught.message)) }

  const submit = (event?: Event) => {
    event?.preventDefault()
    const value = text.trim()
    if (session === undefined || value === '') return
    if (editing !== undefined) {
      const id = editing.id
      act(() => session.edit(id, value))
      setEditing(undefined)
    } else {
      stick.current = true
      session.send(value, { replyTo: replyTo?.id ?? null }).then(onActivity, (caught: Error) => setError(caught.message))
      setReplyTo(undefined)
    }
    setText('')
  }

  const typing = store?.typing().filter((user) => user.id !== me.id) ?? []
  const online = store === undefined ? [] : [...store.online.values()].filter((user) => user.id !== me.id)
  const status = statusText(session?.status)

  return (
    <section class='pane room' aria-labelledby='room-title'>
      <header>
        <button type='button' class='back' aria-label='Back to the rooms' onClick={() => go({ kind: 'home' })}>←</button>
        <h2 id='room-title'>{name}</h2>
        <p class='presence muted' aria-label='Online'>{online.length > 0 ? `Online: ${online.map((user) => user.username).join(', ')}` : ''}</p>
      </header>
      {status !== '' && <p class='status' role='status'>{status}</p>}
      {error !== '' && <p class='error' role='alert'>{error} <button type='button' class='link' onClick={() => setError('')}>dismiss</button></p>}
      <div class='messages' ref={list} onScroll={onScroll} role='log' aria-live='polite' aria-label='Messages' tabIndex={0}>
        <ol>
          {store?.hasOlder === true && (
            <li class='older'><button type='button' onClick={() => { void loadOlder() }}>Load older messages</button></li>
          )}
          {messages.map((message) => (
            <MessageItem
              key={message.id} message={message} me={me} members={members}
              seenBy={message.id === seenOn ? store!.seenBy(message) : undefined}
              onReply={() => { setEditing(undefined); setReplyTo(message); composer.current?.focus() }}
              onEdit={() => { setReplyTo(undefined); setEditing(message); setText(message.message); composer.current?.focus() }}
              onDelete={() => { if (confirm('Delete this message?')) act(() => session!.delete(message.id)) }}
              onReact={(emoji) => act(() => session!.toggleReaction(message.id, emoji))}
            />
          ))}
          {session?.outbox.pending().map((item) => (
            <li key={item.client_id} class='message mine pending' data-pending={item.client_id}>
              <div class='meta'><strong>You</strong> <span class='muted'>sending…</span></div>
              <p class='text'>{item.message}</p>
            </li>
          ))}
        </ol>
      </div>
      <p class='typing muted' aria-live='polite'>
        {typing.length > 0 ? `${typing.map((user) => user.username).join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…` : ''}
      </p>
      <form class='composer' onSubmit={submit}>
        {(replyTo ?? editing) !== undefined && (
          <p class='context'>
            {editing !== undefined ? 'Editing your message' : `Replying to ${replyTo!.sender.username}: ${replyTo!.message.slice(0, 80)}`}
            <button type='button' class='link' onClick={() => { setReplyTo(undefined); if (editing !== undefined) setText(''); setEditing(undefined) }}>cancel</button>
          </p>
        )}
        <label class='visually-hidden' for='composer'>Message</label>
        <textarea
          id='composer' ref={composer} rows={1} value={text} maxLength={4000} placeholder={`Message ${name}`}
          onInput={(event) => { setText(event.currentTarget.value); session?.typing() }}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey) submit(event)
            if (event.key === 'Escape') { setReplyTo(undefined); setEditing(undefined) }
          }}
        />
        <button type='submit' disabled={session === undefined}>{editing !== undefined ? 'Save' : 'Send'}</button>
      </form>
    </section>
  )
}
