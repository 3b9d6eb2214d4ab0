import { useState } from 'preact/hooks'
import { ApiError, type ChatApi } from '../client/index.js'
import type { Auth } from './auth.js'

/** Log in, or register a new account (the same two fields, and a name when registering). */
export function Login ({ api, onAuth }: { api: ChatApi, onAuth: (auth: Auth) => void }) {
  const [mode, setMode] = useState<'login' | 'register'>('login')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const username = String(form.get('username'))
    const password = String(form.get('password'))
    setBusy(true)
    setError('')
    try {
      const auth = mode === 'login'
        ? await api.login({ username, password })
        : await api.register({ username, password, first_name: String(form.get('first_name') ?? '') })
      onAuth(auth)
    } catch (caught) {
      const failure = caught as ApiError
      setError(caught instanceof ApiError && failure.errors.length > 0
        ? failure.errors.map((entry) => `${entry.field.slice(1)}: ${entry.message}`).join('; ')
        : failure.message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class='login'>
      <h1>Chat</h1>
      <form onSubmit={submit} aria-label={mode === 'login' ? 'Log in' : 'Register'}>
        <label>Username <input name='username' autocomplete='username' required minLength={3} /></label>
        <label>Password <input
          name='password' type='password' required minLength={8}
          autocomplete={mode === 'login' ? 'current-password' : 'new-password'}
                        />
        </label>
        {mode === 'register' && <label>First name (optional) <input name='first_name' autocomplete='given-name' /></label>}
        {error !== '' && <p role='alert' class='error'>{error}</p>}
        <button type='submit' disabled={busy}>{mode === 'login' ? 'Log in' : 'Register'}</button>
      </form>
      <button type='button' class='link' onClick={() => { setMode(mode === 'login' ? 'register' : 'login'); setError('') }}>
        {mode === 'login' ? 'No account yet? Register' : 'Have an account? Log in'}
      </button>
    </main>
  )
}
