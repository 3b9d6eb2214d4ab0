import { render } from 'preact'
import { useMemo, useState } from 'preact/hooks'
import { ChatApi } from '../client/index.js'
import { loadAuth, saveAuth, type Auth } from './auth.js'
import { Browse } from './browse.js'
import { Login } from './login.js'
import { RoomList } from './room-list.js'
import { RoomView } from './room-view.js'
import { href, useRoute } from './route.js'
import { Search } from './search.js'

function App () {
  const [auth, setAuth] = useState<Auth | undefined>(loadAuth)
  const [refresh, setRefresh] = useState(0)
  const route = useRoute()
  const api = useMemo(() => new ChatApi({ baseUrl: '', token: auth?.token }), [auth?.token])
  const signIn = (next: Auth | undefined) => { saveAuth(next); setAuth(next) }
  if (auth === undefined) return <Login api={api} onAuth={signIn} />
  const bump = () => setRefresh((count) => count + 1)
  const logout = () => { api.logout().catch(() => {}).finally(() => signIn(undefined)) }
  return (
    <div class={`layout ${route.kind === 'home' ? 'at-home' : 'in-pane'}`}>
      <aside class='sidebar'>
        <header>
          <span class='me' aria-label='Signed in as'>{auth.user.username}</span>
          <button type='button' class='link' onClick={logout}>Log out</button>
        </header>
        <div class='nav'>
          <a href={href({ kind: 'browse' })} class='button'>Browse &amp; new</a>
          <a href={href({ kind: 'search' })} class='button'>Search</a>
        </div>
        <RoomList api={api} me={auth.user} route={route} refresh={refresh} />
      </aside>
      <main class='main'>
        {route.kind === 'room' && <RoomView key={route.name} api={api} me={auth.user} name={route.name} onActivity={bump} />}
        {route.kind === 'browse' && <Browse api={api} onChange={bump} />}
        {route.kind === 'search' && <Search api={api} />}
        {route.kind === 'home' && <p class='pane muted'>Pick a room, or browse to join one.</p>}
      </main>
    </div>
  )
}

render(<App />, document.getElementById('app')!)
