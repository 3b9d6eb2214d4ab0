// The Kotlin example written for the Django + Channels service this one replaces, as a runnable program:
// log in over REST, list the joined groups, open the room socket with the token in the URL exactly as the snippet
// does, send the snippet's frame and print what arrives; then drop the connection and reconnect with last_seq as
// the close-code table of docs/api.md says, send a second message, and shut OkHttp down as the snippet does.
// Then the 0.2 part (Sync.kt): messages kept by id, an edit followed as message_updated, a resume with last_rev.
//
// Built against OkHttp 3 (Debian's libokhttp-java). The document is written for OkHttp 4, whose Kotlin properties
// OkHttp 3 spells as methods: `client.dispatcher().executorService()`, `response.code()`, `response.body()`, and
// `RequestBody.create(mediaType, string)`. The server's JSON is simple, so a few regular expressions read it instead
// of a JSON library (Debian's libjson-java is json-lib, not org.json).

import okhttp3.MediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody
import okhttp3.WebSocket
import okhttp3.WebSocketListener
import okio.ByteString
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess

const val HELLO_FRAME = """{"message": "Hello, world!", "message_type": "text"}"""
const val HELLO_TEXT = "Hello, world!"
const val SECOND_TEXT = "Hello again, after the reconnect!"
const val SECOND_FRAME = """{"message": "$SECOND_TEXT", "message_type": "text"}"""

/**
 * The snippet's listener, unchanged but for the frame sent on open, so that the reconnect can send a second
 * message (the first connection sends the snippet's frame).
 */
fun documentListener(openFrame: String = HELLO_FRAME) = object : WebSocketListener() {
    override fun onOpen(webSocket: WebSocket, response: okhttp3.Response) {
        println("Connected to WebSocket")
        // Example: Send a message when connected
        webSocket.send(openFrame)
    }

    override fun onMessage(webSocket: WebSocket, text: String) {
        println("Received message: $text")
    }

    override fun onMessage(webSocket: WebSocket, bytes: ByteString) {
        println("Received bytes: ${bytes.hex()}")
    }

    override fun onClosing(webSocket: WebSocket, code: Int, reason: String) {
        println("Closing WebSocket: $code / $reason")
        webSocket.close(1000, null)
    }

    override fun onFailure(webSocket: WebSocket, t: Throwable, response: okhttp3.Response?) {
        println("WebSocket error: ${t.message}")
    }
}

/** A socket event that main() waits on (every one is printed by the snippet's listener first). */
sealed class Event {
    object Opened : Event()
    class Message(val frame: String) : Event()
    /** The server's close frame: its code is what the close-code table is about. */
    class Closed(val code: Int, val reason: String) : Event()
    /** No close frame: the connection dropped, or the handshake was refused (`status` is then the HTTP status). */
    class Failed(val error: Throwable, val status: Int?) : Event()
}

class ChatError(message: String) : Exception(message)

/**
 * Checks the API's promise on `seq`: one room's messages arrive in order, with no gap and no duplicate,
 * across reconnects with last_seq.
 */
class SeqTracker {
    @Volatile var lastSeq: Long? = null
        private set
    val seen = mutableListOf<Long>()
    val problems = mutableListOf<String>()

    @Synchronized fun record(seq: Long) {
        val last = lastSeq
        if (last != null && seq != last + 1) problems.add("expected seq ${last + 1}, got $seq")
        seen.add(seq)
        if (last == null || seq > last) lastSeq = seq
    }
}

/**
 * Passes every callback to the snippet's listener as it stands, then records it: the seq of each stored message
 * (when `seqs` is given: seq order is the promise of a last_seq stream only), the store's copy of each message,
 * and the events main() waits on.
 */
class Recorder(private val document: WebSocketListener, private val seqs: SeqTracker?,
               private val store: MessageStore) : WebSocketListener() {
    private val events = LinkedBlockingQueue<Event>()

    override fun onOpen(webSocket: WebSocket, response: okhttp3.Response) {
        document.onOpen(webSocket, response)
        events.add(Event.Opened)
    }

    override fun onMessage(webSocket: WebSocket, text: String) {
        document.onMessage(webSocket, text)
        if (stringField(text, "type") == "message") longField(text, "seq")?.let { seqs?.record(it) }
        store.apply(text)
        events.add(Event.Message(text))
    }

    override fun onMessage(webSocket: WebSocket, bytes: ByteString) {
        document.onMessage(webSocket, bytes)
    }

    override fun onClosing(webSocket: WebSocket, code: Int, reason: String) {
        document.onClosing(webSocket, code, reason)
    }

    override fun onClosed(webSocket: WebSocket, code: Int, reason: String) {
        document.onClosed(webSocket, code, reason)
        events.add(Event.Closed(code, reason))
    }

    override fun onFailure(webSocket: WebSocket, t: Throwable, response: okhttp3.Response?) {
        document.onFailure(webSocket, t, response)
        events.add(Event.Failed(t, response?.code()))
    }

    /** The first event `pick` maps to a value; events it returns null for are skipped. Throws after `timeoutMs`. */
    fun <T> await(timeoutMs: Long, what: String, pick: (Event) -> T?): T {
        val deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs)
        while (true) {
            val left = deadline - System.nanoTime()
            val event = events.poll(maxOf(left, 0L), TimeUnit.NANOSECONDS)
                ?: throw ChatError("timed out after $timeoutMs ms waiting for $what")
            pick(event)?.let { return it }
        }
    }

    /** Waits for the stored message carrying `text`; fails if the socket ends first. */
    fun awaitMessage(text: String, timeoutMs: Long): String = await(timeoutMs, "the message \"$text\"") { event ->
        when (event) {
            is Event.Message -> event.frame.takeIf {
                stringField(it, "type") == "message" && stringField(it, "message") == text
            }
            is Event.Closed -> throw ChatError("the socket closed (${event.code} ${event.reason}) before \"$text\" arrived")
            is Event.Failed -> throw ChatError("the socket failed before \"$text\" arrived: ${describe(event)}")
            else -> null
        }
    }

    /** Waits for the socket to end: its close code, or null when it dropped without a close frame. */
    fun awaitEnd(timeoutMs: Long): Int? = await(timeoutMs, "the socket to end") { event ->
        when (event) {
            is Event.Closed -> Ending(event.code)
            is Event.Failed -> Ending(null)
            else -> null
        }
    }.code

    /** Waits for the handshake: null once open, else the failure. */
    fun awaitOpen(timeoutMs: Long): Event.Failed? = await(timeoutMs, "the socket to open") { event ->
        when (event) {
            is Event.Opened -> Opening(null)
            is Event.Failed -> Opening(event)
            is Event.Closed -> Opening(Event.Failed(ChatError("closed ${event.code} ${event.reason}"), null))
            else -> null
        }
    }.failure

    // await() returns non-null values only, so the "null" outcomes travel in these boxes.
    private class Ending(val code: Int?)
    private class Opening(val failure: Event.Failed?)
}

fun describe(failure: Event.Failed): String =
    if (failure.status != null) "handshake refused with HTTP ${failure.status}" else "${failure.error.message}"

/**
 * The close-code table of docs/api.md: whether a client recovers from the end of a socket by reconnecting with
 * last_seq, and why. `code` is null when the connection dropped without a close frame (a network failure).
 */
fun reconnectAdvice(code: Int?): Pair<Boolean, String> = when (code) {
    null -> true to "the connection dropped without a close frame: reconnect with last_seq"
    1001 -> true to "1001 server shutting down: reconnect (any instance) with last_seq, with backoff"
    1009 -> true to "1009 frame over 64 KiB: fix the client; reconnect"
    1011 -> true to "1011 server error: reconnect with last_seq, with backoff"
    4408 -> true to "4408 stopped reading or missed heartbeats: reconnect with last_seq"
    1000 -> false to "1000 normal close: nothing to do"
    4401 -> false to "4401 token revoked: stop; log in again"
    4403 -> false to "4403 removed from the room: stop for this room"
    4404 -> false to "4404 room deleted: stop for this room"
    else -> false to "close code $code is not in the API: stop"
}

// --- REST over OkHttp -------------------------------------------------------------------------------------------

val JSON: MediaType? = MediaType.parse("application/json; charset=utf-8")

/** POST /api/auth/login/ {username, password} → the token. */
fun login(client: OkHttpClient, base: String, username: String, password: String): String {
    val body = RequestBody.create(JSON, """{"username": ${jsonString(username)}, "password": ${jsonString(password)}}""")
    val request = Request.Builder().url("$base/api/auth/login/").post(body).build()
    val text = call(client, request, "login")
    return stringField(text, "token") ?: throw ChatError("login answered without a token: $text")
}

/** GET /api/chat/groups/ with `Authorization: Token <token>` → the names of the rooms the user has joined. */
fun joinedGroups(client: OkHttpClient, base: String, token: String): List<String> {
    val text = call(client, authorized(token, "$base/api/chat/groups/").build(), "listing groups")
    // No object nested in a room (users, messages) has a "name" key, so every "name" is a room's.
    return Regex(""""name"\s*:\s*"([^"\\]*)"""").findAll(text).map { it.groupValues[1] }.toList()
}

// --- A little JSON ------------------------------------------------------------------------------------------------
// Inside a JSON string every quote is escaped, so `"key"` followed by a colon can only be a key.

fun stringField(json: String, key: String): String? =
    Regex(""""${Regex.escape(key)}"\s*:\s*"((?:[^"\\]|\\.)*)"""").find(json)?.groupValues?.get(1)

fun longField(json: String, key: String): Long? =
    Regex(""""${Regex.escape(key)}"\s*:\s*(\d+)""").find(json)?.groupValues?.get(1)?.toLong()

fun jsonString(value: String): String {
    val out = StringBuilder("\"")
    for (c in value) {
        when {
            c == '"' -> out.append("\\\"")
            c == '\\' -> out.append("\\\\")
            c < ' ' -> out.append(String.format("\\u%04x", c.toInt()))
            else -> out.append(c)
        }
    }
    return out.append('"').toString()
}

// --- Options ------------------------------------------------------------------------------------------------------

class Options(val host: String, val port: Int, val username: String, val password: String, val room: String,
              val timeoutMs: Long, val offlinePause: Boolean)

const val USAGE = """usage: run.sh [--host H] [--port P] [--username U] [--password P] [--room R] [--timeout SECONDS]
              [--offline-pause yes|no]
Each option may come from the environment instead: CHAT_HOST, CHAT_PORT, CHAT_USERNAME, CHAT_PASSWORD, CHAT_ROOM,
CHAT_TIMEOUT, CHAT_OFFLINE_PAUSE. With --offline-pause yes, the program waits for a line on standard input while
its socket is down, so that others can change the room before it resumes with last_rev. The defaults fit `npm run seed` and `npm start`: 127.0.0.1:8000, anagh / chat-demo-password, 2nd_year."""

fun parseOptions(args: Array<String>): Options {
    val given = HashMap<String, String>()
    var i = 0
    while (i < args.size) {
        val name = args[i]
        if (!name.startsWith("--") || i + 1 >= args.size) throw IllegalArgumentException("expected --option value, got '$name'")
        given[name.removePrefix("--")] = args[i + 1]
        i += 2
    }
    fun option(name: String, env: String, default: String): String =
        given.remove(name) ?: System.getenv(env)?.takeIf { it.isNotEmpty() } ?: default
    val options = Options(
        host = option("host", "CHAT_HOST", "127.0.0.1"),
        port = option("port", "CHAT_PORT", "8000").toIntOrNull() ?: throw IllegalArgumentException("--port must be a number"),
        username = option("username", "CHAT_USERNAME", "anagh"),
        password = option("password", "CHAT_PASSWORD", "chat-demo-password"),
        room = option("room", "CHAT_ROOM", "2nd_year"),
        timeoutMs = 1000 * (option("timeout", "CHAT_TIMEOUT", "10").toLongOrNull()
            ?: throw IllegalArgumentException("--timeout must be a number of seconds")),
        offlinePause = when (option("offline-pause", "CHAT_OFFLINE_PAUSE", "no")) {
            "yes" -> true
            "no" -> false
            else -> throw IllegalArgumentException("--offline-pause must be yes or no")
        }
    )
    if (given.isNotEmpty()) throw IllegalArgumentException("unknown options: ${given.keys.joinToString { "--$it" }}")
    return options
}

// --- The program --------------------------------------------------------------------------------------------------

fun main(args: Array<String>) {
    if (args.contains("--help")) {
        println(USAGE)
        return
    }
    val options = try {
        parseOptions(args)
    } catch (e: IllegalArgumentException) {
        System.err.println("${e.message}\n$USAGE")
        exitProcess(2)
    }
    val client = OkHttpClient()
    val status = try {
        chat(client, options)
    } catch (e: ChatError) {
        System.err.println("error: ${e.message}")
        1
    } catch (e: java.io.IOException) {
        System.err.println("error: cannot reach http://${options.host}:${options.port}: ${e.message}")
        1
    } finally {
        // Shutdown the client when done (the snippet's `client.dispatcher.executorService.shutdown()` in OkHttp 3):
        client.dispatcher().executorService().shutdown()
    }
    if (status != 0) exitProcess(status)
}

fun chat(client: OkHttpClient, options: Options): Int {
    val base = "http://${options.host}:${options.port}"
    val token = login(client, base, options.username, options.password)
    println("Logged in as ${options.username}")
    val groups = joinedGroups(client, base, token)
    println("Joined groups: ${groups.joinToString(", ")}")
    if (options.room !in groups) println("Note: ${options.username} has not joined ${options.room}; the socket will be refused")

    // The snippet's connection, with our host and token.
    val host = "${options.host}:${options.port}"
    val roomName = options.room
    val wsUrl = "ws://$host/ws/chat/$roomName/?token=$token"
    val seqs = SeqTracker()
    val store = MessageStore()
    val webSocketListener = Recorder(documentListener(), seqs, store)
    val request = Request.Builder()
        .url(wsUrl)
        .build()
    val webSocket = client.newWebSocket(request, webSocketListener)
    webSocketListener.awaitMessage(HELLO_TEXT, options.timeoutMs)

    // A dropped connection: no close frame, exactly as when the network goes away.
    println("Simulating a dropped connection")
    webSocket.cancel()
    val code = webSocketListener.awaitEnd(options.timeoutMs)
    val (reconnect, why) = reconnectAdvice(code)
    println("Socket ended: $why")
    if (!reconnect) return 1

    val lastSeq = seqs.lastSeq ?: 0
    val again = reconnect(client, "$wsUrl&last_seq=$lastSeq", "last_seq=$lastSeq", SECOND_FRAME, seqs, store, options.timeoutMs)
    again.second.awaitMessage(SECOND_TEXT, options.timeoutMs)
    again.first.close(1000, "done")
    val finalCode = again.second.awaitEnd(options.timeoutMs)
    println("Socket ended: ${reconnectAdvice(finalCode).second}")

    println("Seen seq: ${seqs.seen.joinToString(", ")}")
    if (seqs.problems.isNotEmpty()) {
        println("Order broken: ${seqs.problems.joinToString("; ")}")
        return 1
    }
    println("Every message arrived once, in order")
    return sync(client, options, base, token, wsUrl, store)
}

/**
 * Reconnects with exponential backoff (200 ms, 400 ms, ... up to 5 tries); a refused handshake (401, 403, 404)
 * is not retried: the token or the room is the problem, not the network.
 */
fun reconnect(client: OkHttpClient, url: String, resume: String, openFrame: String, seqs: SeqTracker?, store: MessageStore,
              timeoutMs: Long): Pair<WebSocket, Recorder> {
    var delayMs = 200L
    for (attempt in 1..5) {
        Thread.sleep(delayMs) // backoff between tries, not synchronization
        println("Reconnecting with $resume (attempt $attempt)")
        val listener = Recorder(documentListener(openFrame), seqs, store)
        val webSocket = client.newWebSocket(Request.Builder().url(url).build(), listener)
        val failure = listener.awaitOpen(timeoutMs) ?: return webSocket to listener
        if (failure.status != null) throw ChatError("reconnect: ${describe(failure)}")
        delayMs *= 2
    }
    throw ChatError("could not reconnect after 5 tries")
}
