import { useState } from 'preact/hooks'
import type { ChatApi, Message } from '../client/index.js'
import { href } from './route.js'

/** Search the messages of every joined room (contract 0.2: every word, the last as a prefix). */
export function Search ({ api }: { api: ChatApi }) {
  const [results, setResults] = useState<Message[] | undefined>()
  const [error, setError] = useState('')
  return (
    <section class='pane' aria-labelledby='search-title'>
      <h2 id='search-title'>Search</h2>
      <form
        class='inline' role='search' onSubmit={(event) => {
          event.preventDefault()
          const q = String(new FormData(event.currentTarget).get('q') ?? '').trim()
          if (q === '') return
          setError('')
          api.search(q, { limit: 50 }).then((page) => setResults(page.results), (caught: Error) => setError(caught.message))
        }}
      >
        <label>Words <input type='search' name='q' required maxLength={200} /></label>
        <button type='submit'>Search</button>
      </form>
      {error !== '' && <p role='alert' class='error'>{error}</p>}
      {results?.length === 0 && <p>No message matches.</p>}
      <ul class='results'>
        {results?.map((message) => (
          <li key={message.id}>
            <a href={href({ kind: 'room', name: message.room })}>
              <span class='muted'>{message.room} · {message.sender.username} · {new Date(message.created_at).toLocaleString()}</span>
              <span>{message.message}</span>
            </a>
          </li>
        ))}
      </ul>
    </section>
  )
}
