// Deployment and build statuses: their labels and the badge that shows one.
import { h } from "/dashboard/dom.js";

const STATUS_LABELS = {
  new: "New",
  building: "Building",
  live: "Live",
  failed: "Failed",
  queued: "Queued",
  success: "Succeeded",
  canceled: "Canceled",
};

/** The label of a status ("success" → "Succeeded"), or the status itself when it is not known. */
export function statusLabel(status) {
  return STATUS_LABELS[status] || String(status);
}

/** A badge for a status; unknown statuses are styled as "new" and keep their own name. */
export function badge(status) {
  const known = Object.hasOwn(STATUS_LABELS, status) ? status : "new";
  return h("span", { class: `badge ${known}`, "data-status": status }, statusLabel(status));
}

/** Whether a build is still to finish. */
export function isRunning(build) {
  return build.status === "queued" || build.status === "building";
}
