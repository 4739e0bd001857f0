import type { MongoClient } from "mongodb";

/** The driver internals the repair touches; anything else found there makes it do nothing. */
interface MonitorInternals {
  readonly s?: { readonly state?: unknown };
  readonly connection?: { readonly closed?: unknown } | null;
  close?: () => void;
  connect?: () => void;
}

/**
 * Restarts server monitors of `client` stuck in a check that can never end,
 * and returns how many it restarted.
 *
 * Driver 6.22 (and 7.x, same code): when a monitor sends its heartbeat on a
 * connection whose socket was just destroyed (a server restart, a dropped
 * connection), `socket.write` returns false and the driver awaits a `drain`
 * event that never comes. The monitor then never checks again, so the client
 * never selects that server again, even once it is back. Seen from outside:
 * the monitor is still "monitoring" while its connection is closed, which a
 * healthy check leaves within a few microtasks.
 *
 * The repair does what the driver does to a monitor itself on close and
 * connect. It runs only after a server selection failed (seconds after the
 * fact), touches nothing but such monitors, and does nothing when the
 * driver's internals look different.
 */
export function restartStuckMonitors(client: MongoClient): number {
  const servers = (client as unknown as { topology?: { s?: { servers?: unknown } } }).topology?.s?.servers;
  if (!(servers instanceof Map)) return 0;
  let restarted = 0;
  for (const server of servers.values()) {
    const monitor = (server as { monitor?: MonitorInternals | null } | null)?.monitor;
    if (monitor?.s?.state !== "monitoring" || monitor.connection?.closed !== true) continue;
    if (typeof monitor.close !== "function" || typeof monitor.connect !== "function") continue;
    monitor.close();
    monitor.connect();
    restarted++;
  }
  return restarted;
}
