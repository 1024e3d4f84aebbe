// Server-sent events over fetch(): EventSource cannot send the Authorization
// header, so the dashboard reads the stream itself and parses its frames.

/** Incremental parser for the text/event-stream format. */
export class EventStreamParser {
  constructor() {
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.eventName = "";
    this.data = [];
  }

  /** Feeds decoded text; returns the events it completes as {event, data}. */
  push(text) {
    this.buffer += text;
    const events = [];
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.buffer);
      if (!match) break;
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      if (line === "") {
        if (this.data.length > 0) events.push({ event: this.eventName || "message", data: this.data.join("\n") });
        this.reset();
        continue;
      }
      if (line.startsWith(":")) continue; // comment (keep-alive)
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.eventName = value;
      else if (field === "data") this.data.push(value);
    }
    return events;
  }
}

/**
 * GETs `url` with the given headers and Accept: text/event-stream, calling
 * onEvent({event, data}) for each event until the server ends the stream or
 * `signal` aborts it. Rejects with the Response when the status is not 2xx.
 */
export async function readEventStream(url, { headers, signal, onEvent }) {
  const response = await fetch(url, {
    headers: { ...headers, Accept: "text/event-stream" },
    signal,
    cache: "no-store",
    credentials: "omit",
  });
  if (!response.ok) throw response;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new EventStreamParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const event of parser.push(decoder.decode(value, { stream: true }))) onEvent(event);
    }
    // An event the server did not finish with a blank line is dropped, as the format requires.
  } finally {
    reader.releaseLock();
  }
}
