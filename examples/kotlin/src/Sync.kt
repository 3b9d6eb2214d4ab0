// API 0.2 on top of the snippet: keep the room's messages in a map upserted by `id` (from `message` and
// `message_updated` frames alike), remember the highest `rev` seen, and resume with `last_rev` — the "exactly in
// sync" recipe of docs/api.md. The 0.1 part of the program (ChatExample.kt) runs first, unchanged.

import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody
import okhttp3.WebSocket

const val SYNC_TEXT = "Hello with last_rev!"
const val EDITED_TEXT = "Hello, world! (edited)"
const val OFFLINE_TEXT = "Sent over REST while the socket was down"
const val RESUMED_TEXT = "Hello again, after the last_rev reconnect!"

/** The send frame of the snippet, for another text (the texts here need no escaping, but jsonString does it). */
fun sendFrame(text: String) = """{"message": ${jsonString(text)}, "message_type": "text"}"""

/**
 * The client's copy of the room: every message by `id`, in its latest state, and the highest `rev` seen. Frames
 * come from OkHttp's threads, hence the locks.
 */
class MessageStore {
    private val byId = LinkedHashMap<Long, String>()
    @Volatile var lastRev: Long = 0
        private set
    /** Whether any frame carried a rev: a 0.1 server's do not. */
    @Volatile var sawRev = false
        private set
    val problems = mutableListOf<String>()

    /** Upserts a `message` or `message_updated` frame; other frames are not messages. */
    @Synchronized fun apply(frame: String) {
        val type = stringField(frame, "type")
        if (type != "message" && type != "message_updated") return
        val id = longField(frame, "id") ?: return
        byId[id] = frame
        val rev = longField(frame, "rev") ?: return
        sawRev = true
        // Live frames and replays both go out in rev order, each change once: a rev not above the last is a repeat.
        if (rev <= lastRev) problems.add("message $id came with rev $rev after rev $lastRev") else lastRev = rev
    }

    @Synchronized fun get(id: Long): String? = byId[id]

    /** The messages in the room's order (`seq`). */
    @Synchronized fun messages(): List<String> = byId.values.sortedBy { longField(it, "seq") ?: 0L }
}

// --- REST, 0.2 ----------------------------------------------------------------------------------------------------

/** Runs a REST call and answers its body; a non-2xx status is a ChatError naming `what`. */
fun call(client: OkHttpClient, request: Request, what: String): String =
    client.newCall(request).execute().use { response ->
        val text = response.body()?.string() ?: ""
        if (!response.isSuccessful) throw ChatError("$what failed: HTTP ${response.code()} $text")
        text
    }

fun authorized(token: String, url: String): Request.Builder =
    Request.Builder().url(url).header("Authorization", "Token $token")

/** POST messages/: a send without a socket (a bot, or this user's other device). */
fun sendOverRest(client: OkHttpClient, base: String, token: String, room: String, text: String): String =
    call(client, authorized(token, "$base/api/chat/groups/$room/messages/")
        .post(RequestBody.create(JSON, sendFrame(text))).build(), "sending over REST")

/** PATCH messages/<id>/: the sender edits the text; every socket in the room gets `message_updated`. */
fun editMessage(client: OkHttpClient, base: String, token: String, room: String, id: Long, text: String): String =
    call(client, authorized(token, "$base/api/chat/groups/$room/messages/$id/")
        .patch(RequestBody.create(JSON, """{"message": ${jsonString(text)}}""")).build(), "editing message $id")

/**
 * GET groups/<room>/: the room as this user sees it. Its `unread_count` and `unread_mentions` are the badges of a
 * home screen (GET groups/ lists every joined room so, newest activity first).
 */
fun badge(client: OkHttpClient, base: String, token: String, room: String): String {
    val body = call(client, authorized(token, "$base/api/chat/groups/$room/").build(), "reading the room")
    return "${longField(body, "unread_count")} unread, ${longField(body, "unread_mentions")} mentioning you"
}

/** GET changes/?since=<rev>: what changed after `since`, and the room's rev. */
fun changesSince(client: OkHttpClient, base: String, token: String, room: String, since: Long): String =
    call(client, authorized(token, "$base/api/chat/groups/$room/changes/?since=$since").build(), "reading changes")

// --- The 0.2 part of the program ------------------------------------------------------------------------------------

/** Waits for the `message_updated` frame of message `id` with a rev above `after`. */
fun Recorder.awaitUpdate(id: Long, after: Long, timeoutMs: Long): String =
    await(timeoutMs, "message_updated for message $id") { event ->
        when (event) {
            is Event.Message -> event.frame.takeIf {
                stringField(it, "type") == "message_updated" && longField(it, "id") == id && (longField(it, "rev") ?: 0L) > after
            }
            is Event.Closed -> throw ChatError("the socket closed (${event.code} ${event.reason}) before the update arrived")
            is Event.Failed -> throw ChatError("the socket failed before the update arrived: ${describe(event)}")
            else -> null
        }
    }

/**
 * Opens the room with last_rev, edits the snippet's message and follows the edit, drops the connection, sends over
 * REST while offline (and, with --offline-pause yes, waits for a line on stdin so that others can change the room),
 * then resumes with last_rev and checks against the changes feed that nothing was missed.
 */
fun sync(client: OkHttpClient, options: Options, base: String, token: String, wsUrl: String, store: MessageStore): Int {
    if (!store.sawRev) {
        println("The server sent no rev (API 0.1): stopping after the 0.1 part")
        return 0
    }
    // Every socket sends a message on open, as the snippet does: frames come in rev order, so once its echo is
    // here, so is everything before it (the whole replay).
    val live = reconnect(client, "$wsUrl&last_rev=${store.lastRev}", "last_rev=${store.lastRev}", sendFrame(SYNC_TEXT),
        null, store, options.timeoutMs)
    val hello = store.messages().firstOrNull { stringField(it, "message") == HELLO_TEXT }
        ?: throw ChatError("the snippet's message is not in the store")
    live.second.awaitMessage(SYNC_TEXT, options.timeoutMs)

    val helloId = longField(hello, "id")!!
    val before = store.lastRev
    editMessage(client, base, token, options.room, helloId, EDITED_TEXT)
    println("Edited message $helloId over REST")
    val updated = live.second.awaitUpdate(helloId, before, options.timeoutMs)
    val stored = store.get(helloId)
    if (stored != updated || stringField(stored, "message") != EDITED_TEXT) throw ChatError("the edit was not upserted")
    println("Upserted message $helloId: rev ${longField(updated, "rev")}, \"${stringField(updated, "message")}\"")

    println("Simulating a dropped connection")
    live.first.cancel()
    val (reconnectAgain, why) = reconnectAdvice(live.second.awaitEnd(options.timeoutMs))
    println("Socket ended: $why")
    if (!reconnectAgain) return 1
    val offlineRev = store.lastRev
    sendOverRest(client, base, token, options.room, OFFLINE_TEXT)
    println("Offline with last_rev=$offlineRev: sent \"$OFFLINE_TEXT\" over REST")
    if (options.offlinePause) {
        println("Waiting for a line on standard input before reconnecting")
        readLine()
    }
    // Others may have written meanwhile: our REST send read everything before it, the rest is unread.
    println("Badge while offline: ${badge(client, base, token, options.room)}")

    val resumed = reconnect(client, "$wsUrl&last_rev=$offlineRev", "last_rev=$offlineRev", sendFrame(RESUMED_TEXT),
        null, store, options.timeoutMs)
    resumed.second.awaitMessage(RESUMED_TEXT, options.timeoutMs)
    // Sending moved our read position to our message: everything before it is read.
    println("Badge after catching up: ${badge(client, base, token, options.room)}")
    resumed.first.close(1000, "done")
    println("Socket ended: ${reconnectAdvice(resumed.second.awaitEnd(options.timeoutMs)).second}")

    // The changes feed after our rev must be empty, and the room's rev ours: nothing was missed.
    val feed = changesSince(client, base, token, options.room, store.lastRev)
    val roomRev = Regex(""""rev"\s*:\s*(\d+)\s*,\s*"has_more"""").find(feed)?.groupValues?.get(1)?.toLong()
    if (!Regex(""""results"\s*:\s*\[\s*]""").containsMatchIn(feed) || roomRev != store.lastRev) {
        println("Out of sync at rev ${store.lastRev}: $feed")
        return 1
    }
    for (message in store.messages()) println("Stored message: $message")
    if (store.problems.isNotEmpty()) {
        println("Rev order broken: ${store.problems.joinToString("; ")}")
        return 1
    }
    println("In sync at rev ${store.lastRev}: ${store.messages().size} messages, every change once, in rev order")
    return 0
}
