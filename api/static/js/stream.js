// A resilient client of WS /v1/stream: snapshot then gap-free deltas, resume with `since`.
//
// The server numbers frames per connection with a gap-free `seq`. A gap means frames were
// lost, so the client reconnects without `since` and takes a fresh snapshot; after a network
// drop it reconnects with `since` so the server can replay what was missed (or answer
// "resync" and send a snapshot when that is too old).

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
const PING_EVERY_MS = 20_000;

// Close codes of the server (README "Limits"): what this client does about each.
export const CLOSE_UNAUTHENTICATED = 4401; // sign out: the token is not (or no longer) valid
export const CLOSE_FORBIDDEN = 4403; // sign out: this token's role may not read the stream
export const CLOSE_MESSAGE_TOO_BIG = 1009; // stop: the same subscription would be refused again
export const CLOSE_TRY_AGAIN_LATER = 1013; // server full or this token's share taken: back off
const RETRY_BUSY_MS = 5_000;

export class StreamClient {
  // api: ApiClient; subscription: {skus, sites, channels}; handlers: onSnapshot, onDelta,
  // onStatus(state, detail), onAuthError(code).
  constructor(api, subscription, handlers) {
    this.api = api;
    this.subscription = subscription;
    this.handlers = handlers;
    this.socket = null;
    this.lastSeq = null;
    this.session = null; // sent back with `since` so the server resumes this very session
    this.retryMs = RETRY_MIN_MS;
    this.stopped = false;
    this.pingTimer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close(1000, "client closed");
    this.socket = null;
  }

  // Change what this connection follows; the server answers with a new snapshot.
  resubscribe(subscription) {
    this.subscription = subscription;
    this.lastSeq = null;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "subscribe", ...subscription, since: null }));
    } else {
      // Not open yet: drop the pending connection (its URL names the old subscription).
      const pending = this.socket;
      this.socket = null;
      if (pending) pending.close(1000, "resubscribe");
      this.connect();
    }
  }

  connect() {
    const params = { channels: this.subscription.channels.join(",") };
    if (this.subscription.skus) params.skus = this.subscription.skus.join(",");
    if (this.subscription.sites) params.sites = this.subscription.sites.join(",");
    if (this.lastSeq !== null) {
      params.since = this.lastSeq;
      if (this.session) params.session = this.session;
    }
    const socket = new WebSocket(this.api.wsUrl("/v1/stream", params));
    this.socket = socket;
    this.handlers.onStatus?.("connecting");
    socket.addEventListener("open", () => {
      this.retryMs = RETRY_MIN_MS;
      this.handlers.onStatus?.("live");
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, PING_EVERY_MS);
    });
    socket.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  receive(message) {
    switch (message.type) {
      case "snapshot":
        this.lastSeq = message.seq;
        if (message.session) this.session = message.session;
        this.handlers.onSnapshot?.(message);
        break;
      case "delta":
        if (this.lastSeq !== null && message.seq !== this.lastSeq + 1) {
          this.restartFresh(`gap in seq: ${this.lastSeq} → ${message.seq}`);
          return;
        }
        this.lastSeq = message.seq;
        this.handlers.onDelta?.(message);
        break;
      case "heartbeat":
        // It carries the last seq the server assigned (possibly to a delta still in flight):
        // it consumes none, so it never moves lastSeq.
        this.handlers.onHeartbeat?.(message);
        break;
      case "resync":
        this.lastSeq = null; // a snapshot follows
        break;
      default:
        break; // pong and future message types
    }
  }

  restartFresh(reason) {
    console.warn("stream:", reason);
    this.lastSeq = null;
    if (this.socket) this.socket.close(4000, "resync");
  }

  closed(socket, event) {
    clearInterval(this.pingTimer);
    if (socket !== this.socket) return; // a replaced connection
    this.socket = null;
    if (this.stopped) return;
    if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_FORBIDDEN) {
      this.handlers.onStatus?.("offline", "not authorised");
      this.handlers.onAuthError?.(event.code);
      return;
    }
    if (event.code === CLOSE_MESSAGE_TOO_BIG) {
      this.handlers.onStatus?.("offline", event.reason || "subscription too large");
      return;
    }
    if (event.code === CLOSE_TRY_AGAIN_LATER) {
      // Retrying at once would only be refused again: wait at least a few seconds.
      this.retryMs = Math.max(this.retryMs, RETRY_BUSY_MS);
      this.handlers.onStatus?.("busy", event.reason);
    } else {
      this.handlers.onStatus?.("reconnecting");
    }
    setTimeout(() => {
      if (!this.stopped && !this.socket) this.connect();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
