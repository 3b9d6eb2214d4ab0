import type { Message, User } from '../client/index.js'

const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉']

const MENTION = /(^|[^A-Za-z0-9@.+_-])@([A-Za-z0-9@.+_-]+)/g

/** The text with `@name` of members marked (the server's rule: trailing dots are not part of the name). */
function withMentions (text: string, members: Map<string, User>, me: User) {
  const parts: Array<string | preact.JSX.Element> = []
  let last = 0
  for (const match of text.matchAll(MENTION)) {
    const name = match[2]!.replace(/\.+$/, '')
    const member = members.get(name.toLowerCase())
    if (member === undefined) continue
    const start = match.index + match[1]!.length
    parts.push(text.slice(last, start))
    parts.push(<mark class={member.id === me.id ? 'mention me' : 'mention'}>@{name}</mark>)
    last = start + 1 + name.length
  }
  parts.push(text.slice(last))
  return parts
}

interface Props {
  message: Message
  me: User
  members: Map<string, User>
  seenBy: User[] | undefined
  onReply: () => void
  onEdit: () => void
  onDelete: () => void
  onReact: (emoji: string) => void
}

export function MessageItem ({ message, me, members, seenBy, onReply, onEdit, onDelete, onReact }: Props) {
  const mine = message.sender.id === me.id
  const time = new Date(message.created_at)
  const who = mine ? 'You' : message.sender.username
  return (
    <li class={`message${mine ? ' mine' : ''}${message.deleted ? ' deleted' : ''}`} data-id={message.id} data-seq={message.seq}>
      <div class='meta'>
        <strong>{who}</strong> <time dateTime={message.created_at}>{time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</time>
        {message.edited_at !== null && !message.deleted && <span class='muted'> (edited)</span>}
      </div>
      {message.reply_to !== null && (
        <blockquote class='reply'>↪ {message.reply_to.sender.username}: {message.reply_to.excerpt === '' ? <em>deleted</em> : message.reply_to.excerpt}</blockquote>
      )}
      {message.deleted
        ? <p class='text'><em>Message deleted</em></p>
        : <p class='text'>{withMentions(message.message, members, me)}</p>}
      {message.reactions.length > 0 && (
        <div class='reactions'>
          {message.reactions.map((reaction) => (
            <button
              type='button' key={reaction.emoji} class='reaction' aria-pressed={reaction.user_ids.includes(me.id)}
              aria-label={`${reaction.emoji} ${reaction.count}`} onClick={() => onReact(reaction.emoji)}
            >
              {reaction.emoji} {reaction.count}
            </button>
          ))}
        </div>
      )}
      {!message.deleted && (
        <div class='actions' role='group' aria-label={`Actions for ${who}'s message`}>
          <button type='button' onClick={onReply}>Reply</button>
          {QUICK_REACTIONS.map((emoji) => (
            <button type='button' key={emoji} aria-label={`React ${emoji}`} onClick={() => onReact(emoji)}>{emoji}</button>
          ))}
          {mine && <button type='button' onClick={onEdit}>Edit</button>}
          {mine && <button type='button' onClick={onDelete}>Delete</button>}
        </div>
      )}
      {seenBy !== undefined && seenBy.length > 0 && (
        <p class='seen muted'>Seen by {seenBy.map((user) => user.username).join(', ')}</p>
      )}
    </li>
  )
}
