// Times as people read them: "3 minutes ago" (with the exact time on hover)
// and build durations such as "1m 05s".
import { h } from "/dashboard/dom.js";

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** A <time> saying how long ago (or in how long) `iso` is; a muted dash without one. */
export function timeAgo(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  let text = Math.abs(seconds) < 45 ? "just now" : null;
  for (const [unit, size] of units) {
    if (text) break;
    if (Math.abs(seconds) >= size) text = relativeFormat.format(Math.round(seconds / size), unit);
  }
  text = text || relativeFormat.format(seconds, "second");
  return h("time", { datetime: iso, title: date.toLocaleString() }, text);
}

/** How long a build ran, or has been running; "—" before it starts. */
export function duration(build) {
  if (!build.startedAt) return "—";
  const end = build.finishedAt ? new Date(build.finishedAt) : new Date();
  const milliseconds = Math.max(0, end - new Date(build.startedAt));
  if (milliseconds < 1000) return "<1s";
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
}
