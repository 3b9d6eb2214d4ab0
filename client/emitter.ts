/** A small typed event emitter (no Node `events`: the client runs in browsers too). `on` returns the unsubscribe. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>()

  on<K extends keyof Events> (event: K, listener: (value: Events[K]) => void): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) this.listeners.set(event, set = new Set())
    set.add(listener as (value: never) => void)
    return () => { set.delete(listener as (value: never) => void) }
  }

  protected emit<K extends keyof Events> (event: K, value: Events[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as (value: Events[K]) => void)(value)
      } catch (error) {
        // A failing listener must not stop the others nor the socket's frame loop.
        queueMicrotask(() => { throw error })
      }
    }
  }
}
