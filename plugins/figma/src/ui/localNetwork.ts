/**
 * Chrome's Local Network Access: from Chrome 147 it also gates WebSockets from a public site
 * (figma.com) to this computer, and a cross-origin frame (the plugin's UI) gets the permission
 * only if its embedder delegates it, which Figma controls. A blocked socket fails exactly like one
 * with nothing listening (an error before `open`), so the permission's state is the one tell.
 */

/** The names Chrome has given the permission as the feature evolved, newest first. */
const PERMISSION_NAMES = ["loopback-network", "local-network-access", "local-network"] as const;

/** The state of the first of those names this browser knows; null where it knows none. */
export async function localNetworkAccess(permissions: Permissions | undefined): Promise<PermissionState | null> {
  if (permissions === undefined) return null;
  for (const name of PERMISSION_NAMES) {
    try {
      return (await permissions.query({ name } as unknown as PermissionDescriptor)).state;
    } catch {
      // a name this browser does not know (a TypeError): try the next
    }
  }
  return null;
}

/** What the latest socket did: opened, or closed without ever opening. */
export interface SocketHistory {
  neverOpened?: boolean;
}

/** Wrap a socket factory so `history` says whether the latest socket closed before it opened. */
export function watchOpening(create: (url: string) => WebSocket, history: SocketHistory): (url: string) => WebSocket {
  return (url) => {
    const socket = create(url);
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      history.neverOpened = false;
    });
    socket.addEventListener("close", () => {
      if (!opened) history.neverOpened = true;
    });
    return socket;
  };
}
