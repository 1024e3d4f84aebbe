// Buttons that start a request: disabled and marked busy while it runs; a
// failure shows as an error toast.
import { toast } from "/dashboard/components/toast.js";

export async function withBusy(button, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (error) {
    if (error.name !== "AbortError") toast(error.message, "error");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
