import type { MongoClient } from "mongodb";

/** The driver internals the repair touches; anything else found there makes it do nothing. */
interface MonitorInternals {
  readonly s?: { readonly state?: unknown };
  readonly connection?: { readonly closed?: unknown } | null;
  close?: () => void;
  connect?: () => void;
}

/** Per monitor, the closed connection it was first seen stuck on, and when (performance.now()). */
const seenStuck = new WeakMap<object, { readonly connection: object; readonly at: number }>();
/** How long a monitor must stay stuck on one connection before it is restarted: a healthy check never does. */
const STUCK_MS = 1000;

/**
 * Restarts server monitors of `client` stuck in a check that can never end,
 * and returns how many it restarted. Call it after a request failed.
 *
 * Driver 6.22 (and 7.x, same code): when a monitor sends its heartbeat on a
 * connection whose socket was just destroyed (a server restart, a dropped
 * connection), `socket.write` returns false and the driver awaits a `drain`
 * event that never comes. The monitor then never checks again, so the client
 * never selects that server again, even once it is back. Seen from outside:
 * the monitor is still "monitoring" on a connection that is closed, which a
 * healthy check leaves within the same turn of the event loop. A monitor is
 * restarted only when failed requests found it so on the same connection at
 * least a second apart.
 *
 * The repair does what the driver does to a monitor itself (close, then
 * connect), touches nothing but such monitors, and does nothing when the
 * driver's internals look different.
 */
export function restartStuckMonitors(client: MongoClient): number {
  const servers = (client as unknown as { topology?: { s?: { servers?: unknown } } }).topology?.s?.servers;
  if (!(servers instanceof Map)) return 0;
  let restarted = 0;
  for (const server of servers.values()) {
    const monitor = (server as { monitor?: MonitorInternals | null } | null)?.monitor;
    const connection = monitor?.connection;
    if (monitor?.s?.state !== "monitoring" || !connection || connection.closed !== true) continue;
    if (typeof monitor.close !== "function" || typeof monitor.connect !== "function") continue;
    const seen = seenStuck.get(monitor);
    if (seen?.connection !== connection) {
      seenStuck.set(monitor, { connection, at: performance.now() });
      continue;
    }
    if (performance.now() - seen.at < STUCK_MS) continue;
    seenStuck.delete(monitor);
    monitor.close();
    monitor.connect();
    restarted++;
  }
  return restarted;
}
